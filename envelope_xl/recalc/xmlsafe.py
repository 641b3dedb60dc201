"""Parsing the XML of an untrusted package: hardened, streaming, in C.

Every XML part goes through `parser()`: expat with a document type declaration
refused outright (so no entity can be declared, expanded or fetched, and no external
reference is followed) and parameter entities never parsed. A part that is not
well-formed is refused too, because spreadsheet programs each repair broken XML in
their own way and would compute different things from it.

Handlers get element names as `"{namespace}local"` (the namespace separator is "}",
the opening brace is added by `qualified`), so a foreign element that happens to be
called `c` or `f` is never taken for a cell or a formula.
"""

from __future__ import annotations

import codecs
import re
import xml.parsers.expat as expat
from typing import IO


class PackageError(ValueError):
    """The file is not a workbook package this tool can read."""


class UnsafeWorkbookError(PackageError):
    """The file is refused before loading; the message says which limit and how to raise it."""


#: The namespace separator expat puts between a namespace and a local name.
SEPARATOR = "}"

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How "<" starts an XML document in each encoding without a byte order mark (XML 1.0, appendix F).
_UNMARKED = (
    (b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be"),
)
_DECLARED = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def qualified(namespace: str, local: str) -> str:
    """The name expat reports for `local` in `namespace`."""
    return f"{namespace}{SEPARATOR}{local}"


def encoding_of(data: bytes) -> str | None:
    """The encoding of `data` if it is (or claims to be) XML, else None.

    A byte order mark, or "<" in UTF-16/32 without one, decides; otherwise a part whose
    first non-blank byte is "<" is XML in its declared encoding (UTF-8 by default).
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    for start, name in _UNMARKED:
        if data.startswith(start):
            return name
    if not data.lstrip(b" \t\r\n").startswith(b"<"):
        return None
    m = _DECLARED.match(data.lstrip(b" \t\r\n"))
    if m is None:
        return "utf-8"
    try:
        return codecs.lookup(m.group(1).decode("ascii")).name
    except LookupError:
        return m.group(1).decode("ascii").lower()


def _refuse_dtd(part: str):
    def refuse(*_args) -> None:
        raise UnsafeWorkbookError(
            f"part {part} declares a DTD or XML entities, which workbooks never need "
            "(entity expansion and external entities are refused)"
        )

    return refuse


def parser(part: str):
    """A namespace-aware expat parser that refuses any DTD, entity declaration or external entity."""
    p = expat.ParserCreate(namespace_separator=SEPARATOR)
    refuse = _refuse_dtd(part)
    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    p.UnparsedEntityDeclHandler = refuse
    p.ExternalEntityRefHandler = refuse
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return p


def run(p, source: bytes | IO[bytes], part: str) -> None:
    """Feed a whole part to `p`, turning a parse failure into a PackageError that names the part."""
    try:
        if isinstance(source, bytes):
            p.Parse(source, True)
        else:
            p.ParseFile(source)
    except expat.ExpatError as exc:
        raise PackageError(
            f"part {part} is not well-formed XML ({expat.ErrorString(exc.code)}, line {exc.lineno}, "
            f"column {exc.offset}): the file is corrupt or was altered"
        ) from None


def check(source: bytes | IO[bytes], part: str) -> None:
    """Refuse a part that is not well-formed XML or that declares a DTD."""
    run(parser(part), source, part)
