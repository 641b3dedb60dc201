"""`envelope-xl recalc`: recompute workbooks headlessly, losslessly, in bulk."""

from __future__ import annotations

import contextlib
import glob
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from envelope_xl.cli import fail
from envelope_xl.recalc.engines import ENGINE_NAMES, EngineUnavailableError, resolve
from envelope_xl.recalc.runner import STOP_SIGNALS, Interrupted
from envelope_xl.recalc.safety import MB, Limits

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_DEFAULTS = Limits()


class _UsageError(Exception):
    pass


def expand_inputs(arguments: Sequence[str]) -> list[Path]:
    """Files, folders (their .xlsx/.xlsm files, recursively) and glob patterns, in order, without repeats."""
    found: list[Path] = []
    for arg in arguments:
        path = Path(arg)
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in WORKBOOK_SUFFIXES and not p.name.startswith("~$")
            )
            if not inside:
                raise _UsageError(f"{arg}: no .xlsx or .xlsm files in this folder")
            found.extend(inside)
        elif glob.has_magic(arg) and not path.exists():
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True) if Path(p).is_file())
            if not matches:
                raise _UsageError(f"{arg}: no file matches this pattern")
            found.extend(matches)
        else:
            found.append(path)
    unique: dict[Path, None] = {}
    for p in found:
        unique.setdefault(p, None)
    return list(unique)


def plan_outputs(sources: list[Path], output: Path | None, out_dir: Path | None) -> list[Path]:
    """Where each source's result goes: `-o FILE` for one input, or DIR/<same name>."""
    if output is not None and out_dir is not None:
        raise _UsageError("give either -o/--output or --out-dir, not both")
    if output is not None:
        if len(sources) != 1:
            raise _UsageError(f"-o/--output takes one input, got {len(sources)}; use --out-dir for several")
        return [output]
    if out_dir is None:
        raise _UsageError("say where to write: -o FILE for one workbook, or --out-dir DIR")
    outputs = [out_dir / s.name for s in sources]
    seen: dict[Path, Path] = {}
    for source, target in zip(sources, outputs, strict=True):
        if target in seen:
            raise _UsageError(f"{seen[target]} and {source} would both be written to {target}")
        seen[target] = source
    return outputs


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise Interrupted, so the run stops its workers and cleans up."""

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _make_folders(outputs: list[Path]) -> list[Path]:
    """Create the folders the outputs go in; the ones made here, outermost first."""
    made: list[Path] = []
    for folder in dict.fromkeys(output.parent for output in outputs):
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for path in reversed(missing):
            try:
                path.mkdir()
                made.append(path)
            except FileExistsError:
                pass
    return made


def _progress_reporter(total: int):
    """A progress bar on a terminal, one plain line per file otherwise (both on stderr)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if console.is_terminal:
        progress = Progress(TextColumn("recalc"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console, transient=True)
        task = progress.add_task("recalc", total=total)

        def advance(result) -> None:
            progress.advance(task)

        return progress, advance

    done = [0]

    def line(result) -> None:
        done[0] += 1
        errors = f", {len(result.errors)} error cells" if result.errors else ""
        click.echo(f"[{done[0]}/{total}] {result.source}: {result.status}, {result.formula_cells} formula cells"
                   f"{errors}, {result.seconds:.2f} s", err=True)

    return None, line


@click.command("recalc", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, metavar="WORKBOOK|FOLDER|GLOB...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Output file (one input).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the outputs, each named like its input.")
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="auto", show_default=True,
              help="python: pure Python, always available; libreoffice: LibreOffice headless; "
                   "auto: LibreOffice where installed, else python.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Files computed at the same time, each in its own process.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write per-file and per-error detail to FILE.json or FILE.csv.")
@click.option("--force", is_flag=True, help="Replace output files that exist.")
@click.option("--allow-errors", is_flag=True, help="Exit 0 even when formula cells evaluate to errors.")
@click.option("--timeout", type=click.FloatRange(min=1), default=_DEFAULTS.timeout, show_default=True,
              help="Seconds one file may take (load, evaluate, write).")
@click.option("--memory-limit", type=click.IntRange(min=200), default=_DEFAULTS.memory // MB, show_default=True,
              help="MB of address space the process computing one file may use.")
@click.option("--max-unpacked", type=click.IntRange(min=1), default=_DEFAULTS.max_uncompressed // MB,
              show_default=True, help="MB a workbook may unpack to before it is refused.")
@click.option("--max-cells", type=click.IntRange(min=1), default=_DEFAULTS.max_cells, show_default=True,
              help="Cells with content a workbook may have before it is refused.")
def recalc(inputs, output, out_dir, engine, jobs, report, force, allow_errors, timeout, memory_limit,
           max_unpacked, max_cells) -> None:
    """Recompute every formula cell of workbooks that use the envelope functions, without Excel.

    Each output is its input with the cached values filled in: every other part
    (formatting, charts, names, comments, VBA) is kept byte for byte, and Excel is
    asked to recalculate on open. Inputs are never modified. Exit status: 0 every
    formula cell computed and written, 1 some formula cells are errors (see
    --allow-errors), 2 bad usage or a file that cannot be read or is refused as unsafe,
    128 + the signal's number when stopped by a signal (130 Ctrl-C, 143 SIGTERM,
    129 SIGHUP): then nothing this run wrote is left.
    """
    from rich.console import Console

    from envelope_xl.recalc.report import exit_status, print_summary, write_report
    from envelope_xl.recalc.runner import Job, run_jobs

    try:
        if report is not None and report.suffix.lower() not in (".json", ".csv"):
            raise _UsageError(f"--report: got {str(report)!r}; expected a file name ending in .json or .csv")
        sources = expand_inputs(inputs)
        outputs = plan_outputs(sources, output, out_dir)
        engine = resolve(engine)  # once, here: every worker then runs the same engine
    except (_UsageError, EngineUnavailableError) as exc:
        fail(str(exc))
    limits = Limits(timeout=timeout, memory=memory_limit * MB, max_uncompressed=max_unpacked * MB,
                    max_cells=max_cells)
    work = [Job(s, o, engine, force, limits) for s, o in zip(sources, outputs, strict=True)]
    progress, on_done = _progress_reporter(len(work))
    folders: list[Path] = []
    try:
        with _stopped_by_signals():
            folders = _make_folders(outputs)
            if progress is not None:
                with progress:
                    results = run_jobs(work, jobs, on_done)
            else:
                results = run_jobs(work, jobs, on_done)
    except Interrupted as stop:
        for folder in reversed(folders):  # the folders this run made, if nothing else is in them now
            with contextlib.suppress(OSError):
                folder.rmdir()
        click.echo(f"recalc {stop}: every file it was computing was stopped and nothing it wrote is left",
                   err=True)
        sys.exit(128 + stop.signum)
    status = exit_status(results, allow_errors)
    print_summary(results, Console(highlight=False, soft_wrap=True))
    if report is not None:
        write_report(report, results, status)
    sys.exit(status)
