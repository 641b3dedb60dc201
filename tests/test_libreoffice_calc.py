"""The extension inside a real LibreOffice Calc, and the LibreOffice engine's own behaviour.

These tests need LibreOffice (Debian: libreoffice-calc-nogui python3-uno). Without it they are skipped, except in CI
(CI=true), where they fail: CI installs it so they always run there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import openpyxl
import pytest
from conftest import require
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from envelope_xl.catalog import call
from envelope_xl.libreoffice import engine, headless, profile
from envelope_xl.libreoffice.headless import LibreOfficeError, find_soffice
from envelope_xl.recalc.engine import CellError


def _need_libreoffice() -> None:
    require("LibreOffice", engine.unavailable_reason())


@pytest.fixture(scope="module", autouse=True)
def private_cache(private_libreoffice_cache):
    _need_libreoffice()


def _uno_python() -> str:
    """A Python that can `import uno`: LibreOffice's own, or the system one with python3-uno."""
    soffice = find_soffice()
    candidates = [str(soffice.resolve().with_name("python"))] if soffice else []
    candidates += ["/usr/bin/python3", shutil.which("python3") or ""]
    found = next((c for c in candidates if c and Path(c).is_file() and _imports_uno(c)), "")
    require("A Python with the uno module", None if found else "Debian: apt-get install python3-uno")
    return found


def _imports_uno(python: str) -> bool:
    return subprocess.run([python, "-c", "import uno"], capture_output=True).returncode == 0


# Runs in LibreOffice's Python: a new Calc document, formulas typed as a user would
# (English names, ';' separators), their results, an array formula, and what the
# Function Wizard lists.
_SESSION = r'''
import json, sys, time
import uno
from com.sun.star.beans import PropertyValue

pipe, formulas = sys.argv[1], json.loads(sys.argv[2])
local = uno.getComponentContext()
resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
deadline = time.monotonic() + 60
while True:
    try:
        ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
doc = desktop.loadComponentFromURL("private:factory/scalc", "_blank", 0, (PropertyValue(Name="Hidden", Value=True),))
sheet = doc.Sheets.getByIndex(0)
for row, formula in enumerate(formulas):
    sheet.getCellByPosition(0, row).setFormula(formula)
table = sheet.getCellRangeByName("C1:D6")
table.setArrayFormula("TRAIN_MEM_BREAKDOWN(7E9)")
doc.calculateAll()
cells = []
for row in range(len(formulas)):
    cell = sheet.getCellByPosition(0, row)
    cells.append({"error": cell.getError(), "value": cell.getValue(), "text": cell.getString()})
descriptions = ctx.ServiceManager.createInstanceWithContext("com.sun.star.sheet.FunctionDescriptions", ctx)
wizard = {}
for i in range(descriptions.getCount()):
    entry = {p.Name: p.Value for p in descriptions.getByIndex(i)}
    wizard[entry["Name"]] = {"description": entry["Description"],
                             "arguments": [[a.Name, a.Description] for a in entry["Arguments"] or ()]}
result = {"cells": cells, "table": [list(r) for r in table.getDataArray()], "wizard": wizard}
doc.close(True)
print(json.dumps(result))
desktop.terminate()
'''


