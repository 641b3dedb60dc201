"""The prebuilt workbooks: reproducible builds, committed files up to date, and their structure."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

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
    model_block,
    package,
    serving,
    storage,
    style,
    sweep,
    training,
)
from envelope_xl.templates.cli import templates
from envelope_xl.templates.style import INPUT_FILL

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "templates"
#: The spreadsheet functions workbooks 1-4 may use: in Excel, LibreOffice Calc and Google Sheets alike.
STANDARD = {"AND", "COUNTIF", "EXP", "FIXED", "IF", "IFERROR", "INDEX", "INT", "ISBLANK", "ISLOGICAL", "ISNA",
            "ISNUMBER", "LN", "MATCH", "MAX", "MIN", "MOD", "N", "NA", "NOT", "OR", "POWER", "ROUND", "ROUNDUP", "ROWS",
            "SINH", "SQRT", "SUMIFS", "TEXT"}
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
        logical = name[4:] in model_block._BOOLEANS  # LibreOffice keeps TRUE/FALSE logical only in General
        assert first.number_format != "General" or logical, name


@pytest.mark.parametrize("workbook", WORKBOOKS, ids=lambda w: w.FILENAME)
def test_every_sheet_has_frozen_headers_widths_and_prints_one_page_wide(workbook, books) -> None:
    wb = books[workbook.FILENAME]
    for ws in wb.worksheets:
        setup = ws.page_setup
        if (workbook, ws.title) == (sweep, "Scenarios"):  # page by page across, at a readable scale
            assert not ws.sheet_properties.pageSetUpPr.fitToPage and setup.scale >= 60  # as the plans
            assert [b.id for b in ws.col_breaks.brk] == sweep.page_breaks()
            continue
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        wide = sum(d.width or 0 for d in ws.column_dimensions.values()) > style.ONE_PAGE_CHARS
        assert (setup.fitToWidth, setup.fitToHeight) == (2 if wide else 1, 0), ws.title  # wide: two pages across
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
    assert ws.freeze_panes == "C2"
    header = [c.value for c in ws[1]]
    assert header == [c.header for c in sweep.COLUMNS]
    assert ws["D2"].value == "=MODEL_PARAMS(B2,TRUE)"  # compute uses the active parameters
    assert ws["Q2"].value == "=TRAIN_MEM(C2,E2,H2,I2,J2)"  # memory the total
    assert ws["R2"].value.startswith('=ACTIVATION_MEM(MODEL_CONFIG(B2,"layers"),')
    assert ws["U2"].value == "=TRAIN_TIME(D2,K2,I2,F2,E2,L2)"
    used = set().union(*map(_functions, _formulas(books[sweep.FILENAME])))
    assert used - {"IF", "INT", "OR", "ISTEXT"} <= {f.name for f in (CATALOG.get("function", n) for n in CATALOG)}
    assert {"TRAIN_MEM", "ACTIVATION_MEM", "TRAIN_TIME", "KV_CACHE", "MODEL_CONFIG", "DECODE_TPS"} <= used


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
    assert numbers and all(math.isfinite(v) and v >= 0 for v in numbers)
    assert values["fits"] in ("yes", "no")
    decode = values["decode_tps"]
    assert isinstance(decode, float) or decode.startswith((sweep.WEIGHTS_TOO_LARGE, sweep.BATCH_TOO_LARGE))


def test_sweep_flags_what_does_not_fit() -> None:
    """GPT-3's training states and activations exceed a V100; 405B's weights exceed a B200 (one GPU per
    replica): decode is refused with what to do, and the largest batch that fits is 0. On the 8 GPUs
    per replica shipped, it runs."""
    rows = {s[0]: sweep.scenario_values(s) for s in sweep.SCENARIOS}
    gpt3, llama405 = rows["GPT-3 175B as in 2020, V100s"], rows["Llama 3.1 405B on 4,096 B200s"]
    assert gpt3["fits"] == "no" and gpt3["activation_gb"] > 0
    assert isinstance(llama405["decode_tps"], float) and llama405["max_batch"] >= 8
    one_gpu = sweep.scenario_values((*next(s for s in sweep.SCENARIOS if s[1] == "llama-3.1-405b")[:-1], 1))
    assert (one_gpu["max_batch"], one_gpu["decode_tps"]) == (0, sweep.WEIGHTS_TOO_LARGE)
    crowded = sweep.scenario_values((*sweep.SCENARIOS[3][:-2], 1000, 1))  # Llama 3 8B, batch 1,000 on one H100
    assert crowded["decode_tps"] == f"{sweep.BATCH_TOO_LARGE}{crowded['max_batch']}"
    small = rows["GPT-2 small on one L4, fp32"]
    assert small["fits"] == "yes" and small["decode_tps"] > 0


# The command ----------------------------------------------------------------------------------

def test_build_command_writes_every_workbook(tmp_path: Path, built: dict[str, bytes]) -> None:
    result = CliRunner().invoke(templates, ["build", "--out", str(tmp_path), "--no-ods"])  # .ods: test_templates_ods
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(tmp_path / w.FILENAME) for w in WORKBOOKS]
    assert all((tmp_path / name).read_bytes() == data for name, data in built.items())
    again = CliRunner().invoke(templates, ["build", "--out", str(tmp_path), "--no-ods"])
    assert again.exit_code == 0, again.output


def test_build_leaves_a_changed_workbook_alone_unless_forced(tmp_path: Path) -> None:
    assert CliRunner().invoke(templates, ["build", "--out", str(tmp_path), "--no-ods"]).exit_code == 0
    mine = tmp_path / "llm_training_plan.xlsx"
    wb = load_workbook(mine)
    wb["Training plan"]["D9"] = 123  # somebody's numbers, saved by another program
    wb.save(mine)
    kept = mine.read_bytes()
    refused = CliRunner().invoke(templates, ["build", "--out", str(tmp_path), "--no-ods"])
    assert refused.exit_code == 2
    assert refused.output.startswith(f"error: {mine}: changed since it was built")
    assert mine.read_bytes() == kept
    forced = CliRunner().invoke(templates, ["build", "--out", str(tmp_path), "--force", "--no-ods"])
    assert forced.exit_code == 0 and mine.read_bytes() != kept


def test_default_folder_is_the_repository_templates() -> None:
    assert default_out_dir() == COMMITTED


# What the shipped files hold, read as other programs read them ---------------------------------

SHIPPED = [pytest.param(w, id=w.FILENAME) for w in WORKBOOKS]
_CELL_XML = re.compile(rb"<c\b[^>]*>(.*?)</c>", re.DOTALL)


@pytest.fixture(scope="module")
def shipped() -> dict[str, Workbook]:
    """The committed workbooks (formulas), as a spreadsheet program gets them."""
    return {w.FILENAME: load_workbook(COMMITTED / w.FILENAME) for w in WORKBOOKS}


@pytest.mark.parametrize("workbook", SHIPPED)
def test_every_formula_cell_ships_with_its_value(workbook) -> None:
    """Readers that never recalculate (previews, pandas) show the cached values; Excel recalculates on open."""
    with zipfile.ZipFile(COMMITTED / workbook.FILENAME) as package:
        sheets = [n for n in package.namelist() if n.startswith("xl/worksheets/sheet")]
        formulas = without_value = 0
        for name in sheets:
            for body in _CELL_XML.findall(package.read(name)):
                if b"<f>" in body or b"<f " in body:
                    formulas += 1
                    without_value += b"<v>" not in body
        assert b'fullCalcOnLoad="1"' in package.read("xl/workbook.xml")
    assert formulas > 0 and without_value == 0, f"{without_value} of {formulas} formula cells have no cached value"


@pytest.mark.parametrize("workbook", SHIPPED)
def test_shipped_values_have_no_error_and_match_the_core(workbook) -> None:
    from test_templates_libreoffice import WORKBOOKS as EXPECTED
    from test_templates_libreoffice import _error_cells, _mismatches, with_checks

    values = load_workbook(COMMITTED / workbook.FILENAME, data_only=True)
    assert not _error_cells(values)
    if workbook is sweep:
        ws = values["Scenarios"]
        for row, scenario in enumerate(sweep.SCENARIOS, start=sweep.FIRST_ROW):
            want = sweep.scenario_values(scenario)
            for i, column in enumerate(sweep.COLUMNS, start=1):
                assert _same(ws.cell(row, i).value, want[column.key]), (scenario[0], column.key)
        return
    key = next(k for k, (module, _, _) in EXPECTED.items() if module is workbook)
    expected = with_checks(values, workbook, EXPECTED[key][2](dict(workbook.DEFAULTS)))
    assert not _mismatches(values, expected)


def _same(got: Any, want: Any) -> bool:
    """Equal texts, or numbers equal to a relative 1e-12 (the engine's arithmetic may differ from the
    core's in the last bits: formulas are evaluated step by step)."""
    if isinstance(want, str) or isinstance(got, str):
        return got == want
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300)


