"""Reference sheets written from `envelope_xl.reference`: the workbooks' assumption tables.

Every number on these sheets is read from the core's data files (and a preset's parameter
counts from `model_params`), each row with its source, so a workbook never holds a copy
typed by hand. The tables get defined names (`prec_bytes`, `gpu_table`, ...) and the
functions below return the standard look-up formulas the plan sheets use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from envelope_xl.checks import Names
from envelope_xl.core.architecture import model_params
from envelope_xl.core.recompute import RECOMPUTE
from envelope_xl.models import PRESETS
from envelope_xl.reference import GPU_FIELDS, GPUS, LINKS, OPTIMIZERS, PRECISIONS, Gpu
from envelope_xl.sources import readable
from envelope_xl.templates import style

T = TypeVar("T")
CUSTOM_MODEL = "custom"
#: First data row of a reference table (title, provenance, blank, header); GPUs add a units row.
FIRST_DATA_ROW = 5
_UNITS_FONT = Font(name=style.FONT_NAME, italic=True, color="595959")
_SOURCE_WIDTH = 90
_TEXT = Alignment(horizontal="left", wrap_text=True, vertical="top", indent=1)  # sources, notes: off the numbers
_SHORT_TEXT = Alignment(horizontal="left", vertical="top", indent=1)  # set off from a number on their left
_FLAG = Alignment(vertical="top", horizontal="center")  # TRUE/FALSE, clear of both neighbours
_INDENT_CHARS = 3  # what an indent of 1 takes from a wrapped column, in characters
_MODEL_FLAGS = ("gated_mlp", "tied_embeddings", "bias")
#: The architecture figures the plans look up (MODEL_CONFIG has more).
_MODEL_FIELDS = ("layers", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden", "vocab", "experts",
                 "experts_per_token", "max_positions")


def _gpu_notes(g: Gpu) -> str:
    """A GPU row's notes, after the arithmetic of its derived figures."""
    return "; ".join(x for x in (g.derived and f"derived: {g.derived}", g.notes) if x)


def _entries(names: Names[T]) -> list[T]:
    """The entries of a catalog, in the order of its data file."""
    return [names.get(names.kind, name) for name in names]


def _sheet(wb: Workbook, title: str, heading: str, provenance: str) -> Worksheet:
    ws = wb.create_sheet(title)
    ws.cell(1, 1, heading).font = style.TITLE_FONT
    ws.cell(2, 1, provenance).font = style.MUTED_FONT
    style.print_one_page_wide(ws)
    return ws


def _table(ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[float],
           units: Sequence[str] | None = None, formats: dict[int, str] | None = None) -> int:
    """Write a header (and units) row and the data; returns the first data row."""
    header = FIRST_DATA_ROW - 1
    style.header_row(ws, header, headers)
    ws.row_dimensions[header].height = 2 * style.LINE_HEIGHT  # long field names wrap
    first = FIRST_DATA_ROW
    if units is not None:
        for col, unit in enumerate(units, start=1):
            ws.cell(first, col, unit or None).font = _UNITS_FONT
        first += 1
    for r, values in enumerate(rows, start=first):
        for col, value in enumerate(values, start=1):
            cell = ws.cell(r, col, value)
            if widths[col - 1] >= 40:
                cell.alignment = _TEXT
            elif isinstance(value, bool):
                cell.alignment = _FLAG
            else:
                cell.alignment = _SHORT_TEXT if isinstance(value, str) and col > 1 else style.TOP
            if formats and col in formats:
                cell.number_format = formats[col]
        wide = [(str(v), widths[c] - _INDENT_CHARS) for c, v in enumerate(values)
                if widths[c] >= 40 and isinstance(v, str)]
        ws.row_dimensions[r].height = style.rows_for(*wide)
    style.set_columns(ws, [(h, w) for h, w in zip(headers, widths, strict=True)])
    if sum(widths) > style.ONE_PAGE_CHARS:  # two pages across at a readable scale, the names on both
        ws.page_setup.fitToWidth = 2
        ws.page_setup.pageOrder = "overThenDown"  # a row's figures, then its sources, before the next rows
        ws.print_title_cols = "A:A"
    ws.freeze_panes = ws.cell(first, 2)
    ws.print_title_rows = f"{header}:{first - 1}"
    return first


def _column(ws: Worksheet, col: int, first: int, count: int) -> str:
    letter = get_column_letter(col)
    return f"{letter}{first}:{letter}{first + count - 1}"


