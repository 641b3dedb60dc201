"""Checks made before a workbook is loaded: a workbook is data, never code.

A hostile file can be small on disk and huge once unpacked (a zip bomb), declare XML
entities that expand without end (an entity bomb) or point at local files (external
entities), or claim millions of cells. `check_package` refuses such files from the zip
directory and the first bytes of each part, before anything is parsed; the limits are
far above what a real planning workbook reaches and can be raised. The reader enforces
the cell limits again while it streams, since a `<dimension>` element can lie. Macros
are never run: nothing here or in the engines executes VBA.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from envelope_xl.recalc.formula import parse_area
from envelope_xl.recalc.package import PackageError, read_package

MB = 1_000_000

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([^\"]+)\"")


class UnsafeWorkbookError(PackageError):
    """The file is refused before loading; the message says which limit and how to raise it."""


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
    max_cells: int = 5_000_000  # cells with content, all sheets together
    timeout: float = 600.0  # per file, load + evaluate + write
    memory: int = 4_000 * MB  # address space of the worker evaluating one file


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()


def check_package(path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse `path` with UnsafeWorkbookError (or PackageError) unless it is a workbook within `limits`."""
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
    except zipfile.BadZipFile as exc:
        raise PackageError(f"not a readable .xlsx package, truncated or corrupt ({exc})") from None
    with zf:
        _check_directory(zf.infolist(), limits)
        _check_xml_prologs(zf)
        package = read_package(zf)
        for sheet in package.sheets:
            _check_dimension(zf, sheet.name, sheet.part, limits)


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
    for m in members:
        if m.file_size > limits.ratio_floor and m.file_size > limits.max_ratio * max(m.compress_size, 1):
            raise UnsafeWorkbookError(
                f"part {m.filename} unpacks {m.file_size / max(m.compress_size, 1):.0f}x "
                f"({m.compress_size} -> {m.file_size} bytes), over the ratio limit of {limits.max_ratio:.0f}x "
                "(a zip bomb)"
            )


def _check_xml_prologs(zf: zipfile.ZipFile) -> None:
    for m in zf.infolist():
        if not m.filename.endswith((".xml", ".rels", ".vml")):
            continue
        try:
            with zf.open(m) as part:
                prolog = part.read(4096)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise PackageError(f"part {m.filename} cannot be read, the file is corrupt ({exc})") from None
        if _DTD.search(prolog):
            raise UnsafeWorkbookError(
                f"part {m.filename} declares a DTD or XML entities, which workbooks never need "
                "(entity expansion and external entities are refused)"
            )


def _check_dimension(zf: zipfile.ZipFile, sheet: str, part: str, limits: Limits) -> None:
    with zf.open(part) as source:
        head = source.read(8192)
    m = _DIMENSION.search(head)
    if not m:
        return
    try:
        _, _, rows, columns = parse_area(m.group(1).decode("ascii", "replace"))
    except ValueError:
        return
    check_extent(sheet, rows, columns, limits)


def check_extent(sheet: str, rows: int, columns: int, limits: Limits) -> None:
    """Refuse a sheet whose used area reaches past `limits`."""
    if rows > limits.max_rows:
        raise UnsafeWorkbookError(f"sheet {sheet!r} uses {rows} rows, over the limit of {limits.max_rows}")
    if columns > limits.max_columns:
        raise UnsafeWorkbookError(f"sheet {sheet!r} uses {columns} columns, over the limit of {limits.max_columns}")
