"""The prebuilt workbooks: reproducible builds, committed files up to date, and their structure."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from envelope_xl.catalog import CATALOG
from envelope_xl.templates import (
    STANDARD_FUNCTIONS_ONLY,
    WORKBOOKS,
    build_bytes,
    default_out_dir,
    package,
    serving,
    storage,
    sweep,
    training,
)
from envelope_xl.templates.cli import templates
from envelope_xl.templates.style import INPUT_FILL

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "templates"
#: The spreadsheet functions workbooks 1-4 may use: in Excel, LibreOffice Calc and Google Sheets alike.
STANDARD = {"AND", "IF", "INDEX", "INT", "ISNA", "ISNUMBER", "MATCH", "MAX", "MIN", "MOD", "NA", "NOT", "OR",
            "ROUNDUP", "SQRT", "SUMIFS"}
_CALL = re.compile(r'"[^"]*"|([A-Z][A-Z0-9_.]*)\(')


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return {w.FILENAME: build_bytes(w) for w in WORKBOOKS}


@pytest.fixture(scope="module")
def books(built: dict[str, bytes]) -> dict[str, Workbook]:
    return {name: load_workbook(io.BytesIO(data)) for name, data in built.items()}


def _functions(formula: str) -> set[str]:
    return {m.group(1) for m in _CALL.finditer(formula) if m.group(1)}


def _formulas(wb: Workbook) -> list[str]:
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if isinstance(c.value, str) and c.value.startswith("=")]


def _cell(wb: Workbook, name: str):
    sheet, coordinate = next(wb.defined_names[name].destinations)
    return wb[sheet][coordinate.replace("$", "")]


# Reproducible and committed -------------------------------------------------------------------

def test_building_twice_gives_identical_bytes(tmp_path: Path) -> None:
    """Two separate processes with different hash seeds write byte-identical files."""
    script = "import sys, pathlib, envelope_xl.templates as t; t.build_all(pathlib.Path(sys.argv[1]))"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(tmp_path / seed)], check=True, env=env, timeout=120)
    first = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert first == sorted(w.FILENAME for w in WORKBOOKS)
    for name in first:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


@pytest.mark.parametrize("workbook", WORKBOOKS, ids=lambda w: w.FILENAME)
def test_committed_templates_are_up_to_date(workbook, built: dict[str, bytes]) -> None:
    committed = COMMITTED / workbook.FILENAME
    stale = f"{committed} is out of date: run `envelope-xl templates build` and commit templates/"
    assert committed.is_file(), stale
    assert package.members(committed.read_bytes()) == package.members(built[workbook.FILENAME]), stale


@pytest.mark.parametrize("workbook", WORKBOOKS, ids=lambda w: w.FILENAME)
def test_document_properties_are_fixed(workbook, books: dict[str, Workbook]) -> None:
    props = books[workbook.FILENAME].properties
    assert (props.creator, props.lastModifiedBy, props.title) == ("envelope-xl", "envelope-xl", workbook.TITLE)
    assert props.created == props.modified == package.BUILD_DATE


# How the plan workbooks (1-4) are built -------------------------------------------------------

PLANS = [pytest.param(w, id=w.FILENAME) for w in STANDARD_FUNCTIONS_ONLY]


@pytest.mark.parametrize("workbook", PLANS)
def test_standard_functions_only(workbook, books: dict[str, Workbook]) -> None:
    wb = books[workbook.FILENAME]
    used = set().union(*map(_functions, _formulas(wb)))
    assert used <= STANDARD, f"non-standard functions: {sorted(used - STANDARD)}"
    assert not {n for n in used if n in CATALOG}


@pytest.mark.parametrize("workbook", PLANS)
def test_inputs_are_filled_noted_validated_and_named(workbook, books: dict[str, Workbook]) -> None:
    wb = books[workbook.FILENAME]
    inputs = sorted(n for n in wb.defined_names if n.startswith("in_"))
    assert inputs == sorted(f"in_{k}" for k in workbook.DEFAULTS), "each default is an input cell and vice versa"
    for name in inputs:
        cell = _cell(wb, name)
        assert cell.value == workbook.DEFAULTS[name[3:]]
        assert cell.fill.fgColor.rgb == INPUT_FILL.fgColor.rgb, name
        assert cell.comment is not None and "Unit:" in cell.comment.text, name
        rules = [dv for dv in cell.parent.data_validations.dataValidation if cell.coordinate in dv.sqref]
        assert len(rules) == 1, name
        rule = rules[0]
        assert rule.showErrorMessage and rule.error.startswith(f"{cell.parent.cell(cell.row, 2).value}: expected")
        if rule.type == "list":  # drop-downs come from a named, non-empty catalog column
            list_name = rule.formula1.lstrip("=")
            sheet, area = next(wb.defined_names[list_name].destinations)
            values = [row[0].value for row in wb[sheet][area.replace("$", "")]]
            assert all(values) and cell.value in values, name


@pytest.mark.parametrize("workbook", PLANS)
def test_outputs_are_named_and_formatted(workbook, books: dict[str, Workbook]) -> None:
    wb = books[workbook.FILENAME]
    outputs = [n for n in wb.defined_names if n.startswith("out_")]
    assert len(outputs) >= 10
    for name in outputs:
        sheet, area = next(wb.defined_names[name].destinations)
        first = wb[sheet][area.replace("$", "").split(":")[0]]
        assert isinstance(first.value, str) and first.value.startswith("="), name
        assert first.number_format != "General", name


@pytest.mark.parametrize("workbook", WORKBOOKS, ids=lambda w: w.FILENAME)
def test_every_sheet_has_frozen_headers_widths_and_prints_one_page_wide(workbook, books) -> None:
    wb = books[workbook.FILENAME]
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), ws.title
        assert ws.column_dimensions["A"].width > 0, ws.title
        if ws.title not in ("About", "Lists"):
            assert ws.freeze_panes, ws.title


@pytest.mark.parametrize("workbook", [w for w in WORKBOOKS if w in (training, serving, storage)],
                         ids=lambda w: w.FILENAME)
def test_a_chart_where_people_would_rather_look(workbook, books) -> None:
    """Memory breakdowns and storage growth are charted beside their numbers."""
    assert len(books[workbook.FILENAME].worksheets[0]._charts) == 1


def test_reference_sheets_hold_the_catalog(books: dict[str, Workbook]) -> None:
    from envelope_xl import model_params
    from envelope_xl.models import PRESETS as MODELS
    from envelope_xl.reference import GPUS

    wb = books["llm_training_plan.xlsx"]
    models = {r[0].value: (r[1].value, r[2].value) for r in wb["Models"].iter_rows(min_row=5) if r[0].value}
    assert models == {m: (model_params(m), model_params(m, active=True)) for m in MODELS}
    assert models["mixtral-8x7b"][1] < models["mixtral-8x7b"][0] / 3  # 2 of 8 experts run per token
    gpus = {r[0].value: r[2].value for r in wb["GPUs"].iter_rows(min_row=6) if r[0].value}
    assert gpus == {g: GPUS.get("gpu", g).specs["bandwidth_tbs"] for g in GPUS}
    assert all(r[-1].value for r in wb["Models"].iter_rows(min_row=5)), "every preset has its source"


# Workbook 5: the scenario sweep ---------------------------------------------------------------

def test_sweep_is_written_with_the_envelope_functions(books: dict[str, Workbook]) -> None:
    ws = books[sweep.FILENAME]["Scenarios"]
    assert ws.freeze_panes == "B2"
    header = [c.value for c in ws[1]]
    assert header == [c.header for c in sweep.COLUMNS]
    assert ws["D2"].value == "=MODEL_PARAMS(B2,TRUE)"  # compute uses the active parameters
    assert ws["P2"].value == "=TRAIN_MEM(C2,E2,F2,G2,H2)"  # memory the total
    assert ws["V2"].value == "=TRAIN_TIME(D2,I2,G2,J2,E2,K2)"
    assert ws["T2"].value == "=DECODE_TPS(B2,J2,E2,N2,M2,\"\",O2)"  # the model, its context and tp
    used = set().union(*map(_functions, _formulas(books[sweep.FILENAME])))
    assert used - {"IF"} <= {f.name for f in (CATALOG.get("function", n) for n in CATALOG)}
    assert {"TRAIN_MEM", "TRAIN_TIME", "KV_CACHE", "MODEL_CONFIG", "DECODE_TPS"} <= used


def test_sweep_rows_are_inputs_then_formulas(books: dict[str, Workbook]) -> None:
    wb = books[sweep.FILENAME]
    ws = wb["Scenarios"]
    for row, scenario in enumerate(sweep.SCENARIOS, start=sweep.FIRST_ROW):
        inputs = [ws.cell(row, i + 1).value for i, c in enumerate(sweep.COLUMNS) if c.is_input]
        assert inputs == list(scenario)
    for column in sweep.COLUMNS:
        kind = "in" if column.is_input else "out"
        assert f"{kind}_{column.key}" in wb.defined_names
        if column.rule is not None:
            cell = f"{ws.cell(2, sweep.COLUMNS.index(column) + 1).coordinate}"
            assert any(cell in dv.sqref for dv in ws.data_validations.dataValidation), column.key


@pytest.mark.parametrize("scenario", sweep.SCENARIOS, ids=lambda s: s[0])
def test_shipped_scenarios_are_accepted_by_the_core(scenario) -> None:
    values = sweep.scenario_values(scenario)
    numbers = [v for k, v in values.items() if k not in sweep.INPUT_KEYS and not isinstance(v, str)]
    assert numbers and all(math.isfinite(v) and v > 0 for v in numbers)
    assert values["fits"] in ("yes", "no")


# The command ----------------------------------------------------------------------------------

def test_build_command_writes_every_workbook(tmp_path: Path, built: dict[str, bytes]) -> None:
    result = CliRunner().invoke(templates, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(tmp_path / w.FILENAME) for w in WORKBOOKS]
    assert all((tmp_path / name).read_bytes() == data for name, data in built.items())
    again = CliRunner().invoke(templates, ["build", "--out", str(tmp_path)])
    assert again.exit_code == 0, again.output


def test_build_leaves_a_changed_workbook_alone_unless_forced(tmp_path: Path) -> None:
    assert CliRunner().invoke(templates, ["build", "--out", str(tmp_path)]).exit_code == 0
    mine = tmp_path / "llm_training_plan.xlsx"
    wb = load_workbook(mine)
    wb["Training plan"]["D9"] = 123  # somebody's numbers, saved by another program
    wb.save(mine)
    kept = mine.read_bytes()
    refused = CliRunner().invoke(templates, ["build", "--out", str(tmp_path)])
    assert refused.exit_code == 2
    assert refused.output.startswith(f"error: {mine}: changed since it was built")
    assert mine.read_bytes() == kept
    forced = CliRunner().invoke(templates, ["build", "--out", str(tmp_path), "--force"])
    assert forced.exit_code == 0 and mine.read_bytes() != kept


def test_default_folder_is_the_repository_templates() -> None:
    assert default_out_dir() == COMMITTED
