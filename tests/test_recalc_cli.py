"""`envelope-xl recalc`: exit statuses, reports, bulk runs, engine choice, the bundled example."""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from envelope_xl import catalog
from envelope_xl.recalc import engines
from envelope_xl.recalc.cli import recalc
from envelope_xl.recalc.example import EXAMPLE, build_example, run_example
from envelope_xl.recalc.python_engine import PythonEngine

REPO = Path(__file__).resolve().parent.parent


def _workbook(path: Path, optimizer: str = "adam", rows: int = 3) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Plan"
    for i in range(1, rows + 1):
        ws.append([i * 1e9, optimizer, f"=TRAIN_MEM(A{i},\"bf16\",B{i})"])
    wb.save(path)
    return path


def _run(*args: str):
    return CliRunner().invoke(recalc, [*args, "--engine", "python"])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_workbook_is_recalculated_and_the_input_left_alone(tmp_path):
    source = _workbook(tmp_path / "plan.xlsx")
    before = _sha(source)
    result = _run(str(source), "-o", str(tmp_path / "plan.out.xlsx"))
    assert result.exit_code == 0, result.output
    assert _sha(source) == before
    ws = load_workbook(tmp_path / "plan.out.xlsx", data_only=True)["Plan"]
    assert ws["C2"].value == pytest.approx(catalog.call("TRAIN_MEM", 2e9, "bf16", "adam"))
    assert "formula cells" in result.output and "plan.xlsx" in result.output


def test_error_cells_exit_1_and_are_reported(tmp_path):
    source = _workbook(tmp_path / "bad.xlsx", optimizer="adma", rows=2)
    report = tmp_path / "report.json"
    result = _run(str(source), "-o", str(tmp_path / "out.xlsx"), "--report", str(report))
    assert result.exit_code == 1, result.output
    document = json.loads(report.read_text())
    assert document["exit_status"] == 1
    assert document["summary"]["error_cells"] == 2
    error = document["files"][0]["errors"][0]
    assert error["sheet"] == "Plan" and error["cell"] == "C1" and error["error"] == "#VALUE!"
    assert error["formula"] == '=TRAIN_MEM(A1,"bf16",B1)'
    assert "optimizer: got 'adma'" in error["reason"]
    assert "Plan!C1" in result.output and "#VALUE!" in result.output
    assert load_workbook(tmp_path / "out.xlsx", data_only=True)["Plan"]["C1"].value == "#VALUE!"

    csv_report = tmp_path / "report.csv"
    accepted = _run(str(source), "-o", str(tmp_path / "out.xlsx"), "--force", "--allow-errors",
                    "--report", str(csv_report))
    assert accepted.exit_code == 0, accepted.output
    with csv_report.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["cell"], r["error"]) for r in rows] == [("C1", "#VALUE!"), ("C2", "#VALUE!")]
    assert rows[0]["formula_cells"] == "2" and rows[0]["status"] == "errors"


@pytest.mark.parametrize(("args", "message"), [
    (["a.xlsx", "b.xlsx", "-o", "x.xlsx"], "-o/--output takes one input, got 2"),
    (["a.xlsx"], "say where to write"),
    (["a.xlsx", "-o", "x.xlsx", "--out-dir", "d"], "not both"),
    (["a.xlsx", "-o", "x.xlsx", "--report", "r.txt"], "expected a file name ending in .json or .csv"),
    (["nothing-matches-*.xlsx", "--out-dir", "d"], "no file matches this pattern"),
])
def test_bad_usage_exits_2_with_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    _workbook(tmp_path / "a.xlsx")
    _workbook(tmp_path / "b.xlsx")
    result = _run(*args)
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {result.output.strip()[7:]}" and message in result.output


