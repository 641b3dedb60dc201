"""Recalculating files, each in its own worker process under a time and memory limit.

One job = one file: check the package, compute every formula cell, write the result
to a temporary file. Each job runs in a fresh process forked from a server that has
already imported the engines (so a job starts in milliseconds), with its address
space capped by RLIMIT_AS and stopped when it outlives the timeout: a hostile or huge
file costs at most its own job. `--jobs N` runs N such processes at a time; one bad
file never stops the others.

Only this (the main) process puts outputs in place, once a worker has finished and
checked its temporary file, so an output never appears after the run ended. Every
file a run writes has a name the main process chose (`Job.temp`), and only those
files are ever removed: a failed job's temporary file, and on a signal (SIGINT,
SIGTERM, SIGHUP: `Interrupted`) every output this run put in place. A worker reports
the process group of each LibreOffice it starts, so stopping a job also stops its
LibreOffice, whatever state the worker is in.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from pathlib import Path

from envelope_xl.recalc.engine import CellError, Results
from envelope_xl.recalc.package import PackageError
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Inventory, Limits, UnsafeWorkbookError

#: File outcomes: every value written; some cells are errors; refused as unsafe; not done.
OK, ERRORS, REFUSED, FAILED = "ok", "errors", "refused", "failed"

#: The signals that stop a run: it then removes what it wrote and exits 128 + the signal's number.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


class Interrupted(BaseException):  # a signal, not an error
    """The run was stopped by a signal; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


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
    #: Where the worker writes the result before the main process puts it in place; None: `run_job`
    #: picks a name and puts the output in place itself.
    temp: Path | None = None


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


