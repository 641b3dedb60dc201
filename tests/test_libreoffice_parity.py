"""Both recalculation engines give the same values on the same workbooks.

The workbooks: the templates (the sweep among them), the bundled example, and one
that calls every catalog function with its example arguments, with only its required
arguments, with each optional argument left empty or given, with a bad value for each
argument, with an error as input and inside IFERROR. Numbers agree to a relative
1e-12 (LibreOffice writes 15 significant digits), texts and booleans exactly, error
cells by their error value.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import require
from openpyxl.worksheet.formula import ArrayFormula

from envelope_xl.catalog import CATALOG, call, get
from envelope_xl.libreoffice import engine
from envelope_xl.recalc.engine import CellError, Results
from envelope_xl.recalc.example import EXAMPLE
from envelope_xl.recalc.python_engine import PythonEngine
from envelope_xl.registry import FLAG, TEXT, Function
from envelope_xl.templates.build import WORKBOOKS, build_all


@pytest.fixture(scope="module", autouse=True)
def private_cache(private_libreoffice_cache):
    require("LibreOffice", engine.unavailable_reason())


def _literal(value: Any) -> str:
    if value is None:  # an "automatic" default: the argument left empty
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return repr(float(value)) if isinstance(value, float) else str(value)


def _bad(kind: str) -> str:
    """A value the argument refuses, of the kind a user mistypes."""
    return {TEXT: '"no-such-name"', FLAG: '"maybe"'}.get(kind, "-1")


def _calls(spec: Function) -> list[str]:
    """Formula bodies calling `spec` in every way the parity check covers, arguments given."""
    example = [_literal(v) for v in spec.example]
    required = sum(1 for a in spec.args if not a.optional)
    calls = [f"{spec.name}({','.join(example)})", f"{spec.name}({','.join(example[:required])})"]
    for i, arg in enumerate(spec.args):
        if arg.optional and arg.default is not None:  # each optional argument given its default
            values = example[:required] + [_literal(a.default) for a in spec.args[required:i + 1]]
            calls.append(f"{spec.name}({','.join(values)})")
    for i, arg in enumerate(spec.args):  # a bad value for each argument
        values = example + [_literal(a.default) for a in spec.args[len(example):i + 1]]
        values[i] = _bad(arg.kind)
        calls.append(f"{spec.name}({','.join(values[:max(i + 1, required)])})")
    calls.append(f"{spec.name}({','.join(['1/0', *example[1:]])})")
    calls.append(f"IFERROR({spec.name}({','.join([_bad(spec.args[0].kind), *example[1:]])}),-1)")
    # An "automatic" default cannot be typed: calls that would leave it empty are _omitting_calls' job.
    return [c for c in calls if ",," not in c and ",)" not in c]


def _omitting_calls(spec: Function) -> list[str]:
    """Calls leaving optional arguments empty, as in `TRAIN_MEM(7e9,,"sgd")`: each must take its default."""
    example = [_literal(v) for v in spec.example]
    required = sum(1 for a in spec.args if not a.optional)
    calls = []
    for i, arg in enumerate(spec.args):
        if arg.optional:
            gap = example[:required] + [""] * (i - required)  # earlier optional arguments left empty
            calls.append(f"{spec.name}({','.join([*gap, ''])})")  # and this one
            if i + 1 < len(example):
                calls.append(f"{spec.name}({','.join([*example[:i], '', *example[i + 1:]])})")
    return calls


def _catalog_workbook(path: Path, calls=_calls) -> Path:
    wb = openpyxl.Workbook()
    plain, tables = wb.active, wb.create_sheet("Tables")
    plain.title = "Calls"
    row, table_col = 1, 1
    for name in CATALOG:
        spec = get(name)
        for body in calls(spec):
            if spec.table:
                rows = len(call(name, *spec.example))
                top = f"{openpyxl.utils.get_column_letter(table_col)}1"
                bottom = f"{openpyxl.utils.get_column_letter(table_col + 1)}{rows}"
                tables[top] = ArrayFormula(f"{top}:{bottom}", f"={body}")
                table_col += 3
            else:
                plain.cell(row, 1, f"={body}")
                row += 1
    wb.save(path)
    return path


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, CellError) or isinstance(b, CellError):
        return isinstance(a, CellError) and isinstance(b, CellError) and a.code == b.code
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)


def _differences(python: Results, libreoffice: Results) -> list[str]:
    keys = sorted(set(python) | set(libreoffice))
    return [
        f"{sheet}!{ref}: python {python.get((sheet, ref), 'missing')!r}, "
        f"libreoffice {libreoffice.get((sheet, ref), 'missing')!r}"
        for sheet, ref in keys
        if (sheet, ref) not in python or (sheet, ref) not in libreoffice
        or not _same(python[(sheet, ref)], libreoffice[(sheet, ref)])
    ]


NAMES = ["catalog_calls.xlsx", EXAMPLE.name, *(w.FILENAME for w in WORKBOOKS)]


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("parity")
    paths = [_catalog_workbook(folder / NAMES[0]), EXAMPLE, *build_all(folder / "templates")]
    return {p.name: p for p in paths}


def test_catalog_workbook_covers_every_function_and_path(workbooks):
    sheet = openpyxl.load_workbook(workbooks[NAMES[0]])["Calls"]
    texts = "\n".join(str(c.value) for c in sheet["A"])
    for name in CATALOG:
        if not get(name).table:
            assert f"={name}(" in texts and f"=IFERROR({name}(" in texts


def _assert_agree(path: Path) -> None:
    python, libreoffice = PythonEngine().compute(path), engine.LibreOfficeEngine().compute(path)
    assert len(python) > 0
    differences = _differences(python, libreoffice)
    assert not differences, f"{path.name}: {len(differences)} cells differ:\n" + "\n".join(differences[:20])


@pytest.mark.parametrize("name", NAMES)
def test_both_engines_agree(workbooks, name):
    _assert_agree(workbooks[name])


def test_both_engines_give_an_empty_argument_its_default(tmp_path):
    _assert_agree(_catalog_workbook(tmp_path / "omitted.xlsx", _omitting_calls))


def test_a_virtual_environment_on_path_does_not_break_the_add_in(tmp_path, monkeypatch):
    # An activated venv puts its python3 first on PATH, where LibreOffice's own Python
    # would look for its home; the engine must keep LibreOffice away from it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    values = engine.LibreOfficeEngine().compute(EXAMPLE)
    assert values and not any(isinstance(v, CellError) for v in values.values())
