"""Workbook 5, the scenario sweep: one row per scenario, outputs written with the envelope functions.

The output cells are calls such as `=TRAIN_MEM(D2,E2,F2,G2,H2)`: they compute in Excel with
the envelope-xl add-in, and headless with `envelope-xl recalc`. Each call is checked
against the catalog's signature when the workbook is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook

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


COLUMNS = (
    Column("scenario", "Scenario", 34, style.TEXT, True, note="a name for the scenario"),
    Column("model", "Model", 15, style.TEXT, True, style.choice("model_names", "a model preset"),
           note=_arg_doc("model")),
    Column("params", "Parameters", 17, style.COUNT, call=Call("MODEL_PARAMS", ("model",))),
    Column("active_params", "Active parameters", 17, style.COUNT, call=Call("MODEL_PARAMS", ("model", Literal(True))),
           note="parameters used per token (a mixture of experts runs only its routed experts): they set the compute"),
    Column("precision", "Precision", 10, style.TEXT, True, style.choice("prec_names", "a precision"),
           note=_arg_doc("precision")),
    Column("optimizer", "Optimizer", 11, style.TEXT, True, style.choice("opt_names", "an optimizer"),
           note=_arg_doc("optimizer")),
    Column("gpus", "GPUs", 8, style.COUNT, True, style.whole_at_least(1), note=_arg_doc("gpus")),
    Column("zero_stage", "ZeRO stage", 8, style.COUNT, True, style.whole_between(0, 3), note=_arg_doc("zero_stage")),
    Column("tokens", "Training tokens", 19, style.COUNT, True, style.positive(), note=_arg_doc("tokens")),
    Column("gpu", "GPU", 12, style.TEXT, True, style.choice("gpu_names", "a GPU"), note=_arg_doc("gpu")),
    Column("mfu", "MFU", 7, style.PERCENT, True, style.fraction(), note=_arg_doc("mfu")),
    Column("usd_per_gpu_hour", "USD per GPU-hour", 10, style.USD_CENTS, True, style.positive(),
           note=_arg_doc("usd_per_gpu_hour")),
    Column("seq_len", "Context (tokens)", 10, style.COUNT, True, style.whole_at_least(1),
           note="tokens cached per sequence when serving"),
    Column("batch", "Serving batch", 9, style.COUNT, True, style.whole_at_least(1), note=_arg_doc("batch")),
    Column("serve_tp", "Serving GPUs (tp)", 9, style.COUNT, True, style.whole_at_least(1),
           note="GPUs per serving replica (tensor parallelism): the decode estimate refuses a batch that does not fit"),
    Column("train_mem_gb", "Model states per GPU (GB)", 13, style.DECIMAL,
           call=Call("TRAIN_MEM", ("params", "precision", "optimizer", "gpus", "zero_stage"))),
    Column("fits", "Fits the GPU?", 9, style.TEXT,
           formula='IF({train_mem_gb}<=GPU_SPEC({gpu},"memory_gb"),"yes","no")',
           python=lambda v: "yes" if v["train_mem_gb"] <= call("GPU_SPEC", v["gpu"], "memory_gb") else "no",
           note="model states per GPU within the GPU's memory_gb (activations not included)"),
    Column("model_mem_gb", "Weights (GB)", 11, style.DECIMAL, call=Call("MODEL_MEM", ("params", "precision"))),
    Column("kv_cache_gb", "KV cache (GB)", 11, style.DECIMAL,
           call=Call("KV_CACHE", (_config("layers"), _config("kv_heads"), _config("head_dim"), "seq_len", "batch",
                                  "precision"))),
    Column("decode_tps", "Decode tokens/s", 11, style.COUNT,
           call=Call("DECODE_TPS", ("model", "gpu", "precision", "batch", "seq_len", Literal(""), "serve_tp"))),
    Column("train_flops", "Training FLOPs", 11, style.SCIENTIFIC,
           call=Call("TRAIN_FLOPS", ("active_params", "tokens"))),
    Column("train_days", "Training days", 10, style.ONE_DECIMAL,
           call=Call("TRAIN_TIME", ("active_params", "tokens", "gpus", "gpu", "precision", "mfu"))),
    Column("gpu_hours", "GPU-hours", 13, style.COUNT,
           call=Call("GPU_HOURS", ("active_params", "tokens", "gpu", "precision", "mfu"))),
    Column("cost_usd", "Cost (USD)", 15, style.USD,
           call=Call("TRAIN_COST", ("active_params", "tokens", "usd_per_gpu_hour", "gpu", "precision", "mfu"))),
    Column("chinchilla_tokens", "Chinchilla tokens", 19, style.COUNT, call=Call("CHINCHILLA_TOKENS", ("params",))),
)

INPUT_KEYS = [c.key for c in COLUMNS if c.is_input]

#: The scenarios shipped: (scenario, model, precision, optimizer, GPUs, ZeRO, tokens, GPU, MFU, USD/h, context, batch,
#: serving tp: the fewest GPUs per replica whose memory holds the batch).
SCENARIOS = (
    ("GPT-2 small on one L4, fp32", "gpt2", "fp32", "adamw", 1, 0, 10e9, "L4", 0.3, 0.8, 1024, 16, 1),
    ("Llama 2 7B on A100s (2T tokens)", "llama-2-7b", "bf16", "adamw", 1024, 1, 2e12, "A100-80GB", 0.4, 1.8, 4096, 32,
     2),
    ("Mistral 7B in fp8 on H200s", "mistral-7b", "fp8", "adam8bit", 256, 2, 8e12, "H200", 0.35, 3.5, 32768, 8, 1),
    ("Llama 3 8B on 512 H100s", "llama-3-8b", "bf16", "adamw", 512, 1, 15e12, "H100-SXM", 0.4, 2.5, 8192, 32, 1),
    ("Mixtral 8x7B on MI300X, ZeRO-3", "mixtral-8x7b", "bf16", "adamw", 512, 3, 5e12, "MI300X", 0.3, 3.0, 32768, 16,
     1),
    ("Llama 3 70B on 2,048 H100s, ZeRO-3", "llama-3-70b", "bf16", "adamw", 2048, 3, 15e12, "H100-SXM", 0.4, 2.5,
     8192, 16, 4),
    ("GPT-3 175B as in 2020, V100s", "gpt3-175b", "fp16", "adam", 1024, 1, 300e9, "V100", 0.3, 1.5, 2048, 8, 32),
    ("Llama 3.1 405B on 4,096 B200s", "llama-3.1-405b", "bf16", "adamw", 4096, 3, 15.6e12, "B200", 0.4, 5.0, 8192, 8,
     8),
)
HEADER_ROW = 1
FIRST_ROW = 2


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


def fill_preview(wb: Workbook) -> None:
    """Replace the function cells by their values (for a picture of the sweep without the add-in)."""
    ws = wb["Scenarios"]
    for offset, scenario in enumerate(SCENARIOS):
        values = scenario_values(scenario)
        for i, column in enumerate(COLUMNS, start=1):
            if not column.is_input:
                ws.cell(FIRST_ROW + offset, i).value = values[column.key]


def _header_note(column: Column) -> str:
    if column.call is not None:
        spec = get(column.call.function)
        return f"{spec.signature}: {spec.summary}"
    return column.note


def _scenarios_sheet(wb: Workbook) -> None:
    ws = wb.active
    ws.title = "Scenarios"
    style.header_row(ws, HEADER_ROW, [c.header for c in COLUMNS])
    ws.row_dimensions[HEADER_ROW].height = 45
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
        kind = "in" if column.is_input else "out"
        style.define(wb, f"{kind}_{column.key}", ws, f"{letter}{FIRST_ROW}:{letter}{last}")
        if column.rule is not None:
            style.validate(ws, f"{letter}{FIRST_ROW}:{letter}{last + 200}", column.rule, column.header)
    ws.freeze_panes = ws.cell(FIRST_ROW, 2)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.print_title_cols = "A:A"
    style.print_one_page_wide(ws)


_ABOUT = (
    ("Scenario sweep", style.TITLE_FONT),
    ("One row per scenario: the yellow columns are inputs, the others are envelope-xl functions.", style.SUBTITLE_FONT),
    ("", None),
    ("How it computes", style.SECTION_FONT),
    ("In Excel with the envelope-xl add-in, the formulas (=TRAIN_MEM(...), =TRAIN_TIME(...)) compute like any other.",
     None),
    ("Without Excel: envelope-xl recalc scenario_sweep.xlsx computes every cell and writes the values back.", None),
    ("Without either, the function cells show #NAME?: the other workbooks use standard functions only.", None),
    ("", None),
    ("Adding scenarios", style.SECTION_FONT),
    ("Copy the last row down: inputs keep their drop-downs (validation covers 200 more rows), formulas follow.", None),
    ("Column notes give each function's signature; the catalog (Precisions, Optimizers, GPUs, Models) is "
     "in the sheets that follow.", None),
)


def _about_sheet(wb: Workbook) -> None:
    ws = wb.create_sheet("About")
    ws.column_dimensions["A"].width = 120
    ws.sheet_view.showGridLines = False
    for r, (text, font) in enumerate(_ABOUT, start=1):
        cell = ws.cell(r, 1, text or None)
        if font is not None:
            cell.font = font
    style.print_one_page_wide(ws, landscape=False)


def build() -> Workbook:
    wb = Workbook()
    _scenarios_sheet(wb)
    _about_sheet(wb)
    ref.add_reference_sheets(wb, ("precisions", "optimizers", "gpus", "models"))
    return wb