@pytest.mark.parametrize("workbook", SHIPPED)
def test_a_second_reader_shows_the_results(workbook, shipped: dict[str, Workbook]) -> None:
    """python-calamine (Rust calamine, as pandas' calamine engine) reads every result without
    recalculating: each named output of a plan, each function column of the sweep."""
    from test_templates_libreoffice import WORKBOOKS as EXPECTED
    from test_templates_libreoffice import with_checks

    calamine = pytest.importorskip("python_calamine")
    book = calamine.CalamineWorkbook.from_path(str(COMMITTED / workbook.FILENAME))
    rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    if workbook is sweep:
        by_scenario = {row[0]: dict(zip([c.key for c in sweep.COLUMNS], row, strict=False)) for row in rows[1:]}
        for scenario in sweep.SCENARIOS:
            want, got = sweep.scenario_values(scenario), by_scenario[scenario[0]]
            for key in want:
                assert _same(got[key], want[key]), (scenario[0], key)
        return
    wb = shipped[workbook.FILENAME]
    key = next(k for k, (module, _, _) in EXPECTED.items() if module is workbook)
    values = load_workbook(COMMITTED / workbook.FILENAME, data_only=True)  # only to find the check rows
    expected = with_checks(values, workbook, EXPECTED[key][2](dict(workbook.DEFAULTS)))
    assert str(rows[3][0]) == expected["summary"] and expected["summary"].startswith("All ")
    for name, want in expected.items():
        sheet, area = next(wb.defined_names[f"out_{name}"].destinations)
        cells = wb[sheet][area.replace("$", "")]
        cells = [c[0] for c in cells] if isinstance(cells, tuple) else [cells]
        wants = want if isinstance(want, list) else [want]
        for cell, w in zip(cells, wants, strict=True):
            assert _same(rows[cell.row - 1][cell.column - 1], w), f"{name}: {rows[cell.row - 1][cell.column - 1]!r}"


