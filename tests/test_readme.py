"""The README agrees with the catalog and its examples are true."""

from __future__ import annotations

from pathlib import Path

from envelope_xl.catalog import CATALOG
from envelope_xl.docs import END, START, function_reference

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_function_reference_matches_the_catalog():
    section = START + README.partition(START)[2].partition(END)[0] + END
    assert section == function_reference(), "regenerate it: python -m envelope_xl.docs README.md"


def test_every_function_is_documented():
    for spec in CATALOG.values():
        assert f"#### `{spec.signature}`" in README


def test_quick_start_has_exactly_two_commands():
    quick = README.partition("## Quick start")[2].partition("##")[0]
    block = quick.partition("```sh")[2].partition("```")[0]
    commands = [line for line in block.splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]
