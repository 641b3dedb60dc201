"""The bundled example workbook, and recalculating it headlessly for `envelope-xl example`.

`envelope_xl/examples/capacity_plan.xlsx` is a small capacity plan written with the
envelope functions next to ordinary spreadsheet functions (IF, ROUNDUP, SUM, INDEX/
MATCH, COUNTIF), defined names, a second sheet and a `TRAIN_MEM_BREAKDOWN` array. It
is built by `build_example` (deterministic: regenerate it with
`python -m envelope_xl.recalc.example`) and saved without cached values, as openpyxl
saves, so every number `run_example` prints was computed by the recalc engine.
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Callable
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "capacity_plan.xlsx"

#: Scenarios of the plan: model preset, precision, optimizer, GPU.
SCENARIOS = (
    ("llama-2-7b", "bf16", "adam", "A100-80GB"),
    ("mistral-7b", "bf16", "adamw", "H100-SXM"),
    ("llama-3-8b", "fp8", "adam8bit", "H100-SXM"),
    ("llama-2-70b", "bf16", "adam", "H100-SXM"),
)
#: Named assumptions on the Assumptions sheet: name, label, value.
ASSUMPTIONS = (
    ("OVERHEAD", "memory overhead factor (framework, fragmentation)", 1.2),
    ("CONTEXT", "context length served, tokens", 8192),
    ("TOKENS", "training tokens", 2e12),
    ("CLUSTER_GPUS", "GPUs in the training cluster", 256),
)
HEADERS = (
    "model", "params", "precision", "optimizer", "GPU", "GPU memory (GB)", "training memory (GB)",
    "GPUs to fit", "KV cache at CONTEXT (GB)", "training days on the cluster", "layout",
)


def build_example(path: Path) -> Path:
    """Write the example workbook to `path` (formulas only, no cached values)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.formula import ArrayFormula

    wb = Workbook()
    plan = wb.active
    plan.title = "Plan"
    plan.append(HEADERS)
    for i, (model, precision, optimizer, gpu) in enumerate(SCENARIOS, start=2):
        config = ",".join(f'MODEL_CONFIG(A{i},"{field}")' for field in ("layers", "kv_heads", "head_dim"))
        plan.append([
            model, f"=MODEL_PARAMS(A{i})", precision, optimizer, gpu,
            f'=GPU_SPEC(E{i},"memory_gb")',
            f"=TRAIN_MEM(B{i},C{i},D{i})",
            f"=ROUNDUP(G{i}*OVERHEAD/F{i},0)",
            f"=KV_CACHE({config},CONTEXT)",
            f"=TRAIN_TIME(B{i},TOKENS,CLUSTER_GPUS,E{i},C{i})",
            f'=IF(H{i}>8,"multi-node",IF(H{i}>1,"multi-GPU","one GPU"))',
        ])
    last = len(SCENARIOS) + 1
    totals = last + 2
    plan[f"A{totals}"] = "all scenarios"
    plan[f"G{totals}"] = f"=SUM(G2:G{last})"
    plan[f"H{totals}"] = f"=MAX(H2:H{last})"
    plan[f"J{totals}"] = f"=INDEX(A2:A{last},MATCH(MAX(J2:J{last}),J2:J{last},0))"
    plan[f"K{totals}"] = f'=COUNTIF(K2:K{last},"multi-node")&" multi-node"'
    plan[f"A{totals + 1}"] = "training memory, all scenarios"
    plan[f"B{totals + 1}"] = f"=HUMAN_BYTES(G{totals}*1e9)"
    for cell in plan[1]:
        cell.font = Font(bold=True)
    plan.freeze_panes = "B2"

    assumptions = wb.create_sheet("Assumptions")
    assumptions.append(("name", "meaning", "value"))
    for row, (name, label, value) in enumerate(ASSUMPTIONS, start=2):
        assumptions.append((name, label, value))
        wb.defined_names[name] = DefinedName(name, attr_text=f"Assumptions!$C${row}")

    breakdown = wb.create_sheet("Breakdown")
    breakdown["A1"] = "Training memory of the first scenario, by component"
    breakdown["A2"] = ArrayFormula("A2:B7", "=TRAIN_MEM_BREAKDOWN(Plan!B2,Plan!C2,Plan!D2)")

    fixed = datetime.datetime(2026, 1, 1)
    wb.properties.creator = "envelope-xl"
    wb.properties.created = fixed
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def run_example(echo: Callable[[str], object], engine: str = "python") -> None:
    """Recalculate the bundled example workbook headlessly and print what it computed."""
    from openpyxl import load_workbook

    from envelope_xl.recalc.engine import CellError
    from envelope_xl.recalc.engines import select
    from envelope_xl.recalc.safety import check_package
    from envelope_xl.recalc.writeback import write_back

    check_package(EXAMPLE)
    chosen = select(engine)
    results = chosen.compute(EXAMPLE)
    errors = sum(isinstance(v, CellError) for v in results.values())
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / EXAMPLE.name
        write_back(EXAMPLE, results, output)
        wb = load_workbook(output, data_only=True, read_only=True)
        plan = [list(row) for row in wb["Plan"].iter_rows(values_only=True)]
        breakdown = [list(row) for row in wb["Breakdown"].iter_rows(min_row=2, max_col=2, values_only=True)]
        wb.close()

    echo(f"Recalculated {EXAMPLE.name} headlessly ({chosen.name} engine): "
         f"{len(results)} formula cells, {errors} errors.")
    columns = (0, 6, 7, 8, 9, 10)
    shown = [[_show(row[c]) for c in columns] for row in plan[: len(SCENARIOS) + 1]]
    widths = [max(len(r[i]) for r in shown) for i in range(len(columns))]
    for row in shown:
        cells = (text.rjust(w) if i else text.ljust(w) for i, (text, w) in enumerate(zip(row, widths, strict=True)))
        echo("  " + "  ".join(cells))
    totals = plan[len(SCENARIOS) + 2]
    echo(f"  All scenarios: {_show(plan[len(SCENARIOS) + 3][1])} of training memory, at most {_show(totals[7])} GPUs "
         f"to fit one, longest training: {totals[9]}, {totals[10]}.")
    echo(f"  Training memory of {plan[1][0]} (GB), by component:")
    for label, value in breakdown[1:]:
        echo(f"    {label!s:<22}{_show(value):>10}")
    echo(f"Your own workbooks: envelope-xl recalc plan.xlsx -o plan.out.xlsx   (example: {EXAMPLE})")


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


if __name__ == "__main__":
    print(build_example(EXAMPLE))
