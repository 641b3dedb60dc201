"""The Excel functions: values, cell conversions, errors, classic xlwings registration, Lite, setup.

The classic registration is exercised for real on Linux: with the Windows-only modules
(pywin32) stubbed, `xlwings.udfs` is imported, its decorators are applied to our module,
and its "Import Functions" code writes the VBA and the function-wizard texts, which are
checked here. That relies on xlwings internals, hence the pinned xlwings version.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import io
import re
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import xlwings
from click.testing import CliRunner
from packaging.requirements import Requirement

from envelope_xl import udfs
from envelope_xl.catalog import CATALOG, bind, get
from envelope_xl.errors import InputError
from envelope_xl.excel import TESTED_XLWINGS, UDF_MODULE, conf, lite
from envelope_xl.excel import cli as excel_cli
from envelope_xl.registry import FLAG, MODEL, NUMBER, TEXT, WHOLE, Function

#: Words VBA reserves (MS-VBAL 3.3.5.2, case-insensitive): "Import Functions" writes the
#: argument names as VBA parameters, so none may be one of these.
VBA_RESERVED = frozenset(word.lower() for word in [
    "Abs", "AddressOf", "And", "Any", "Array", "As", "Attribute", "Boolean", "ByRef", "Byte", "ByVal", "Call",
    "Case", "CBool", "CByte", "CCur", "CDate", "CDbl", "CDec", "CDecl", "CInt", "Circle", "CLng", "CLngLng",
    "CLngPtr", "Close", "Const", "CSng", "CStr", "Currency", "CVar", "CVErr", "Date", "Debug", "Decimal",
    "Declare", "DefBool", "DefByte", "DefCur", "DefDate", "DefDbl", "DefDec", "DefInt", "DefLng", "DefLngLng",
    "DefLngPtr", "DefObj", "DefSng", "DefStr", "DefVar", "Dim", "Do", "DoEvents", "Double", "Each", "Else",
    "ElseIf", "Empty", "End", "EndIf", "Enum", "Eqv", "Erase", "Error", "Event", "Exit", "False", "Fix", "For",
    "Friend", "Function", "Get", "Global", "GoSub", "GoTo", "If", "Imp", "Implements", "In", "Input", "InputB",
    "Int", "Integer", "Is", "LBound", "Len", "LenB", "Let", "Like", "LineInput", "Lock", "Long", "LongLong",
    "LongPtr", "Loop", "LSet", "Me", "Mid", "MidB", "Mod", "New", "Next", "Not", "Nothing", "Null", "Object",
    "On", "Open", "Option", "Optional", "Or", "ParamArray", "Preserve", "Print", "Private", "PSet", "Public",
    "Put", "RaiseEvent", "ReDim", "Rem", "Resume", "Return", "RSet", "Scale", "Seek", "Select", "Set", "Sgn",
    "Shared", "Single", "Spc", "Static", "Stop", "String", "Sub", "Tab", "Then", "To", "True", "Type", "TypeOf",
    "UBound", "Unlock", "Until", "Variant", "Wend", "While", "With", "WithEvents", "Write", "Xor"
])

SPECS = [get(name) for name in CATALOG]
IDS = [spec.name for spec in SPECS]

# One valid value per argument name, as the core takes it.
SAMPLES: dict[str, Any] = {
    "params": 7e9, "tokens": 2e12, "count": 1e9, "bytes_each": 512.0, "replication": 3.0, "overhead": 0.3,
    "index_overhead": 0.3, "mfu": 0.45, "usd_per_gpu_hour": 2.5, "days": 30.0, "prompt_tokens": 2000.0,
    "qps": 50.0, "latency_s": 2.0, "tokens_per_request": 500.0, "tokens_per_sec_per_gpu": 2000.0,
    "target_utilization": 0.6, "value": 1.5, "bytes": 1.5e9, "n": 7e9,
    "gpus": 64, "zero_stage": 3, "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "head_dim": 128,
    "seq_len": 4096, "micro_batch": 2, "batch": 8, "tp": 2, "dimension": 768, "vocab": 32000, "ffn_hidden": 11008,
    "experts": 1, "max_positions": 0,
    "with_optimizer": False, "binary": True, "gated_mlp": True, "tied_embeddings": False, "bias": False,
    "active": True,
    "precision": "fp16", "optimizer": "adamw", "gpu": "A100-80GB", "model": "llama-2-7b", "recompute": "selective",
    "dau": 1e7, "requests_per_user_per_day": 20.0, "peak_factor": 2.5, "active_hours": 16.0,
    "flops_per_request": 5e7, "core_gflops": 100.0, "efficiency": 0.25, "core_seconds_per_request": 0.002,
    "cores_per_server": 48, "spare": 2, "rate_per_s": 1e4, "total_bytes": 5e13, "node_bytes": 2e12, "fill": 0.6,
    "replicas": 2, "qps_per_replica": 1e4, "features": 300, "bytes_per_feature": 4.0, "key_bytes": 8.0,
    "timestamp_bytes": 4.0, "entities": 5e7, "row_bytes": 1500.0, "retention_days": 30, "updates_per_day": 2.0,
    "compression": 3.0, "online_replication": 2.0, "offline_replication": 2.0, "index_bytes_per_row": 50.0,
    "daily_bytes": 2e12, "daily_growth": 0.001, "hot_days": 7, "bytes_per_token": 4.2, "m": 16, "code_bytes": 32,
    "lists": 4096, "rows": 1e8, "batch_rows": 1e5, "device_gb": 96.0, "examples": 1e9,
    "examples_per_sec_per_gpu": 1e5, "epochs": 2.0, "scaling_efficiency": 0.85, "retrain_every_days": 3.0,
    "goodput": 0.9, "bandwidth_gbs": 100.0, "latency_us": 5.0, "gpu_mtbf_hours": 40000.0, "checkpoint_write_s": 30.0,
    "restart_s": 600.0, "interval_s": 3600.0, "write_gbs": 200.0, "pp": 2, "micro_batches": 16, "virtual_stages": 2,
    "link": "ib-ndr", "algorithm": "tree", "global_batch_tokens": 4194304.0, "compute_efficiency": 0.5, "overlap": 0.5,
    "gpus_per_node": 8, "intra_link": "nvlink3", "inter_link": "ib-hdr",
    "sp": True, "attention": "flash", "method": "lora", "lora_rank": 16, "lora_targets": "q,v",
    "offload": "none", "logit_bytes": 4.0, "reserve_gb": 2.0,
    "context": 1024, "output_tokens": 200, "kv_precision": "fp8", "bandwidth_efficiency": 0.7,
    "link_gbs": 250.0, "memory_utilization": 0.85, "workspace_gb": 4.0,
    "allreduce_us": 12.0, "tpot_target_s": 0.1, "ttft_target_s": 2.0,
}


def core_args(spec: Function) -> list[Any]:
    """Valid arguments for `spec`, as Python passes them (ints, canonical names)."""
    values = []
    for arg in spec.args:
        if arg.name in SAMPLES and (arg.choices is None or SAMPLES[arg.name] in arg.choices):
            values.append(SAMPLES[arg.name])
        else:  # field, unit, from_unit, to_unit: a listed name other than the default
            names = list(arg.choices)
            values.append(names[1] if len(names) > 1 and names[0] == arg.default else names[0])
    return values


def as_cells(spec: Function, values: list[Any]) -> list[Any]:
    """The same arguments as Excel passes them: numbers as floats, text in other case and padded."""
    cells = []
    for arg, value in zip(spec.args, values, strict=True):
        if arg.kind == WHOLE:
            cells.append(float(value))
        elif arg.kind == TEXT:
            cells.append(f"  {value.upper()} ")
        else:
            cells.append(value)
    return cells


# --- Parity: the UDFs are the catalog --------------------------------------------------------


def test_the_udfs_are_the_catalog_name_for_name():
    assert udfs.__all__ == list(CATALOG)
    functions = {name for name, value in vars(udfs).items() if name.isupper() and inspect.isfunction(value)}
    assert functions == set(CATALOG)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_each_udf_has_the_catalog_arguments_and_defaults(spec):
    udf = getattr(udfs, spec.name)
    assert udf.__name__ == spec.name  # classic xlwings names the Excel function after __name__
    params = list(inspect.signature(udf).parameters.values())
    assert [p.name for p in params] == [a.name for a in spec.args]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    for param, arg in zip(params, spec.args, strict=True):
        if arg.optional:
            assert param.default == arg.default and type(param.default) is type(arg.default)
        else:
            assert param.default is inspect.Parameter.empty


def test_argument_names_are_valid_in_vba():
    # "Import Functions" writes the Python argument names as VBA parameters.
    for spec in SPECS:
        for arg in spec.args:
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", arg.name)
            assert arg.name.lower() not in VBA_RESERVED, f"{spec.name}: {arg.name} is a VBA keyword"


def test_function_names_are_valid_in_vba_and_excel():
    for name in CATALOG:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) and name.lower() not in VBA_RESERVED
        assert not re.fullmatch(r"[A-Za-z]{1,3}[0-9]+|R[0-9]*C[0-9]*", name, flags=re.IGNORECASE)  # cell address


# --- Values: a cell gives what the core gives ----------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_udf_returns_the_core_value_for_excel_style_arguments(spec):
    values = core_args(spec)
    expected = spec.fn(*values)
    assert getattr(udfs, spec.name)(*as_cells(spec, values)) == expected


@pytest.mark.parametrize("spec", [s for s in SPECS if any(a.optional for a in s.args)], ids=lambda s: s.name)
def test_empty_optional_arguments_take_their_defaults(spec):
    required = [v for v, a in zip(core_args(spec), spec.args, strict=True) if not a.optional]
    optional = len(spec.args) - len(required)
    expected = spec.fn(*required)
    udf = getattr(udfs, spec.name)
    assert udf(*required) == expected  # omitted
    assert udf(*required, *[None] * optional) == expected  # empty cells
    assert udf(*required, *[""] * optional) == expected  # "" from a formula


def test_keyword_arguments_work_from_python():
    assert udfs.TRAIN_MEM(7e9, gpus=64.0, zero_stage=3.0) == get("TRAIN_MEM").fn(7e9, gpus=64, zero_stage=3)


def test_breakdowns_return_a_table_that_spills():
    for spec in (s for s in SPECS if s.table):
        table = getattr(udfs, spec.name)(*as_cells(spec, core_args(spec)))
        assert len({len(row) for row in table}) == 1  # rectangular, as Excel needs
        if table[0][0] == "component":  # parts and their sum; rows after the total are asides (host memory)
            labels = [row[0] for row in table]
            end = labels.index("total")
            assert len(labels) - 1 - end == sum(s.aside for s in spec.steps)
            assert table[end][1] == pytest.approx(sum(row[1] for row in table[1:end]))
        else:  # the steps of a chain that is not a sum, or a plan's rows
            assert table[0][0] in ("step", "quantity") and len(table) > 2


# --- Errors: one readable line, for bad input only ----------------------------------------------

BAD = {NUMBER: "7e9 params", WHOLE: 64.5, FLAG: "maybe", TEXT: "nonsense", MODEL: "nonsense"}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_bad_input_is_one_line_of_text_starting_with_value_error(spec):
    values = core_args(spec)
    values[0] = BAD[spec.args[0].kind]
    with pytest.raises(InputError) as raised:
        spec.fn(*bind(spec, tuple(values)))
    shown = getattr(udfs, spec.name)(*values)
    assert shown == f"#VALUE! {raised.value}"
    assert "\n" not in shown and spec.args[0].name in shown


def test_errors_name_the_argument_the_value_and_what_is_allowed():
    assert udfs.TRAIN_MEM(7e9, "bf16", "adam", 64.5) == "#VALUE! gpus: got 64.5; expected a whole number >= 1"
    assert udfs.TRAIN_MEM(None) == "#VALUE! params: got nothing; expected a number > 0"
    assert udfs.TRAIN_MEM(7e9, "bf16", "adma").endswith("Did you mean 'adam'?")


def test_an_error_cell_is_refused_not_read_as_empty():
    # err_to_str: xlwings passes an error cell as its text, which must not mean "default".
    assert udfs.TRAIN_MEM(7e9, "#N/A").startswith("#VALUE! precision: got '#N/A'; expected a known precision")


def test_a_range_is_refused_with_its_size_not_its_values():
    shown = udfs.TRAIN_MEM([[1.0, 2.0], [3.0, 4.0]])
    assert shown == "#VALUE! params: got a range of 4 cells; expected a single value or cell"


def test_other_exceptions_are_bugs_and_propagate():
    def broken(model, tokens, seq_len, recompute):
        raise ZeroDivisionError("bug")

    udf = udfs.make_udf(dataclasses.replace(get("TRAIN_FLOPS"), fn=broken))
    with pytest.raises(ZeroDivisionError):
        udf(7e9, 2e12)


# --- Descriptions: what the function wizard shows -------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_descriptions_fit_excel(spec):
    assert 0 < len(udfs.description(spec)) <= udfs.DESCRIPTION_LIMIT
    assert "`" not in udfs.description(spec)
    for arg in spec.args:
        assert 0 < len(udfs.arg_description(arg)) <= udfs.DESCRIPTION_LIMIT
        if arg.optional:
            assert "(optional; default " in udfs.arg_description(arg)


def test_udf_module_imports_nothing_beyond_xlwings_and_the_core():
    """xlwings Lite imports it in the browser: no openpyxl, click, rich... at import time."""
    code = (
        "import sys, xlwings; before = set(sys.modules); import envelope_xl.udfs; "
        "print(' '.join({m.split('.')[0] for m in set(sys.modules) - before} - sys.stdlib_module_names))"
    )
    added = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert added == ["envelope_xl"]


# --- Classic xlwings: the real registration and "Import Functions" --------------------------------


def test_xlwings_is_a_tested_version():
    assert xlwings.__version__ in TESTED_XLWINGS, "tests below rely on xlwings.udfs internals of these releases"


class FakeVBComponents:
    """The workbook's VBA project, as xlwings' import_udfs uses it."""

    def __init__(self) -> None:
        self.imported = ""

    def __call__(self, name: str) -> str:
        return name

    def Remove(self, component: str) -> None:
        pass

    def Import(self, path: str) -> None:
        self.imported = Path(path).read_text()


class FakeApplication:
    Version = "16.0"

    def __init__(self) -> None:
        self.macro_options: dict[str, dict[str, Any]] = {}

    def MacroOptions(self, macro: str, **options: Any) -> None:
        self.macro_options[macro] = options


@pytest.fixture(scope="module")
def classic():
    """xlwings.udfs with pywin32 stubbed, and our module decorated by its real decorators."""
    com_error = type("com_error", (Exception,), {})
    client = types.ModuleType("win32com.client")
    client.Dispatch = lambda *a, **k: pytest.fail("COM must not be used")
    stubs = {
        "pythoncom": types.SimpleNamespace(CoInitialize=lambda: None),
        "pywintypes": types.SimpleNamespace(com_error=com_error),
        "win32com": types.SimpleNamespace(client=client),
        "win32com.client": client,
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, stub in stubs.items():
            mp.setitem(sys.modules, name, stub)
        mp.delitem(sys.modules, "xlwings.udfs", raising=False)
        mp.setattr(xlwings, "udfs", None, raising=False)  # deleted again afterwards
        xludfs = importlib.import_module("xlwings.udfs")
        mp.setattr(xludfs, "__pro__", False)
        with pytest.MonkeyPatch.context() as decorators:
            decorators.setattr(xlwings, "func", xludfs.xlfunc)
            decorators.setattr(xlwings, "arg", xludfs.xlarg)
            decorators.setattr(xlwings, "ret", xludfs.xlret)
            spec = importlib.util.find_spec(UDF_MODULE)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        yield SimpleNamespace(xludfs=xludfs, module=module)


def test_classic_metadata_matches_the_catalog(classic):
    for spec in SPECS:
        meta = getattr(classic.module, spec.name).__xlfunc__
        assert meta["name"] == spec.name
        assert meta["category"] == udfs.CATEGORY
        assert meta["ret"]["doc"] == udfs.description(spec)
        assert [a["name"] for a in meta["args"]] == [a.name for a in spec.args]
        for info, arg in zip(meta["args"], spec.args, strict=True):
            assert info["doc"] == udfs.arg_description(arg)
            # A model may be a range of field/value rows: kept two-dimensional.
            assert info["options"] == ({"err_to_str": True, "ndim": 2} if arg.kind == MODEL else {"err_to_str": True})
            assert ("optional" in info) == arg.optional
            if arg.optional:
                assert info["optional"] == arg.default


def test_classic_vba_declares_every_function_with_its_optional_arguments(classic):
    buffer = io.StringIO()
    classic.xludfs.generate_vba_wrapper(UDF_MODULE, classic.module, buffer, SimpleNamespace(Name="plan.xlsm"))
    vba = buffer.getvalue()
    declared = re.findall(r"^Function (\w+)\((.*)\)$", vba, flags=re.MULTILINE)
    assert sorted(name for name, _ in declared) == sorted(CATALOG)
    for name, params in declared:
        spec = get(name)
        expected = [("Optional " if a.optional else "") + a.name for a in spec.args]
        assert params.split(", ") == expected
        array = ", ".join(a.name for a in spec.args)
        call = f'XLPy.CallUDF("{UDF_MODULE}", "{name}", Array({array}), ThisWorkbook, Application.Caller)'
        assert f"{name} = {call}" in vba
    assert "Function TRAIN_MEM(params, Optional precision, Optional optimizer, Optional gpus, " in vba
    assert "Function EMBED_STORAGE(count, dimension, Optional precision," in vba


def test_import_functions_registers_descriptions_and_category(classic, monkeypatch):
    """Run xlwings' own "Import Functions" against a stand-in workbook."""
    monkeypatch.setitem(
        classic.xludfs.udf_modules, UDF_MODULE, {"module": classic.module, "filename": "", "filetime": None}
    )
    components = FakeVBComponents()
    app = FakeApplication()
    book = SimpleNamespace(Name="plan.xlsm", VBProject=SimpleNamespace(VBComponents=components), Application=app)
    classic.xludfs.import_udfs(UDF_MODULE, book)

    assert components.imported.startswith('Attribute VB_Name = "xlwings_udfs"')
    assert components.imported.count("\nEnd Function") == len(CATALOG)
    assert set(app.macro_options) == {f"'plan.xlsm'!{name}" for name in CATALOG}
    for spec in SPECS:
        options = app.macro_options[f"'plan.xlsm'!{spec.name}"]
        assert options["Category"] == "envelope-xl"
        assert options["Description"] == udfs.description(spec)  # xlwings cuts at 255; nothing was cut
        assert options["ArgumentDescriptions"] == [udfs.arg_description(a) for a in spec.args]