def test_new_calc_document_computes_envelope_formulas_typed_in_cells(tmp_path):
    uno_python = _uno_python()
    template = profile.template_profile()  # built here: unopkg installs the extension into a throw-away profile
    pipe = f"envelope-xl-test-{uuid.uuid4().hex}"
    formulas = [
        '=TRAIN_MEM(7e9;"bf16";"adam")',
        "=TRAIN_MEM(7e9)",
        '=TRAIN_MEM(7e9;"bf16";"adma")',
        '=train_mem(7e9;;"sgd";8;3;"MB")',
        "=HUMAN_BYTES(112e9)",
        "=IFERROR(GPU_SPEC(\"H100-SXM\";\"fp2_tflops\");-1)",
    ]
    with profile.profile_copy(template, tmp_path) as lo:
        command = [str(find_soffice()), *profile._env_args(lo), "--headless", "--invisible", "--norestore",
                   "--nologo", "--nodefault", f"--accept=pipe,name={pipe};urp;"]
        office = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=headless.environment(lo), start_new_session=True)
        try:
            script = tmp_path / "session.py"
            script.write_text(_SESSION)
            done = subprocess.run([uno_python, str(script), pipe, json.dumps(formulas)],
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            result = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            os.killpg(office.pid, signal.SIGKILL)
            office.wait()
    cells = result["cells"]
    assert [c["value"] for c in cells[:2]] == [112.0, 112.0] and cells[0]["error"] == 0
    assert cells[2]["error"] == 502 and cells[2]["text"] == "Err:502"  # bad input: #VALUE! in xlsx
    assert cells[3]["value"] == pytest.approx(call("TRAIN_MEM", 7e9, None, "sgd", 8, 3, "MB"), rel=1e-12)
    assert cells[4]["text"] == "112 GB"
    assert cells[5]["value"] == -1.0
    expected = call("TRAIN_MEM_BREAKDOWN", 7e9)
    assert [row[0] for row in result["table"]] == [row[0] for row in expected]
    assert [row[1] for row in result["table"][1:]] == pytest.approx([row[1] for row in expected[1:]], rel=1e-12)
    shown = result["wizard"]["TRAIN_MEM"]
    assert shown["description"].startswith("Model-state memory per GPU for training")
    assert [a[0] for a in shown["arguments"]] == ["params", "precision", "optimizer", "gpus", "zero_stage", "unit"]
    assert "default \"bf16\"" in shown["arguments"][1][1]


def _workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Plan A"
    ws["A1"], ws["A2"], ws["A3"] = 7e9, "bf16", "adma"
    ws["B1"] = "=TRAIN_MEM(A1,A2)"
    ws["B2"] = "=train_mem(A1)*2"
    ws["B3"] = "=_xldudf_XLWINGS_TRAIN_MEM(A1,A2,\"sgd\")"
    ws["B4"] = '=IF(TRUE,"TRAIN_MEM(A1)","")'  # a name in a string is text, not a call
    ws["B5"] = "=TRAIN_MEM(A1,A2,A3)"
    ws["B6"] = "=IFERROR(TRAIN_MEM(A1,A2,A3),-1)"
    ws["B7"] = "=TRAIN_MEM(1/0)"
    ws["B8"] = "=MEM_7B+1"
    ws["B9"] = "=HUMAN_BYTES(TRAIN_MEM(A1)*1E9)"
    ws["D1"] = ArrayFormula("D1:E6", "=TRAIN_MEM_BREAKDOWN(A1,A2)")
    wb.defined_names["MEM_7B"] = DefinedName("MEM_7B", attr_text="TRAIN_MEM(7000000000)")
    wb.save(path)
    return path


def test_engine_computes_every_spelling_of_a_call_and_leaves_the_original_untouched(tmp_path, monkeypatch):
    source = _workbook(tmp_path / "plan.xlsx")
    before = source.read_bytes()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    values = engine.LibreOfficeEngine().compute(source)
    assert source.read_bytes() == before
    assert list(scratch.iterdir()) == []  # every temporary file removed
    got = {ref: v for (sheet, ref), v in values.items() if sheet == "Plan A"}
    assert got["B1"] == 112.0 and got["B2"] == 224.0 and got["B3"] == call("TRAIN_MEM", 7e9, "bf16", "sgd")
    assert got["B4"] == "TRAIN_MEM(A1)"
    assert got["B5"] == CellError("#VALUE!") and got["B6"] == -1.0
    assert got["B7"] == CellError("#DIV/0!")
    assert got["B8"] == 113.0
    assert got["B9"] == "112 GB"
    assert [got[f"D{r}"] for r in range(1, 7)] == [row[0] for row in call("TRAIN_MEM_BREAKDOWN", 7e9)]
    assert got["E6"] == 112.0


def _our_processes(marker: str) -> list[int]:
    """LibreOffice processes whose command line mentions `marker` (e.g. their profile's folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
                if marker in command and ("soffice" in command or "oosplash" in command):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_run_over_its_time_limit_is_stopped_and_cleaned_up(tmp_path, monkeypatch):
    source = _workbook(tmp_path / "plan.xlsx")
    profile.template_profile()  # built beforehand: only the run itself is timed
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(LibreOfficeError, match=r"longer than 0\.2 s"):
        engine.LibreOfficeEngine(timeout=0.2).compute(source)
    time.sleep(0.2)
    assert list(scratch.iterdir()) == []
    assert _our_processes(str(scratch)) == []


def test_recalc_command_with_the_libreoffice_engine_writes_back_and_reports(tmp_path):
    from click.testing import CliRunner

    from envelope_xl.recalc.cli import recalc
    from envelope_xl.recalc.workbook import read_book

    source = _workbook(tmp_path / "plan.xlsx")
    before = source.read_bytes()
    output, report = tmp_path / "out" / "plan.xlsx", tmp_path / "report.json"
    result = CliRunner().invoke(recalc, ["--engine", "libreoffice", str(source), "-o", str(output),
                                         "--report", str(report)])
    assert result.exit_code == 1, result.output  # B5 and B7 are error cells
    assert source.read_bytes() == before
    assert read_book(output).sheet("Plan A").formulas[(1, 2)] == "=TRAIN_MEM(A1,A2)"  # not the add-in's name
    cached = openpyxl.load_workbook(output, data_only=True)["Plan A"]
    assert [cached[ref].value for ref in ("B1", "B9", "B5", "D6", "E6")] == [112, "112 GB", "#VALUE!", "total", 112]
    data = json.dumps(json.loads(report.read_text()))
    assert "libreoffice" in data and "#DIV/0!" in data and "=TRAIN_MEM(1/0)" in data


_STOPPABLE = """
import sys, tempfile
from pathlib import Path
tempfile.tempdir = sys.argv[2]
from envelope_xl.libreoffice.engine import LibreOfficeEngine
print("started", flush=True)
LibreOfficeEngine().compute(Path(sys.argv[1]))
"""


def test_a_run_stopped_with_sigterm_leaves_no_process_or_file(tmp_path):
    import sys

    source = _workbook(tmp_path / "plan.xlsx")
    profile.template_profile()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    child = subprocess.Popen([sys.executable, "-c", _STOPPABLE, str(source), str(scratch)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while not _our_processes(str(scratch)) and time.monotonic() < deadline:  # soffice is running
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode != 0 and "StoppedError" in stderr
    assert _our_processes(str(scratch)) == []
    assert list(scratch.iterdir()) == [], (stderr, [str(p) for p in scratch.rglob('*')][:20])
