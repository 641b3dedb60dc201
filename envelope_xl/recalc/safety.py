"""Checks made before any engine sees a workbook: a workbook is data, never code.

A hostile file can be small on disk and huge once unpacked (a zip bomb), declare XML
entities that expand without end (an entity bomb) or point at local files (external
entities), claim a small `<dimension>` and hold millions of cells, or anchor an array
formula over a huge range. `check_package` reads the whole package before anything
is computed: the zip directory against the size limits, then every XML part, whatever
its name or encoding, with the hardened parser of `xmlsafe` (a DTD anywhere is
refused, so are parts that are not well-formed), and every worksheet streamed cell by
cell against the row, column and cell limits, array formula and data table ranges
counting as the cells they cover. The limits are far above what a real planning
workbook reaches and can be raised. Macros are never run: nothing here or in the
engines executes VBA.

What it returns, the `Inventory`, says which cells are formula cells: whatever an
engine computes is checked against it, so a cell an engine skipped is reported, never
left stale.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from envelope_xl.recalc import xmlsafe
from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.formula import cell_name
from envelope_xl.recalc.package import (
    Package,
    PackageError,
    UnsafeWorkbookError,
    member_names,
    parse_xml,
    read_package,
    shared_strings,
)
from envelope_xl.recalc.sheetxml import INPUTS, SCAN, Budget, SheetCells, check_extent, read_sheet

MB = 1_000_000

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_CONTENT_TYPES = "[Content_Types].xml"
_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_XML_SUFFIXES = (".xml", ".rels", ".vml")

__all__ = [
    "MB", "Inventory", "Limits", "PackageError", "UnsafeWorkbookError", "check_extent", "check_package",
    "formula_inventory",
]


@dataclass(frozen=True)
class Limits:
    """What a workbook may reach before it is refused (sizes in bytes, times in seconds)."""

    max_file_size: int = 100 * MB
    max_uncompressed: int = 500 * MB  # all parts together, unpacked
    max_ratio: float = 100.0  # unpacked / packed, for any part larger than `ratio_floor`
    ratio_floor: int = 10 * MB
    max_members: int = 10_000
    max_rows: int = 250_000
    max_columns: int = 16_384
    max_cells: int = 5_000_000  # stored cells and the cells of array formula and data table ranges
    timeout: float = 600.0  # per file, load + evaluate + write
    memory: int = 4_000 * MB  # address space of the worker evaluating one file


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Inventory:
    """What the checks found: the package structure and, per worksheet, where its formula cells are."""

    package: Package
    sheets: tuple[SheetCells, ...]
    inputs: bool = False  # the sheets also hold their constants and formula texts (read with INPUTS)

    def formula_cells(self) -> set[tuple[str, str]]:
        """(sheet, "B2") of every cell a formula fills: anchors, array formula and data table ranges."""
        return {(s.name, cell_name(*cell)) for s in self.sheets for cell in s.formula_cells}

    def data_table_cells(self) -> dict[tuple[str, str], str]:
        """(sheet, "B2") -> the data table's range, for every cell of an Excel data table."""
        found = {}
        for s in self.sheets:
            for anchor, area in s.data_tables.items():
                ref = f"{cell_name(*anchor)}:{cell_name(area.row2, area.col2)}"
                for r in range(area.row1, area.row2 + 1):
                    for c in range(area.col1, area.col2 + 1):
                        found[(s.name, cell_name(r, c))] = ref
        return found