def test_classic_decorators_are_no_ops_off_windows(classic):
    assert not hasattr(udfs.TRAIN_MEM, "__xlfunc__")  # so plain Python calls the function itself
    assert not hasattr(xlwings.func(lambda: 0), "__xlfunc__")  # the fixture put xlwings back


# --- xlwings Lite: a thin generated layer ----------------------------------------------------------


def test_lite_main_py_holds_exactly_the_catalog_functions():
    namespace: dict[str, Any] = {}
    exec(compile(lite.main_py(), "main.py", "exec"), namespace)
    held = {name: value for name, value in namespace.items() if not name.startswith("__")}
    assert set(held) == set(CATALOG)
    assert all(value is getattr(udfs, name) for name, value in held.items())


def test_lite_requirements_add_envelope_xl_and_keep_lites_xlwings():
    lines = [line for line in lite.requirements().splitlines() if not line.startswith("#")]
    assert lines == ["envelope-xl==0.1.0"]
    # New Lite workbooks start with xlwings 0.33.15 (Lite changelog, 1.0.0.0-18): our
    # requirement must admit it or micropip refuses to install envelope-xl.
    # What micropip installs in Pyodide: the requirements whose marker holds there, no extra.
    pyodide = {"sys_platform": "emscripten", "platform_system": "Emscripten", "extra": ""}
    requires = [Requirement(r) for r in metadata.requires("envelope-xl")]
    (xlwings_requirement,) = [r for r in requires if r.name == "xlwings" and r.marker.evaluate(pyodide)]
    assert xlwings_requirement.specifier.contains("0.33.15")
    url = "https://example.org/envelope_xl-0.1.0-py3-none-any.whl"
    assert lite.requirements(url).splitlines()[-1] == url


