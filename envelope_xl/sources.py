"""The bibliography: every work the catalog and the data cite, once, and the citations of it.

Works live in `data/bibliography.toml`, one table per work under a short key. A function
(`source=` in `@register`) or a data row (`source = ...` in `data/*.toml`) cites works in
one structured form:

    citations = citation ("; " citation)*
    citation  = key [" " part (", " part)*] [" (" note ")"]
    part      = kind " " label | "abstract"
    kind      = section | chapter | appendix | Table | Figure | Algorithm | equation
                | page | column | row | field | slide      (any case)
    label     = 3.1 | D.1 | II | 12-14 | vocab_size | 'a quoted name'

for example "korthikanti2022 section 4.1, Table 2; rajbhandari2020 section 3.1 (K = 12)".
`parse` checks the form; keys are checked against the bibliography by the tests
(`envelope_xl.bibliography.problems`). Text that does not parse is free text: it is shown
as written, and the tests list it for conversion.

Reading the bibliography costs a few milliseconds, so it is loaded on first use (an
explanation, `envelope-xl sources`, the docs), never when the catalog is imported. Prose built
at import that cites (an assumption naming the source of its default) marks its citations
(`mark`), and the surfaces render them when they show the prose (`render`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

BIBLIOGRAPHY = Path(__file__).with_name("data") / "bibliography.toml"

#: Locator kinds as written in a citation (any case) -> as printed.
LOCATOR_KINDS = {
    "section": "section",
    "chapter": "chapter",
    "appendix": "appendix",
    "table": "Table",
    "figure": "Figure",
    "algorithm": "Algorithm",
    "equation": "equation",
    "page": "p.",
    "column": "column",
    "row": "row",
    "field": "field",
    "file": "file",
    "slide": "slide",
}

_KEY = r"[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*"
_LABEL = r"(?:[A-Za-z0-9][A-Za-z0-9._\-]*|'[^';]+')"
_PART = rf"(?:(?i:{'|'.join(LOCATOR_KINDS)}) {_LABEL}|abstract)"
_CITATION = re.compile(rf"({_KEY})(?: ({_PART}(?:, {_PART})*))?(?: \(([^();]+)\))?")
_PART_RE = re.compile(rf"(?i:({'|'.join(LOCATOR_KINDS)})) ({_LABEL})|abstract")


class CitationError(ValueError):
    """Text that is not in the structured citation form."""


@dataclass(frozen=True)
class Citation:
    """One cited work: its key, where in it (canonical parts), and an optional note."""

    key: str
    parts: tuple[str, ...] = ()
    note: str = ""

    @property
    def locator(self) -> str:
        return ", ".join(self.parts)


def parse(text: str) -> tuple[Citation, ...]:
    """The citations in `text`; CitationError names the first piece not in the form."""
    citations = []
    for piece in text.split("; "):
        match = _CITATION.fullmatch(piece)
        if match is None:
            raise CitationError(f"not a citation (key, then section/Table/Figure/... and an optional note): {piece!r}")
        key, parts, note = match.groups()
        canonical = tuple(_canonical(p) for p in parts.split(", ")) if parts else ()
        citations.append(Citation(key, canonical, note or ""))
    return tuple(citations)


def is_structured(text: str) -> bool:
    try:
        parse(text)
    except CitationError:
        return False
    return True


#: The start of an attempt at the structured form: a key, then a locator, a note, "; " or the end.
_ATTEMPT = re.compile(rf"{_KEY}(?:$|;| \(| (?i:{'|'.join(LOCATOR_KINDS)}|abstract)\b)")


def check_form(text: str) -> bool:
    """True for structured citations, False for free text (accepted until converted; the tests
    list it). Text that starts like a citation but breaks the form raises CitationError."""
    if is_structured(text):
        return True
    if _ATTEMPT.match(text):
        parse(text)  # raises, naming the piece that is not in the form
    return False


def _canonical(part: str) -> str:
    match = _PART_RE.fullmatch(part)
    assert match is not None
    if match.group(1) is None:
        return "abstract"
    return f"{LOCATOR_KINDS[match.group(1).lower()]} {match.group(2)}"


# --- the works -------------------------------------------------------------------------

#: What each kind of work must state (beyond title and `checked`); "a|b" means either.
REQUIRED = {
    "paper": ("authors", "venue", "year", "arxiv|doi|url"),
    "book": ("authors", "publisher", "year", "edition", "url|isbn"),
    "standard": ("publisher", "year", "edition", "number", "url|doi"),
    "datasheet": ("publisher", "year", "version", "url", "accessed"),
    "webpage": ("publisher|authors", "url", "accessed"),
    "software": ("publisher|authors", "version|accessed", "url"),
    "lecture": ("authors", "venue", "year", "url"),
}

#: Fields an entry may have. `short` names a work without authors in short citations;
#: `checked` says what was verified against the document, when and how (or that it could not be).
FIELDS = {
    "kind", "authors", "title", "venue", "publisher", "year", "edition", "version", "number",
    "arxiv", "doi", "isbn", "url", "accessed", "short", "checked", "note",
}


@dataclass(frozen=True)
class Work:
    key: str
    kind: str
    title: str
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.fields.get(name, "")

    @property
    def authors(self) -> list[str]:
        return list(self.fields.get("authors", []))

    def short(self) -> str:
        """Author-year (or the entry's `short` name): "Korthikanti et al. 2022"."""
        if self.get("short"):
            return str(self.get("short"))
        names = [_surname(a) for a in self.authors if a != "others"]
        if len(names) == 1 and "others" not in self.authors:
            who = names[0]
        elif len(names) == 2 and "others" not in self.authors:
            who = f"{names[0]} & {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who} {self.get('year')}".strip()

    def full(self) -> str:
        """The whole reference: who (year). Title. Venue, publisher, number, edition, version. Address."""
        if self.authors:
            lead = "; ".join(a for a in self.authors if a != "others")
            lead += "; et al." if "others" in self.authors else ""
        else:
            lead = str(self.get("publisher"))
        title = self.title if self.title.endswith(("?", "!", ".")) else f"{self.title}."
        pieces = [f"{lead} ({self.get('year')})." if self.get("year") else f"{lead}.", title]
        where = [self.get("venue"), self.get("publisher") if self.authors else "", self.get("number"),
                 self.get("edition"), self.get("version")]
        if any(where):
            text = ", ".join(str(w) for w in where if w)
            pieces.append((text if text.startswith("arXiv") else text[0].upper() + text[1:]) + ".")
        ids = [f"arXiv:{self.get('arxiv')}" if self.get("arxiv") else "",
               f"doi:{self.get('doi')}" if self.get("doi") else "",
               f"ISBN {self.get('isbn')}" if self.get("isbn") else "", str(self.get("url"))]
        if any(ids):
            accessed = f" (accessed {self.get('accessed')})" if self.get("accessed") else ""
            pieces.append(", ".join(i for i in ids if i) + accessed + ".")
        return " ".join(pieces)

    def problems(self) -> list[str]:
        """What the entry lacks for its kind, or has that no entry may have."""
        out = []
        if self.kind not in REQUIRED:
            return [f"kind {self.kind!r} is not one of {', '.join(REQUIRED)}"]
        if not self.title:
            out.append("no title")
        for need in ("checked", *REQUIRED[self.kind]):
            options = need.split("|")
            if not any(self.get(o) for o in options):
                out.append(f"no {' or '.join(options)}")
        if not self.authors and not self.get("short"):
            out.append("no authors, so it needs a `short` name for short citations")
        unknown = set(self.fields) - FIELDS
        if unknown:
            out.append(f"unknown fields {sorted(unknown)}")
        if self.get("accessed") and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(self.get("accessed"))):
            out.append("accessed must be a date, YYYY-MM-DD")
        if self.get("arxiv") and not re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?", str(self.get("arxiv"))):
            out.append("arxiv must be an identifier like 2205.05198")
        return out