# Static checks: what Excel and LibreOffice read differently from what was meant -----------------

def _spreadsheet_function_names() -> set[str]:
    import formulas

    return {name.split(".", 1)[-1] if name.startswith("_XLFN.") else name for name in formulas.get_functions()}


@pytest.mark.parametrize("workbook", SHIPPED)
def test_no_defined_name_shadows_a_function(workbook, shipped: dict[str, Workbook]) -> None:
    """Names are case-insensitive: a name `model_params` makes MODEL_PARAMS(B2) read as name + "(B2)"."""
    functions = {n.upper() for n in CATALOG} | {n.upper() for n in _spreadsheet_function_names()}
    clashes = sorted(n for n in shipped[workbook.FILENAME].defined_names if n.upper() in functions)
    assert not clashes


@pytest.mark.parametrize("workbook", SHIPPED)
def test_validation_formulas_are_written_for_the_top_left_cell(workbook, shipped: dict[str, Workbook]) -> None:
    """A custom rule over K2:K209 must test K2 (relative): the other cells follow by offset."""
    for ws in shipped[workbook.FILENAME].worksheets:
        for dv in ws.data_validations.dataValidation:
            if dv.type != "custom":
                continue
            top_left = str(dv.sqref).split()[0].split(":")[0]
            refs = set(re.findall(r"\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?", dv.formula1))
            assert refs == {top_left}, f"{ws.title}!{dv.sqref}: {dv.formula1}"


