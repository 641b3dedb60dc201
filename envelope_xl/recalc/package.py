"""The structure of an `.xlsx`/`.xlsm` package: which part holds which sheet, the
defined names, the shared strings.

Parts are found as the Open Packaging Conventions say (ECMA-376 part 2): a
relationship target is percent-decoded and resolved against its source part, and
part names compare without regard to ASCII case. Every XML part is parsed with the
hardened parser of `xmlsafe` (no DTD, no entity, no external reference).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import IO
from urllib.parse import unquote

from envelope_xl.recalc import xmlsafe
from envelope_xl.recalc.xmlsafe import PackageError, UnsafeWorkbookError

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT = REL_NS + "/officeDocument"
STRICT_OFFICE_DOCUMENT = "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"

__all__ = ["PackageError", "UnsafeWorkbookError"]


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
    date1904: bool = False  # dates count from 1904-01-01 instead of 1899-12-30
    sheet_count: int = 0  # every sheet of the workbook (chartsheets too): LibreOffice keeps them all


class _Node:
    """A parsed element: just what the package structure needs."""

    __slots__ = ("attrs", "children", "tag", "text")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children, self.text = tag, attrs, [], ""

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def iter(self, tag: str):
        for child in self.children:
            if child.tag == tag:
                yield child
            yield from child.iter(tag)


def parse_xml(data: bytes | IO[bytes], part: str = "an XML part") -> _Node:
    """A small XML part as a tree, parsed by the hardened parser (names as "{namespace}local")."""
    p = xmlsafe.parser(part)
    p.buffer_text = True
    stack: list[_Node] = []
    root: list[_Node] = []
    pieces: list[str] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if any(xmlsafe.SEPARATOR in key for key in attrs):
            attrs = {("{" + k if xmlsafe.SEPARATOR in k else k): v for k, v in attrs.items()}
        node = _Node("{" + name if xmlsafe.SEPARATOR in name else name, attrs)
        (stack[-1].children if stack else root).append(node)
        stack.append(node)
        pieces.clear()

    def end(name: str) -> None:
        node = stack.pop()
        if not node.children:
            node.text = "".join(pieces)
        pieces.clear()

    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, pieces.append
    xmlsafe.run(p, data, part)
    return root[0]


def _q(tag: str) -> str:
    return f"{{{MAIN_NS}}}{tag}"


def main_name(tag: str) -> str:
    """The name expat reports for a SpreadsheetML element."""
    return xmlsafe.qualified(MAIN_NS, tag)


def member_names(zf: zipfile.ZipFile) -> dict[str, str]:
    """Part name without regard to case -> the zip member holding it (part names compare case-blind)."""
    return {info.filename.casefold(): info.filename for info in zf.infolist()}


def resolve(members: dict[str, str], source_part: str, target: str) -> str | None:
    """The member a relationship target of `source_part` points at, or None."""
    target = unquote(target)
    if target.startswith("/"):
        path = target.lstrip("/")
    else:
        path = posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))
    return members.get(path.casefold())


def _rels(zf: zipfile.ZipFile, members: dict[str, str], part: str) -> dict[str, tuple[str, str | None]]:
    """Relationship id -> (type, member it points at, None if missing) for a part."""
    folder, base = posixpath.split(part)
    rels_part = members.get(posixpath.join(folder, "_rels", base + ".rels").casefold())
    if rels_part is None:
        return {}
    root = parse_xml(zf.read(rels_part), rels_part)
    out = {}
    for rel in root.iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        out[rel.get("Id", "")] = (rel.get("Type", ""), resolve(members, part, rel.get("Target", "")))
    return out


_TRUE = ("1", "true")
#: Characters Excel refuses in a sheet name (LibreOffice drops or renames such sheets).
_FORBIDDEN_IN_NAMES = re.compile(r"[\\/?*\[\]:]")


def read_package(zf: zipfile.ZipFile) -> Package:
    """The workbook structure of an open package."""
    members = member_names(zf)
    workbook = next(
        (path for kind, path in _rels(zf, members, "").values() if kind in (OFFICE_DOCUMENT, STRICT_OFFICE_DOCUMENT)),
        None,
    )
    if workbook is None:
        raise PackageError("not a spreadsheet package: no workbook part (is this really an .xlsx file?)")
    root = parse_xml(zf.read(workbook), workbook)
    if root.tag != _q("workbook"):
        raise PackageError(f"unsupported workbook format ({root.tag.split('}')[0].lstrip('{')}); save it as .xlsx")
    rels = _rels(zf, members, workbook)
    sheets, seen = [], {}
    all_sheets = list(root.iter(_q("sheet")))
    for index, sheet in enumerate(all_sheets):
        name = sheet.get("name", "")
        if not name or _FORBIDDEN_IN_NAMES.search(name) or name[0] == "'" or name[-1] == "'":
            raise PackageError(f"the sheet name {name!r} is one Excel does not allow (empty, with one of "
                               "\\ / ? * [ ] :, or starting or ending with '); rename the sheet")
        if name.casefold() in seen:
            raise PackageError(f"two sheets are named {seen[name.casefold()]!r} and {name!r}, which Excel "
                               "does not allow (sheet names ignore case): the file is corrupt")
        seen[name.casefold()] = name
        kind, part = rels.get(sheet.get(f"{{{REL_NS}}}id", ""), ("", None))
        if kind.endswith("/worksheet"):
            if part is None:
                raise PackageError(f"sheet {name!r} points at a part that is not in the package: the file is corrupt")
            if any(s.part == part for s in sheets):
                raise PackageError(f"two sheets share the part {part}: the file is corrupt")
            sheets.append(SheetPart(name, part, index))
    names = []
    for node in root.iter(_q("definedName")):
        scope = node.get("localSheetId")
        if scope is not None and not re.fullmatch(r"\d{1,5}", scope):
            raise PackageError(f"the defined name {node.get('name')!r} has a bad sheet scope {scope!r}")
        names.append(DefinedName(node.get("name", ""), node.text.strip(), int(scope) if scope else None))
    strings = next((path for kind, path in rels.values() if kind.endswith("/sharedStrings")), None)
    date1904 = any(pr.get("date1904", "").lower() in _TRUE for pr in root.iter(_q("workbookPr")))
    return Package(workbook, tuple(sheets), tuple(names), strings, date1904, len(all_sheets))


_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def unescape(text: str) -> str:
    """Text as OOXML stores it (ECMA-376 part 1, 22.9.2.19 ST_Xstring): `_xHHHH_` is the character HHHH.

    >>> unescape("_x0041_B_x005F_x0041_")
    'AB_x0041_'
    """
    if "_x" not in text:
        return text
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def shared_strings(zf: zipfile.ZipFile, part: str | None) -> list[str]:
    """The shared string table (rich text runs joined, phonetic runs left out)."""
    if part is None:
        return []
    strings: list[str] = []
    pieces: list[str] = []
    si, t, rph = main_name("si"), main_name("t"), main_name("rPh")
    state = {"skip": 0, "in_t": False}
    p = xmlsafe.parser(part)
    p.buffer_text = True

    def start(name: str, attrs) -> None:
        if name == rph:
            state["skip"] += 1
        elif name == t and not state["skip"]:
            state["in_t"] = True
        elif name == si:
            pieces.clear()

    def end(name: str) -> None:
        if name == rph:
            state["skip"] -= 1
        elif name == t:
            state["in_t"] = False
        elif name == si:
            strings.append(unescape("".join(pieces)))

    def text(data: str) -> None:
        if state["in_t"]:
            pieces.append(data)

    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, text
    with zf.open(part) as source:
        xmlsafe.run(p, source, part)
    return strings
