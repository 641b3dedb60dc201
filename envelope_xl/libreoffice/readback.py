"""Read the computed value of every formula cell from an `.xlsx` LibreOffice wrote.

Which cells count is decided by the original workbook (`formula_cells`): LibreOffice
also writes TRUE and FALSE constants as formulas (`TRUE()`), which are not ours to fill.

Only LibreOffice's own output is read here (the user's file is read by the recalc
command's safety checks and patched by its write-back), and LibreOffice writes one
regular form: `<c r="B2" t="..."><f>...</f><v>...</v></c>`, every formula spelled out
(no shared formulas), array results as a master cell with `<f t="array" ref="B2:C5">`
and plain value cells for the rest of the range. A regular expression over that form
reads 50,000 cells in a fraction of the time a general XML parser takes.
"""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path

from envelope_xl.recalc.engine import CellError, CellValue, Results
from envelope_xl.recalc.formula import cell_name, column_index
from envelope_xl.recalc.package import read_package, shared_strings

# A formula cell: reference, attributes, formula attributes, value.
_FORMULA_CELL = re.compile(r'<c r="([A-Z]+\d+)"([^>]*)><f\b([^>]*?)(?:/>|>[^<]*</f>)(?:<v>([^<]*)</v>)?')
# Any cell, for the value cells of an array result.
_CELL = re.compile(r'<c r="([A-Z]+\d+)"([^>]*?)(?:/>|>(?:<f\b[^>]*?(?:/>|>[^<]*</f>))?(?:<v>([^<]*)</v>)?)')
_TYPE = re.compile(r'\bt="(\w+)"')
_ARRAY = re.compile(r"""\bt=(["'])array\1""")
_REF = re.compile(r"""\bref=(["'])(?P<c1>[A-Z]+)(?P<r1>\d+):(?P<c2>[A-Z]+)(?P<r2>\d+)\1""")


# In any producer's XML: a cell's start tag (any attribute order, any prefix) followed by
# its first child when that is a formula (the schema puts <f> first).
_ANY_FORMULA_CELL = re.compile(r"<(?:\w+:)?c\b([^>]*?)(?<!/)>\s*<(?:\w+:)?f\b([^>]*)")
_R = re.compile(r"""\br=(["'])\$?([A-Za-z]+)\$?(\d+)\1""")  # either quote, as XML allows


def formula_cells(path: str | Path) -> set[tuple[str, str]]:
    """(sheet, "B2") of every formula cell of a workbook, and of every cell of an array formula's range."""
    found: set[tuple[str, str]] = set()
    with zipfile.ZipFile(path) as archive:
        for sheet in read_package(archive).sheets:
            xml = archive.read(sheet.part).decode("utf-8")
            for attributes, formula_attributes in _ANY_FORMULA_CELL.findall(xml):
                ref = _R.search(attributes)
                if ref is None:
                    continue
                found.add((sheet.name, f"{ref.group(2).upper()}{ref.group(3)}"))
                if _ARRAY.search(formula_attributes):
                    found.update((sheet.name, cell) for cell in _array_cells(formula_attributes))
    return found


class _SharedStrings:
    """The shared string table, read only if a formula result refers to it."""

    def __init__(self, archive: zipfile.ZipFile, part: str | None) -> None:
        self.archive, self.part = archive, part
        self.strings: list[str] | None = None

    def __getitem__(self, index: int) -> str:
        if self.strings is None:
            self.strings = shared_strings(self.archive, self.part)
        return self.strings[index]


def _value(kind: str, raw: str, shared: _SharedStrings) -> CellValue:
    text = html.unescape(raw) if "&" in raw else raw
    if kind == "e":
        return CellError(text)
    if kind == "b":
        return text.strip() in ("1", "true")
    if kind in ("str", "inlineStr"):
        return text
    if kind == "s":
        return shared[int(text)]
    return float(text) if text else ""


def _array_cells(formula_attributes: str) -> list[str]:
    """The cells of an array formula's result range, from its `<f t="array" ref=...>` attributes."""
    area = _REF.search(formula_attributes)
    if not area:
        return []
    c1, r1, c2, r2 = area.group("c1", "r1", "c2", "r2")
    columns = range(column_index(c1), column_index(c2) + 1)
    return [cell_name(r, c) for r in range(int(r1), int(r2) + 1) for c in columns]


def formula_values(path: str | Path) -> Results:
    """(sheet, "B2") -> value for every formula cell and every cell of an array result."""
    results: Results = {}
    with zipfile.ZipFile(path) as archive:
        package = read_package(archive)
        shared = _SharedStrings(archive, package.shared_strings_part)
        for part in package.sheets:
            sheet = part.name
            xml = archive.read(part.part).decode("utf-8")
            array_cells: set[str] = set()
            for ref, attributes, formula_attributes, raw in _FORMULA_CELL.findall(xml):
                kind = _TYPE.search(attributes)
                results[(sheet, ref)] = _value(kind.group(1) if kind else "n", raw, shared)
                if _ARRAY.search(formula_attributes):
                    array_cells.update(_array_cells(formula_attributes))
            if array_cells:
                for ref, attributes, raw in _CELL.findall(xml):
                    if ref in array_cells and (sheet, ref) not in results:
                        kind = _TYPE.search(attributes)
                        results[(sheet, ref)] = _value(kind.group(1) if kind else "n", raw, shared)
    return results