def add_precisions(wb: Workbook) -> None:
    ws = _sheet(wb, "Precisions", "Numeric formats: bytes per value and the GPU peak they run at",
                "From envelope_xl/data/precisions.toml. peak_field names the GPUs-sheet column used for compute.")
    rows = [(p.name, p.bytes, p.peak_field, p.trainable, readable(p.source)) for p in _entries(PRECISIONS)]
    headers = ("precision", "bytes", "peak_field", "trainable", "source")
    first = _table(ws, headers, rows, (12, 8, 14, 10, _SOURCE_WIDTH), formats={2: style.BYTES_EACH})
    n = len(rows)
    for name, col in (("prec_names", 1), ("prec_bytes", 2), ("prec_peak_field", 3), ("prec_trainable", 4)):
        style.define(wb, name, ws, _column(ws, col, first, n))


def add_optimizers(wb: Workbook) -> None:
    ws = _sheet(wb, "Optimizers", "Optimizer state kept per parameter",
                "From envelope_xl/data/optimizers.toml. Bytes on top of weights, gradients and fp32 master weights.")
    rows = [(o.name, o.state_bytes, readable(o.source)) for o in _entries(OPTIMIZERS)]
    first = _table(ws, ("optimizer", "state bytes", "source"), rows, (12, 11, _SOURCE_WIDTH),
                   formats={2: style.BYTES_EACH})
    style.define(wb, "opt_names", ws, _column(ws, 1, first, len(rows)))
    style.define(wb, "opt_bytes", ws, _column(ws, 2, first, len(rows)))


def add_gpus(wb: Workbook) -> None:
    ws = _sheet(wb, "GPUs", "GPU catalog: memory, bandwidth and dense peaks",
                "From envelope_xl/data/gpus.toml. Tensor peaks are dense (2:4-sparsity figures halved); "
                "an empty cell means the vendor publishes no such peak.")
    fields = list(GPU_FIELDS)
    rows = [(g.name, *(g.specs.get(f) for f in fields), "\n".join(x for x in (readable(g.source), _gpu_notes(g)) if x))
            for g in _entries(GPUS)]
    widths = (11, *(max(9, len(f) + 2) for f in fields), 62)  # a field name never breaks mid-word
    formats = {c: _GPU_FORMATS.get(f, "#,##0.00") for c, f in enumerate(fields, start=2)}
    first = _table(ws, ("gpu", *fields, "source and notes"), rows, widths, units=("", *GPU_FIELDS.values()),
                   formats=formats)
    n = len(rows)
    last = get_column_letter(len(fields) + 1)
    style.define(wb, "gpu_names", ws, _column(ws, 1, first, n))
    style.define(wb, "gpu_fields", ws, f"B4:{last}4")
    style.define(wb, "gpu_table", ws, f"B{first}:{last}{first + n - 1}")


#: One number format per GPU column, so its figures line up (1.555 and 3.350 TB/s; 989.50 TFLOP/s).
_GPU_FORMATS = {"bandwidth_tbs": "0.000", "memory_gb": "#,##0.00"}


def add_models(wb: Workbook) -> None:
    ws = _sheet(wb, "Models", "Model presets: published architectures",
                "From envelope_xl/data/models.toml. parameters (total over all experts, for memory) and active "
                "parameters (used per token, for compute) are computed from the architecture by MODEL_PARAMS.")
    fields = list(_MODEL_FIELDS)
    rows = [
        (m.name, model_params(m.name), model_params(m.name, active=True), *(getattr(m, f) for f in fields),
         *(getattr(m, f) for f in _MODEL_FLAGS), readable(m.origin))
        for m in _entries(PRESETS)
    ]
    counts = ("parameters", "active parameters")
    headers = ("model", *counts, *map(field_header, fields), *map(field_header, _MODEL_FLAGS), "source")
    widths = (14, 16, 16, *(9 for _ in fields), *(12 for _ in _MODEL_FLAGS), 52)
    first_field = 2 + len(counts)
    last_field = first_field + len(fields) - 1
    first = _table(ws, headers, rows, widths, formats={c: style.COUNT for c in range(2, last_field + 1)})
    n = len(rows)
    style.define(wb, "model_names", ws, _column(ws, 1, first, n))
    # Not "model_params": names are case-insensitive, and MODEL_PARAMS( would read as that name.
    style.define(wb, "preset_params", ws, _column(ws, 2, first, n))
    style.define(wb, "preset_active_params", ws, _column(ws, 3, first, n))
    span = f"{get_column_letter(first_field)}{{}}:{get_column_letter(last_field)}{{}}"
    header = FIRST_DATA_ROW - 1
    style.define(wb, "model_fields", ws, span.format(header, header))
    style.define(wb, "model_table", ws, span.format(first, first + n - 1))


