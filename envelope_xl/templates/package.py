"""Saving a workbook so that building twice gives byte-identical files.

openpyxl stamps the current time into docProps/core.xml and into every zip entry. Here
the document properties are fixed and the package is re-zipped with fixed entry dates,
so a template only changes when its content does.
"""

from __future__ import annotations

import datetime
import io
import zipfile

from openpyxl.workbook import Workbook
from openpyxl.xml.functions import tostring

from envelope_xl.templates.style import AUTHOR

#: The date every template claims as created and modified (fixed for reproducible builds).
BUILD_DATE = datetime.datetime(2026, 1, 1)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
_CORE_PART = "docProps/core.xml"


def set_properties(wb: Workbook, title: str, description: str) -> None:
    props = wb.properties
    props.title, props.description, props.subject = title, description, "Capacity planning for ML systems"
    props.creator = props.lastModifiedBy = AUTHOR
    props.keywords = "envelope-xl; back-of-the-envelope; capacity planning"
    props.created = props.modified = BUILD_DATE


def workbook_bytes(wb: Workbook) -> bytes:
    """The .xlsx package of `wb`, identical for identical content."""
    raw = io.BytesIO()
    wb.save(raw)  # sets properties.modified to now; the core part is rewritten below
    wb.properties.modified = BUILD_DATE
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == _CORE_PART:
                data = tostring(wb.properties.to_tree())
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, data)
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    """The uncompressed parts of an .xlsx package, by name (to compare content, not compression)."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name) for name in package.namelist()}