@pytest.mark.parametrize("workbook", SHIPPED)
def test_validation_titles_are_whole(workbook, shipped: dict[str, Workbook]) -> None:
    """Dialog titles hold 32 characters: a title is whole (never cut mid-word) and the message says the rest."""
    from envelope_xl.templates.style import dialog_title

    for ws in shipped[workbook.FILENAME].worksheets:
        for dv in ws.data_validations.dataValidation:
            label = dv.error.split(": expected ")[0]
            assert dv.errorTitle == dialog_title(f"{label}: not allowed", label), dv.errorTitle
            assert dv.promptTitle == dialog_title(label, "Allowed entries"), dv.promptTitle


#: Functions newer than Excel 2007, which a file must store with the _xlfn. prefix (else Excel shows #NAME?).
NEWER_FUNCTIONS = {
    "AGGREGATE", "CEILING.MATH", "CONCAT", "DAYS", "FILTER", "FLOOR.MATH", "FORMULATEXT", "IFNA", "IFS", "ISFORMULA",
    "LAMBDA", "LET", "MAXIFS", "MINIFS", "NUMBERVALUE", "RANDARRAY", "SEQUENCE", "SHEET", "SHEETS", "SORT",
    "SORTBY", "STDEV.S", "SWITCH", "TEXTJOIN", "UNIQUE", "XLOOKUP", "XMATCH", "XOR",
}


@pytest.mark.parametrize("workbook", SHIPPED)
def test_newer_functions_carry_the_xlfn_prefix(workbook) -> None:
    with zipfile.ZipFile(COMMITTED / workbook.FILENAME) as package:
        texts = [f.decode() for n in package.namelist() if n.startswith("xl/")
                 for f in re.findall(rb"<f\b[^>]*>([^<]*)</f>", package.read(n))]
    unprefixed = {m.group(1) for t in texts for m in re.finditer(r"(?<![\w.])([A-Z][A-Z0-9.]*)\(", t)}
    assert not unprefixed & NEWER_FUNCTIONS


@pytest.mark.parametrize("workbook", PLANS)
def test_failed_checks_are_unmistakable(workbook, shipped: dict[str, Workbook]) -> None:
    """Every check cell turns red unless it says OK, and the summary at the top turns red or green."""
    from envelope_xl.templates.style import FAIL_FILL, SUMMARY_ROW

    wb = shipped[workbook.FILENAME]
    ws = wb.worksheets[0]
    _, area = next(wb.defined_names["out_all_checks"].destinations)
    area = area.replace("$", "")
    rules = {str(cf.sqref): cf.rules for cf in ws.conditional_formatting}
    assert any(r.formula[0].endswith('<>"OK"') and r.dxf.fill.fgColor.rgb == FAIL_FILL.fgColor.rgb
               for r in rules[area])
    assert ws.cell(SUMMARY_ROW, 1).value.startswith("=IF(")
    assert any(str(cf.sqref).startswith(f"A{SUMMARY_ROW}:") for cf in ws.conditional_formatting)
    inputs = {n[3:] for n in wb.defined_names if n.startswith("in_")}
    assert {f"out_input_{name}" for name in inputs} <= set(wb.defined_names), "a check row per input"