def check_package(path: Path, limits: Limits = DEFAULT_LIMITS, keep: str = SCAN) -> Inventory:
    """Refuse `path` with UnsafeWorkbookError (or PackageError) unless it is a workbook within `limits`.

    With `keep=INPUTS` the worksheets' constants and formula texts are kept too (error
    values as CellError), so the python engine need not read the file again.
    """
    size = path.stat().st_size
    if size > limits.max_file_size:
        raise UnsafeWorkbookError(f"{size / MB:.0f} MB on disk, over the limit of {limits.max_file_size / MB:.0f} MB")
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(_OLE_MAGIC):
        raise PackageError(_ole_message(path))
    if not head.startswith(_ZIP_MAGICS):
        raise PackageError("not an .xlsx or .xlsm workbook (the file is not a zip package)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise PackageError(f"not a readable .xlsx package, truncated or corrupt ({exc})") from None
    with zf:
        _check_directory(zf.infolist(), limits)
        try:
            return _check_parts(zf, limits, keep)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise PackageError(f"a part cannot be read, the file is corrupt ({exc})") from None


def _ole_message(path: Path) -> str:
    with path.open("rb") as f:
        data = f.read(4 * MB)
    if "EncryptedPackage".encode("utf-16-le") in data:
        return "the workbook is encrypted (password-protected to open); save a copy without a password"
    return "this is a legacy binary workbook (.xls), not .xlsx; save it as .xlsx"


def _check_directory(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(members) > limits.max_members:
        raise UnsafeWorkbookError(f"{len(members)} parts in the package, over the limit of {limits.max_members}")
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed:
        raise UnsafeWorkbookError(
            f"{total / MB:.0f} MB once unpacked, over the limit of {limits.max_uncompressed / MB:.0f} MB "
            "(a zip bomb, or a workbook far larger than a planning workbook)"
        )
    names: dict[str, str] = {}
    for m in members:
        if m.file_size > limits.ratio_floor and m.file_size > limits.max_ratio * max(m.compress_size, 1):
            raise UnsafeWorkbookError(
                f"part {m.filename} unpacks {m.file_size / max(m.compress_size, 1):.0f}x "
                f"({m.compress_size} -> {m.file_size} bytes), over the ratio limit of {limits.max_ratio:.0f}x "
                "(a zip bomb)"
            )
        # Two entries for one part name: each program would read a different one.
        if m.filename.casefold() in names:
            raise PackageError(f"the package holds the part {m.filename} twice ({names[m.filename.casefold()]}): "
                               "the file is corrupt or was altered")
        names[m.filename.casefold()] = m.filename
        if m.flag_bits & 0x1:
            raise PackageError(f"part {m.filename} is encrypted inside the zip, which workbooks never are")
        if m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PackageError(f"part {m.filename} uses zip compression method {m.compress_type}, which spreadsheet "
                               "programs do not read (only stored and deflated)")


def _content_types(zf: zipfile.ZipFile, members: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(extension -> content type, part name -> content type) from [Content_Types].xml."""
    name = members.get(_CONTENT_TYPES.casefold())
    if name is None:
        return {}, {}
    root = parse_xml(zf.read(name), name)
    defaults = {d.get("Extension", "").lower(): d.get("ContentType", "") for d in root.iter(f"{{{_TYPES_NS}}}Default")}
    overrides = {o.get("PartName", "").lstrip("/").casefold(): o.get("ContentType", "")
                 for o in root.iter(f"{{{_TYPES_NS}}}Override")}
    return defaults, overrides


def _is_xml(info: zipfile.ZipInfo, head: bytes, defaults: dict[str, str], overrides: dict[str, str]) -> bool:
    name = info.filename
    kind = overrides.get(name.casefold()) or defaults.get(name.rsplit(".", 1)[-1].lower() if "." in name else "", "")
    return kind.lower().endswith("xml") or name.lower().endswith(_XML_SUFFIXES) or xmlsafe.encoding_of(head) is not None


def _check_parts(zf: zipfile.ZipFile, limits: Limits, keep: str) -> Inventory:
    members = member_names(zf)
    defaults, overrides = _content_types(zf, members)
    package = read_package(zf)
    sheets_by_part = {sheet.part: sheet for sheet in package.sheets}
    budget = Budget(limits.max_cells)
    strings = shared_strings(zf, package.shared_strings_part) if keep == INPUTS else []
    scanned: dict[str, SheetCells] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        sheet = sheets_by_part.get(info.filename)
        if sheet is not None:
            with zf.open(info) as source:
                scanned[info.filename] = read_sheet(source, sheet, keep, limits, budget, strings, package.date1904,
                                                    CellError)
            continue
        if keep == INPUTS and info.filename == package.shared_strings_part:
            continue  # parsed, hardened, just above
        with zf.open(info) as source:
            head = source.read(64)
        if _is_xml(info, head, defaults, overrides):
            with zf.open(info) as source:
                xmlsafe.check(source, info.filename)
    return Inventory(package, tuple(scanned[s.part] for s in package.sheets), keep == INPUTS)


def formula_inventory(path: Path, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Where the formula cells of a workbook are, without the other checks of `check_package`
    (for an engine given a file that was checked already)."""
    with zipfile.ZipFile(path) as zf:
        package = read_package(zf)
        budget = Budget(limits.max_cells)
        sheets = []
        for sheet in package.sheets:
            with zf.open(sheet.part) as source:
                sheets.append(read_sheet(source, sheet, SCAN, limits, budget))
    return Inventory(package, tuple(sheets))
