"""The structure of an `.xlsx`/`.xlsm` package: which part holds which sheet, the
defined names, the shared strings.

Every XML part is parsed with defusedxml and DTDs forbidden: a workbook never needs a
DTD, and refusing them stops entity bombs and external entities before any expansion.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from typing import IO

import defusedxml.ElementTree as SafeET

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT = REL_NS + "/officeDocument"
STRICT_OFFICE_DOCUMENT = "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"


class PackageError(ValueError):
    """The file is not a workbook package this tool can read."""


@dataclass(frozen=True)
class SheetPart:
    name: str
    part: str  # path inside the zip, e.g. "xl/worksheets/sheet1.xml"
    index: int  # position among the workbook's sheets (localSheetId of scoped names)


@dataclass(frozen=True)
class DefinedName:
    name: str
    text: str  # e.g. "Assumptions!$B$2" or "1.2"
    scope: int | None  # sheet index for a sheet-scoped name


@dataclass(frozen=True)
class Package:
    workbook_part: str
    sheets: tuple[SheetPart, ...]  # worksheets only (chartsheets and macro sheets have no cells to compute)
    names: tuple[DefinedName, ...]
    shared_strings_part: str | None


def parse_xml(data: bytes | IO[bytes]):
    """An XML part as an ElementTree element, refusing DTDs and entities."""
    return SafeET.fromstring(data if isinstance(data, bytes) else data.read(), forbid_dtd=True)


def iterparse(source: IO[bytes]):
    """Streaming parse of a (large) part with the same protections."""
    return SafeET.iterparse(source, events=("start", "end"), forbid_dtd=True)


def _q(tag: str) -> str:
    return f"{{{MAIN_NS}}}{tag}"


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, target part path) for a part."""
    folder, base = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", base + ".rels")
    try:
        root = parse_xml(zf.read(rels_part))
    except KeyError:
        return {}
    out = {}
    for rel in root.iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out[rel.get("Id", "")] = (rel.get("Type", ""), path)
    return out


def read_package(zf: zipfile.ZipFile) -> Package:
    """The workbook structure of an open package."""
    workbook = next(
        (path for kind, path in _rels(zf, "").values() if kind in (OFFICE_DOCUMENT, STRICT_OFFICE_DOCUMENT)), None
    )
    if workbook is None or workbook not in zf.NameToInfo:
        raise PackageError("not a spreadsheet package: no workbook part (is this really an .xlsx file?)")
    root = parse_xml(zf.read(workbook))
    if root.tag != _q("workbook"):
        raise PackageError(f"unsupported workbook format ({root.tag.split('}')[0].lstrip('{')}); save it as .xlsx")
    rels = _rels(zf, workbook)
    sheets = []
    for index, sheet in enumerate(root.iter(_q("sheet"))):
        kind, part = rels.get(sheet.get(f"{{{REL_NS}}}id", ""), ("", ""))
        if kind.endswith("/worksheet") and part in zf.NameToInfo:
            sheets.append(SheetPart(sheet.get("name", ""), part, index))
    names = []
    for node in root.iter(_q("definedName")):
        scope = node.get("localSheetId")
        names.append(DefinedName(node.get("name", ""), (node.text or "").strip(), int(scope) if scope else None))
    strings = next((path for kind, path in rels.values() if kind.endswith("/sharedStrings")), None)
    return Package(workbook, tuple(sheets), tuple(names), strings if strings in zf.NameToInfo else None)


def shared_strings(zf: zipfile.ZipFile, part: str | None) -> list[str]:
    """The shared string table (rich text runs joined, phonetic runs left out)."""
    if part is None:
        return []
    strings = []
    t_tag, si_tag, rph_tag = _q("t"), _q("si"), _q("rPh")
    with zf.open(part) as source:
        skip = 0
        parts: list[str] = []
        for event, node in iterparse(source):
            if node.tag == rph_tag:
                skip += 1 if event == "start" else -1
            elif event == "end" and node.tag == t_tag and not skip:
                parts.append(node.text or "")
            elif event == "end" and node.tag == si_tag:
                strings.append("".join(parts))
                parts = []
                node.clear()
    return strings
