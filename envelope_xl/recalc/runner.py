"""Recalculating files, each in its own worker process under a time and memory limit.

One job = one file: check the package, compute every formula cell, write the output.
Each job runs in a fresh process forked from a server that has already imported the
engines (so a job starts in milliseconds), with its address space capped by
RLIMIT_AS and killed when it outlives the timeout: a hostile or huge file costs at most
its own job. `--jobs N` runs N such processes at a time; one bad file never stops the
others.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from defusedxml import DefusedXmlException

from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.package import PackageError
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Limits, UnsafeWorkbookError

#: File outcomes: every value written; some cells are errors; refused as unsafe; not done.
OK, ERRORS, REFUSED, FAILED = "ok", "errors", "refused", "failed"


@dataclass(frozen=True)
class ErrorCell:
    """A formula cell whose value is an error, as the report lists it."""

    sheet: str
    cell: str
    formula: str
    error: str
    reason: str


@dataclass(frozen=True)
class Job:
    source: Path
    output: Path
    engine: str = "auto"
    force: bool = False
    limits: Limits = DEFAULT_LIMITS


@dataclass
class FileResult:
    """What happened to one file."""

    source: str
    output: str
    status: str
    engine: str = ""
    formula_cells: int = 0
    errors: list[ErrorCell] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""


def run_job(job: Job) -> FileResult:
    """Recalculate one file in this process (the worker's body; also usable directly)."""
    from envelope_xl.recalc.engines import EngineUnavailableError, select
    from envelope_xl.recalc.python_engine import ERROR_MEANINGS
    from envelope_xl.recalc.safety import check_package
    from envelope_xl.recalc.workbook import formulas_at
    from envelope_xl.recalc.writeback import OutputExistsError, write_back

    start = time.perf_counter()
    result = FileResult(str(job.source), str(job.output), FAILED)
    try:
        if not job.source.is_file():
            raise PackageError("no such file")
        check_package(job.source, job.limits)
        engine = select(job.engine, job.limits)
        result.engine = engine.name
        values = engine.compute(job.source)
        result.formula_cells = len(values)
        failed = {key: v for key, v in values.items() if isinstance(v, CellError)}
        if failed:
            texts = formulas_at(job.source, failed, job.limits)
            result.errors = [
                ErrorCell(sheet, cell, texts.get((sheet, cell), ""), err.code,
                          err.reason or ERROR_MEANINGS.get(err.code, ""))
                for (sheet, cell), err in failed.items()
            ]
        write_back(job.source, values, job.output, force=job.force)
        result.status = ERRORS if failed else OK
    except (UnsafeWorkbookError, DefusedXmlException) as exc:
        result.status, result.message = REFUSED, f"refused as unsafe: {exc}"
    except (PackageError, OutputExistsError, EngineUnavailableError) as exc:
        result.message = str(exc)
    except MemoryError:
        result.message = f"over the memory limit of {job.limits.memory // 1_000_000} MB"
    except Exception as exc:  # one bad file must not stop the others; say what happened
        result.message = f"cannot be read or computed: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result


def _worker(job: Job, conn) -> None:
    memory = job.limits.memory
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    conn.send(run_job(job))
    conn.close()


def _context(jobs: list[Job]):
    # Worker processes fork from a server that imported the engines once; numerical
    # libraries are kept single-threaded so RLIMIT_AS is not spent on thread arenas.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    ctx = multiprocessing.get_context("forkserver")
    preload = ["envelope_xl.recalc.runner"]
    if any(job.engine != "libreoffice" for job in jobs):  # the formula library takes ~1 s to import
        from formulas.functions import SUBMODULES

        preload += ["envelope_xl.recalc.python_engine", *(f"formulas.functions{name}" for name in SUBMODULES)]
    ctx.set_forkserver_preload(preload)
    return ctx


#: Seconds a worker past its time limit gets to clean up (stop LibreOffice, remove its
#: temporary files) after SIGTERM, before it is killed.
GRACE_S = 5.0


def _stop(process) -> None:
    process.terminate()
    process.join(GRACE_S)
    if process.is_alive():
        process.kill()


def run_jobs(
    jobs: Iterable[Job], workers: int = 1, on_done: Callable[[FileResult], None] | None = None
) -> list[FileResult]:
    """Run `jobs` in up to `workers` processes at a time; results in the order of `jobs`."""
    queue = list(enumerate(jobs))
    results: dict[int, FileResult] = {}
    running: dict[object, tuple[int, Job, multiprocessing.Process, object, float]] = {}
    ctx = _context([job for _, job in queue]) if queue else None
    try:
        while queue or running:
            while queue and len(running) < max(1, workers):
                index, job = queue.pop(0)
                receiver, sender = ctx.Pipe(duplex=False)
                process = ctx.Process(target=_worker, args=(job, sender), daemon=True)
                process.start()
                sender.close()
                running[receiver] = (index, job, process, receiver, time.monotonic())
            timeout = min(j.limits.timeout - (time.monotonic() - started) for _, j, _, _, started in running.values())
            ready = wait(list(running), timeout=max(0.0, timeout))
            now = time.monotonic()
            for receiver in list(running):
                index, job, process, _, started = running[receiver]
                if receiver in ready:
                    result = _receive(receiver, job, process, now - started)
                elif now - started >= job.limits.timeout:
                    _stop(process)
                    result = FileResult(
                        str(job.source), str(job.output), FAILED, seconds=now - started,
                        message=f"stopped after the time limit of {job.limits.timeout:g} s",
                    )
                else:
                    continue
                process.join()
                receiver.close()
                del running[receiver]
                if result.status == FAILED:
                    _remove_partial_output(job.output)
                results[index] = result
                if on_done is not None:
                    on_done(result)
    finally:
        for _, _, process, receiver, _ in running.values():
            _stop(process)
            process.join()
            receiver.close()
    return [results[i] for i in sorted(results)]


def _remove_partial_output(output: Path) -> None:
    """A worker stopped mid-write leaves its temporary file (never the output itself): remove it."""
    for partial in output.parent.glob(f".{output.name}.*.tmp"):
        partial.unlink(missing_ok=True)


def _receive(receiver, job: Job, process, seconds: float) -> FileResult:
    try:
        return receiver.recv()
    except (EOFError, OSError):
        process.join()
        return FileResult(
            str(job.source), str(job.output), FAILED, seconds=seconds,
            message=f"the worker stopped (exit status {process.exitcode}): "
            f"over the memory limit of {job.limits.memory // 1_000_000} MB or a crash",
        )
