"""One serving case on every surface: the core, explain, the command line, the Excel UDFs and
both recalculation engines give the same numbers (the issue's proof of one formula)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import require
from openpyxl import Workbook
from openpyxl.worksheet.formula import ArrayFormula

from envelope_xl import udfs
from envelope_xl.catalog import call
from envelope_xl.cli import main
from envelope_xl.explain import explain
from envelope_xl.libreoffice import engine
from envelope_xl.recalc.python_engine import PythonEngine

DECODE = ("llama-3-8b", "H100-SXM", "bf16", 64, 2048)
PLAN = ("llama-3-8b", 20, 1500, 300, "H100-SXM", "bf16", 1, 0.04, 0.45, 2.5)
CELLS = {
    "A1": '=DECODE_TPS("llama-3-8b","H100-SXM","bf16",64,2048)',
    "A2": '=TPOT("llama-3-8b","H100-SXM","bf16",64,2048,"min")',
    "A3": '=MAX_BATCH("llama-3-8b",4096)',
    "A4": '=PREFILL_TIME("llama-3.1-8b",32768)',
    "A5": '=TTFT("llama-3-70b",2000,"H100-SXM","fp8",,,2)',
    "A6": '=DECODE_TPS("llama-2-7b","H100-SXM","bf16",64,2048)',  # does not fit: an error, never a speed
}
EXPECTED = {
    "A1": call("DECODE_TPS", *DECODE),
    "A2": call("TPOT", *DECODE, "min"),
    "A3": call("MAX_BATCH", "llama-3-8b", 4096),
    "A4": call("PREFILL_TIME", "llama-3.1-8b", 32768),
    "A5": call("TTFT", "llama-3-70b", 2000, "H100-SXM", "fp8", None, None, 2),
}


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    path = tmp_path_factory.mktemp("serving") / "serving.xlsx"
    wb = Workbook()
    ws = wb.active
    for ref, formula in CELLS.items():
        ws[ref] = formula
    ws["C1"] = ArrayFormula("C1:D9", '=SERVING_PLAN("llama-3-8b",20,1500,300,"H100-SXM","bf16",1,0.04,0.45,2.5)')
    wb.save(path)
    return path, ws.title


def _check(values, sheet):
    for ref, expected in EXPECTED.items():
        assert values[(sheet, ref)] == pytest.approx(expected, rel=1e-12), ref
    assert not isinstance(values[(sheet, "A6")], int | float)  # an error cell
    plan = call("SERVING_PLAN", *PLAN)
    for i, (label, value) in enumerate(plan, start=1):
        assert values[(sheet, f"C{i}")] == label
        got = values[(sheet, f"D{i}")]
        assert got == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), label


def test_explain_gives_the_core_value():
    assert explain("DECODE_TPS", *DECODE).answer == EXPECTED["A1"]
    assert explain("SERVING_PLAN", *PLAN).answer == call("SERVING_PLAN", *PLAN)


def test_the_command_line_gives_the_core_value():
    out = CliRunner().invoke(main, ["call", "DECODE_TPS", *map(str, DECODE)])
    assert out.exit_code == 0 and float(out.output) == EXPECTED["A1"]
    out = CliRunner().invoke(main, ["call", "SERVING_PLAN", *map(str, PLAN)])
    lines = [line.split("\t") for line in out.output.strip().split("\n")]
    assert lines[0] == ["quantity", "value"] and dict(lines[1:])["bound"] == "compute"
    assert float(dict(lines[1:])["tpot_s"]) == dict(call("SERVING_PLAN", *PLAN)[1:])["tpot_s"]
    refused = CliRunner().invoke(main, ["call", "DECODE_TPS", "llama-2-7b", "H100-SXM", "bf16", "64", "2048"])
    assert refused.exit_code != 0 and "the largest batch that fits is 51" in refused.output


def test_the_excel_functions_give_the_core_value():
    # As Excel passes them: whole numbers as floats, names in any case.
    assert udfs.DECODE_TPS("LLAMA-3-8B", "h100-sxm", "BF16", 64.0, 2048.0) == EXPECTED["A1"]
    assert udfs.SERVING_PLAN(*PLAN) == call("SERVING_PLAN", *PLAN)
    assert udfs.DECODE_TPS("llama-2-7b", "H100-SXM", "bf16", 64.0, 2048.0).startswith(
        "#VALUE! batch: got 64; expected a batch that fits in memory")


def test_the_python_engine_gives_the_core_value(workbook):
    path, sheet = workbook
    _check(PythonEngine().compute(path), sheet)


def test_the_libreoffice_engine_gives_the_core_value(workbook, private_libreoffice_cache):
    require("LibreOffice", engine.unavailable_reason())
    path, sheet = workbook
    _check(engine.LibreOfficeEngine().compute(path), sheet)
