"""Speed of the calculation core.

Prints, for every catalog function, the median time per call (validation included) beside
an empty Python function call measured in the same run; the core's import time beside a
bare interpreter start; and `envelope-xl call` end to end. Targets: every scalar function
within 5 microseconds per call, import adds at most 50 ms, `envelope-xl call` within 0.5 s.

    python benchmarks/bench_core.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import timeit

from envelope_xl.catalog import CATALOG


def per_call_us(fn, args, number: int = 20_000, repeat: int = 7) -> float:
    """Median over `repeat` runs of the mean time of one call, in microseconds."""
    runs = timeit.repeat(lambda: fn(*args), number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


#: As installed: pip compiles the package's bytecode at install time, so imports read .pyc
#: files. PYTHONDONTWRITEBYTECODE (set in some shells and containers) would recompile every
#: module on every start, more than doubling the import time measured.
_AS_INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall_ms(command: list[str], runs: int = 11) -> float:
    """Median wall time of a command, in milliseconds, after one warm-up run (which writes
    the bytecode caches an installed package has)."""
    subprocess.run(command, check=True, capture_output=True, env=_AS_INSTALLED)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=_AS_INSTALLED)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def empty(*args):
    return None


def main() -> None:
    print(f"{'function':<28} {'us/call':>9} {'empty call':>11} {'overhead':>9}")
    worst = 0.0
    for spec in CATALOG.values():
        t = per_call_us(spec.fn, spec.example, number=5_000 if spec.table else 20_000)
        base = per_call_us(empty, spec.example)
        kind = "table" if spec.table else ""
        print(f"{spec.name:<28} {t:>9.2f} {base:>11.2f} {t - base:>9.2f} {kind}")
        if not spec.table:
            worst = max(worst, t)
    print(f"\nslowest scalar function: {worst:.2f} us per call (target <= 5 us)")

    bare = wall_ms([sys.executable, "-c", "pass"])
    core = wall_ms([sys.executable, "-c", "import envelope_xl.catalog"])
    print(f"\ninterpreter start: {bare:.1f} ms; with `import envelope_xl.catalog`: {core:.1f} ms "
          f"(adds {core - bare:.1f} ms, target <= 50 ms)")
    cli = shutil.which("envelope-xl")
    if cli:
        call = wall_ms([cli, "call", "TRAIN_MEM", "7e9", "bf16", "adam"])
        print(f"`envelope-xl call TRAIN_MEM 7e9 bf16 adam` end to end: {call:.0f} ms (target <= 500 ms)")


if __name__ == "__main__":
    main()
