"""Editing XML parts in place: a streaming parser finds what to change, every other byte stays.

expat reports where each element starts (`CurrentByteIndex`); from there the start
or end tag is read with a pattern anchored at that exact position, never searched
for, so a `>` inside an attribute value or an element of the same name elsewhere
cannot mislead it. Edits are byte ranges replaced at the end (`apply`), and the
result is parsed again before anyone uses it (`finish`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from envelope_xl.recalc import xmlsafe
from envelope_xl.recalc.xmlsafe import PackageError

# A start tag (name, attributes, "/" of an empty element) and an end tag, as XML 1.0 allows them.
_START_TAG = re.compile(rb"""<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)(\s*)(/?)>""")
_END_TAG = re.compile(rb"</[^\s>]+\s*>")
_ATTRIBUTE = re.compile(rb"""(\s+)([^\s=/>]+)(\s*=\s*)("[^"]*"|'[^']*')""")
_CODECS = {"utf-8": "utf-8", "ascii": "ascii", "iso8859-1": "latin-1", "cp1252": "cp1252"}


class Tag(NamedTuple):
    """A start tag in a part: where it is and what it says."""

    start: int
    end: int
    name: bytes  # as written, with its prefix ("x:c")
    attributes: tuple[int, int]  # byte range of the attributes
    empty: bool  # <c .../>

    @property
    def prefix(self) -> bytes:
        """The element's namespace prefix with its colon (b"x:"), or b""."""
        return self.name[: self.name.index(b":") + 1] if b":" in self.name else b""


class Editor:
    """Byte-range edits of one XML part, made while expat streams through it."""

    def __init__(self, data: bytes, part: str) -> None:
        encoding = xmlsafe.encoding_of(data)
        if encoding not in _CODECS:
            raise PackageError(f"part {part} is encoded in {encoding}; only UTF-8 and ASCII-based parts can be "
                               "written (save the workbook again from a spreadsheet program)")
        self.data, self.part, self.codec = data, part, _CODECS[encoding]
        self.edits: list[tuple[int, int, bytes]] = []
        self.parser = xmlsafe.parser(part)

    def position(self) -> int:
        return self.parser.CurrentByteIndex

    def start_tag(self) -> Tag:
        """The start tag the parser is at (call from a start handler)."""
        return self.tag_at(self.parser.CurrentByteIndex)

    def tag_at(self, at: int) -> Tag:
        """The start tag at byte `at` (where a start handler was called)."""
        m = _START_TAG.match(self.data, at)
        if m is None:
            raise PackageError(f"part {self.part}: unexpected markup at byte {at}")
        return Tag(at, m.end(), m.group(1), m.span(2), bool(m.group(4)))

    def end_tag_end(self, at: int | None = None) -> int:
        """Where the end tag at byte `at` (by default: the one the parser is at) finishes."""
        at = self.parser.CurrentByteIndex if at is None else at
        m = _END_TAG.match(self.data, at)
        if m is None:
            raise PackageError(f"part {self.part}: unexpected markup at byte {at}")
        return m.end()

    def encode(self, text: str) -> bytes:
        return text.encode(self.codec, "xmlcharrefreplace")

    def replace(self, start: int, end: int, new: bytes) -> None:
        self.edits.append((start, end, new))

    def attribute(self, tag: Tag, name: bytes) -> tuple[int, int, int] | None:
        """(start of the attribute with its leading space, start of its quoted value, end) or None."""
        start, end = tag.attributes
        for m in _ATTRIBUTE.finditer(self.data, start, end):
            if m.group(2) == name:
                return m.start(), m.start(4), m.end()
        return None

    def set_attribute(self, tag: Tag, name: bytes, value: bytes | None, first: bool = False) -> None:
        """Give the tag's attribute `name` this value (None removes it), leaving the others as they are."""
        found = self.attribute(tag, name)
        if found is not None:
            start, value_start, end = found
            if value is None:
                self.replace(start, end, b"")
            else:
                quote = self.data[value_start : value_start + 1]
                self.replace(value_start, end, quote + value + quote)
        elif value is not None:
            at = tag.start + 1 + len(tag.name) if first else tag.attributes[1]
            self.replace(at, at, b" " + name + b'="' + value + b'"')

    def run(self, start_handler, end_handler) -> None:
        self.parser.StartElementHandler, self.parser.EndElementHandler = start_handler, end_handler
        xmlsafe.run(self.parser, self.data, self.part)

    def finish(self) -> bytes:
        """The part with every edit made, checked to be well-formed XML."""
        if not self.edits:
            return self.data
        out, last = [], 0
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1])):
            if start < last:
                raise PackageError(f"part {self.part}: overlapping edits")  # a bug, never a silent corruption
            out.append(self.data[last:start])
            out.append(new)
            last = end
        out.append(self.data[last:])
        result = b"".join(out)
        xmlsafe.check(result, self.part)
        return result
