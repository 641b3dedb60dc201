"""A model described in a range of cells, through every spreadsheet route: the xlwings UDFs
and both recalculation engines compute the same as the core."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from conftest import require

from envelope_xl import udfs
from envelope_xl.catalog import call
from envelope_xl.libreoffice import engine
from envelope_xl.models import PRESETS
from envelope_xl.recalc.python_engine import PythonEngine

PRESET = "gemma-2-9b"  # local and global layers, tied embeddings, four norms per block
ROWS = [("field", "value"), *PRESETS.get("model", PRESET).config().items()]
CALLS = {
    "C1": ("MODEL_PARAMS", ()),
    "C2": ("MODEL_PARAMS", (True,)),
    "C3": ("KV_CACHE_MODEL", (8192, 4)),
    "C4": ("MODEL_CONFIG", ('"window_layers"',)),
}


def test_udfs_take_a_range_as_xlwings_passes_it():
    cells = [[k, v if isinstance(v, bool | str) else float(v)] for k, v in ROWS]
    assert udfs.MODEL_PARAMS(cells) == call("MODEL_PARAMS", PRESET)
    assert udfs.KV_CACHE_MODEL(cells, 8192.0, 4.0) == call("KV_CACHE_MODEL", PRESET, 8192, 4)
    assert udfs.MODEL_PARAMS([[f" {PRESET.upper()} "]]) == call("MODEL_PARAMS", PRESET)  # one cell: its value
    assert udfs.MODEL_PARAMS([["layers", 2.0], ["hidden", 8.0]]).startswith("#VALUE! model.heads: got nothing")


def _workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Model"
    for r, (field, value) in enumerate(ROWS, start=1):
        ws.cell(r, 1, field)
        ws.cell(r, 2, value)
    last = len(ROWS)
    for ref, (name, rest) in CALLS.items():
        args = ",".join([f"A1:B{last}", *("TRUE" if v is True else str(v) for v in rest)])
        ws[ref] = f"={name}({args})"
    ws["C5"] = "=MODEL_PARAMS(A2:B3)"  # too few fields: an error cell, not a number
    wb.save(path)
    return path


def _check(results: dict) -> None:
    for ref, (name, rest) in CALLS.items():
        plain = [v.strip('"') if isinstance(v, str) else v for v in rest]
        assert results[("Model", ref)] == pytest.approx(call(name, PRESET, *plain), rel=1e-12), ref
    assert getattr(results[("Model", "C5")], "code", None) == "#VALUE!"


def test_python_engine(tmp_path):
    _check(PythonEngine().compute(_workbook(tmp_path / "model.xlsx")))


def test_libreoffice_engine(tmp_path, private_libreoffice_cache):
    require("LibreOffice", engine.unavailable_reason())
    _check(engine.LibreOfficeEngine().compute(_workbook(tmp_path / "model.xlsx")))
