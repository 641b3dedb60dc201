"""Pictures of the workbooks for the docs: LibreOffice prints to PDF, pdftoppm makes a PNG.

The picture is the first printed pages of the first sheet, one below the other, at the
scale they print at, as a user sees it after opening the file
and recalculating: LibreOffice recalculates every
cell on the way, the scenario sweep with the envelope-xl extension installed (as
scenario_sweep.ods computes in Calc).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envelope_xl.libreoffice import LibreOfficeError, convert_many
from envelope_xl.templates import cheatsheet, sweep

DEFAULT_DPI = 100
_TIMEOUT_S = 60.0
_PAPER = 250  # grey levels from here to 255 count as blank paper when trimming margins
_MARGIN_PX = 12


def _pdfs(workbooks: Sequence[Path], scratch: Path) -> list[Path]:
    """A PDF of each workbook, in order; the sweep's calls computed by the envelope-xl extension."""
    from envelope_xl.libreoffice import profile
    from envelope_xl.libreoffice.engine import rename_for_libreoffice, unavailable_reason

    by_source: dict[Path, Path] = {}
    plain = [w for w in workbooks if w.name != sweep.FILENAME]
    for source, pdf in zip(plain, convert_many(plain, scratch / "pdf", fmt="pdf", timeout=_TIMEOUT_S * len(plain)),
                           strict=True):
        by_source[source] = pdf
    for source in (w for w in workbooks if w.name == sweep.FILENAME):
        reason = unavailable_reason()
        if reason is not None:
            raise LibreOfficeError(f"{source.name} is rendered with the envelope-xl extension: {reason}")
        renamed = scratch / "bound" / source.name
        renamed.parent.mkdir(exist_ok=True)
        rename_for_libreoffice(source, renamed)
        with profile.profile_copy(profile.template_profile(_TIMEOUT_S), scratch) as lo:
            by_source[source] = profile.convert_in_profile(lo, [renamed], scratch / "bound-pdf", "pdf", _TIMEOUT_S)[0]
    return [by_source[w] for w in workbooks]


@dataclass(frozen=True)
class _Image:
    """An RGB image: width, height and its rows of 3 x width bytes."""

    width: int
    height: int
    rows: list[bytes]


def _page(pdftoppm: str, pdf: Path, page: int, dpi: int) -> _Image:
    """Page `page` of `pdf` at `dpi`, white margins trimmed."""
    prefix = pdf.with_name(f"{pdf.stem}-page{page}")
    subprocess.run([pdftoppm, "-f", str(page), "-l", str(page), "-singlefile", "-r", str(dpi), str(pdf),
                    str(prefix)], check=True, capture_output=True, timeout=_TIMEOUT_S)
    ppm = prefix.with_suffix(".ppm").read_bytes()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", ppm)
    if header is None:
        raise LibreOfficeError(f"pdftoppm wrote an unexpected image for {pdf.name}")
    width, height = int(header.group(1)), int(header.group(2))
    pixels = ppm[header.end():]
    rows = [pixels[r * 3 * width:(r + 1) * 3 * width] for r in range(height)]
    return _trimmed(_Image(width, height, rows))


def _trimmed(image: _Image) -> _Image:
    ink = bytes(0 if v >= _PAPER else 1 for v in range(256))  # 1 where a channel is not paper
    left, right, top, bottom = image.width, -1, image.height, -1
    for r, row in enumerate(image.rows):
        line = row.translate(ink)
        first = line.find(1)
        if first >= 0:
            left, right = min(left, first // 3), max(right, line.rfind(1) // 3)
            top, bottom = min(top, r), r
    if right < 0:
        return image
    x0, y0 = max(0, left - _MARGIN_PX), max(0, top - _MARGIN_PX)
    x1, y1 = min(image.width, right + _MARGIN_PX), min(image.height, bottom + _MARGIN_PX)
    return _Image(x1 - x0, y1 - y0, [row[3 * x0:3 * x1] for row in image.rows[y0:y1]])


def _stacked(images: Sequence[_Image]) -> _Image:
    """The images one below the other, on white."""
    width = max(i.width for i in images)
    rows = [row + b"\xff" * 3 * (width - i.width) for i in images for row in i.rows]
    return _Image(width, len(rows), rows)


def _png(image: _Image) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 0)  # 8-bit RGB
    data = zlib.compress(b"".join(b"\x00" + row for row in image.rows), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def pages_pictured(workbook: Path) -> int:
    """How many printed pages of a workbook's first sheet its picture shows: for a plan the first two
    (inputs, then the results and checks), for the cheat sheet the first, for the sweep every page
    across (training, then serving)."""
    if workbook.name == sweep.FILENAME:
        return len(sweep.page_breaks()) + 1
    return 1 if workbook.name == cheatsheet.FILENAME else 2


def render_pngs(workbooks: Sequence[Path], out_dir: Path, dpi: int = DEFAULT_DPI) -> list[Path]:
    """One PNG per workbook (the pages of its first sheet `pages_pictured` says, one below the
    other), named like the workbook; returns the PNGs."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise LibreOfficeError("pdftoppm was not found: install poppler-utils")
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = []
    with tempfile.TemporaryDirectory(prefix="envelope-xl-render-") as scratch:
        for source, pdf in zip(workbooks, _pdfs(workbooks, Path(scratch)), strict=True):
            pages = [_page(pdftoppm, pdf, page, dpi) for page in range(1, pages_pictured(Path(source)) + 1)]
            target = out_dir / f"{Path(source).stem}.png"
            target.write_bytes(_png(_stacked(pages)))
            pngs.append(target)
    return pngs
