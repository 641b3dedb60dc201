"""LibreOffice engine benchmark: `--engine libreoffice` against a plain headless LibreOffice recalculation.

The workbook is the recalc benchmark's sweep (`bench_recalc.build_sweep`: five envelope
function cells per row and a summary). The reference is the *same sweep written with
native formulas only* (the envelope functions spelled out with lookup tables filled from
`envelope_xl.reference`), recalculated by a plain `soffice --headless --convert-to xlsx`
in a fresh recalc-on-load profile (`envelope_xl.libreoffice.headless.convert`). Both
computations are checked to give the same values, so the reference does the same work.

Measured in the same run, median of `--repeat` runs each:

- reference: the plain LibreOffice recalculation of the native sweep, as
  `headless.convert` runs it (a fresh profile per run);
- warm reference: the same in a copy of an already-started profile, as the engine runs
  LibreOffice (so start-up costs are alike);
- engine: what `envelope-xl recalc --engine libreoffice` does for a file in its worker
  (`runner.run_job`: package checks, rename, LibreOffice, read back, write-back into a
  copy), in-process;
- command: `envelope-xl recalc --engine libreoffice` as a user runs it, process start
  and imports included.

The extension's cached profile is built once before timing (its cost is printed too).

    .venv/bin/python benchmarks/bench_recalc_libreoffice.py             # 1,000 and 10,000 rows
    .venv/bin/python benchmarks/bench_recalc_libreoffice.py 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_recalc import build_sweep  # the recalc benchmark's workbook

from envelope_xl.libreoffice import engine as lo_engine
from envelope_xl.libreoffice import headless, profile
from envelope_xl.libreoffice.readback import formula_values
from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.runner import Job, run_job
from envelope_xl.reference import GPUS, OPTIMIZERS, PRECISIONS

# The envelope calls of `build_sweep` (row r) and the same computation in native formulas.
# b: bytes of the precision, o: optimizer state bytes, peak: dense FLOP/s of the GPU in the precision.
_B = "VLOOKUP(B{r},Lookups!$A$2:$C$40,2,FALSE)"
_O = "VLOOKUP(C{r},Lookups!$E$2:$F$40,2,FALSE)"
_PEAK = ("INDEX(Lookups!$I$2:$Z$60,MATCH(D{r},Lookups!$H$2:$H$60,0),"
         "MATCH(VLOOKUP(B{r},Lookups!$A$2:$C$40,3,FALSE),Lookups!$I$1:$Z$1,0))*1E12")
_MASTER = f"IF({_B}<4,4,0)"
NATIVE = {
    "G": f"=(A{{r}}*{_B}+A{{r}}*{_B}+A{{r}}*{_MASTER}/E{{r}}+A{{r}}*{_O}/E{{r}})/1E9",  # TRAIN_MEM(...,E,1)
    "H": f"=(A{{r}}*{_B}+A{{r}}*{_MASTER}+A{{r}}*{_O})/1E9",  # CHECKPOINT_SIZE
    "I": f"=A{{r}}*{_B}/1E9",  # MODEL_MEM
    "J": f"=6*A{{r}}*F{{r}}/(E{{r}}*{_PEAK}*MFU)/86400",  # TRAIN_TIME in days
    "K": f"=ROUNDUP(6*A{{r}}*F{{r}}/({_PEAK}*0.4*DEADLINE_DAYS*86400)*(1-1E-12),0)",  # GPUS_FOR_DEADLINE
}


def native_sweep(source: Path, target: Path) -> Path:
    """The sweep with every envelope call replaced by native formulas over lookup tables."""
    from openpyxl import load_workbook

    wb = load_workbook(source)
    sweep = wb["Sweep"]
    for row in range(2, sweep.max_row + 1):
        first = sweep[f"G{row}"].value
        if isinstance(first, str) and first.startswith("=TRAIN_MEM("):
            for column, formula in NATIVE.items():
                sweep[f"{column}{row}"] = formula.format(r=row)
    lookups = wb.create_sheet("Lookups")
    lookups.append(["precision", "bytes", "peak field", None, "optimizer", "state bytes", None, "gpu"])
    fields = sorted({PRECISIONS.get("precision", name).peak_field for name in PRECISIONS})
    for column, field in enumerate(fields, start=9):
        lookups.cell(1, column, field)
    for i, name in enumerate(PRECISIONS, start=2):
        precision = PRECISIONS.get("precision", name)
        for column, value in ((1, name), (2, precision.bytes), (3, precision.peak_field)):
            lookups.cell(i, column, value)
    for i, name in enumerate(OPTIMIZERS, start=2):
        lookups.cell(i, 5, name)
        lookups.cell(i, 6, OPTIMIZERS.get("optimizer", name).state_bytes)
    for i, name in enumerate(GPUS, start=2):
        gpu = GPUS.get("gpu", name)
        lookups.cell(i, 8, name)
        for column, field in enumerate(fields, start=9):
            if field in gpu.specs:
                lookups.cell(i, column, gpu.specs[field])
    wb.save(target)
    return target


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return a == b


def _engine_run(source: Path, output: Path) -> tuple[float, dict]:
    output.unlink(missing_ok=True)
    start = time.perf_counter()
    result = run_job(Job(source, output, "libreoffice"))
    seconds = time.perf_counter() - start
    if result.status != "ok":
        raise RuntimeError(f"the engine failed: {result.message}")
    return seconds, formula_values(output)


def _command_run(source: Path, output: Path) -> float:
    command = [sys.executable, "-c", "from envelope_xl.recalc.cli import recalc; recalc()",
               "--engine", "libreoffice", str(source), "-o", str(output), "--force"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"envelope-xl recalc failed: {done.stderr.strip()[-400:]}")
    return seconds


def _reference_run(native: Path, out_dir: Path) -> tuple[float, Path]:
    start = time.perf_counter()
    result = headless.convert(native, out_dir)
    return time.perf_counter() - start, result


def _warm_reference_run(native: Path, out_dir: Path) -> float:
    start = time.perf_counter()
    template = profile.template_profile()
    with (
        tempfile.TemporaryDirectory(prefix="bench-warm-") as scratch,
        profile.profile_copy(template, Path(scratch)) as lo,
    ):
        profile.convert_in_profile(lo, [native], out_dir, "xlsx", headless.DEFAULT_TIMEOUT_S)
    return time.perf_counter() - start


def main(sizes: list[int], repeat: int) -> None:
    reason = lo_engine.unavailable_reason()
    if reason:
        sys.exit(f"LibreOffice engine unavailable: {reason}")
    start = time.perf_counter()
    profile.template_profile()
    print(f"extension profile ready in {time.perf_counter() - start:.2f} s (once per extension build)\n")
    print(f"{'rows':>7} {'reference s':>12} {'warm ref s':>11} {'engine s':>9} {'ratio':>6} {'vs warm':>8} "
          f"{'command s':>10} {'ratio':>6} {'cells':>7} {'mismatches':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-lo-") as folder:
        work = Path(folder)
        for rows in sizes:
            source = build_sweep(work / f"sweep_{rows}.xlsx", rows)
            native = native_sweep(source, work / f"native_{rows}.xlsx")
            reference, warm, engine, command = [], [], [], []
            for _ in range(repeat):  # interleaved, so load on the machine hits all alike
                seconds, converted = _reference_run(native, work / f"reference_{rows}")
                reference.append(seconds)
                warm.append(_warm_reference_run(native, work / f"warm_{rows}"))
                seconds, values = _engine_run(source, work / f"engine_{rows}.xlsx")
                engine.append(seconds)
                command.append(_command_run(source, work / f"command_{rows}.xlsx"))
            expected = formula_values(converted)
            compared = {k: v for k, v in values.items() if k[0] == "Sweep" and k[1][0] in NATIVE and k in expected}
            mismatches = sum(not _same(v, expected[k]) for k, v in compared.items())
            errors = sum(isinstance(v, CellError) for v in values.values())
            ref, hot, eng, cmd = (statistics.median(x) for x in (reference, warm, engine, command))
            note = f" ({errors} error cells)" if errors else ""
            print(f"{rows:>7} {ref:>12.2f} {hot:>11.2f} {eng:>9.2f} {eng / ref:>6.2f} {eng / hot:>8.2f} "
                  f"{cmd:>10.2f} {cmd / ref:>6.2f} {len(values):>7} {mismatches:>5}/{len(compared):<5}{note}")
    print("\nratio: time / reference time (target for the engine end to end: <= 1.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    main(options.sizes, options.repeat)
