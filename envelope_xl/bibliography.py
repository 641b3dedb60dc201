"""Who cites what: the catalog's and the data's citations checked against the bibliography,
the references of one function, and the generated bibliography page.

    python -m envelope_xl.bibliography docs/bibliography.md   # rewrite the page

The tests fail on what `problems` finds and when the page and the data file disagree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envelope_xl import sources
from envelope_xl.reference import DATA, GPUS, LINKS, OPTIMIZERS, PRECISIONS
from envelope_xl.registry import MODEL, Function
from envelope_xl.sources import Citation, CitationError

PAGE = "docs/bibliography.md"


@dataclass(frozen=True)
class Citer:
    """Something that cites: a catalog function or a row of a data file."""

    where: str  # "TRAIN_MEM" or "gpus.toml [H100-SXM]"
    source: str
    derived: str = ""


def functions() -> list[Citer]:
    """Every catalog function, without the `_BREAKDOWN` twins (they share their function's source)."""
    from envelope_xl.catalog import CATALOG

    return [Citer(f.name, f.source) for f in CATALOG.values() if not _is_twin(f)]


def _is_twin(f: Function) -> bool:
    from envelope_xl.catalog import CATALOG

    base = f.name.removesuffix("_BREAKDOWN")
    return f.table and base != f.name and base in CATALOG and CATALOG.get("function", base).source == f.source


def data_rows() -> list[Citer]:
    """Every table of every data file that has a `source`, at any depth."""
    out = []
    for path in sorted(DATA.glob("*.toml")):
        if path == sources.BIBLIOGRAPHY:
            continue
        out += list(_rows(tomllib.loads(path.read_text(encoding="utf-8")), path.name, []))
    return out


def _rows(table: dict[str, Any], file: str, at: list[str]) -> Iterator[Citer]:
    """A table's `source` (with its `derived`), and each `x_source` of a table that sources its
    values one by one (with `x_derived`)."""
    for key, value in table.items():
        if isinstance(value, str) and (key == "source" or key.endswith("_source")):
            prefix = key.removesuffix("source")
            where = ".".join(at if key == "source" else [*at, key])
            yield Citer(f"{file} [{where}]", value, str(table.get(f"{prefix}derived", "")))
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _rows(value, file, [*at, key])


def citers() -> list[Citer]:
    return functions() + data_rows()


def citations(citer: Citer) -> tuple[Citation, ...]:
    return sources.parse(citer.source)


def uses() -> dict[str, list[tuple[str, Citation]]]:
    """Each work's citers, in catalog then data order: key -> [(where, citation)]."""
    out: dict[str, list[tuple[str, Citation]]] = {key: [] for key in sources.works()}
    for citer in citers():
        try:
            cited = citations(citer)
        except CitationError:
            continue
        for c in cited:
            out.setdefault(c.key, []).append((citer.where, c))
    return out


# --- checks ------------------------------------------------------------------------------------


def entry_problems() -> list[str]:
    """Entries that lack what their kind needs."""
    return [f"bibliography [{w.key}]: {p}" for w in sources.works().values() for p in w.problems()]


def citation_problems(cited: list[Citer]) -> list[str]:
    """Citers whose source is free text or names a key the bibliography lacks."""
    out = []
    for citer in cited:
        try:
            keys = [c.key for c in citations(citer)]
        except CitationError as error:
            out.append(f"{citer.where}: free text, not a citation ({error}): {citer.source!r}")
            continue
        out += [f"{citer.where}: cites {k!r}, which is not in bibliography.toml" for k in keys
                if k not in sources.works()]
    return out


def unused_entries() -> list[str]:
    return [f"bibliography [{key}]: cited by nothing" for key, by in uses().items() if not by]


#: "1979 / 2 = 989.5", "16 x 1.073741824 = 17.18" in a `derived` note.
_ARITHMETIC = re.compile(r"(\d+(?:\.\d+)?) ([/x]) (\d+(?:\.\d+)?) = (\d+(?:\.\d+)?)")


def arithmetic_problems(rows: list[Citer] | None = None) -> list[str]:
    """`derived` notes whose arithmetic is wrong at the precision printed, or that show none."""
    out = []
    for citer in data_rows() if rows is None else rows:
        if not citer.derived:
            continue
        steps = _ARITHMETIC.findall(citer.derived)
        if not steps:
            out.append(f"{citer.where}: derived shows no arithmetic (a / b = c or a x b = c)")
        for a, op, b, c in steps:
            value = float(a) / float(b) if op == "/" else float(a) * float(b)
            decimals = len(c.partition(".")[2])
            if abs(value - float(c)) > 0.5 * 10**-decimals + 1e-9:
                out.append(f"{citer.where}: {a} {op} {b} is {value:g}, not {c}")
    return out


def problems() -> list[str]:
    return (entry_problems() + citation_problems(citers()) + unused_entries() + arithmetic_problems())


# --- the references of one function ------------------------------------------------------------


def data_cited_by(spec: Function) -> list[tuple[str, list[tuple[str, str]]]]:
    """The reference data `spec` reads: (argument and file, [(row, source)]) per argument."""
    from envelope_xl.models import PRESETS
    from envelope_xl.planning import EMBEDDING_OPTIMIZERS, TOKENIZERS, VECTOR_INDEXES

    files = {"precisions.toml": PRECISIONS, "optimizers.toml": OPTIMIZERS, "gpus.toml": GPUS, "links.toml": LINKS,
             "tokenizers.toml": TOKENIZERS, "embedding_optimizers.toml": EMBEDDING_OPTIMIZERS,
             "vector_indexes.toml": VECTOR_INDEXES}
    tables: dict[int, tuple[str, list[tuple[str, str]]]] = {
        id(names): (file, [(row.name, row.source) for row in names.values()]) for file, names in files.items()
    }
    out = []
    for arg in spec.args:
        if arg.kind == MODEL:
            out.append((f"{arg.name} (models.toml)", [(m.name, m.origin) for m in PRESETS.values()]))
        elif id(arg.choices) in tables:
            file, rows = tables[id(arg.choices)]
            out.append((f"{arg.name} ({file})", rows))
    return out


def references(spec: Function) -> str:
    """`envelope-xl sources FUNCTION`: what the formula and the data it reads cite, then the works."""
    lines = [f"{spec.name}: {spec.summary}", "", "Formula cites:"]
    keys: list[str] = []
    try:
        for c in spec.citations:
            lines.append(f"  {sources.short(c)}")
            keys.append(c.key)
    except CitationError:
        lines.append(f"  {spec.source} (free text, not yet in the bibliography)")
    for label, rows in data_cited_by(spec):
        lines += ["", f"Reference data, argument {label}:"]
        for name, source in rows:
            lines.append(f"  {name}: {sources.readable(source)}")
            keys += [c.key for c in sources.parse(source)] if sources.is_structured(source) else []
    lines += ["", "References:"]
    for key in dict.fromkeys(keys):
        work = sources.works().get(key)
        lines.append(f"  [{key}] {work.full() if work else '(not in the bibliography)'}")
    return "\n".join(lines)


def everything() -> str:
    """`envelope-xl sources` without a function: every work, in the page's order."""
    return "\n".join(f"[{w.key}] {w.full()}" for w in _ordered())


def _ordered() -> list[sources.Work]:
    return sorted(sources.works().values(), key=lambda w: (w.short().lower(), w.key))


# --- the page ----------------------------------------------------------------------------------

_HOW_TO_CITE = """\
## How to cite

Every function (`source=` in `@register`) and every row of `envelope_xl/data/*.toml` (`source = ...`)
cites works of [`envelope_xl/data/bibliography.toml`](../envelope_xl/data/bibliography.toml) by key,
with where in the work, in one form that `envelope_xl.sources` parses:

    key [part, part...] [(note)]   joined by "; "
    korthikanti2022 section 4.1, Table 2; rajbhandari2020 section 3.1 (K = 12)

- Parts: `section 3.1`, `chapter 22`, `appendix D`, `Table 2`, `Figure 1`, `Algorithm 1`, `equation 2.2`,
  `page 7`, `column 'H100 SXM'`, `row 'Chinchilla'`, `field num_hidden_layers`, `file config.json`,
  `slide 26`, `abstract`; a label with spaces goes in single quotes.
- The note says briefly what the work supports; it holds no `;` and no parentheses.
- A data figure that is not printed as is (a sparse peak halved to dense, GiB in GB, a per-GPU figure
  from a board total) also gets a `derived` field with the arithmetic, `1979 / 2 = 989.5`; the tests
  recompute every `a / b = c` and `a x b = c` in it.
- A new work gets an entry first: its kind (paper, book, standard, datasheet, webpage, software,
  lecture) says what it must state (`envelope_xl/sources.py`, `REQUIRED`), and `checked` says what was
  verified against the document, when and how, or that it could not be found.
- `tests/test_bibliography.py` lists every function and data row that cites free text or an unknown
  key, every entry that lacks what its kind needs, and every entry nothing cites.

`envelope-xl explain` prints short citations ("Korthikanti et al. 2022, Table 2"); `envelope-xl sources
FUNCTION` prints the full references of a function and of the reference data it reads.
"""


def page() -> str:
    """docs/bibliography.md: how to cite, then every work with its citers and what was checked."""
    lines = [
        "# Bibliography",
        "",
        f"<!-- generated by `python -m envelope_xl.bibliography {PAGE}` from envelope_xl/data/bibliography.toml;"
        " a test fails when they differ -->",
        "",
        "Every formula and every reference figure of envelope-xl cites one of the works below.",
        "",
        _HOW_TO_CITE,
        "## Works",
        "",
    ]
    by = uses()
    for w in _ordered():
        lines += [f'### <a id="{w.key}"></a>{w.short()} (`{w.key}`)', "", w.full(), ""]
        cited = [f"`{where}`" + (f" ({c.locator})" if c.locator else "") for where, c in by.get(w.key, [])]
        if cited:
            lines.append(f"- Cited by: {', '.join(cited)}")
        lines.append(f"- Checked: {w.get('checked')}")
        if w.get("note"):
            lines.append(f"- Note: {w.get('note')}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else PAGE)
    target.write_text(page(), encoding="utf-8")