def _surname(author: str) -> str:
    """Authors are written "Surname, Given names" (organisations without a comma)."""
    return author.split(",")[0].strip()


@cache
def works() -> dict[str, Work]:
    """Every entry of the bibliography, by key, in file order."""
    raw = tomllib.loads(BIBLIOGRAPHY.read_text(encoding="utf-8"))
    return {
        key: Work(key, str(e.get("kind", "")), str(e.get("title", "")), {k: v for k, v in e.items() if k != "title"})
        for key, e in raw.items()
    }


# --- citations as text -------------------------------------------------------------------


def short(citation: Citation) -> str:
    """ "Korthikanti et al. 2022, Table 2 (note)"; an unknown key is shown as written."""
    work = works().get(citation.key)
    text = work.short() if work else citation.key
    if citation.parts:
        text += ", " + citation.locator
    if citation.note:
        text += f" ({citation.note})"
    return text


def full(citation: Citation) -> str:
    """The whole reference, then where in it and the note."""
    work = works().get(citation.key)
    text = work.full() if work else f"{citation.key} (not in the bibliography)"
    where = "; ".join(x for x in (citation.locator, citation.note) if x)
    return text + (f" Cited for: {where}." if where else "")


def readable(text: str) -> str:
    """Structured citations as short citations; any other text (free text, a file name) as is."""
    try:
        return "; ".join(short(c) for c in parse(text))
    except CitationError:
        return text


#: A citation inside prose built when the catalog is imported (an assumption that names where
#: its default comes from) is marked, and rendered as a short citation only when shown.
_MARK = re.compile(r"\[\[([^\[\]]+)\]\]")


def mark(text: str) -> str:
    """`text` (citations) marked for `render`: "[[kingma2015 Algorithm 1]]"."""
    return f"[[{text}]]"


def render(prose: str) -> str:
    """Prose with each marked citation as a brief one ("Kingma & Ba 2015, Algorithm 1")."""
    return _MARK.sub(lambda m: brief(m.group(1)), prose) if "[[" in prose else prose


def brief(text: str) -> str:
    """Short citations without their notes, for one line of a reasoning chain (the note's
    figures are in the data file and in `envelope-xl sources`)."""
    try:
        return "; ".join(short(Citation(c.key, c.parts)) for c in parse(text))
    except CitationError:
        return text


def authors_years(text: str) -> str:
    """Only who and when, for the tightest places (Excel's help): "Kaplan et al. 2020; ..."."""
    try:
        citations = parse(text)
    except CitationError:
        return text
    seen: list[str] = []
    for c in citations:
        work = works().get(c.key)
        name = work.short() if work else c.key
        if name not in seen:
            seen.append(name)
    return "; ".join(seen)
