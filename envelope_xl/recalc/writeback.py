"""Writing computed values into a copy of the original package, losslessly.

Re-saving through openpyxl empties every cached formula value and an engine's own
writer drops formatting, charts or the theme, so neither is used. Instead the output
is the input's zip with, in the sheet parts that hold formulas, each formula cell's
cached `<v>` replaced (and its `t` type set: "str", "b", "e" or none for numbers),
cells of an array formula's range filled in, and `fullCalcOnLoad="1"` set in the
workbook part so Excel recalculates on open. Every other part is copied byte for
byte, and inside a changed part every other byte is left as it was: the `<f>`
elements (shared and array formulas included), styles, attributes, other cells,
comments. The parts are edited by `xmledit`, which follows a streaming XML parser,
and each edited part is parsed again before the file is finished.

Text is written as OOXML stores it (ST_Xstring): characters XML 1.0 cannot hold, a
carriage return, and an underscore that would start an `_xHHHH_` escape are written
as `_xHHHH_`. An error code outside the spreadsheet set becomes `#VALUE!` and a
number that is not finite `#NUM!`, so the output always opens.

The output is written to a temporary file next to it (created exclusively, by a name
its caller knows, so only that file is ever removed) and then put in place by a hard
link that refuses to replace anything (or, with `force`, by a rename over a regular
file only): a reader never sees half a file, two runs never silently replace each
other's output, and the input is only ever read.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
import zipfile
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from envelope_xl.recalc.engine import CellError, CellValue, Results
from envelope_xl.recalc.formula import cell_name, parse_area, parse_cell
from envelope_xl.recalc.package import PackageError, main_name, read_package
from envelope_xl.recalc.sheetxml import ERROR_CODES, position
from envelope_xl.recalc.xmledit import Editor, Tag

Cell = tuple[int, int]

_SHEET_DATA, _ROW, _C, _F, _V, _IS, _DIMENSION = (
    main_name(t) for t in ("sheetData", "row", "c", "f", "v", "is", "dimension")
)
_CALC_PR = main_name("calcPr")
#: Children of `workbook` that come before `calcPr` in the schema (CT_Workbook).
_BEFORE_CALC_PR = frozenset(main_name(t) for t in ("sheets", "functionGroups", "externalReferences", "definedNames"))
# What ST_Xstring writes as _xHHHH_: XML 1.0's forbidden characters, CR, and "_" before "xHHHH_".
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


class OutputExistsError(FileExistsError):
    """The output file exists and `force` was not given (or it is not a file `force` may replace)."""


def temporary_path(output: Path) -> Path:
    """A fresh name for the temporary file of `output`, in its folder (so it can be linked into place)."""
    return output.parent / f".{output.name[:120]}.{secrets.token_hex(6)}.tmp"


def check_output(source: Path, output: Path, force: bool) -> None:
    """Refuse early an output that would replace the input, exists without `force`, or is not a file."""
    source, output = Path(source), Path(output)
    if output.resolve() == source.resolve() or (output.exists() and os.path.samefile(output, source)):
        raise OutputExistsError(f"{output}: the output would overwrite the input, which is never modified")
    try:
        info = os.lstat(output)
    except FileNotFoundError:
        return
    if not force:
        raise OutputExistsError(f"{output} exists; use --force to replace it")
    if not stat.S_ISREG(info.st_mode):
        raise OutputExistsError(f"{output} is not a regular file; --force only replaces files")


def write_back(source: Path, results: Results, output: Path, *, force: bool = False) -> None:
    """Write `source` with the cached values of `results` to `output` (never to `source`)."""
    source, output = Path(source), Path(output)
    check_output(source, output, force)
    output.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary_path(output)
    write_temporary(source, results, temp)
    try:
        place(temp, output, source, force=force)
    finally:
        temp.unlink(missing_ok=True)


def write_temporary(source: Path, results: Results, temp: Path) -> None:
    """Write the recalculated copy of `source` to the new file `temp` (removed again on failure)."""
    with zipfile.ZipFile(source) as zin:
        package = read_package(zin)
        parts = {s.name: s.part for s in package.sheets}
        by_part: dict[str, dict[Cell, CellValue]] = defaultdict(dict)
        for (sheet, ref), value in results.items():
            if sheet not in parts:
                raise PackageError(f"no worksheet named {sheet!r} in {source}")
            by_part[parts[sheet]][parse_cell(ref)] = value
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zout:
                zout.comment = zin.comment
                for info in zin.infolist():
                    data = zin.read(info)
                    if info.filename in by_part:
                        data = patch_sheet(data, by_part[info.filename], info.filename)
                    elif info.filename == package.workbook_part:
                        data = ask_full_calculation(data, info.filename)
                    zout.writestr(info, data, compress_type=info.compress_type)
            with zipfile.ZipFile(temp) as check:
                bad = check.testzip()
            if bad is not None:
                raise PackageError(f"the output's part {bad} did not read back")
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


def place(temp: Path, output: Path, source: Path | None = None, *, force: bool = False) -> None:
    """Put the finished `temp` at `output`: never over anything unless `force`, and then only over a file."""
    if source is not None:
        check_output(source, output, force)
    if force:
        try:
            info = os.lstat(output)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise OutputExistsError(f"{output} is not a regular file; --force only replaces files")
        os.replace(temp, output)
        return
    try:
        os.link(temp, output)
    except FileExistsError:
        raise OutputExistsError(f"{output} exists; use --force to replace it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV, errno.ENOSYS):
            raise
        _copy_exclusively(temp, output)  # a file system without hard links
    os.unlink(temp)


def _copy_exclusively(temp: Path, output: Path) -> None:
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise OutputExistsError(f"{output} exists; use --force to replace it") from None
    try:
        with os.fdopen(fd, "wb") as out, open(temp, "rb") as src:
            shutil.copyfileobj(src, out)
    except BaseException:
        output.unlink(missing_ok=True)
        raise


def ask_full_calculation(workbook_xml: bytes, part: str = "xl/workbook.xml") -> bytes:
    """The workbook part with `fullCalcOnLoad="1"`, so Excel recalculates on open."""
    editor = Editor(workbook_xml, part)
    depth = 0
    calc_pr: list[Tag] = []
    root: list[Tag] = []
    after: list[int] = []  # where the elements that precede calcPr end
    pending: list[str] = []

    def start(name: str, attrs) -> None:
        nonlocal depth
        depth += 1
        if depth == 1:
            root.append(editor.start_tag())
        elif depth == 2:
            tag = editor.start_tag()
            if name == _CALC_PR and not calc_pr:
                calc_pr.append(tag)
            if name in _BEFORE_CALC_PR:
                if tag.empty:
                    after.append(tag.end)
                else:
                    pending.append(name)

    def end(name: str) -> None:
        nonlocal depth
        if depth == 2 and pending and pending[-1] == name:
            pending.pop()
            after.append(editor.end_tag_end())
        depth -= 1

    editor.run(start, end)
    if calc_pr:
        editor.set_attribute(calc_pr[0], b"fullCalcOnLoad", b"1", first=True)
    elif after:
        at = max(after)
        editor.replace(at, at, b"<" + root[0].prefix + b'calcPr fullCalcOnLoad="1"/>')
    return editor.finish()


def xstring(text: str) -> str:
    """Text as an OOXML string value (ST_Xstring), XML-escaped.

    >>> xstring("a\\x01<b>_x0041_")
    'a_x0001_&lt;b&gt;_x005F_x0041_'
    """
    text = _NOT_XML.sub(lambda m: "_x005F_" if m.group() == "_" else f"_x{ord(m.group()):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _typed(value: CellValue) -> tuple[str, str]:
    """The `t` attribute and `<v>` text of a value."""
    if isinstance(value, CellError):
        return "e", value.code if value.code in ERROR_CODES else "#VALUE!"
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, (int, float)):
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            return "e", "#NUM!"
        if value.is_integer() and abs(value) < 1e15:
            return "", str(int(value))
        return "", repr(value)
    return "str", xstring(str(value))


def patch_sheet(xml: bytes, cells: Mapping[Cell, CellValue], part: str = "a worksheet part", *,
                drop_formulas: bool = False) -> bytes:
    """A sheet part with the cached values of `cells` set; nothing else changes (but, with
    `drop_formulas`, the formulas of those cells are taken out: they become constants)."""
    return _SheetPatch(xml, cells, part, drop_formulas).result()


class _SheetPatch:
    """One pass over a worksheet part: patch the cells that are there, insert those that are not."""

    def __init__(self, xml: bytes, cells: Mapping[Cell, CellValue], part: str, drop_formulas: bool) -> None:
        self.editor = Editor(xml, part)
        self.part = part
        self.drop_formulas = drop_formulas
        self.cells = cells
        self.pending: dict[int, dict[int, CellValue]] = defaultdict(dict)
        for (row, col), value in cells.items():
            self.pending[row][col] = value
        self.rows = sorted(self.pending)  # rows still to visit or insert
        self.depth = 0
        self.in_data = False
        self.sheet_data: Tag | None = None
        self.dimension: Tag | None = None
        self.row = 0
        self.row_tag: Tag | None = None
        self.waiting: list[int] = []  # columns of the current row still to patch or insert
        self.col = 0
        self.cell: dict | None = None  # the cell being patched

    def result(self) -> bytes:
        self.editor.run(self.start, self.end)
        if self.sheet_data is None:
            raise PackageError(f"part {self.part}: a worksheet without sheetData")
        self._widen_dimension()
        return self.editor.finish()

    # --- events ---------------------------------------------------------------------

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        depth = self.depth
        if depth == 4:
            if self.row_tag is not None and name == _C:
                self._start_cell(attrs)
        elif depth == 5:
            if self.cell is not None and name in (_F, _V, _IS):
                if name in self.cell:
                    raise PackageError(f"part {self.part}: a cell with two {name.split('}')[-1]} elements")
                self.cell[name] = [self.editor.position(), None]  # where it starts, where its end tag starts
        elif depth == 3:
            if self.in_data and name == _ROW:
                self._start_row(attrs)
        elif depth == 2:
            if name == _SHEET_DATA and self.sheet_data is None:
                self.sheet_data = tag = self.editor.start_tag()
                if tag.empty:
                    rows = b"".join(self._new_row(r) for r in self.rows)
                    prefix = tag.prefix
                    self.editor.replace(tag.start, tag.end, self.editor.data[tag.start : tag.attributes[1]] + b">"
                                        + rows + b"</" + prefix + b"sheetData>")
                    self.rows = []
                else:
                    self.in_data = True
            elif name == _DIMENSION and self.dimension is None:
                self.dimension = self.editor.start_tag()

    def end(self, name: str) -> None:
        depth = self.depth
        if depth == 4:
            if self.cell is not None and name == _C:
                self._finish_cell()
        elif depth == 5:
            if self.cell is not None and name in (_F, _V, _IS):
                self.cell[name][1] = self.editor.position()
        elif depth == 3:
            if self.row_tag is not None and name == _ROW:
                at = self.editor.position()
                self.editor.replace(at, at, self._new_cells(self.row, self.waiting, self.row_tag.prefix))
                self.row_tag, self.waiting = None, []
        elif depth == 2 and self.in_data and name == _SHEET_DATA:
            at = self.editor.position()
            self.editor.replace(at, at, b"".join(self._new_row(r) for r in self.rows))
            self.rows = []
            self.in_data = False
        self.depth -= 1

    # --- rows and cells -------------------------------------------------------------

    def _start_row(self, attrs: dict[str, str]) -> None:
        number = attrs.get("r")
        self.row = int(number) if number is not None else self.row + 1
        rows = self.rows
        if rows and rows[0] < self.row:  # rows before this one that hold no cell yet
            k = 0
            while k < len(rows) and rows[k] < self.row:
                k += 1
            at = self.editor.position()
            self.editor.replace(at, at, b"".join(self._new_row(r) for r in rows[:k]))
            del rows[:k]
        if not rows or rows[0] != self.row:
            return
        rows.pop(0)
        tag = self.editor.start_tag()
        waiting = sorted(self.pending[self.row])
        if tag.empty:  # <row r="5"/>: open it and put the cells in
            self.editor.replace(tag.attributes[1], tag.end, b">" + self._new_cells(self.row, waiting, tag.prefix)
                                + b"</" + tag.prefix + b"row>")
            return
        self.row_tag, self.waiting, self.col = tag, waiting, 0

    def _start_cell(self, attrs: dict[str, str]) -> None:
        ref = attrs.get("r")
        self.col = self.col + 1 if ref is None else position(ref)[1]
        waiting = self.waiting
        if waiting and waiting[0] < self.col:
            k = 0
            while k < len(waiting) and waiting[k] < self.col:
                k += 1
            at = self.editor.position()
            self.editor.replace(at, at, self._new_cells(self.row, waiting[:k], self.row_tag.prefix))
            del waiting[:k]
        if not waiting or waiting[0] != self.col:
            return
        waiting.pop(0)
        tag = self.editor.start_tag()
        value = self.pending[self.row][self.col]
        if tag.empty:  # <c r="B2" s="1"/>: a cell of an array range that holds no value yet
            kind, text = _typed(value)
            self._retype(tag, kind)
            self.editor.replace(tag.attributes[1], tag.end, b">" + self._v(tag.prefix, text) + b"</" + tag.name + b">")
            return
        self.cell = {"tag": tag, "value": value}

    def _element(self, span: list[int]) -> tuple[Tag, int]:
        """A child element's start tag and where the element ends."""
        tag = self.editor.tag_at(span[0])
        return tag, tag.end if tag.empty else self.editor.end_tag_end(span[1])

    def _finish_cell(self) -> None:
        cell, self.cell = self.cell, None
        tag: Tag = cell["tag"]
        editor = self.editor
        kind, text = _typed(cell["value"])
        self._retype(tag, kind)
        v, f, inline = cell.get(_V), cell.get(_F), cell.get(_IS)
        if v is not None:
            v_tag = editor.tag_at(v[0])
            if v_tag.empty:
                editor.replace(v_tag.start, v_tag.end, self._v(v_tag.prefix, text))
            else:
                editor.replace(v_tag.end, v[1], editor.encode(text))
        else:
            at = self._element(f)[1] if f is not None else tag.end
            editor.replace(at, at, self._v(tag.prefix, text))
        if inline is not None:  # an inline string is a value too: the computed one replaces it
            editor.replace(inline[0], self._element(inline)[1], b"")
        if f is not None and self.drop_formulas:
            editor.replace(f[0], self._element(f)[1], b"")

    def _retype(self, tag: Tag, kind: str) -> None:
        self.editor.set_attribute(tag, b"t", kind.encode() if kind else None)

    def _v(self, prefix: bytes, text: str) -> bytes:
        return b"<" + prefix + b"v>" + self.editor.encode(text) + b"</" + prefix + b"v>"

    def _new_cells(self, row: int, cols: list[int], prefix: bytes) -> bytes:
        out = []
        for col in cols:
            kind, text = _typed(self.pending[row][col])
            kind_attr = f' t="{kind}"' if kind else ""
            out.append(b"<" + prefix + f'c r="{cell_name(row, col)}"{kind_attr}>'.encode() + self._v(prefix, text)
                       + b"</" + prefix + b"c>")
        return b"".join(out)

    def _new_row(self, row: int) -> bytes:
        prefix = self.sheet_data.prefix if self.sheet_data is not None else b""
        cells = self._new_cells(row, sorted(self.pending[row]), prefix)
        return b"<" + prefix + f'row r="{row}">'.encode() + cells + b"</" + prefix + b"row>"

    def _widen_dimension(self) -> None:
        """Grow `<dimension ref>` over cells filled outside it (readers such as openpyxl's
        read-only mode stop at the declared dimension)."""
        tag = self.dimension
        if tag is None or not self.cells:
            return
        found = self.editor.attribute(tag, b"ref")
        if found is None:
            return
        _, value_start, end = found
        try:
            r1, c1, r2, c2 = parse_area(self.editor.data[value_start + 1 : end - 1].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return
        rows = [r for r, _ in self.cells]
        cols = [c for _, c in self.cells]
        new = (min(r1, *rows), min(c1, *cols), max(r2, *rows), max(c2, *cols))
        if new != (r1, c1, r2, c2):
            ref = f"{cell_name(new[0], new[1])}:{cell_name(new[2], new[3])}".encode()
            self.editor.set_attribute(tag, b"ref", ref)