def test_the_serving_plan_computes_with_the_batch_that_fits(tmp_path: Path) -> None:
    """On an L4, batch 64 does not fit: TPOT, replicas and cost use the largest that does, as
    MAX_BATCH and TPOT give it, and the check says so."""
    from envelope_xl import max_batch, serving_gpus, tpot
    from envelope_xl.recalc.python_engine import PythonEngine

    wb = load_workbook(io.BytesIO(build_bytes(serving)))
    _cell(wb, "in_gpu").value = "L4"
    path = tmp_path / "l4.xlsx"
    wb.save(path)
    values = PythonEngine().compute(path)

    def out(name: str) -> Any:
        cell = _cell(wb, f"out_{name}")
        return values[(cell.parent.title, cell.coordinate)]

    largest = max_batch("llama-3-8b", 1800, "L4")  # every sequence at its final length, 1,500 + 300 tokens
    step = tpot("llama-3-8b", "L4", "bf16", largest, 1800, unit="ms")
    assert 1 <= largest < 64 and (out("max_batch"), out("run_batch")) == (largest, largest)
    assert out("tpot_ms") == pytest.approx(step, rel=1e-12)
    assert out("replicas") == out("gpus") == serving_gpus(20, 300, largest / step * 1000, 0.7)
    assert out("check_batch") == f"batch 64 does not fit: the plan runs {largest}, the largest that fits"


def test_the_serving_plan_shows_nothing_for_a_replica_that_cannot_run(tmp_path: Path) -> None:
    """Llama 3.1 405B on one L4: blank results and a red check saying what tp would fit."""
    from envelope_xl.recalc.python_engine import PythonEngine

    wb = load_workbook(io.BytesIO(build_bytes(serving)))
    _cell(wb, "in_model").value = "llama-3.1-405b"
    _cell(wb, "in_gpu").value = "L4"
    path = tmp_path / "405b.xlsx"
    wb.save(path)
    values = PythonEngine().compute(path)

    def out(name: str) -> Any:
        cell = _cell(wb, f"out_{name}")
        return values[(cell.parent.title, cell.coordinate)]

    assert out("max_batch") == 0
    assert all(out(n) in ("", None) for n in ("run_batch", "tpot_ms", "ttft_s", "replicas", "cost_per_million"))
    assert out("check_fits").startswith("weights need ") and "tp of at least " in out("check_fits")


@pytest.mark.parametrize("workbook", SHIPPED)
def test_layout_rules_that_printing_showed(workbook, shipped: dict[str, Workbook]) -> None:
    """What the rendered pages showed wrong once, kept from coming back: a header word wider than
    its column breaks mid-word; '0.0##' mixes 2.0 with 0.125; a sheet much wider than a page
    prints tiny (the GPUs sheet printed at 45%); a bar under 1 GB is invisible without its value
    written on it."""
    wb = shipped[workbook.FILENAME]
    for ws in wb.worksheets:
        widths = {letter: dim.width for letter, dim in ws.column_dimensions.items()}
        for row in ws.iter_rows(max_row=6):
            for cell in row:
                if cell.font.b and cell.fill.fgColor.rgb == style.HEADER_FILL.fgColor.rgb and cell.value:
                    width = widths.get(cell.column_letter, 8.43)
                    longest = max(re.split(r"[\s-]+", str(cell.value)), key=len)  # lines break at spaces, hyphens
                    assert len(longest) <= width, f"{ws.title}!{cell.coordinate}: {longest!r} in width {width}"
        formats = {c.number_format for row in ws.iter_rows() for c in row}
        assert not any("0.0##" in f for f in formats), ws.title
        if ws.sheet_properties.pageSetUpPr.fitToPage:
            printed = sum(d.width or 0 for d in ws.column_dimensions.values() if not d.hidden)
            per_page = printed / ws.page_setup.fitToWidth
            assert per_page <= style.ONE_PAGE_CHARS, f"{ws.title}: {per_page} characters a page print too small"
        for chart in ws._charts:
            if chart.tagname == "barChart" and chart.type == "bar":
                assert chart.dataLabels is not None and chart.dataLabels.showVal, ws.title
