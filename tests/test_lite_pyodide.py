"""The Excel functions in xlwings Lite: Pyodide in Node, offline, run the way Lite runs them.

tests/lite/run_in_pyodide.mjs boots Pyodide 0.27.5 (the release xlwings Lite's development
environment loads), installs xlwings' own pure-Python wheel and then envelope-xl's wheel with
micropip, as a workbook's requirements.txt does, with every download refused. It then does
what the Lite runtime does: XLWINGS_ON_SERVER=true, the workbook's main.py (the one
`envelope-xl excel lite` writes) as the module "main", registration through
xlwings.server.custom_functions_meta and each cell's call, a JavaScript object as Office.js
sends it, through xlwings.server.custom_functions_call. Every catalog function is called with
its example, with its required arguments alone, with empty cells and with bad input, and each
result is compared with the core's answer.

Needs node and `python tests/lite/fetch.py` (make test runs it): skipped without them, except
in CI, where it fails.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import require

from envelope_xl import udfs
from envelope_xl.catalog import CATALOG, bind, get
from envelope_xl.errors import InputError
from envelope_xl.excel import lite
from envelope_xl.registry import FLAG, MODEL, NUMBER, TEXT, WHOLE, Function

HERE = Path(__file__).parent / "lite"
_spec = importlib.util.spec_from_file_location("lite_fetch", HERE / "fetch.py")
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)

SPECS = [get(name) for name in CATALOG]
BAD = {NUMBER: "7e9 params", WHOLE: 64.5, FLAG: "maybe", TEXT: "nonsense", MODEL: "llama-9-9b"}


def cell(value: Any) -> Any:
    """An argument as Office.js passes it to a custom function: a matrix, or null when omitted."""
    return None if value is None else [[value]]


def payload(spec: Function, values: list[Any], n: int) -> dict[str, Any]:
    return {
        "func_name": spec.name,
        "args": [v if isinstance(v, list) else cell(v) for v in values] + [None] * (len(spec.args) - len(values)),
        "caller_address": f"Sheet1!A{n}",
        "culture_info_name": "en-US",
        "date_format": "M/d/yyyy",
        "version": "",
        "runtime": "1.4",
        "client": "Office.js",
    }


def core_answer(spec: Function, values: list[Any]) -> Any:
    """What the core computes for these cell values, or the cell text that reports bad input."""
    padded = [None if v == "" else v for v in values] + [None] * (len(spec.args) - len(values))
    try:
        value = spec.fn(*bind(spec, tuple(padded)))
    except InputError as error:
        return udfs.ERROR_PREFIX + " ".join(str(error).splitlines())
    return value if isinstance(value, list) else [[value]]


def cases() -> list[tuple[Function, list[Any]]]:
    """Per function: its example, its required arguments alone, empty cells for the optional
    ones, and a bad first argument."""
    found = []
    for spec in SPECS:
        required = sum(not a.optional for a in spec.args)
        found.append((spec, list(spec.example)))
        found.append((spec, list(spec.example[:required])))
        if required < len(spec.args):
            found.append((spec, list(spec.example[:required]) + [""] * (len(spec.args) - required)))
        found.append((spec, [BAD[spec.args[0].kind], *spec.example[1:]]))
    return found


#: A two-cell range as the params argument of TRAIN_MEM, called after the cases.
RANGE = (get("TRAIN_MEM"), [[[7e9, 8e9]], "bf16"])
#: A model given as a range of field/value rows, as Office.js passes a 5 x 2 range; last.
MODEL_ROWS = [["layers", 2], ["hidden", 8], ["heads", 2], ["vocab", 10], ["gated_mlp", True]]
MODEL_RANGE = (get("MODEL_PARAMS"), [MODEL_ROWS])


@pytest.fixture(scope="module", params=fetch.XLWINGS, ids=lambda v: f"xlwings-{v}")
def in_lite(request, built_wheel, tmp_path_factory):
    require("Pyodide for the xlwings Lite test", fetch.missing())
    calls = [payload(spec, values, n) for n, (spec, values) in enumerate([*cases(), RANGE, MODEL_RANGE], start=1)]
    job = {
        "pyodide": str(fetch.pyodide_dir()),
        "wheels": [str(fetch.wheel("packaging", fetch.PACKAGING)), str(fetch.wheel("micropip", fetch.MICROPIP))],
        "install": [str(fetch.wheel("xlwings", request.param)), str(built_wheel)],
        "main_py": lite.main_py(),
        "calls": calls,
    }
    path = tmp_path_factory.mktemp("lite") / "request.json"
    path.write_text(json.dumps(job))
    run = subprocess.run(["node", str(HERE / "run_in_pyodide.mjs"), str(path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert "error" not in out, out["error"]
    assert out["xlwings"] == request.param and out["platform"] == "emscripten"
    return out


def test_the_requirement_line_installs_envelope_xl_alone_without_downloads(in_lite):
    assert out_set(in_lite["installed_after"]) - out_set(in_lite["installed_before"]) == {"envelope-xl"}
    assert in_lite["refused"] == []


def out_set(names: list[str]) -> set[str]:
    return {name.lower().replace("_", "-") for name in names}


def test_lite_registers_every_function_under_its_catalog_name(in_lite):
    """No namespace: the cell formula is =TRAIN_MEM(...), as the function wizard lists it."""
    functions = {f["name"]: f for f in in_lite["meta"]["functions"]}
    assert set(functions) == set(CATALOG)
    for spec in SPECS:
        meta = functions[spec.name]
        assert meta["description"] == udfs.description(spec)
        assert [p["name"] for p in meta["parameters"]] == [a.name for a in spec.args]
        for param, arg in zip(meta["parameters"], spec.args, strict=True):
            assert param["description"] == udfs.arg_description(arg)
            assert param.get("optional", False) == arg.optional


def test_every_call_gives_the_cores_answer(in_lite):
    for (spec, values), result in zip(cases(), in_lite["results"], strict=False):
        expected = core_answer(spec, values)
        if isinstance(expected, str):
            assert result == [[expected]], (spec.name, values)
        else:
            # Bit for bit: the same arithmetic on the same IEEE doubles. (A function whose libm
            # call, log or pow, rounds differently under Pyodide's musl would need rel=1e-15.)
            assert result == expected, (spec.name, values)
    assert len(in_lite["results"]) == len(cases()) + 2


def test_a_range_for_a_single_value_is_refused_as_in_desktop_excel(in_lite):
    assert in_lite["results"][-2] == [["#VALUE! params: got a range of 2 cells; expected a single value or cell"]]


def test_a_model_may_be_a_range_of_field_rows(in_lite):
    spec = get("MODEL_PARAMS")
    expected = spec.fn(*bind(spec, (tuple(map(tuple, MODEL_ROWS)),)))
    assert in_lite["results"][-1] == [[expected]] == [[2248.0]]
