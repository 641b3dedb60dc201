"""Reading a worksheet part in one streaming pass: where its cells are and what they hold.

One reader serves every caller, so they all see the same cells:

- the safety check (`SCAN`): where the formula cells are, array formula and data table
  ranges, and the cell and extent limits, before any engine runs;
- the python engine (`INPUTS`): constants and formula texts (shared formulas expanded);
- the LibreOffice engine (`CACHED`): the value LibreOffice stored in every cell.

Only `c` elements that are children of a `row` of the worksheet's own `sheetData`
are cells, as in Excel; a foreign element of the same name elsewhere is not. What
Excel would reject as corrupt is refused rather than guessed at, since programs guess
differently: rows or cells out of order or repeated, a cell outside its row, a bad
reference, an empty or orphan formula, an array range not anchored at its top-left
cell or overlapping another formula.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from openpyxl.formula.translate import Translator

from envelope_xl.recalc import xmlsafe
from envelope_xl.recalc.formula import MAX_COL, MAX_ROW, Area, cell_name, column_index, parse_area
from envelope_xl.recalc.package import PackageError, SheetPart, UnsafeWorkbookError, main_name, unescape

Cell = tuple[int, int]  # (row, column), 1-based

SCAN, INPUTS, CACHED = "scan", "inputs", "cached"

#: The error values a cell can hold.
ERROR_CODES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA")

_WORKSHEET, _SHEET_DATA, _ROW, _C, _F, _V, _IS, _T, _RPH = (
    main_name(t) for t in ("worksheet", "sheetData", "row", "c", "f", "v", "is", "t", "rPh")
)
_CELL_REF = re.compile(r"([A-Za-z]{1,3})([1-9][0-9]{0,6})")
_COLUMNS: dict[str, int] = {}


@dataclass
class Budget:
    """Cells a workbook may still have (all sheets together)."""

    left: int


@dataclass
class SheetCells:
    """What one read of a worksheet found."""

    name: str
    part: str
    index: int
    formula_cells: set[Cell] = field(default_factory=set)  # every cell a formula fills, ranges included
    arrays: dict[Cell, Area] = field(default_factory=dict)  # anchor of an array formula -> its range
    data_tables: dict[Cell, Area] = field(default_factory=dict)  # anchor of an Excel data table -> its range
    values: dict[Cell, Any] = field(default_factory=dict)  # INPUTS: constants; CACHED: every stored value
    formulas: dict[Cell, str] = field(default_factory=dict)  # INPUTS: "=..." text of each formula cell
    max_row: int = 0
    max_col: int = 0


def check_extent(sheet: str, rows: int, columns: int, limits) -> None:
    """Refuse a sheet whose used area reaches past `limits`."""
    if rows > limits.max_rows:
        raise UnsafeWorkbookError(f"sheet {sheet!r} uses {rows} rows, over the limit of {limits.max_rows}")
    if columns > limits.max_columns:
        raise UnsafeWorkbookError(f"sheet {sheet!r} uses {columns} columns, over the limit of {limits.max_columns}")


def serial_date(text: str, date1904: bool) -> float:
    """An ISO 8601 date/time as a spreadsheet serial number (1900 or 1904 date system, as Excel counts).

    >>> serial_date("2024-03-01T12:00:00", False), serial_date("1900-01-01", False), serial_date("06:00", False)
    (45352.5, 1.0, 0.25)
    """
    text = text.strip()
    try:
        if "-" in text[1:8]:
            moment = datetime.datetime.fromisoformat(text).replace(tzinfo=None)
        else:  # a time of day alone
            t = datetime.time.fromisoformat(text)
            return (t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6) / 86400
    except ValueError:
        raise PackageError(f"{text!r} is not an ISO 8601 date") from None
    if date1904:
        base = datetime.datetime(1904, 1, 1)
    elif moment < datetime.datetime(1900, 3, 1):
        base = datetime.datetime(1899, 12, 31)  # Excel counts a 29 February 1900 that never was
    else:
        base = datetime.datetime(1899, 12, 30)
    delta = moment - base
    return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400e6


def position(ref: str) -> Cell:
    """(row, column) of a cell reference as a worksheet stores it ("AB12"), checked."""
    m = _CELL_REF.fullmatch(ref)
    if m is None:
        raise PackageError(f"{ref!r} is not a cell reference")
    letters = m.group(1)
    col = _COLUMNS.get(letters)
    if col is None:
        col = _COLUMNS[letters] = column_index(letters)
    row = int(m.group(2))
    if col > MAX_COL or row > MAX_ROW:
        raise PackageError(f"{ref!r} is past the last cell of a sheet (XFD1048576)")
    return row, col


def read_sheet(
    source: bytes | IO[bytes],
    sheet: SheetPart,
    keep: str,
    limits,
    budget: Budget,
    strings: list[str] | None = None,
    date1904: bool = False,
    error_value: Callable[[str], Any] = str,
) -> SheetCells:
    """Read the worksheet `sheet` from `source` (its part's bytes or stream), keeping what `keep` says.

    `error_value` turns an error code ("#N/A") into the value the caller works with.
    """
    out = SheetCells(sheet.name, sheet.part, sheet.index)
    formula_cells, values, formulas = out.formula_cells, out.values, out.formulas
    strings = strings if strings is not None else []
    shared: dict[str, tuple[str, Cell]] = {}
    translators: dict[str, Translator] = {}
    pieces: list[str] = []
    inline: list[str] = []
    p = xmlsafe.parser(sheet.part)
    p.buffer_text = True

    depth = 0
    in_data = in_row = in_cell = in_inline = False
    data_seen = False
    row = col = 0
    cell_type: str | None = None
    f_attrs: dict[str, str] | None = None
    f_text = v_text = None
    phonetic = 0
    where = ""

    def fail(message: str) -> None:
        raise PackageError(f"sheet {sheet.name!r}, {where or 'sheetData'}: {message}: the file is corrupt")

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, in_data, in_row, in_cell, in_inline, data_seen, row, col, cell_type, f_attrs
        nonlocal f_text, v_text, phonetic, where
        depth += 1
        if depth == 4:
            if in_row and name == _C:
                ref = attrs.get("r")
                if ref is None:
                    col += 1
                    where = cell_name(row, col) if col <= MAX_COL else where
                else:
                    where = ref
                    r, c = position(ref)
                    if r != row:
                        fail(f"the cell is inside row {row}")
                    if c <= col:
                        fail("cells out of order or repeated")
                    col = c
                if col > out.max_col:
                    if col > MAX_COL:
                        fail("past the last column of a sheet")
                    out.max_col = col
                    check_extent(sheet.name, out.max_row, col, limits)
                in_cell = True
                cell_type = attrs.get("t")
                f_attrs = f_text = v_text = None
        elif depth == 5:
            if in_cell:
                if name == _F:
                    f_attrs = attrs
                    pieces.clear()
                    p.CharacterDataHandler = pieces.append
                elif name == _V:
                    pieces.clear()
                    p.CharacterDataHandler = pieces.append
                elif name == _IS:
                    in_inline = True
                    inline.clear()
        elif depth == 3:
            if in_data and name == _ROW:
                number = attrs.get("r")
                if number is None:
                    new = row + 1
                elif number.isascii() and number.isdigit() and len(number) < 8:
                    new = int(number)
                else:
                    new = 0
                where = f"row {number}"
                if not 0 < new <= MAX_ROW:
                    fail("not a row number")
                if new <= row:
                    fail("rows out of order or repeated")
                row, col, in_row = new, 0, True
                where = f"row {row}"
                if row > out.max_row:
                    out.max_row = row
                    check_extent(sheet.name, row, out.max_col, limits)
        elif depth == 2:
            if name == _SHEET_DATA:
                if data_seen:
                    fail("two sheetData elements")
                in_data = data_seen = True
        elif depth == 1:
            if name != _WORKSHEET:
                raise PackageError(f"part {sheet.part} of sheet {sheet.name!r} is not a worksheet: the file is corrupt")
        elif in_inline:
            if name == _RPH:
                phonetic += 1
            elif name == _T and not phonetic:
                pieces.clear()
                p.CharacterDataHandler = pieces.append

    def end(name: str) -> None:
        nonlocal depth, in_data, in_row, in_cell, in_inline, f_text, v_text, phonetic
        if depth == 4:
            if in_cell:
                in_cell = False
                _cell()
        elif depth == 5:
            if in_cell:
                if name == _F:
                    f_text = "".join(pieces)
                    p.CharacterDataHandler = None
                elif name == _V:
                    v_text = "".join(pieces)
                    p.CharacterDataHandler = None
                elif name == _IS:
                    in_inline = False
        elif depth == 3:
            in_row = False
        elif depth == 2:
            in_data = False
        elif in_inline:
            if name == _RPH:
                phonetic -= 1
            elif name == _T and not phonetic:
                inline.append("".join(pieces))
                p.CharacterDataHandler = None
        depth -= 1

    def _range(attrs: dict[str, str], cell: Cell, what: str) -> Area:
        try:
            area = Area(None, *parse_area(attrs.get("ref") or cell_name(*cell)))
        except ValueError:
            fail(f"the {what} has a bad range {attrs.get('ref')!r}")
        if (area.row1, area.col1) != cell:
            fail(f"the {what} range {attrs.get('ref')} does not start at its own cell")
        size = (area.row2 - area.row1 + 1) * (area.col2 - area.col1 + 1)
        budget.left -= size - 1
        if budget.left < 0:
            raise UnsafeWorkbookError(f"more than {limits.max_cells} cells (the range {attrs.get('ref')} of "
                                      f"{sheet.name}!{cell_name(*cell)} counts), over the cell limit")
        if area.row2 > out.max_row or area.col2 > out.max_col:
            out.max_row, out.max_col = max(area.row2, out.max_row), max(area.col2, out.max_col)
            check_extent(sheet.name, out.max_row, out.max_col, limits)
        cells = {(r, c) for r in range(area.row1, area.row2 + 1) for c in range(area.col1, area.col2 + 1)}
        if not formula_cells.isdisjoint(cells):
            fail(f"the {what} range {attrs.get('ref')} overlaps another formula")
        formula_cells.update(cells)
        return area

    def _cell() -> None:
        budget.left -= 1
        if budget.left < 0:
            raise UnsafeWorkbookError(f"more than {limits.max_cells} cells, over the cell limit")
        cell = (row, col)
        if f_attrs is not None:
            kind = f_attrs.get("t", "normal")
            text = f_text
            if cell in formula_cells:
                fail("a formula inside the range of an array formula or data table")
            if kind == "array":
                out.arrays[cell] = _range(f_attrs, cell, "array formula")
            elif kind == "dataTable":
                out.data_tables[cell] = _range(f_attrs, cell, "data table")
                text = None
            elif kind == "shared":
                si = f_attrs.get("si", "")
                if text:
                    shared[si] = (text, cell)
                elif si not in shared:
                    fail(f"a shared formula (si={si!r}) used before it is defined")
                elif keep == INPUTS:
                    master, origin = shared[si]
                    translator = translators.get(si)
                    if translator is None:
                        translator = translators[si] = Translator("=" + master, origin=cell_name(*origin))
                    text = translator.translate_formula(cell_name(*cell))[1:]
                else:
                    text = shared[si][0]
                formula_cells.add(cell)
            elif kind == "normal":
                formula_cells.add(cell)
            else:
                fail(f"unknown formula type {kind!r}")
            if kind != "dataTable" and not (text or "").strip():
                fail("an empty formula")
            if keep == INPUTS:
                if text is not None:
                    formulas[cell] = "=" + text
                return
        if keep == SCAN:
            return
        value = _value(cell_type, v_text)
        if value is not None:
            values[cell] = value

    def _value(kind: str | None, text: str | None) -> Any:
        if kind is None or kind == "n":
            if not text:
                return None
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                fail(f"{text!r} is not a number")
            return number
        if kind == "s":
            if not text:
                return None
            if not text.isdigit() or int(text) >= len(strings):
                fail(f"no shared string number {text!r}")
            return strings[int(text)]
        if kind == "str":
            return unescape(text or "")
        if kind == "inlineStr":
            return unescape("".join(inline))
        if kind == "b":
            if text is None:
                return None
            if text.strip() not in ("0", "1", "true", "false"):
                fail(f"{text!r} is not a boolean")
            return text.strip() in ("1", "true")
        if kind == "e":
            code = (text or "").strip().upper()
            return error_value(code if code in ERROR_CODES else "#VALUE!")
        if kind == "d":
            if not text:
                return None
            try:
                return serial_date(text, date1904)
            except PackageError as exc:
                fail(str(exc))
        fail(f"unknown cell type {kind!r}")
        return None

    p.StartElementHandler, p.EndElementHandler = start, end
    xmlsafe.run(p, source, sheet.part)
    return out