def test_lite_write_never_replaces_files_unasked(tmp_path):
    (tmp_path / "main.py").write_text("my code")
    with pytest.raises(FileExistsError, match=r"main\.py"):
        lite.write(tmp_path)
    assert (tmp_path / "main.py").read_text() == "my code"
    lite.write(tmp_path, force=True)
    assert (tmp_path / "main.py").read_text() == lite.main_py()


# --- xlwings.conf merging ---------------------------------------------------------------------


PY = r"C:\envs\capacity\python.exe"


def test_conf_new_file_gets_both_settings_with_crlf():
    merged = conf.plan("", UDF_MODULE, PY)
    assert merged.text == f'"UDF MODULES","{UDF_MODULE}"\r\n"INTERPRETER_WIN","{PY}"\r\n'


def test_conf_merge_keeps_everything_else_byte_for_byte():
    existing = (
        '"PYTHONPATH","C:\\code"\r\nnot a setting\r\n"udf modules","mine;other;"\r\n"INTERPRETER_WIN","C:\\PY.EXE"'
    )
    merged = conf.plan(existing, UDF_MODULE, "c:\\py.exe")
    assert merged.text == existing.replace('"mine;other;"', f'"mine;other;{UDF_MODULE}"') + "\r\n"
    assert merged.conflicts == []  # the same interpreter, in other case


