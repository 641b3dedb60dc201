"""Recalculation benchmark: a generated sweep workbook, end to end, per engine.

The workbook has N scenario rows with five envelope-function cells each (TRAIN_MEM,
CHECKPOINT_SIZE, MODEL_MEM, TRAIN_TIME, GPUS_FOR_DEADLINE) and summary cells below
(SUM, MAX, AVERAGE, COUNTIF, INDEX/MATCH, VLOOKUP over a lookup sheet, a defined name).

Each measurement runs in a fresh process and reports the time of the work itself
(imports excluded) and the process's peak resident memory:

- `python`, `libreoffice`: what `envelope-xl recalc` does for one file in its worker
  (`runner.run_job`): package checks, load, evaluate every formula cell, write the values
  back into a copy of the file; the values compared are those read back from that copy;
- `formulas reference`: a plain `formulas.ExcelModel().loads(path).finish()` and
  `calculate()` of the same workbook, the catalog functions registered the same way.

Every engine's values are compared with the reference's; mismatches are counted.

    .venv/bin/python benchmarks/bench_recalc.py            # 1,000 and 10,000 rows
    .venv/bin/python benchmarks/bench_recalc.py 1000       # chosen sizes
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

PRECISIONS = ("bf16", "fp16", "fp8", "fp32")
OPTIMIZERS = ("adam", "adamw", "sgd", "lion")
GPUS = ("H100-SXM", "A100-80GB", "H200", "MI300X")


def build_sweep(path: Path, rows: int) -> Path:
    """The benchmark workbook: `rows` scenarios, 5 envelope-function cells per row, summary below."""
    from openpyxl import Workbook
    from openpyxl.workbook.defined_name import DefinedName

    wb = Workbook()
    ws = wb.active
    ws.title = "Sweep"
    ws.append(["params", "precision", "optimizer", "gpu", "gpus", "tokens",
               "train mem GB", "checkpoint GB", "weights GB", "train days", "GPUs for deadline"])
    for i in range(rows):
        r = i + 2
        ws.append([
            (i % 70 + 1) * 1e9, PRECISIONS[i % 4], OPTIMIZERS[i % 4], GPUS[i % 4], 2 ** (i % 8 + 3), 1e12 + i * 1e9,
            f"=TRAIN_MEM(A{r},B{r},C{r},E{r},1)",
            f"=CHECKPOINT_SIZE(A{r},B{r},C{r})",
            f"=MODEL_MEM(A{r},B{r})",
            f"=TRAIN_TIME(A{r},F{r},E{r},D{r},B{r},MFU)",
            f"=GPUS_FOR_DEADLINE(A{r},F{r},DEADLINE_DAYS,D{r},B{r})",
        ])
    last = rows + 1
    below = last + 2
    summary = {
        "total training memory (GB)": f"=SUM(G2:G{last})",
        "largest checkpoint (GB)": f"=MAX(H2:H{last})",
        "mean training days": f"=AVERAGE(J2:J{last})",
        "scenarios over 30 days": f'=COUNTIF(J2:J{last},">30")',
        "longest scenario's GPU": f"=INDEX(D2:D{last},MATCH(MAX(J2:J{last}),J2:J{last},0))",
        "its price per GPU-hour": f"=VLOOKUP(INDEX(D2:D{last},MATCH(MAX(J2:J{last}),J2:J{last},0)),"
                                  "Prices!$A$2:$B$5,2,FALSE)",
        "GPUs needed, all deadlines": f"=SUM(K2:K{last})",
    }
    for offset, (label, formula) in enumerate(summary.items()):
        ws.cell(below + offset, 1, label)
        ws.cell(below + offset, 7, formula)
    prices = wb.create_sheet("Prices")
    prices.append(["gpu", "usd per hour"])
    for gpu, usd in zip(GPUS, (2.5, 1.8, 3.5, 3.0), strict=True):
        prices.append([gpu, usd])
    prices["D1"], prices["E1"] = "MFU", 0.4
    prices["D2"], prices["E2"] = "deadline days", 30
    wb.defined_names["MFU"] = DefinedName("MFU", attr_text="Prices!$E$1")
    wb.defined_names["DEADLINE_DAYS"] = DefinedName("DEADLINE_DAYS", attr_text="Prices!$E$2")
    wb.save(path)
    return path


# Run in a child process: prints {"seconds": ..., "peak_mb": ...} and dumps the written values to a JSON file.
_ENGINE_CHILD = """
import json, resource, sys, time
from pathlib import Path
from envelope_xl.libreoffice.readback import formula_values
from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.runner import Job, run_job
import importlib
from formulas.functions import SUBMODULES
for module in ["envelope_xl.recalc.python_engine", *(f"formulas.functions{name}" for name in SUBMODULES)]:
    importlib.import_module(module)  # imported beforehand, as the command's worker processes have them
