"""Reading the cells of a workbook package: values, formulas, array formulas.

Values are read as stored (numbers stay numbers: no date conversion), shared formulas
are expanded to each cell with openpyxl's Translator, and the cell limits are enforced
while streaming, so a sheet that lies about its size is still stopped early.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from formulas.tokens.operand import Error as FormulasError
from openpyxl.formula.translate import Translator

from envelope_xl.recalc.formula import Area, cell_name, parse_area, parse_cell
from envelope_xl.recalc.package import MAIN_NS, DefinedName, Package, iterparse, read_package, shared_strings
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Limits, UnsafeWorkbookError, check_extent

Cell = tuple[int, int]  # (row, column), 1-based


@dataclass
class Sheet:
    name: str
    part: str
    index: int
    values: dict[Cell, Any] = field(default_factory=dict)  # constants (formula cells are not in here)
    formulas: dict[Cell, str] = field(default_factory=dict)  # "=..." text of each formula cell
    arrays: dict[Cell, Area] = field(default_factory=dict)  # anchor of an array formula -> its range
    max_row: int = 0
    max_col: int = 0


@dataclass
class Book:
    path: Path
    sheets: list[Sheet]
    names: tuple[DefinedName, ...]

    def sheet(self, name: str) -> Sheet | None:
        """A sheet by name, ignoring case as Excel does."""
        folded = name.casefold()
        return next((s for s in self.sheets if s.name.casefold() == folded), None)

    @property
    def formula_count(self) -> int:
        return sum(len(s.formulas) for s in self.sheets)


_C, _F, _V, _IS, _T, _ROW = (f"{{{MAIN_NS}}}{t}" for t in ("c", "f", "v", "is", "t", "row"))


def read_book(path: Path, limits: Limits = DEFAULT_LIMITS) -> Book:
    """All cells of every worksheet of the package at `path`."""
    with zipfile.ZipFile(path) as zf:
        package: Package = read_package(zf)
        strings = shared_strings(zf, package.shared_strings_part)
        budget = [limits.max_cells]
        sheets = [_read_sheet(zf, p.name, p.part, p.index, strings, limits, budget) for p in package.sheets]
    return Book(path, sheets, package.names)


def _value(kind: str | None, text: str | None, inline: str | None, strings: list[str]) -> Any:
    if kind in (None, "n"):
        return float(text) if text not in (None, "") else None
    if kind == "s":
        return strings[int(text)] if text not in (None, "") else None
    if kind == "inlineStr":
        return inline or ""
    if kind == "b":
        return text in ("1", "true")
    if kind == "e":
        return FormulasError.errors.get((text or "").upper(), FormulasError.errors["#VALUE!"])
    return text or ""  # "str", "d" (an ISO date, kept as text)


def _read_sheet(zf, name, part, index, strings, limits: Limits, budget: list[int]) -> Sheet:
    sheet = Sheet(name, part, index)
    shared: dict[str, tuple[str, str]] = {}  # si -> (formula, origin cell)
    row_number = 0
    col_number = 0
    cell = None
    with zf.open(part) as source:
        for event, node in iterparse(source):
            tag = node.tag
            if event == "start":
                if tag == _ROW:
                    row_number = int(node.get("r") or row_number + 1)
                    col_number = 0
                elif tag == _C:
                    ref = node.get("r")
                    if ref:
                        row_number, col_number = parse_cell(ref)
                    else:
                        col_number += 1
                    cell = (row_number, col_number)
                continue
            if tag != _C:
                if tag == _ROW:
                    node.clear()
                continue
            budget[0] -= 1
            if budget[0] < 0:
                raise UnsafeWorkbookError(f"more than {limits.max_cells} cells, over the cell limit")
            row, col = cell
            if row > sheet.max_row or col > sheet.max_col:
                sheet.max_row, sheet.max_col = max(row, sheet.max_row), max(col, sheet.max_col)
                check_extent(name, sheet.max_row, sheet.max_col, limits)
            f = node.find(_F)
            if f is not None:
                text = _formula(f, cell, shared)
                if text is not None:
                    sheet.formulas[cell] = text
                    if f.get("t") == "array":
                        area = Area(None, *parse_area(f.get("ref") or cell_name(*cell)))
                        sheet.arrays[cell] = area
                        # The range's other cells may not be stored (openpyxl writes only the anchor):
                        # the used part of the sheet still reaches its far corner.
                        sheet.max_row, sheet.max_col = max(area.row2, sheet.max_row), max(area.col2, sheet.max_col)
                        check_extent(name, sheet.max_row, sheet.max_col, limits)
                    node.clear()
                    continue
            v = node.find(_V)
            inline = None
            if node.get("t") == "inlineStr":
                inline = "".join(t.text or "" for t in node.iter(_T))
            value = _value(node.get("t"), v.text if v is not None else None, inline, strings)
            if value is not None:
                sheet.values[cell] = value
            node.clear()
    return sheet


def _formula(f, cell: Cell, shared: dict[str, tuple[str, str]]) -> str | None:
    """The formula text of a cell, expanding shared formulas (None for an array's inner cells)."""
    text = f.text
    if f.get("t") == "shared":
        si = f.get("si", "")
        if text:
            shared[si] = ("=" + text, cell_name(*cell))
        elif si in shared:
            master, origin = shared[si]
            return Translator(master, origin=origin).translate_formula(cell_name(*cell))
        else:
            return None
    if text is None:
        return None
    return "=" + text


def formulas_at(
    path: Path, cells: Iterable[tuple[str, str]], limits: Limits = DEFAULT_LIMITS
) -> dict[tuple[str, str], str]:
    """The formula text behind each (sheet, "B2") cell; a cell of an array formula's
    range gets the array formula. Used to explain error cells in the report."""
    book = read_book(path, limits)
    wanted: dict[str, set[Cell]] = {}
    for sheet, ref in cells:
        wanted.setdefault(sheet, set()).add(parse_cell(ref))
    found = {}
    for sheet in book.sheets:
        for cell in wanted.get(sheet.name, ()):
            text = sheet.formulas.get(cell)
            if text is None:
                text = next(
                    (sheet.formulas[a] for a, area in sheet.arrays.items()
                     if area.row1 <= cell[0] <= area.row2 and area.col1 <= cell[1] <= area.col2),
                    "",
                )
            found[(sheet.name, cell_name(*cell))] = text
    return found