def test_conf_is_idempotent():
    once = conf.plan("", UDF_MODULE, PY).text
    again = conf.plan(once, UDF_MODULE, PY)
    assert again.text == once and again.changes == []


def test_conf_other_interpreter_is_a_conflict_unless_forced():
    existing = '"INTERPRETER_WIN","C:\\other\\python.exe"\n'
    kept = conf.plan(existing, UDF_MODULE, PY)
    assert kept.text == existing + f'"UDF MODULES","{UDF_MODULE}"\n' and "--force" in kept.conflicts[0]
    forced = conf.plan(existing, UDF_MODULE, PY, force=True)
    assert f'"INTERPRETER_WIN","{PY}"\n' in forced.text and not forced.conflicts


def test_conf_leaves_interpreter_to_conda_settings():
    merged = conf.plan('"CONDA PATH","C:\\conda"\n"CONDA ENV","capacity"\n', UDF_MODULE, PY)
    assert "INTERPRETER_WIN" not in merged.text and "conda" in merged.conflicts[0]
    # Once INTERPRETER_WIN is set, the add-in ignores conda: the usual conflict rule applies.
    both = conf.plan(f'"CONDA ENV","capacity"\n"INTERPRETER_WIN","{PY}"\n', UDF_MODULE, PY)
    assert both.conflicts == []