def add_links(wb: Workbook) -> None:
    """Links (bandwidth per GPU and direction, latency per ring step), then each GPU's link inside a
    node with its bandwidth (empty: the chip has none)."""
    ws = _sheet(wb, "Links", "Interconnects: bandwidth per GPU and direction, latency per ring step",
                "From envelope_xl/data/links.toml and the intra_link of each GPU in envelope_xl/data/gpus.toml.")
    links = _entries(LINKS)
    rows = [(x.name, x.bandwidth / 1e9, x.latency * 1e6, readable(x.source)) for x in links]
    rows += [(None,) * 4]
    first = _table(ws, ("link", "GB/s each way", "latency us", "source"), rows, (16, 11, 10, 90),
                   formats={2: "#,##0.00", 3: "0.0"})
    n = len(links)
    style.define(wb, "link_names", ws, _column(ws, 1, first, n))
    style.define(wb, "link_gbs", ws, _column(ws, 2, first, n))
    style.define(wb, "link_us", ws, _column(ws, 3, first, n))
    top = first + n + 1
    style.header_row(ws, top, ("gpu", "intra-node link", "GB/s each way"))
    ws.row_dimensions[top].height = 2 * style.LINE_HEIGHT  # the headers wrap, as the first table's
    gpus = _entries(GPUS)
    for r, g in enumerate(gpus, start=top + 1):
        ws.cell(r, 1, g.name)
        ws.cell(r, 2, g.intra_link or None)
        ws.cell(r, 3, LINKS.get("intra_link", g.intra_link).bandwidth / 1e9 if g.intra_link else None)
        ws.cell(r, 3).number_format = "#,##0.00"
    style.define(wb, "gpu_link_gpus", ws, _column(ws, 1, top + 1, len(gpus)))
    style.define(wb, "gpu_link_names", ws, _column(ws, 2, top + 1, len(gpus)))
    style.define(wb, "gpu_link_gbs", ws, _column(ws, 3, top + 1, len(gpus)))


def field_header(field: str) -> str:
    """A field as its column header reads (and look-ups match it): words that wrap whole."""
    return field.replace("_", " ")


def add_lists(wb: Workbook) -> None:
    """The drop-down lists that are not a whole reference column."""
    ws = _sheet(wb, "Lists", "Choices offered by the drop-down lists",
                "Generated from the catalog: model presets plus 'custom', formats that can be trained, "
                "recomputation strategies.")
    lists = {
        "list_models": [*PRESETS, CUSTOM_MODEL],
        "list_train_precisions": [p for p in PRECISIONS if PRECISIONS.get("precision", p).trainable],
        "list_recompute": list(RECOMPUTE),
    }
    headers = ("model choices", "training precisions", "recomputation")
    style.header_row(ws, 4, headers)
    style.set_columns(ws, [(h, 22) for h in headers])
    for col, (name, values) in enumerate(lists.items(), start=1):
        for r, value in enumerate(values, start=FIRST_DATA_ROW):
            ws.cell(r, col, value)
        style.define(wb, name, ws, _column(ws, col, FIRST_DATA_ROW, len(values)))


def add_model_figures(wb: Workbook) -> None:
    """Every figure of every preset, for the plans' model block (see `model_block`)."""
    from envelope_xl.templates.model_block import add_figures_sheet  # it builds on this module

    add_figures_sheet(wb)


TABLES = {
    "precisions": add_precisions,
    "optimizers": add_optimizers,
    "gpus": add_gpus,
    "models": add_models,
    "model_figures": add_model_figures,
    "lists": add_lists,
}


def add_reference_sheets(wb: Workbook, tables: Sequence[str]) -> None:
    """Append the named reference sheets (see TABLES) after the plan sheet."""
    for table in tables:
        TABLES[table](wb)


# Look-up formulas (standard functions only), written against the names defined above.

def precision_bytes(precision: str) -> str:
    return f"INDEX(prec_bytes,MATCH({precision},prec_names,0))"


def peak_field(precision: str) -> str:
    return f"INDEX(prec_peak_field,MATCH({precision},prec_names,0))"


def optimizer_bytes(optimizer: str) -> str:
    return f"INDEX(opt_bytes,MATCH({optimizer},opt_names,0))"


def gpu_figure(gpu: str, field: str) -> str:
    """A GPU's datasheet figure; `field` is a formula giving the column name (e.g. '"memory_gb"')."""
    return f"INDEX(gpu_table,MATCH({gpu},gpu_names,0),MATCH({field},gpu_fields,0))"


def model_figure(model: str, field: str) -> str:
    return f'INDEX(model_table,MATCH({model},model_names,0),MATCH("{field_header(field)}",model_fields,0))'


def preset_params(model: str, active: bool = False) -> str:
    """A preset's parameter count: the total, or with `active` those used per token."""
    column = "preset_active_params" if active else "preset_params"
    return f"INDEX({column},MATCH({model},model_names,0))"
