"""The scenario sweep for LibreOffice Calc (templates/scenario_sweep.ods): current, and computing.

LibreOffice binds no function name of an .xlsx file to an add-in, so the sweep ships
also as an .ods whose calls are the extension's. Here: the committed .ods holds the
inputs and formulas of the committed .xlsx; and LibreOffice headless, with the
extension installed, opens it and computes every function cell (its cached values
replaced by wrong ones first), while without the extension the same cells fail.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from conftest import require
from openpyxl import load_workbook

from envelope_xl.libreoffice import convert, find_soffice
from envelope_xl.libreoffice.engine import PROGRAMMATIC_NAMES
from envelope_xl.templates import ods, sweep

REPO = Path(__file__).resolve().parents[1]
ODS = REPO / "templates" / ods.FILENAME
XLSX = REPO / "templates" / sweep.FILENAME
_NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}
_CATALOG_NAMES = {programmatic.upper(): name for name, programmatic in PROGRAMMATIC_NAMES.items()}


def _q(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


def _sheet(path: Path, title: str) -> dict[tuple[int, int], tuple[str | None, Any]]:
    """(row, column) -> (formula, value) of every non-empty cell of a sheet of an .ods."""
    with zipfile.ZipFile(path) as package:
        root = ElementTree.fromstring(package.read("content.xml"))
    table = next(t for t in root.iter(_q("table", "table")) if t.get(_q("table", "name")) == title)
    cells: dict[tuple[int, int], tuple[str | None, Any]] = {}
    row = 0
    for row_element in table.iter(_q("table", "table-row")):
        repeat_rows = int(row_element.get(_q("table", "number-rows-repeated"), "1"))
        row += 1
        col = 0
        for cell in row_element:
            repeat = int(cell.get(_q("table", "number-columns-repeated"), "1"))
            col += 1
            kind = cell.get(_q("office", "value-type"))
            if kind is not None:
                if kind in ("float", "percentage", "currency"):
                    value: Any = float(cell.get(_q("office", "value")))
                elif kind == "string":
                    value = cell.get(_q("office", "string-value")) or "".join(cell.itertext())
                else:
                    value = "".join(cell.itertext())
                cells[(row, col)] = (cell.get(_q("table", "formula")), value)
            col += repeat - 1
        row += repeat_rows - 1
    return cells


def _as_xlsx_formula(odf: str) -> str:
    """An OpenFormula as the .xlsx writes it: `of:=F([.B2];TRUE())` -> `=F(B2,TRUE)`, catalog names back."""
    parts = re.split(r'("[^"]*")', odf.removeprefix("of:"))  # string literals stay as they are
    for i in range(0, len(parts), 2):
        text = re.sub(r"\[\.(\$?[A-Z]+\$?\d+)\]", r"\1", parts[i]).replace(";", ",").replace("TRUE()", "TRUE")
        parts[i] = re.sub(r"[A-Z][A-Z0-9_.]*(?=\()", lambda m: _CATALOG_NAMES.get(m.group().upper(), m.group()), text)
    return "".join(parts)


def _numbers_alike(formula: str) -> str:
    """Number literals written one way (LibreOffice writes 1E-12 as 0.000000000001)."""
    return re.sub(r"(?<![A-Za-z$\d.])\d+(?:\.\d+)?(?:E[+-]?\d+)?", lambda m: repr(float(m.group())), formula)


def test_the_ods_holds_the_inputs_and_formulas_of_the_xlsx() -> None:
    """Kept current by `envelope-xl templates build`: same inputs, same calls (under the add-in's names)."""
    assert ODS.is_file(), f"{ODS} is missing: run `envelope-xl templates build` (needs LibreOffice)"
    cells = _sheet(ODS, "Scenarios")
    ws = load_workbook(XLSX)["Scenarios"]
    last = sweep.FIRST_ROW + len(sweep.SCENARIOS) - 1
    for row in range(sweep.FIRST_ROW, last + 1):
        for col, column in enumerate(sweep.COLUMNS, start=1):
            formula, value = cells[(row, col)]
            want = ws.cell(row, col).value
            if column.is_input:
                assert formula is None and value == want, (row, column.key)
            else:
                same = _numbers_alike(_as_xlsx_formula(formula)) == _numbers_alike(want)
                assert same, f"run `envelope-xl templates build`: {row}, {column.key}"
    assert "ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM(" in cells[(sweep.FIRST_ROW, 17)][0]
    assert ods.is_our_build(ODS)


@pytest.fixture(scope="module")
def stale_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed .ods with every cached formula value replaced by a wrong one."""
    with zipfile.ZipFile(ODS) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    content = parts["content.xml"].decode("utf-8")

    def poison(match: re.Match[str]) -> str:
        cell = re.sub(r'office:value="[^"]*"', 'office:value="-1"', match.group())
        return re.sub(r'office:string-value="[^"]*"', 'office:string-value="stale"', cell)

    poisoned, count = re.subn(r"<table:table-cell [^>]*table:formula=[^>]*>", poison, content)
    assert count > 100
    parts["content.xml"] = poisoned.encode("utf-8")
    stale = tmp_path_factory.mktemp("ods") / ods.FILENAME
    with zipfile.ZipFile(stale, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data, zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return stale


def _rows(path: Path) -> list[dict[str, Any]]:
    ws = load_workbook(path, data_only=True)["Scenarios"]
    return [{c.key: ws.cell(row, i).value for i, c in enumerate(sweep.COLUMNS, start=1)}
            for row in range(sweep.FIRST_ROW, sweep.FIRST_ROW + len(sweep.SCENARIOS))]


def test_libreoffice_with_the_extension_computes_the_ods(stale_copy: Path, tmp_path: Path) -> None:
    from envelope_xl.libreoffice import profile

    reason = ods.unavailable_reason()
    require("LibreOffice with the envelope-xl extension", reason)
    with profile.profile_copy(profile.template_profile(), tmp_path) as lo:  # the extension installed
        computed = profile.convert_in_profile(lo, [stale_copy], tmp_path / "out", "xlsx", 180)[0]
    for scenario, got in zip(sweep.SCENARIOS, _rows(computed), strict=True):
        want = sweep.scenario_values(scenario)
        for key, value in want.items():
            same = value == got[key] if isinstance(value, str) else math.isclose(got[key], value, rel_tol=1e-12)
            assert same, f"{scenario[0]}: {key} = {got[key]!r}, the core gives {value!r}"


def test_without_the_extension_the_ods_does_not_compute(stale_copy: Path, tmp_path: Path) -> None:
    """The values above come from the add-in: a LibreOffice without it shows errors in those cells."""
    require("LibreOffice (soffice)", None if find_soffice() else "Debian: apt-get install libreoffice-calc-nogui")
    rows = _rows(convert(stale_copy, tmp_path / "out"))
    for row in rows:
        assert row["train_mem_gb"] == row["model_mem_gb"] == "#NAME?", row


def test_build_writes_the_ods_and_leaves_a_changed_one_alone(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from envelope_xl.templates.cli import templates

    require("LibreOffice with the envelope-xl extension", ods.unavailable_reason())
    result = CliRunner().invoke(templates, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    built = tmp_path / ods.FILENAME
    assert result.output.splitlines()[-1] == str(built) and ods.is_our_build(built)
    with zipfile.ZipFile(built) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    parts["meta.xml"] = re.sub(rb"<dc:date>[^<]*</dc:date>", b"<dc:date>2026-05-04T10:00:00</dc:date>",
                               parts["meta.xml"])
    with zipfile.ZipFile(built, "w") as package:  # as LibreOffice saves it with somebody's numbers
        for name, data in parts.items():
            package.writestr(name, data)
    refused = CliRunner().invoke(templates, ["build", "--out", str(tmp_path)])
    assert refused.exit_code == 2 and "changed since it was built" in refused.output
