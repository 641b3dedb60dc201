"""Reading the cells of a workbook package for the python engine: values, formulas, array formulas.

Values are read as stored (numbers stay numbers; an ISO date stored as `t="d"`
becomes its serial number, as Excel shows it), shared formulas are expanded to each
cell, and the cell limits are enforced while streaming (`sheetxml`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from formulas.tokens.operand import Error as FormulasError

from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.formula import cell_name, parse_cell
from envelope_xl.recalc.package import DefinedName, Package, read_package, shared_strings
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Inventory, Limits
from envelope_xl.recalc.sheetxml import INPUTS, Budget, Cell, SheetCells, read_sheet

#: A worksheet as the python engine reads it.
Sheet = SheetCells

__all__ = ["Book", "Cell", "Sheet", "formulas_at", "read_book"]


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


def _error(code: str):
    return FormulasError.errors[code] if code in FormulasError.errors else FormulasError.errors["#VALUE!"]


def book_from(path: Path, inventory: Inventory) -> Book:
    """The book the checks already read (`check_package(..., keep=INPUTS)`), error values as `formulas` has them."""
    for sheet in inventory.sheets:
        for cell, value in sheet.values.items():
            if isinstance(value, CellError):
                sheet.values[cell] = _error(value.code)
    return Book(path, list(inventory.sheets), inventory.package.names)


def read_book(path: Path, limits: Limits = DEFAULT_LIMITS) -> Book:
    """All cells of every worksheet of the package at `path`."""
    with zipfile.ZipFile(path) as zf:
        package: Package = read_package(zf)
        strings = shared_strings(zf, package.shared_strings_part)
        budget = Budget(limits.max_cells)
        sheets = []
        for part in package.sheets:
            with zf.open(part.part) as source:
                sheets.append(read_sheet(source, part, INPUTS, limits, budget, strings, package.date1904, _error))
    return Book(path, sheets, package.names)


def formulas_at(
    path: Path, cells: Iterable[tuple[str, str]], limits: Limits = DEFAULT_LIMITS
) -> dict[tuple[str, str], str]:
    """The formula text behind each (sheet, "B2") cell; a cell of an array formula's range gets
    the array formula (a data table's cells get a note). Used to explain error cells in the report."""
    book = read_book(path, limits)
    wanted: dict[str, set[Cell]] = {}
    for sheet, ref in cells:
        wanted.setdefault(sheet, set()).add(parse_cell(ref))
    found = {}
    for sheet in book.sheets:
        for cell in wanted.get(sheet.name, ()):
            text = sheet.formulas.get(cell)
            if text is None:
                ranges = [(sheet.formulas.get(a, ""), area) for a, area in sheet.arrays.items()]
                ranges += [("(Excel data table)", area) for area in sheet.data_tables.values()]
                inside = (t for t, a in ranges if a.row1 <= cell[0] <= a.row2 and a.col1 <= cell[1] <= a.col2)
                text = next(inside, "")
            found[(sheet.name, cell_name(*cell))] = text
    return found