source, output, dump, engine_name = map(Path, sys.argv[1:5])
output.unlink(missing_ok=True)
start = time.perf_counter()
result = run_job(Job(source, output, str(engine_name)))
seconds = time.perf_counter() - start
assert result.status == "ok", result.message
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
values = formula_values(output)
dump.write_text(json.dumps({f"{s}!{c}": (v.code if isinstance(v, CellError) else v) for (s, c), v in values.items()}))
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "engine": result.engine}))
"""

_REFERENCE_CHILD = """
import json, resource, sys, time
import formulas
from envelope_xl.recalc import functions
functions.register()
source, dump = sys.argv[1:3]
start = time.perf_counter()
model = formulas.ExcelModel().loads(source).finish()
solution = model.calculate()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
values = {}
for key, value in solution.items():
    if "!" not in key or ":" in key.split("!")[-1]:
        continue
    cell = value.value[0, 0] if hasattr(value, "value") else value
    values[key.split("]")[-1].replace("'", "")] = cell if isinstance(cell, (int, float, str, bool)) else str(cell)
open(dump, "w").write(json.dumps(values))
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "engine": "formulas reference"}))
"""


def _child(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "child failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mismatches(ours: dict, reference: dict) -> tuple[int, int]:
    """(cells compared, cells that differ); the reference names sheets in upper case."""
    upper = {k.upper(): v for k, v in reference.items()}
    compared = differ = 0
    for key, value in ours.items():
        if key.upper() not in upper:
            continue
        compared += 1
        other = upper[key.upper()]
        if isinstance(value, float) and isinstance(other, (int, float)) and not isinstance(other, bool):
            same = math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12)
        else:
            same = str(value) == str(other)
        differ += not same
    return compared, differ


def _engines() -> list[str]:
    """Every engine that can run here."""
    from envelope_xl.libreoffice.engine import available

    return ["python", "libreoffice"] if available() else ["python"]


def main(sizes: list[int]) -> None:
    lines = [f"{'rows':>7} {'engine':<20} {'seconds':>9} {'peak MB':>9} {'vs reference':>13} {'mismatches':>13}"]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for rows in sizes:
            source = build_sweep(Path(folder) / f"sweep_{rows}.xlsx", rows)
            ref_dump = Path(folder) / f"reference_{rows}.json"
            reference = _child(_REFERENCE_CHILD, str(source), str(ref_dump))
            ref_values = json.loads(ref_dump.read_text())
            measured = []
            for name in _engines():
                dump = Path(folder) / f"{name}_{rows}.json"
                try:
                    result = _child(_ENGINE_CHILD, str(source), str(Path(folder) / f"out_{name}_{rows}.xlsx"),
                                    str(dump), name)
                except RuntimeError as exc:
                    print(f"{rows:>7} {name:<20} failed: {exc}", flush=True)
                    continue
                compared, differ = _mismatches(json.loads(dump.read_text()), ref_values)
                measured.append((result, f"{differ}/{compared}"))
            for result, mismatch in [*measured, (reference, "-")]:
                speed = reference["seconds"] / result["seconds"]
                line = (f"{rows:>7} {result['engine']:<20} {result['seconds']:>9.2f} {result['peak_mb']:>9.0f} "
                        f"{speed:>12.1f}x {mismatch:>13}")
                print(line, flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10_000])
