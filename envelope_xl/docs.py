"""The function reference, docs/functions.md, generated from the catalog.

    python -m envelope_xl.docs             # rewrite docs/functions.md
    python -m envelope_xl.docs PATH        # write it elsewhere

Every catalog function gets an entry (signature, arguments, example with its computed
result, formula, source), grouped by pillar in catalog order, so a new function needs no
edit here. A test fails while the page and the catalog disagree. The command refuses to
overwrite a file it did not generate (the README, say).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from envelope_xl.catalog import CATALOG
from envelope_xl.registry import Function, show_value
from envelope_xl.sources import readable

#: The generated page, in a source checkout.
REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "functions.md"

#: The page's first line, which marks it as generated.
HEADER = "<!-- Generated from the catalog by `python -m envelope_xl.docs`: edit the functions, not this page. -->"

INTRO = """\
# Function reference

Every function of the catalog, grouped by pillar. Each works under the same name in Excel
(`=TRAIN_MEM(7e9,"bf16","adam")`, see [Excel setup](excel.md)), in LibreOffice Calc
(`=TRAIN_MEM(7e9;"bf16";"adam")`, see [LibreOffice](libreoffice.md)), in workbooks recalculated by
`envelope-xl recalc` (see [headless recalculation](recalc.md)), on the command line
(`envelope-xl call TRAIN_MEM 7e9 bf16 adam`, `envelope-xl explain ...`) and in Python, in lower
case (`envelope_xl.train_mem(7e9, "bf16", "adam")`). Optional arguments are shown with their
defaults; sizes are decimal GB unless `unit` says otherwise ([conventions](design.md#conventions)).
A `..._BREAKDOWN` function returns the components of its twin as a table (in Python:
`envelope_xl.catalog.call("TRAIN_MEM_BREAKDOWN", 7e9)`).

This page is generated from the catalog; after changing a function, run
`python -m envelope_xl.docs`."""


def _entry(spec: Function) -> list[str]:
    lines = [f"### `{spec.signature}`", "", spec.summary, ""]
    lines += ["| argument | default | meaning |", "|---|---|---|"]
    for a in spec.args:
        default = show_value(a.default) if a.optional else "required"
        lines.append(f"| `{a.name}` | {default} | {a.doc} |")
    lines += [
        "",
        f"Example: `{_formula(spec)}` returns {_result(spec)}.",
        "",
        f"Returns {spec.returns}. Formula: {spec.formula}.",
        f"Source: {readable(spec.source)}.",
        "",
    ]
    return lines


def _literal(value: Any) -> str:
    """An argument as typed in a cell: 7e9, "bf16", TRUE."""
    if isinstance(value, float) and value >= 1e6 and value == int(value):
        mantissa, exponent = f"{value:e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    return show_value(value)


def _formula(spec: Function) -> str:
    return f"={spec.name}({', '.join(_literal(v) for v in spec.example)})"


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float | int) and not isinstance(value, bool) else str(value)


def _result(spec: Function) -> str:
    value = spec.fn(*spec.example)
    if spec.table:
        rows = "; ".join(f"{row[0]} {_cell(row[1])}" for row in value[1:])
        return f"a table: {rows} ({value[0][1]})" if value[0][0] == "component" else f"a table: {rows}"
    if isinstance(value, str):
        return f'"{value}"'
    unit = spec.unit_of(None)
    return f"`{value:.10g}`" + (f" {unit}" if unit else "")


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def function_reference() -> str:
    """The whole page: the introduction, a contents list, then the functions by pillar."""
    pillars: dict[str, list[Function]] = {}
    for spec in CATALOG.values():
        pillars.setdefault(spec.pillar, []).append(spec)
    lines = [HEADER, "", INTRO, ""]
    for pillar, specs in pillars.items():
        names = ", ".join(f"[`{s.name}`](#{github_anchor(s.signature)})" for s in specs)
        lines.append(f"- [{pillar}](#{github_anchor(pillar)}): {names}")
    lines.append("")
    for pillar, specs in pillars.items():
        lines += [f"## {pillar}", ""]
        for spec in specs:
            lines += _entry(spec)
    return "\n".join(lines)


def write(path: Path = REFERENCE) -> None:
    """Write the reference to `path`; refuse a file that this module did not generate."""
    if path.exists() and path.read_text(encoding="utf-8").partition("\n")[0] != HEADER:
        raise SystemExit(f"error: {path} is not the generated function reference ({REFERENCE}); not overwritten")
    path.write_text(function_reference(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE)
