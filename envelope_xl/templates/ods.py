"""The scenario sweep as an OpenDocument spreadsheet that computes in LibreOffice Calc.

LibreOffice 7.4 binds no function name read from an `.xlsx` file to an add-in, so the
sweep's `=TRAIN_MEM(...)` cells show #NAME? there even with the envelope-xl extension
installed. In an `.ods` file Calc stores an add-in call under the add-in's programmatic
name (`ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM`) and binds it on load. This module makes
that file from the built `.xlsx`: the calls are renamed as the LibreOffice recalculation
engine renames them, and LibreOffice headless, with the extension installed in a
throw-away profile, converts the copy to `.ods`, computing every cell on the way (so the
file ships with its values). Calc shows the calls under their catalog names.

The package is re-zipped with fixed entry dates, its `mimetype` first and stored, as
ODF requires; its content depends on the LibreOffice version that wrote it, so the
test of the committed file compares what it computes, not its bytes.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

from envelope_xl.libreoffice.headless import LibreOfficeError
from envelope_xl.templates import package, sweep

FILENAME = "scenario_sweep.ods"
_TIMEOUT_S = 180.0
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def unavailable_reason() -> str | None:
    """Why the .ods cannot be built here (LibreOffice, its Python bridge or unopkg missing), or None."""
    from envelope_xl.libreoffice.engine import unavailable_reason as reason

    return reason()


def build_ods(xlsx: Path, target: Path) -> Path:
    """Write the .ods of the built sweep `xlsx` to `target`; raises LibreOfficeError when LibreOffice fails."""
    from envelope_xl.libreoffice import profile
    from envelope_xl.libreoffice.engine import rename_for_libreoffice

    reason = unavailable_reason()
    if reason is not None:
        raise LibreOfficeError(reason)
    with tempfile.TemporaryDirectory(prefix="envelope-xl-ods-") as scratch:
        folder = Path(scratch)
        renamed = folder / "in" / Path(sweep.FILENAME).name
        renamed.parent.mkdir()
        rename_for_libreoffice(xlsx, renamed)
        with profile.profile_copy(profile.template_profile(_TIMEOUT_S), folder) as lo:
            written = profile.convert_in_profile(lo, [renamed], folder / "out", "ods", _TIMEOUT_S)[0]
        data = _fixed_dates(written.read_bytes())
    if not (target.is_file() and _content(target.read_bytes()) == _content(data)):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


def _content(data: bytes) -> bytes | None:
    """The sheets' cells, formulas and values of an .ods, without style names: LibreOffice names its
    automatic styles and fonts differently from run to run, so an unchanged sweep is not rewritten
    for that."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as ods:
            content = ods.read("content.xml")
    except (KeyError, zipfile.BadZipFile):
        return None
    body = content[content.find(b"<office:body>"):]
    return re.sub(rb'\s[\w-]+:style-name="[^"]*"', b"", body)


def _fixed_dates(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        names = sorted(src.namelist(), key=lambda n: n != "mimetype")  # mimetype first, as ODF requires
        for name in names:
            entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(name))
    return out.getvalue()


def is_our_build(path: Path) -> bool:
    """True when `path` still carries the fixed date of a build (LibreOffice updates it on save)."""
    try:
        with zipfile.ZipFile(path) as ods:
            meta = ods.read("meta.xml").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return False
    stamp = package.BUILD_DATE.strftime("%Y-%m-%dT%H:%M:%S")
    return re.search(rf"<dc:date>{stamp}(?:\.0+)?</dc:date>", meta) is not None and (
        f"<meta:initial-creator>{package.AUTHOR}</meta:initial-creator>" in meta)
