"""Workbook 5, the scenario sweep: one row per scenario, outputs written with the envelope functions.

The output cells are calls such as `=TRAIN_MEM(C2,E2,H2,I2,J2)`: they compute wherever the
envelope functions exist (the About sheet says how, for each route), and headless with
`envelope-xl recalc`. Each call is checked against the catalog's signature when the
workbook is built; `scenario_values` computes what each cell must show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet.pagebreak import Break

from envelope_xl.catalog import call, get
from envelope_xl.registry import ARG_DOCS, show_value
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style

FILENAME = "scenario_sweep.xlsx"
TITLE = "Scenario sweep"
DESCRIPTION = "Training and serving estimates for many scenarios at once, written with the envelope-xl functions."


@dataclass(frozen=True)
class Literal:
    """A constant argument written in the formula: a MODEL_CONFIG field name, or TRUE."""

    value: str | bool


@dataclass(frozen=True)
class Call:
    """A call of a catalog function; an argument is a column key, a Literal or another Call."""

    function: str
    args: tuple[str | Literal | Call, ...]

    def formula(self, refs: dict[str, str]) -> str:
        spec = get(self.function)
        required = sum(1 for a in spec.args if not a.optional)
        if not required <= len(self.args) <= len(spec.args):
            raise ValueError(f"{spec.name} takes {required} to {len(spec.args)} arguments, not {len(self.args)}")
        shown = [_formula_of(a, refs) for a in self.args]
        return f"{spec.name}({','.join(shown)})"

    def evaluate(self, values: dict[str, Any]) -> Any:
        """What the envelope function returns for this row, computed by the core."""
        return call(self.function, *(_value_of(a, values) for a in self.args))


def _formula_of(arg: str | Literal | Call, refs: dict[str, str]) -> str:
    if isinstance(arg, Call):
        return arg.formula(refs)
    if isinstance(arg, Literal):
        return show_value(arg.value)
    return refs[arg]


def _value_of(arg: str | Literal | Call, values: dict[str, Any]) -> Any:
    if isinstance(arg, Call):
        return arg.evaluate(values)
    if isinstance(arg, Literal):
        return arg.value
    return values[arg]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float
    number_format: str
    is_input: bool = False
    rule: style.Rule | None = None  # what an input column accepts
    call: Call | None = None  # an output column written with an envelope function
    formula: str | None = None  # any other formula, with {key} placeholders ...
    python: Callable[[dict[str, Any]], Any] | None = None  # ... and what it computes
    note: str = ""


def _config(field: str) -> Call:
    return Call("MODEL_CONFIG", ("model", Literal(field)))


def _arg_doc(name: str) -> str:
    return ARG_DOCS[name][1]


def _fits_training(v: dict[str, Any]) -> str:
    return "yes" if v["train_mem_gb"] + v["activation_gb"] <= v["gpu_memory_gb"] else "no"


def _max_batch(v: dict[str, Any]) -> int:
    return call("MAX_BATCH", v["model"], v["context"], v["gpu"], v["precision"], "", v["serve_tp"])


def _decode(v: dict[str, Any]) -> float | str:
    if v["max_batch"] == 0:
        return WEIGHTS_TOO_LARGE
    if v["batch"] > v["max_batch"]:
        return f"{BATCH_TOO_LARGE}{v['max_batch']}"
    return call("DECODE_TPS", v["model"], v["gpu"], v["precision"], v["batch"], v["context"], "", v["serve_tp"])


WEIGHTS_TOO_LARGE = "no: the weights do not fit the replica's GPUs (raise tp or quantize)"
BATCH_TOO_LARGE = "no: the batch does not fit, at most "
_ARCH = tuple(_config(f) for f in ("layers", "hidden", "heads"))
_KV_SHAPE = tuple(_config(f) for f in ("layers", "kv_heads", "head_dim"))

COLUMNS = (
    Column("scenario", "Scenario", 33, style.TEXT, True, note="a name for the scenario"),
    Column("model", "Model", 16, style.TEXT, True, style.choice("model_names", "a model preset"),
           note=_arg_doc("model")),
    Column("params", "Parameters", 15, style.COUNT, call=Call("MODEL_PARAMS", ("model",))),
    Column("active_params", "Active parameters", 15, style.COUNT, call=Call("MODEL_PARAMS", ("model", Literal(True))),
           note="parameters used per token (a mixture of experts runs only its routed experts): they set the compute"),
    Column("precision", "Precision", 10, style.TEXT, True, style.choice("prec_names", "a precision"),
           note=_arg_doc("precision")),
    Column("gpu", "GPU", 12, style.TEXT, True, style.choice("gpu_names", "a GPU"), note=_arg_doc("gpu")),
    Column("gpu_memory_gb", "GPU memory (GB)", 9, style.ONE_DECIMAL,
           call=Call("GPU_SPEC", ("gpu", Literal("memory_gb")))),
    # Training
    Column("optimizer", "Optimizer", 11, style.TEXT, True, style.choice("opt_names", "an optimizer"),
           note=_arg_doc("optimizer")),
    Column("gpus", "GPUs", 8, style.COUNT, True, style.whole_at_least(1, 1_000_000), note=_arg_doc("gpus")),
    Column("zero_stage", "ZeRO stage", 7, style.COUNT, True, style.whole_between(0, 3), note=_arg_doc("zero_stage")),
    Column("tokens", "Training tokens", 19, style.COUNT, True, style.positive(1e16), note=_arg_doc("tokens")),
    Column("mfu", "MFU", 7, style.PERCENT, True, style.fraction(), note=_arg_doc("mfu")),
    Column("usd_per_gpu_hour", "USD per GPU-hour", 9, style.USD_CENTS, True, style.positive(1000),
           note=_arg_doc("usd_per_gpu_hour")),
    Column("seq_len", "Training sequence (tokens)", 10, style.COUNT, True, style.whole_at_least(1, 10_000_000),
           note="tokens per training sequence"),
    Column("micro_batch", "Micro-batch", 8, style.COUNT, True, style.whole_at_least(1, 10_000),
           note=_arg_doc("micro_batch")),
    Column("recompute", "Recompute", 11, style.TEXT, True, style.choice("list_recompute", "a strategy"),
           note=_arg_doc("recompute")),
    Column("train_mem_gb", "Model states per GPU (GB)", 11, style.DECIMAL,
           call=Call("TRAIN_MEM", ("params", "precision", "optimizer", "gpus", "zero_stage"))),
    Column("activation_gb", "Activations per GPU (GB)", 11, style.DECIMAL,
           call=Call("ACTIVATION_MEM", (*_ARCH, "seq_len", "micro_batch", "recompute"))),
    Column("fits", "Fits the GPU?", 8, style.TEXT,
           formula='IF({train_mem_gb}+{activation_gb}<={gpu_memory_gb},"yes","no")', python=_fits_training,
           note="model states + activations per GPU within the GPU's memory (no tensor parallelism: tp = 1)"),
    Column("train_flops", "Training FLOPs", 11, style.SCIENTIFIC,
           call=Call("TRAIN_FLOPS", ("active_params", "tokens"))),
    Column("train_days", "Training days", 10, style.ONE_DECIMAL,
           call=Call("TRAIN_TIME", ("active_params", "tokens", "gpus", "gpu", "precision", "mfu"))),
    Column("gpu_hours", "GPU-hours", 12, style.COUNT,
           call=Call("GPU_HOURS", ("active_params", "tokens", "gpu", "precision", "mfu"))),
    Column("cost_usd", "Cost (USD)", 13, style.USD,
           call=Call("TRAIN_COST", ("active_params", "tokens", "usd_per_gpu_hour", "gpu", "precision", "mfu"))),
    Column("chinchilla_tokens", "Chinchilla tokens", 18, style.COUNT, call=Call("CHINCHILLA_TOKENS", ("params",))),
    # Serving
    Column("context", "Serving context (tokens)", 10, style.COUNT, True, style.whole_at_least(1, 10_000_000),
           note="tokens cached per sequence when serving"),
    Column("batch", "Serving batch", 9, style.COUNT, True, style.whole_at_least(1, 1_000_000), note=_arg_doc("batch")),
    Column("serve_tp", "Serving GPUs (tp)", 9, style.COUNT, True, style.whole_at_least(1, 1024),
           note="GPUs per serving replica (tensor parallelism): the weights and KV cache are split over them"),
    Column("model_mem_gb", "Weights (GB)", 11, style.DECIMAL, call=Call("MODEL_MEM", ("params", "precision"))),
    Column("kv_cache_gb", "KV cache (GB)", 11, style.DECIMAL,
           call=Call("KV_CACHE", (*_KV_SHAPE, "context", "batch", "precision"))),
    Column("max_batch", "Largest batch that fits", 10, style.COUNT,
           call=Call("MAX_BATCH", ("model", "context", "gpu", "precision", Literal(""), "serve_tp"))),
    Column("decode_tps", "Decode tokens/s", 40, style.COUNT,
           formula=(f'IF({{max_batch}}=0,"{WEIGHTS_TOO_LARGE}",IF({{batch}}>{{max_batch}},"{BATCH_TOO_LARGE}"&'
                    '{max_batch},DECODE_TPS({model},{gpu},{precision},{batch},{context},"",{serve_tp})))'),
           python=_decode,
           note="DECODE_TPS on one replica of tp GPUs: weights and KV-cache reads, measured efficiencies; refused "
                "when the weights or the batch do not fit (MAX_BATCH)"),
)
#: Where training columns end and serving columns start (a page break when printed).
FIRST_SERVING_KEY = "context"

INPUT_KEYS = [c.key for c in COLUMNS if c.is_input]

#: The scenarios shipped, in the order of INPUT_KEYS: scenario, model, precision, GPU; optimizer, GPUs, ZeRO
#: stage, tokens, MFU, USD/h, training sequence, micro-batch, recomputation; serving context, batch and tp (the
#: fewest GPUs per replica whose memory holds the batch).
SCENARIOS = (
    ("GPT-2 small on one L4, fp32", "gpt2", "fp32", "L4", "adamw", 1, 0, 10e9, 0.3, 0.8, 1024, 8, "none", 1024, 16, 1),
    ("Llama 2 7B on A100s (2T tokens)", "llama-2-7b", "bf16", "A100-80GB", "adamw", 1024, 1, 2e12, 0.4, 1.8, 4096, 1,
     "selective", 4096, 32, 2),
    ("Mistral 7B in fp8 on H200s", "mistral-7b", "fp8", "H200", "adam8bit", 256, 2, 8e12, 0.35, 3.5, 8192, 1,
     "selective", 32768, 8, 1),
    ("Llama 3 8B on 512 H100s", "llama-3-8b", "bf16", "H100-SXM", "adamw", 512, 1, 15e12, 0.4, 2.5, 8192, 1,
     "selective", 8192, 32, 1),
    ("Mixtral 8x7B on MI300X, ZeRO-3", "mixtral-8x7b", "bf16", "MI300X", "adamw", 512, 3, 5e12, 0.3, 3.0, 4096, 1,
     "selective", 32768, 16, 1),
    ("Llama 3 70B on 2,048 H100s, ZeRO-3", "llama-3-70b", "bf16", "H100-SXM", "adamw", 2048, 3, 15e12, 0.4, 2.5,
     8192, 1, "full", 8192, 16, 4),
    ("GPT-3 175B as in 2020, V100s", "gpt3-175b", "fp16", "V100", "adam", 1024, 1, 300e9, 0.3, 1.5, 2048, 1,
     "selective", 2048, 8, 32),
    ("Llama 3.1 405B on 4,096 B200s", "llama-3.1-405b", "bf16", "B200", "adamw", 4096, 3, 15.6e12, 0.4, 5.0, 8192, 1,
     "full", 8192, 8, 8),
)
HEADER_ROW = 1
FIRST_ROW = 2
_TEXT = Alignment(horizontal="left", vertical="top", indent=1)


def _letters() -> dict[str, str]:
    return {c.key: get_column_letter(i) for i, c in enumerate(COLUMNS, start=1)}


def cell_formula(column: Column, row: int) -> str:
    """The formula of an output column on `row`, its function calls checked against the catalog."""
    refs = {key: f"{letter}{row}" for key, letter in _letters().items()}
    if column.call is not None:
        return "=" + column.call.formula(refs)
    assert column.formula is not None
    return "=" + column.formula.format(**refs)


def scenario_values(scenario: tuple[Any, ...]) -> dict[str, Any]:
    """Every column of a scenario row as the envelope functions compute it (inputs included)."""
    values: dict[str, Any] = dict(zip(INPUT_KEYS, scenario, strict=True))
    for column in COLUMNS:  # columns only refer to columns on their left
        if column.call is not None:
            values[column.key] = column.call.evaluate(values)
        elif column.python is not None:
            values[column.key] = column.python(values)
    return values


def _header_note(column: Column) -> str:
    if column.call is not None:
        spec = get(column.call.function)
        return f"{spec.signature}: {spec.summary}"
    return column.note


def _scenarios_sheet(wb: Workbook) -> None:
    ws = wb.active
    ws.title = "Scenarios"
    style.header_row(ws, HEADER_ROW, [c.header for c in COLUMNS])
    ws.row_dimensions[HEADER_ROW].height = 48
    last = FIRST_ROW + len(SCENARIOS) - 1
    for i, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = column.width
        header = ws.cell(HEADER_ROW, i)
        header.comment = style.note(_header_note(column), 360, 120)
        header.alignment = Alignment(wrap_text=True, vertical="center")
        for offset, scenario in enumerate(SCENARIOS):
            r = FIRST_ROW + offset
            cell = ws.cell(r, i)
            if column.is_input:
                cell.value = scenario[INPUT_KEYS.index(column.key)]
                cell.fill, cell.font = style.INPUT_FILL, style.INPUT_FONT
            else:
                cell.value = cell_formula(column, r)
            cell.number_format = column.number_format
            # Texts set off from a number on their left; the scenario starts the row.
            cell.alignment = _TEXT if column.number_format == style.TEXT and i > 1 else style.TOP
        kind = "in" if column.is_input else "out"
        style.define(wb, f"{kind}_{column.key}", ws, f"{letter}{FIRST_ROW}:{letter}{last}")
        if column.rule is not None:
            style.validate(ws, f"{letter}{FIRST_ROW}:{letter}{last + 200}", column.rule, column.header)
    _flag_refusals(ws, last + 200)
    ws.freeze_panes = ws.cell(FIRST_ROW, 3)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.print_title_cols = "A:A"
    style.print_one_page_wide(ws)
    # At a readable scale, page by page across: training, then serving on a page of its own;
    # the scenario repeated on each.
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.page_setup.scale = PRINT_SCALE
    for after in page_breaks():
        ws.col_breaks.append(Break(id=after))


#: Print scale, percent (the plan sheets print at about 63%), and how much column width (in
#: characters) a landscape A4 page holds at that scale: 136 at 80%, as LibreOffice prints it.
PRINT_SCALE = 65
_PAGE_CHARS = 136 * 80 / PRINT_SCALE


def page_breaks() -> list[int]:
    """The columns (1-based) after which a new printed page starts."""
    keys = [c.key for c in COLUMNS]
    repeated = COLUMNS[0].width
    breaks, used = [], 0.0
    for number, column in enumerate(COLUMNS[1:], start=2):
        if column.key == FIRST_SERVING_KEY or used + column.width > _PAGE_CHARS - repeated:
            breaks.append(number - 1)
            used = 0.0
        used += column.width
    assert keys.index(FIRST_SERVING_KEY) in breaks
    return breaks


def _flag_refusals(ws, last_row: int) -> None:
    """A "no" or a refusal in place of a number stands out as a failed check does on the plans."""
    for key in ("fits", "decode_tps"):
        letter = _letters()[key]
        top = f"{letter}{FIRST_ROW}"
        rule = FormulaRule(formula=[f'OR({top}="no",ISTEXT({top}))' if key == "decode_tps" else f'{top}="no"'],
                           fill=style.FAIL_FILL, font=style.FAIL_FONT)
        ws.conditional_formatting.add(f"{top}:{letter}{last_row}", rule)


#: What the About sheet says: (text, font); the routes are the README's, each with what to do.
_ABOUT = (
    ("Scenario sweep", style.TITLE_FONT),
    ("One row per scenario: the yellow columns are inputs, the others call the envelope-xl functions "
     "(=TRAIN_MEM(...), =DECODE_TPS(...)). Training columns print first, serving on a page of their own.",
     style.SUBTITLE_FONT),
    ("", None),
    ("The numbers you see when you open it", style.SECTION_FONT),
    ("The file ships with every value computed by envelope-xl (envelope-xl recalc, Python engine), so previews, "
     "viewers and pandas show them. Excel recalculates on open: the function cells then need one of the routes "
     "below, or they show #NAME?.", None),
    ("", None),
    ("Windows desktop Excel (classic xlwings add-in)", style.SECTION_FONT),
    ("1. Once: pip install envelope-xl, then envelope-xl excel setup, then xlwings addin install; restart Excel.",
     None),
    ("2. Open scenario_sweep.xlsx and save a copy as a macro-enabled workbook (.xlsm): classic xlwings functions "
     "live in the workbook's VBA.", None),
    ("3. In the copy, xlwings tab: check that UDF Modules reads envelope_xl.udfs, then click Import Functions.", None),
    ("4. Press Ctrl+Alt+F9 to recalculate every cell.", None),
    ("", None),
    ("Excel for Mac or on the web, or Windows (xlwings Lite add-in)", style.SECTION_FONT),
    ("1. Home > Add-ins: add xlwings Lite. Open its pane.", None),
    ("2. Run envelope-xl excel setup --platform web: put the line of requirements.txt it writes into the pane's "
     "requirements.txt and its main.py into the pane's main.py, then restart xlwings Lite from its menu.", None),
    ("3. Press Ctrl+Alt+F9 (Mac: Cmd+Option+F9) to recalculate every cell. A cell still showing #NAME? is bound "
     "once re-entered: select it, press F2, then Enter.", None),
    ("", None),
    ("LibreOffice Calc", style.SECTION_FONT),
    ("1. Once: envelope-xl libreoffice install (LibreOffice closed), then start LibreOffice.", None),
    ("2. Open scenario_sweep.ods, not this .xlsx: LibreOffice binds the envelope functions of an .xlsx file to no "
     "add-in and shows #NAME?; the .ods, built from this workbook, calls the extension's functions.", None),
    ("3. Change a yellow cell and its row recomputes; Data > Calculate > Recalculate Hard (Ctrl+Shift+F9) "
     "recomputes everything.", None),
    ("", None),
    ("Headless (no spreadsheet program)", style.SECTION_FONT),
    ("envelope-xl recalc scenario_sweep.xlsx -o computed.xlsx computes every cell and writes the values into a copy; "
     "--engine libreoffice uses LibreOffice with the extension instead of Python.", None),
    ("", None),
    ("Reading the flags", style.SECTION_FONT),
    ("Fits the GPU?: model states (TRAIN_MEM) + activations (ACTIVATION_MEM, no tensor parallelism) within the GPU "
     "memory. Decode tokens/s is refused, in red, when the weights exceed one GPU or the batch's KV cache does not "
     "fit beside them.", None),
    ("", None),
    ("Adding scenarios", style.SECTION_FONT),
    ("Copy the last row down: inputs keep their drop-downs (validation covers 200 more rows), formulas follow.", None),
    ("Column notes give each function's signature; the catalog (Precisions, Optimizers, GPUs, Models) is "
     "in the sheets that follow.", None),
)


_ABOUT_WIDTH = 75  # characters: what a portrait A4 page holds at full size


def _about_sheet(wb: Workbook) -> None:
    ws = wb.create_sheet("About")
    ws.column_dimensions["A"].width = _ABOUT_WIDTH
    ws.sheet_view.showGridLines = False
    for r, (text, font) in enumerate(_ABOUT, start=1):
        cell = ws.cell(r, 1, text or None)
        cell.alignment = style.WRAP
        if font is not None:
            cell.font = font
        if text and font is not style.TITLE_FONT:
            ws.row_dimensions[r].height = style.rows_for((text, _ABOUT_WIDTH)) * (1.2 if font else 1)
    style.print_one_page_wide(ws, landscape=False)


def build() -> Workbook:
    wb = Workbook()
    _scenarios_sheet(wb)
    _about_sheet(wb)
    ref.add_reference_sheets(wb, ("precisions", "optimizers", "gpus", "models", "lists"))
    return wb
