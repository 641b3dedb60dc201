"""Pictures of the workbooks for the docs: LibreOffice prints to PDF, pdftoppm makes a PNG.

The picture is the first printed page of the first sheet, at the scale it prints at, as
a user sees it after opening the file and recalculating: LibreOffice recalculates every
cell on the way, the scenario sweep with the envelope-xl extension installed (as
scenario_sweep.ods computes in Calc).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from envelope_xl.libreoffice import LibreOfficeError, convert_many
from envelope_xl.templates import sweep

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


def _pdftoppm(pdftoppm: str, *args: str) -> None:
    subprocess.run([pdftoppm, "-f", "1", "-l", "1", "-singlefile", *args], check=True, capture_output=True,
                   timeout=_TIMEOUT_S)


def _content_box(pdftoppm: str, pdf: Path, dpi: int) -> tuple[int, int, int, int]:
    """x, y, width, height of the printed part of the first page (white margins trimmed), in pixels."""
    prefix = pdf.with_name(f"{pdf.stem}-gray")
    _pdftoppm(pdftoppm, "-gray", "-r", str(dpi), str(pdf), str(prefix))
    pgm = prefix.with_suffix(".pgm").read_bytes()
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+\d+\s", pgm)
    if header is None:
        raise LibreOfficeError(f"pdftoppm wrote an unexpected image for {pdf.name}")
    width, height = int(header.group(1)), int(header.group(2))
    pixels = pgm[header.end():]
    ink = bytes(0 if v >= _PAPER else 1 for v in range(256))  # 1 where a pixel is not paper
    left, right, top, bottom = width, -1, height, -1
    for row in range(height):
        line = pixels[row * width:(row + 1) * width].translate(ink)
        first = line.find(1)
        if first >= 0:
            left, right = min(left, first), max(right, line.rfind(1))
            top, bottom = min(top, row), row
    if right < 0:
        return 0, 0, width, height
    x, y = max(0, left - _MARGIN_PX), max(0, top - _MARGIN_PX)
    return x, y, min(width, right + _MARGIN_PX) - x, min(height, bottom + _MARGIN_PX) - y


def render_pngs(workbooks: Sequence[Path], out_dir: Path, dpi: int = DEFAULT_DPI) -> list[Path]:
    """One PNG per workbook (the first page of its first sheet), named like the workbook; returns the PNGs."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise LibreOfficeError("pdftoppm was not found: install poppler-utils")
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = []
    with tempfile.TemporaryDirectory(prefix="envelope-xl-render-") as scratch:
        for source, pdf in zip(workbooks, _pdfs(workbooks, Path(scratch)), strict=True):
            target = out_dir / f"{Path(source).stem}.png"
            x, y, width, height = _content_box(pdftoppm, pdf, dpi)
            _pdftoppm(pdftoppm, "-png", "-r", str(dpi), "-x", str(x), "-y", str(y), "-W", str(width),
                      "-H", str(height), str(pdf), str(target.with_suffix("")))
            pngs.append(target)
    return pngs
