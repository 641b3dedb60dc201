"""The LibreOffice recalculation engine: LibreOffice headless with the envelope-xl add-in.

A complete spreadsheet engine for `envelope-xl recalc --engine libreoffice` (and
`--engine auto` when LibreOffice is installed). Like every engine it only computes:
the recalc command reads the file safely before and patches the values into the
untouched original after. One `compute` call:

1. copies the workbook into a temporary folder, renaming every envelope function call
   to the add-in's programmatic name (`TRAIN_MEM(` -> `ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM(`):
   LibreOffice 7.4 does not map a function name read from `.xlsx` to an add-in;
2. has LibreOffice recalculate everything on load and save the copy, in a copy of the
   cached profile holding the extension (`profile.py`), under a time limit;
3. reads back the value of every formula cell of the original (`readback.py`).

Every temporary file and process is removed on success, failure, timeout, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import contextlib
import html
import re
import shutil
import signal
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

from envelope_xl.catalog import CATALOG
from envelope_xl.libreoffice import profile, readback
from envelope_xl.libreoffice.extension import programmatic_name
from envelope_xl.libreoffice.headless import DEFAULT_TIMEOUT_S, LibreOfficeError, find_soffice
from envelope_xl.recalc.engine import Results
from envelope_xl.recalc.names import rename_envelope_calls
from envelope_xl.recalc.package import read_package

#: Catalog name -> the name LibreOffice files the add-in function under.
PROGRAMMATIC_NAMES = {name: programmatic_name(name) for name in CATALOG}

# A catalog name before "(", in upper case: parts and formulas without one are copied
# untouched, which spares the exact (string-aware) rename for most formulas. A literal
# alternation on upper-cased text is ~5x faster than any case-insensitive pattern.
_MENTION = re.compile("(?:" + "|".join(sorted(CATALOG, key=len, reverse=True)) + r")\s*\(")
# Formula text in a worksheet (`<f>`) and in the workbook's defined names.
_FORMULA_TEXT = re.compile(r"(<(?:f|definedName)\b[^>]*>)([^<]*)(</(?:f|definedName)>)")


def available() -> bool:
    """Whether LibreOffice and its extension manager are installed here."""
    return unavailable_reason() is None


def unavailable_reason() -> str | None:
    """Why the engine cannot run here (what to install), or None."""
    soffice = find_soffice()
    if soffice is None or profile.unopkg() is None:
        return profile.missing_message()
    if not soffice.resolve().with_name("pythonloader.py").is_file():
        return (
            "LibreOffice's Python bridge, which runs the envelope-xl add-in, is missing "
            "(Debian/Ubuntu: apt-get install python3-uno)"
        )
    return None


def _calls_envelope(text: str) -> bool:
    return _MENTION.search(text.upper()) is not None


def _rename_formula(match: re.Match[str]) -> str:
    text = match.group(2)
    if not _calls_envelope(text):
        return match.group(0)
    formula = html.unescape(text)
    renamed = rename_envelope_calls(formula, PROGRAMMATIC_NAMES)
    if renamed == formula:
        return match.group(0)
    escaped = renamed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return match.group(1) + escaped + match.group(3)


def rename_for_libreoffice(source: Path, target: Path) -> None:
    """Copy the workbook package, envelope calls renamed so LibreOffice binds them to the add-in."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        package = read_package(zin)
        formula_parts = {package.workbook_part, *(sheet.part for sheet in package.sheets)}
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in formula_parts:
                text = data.decode("utf-8")
                if _calls_envelope(text):
                    data = _FORMULA_TEXT.sub(_rename_formula, text).encode("utf-8")
            zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)


class StoppedError(LibreOfficeError):
    """The process computing a workbook was asked to stop (SIGTERM) and cleaned up."""


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """Turn SIGTERM into an exception while LibreOffice runs, so its processes and files are removed.

    A supervisor stopping a slow job (e.g. the recalc command at its time limit) sends
    SIGTERM; Python's default would exit on the spot, orphaning soffice and leaving the
    temporary folder behind. Only the main thread can install the handler; elsewhere
    the default stays.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise StoppedError("stopped by SIGTERM; LibreOffice and its temporary files were removed")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _scratch_folder() -> Iterator[Path]:
    """A temporary folder, removed afterwards even when SIGTERM arrives just as it is made."""
    can_block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}) if can_block else None
    try:
        folder = Path(tempfile.mkdtemp(prefix="envelope-xl-lo-engine-"))
    except BaseException:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    try:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending SIGTERM is raised here, inside the try
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class LibreOfficeEngine:
    """Computes workbooks with LibreOffice headless and the envelope-xl add-in."""

    name = "libreoffice"

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout: got {timeout!r}; expected a number of seconds > 0")
        self.timeout = timeout

    def compute(self, path: Path) -> Results:
        """Evaluate every formula cell of the workbook at `path` (never modified)."""
        source = Path(path)
        reason = unavailable_reason()
        if reason is not None:
            raise LibreOfficeError(reason)
        with _stopped_by_sigterm():
            return self._compute(source)

    def _compute(self, source: Path) -> Results:
        template = profile.template_profile(self.timeout)
        with _scratch_folder() as folder:
            (folder / "in").mkdir()
            # LibreOffice names its output after the input; keep the type LibreOffice detects by suffix.
            suffix = source.suffix.lower() if source.suffix.lower() in (".xlsx", ".xlsm") else ".xlsx"
            renamed = folder / "in" / f"book{suffix}"
            rename_for_libreoffice(source, renamed)
            with profile.profile_copy(template, folder) as lo:
                computed = profile.convert_in_profile(lo, [renamed], folder / "out", "xlsx", self.timeout)[0]
            computed_values = readback.formula_values(computed)
        wanted = readback.formula_cells(source)
        return {key: value for key, value in computed_values.items() if key in wanted}
