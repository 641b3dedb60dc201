"""The names under which a saved workbook calls an envelope function.

A spreadsheet stores a call to `TRAIN_MEM` in one of these forms, all recognised here
in any letter case:

- `TRAIN_MEM(...)`: typed in Excel or LibreOffice, written by openpyxl, and what Excel
  saves for classic xlwings UDFs imported into the workbook (they are VBA functions of
  the `.xlsm`, and a workbook's own VBA functions are stored by plain name).
- `[1]!TRAIN_MEM(...)`: a VBA function that lives in an add-in (an `.xlam`, e.g. one
  made with `xlwings quickstart --addin`); `[1]` points at the externalLink part that
  names the add-in file.
- `_xldudf_TRAIN_MEM(...)`: an Office.js custom function, as xlwings Lite registers
  them. Excel saves such a call as `_xldudf_` + the function's full name, namespace and
  name joined by `_`. Lite sets no namespace: the cell shows `=TRAIN_MEM(...)` and the
  file holds `_xldudf_TRAIN_MEM(...)`. An add-in with a namespace, such as an xlwings
  Server add-in (`XLWINGS` by default, `XLWINGS_DEV` outside production, sub-namespaces
  possible), shows `=XLWINGS.TRAIN_MEM(...)` and stores `_xldudf_XLWINGS_TRAIN_MEM(...)`;
  any namespace is accepted.
- `XLWINGS.TRAIN_MEM(...)`: a namespaced call as Excel displays it, as a file generator
  may write it.
- `ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM(...)`: what LibreOffice saves for a call of
  the envelope-xl Calc extension (the add-in's programmatic name).

This module only deals in names, so the LibreOffice engine uses it too, to rename
calls in a temporary copy before LibreOffice reads it.
"""

from __future__ import annotations

import re

from envelope_xl.catalog import CATALOG
from envelope_xl.libreoffice.addin import IMPLEMENTATION_NAME, camel
from envelope_xl.recalc import formula

#: Upper-case catalog names, longest first so `X_BREAKDOWN` wins over `X` as a suffix.
_NAMES = sorted((name.upper() for name in CATALOG), key=len, reverse=True)
_BY_UPPER = {name.upper(): name for name in CATALOG}
#: LibreOffice's stored name of each add-in function (as `extension.programmatic_name` makes it).
_PROGRAMMATIC = {f"{IMPLEMENTATION_NAME}.{camel(name)}".upper(): name for name in CATALOG}

_ADDIN = re.compile(r"\[\d+\]!(?P<name>.+)")
_OFFICE_JS = re.compile(r"_xldudf_(?P<rest>\w+)", re.IGNORECASE)
_DOTTED = re.compile(r"(?P<namespace>[A-Za-z][\w.]*)\.(?P<name>\w+)")


def catalog_name(call: str) -> str | None:
    """The catalog name a stored function name calls, or None if it is not ours.

    >>> catalog_name("train_mem"), catalog_name("[1]!TRAIN_MEM")
    ('TRAIN_MEM', 'TRAIN_MEM')
    >>> catalog_name("_xldudf_TRAIN_MEM"), catalog_name("_xldudf_XLWINGS_TRAIN_MEM_BREAKDOWN")
    ('TRAIN_MEM', 'TRAIN_MEM_BREAKDOWN')
    >>> catalog_name("XLWINGS.KV_CACHE"), catalog_name("org.envelopexl.EnvelopeAddIn.trainMemBreakdown")
    ('KV_CACHE', 'TRAIN_MEM_BREAKDOWN')
    >>> catalog_name("SUM") is None, catalog_name("_xlfn.XLOOKUP") is None
    (True, True)
    """
    upper = call.strip().upper()
    if upper in _BY_UPPER:
        return _BY_UPPER[upper]
    if upper in _PROGRAMMATIC:
        return _PROGRAMMATIC[upper]
    m = _ADDIN.fullmatch(call.strip())
    if m:
        return catalog_name(m.group("name"))
    m = _OFFICE_JS.fullmatch(call.strip())
    if m:
        rest = m.group("rest").upper()
        if rest in _BY_UPPER:
            return _BY_UPPER[rest]
        for name in _NAMES:
            if rest.endswith("_" + name):
                return _BY_UPPER[name]
        return None
    m = _DOTTED.fullmatch(call.strip())
    if m and not m.group("namespace").lower().startswith("_xl"):
        return _BY_UPPER.get(m.group("name").upper())
    return None


def envelope_calls(text: str) -> list[str]:
    """The catalog names called by a formula, in order of appearance.

    >>> envelope_calls('=IFERROR(_xldudf_XLWINGS_TRAIN_MEM(A1), "TRAIN_MEM(")+SUM(B1)')
    ['TRAIN_MEM']
    """
    found = []
    for m in formula.tokens(text):
        call = m.group("call")
        if call is not None:
            name = catalog_name(call)
            if name is not None:
                found.append(name)
    return found


def rename_envelope_calls(text: str, new_name: dict[str, str] | None = None) -> str:
    """The formula with every envelope call renamed: to `new_name[catalog name]`, or
    to the plain catalog name when no mapping is given. Other text is untouched.

    >>> rename_envelope_calls('=_xldudf_XLWINGS_TRAIN_MEM(A1,"kv_cache(")*2')
    '=TRAIN_MEM(A1,"kv_cache(")*2'
    >>> rename_envelope_calls("=train_mem(A1)", {"TRAIN_MEM": "ORG.EXAMPLE.TRAINMEM"})
    '=ORG.EXAMPLE.TRAINMEM(A1)'
    """

    def rename(call: str) -> str | None:
        name = catalog_name(call)
        if name is None:
            return None
        return new_name.get(name, name) if new_name is not None else name

    return formula.rename_calls(text, rename)
