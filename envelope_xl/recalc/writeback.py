"""Writing computed values into a copy of the original package, losslessly.

Re-saving through openpyxl empties every cached formula value and an engine's own
writer drops formatting, charts or the theme, so neither is used. Instead the output
is the input's zip with, in the sheet parts that hold formulas, each formula cell's
cached `<v>` replaced (and its `t` type set: "str", "b", "e" or none for numbers),
cells of an array formula's range filled in, and `fullCalcOnLoad="1"` set in the
workbook part so Excel recalculates on open. Every other part is copied byte for
byte, and inside a changed part everything but those values is left as it was: the
`<f>` elements (shared and array formulas included), styles, attributes, other cells.

The output is written to a temporary file next to it and renamed into place, so a
reader never sees half a file; the input is only ever read.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from envelope_xl.recalc.engine import CellError, CellValue, Results
from envelope_xl.recalc.formula import cell_name, parse_area, parse_cell
from envelope_xl.recalc.package import PackageError, read_package

Cell = tuple[int, int]

_SHEET_DATA = re.compile(rb"<(?P<p>(?:\w+:)?)sheetData\b[^>]*?(?:/>|>(?P<body>.*?)</(?P=p)sheetData>)", re.DOTALL)
_ROW = re.compile(r"<(?P<p>(?:\w+:)?)row\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)row>)", re.DOTALL)
_CELL = re.compile(r"<(?P<p>(?:\w+:)?)c\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)c>)", re.DOTALL)
_ATTR_R = re.compile(r"""\sr\s*=\s*["']([^"']*)["']""")
_ATTR_T = re.compile(r"""\st\s*=\s*["'][^"']*["']""")
_FORMULA = re.compile(r"<(?P<p>(?:\w+:)?)f\b[^>]*?(?:/>|>.*?</(?P=p)f>)", re.DOTALL)
_EXT = re.compile(r"<(?P<p>(?:\w+:)?)extLst\b.*?</(?P=p)extLst>", re.DOTALL)
_DIMENSION = re.compile(rb"<((?:\w+:)?)dimension\b[^>]*?\sref=[\"']([^\"']*)[\"']")
_CALC_PR = re.compile(rb"<(?P<p>(?:\w+:)?)calcPr\b(?P<attrs>[^>]*?)(?P<end>/?>)")
_FULL_CALC = re.compile(rb"""\sfullCalcOnLoad\s*=\s*["'][^"']*["']""")
_CALC_PR_AFTER = rb"</(?:\w+:)?(?:sheets|functionGroups|externalReferences|definedNames)>"


class OutputExistsError(FileExistsError):
    """The output file exists and `force` was not given."""


def write_back(source: Path, results: Results, output: Path, *, force: bool = False) -> None:
    """Write `source` with the cached values of `results` to `output` (never to `source`)."""
    source, output = Path(source), Path(output)
    if output.resolve() == source.resolve():
        raise OutputExistsError(f"{output}: the output would overwrite the input, which is never modified")
    if output.exists() and not force:
        raise OutputExistsError(f"{output} exists; use --force to replace it")
    with zipfile.ZipFile(source) as zin:
        package = read_package(zin)
        parts = {s.name: s.part for s in package.sheets}
        by_part: dict[str, dict[Cell, CellValue]] = defaultdict(dict)
        for (sheet, ref), value in results.items():
            if sheet not in parts:
                raise PackageError(f"no worksheet named {sheet!r} in {source}")
            by_part[parts[sheet]][parse_cell(ref)] = value
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
        try:
            with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zout:
                zout.comment = zin.comment
                for info in zin.infolist():
                    data = zin.read(info)
                    if info.filename in by_part:
                        data = patch_sheet(data, by_part[info.filename])
                    elif info.filename == package.workbook_part:
                        data = ask_full_calculation(data)
                    zout.writestr(info, data, compress_type=info.compress_type)
            os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes it private; the output is an ordinary file
            os.replace(temp, output)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ask_full_calculation(workbook_xml: bytes) -> bytes:
    """The workbook part with `fullCalcOnLoad="1"`, so Excel recalculates on open."""
    m = _CALC_PR.search(workbook_xml)
    if m:
        attrs = m.group("attrs")
        if _FULL_CALC.search(attrs):
            attrs = _FULL_CALC.sub(b' fullCalcOnLoad="1"', attrs)
        else:
            attrs = b' fullCalcOnLoad="1"' + attrs
        return workbook_xml[: m.start("attrs")] + attrs + workbook_xml[m.end("attrs") :]
    ends = list(re.finditer(_CALC_PR_AFTER, workbook_xml))
    if not ends:
        return workbook_xml
    prefix = re.match(rb"</(\w+:)?", ends[-1].group()).group(1) or b""
    at = ends[-1].end()
    return workbook_xml[:at] + b"<" + prefix + b'calcPr fullCalcOnLoad="1"/>' + workbook_xml[at:]


def patch_sheet(xml: bytes, cells: Mapping[Cell, CellValue]) -> bytes:
    """A sheet part with the cached values of `cells` set; nothing else changes."""
    if xml.startswith((b"\xff\xfe", b"\xfe\xff")) or re.match(rb"<\?xml[^>]*encoding=[\"'](?!utf-8)", xml, re.I):
        raise PackageError("sheet parts not encoded in UTF-8 are not supported")
    m = _SHEET_DATA.search(xml)
    if m is None:
        raise PackageError("a worksheet part has no sheetData")
    prefix = m.group("p").decode()
    body = (m.group("body") or b"").decode("utf-8")
    pending: dict[int, dict[int, CellValue]] = defaultdict(dict)
    for (row, col), value in cells.items():
        pending[row][col] = value
    new_body = _patch_rows(body, pending, prefix)
    if m.group("body") is None:  # <sheetData/>
        new = f"<{prefix}sheetData>{new_body}</{prefix}sheetData>".encode()
    else:
        new = xml[m.start() : m.start("body")] + new_body.encode("utf-8") + xml[m.end("body") : m.end()]
    return _widen_dimension(xml[: m.start()], cells) + new + xml[m.end() :]


def _widen_dimension(head: bytes, cells: Mapping[Cell, CellValue]) -> bytes:
    """Grow `<dimension ref>` over cells filled outside it (readers such as openpyxl's
    read-only mode stop at the declared dimension)."""
    m = _DIMENSION.search(head)
    if m is None or not cells:
        return head
    try:
        r1, c1, r2, c2 = parse_area(m.group(2).decode("ascii"))
    except ValueError:
        return head
    rows = [r for r, _ in cells]
    cols = [c for _, c in cells]
    new = (min(r1, *rows), min(c1, *cols), max(r2, *rows), max(c2, *cols))
    if new == (r1, c1, r2, c2):
        return head
    ref = f"{cell_name(new[0], new[1])}:{cell_name(new[2], new[3])}".encode()
    return head[: m.start(2)] + ref + head[m.end(2) :]


def _patch_rows(body: str, pending: dict[int, dict[int, CellValue]], prefix: str) -> str:
    out: list[str] = []
    last, row_number = 0, 0
    waiting = sorted(pending)
    for m in _ROW.finditer(body):
        r = _ATTR_R.search(m.group("attrs"))
        row_number = int(r.group(1)) if r else row_number + 1
        out.append(body[last : m.start()])
        while waiting and waiting[0] < row_number:
            row = waiting.pop(0)
            out.append(_new_row(row, pending[row], prefix))
        if waiting and waiting[0] == row_number:
            waiting.pop(0)
            out.append(_patch_row(m, pending[row_number]))
        else:
            out.append(m.group())
        last = m.end()
    out.append(body[last:])
    for row in waiting:
        out.append(_new_row(row, pending[row], prefix))
    return "".join(out)


def _new_row(row: int, cells: dict[int, CellValue], prefix: str) -> str:
    inner = "".join(_new_cell(row, col, cells[col], prefix) for col in sorted(cells))
    return f'<{prefix}row r="{row}">{inner}</{prefix}row>'


def _patch_row(m: re.Match[str], cells: dict[int, CellValue]) -> str:
    prefix, body = m.group("p"), m.group("body")
    row = int(_ATTR_R.search(m.group("attrs")).group(1)) if _ATTR_R.search(m.group("attrs")) else 0
    waiting = sorted(cells)
    out: list[str] = []
    last, col = 0, 0
    for c in _CELL.finditer(body or ""):
        r = _ATTR_R.search(c.group("attrs"))
        col = parse_cell(r.group(1))[1] if r else col + 1
        out.append(body[last : c.start()])
        while waiting and waiting[0] < col:
            new_col = waiting.pop(0)
            out.append(_new_cell(row, new_col, cells[new_col], prefix))
        if waiting and waiting[0] == col:
            waiting.pop(0)
            out.append(_patched_cell(c, cells[col]))
        else:
            out.append(c.group())
        last = c.end()
    out.append((body or "")[last:])
    out.extend(_new_cell(row, new_col, cells[new_col], prefix) for new_col in waiting)
    return f"<{prefix}row{m.group('attrs')}>{''.join(out)}</{prefix}row>"


def _patched_cell(c: re.Match[str], value: CellValue) -> str:
    prefix, body = c.group("p"), c.group("body") or ""
    kind, text = _typed(value)
    kind_attr = f' t="{kind}"' if kind else ""
    attrs, replaced = _ATTR_T.subn(lambda _: kind_attr, c.group("attrs"), count=1)  # in place if present
    if not replaced:
        attrs = attrs.rstrip() + kind_attr
    formula = _FORMULA.search(body)
    ext = _EXT.search(body)
    inner = (formula.group() if formula else "") + f"<{prefix}v>{text}</{prefix}v>" + (ext.group() if ext else "")
    return f"<{prefix}c{attrs.rstrip()}>{inner}</{prefix}c>"


def _new_cell(row: int, col: int, value: CellValue, prefix: str) -> str:
    kind, text = _typed(value)
    kind_attr = f' t="{kind}"' if kind else ""
    return f'<{prefix}c r="{cell_name(row, col)}"{kind_attr}><{prefix}v>{text}</{prefix}v></{prefix}c>'


def _typed(value: CellValue) -> tuple[str, str]:
    """The `t` attribute and `<v>` text of a value."""
    if isinstance(value, CellError):
        return "e", escape(value.code)
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return "", str(int(value))
        return "", repr(value)
    return "str", escape(str(value))
