"""The README and docs/ agree with the catalog, their links lead somewhere, and the README stays short.

The Python examples (`>>>`) in README.md and docs/*.md run as doctests (pyproject's
--doctest-glob), so their values are checked there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envelope_xl.catalog import CATALOG
from envelope_xl.docs import REFERENCE, function_reference, github_anchor

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

def test_function_reference_matches_the_catalog():
    assert REFERENCE.read_text(encoding="utf-8") == function_reference(), "regenerate it: python -m envelope_xl.docs"


def test_every_function_is_documented():
    reference = REFERENCE.read_text(encoding="utf-8")
    for spec in CATALOG.values():
        assert f"### `{spec.signature}`" in reference


def test_quick_start_has_exactly_two_commands():
    quick = README.partition("## Quick start")[2].partition("##")[0]
    block = quick.partition("```sh")[2].partition("```")[0]
    commands = [line for line in block.splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 300
    for page in ("functions", "models", "excel", "workbooks", "recalc", "libreoffice", "install", "design"):
        assert f"](docs/{page}.md)" in README


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings (code blocks skipped)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target} has no such heading"