def test_existing_output_and_unreadable_input_exit_2(tmp_path):
    source = _workbook(tmp_path / "plan.xlsx")
    taken = tmp_path / "taken.xlsx"
    taken.write_bytes(b"mine")
    refused = _run(str(source), "-o", str(taken))
    assert refused.exit_code == 2 and "use --force" in refused.output
    assert taken.read_bytes() == b"mine"
    assert _run(str(source), "-o", str(taken), "--force").exit_code == 0
    missing = _run(str(tmp_path / "missing.xlsx"), "-o", str(tmp_path / "m.xlsx"))
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_bulk_run_of_folders_globs_and_files_with_two_jobs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plans" / "q3").mkdir(parents=True)
    for name in ("a.xlsx", "b.xlsx"):
        _workbook(tmp_path / "plans" / name)
    _workbook(tmp_path / "plans" / "q3" / "c.xlsx", rows=5)
    _workbook(tmp_path / "d.xlsx", optimizer="adma")
    (tmp_path / "broken.xlsx").write_text("not a workbook")
    report = tmp_path / "report.json"
    result = _run("plans/*.xlsx", "plans/q3", "d.xlsx", "broken.xlsx", "--out-dir", "computed", "--jobs", "2",
                  "--report", str(report))
    assert result.exit_code == 2, result.output  # broken.xlsx is unreadable; the others are still done
    document = json.loads(report.read_text())
    statuses = {Path(f["file"]).name: f["status"] for f in document["files"]}
    assert statuses == {"a.xlsx": "ok", "b.xlsx": "ok", "c.xlsx": "ok", "d.xlsx": "errors", "broken.xlsx": "failed"}
    assert sorted(p.name for p in (tmp_path / "computed").iterdir()) == ["a.xlsx", "b.xlsx", "c.xlsx", "d.xlsx"]
    assert document["summary"]["formula_cells"] == 3 + 3 + 5 + 3
    assert "[5/5]" in result.output  # plain progress lines when not on a terminal


def test_same_names_from_two_folders_are_refused(tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        _workbook(tmp_path / folder / "plan.xlsx")
    result = _run(str(tmp_path / "x"), str(tmp_path / "y"), "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 2 and "would both be written to" in result.output


def test_auto_falls_back_to_python_and_libreoffice_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVELOPE_XL_SOFFICE", str(tmp_path / "no-soffice"))  # as on a machine without LibreOffice
    assert isinstance(engines.select("auto"), PythonEngine)
    with pytest.raises(engines.EngineUnavailableError, match="apt-get install --no-install-recommends libreoffice"):
        engines.select("libreoffice")
    source = _workbook(tmp_path / "plan.xlsx")
    result = CliRunner().invoke(recalc, [str(source), "-o", str(tmp_path / "out.xlsx"), "--engine", "libreoffice"])
    assert result.exit_code == 2 and "LibreOffice was not found" in result.output
    assert not (tmp_path / "out.xlsx").exists()


def _cells(ws) -> list[tuple[str, str]]:
    shown = []
    for row in ws.iter_rows():
        for c in row:
            value = f"{c.value.ref} {c.value.text}" if hasattr(c.value, "ref") else str(c.value)
            shown.append((c.coordinate, value))
    return shown


def test_the_bundled_example_is_current_and_recalculates(tmp_path):
    fresh = build_example(tmp_path / "capacity_plan.xlsx")
    shipped = load_workbook(EXAMPLE)
    rebuilt = load_workbook(fresh)
    assert shipped.sheetnames == rebuilt.sheetnames
    for name in shipped.sheetnames:
        assert _cells(shipped[name]) == _cells(rebuilt[name]), "regenerate it: python -m envelope_xl.recalc.example"
    lines: list[str] = []
    run_example(lines.append)
    assert "0 errors" in lines[0]
    assert any("llama-2-70b" in line and "multi-node" in line for line in lines)
    with zipfile.ZipFile(EXAMPLE) as zf:  # shipped without cached values: the numbers come from the engine
        assert b"<v>" not in zf.read("xl/worksheets/sheet1.xml").split(b"<f>")[1]


def test_scenario_sweep_template_recalculates_without_error_cells(tmp_path):
    template = REPO / "templates" / "scenario_sweep.xlsx"  # kept current by tests/test_templates.py
    report = tmp_path / "report.json"
    result = _run(str(template), "-o", str(tmp_path / "sweep.xlsx"), "--report", str(report))
    assert result.exit_code == 0, result.output
    summary = json.loads(report.read_text())["summary"]
    assert summary["formula_cells"] > 0 and summary["error_cells"] == 0
