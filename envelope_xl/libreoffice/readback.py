"""Read the computed value of every formula cell from an `.xlsx` LibreOffice wrote.

Which cells count is decided by the original workbook (its `Inventory`): LibreOffice
also writes TRUE and FALSE constants as formulas (`TRUE()`), which are not ours to fill.

Sheets are matched by their place in the workbook, never by name: LibreOffice cuts
names longer than 31 characters and renames others (`[]:?'`, names that differ only
in case), and keeps every sheet in its order. LibreOffice's output is read by the same
streaming reader as the user's files (`sheetxml`), so strings come back unescaped
(`_xHHHH_`) and a cell is found wherever the XML puts it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from envelope_xl.libreoffice.headless import LibreOfficeError
from envelope_xl.recalc.engine import CellError, Results
from envelope_xl.recalc.formula import cell_name
from envelope_xl.recalc.package import read_package, shared_strings
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Inventory, Limits, formula_inventory
from envelope_xl.recalc.sheetxml import CACHED, Budget, read_sheet


class _SharedStrings(list):
    """The shared string table, read only if a cell refers to it."""

    def __init__(self, archive: zipfile.ZipFile, part: str | None) -> None:
        super().__init__()
        self.archive, self.part, self.loaded = archive, part, False

    def _load(self) -> None:
        if not self.loaded:
            self.loaded = True
            self.extend(shared_strings(self.archive, self.part))

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def __getitem__(self, index):
        self._load()
        return super().__getitem__(index)


def read_back(path: str | Path, original: Inventory, limits: Limits = DEFAULT_LIMITS) -> Results:
    """(sheet, "B2") -> value, for every formula cell of `original`, from LibreOffice's output at `path`.

    Sheets are named as in the original; a cell LibreOffice wrote no value for is left
    out (the recalc command reports it as an error cell).
    """
    results: Results = {}
    with zipfile.ZipFile(path) as archive:
        computed = read_package(archive)
        if computed.sheet_count != original.package.sheet_count:
            raise LibreOfficeError(
                f"LibreOffice wrote {computed.sheet_count} sheets for the workbook's {original.package.sheet_count}: "
                "its results cannot be matched to the sheets"
            )
        by_place = {sheet.index: sheet for sheet in computed.sheets}
        strings = _SharedStrings(archive, computed.shared_strings_part)
        budget = Budget(limits.max_cells)
        for sheet in original.sheets:
            if not sheet.formula_cells:
                continue
            part = by_place.get(sheet.index)
            if part is None:
                continue
            with archive.open(part.part) as source:
                values = read_sheet(source, part, CACHED, limits, budget, strings, computed.date1904, CellError).values
            for cell in sheet.formula_cells:
                value = values.get(cell)
                if value is not None:
                    results[(sheet.name, cell_name(*cell))] = value
    return results


def formula_values(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Results:
    """(sheet, "B2") -> value for every formula cell (and cell of an array result) of a computed workbook."""
    return read_back(path, formula_inventory(Path(path), limits), limits)