def complete(values: Results, inventory: Inventory, engine: str) -> Results:
    """The engine's values for exactly the formula cells the checks found, in sheet and cell order.

    A cell the engine gave no value is an error cell that says so, the cells of an Excel
    data table are error cells with every engine (neither computes them), and anything
    else the engine returned is left out: exit 0 means every formula cell was computed.
    """
    from envelope_xl.recalc.formula import cell_name
    from envelope_xl.recalc.python_engine import DATA_TABLE_REASON

    out: Results = {}
    for sheet in inventory.sheets:
        tables = {}
        for anchor, area in sheet.data_tables.items():
            reason = DATA_TABLE_REASON.format(f"{cell_name(*anchor)}:{cell_name(area.row2, area.col2)}")
            tables.update({(r, c): reason for r in range(area.row1, area.row2 + 1)
                           for c in range(area.col1, area.col2 + 1)})
        for cell in sorted(sheet.formula_cells):
            key = (sheet.name, cell_name(*cell))
            if cell in tables:
                out[key] = CellError("#N/A", tables[cell])
            elif key in values:
                out[key] = values[key]
            else:
                out[key] = CellError("#N/A", f"the {engine} engine gave no value for this cell")
    return out


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for one job: with the hundreds of thousands of objects a
    workbook reads into memory, its full passes cost a third of the time, and a job makes
    almost no reference cycles (its memory is bounded by the worker's limit anyway)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_job(job: Job) -> FileResult:
    """Recalculate one file in this process (the worker's body; also usable directly)."""
    with _collector_paused():
        return _run_job(job)


def _run_job(job: Job) -> FileResult:
    from envelope_xl.recalc.engines import EngineUnavailableError, select
    from envelope_xl.recalc.python_engine import ERROR_MEANINGS
    from envelope_xl.recalc.safety import check_package
    from envelope_xl.recalc.workbook import formulas_at
    from envelope_xl.recalc.writeback import OutputExistsError, check_output, place, temporary_path, write_temporary

    start = time.perf_counter()
    result = FileResult(str(job.source), str(job.output), FAILED)
    temp = job.temp or temporary_path(job.output)
    try:
        if not job.source.is_file():
            raise PackageError("no such file")
        check_output(job.source, job.output, job.force)
        engine = select(job.engine, job.limits)
        inventory = check_package(job.source, job.limits, engine.keep)
        result.engine = engine.name
        values = complete(engine.compute(job.source, inventory), inventory, engine.name)
        result.formula_cells = len(values)
        failed = {key: v for key, v in values.items() if isinstance(v, CellError)}
        if failed:
            texts = formulas_at(job.source, failed, job.limits)
            result.errors = [
                ErrorCell(sheet, cell, texts.get((sheet, cell), ""), err.code,
                          err.reason or ERROR_MEANINGS.get(err.code, ""))
                for (sheet, cell), err in failed.items()
            ]
        job.output.parent.mkdir(parents=True, exist_ok=True)
        write_temporary(job.source, values, temp)
        if job.temp is None:
            try:
                place(temp, job.output, job.source, force=job.force)
            finally:
                temp.unlink(missing_ok=True)
        result.status = ERRORS if failed else OK
    except UnsafeWorkbookError as exc:
        result.status, result.message = REFUSED, f"refused as unsafe: {exc}"
    except (PackageError, OutputExistsError, EngineUnavailableError) as exc:
        result.message = str(exc)
    except MemoryError:
        result.message = f"over the memory limit of {job.limits.memory // 1_000_000} MB"
    except Exception as exc:  # one bad file must not stop the others; say what happened
        result.message = f"cannot be read or computed: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result


class _Stopped(BaseException):
    """The main process asked this worker to stop (SIGTERM): unwind, cleaning up on the way."""


def _raise_stopped(signum, frame) -> None:
    raise _Stopped


def _worker(job: Job, conn) -> None:
    # Ctrl-C reaches the whole process group: the main process decides what to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _raise_stopped)
    memory = job.limits.memory
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from envelope_xl.libreoffice import headless

    headless.on_process_group = lambda group, running: conn.send(("group", group, running))
    try:
        conn.send(("result", run_job(job)))
    except _Stopped:
        pass
    finally:
        conn.close()


def _context(jobs: list[Job]):
    # Worker processes fork from a server that imported the engines once; numerical
    # libraries are kept single-threaded so RLIMIT_AS is not spent on thread arenas.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    ctx = multiprocessing.get_context("forkserver")
    preload = ["envelope_xl.recalc.runner", "envelope_xl.libreoffice.headless"]
    if any(job.engine != "libreoffice" for job in jobs):  # the formula library takes ~1 s to import
        from formulas.functions import SUBMODULES

        preload += ["envelope_xl.recalc.python_engine", *(f"formulas.functions{name}" for name in SUBMODULES)]
    ctx.set_forkserver_preload(preload)
    return ctx


#: Seconds a worker that is stopped gets to clean up (stop LibreOffice, remove its
#: temporary files) after SIGTERM, before it is killed.
GRACE_S = 5.0


@dataclass
class _Running:
    index: int
    job: Job
    process: multiprocessing.Process
    receiver: object
    started: float
    groups: set[int] = field(default_factory=set)  # LibreOffice process groups the worker has running
    result: FileResult | None = None

    def drain(self) -> None:
        """Read what the worker has sent so far (LibreOffice groups, its result)."""
        try:
            while self.receiver.poll():
                kind, *payload = self.receiver.recv()
                if kind == "group":
                    group, running = payload
                    (self.groups.add if running else self.groups.discard)(group)
                elif kind == "result":
                    self.result = payload[0]
        except (EOFError, OSError):
            pass


def _stop(running: list[_Running]) -> None:
    """Stop workers: SIGTERM (each cleans up), SIGKILL after the grace period, then their LibreOffice."""
    for r in running:
        if r.process.is_alive():
            r.process.terminate()
    deadline = time.monotonic() + GRACE_S
    for r in running:
        r.process.join(max(0.0, deadline - time.monotonic()))
        if r.process.is_alive():
            r.process.kill()
            r.process.join()
        r.drain()
        for group in r.groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        r.groups.clear()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold the stop signals while an output is put in place and recorded, so it is never missed."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_jobs(
    jobs: Iterable[Job], workers: int = 1, on_done: Callable[[FileResult], None] | None = None
) -> list[FileResult]:
    """Run `jobs` in up to `workers` processes at a time; results in the order of `jobs`.

    On `Interrupted` (or KeyboardInterrupt) every worker and its LibreOffice is stopped,
    every temporary file and every output this call put in place is removed, and the
    exception goes on.
    """
    from envelope_xl.recalc.writeback import temporary_path

    queue = [(i, replace(job, temp=job.temp or temporary_path(job.output))) for i, job in enumerate(jobs)]
    results: dict[int, FileResult] = {}
    running: dict[object, _Running] = {}
    placed: list[tuple[Path, int, int]] = []  # outputs put in place: path, device, inode
    ctx = _context([job for _, job in queue]) if queue else None
    try:
        while queue or running:
            while queue and len(running) < max(1, workers):
                index, job = queue.pop(0)
                receiver, sender = ctx.Pipe(duplex=False)
                process = ctx.Process(target=_worker, args=(job, sender), daemon=True)
                process.start()
                sender.close()
                running[receiver] = _Running(index, job, process, receiver, time.monotonic())
            timeout = min(r.job.limits.timeout - (time.monotonic() - r.started) for r in running.values())
            ready = wait(list(running), timeout=max(0.0, timeout))
            now = time.monotonic()
            for receiver in list(running):
                r = running[receiver]
                if receiver in ready:
                    r.drain()
                if r.result is not None:
                    result = r.result
                elif receiver in ready and not r.process.is_alive():
                    result = _crashed(r, now - r.started)
                elif now - r.started >= r.job.limits.timeout:
                    result = FileResult(
                        str(r.job.source), str(r.job.output), FAILED, seconds=now - r.started,
                        message=f"stopped after the time limit of {r.job.limits.timeout:g} s",
                    )
                else:
                    continue  # still computing (it may have reported a LibreOffice process group)
                with _signals_held():  # the job is either running or finished, never lost in between
                    _stop([r])
                    if result.status in (OK, ERRORS):
                        _put_in_place(r.job, result, placed)
                    r.job.temp.unlink(missing_ok=True)
                    receiver.close()
                    del running[receiver]
                results[r.index] = result
                if on_done is not None:
                    on_done(result)
    except (Interrupted, KeyboardInterrupt):
        with _signals_held():
            _stop(list(running.values()))
            _stop_helpers()
            for path, device, inode in placed:
                with contextlib.suppress(OSError):
                    info = os.lstat(path)
                    if (info.st_dev, info.st_ino) == (device, inode):  # still the file this run wrote
                        path.unlink()
        raise
    finally:
        with _signals_held():
            _stop(list(running.values()))
            for r in running.values():
                r.job.temp.unlink(missing_ok=True)
                r.receiver.close()
    return [results[i] for i in sorted(results)]


def _stop_helpers() -> None:
    """Stop multiprocessing's fork server and resource tracker now rather than when this process
    ends, so nothing of the run is left once it has stopped (CPython's own stop methods, if present)."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (getattr(forkserver, "_forkserver", None), getattr(resource_tracker, "_resource_tracker", None)):
        with contextlib.suppress(Exception):
            helper._stop()


def _put_in_place(job: Job, result: FileResult, placed: list[tuple[Path, int, int]]) -> None:
    from envelope_xl.recalc.writeback import OutputExistsError, place

    try:
        place(job.temp, job.output, job.source, force=job.force)
        info = os.lstat(job.output)
        placed.append((job.output, info.st_dev, info.st_ino))
    except (OutputExistsError, OSError) as exc:
        result.status, result.message = FAILED, str(exc)


def _crashed(r: _Running, seconds: float) -> FileResult:
    return FileResult(
        str(r.job.source), str(r.job.output), FAILED, seconds=seconds,
        message=f"the worker stopped (exit status {r.process.exitcode}): "
        f"over the memory limit of {r.job.limits.memory // 1_000_000} MB or a crash",
    )
