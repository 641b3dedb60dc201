"""The LibreOffice recalculation engine: LibreOffice headless with the envelope-xl add-in.

A complete spreadsheet engine for `envelope-xl recalc --engine libreoffice` (and
`--engine auto` when LibreOffice is installed). Like every engine it only computes:
the recalc command reads the file safely before and patches the values into the
untouched original after. One `compute` call:

1. finds the formula cells of the workbook (`safety.formula_inventory`);
2. copies the workbook into a temporary folder, renaming every envelope function call
   to the add-in's programmatic name (`TRAIN_MEM(` -> `ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM(`):
   LibreOffice 7.4 does not map a function name read from `.xlsx` to an add-in. The
   formulas are found and rewritten by a streaming XML parser (`xmledit`), so every
   stored form counts: any namespace prefix, CDATA, character references. The cells of
   an Excel data table, which LibreOffice computes wrongly, become `#N/A` in the copy,
   as with the python engine;
3. has LibreOffice recalculate everything on load and save the copy, in a copy of the
   cached profile holding the extension (`profile.py`), under a time limit;
4. reads back the value of every formula cell (`readback.py`), sheets matched by place.

Every temporary file and process is removed on success, failure, timeout, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import contextlib
import html
import posixpath
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
from envelope_xl.recalc.engine import CellError, Results
from envelope_xl.recalc.names import rename_envelope_calls
from envelope_xl.recalc.package import PKG_REL_NS, main_name, member_names, read_package, resolve
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Inventory, Limits, formula_inventory
from envelope_xl.recalc.sheetxml import SCAN
from envelope_xl.recalc.writeback import patch_sheet
from envelope_xl.recalc.xmledit import Editor, Tag

#: Catalog name -> the name LibreOffice files the add-in function under.
PROGRAMMATIC_NAMES = {name: programmatic_name(name) for name in CATALOG}

# A catalog name before "(", in upper case: a part without one (and without character
# references or CDATA, which could spell one) is copied untouched, which spares parsing it.
_MENTION = re.compile(("(?:" + "|".join(sorted(CATALOG, key=len, reverse=True)) + r")\s*\(").encode())
_FORMULA, _DEFINED_NAME = main_name("f"), main_name("definedName")
_RELATIONSHIP = f"{PKG_REL_NS}}}Relationship"


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
    return _MENTION.search(text.upper().encode("utf-8", "replace")) is not None


def _may_call_envelope(data: bytes) -> bool:
    return b"&#" in data or b"<![CDATA[" in data or _MENTION.search(data.upper()) is not None


def rename_formulas(data: bytes, part: str, element: str = _FORMULA) -> bytes:
    """An XML part with the envelope calls of every `element` (formulas, or defined names) renamed."""
    editor = Editor(data, part)
    p = editor.parser
    pieces: list[str] = []
    opened: list[Tag] = []

    def start(name: str, attrs) -> None:
        if name == element:
            tag = editor.start_tag()
            if not tag.empty:
                opened.append(tag)
                pieces.clear()
                p.CharacterDataHandler = pieces.append

    def end(name: str) -> None:
        if name == element and opened:
            tag = opened.pop()
            p.CharacterDataHandler = None
            text = "".join(pieces)
            if _calls_envelope(text):
                renamed = rename_envelope_calls(text, PROGRAMMATIC_NAMES)
                if renamed != text:
                    escaped = renamed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    editor.replace(tag.end, editor.position(), editor.encode(escaped))

    p.buffer_text = True
    editor.run(start, end)
    return editor.finish()


def spell_targets_out(data: bytes, part: str, members: dict[str, str]) -> bytes:
    """A relationships part with each target that names a part another way (another case,
    percent-encoded) written as that part's own name, which LibreOffice finds."""
    editor = Editor(data, part)
    folder, base = posixpath.split(part)
    source = posixpath.join(posixpath.dirname(folder), base[: -len(".rels")])  # "xl/_rels/workbook.xml.rels"

    def start(name: str, attrs: dict[str, str]) -> None:
        if name != _RELATIONSHIP or attrs.get("TargetMode") == "External" or "Target" not in attrs:
            return
        target = attrs["Target"]
        found = resolve(members, source, target)
        literal = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(source), target))
        if found is not None and found != literal:
            editor.set_attribute(editor.start_tag(), b"Target", editor.encode("/" + html.escape(found)))

    editor.run(start, lambda name: None)
    return editor.finish()


def rename_for_libreoffice(source: Path, target: Path, inventory: Inventory | None = None) -> None:
    """Copy the workbook package, envelope calls renamed so LibreOffice binds them to the add-in,
    and the cells of Excel data tables set to #N/A (LibreOffice would compute them wrongly)."""
    tables: dict[str, dict] = {}
    for sheet in inventory.sheets if inventory is not None else ():
        if sheet.data_tables:
            tables[sheet.part] = {
                (r, c): CellError("#N/A") for area in sheet.data_tables.values()
                for r in range(area.row1, area.row2 + 1) for c in range(area.col1, area.col2 + 1)
            }
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        package = read_package(zin)
        members = member_names(zin)
        sheet_parts = {sheet.part for sheet in package.sheets}
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.lower().endswith(".rels"):
                data = spell_targets_out(data, info.filename, members)
            elif info.filename in sheet_parts and _may_call_envelope(data):
                data = rename_formulas(data, info.filename)
            elif info.filename == package.workbook_part and _may_call_envelope(data):
                data = rename_formulas(data, info.filename, _DEFINED_NAME)
            if info.filename in tables:
                data = patch_sheet(data, tables[info.filename], info.filename, drop_formulas=True)
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
    keep = SCAN

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S, limits: Limits = DEFAULT_LIMITS) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout: got {timeout!r}; expected a number of seconds > 0")
        self.timeout, self.limits = timeout, limits

    def compute(self, path: Path, inventory: Inventory | None = None) -> Results:
        """Evaluate every formula cell of the workbook at `path` (never modified)."""
        source = Path(path)
        reason = unavailable_reason()
        if reason is not None:
            raise LibreOfficeError(reason)
        with _stopped_by_sigterm():
            return self._compute(source, inventory or formula_inventory(source, self.limits))

    def _compute(self, source: Path, inventory: Inventory) -> Results:
        template = profile.template_profile(self.timeout)
        with _scratch_folder() as folder:
            (folder / "in").mkdir()
            # LibreOffice names its output after the input; keep the type LibreOffice detects by suffix.
            suffix = source.suffix.lower() if source.suffix.lower() in (".xlsx", ".xlsm") else ".xlsx"
            renamed = folder / "in" / f"book{suffix}"
            rename_for_libreoffice(source, renamed, inventory)
            with profile.profile_copy(template, folder) as lo:
                computed = profile.convert_in_profile(lo, [renamed], folder / "out", "xlsx", self.timeout)[0]
            return readback.read_back(computed, inventory, self.limits)
