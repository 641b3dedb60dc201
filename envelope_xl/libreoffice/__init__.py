"""Running LibreOffice headless: find it, convert and recalculate files in a throw-away profile.

`envelope_xl.libreoffice.headless` is the one place that starts `soffice`; every feature
that needs LibreOffice (template checks, rendering, the LibreOffice recalculation engine)
goes through it.
"""

from envelope_xl.libreoffice.headless import LibreOfficeError, convert, convert_many, find_soffice

__all__ = ["LibreOfficeError", "convert", "convert_many", "find_soffice"]