def test_conf_refuses_values_vba_cannot_read():
    with pytest.raises(ValueError, match="quotes"):
        conf.plan("", UDF_MODULE, 'C:\\"odd"\\python.exe')


# --- envelope-xl excel setup / lite ---------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(excel_cli.excel, list(args))


def test_setup_refuses_the_classic_add_in_off_windows(monkeypatch, tmp_path):
    monkeypatch.setattr(excel_cli, "host", lambda: "Linux")
    result = run("setup", "--platform", "windows", "--config-file", str(tmp_path / "xlwings.conf"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the classic xlwings add-in runs only in Windows desktop Excel")
    assert "--platform web" in result.stderr and not (tmp_path / "xlwings.conf").exists()


def test_setup_on_windows_merges_the_config_and_prints_the_steps(monkeypatch, tmp_path):
    monkeypatch.setattr(excel_cli, "host", lambda: "Windows")
    path = tmp_path / "xlwings.conf"
    original = b'"UDF MODULES","mine"\r\n"INTERPRETER_WIN","C:\\other\\python.exe"\r\n'
    path.write_bytes(original)

    result = run("setup", "--config-file", str(path))
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == original.replace(b'"mine"', f'"mine;{UDF_MODULE}"'.encode())
    assert (tmp_path / "xlwings.conf.bak").read_bytes() == original
    assert "INTERPRETER_WIN is C:\\other\\python.exe, not this Python" in result.stderr
    for step in ("xlwings addin install", "Trust access to the VBA project object model", "Import Functions",
                 '=TRAIN_MEM(7e9,"bf16","adam")'):
        assert step in result.stdout

    again = run("setup", "--config-file", str(path))
    assert "already has the settings" in again.stdout and not (tmp_path / "xlwings.conf.bak1").exists()


def test_setup_dry_run_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(excel_cli, "host", lambda: "Windows")
    result = run("setup", "--dry-run", "--config-file", str(tmp_path / "xlwings.conf"))
    assert result.exit_code == 0 and "Would update" in result.stdout
    assert not (tmp_path / "xlwings.conf").exists()


def test_setup_elsewhere_prepares_xlwings_lite(monkeypatch, tmp_path):
    monkeypatch.setattr(excel_cli, "host", lambda: "Linux")
    result = run("setup", "--lite-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "main.py").read_text() == lite.main_py()
    assert "Excel on the web" in result.stdout and "xlwings Lite" in result.stdout
    refused = run("setup", "--platform", "macos", "--lite-dir", str(tmp_path))
    assert refused.exit_code == 2 and "use --force" in refused.stderr


def test_lite_command_writes_the_two_files(tmp_path):
    result = run("lite", str(tmp_path / "book"))
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "book").iterdir()) == ["main.py", "requirements.txt"]


@pytest.mark.parametrize("url", ["not a url", "http://example.org/e.whl", "https://example.org/e.whl\nevil==1"])
def test_lite_refuses_a_wheel_url_it_cannot_install(tmp_path, url):
    result = CliRunner().invoke(excel_cli.excel, ["lite", str(tmp_path / "book"), "--wheel-url", url])
    assert result.exit_code == 2 and "expected the https:// address of a .whl file" in result.output
    assert not (tmp_path / "book").exists()
