"""`envelope-xl recalc` keeps its promises under hostile files, faults and concurrency (issue 14).

Each test builds the offending file or situation and checks the promise as
docs/recalc-security.md states it: limits hold for every engine, every XML part is
parsed hardened, exit 0 means every formula cell was computed and written, the output
is well-formed and changed only in its cached values, a signal leaves nothing behind,
a run removes only its own files and never replaces another's output, both engines
read the same stored function names, a profile someone else could write is never run,
and both engines read the same text as numbers and dates. Tests that run LibreOffice
ask for the `libreoffice` fixture (skipped where it is missing, a failure in CI).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import require
from openpyxl import Workbook, load_workbook

from envelope_xl import catalog
from envelope_xl.libreoffice import engine as lo_engine
from envelope_xl.libreoffice import extension, profile
from envelope_xl.recalc.cli import recalc
from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.package import PackageError, SheetPart
from envelope_xl.recalc.python_engine import PythonEngine
from envelope_xl.recalc.runner import FAILED, OK, REFUSED, Job, complete, run_jobs
from envelope_xl.recalc.safety import Limits, UnsafeWorkbookError, check_package, formula_inventory
from envelope_xl.recalc.sheetxml import CACHED, Budget, read_sheet
from envelope_xl.recalc.writeback import patch_sheet, write_back, xstring

REPO = Path(__file__).resolve().parent.parent
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET1 = "xl/worksheets/sheet1.xml"
ENGINES = ["python", "libreoffice"]


@pytest.fixture(scope="module")
def libreoffice_ready(private_libreoffice_cache):
    return lo_engine.unavailable_reason()


def _engine(name: str, reason: str | None):
    """The engine called `name`, after making sure LibreOffice is there when it is the one asked for."""
    if name == "libreoffice":
        require("LibreOffice", reason)
        return lo_engine.LibreOfficeEngine()
    return PythonEngine()


@pytest.fixture(params=ENGINES)
def engine(request):
    reason = request.getfixturevalue("libreoffice_ready") if request.param == "libreoffice" else None
    return _engine(request.param, reason)


def _sheet_xml(rows: str, head: str = "") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">{head}<sheetData>{rows}</sheetData>' \
           "</worksheet>".encode()


def _base(path: Path, titles: tuple[str, ...] = ("Plan",)) -> Path:
    wb = Workbook()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about titles Excel would refuse; these tests want them
        wb.active.title = titles[0]
        for title in titles[1:]:
            wb.create_sheet(title)
    wb.save(path)
    return path


def _rewrite(source: Path, target: Path, parts: dict[str, bytes | None], extra: dict[str, bytes] | None = None) -> Path:
    """A copy of a package with some parts replaced (None: left out) and others added."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in parts:
                if parts[info.filename] is not None:
                    zout.writestr(info.filename, parts[info.filename])
            else:
                zout.writestr(info, zin.read(info))
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return target


def _workbook(folder: Path, name: str, rows: str, titles=("Plan",), **more: bytes) -> Path:
    base = _base(folder / f"base-{name}", titles)
    return _rewrite(base, folder / name, {SHEET1: _sheet_xml(rows), **more})


def _part(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def _run(*args: str):
    return CliRunner().invoke(recalc, list(args))


# --- 1. limits hold for every engine, checked before any engine runs ----------------------------

def _many_cells(path: Path, cells: int) -> Path:
    wb = Workbook()
    ws = wb.active
    for i in range(1, cells // 2 + 1):
        ws.append([i, f"=A{i}*2"])
    wb.save(path)
    return path


@pytest.mark.parametrize("name", ENGINES)
def test_the_cell_limit_holds_for_every_engine(tmp_path, name, request):
    if name == "libreoffice":
        require("LibreOffice", request.getfixturevalue("libreoffice_ready"))
    source = _many_cells(tmp_path / "many.xlsx", 1000)
    report = tmp_path / "report.json"
    result = _run(str(source), "-o", str(tmp_path / "out.xlsx"), "--engine", name, "--max-cells", "100",
                  "--report", str(report))
    assert result.exit_code == 2, result.output
    [entry] = json.loads(report.read_text())["files"]
    assert entry["status"] == REFUSED and "over the cell limit" in entry["message"]
    assert not (tmp_path / "out.xlsx").exists()


@pytest.mark.parametrize("name", ENGINES)
def test_the_row_limit_holds_when_the_dimension_claims_a1(tmp_path, name, request):
    if name == "libreoffice":
        require("LibreOffice", request.getfixturevalue("libreoffice_ready"))
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(1, 1501))
    rows += '<row r="1501"><c r="B1501"><f>SUM(A1:A1500)</f></c></row>'
    liar = _rewrite(_base(tmp_path / "base.xlsx"), tmp_path / "liar.xlsx",
                    {SHEET1: _sheet_xml(rows, '<dimension ref="A1"/>')})
    [result] = run_jobs([Job(liar, tmp_path / "out.xlsx", name, limits=Limits(max_rows=1000))])
    assert result.status == REFUSED and "uses 1001 rows, over the limit of 1000" in result.message
    assert not (tmp_path / "out.xlsx").exists()


def test_an_array_formula_range_counts_toward_the_cell_limit(tmp_path):
    whole_sheet = '<row r="1"><c r="A1"><f t="array" ref="A1:XFD1048576">1</f></c></row>'
    tiny = _workbook(tmp_path, "array.xlsx", whole_sheet)
    assert tiny.stat().st_size < 8_000
    with pytest.raises(UnsafeWorkbookError, match=r"the range A1:XFD1048576 of Plan!A1 counts\), over the cell limit"):
        check_package(tiny)
    table = '<row r="1"><c r="A1"><f t="dataTable" ref="A1:Z400000" dt2D="0" dtr="0" r1="B1"/></c></row>'
    with pytest.raises(UnsafeWorkbookError, match=r"over the cell limit|over the limit of 250000"):
        check_package(_workbook(tmp_path, "table.xlsx", table))
    [result] = run_jobs([Job(tiny, tmp_path / "out.xlsx", "auto")])
    assert result.status == REFUSED


# --- 2. every XML part is parsed hardened, whatever its name or encoding ------------------------

_DTD = '<!DOCTYPE worksheet [<!ENTITY e "entity">]>'


def _hostile_packages(folder: Path) -> dict[str, Path]:
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>&e;</t></is></c><c r="B1"><f>1+1</f><v>0</v></c></row>'
    body = f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'
    late = f'<?xml version="1.0"?><!--{"x" * 5000}-->{_DTD}{body}'.encode()
    utf16 = f'<?xml version="1.0" encoding="UTF-16"?>{_DTD}{body}'.encode("utf-16")
    base = _base(folder / "base.xlsx")
    out = {
        "after a 5 KB comment": _rewrite(base, folder / "late.xlsx", {SHEET1: late}),
        "in a UTF-16 part": _rewrite(base, folder / "utf16.xlsx", {SHEET1: utf16}),
    }
    # The sheet stored under another extension, which the relationships point at.
    rels = _part(base, "xl/_rels/workbook.xml.rels").replace(b"worksheets/sheet1.xml", b"worksheets/sheet1.dat")
    types = _part(base, "[Content_Types].xml").replace(b"/xl/worksheets/sheet1.xml", b"/xl/worksheets/sheet1.dat")
    out["in a part named .dat"] = _rewrite(
        base, folder / "dat.xlsx",
        {SHEET1: None, "xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types},
        {"xl/worksheets/sheet1.dat": f"{_DTD}{body}".encode()},
    )
    # A part no relationship mentions, with an extension that says nothing of XML.
    out["in an unreferenced part"] = _rewrite(base, folder / "loose.xlsx", {},
                                              {"customXml/item9.bin": f"{_DTD}<a/>".encode("utf-16")})
    return out


def test_a_dtd_is_refused_wherever_it_hides(tmp_path):
    for where, path in _hostile_packages(tmp_path).items():
        with pytest.raises(UnsafeWorkbookError, match="declares a DTD or XML entities"):
            check_package(path)
        report = tmp_path / f"{path.stem}.json"
        result = _run(str(path), "-o", str(tmp_path / f"{path.stem}.out.xlsx"), "--report", str(report))
        assert result.exit_code == 2, (where, result.output)
        assert json.loads(report.read_text())["files"][0]["status"] == REFUSED, where


# --- 3. exit 0 means every formula cell was computed and written ---------------------------------

def test_long_and_quoted_sheet_names_are_matched_by_place(tmp_path, engine):
    long_name = "Scenario sweep for the 70B model run"  # 36 characters: LibreOffice cuts it to 31
    quoted = "It's"
    source = _base(tmp_path / "base.xlsx", (long_name, quoted))
    rows = ('<row r="1"><c r="A1"><v>7000000000</v></c><c r="B1"><f>TRAIN_MEM(A1)</f></c>'
            "<c r=\"C1\"><f>'It''s'!A1*2</f></c></row>")
    other = _sheet_xml(f'<row r="1"><c r="A1"><f>MODEL_MEM(1E9)</f></c><c r="B1"><f>\'{long_name}\'!A1/1E9</f></c>'
                       "</row>")
    book = _rewrite(source, tmp_path / "names.xlsx", {SHEET1: _sheet_xml(rows), "xl/worksheets/sheet2.xml": other})
    values = complete(engine.compute(book), formula_inventory(book), engine.name)
    model_mem = catalog.call("MODEL_MEM", 1e9)
    assert values == {(long_name, "B1"): catalog.call("TRAIN_MEM", 7e9), (long_name, "C1"): 2 * model_mem,
                      (quoted, "A1"): model_mem, (quoted, "B1"): 7.0}


def test_sheet_names_excel_does_not_allow_are_refused(tmp_path):
    for name in ("Q3: plan?", "'Plan'", "a[1]"):  # LibreOffice drops or renames such sheets
        source = _base(tmp_path / "base.xlsx", ("Plan", "Other"))
        workbook = _part(source, "xl/workbook.xml").replace(b'name="Other"', f'name="{name}"'.encode())
        book = _rewrite(source, tmp_path / "bad-name.xlsx", {"xl/workbook.xml": workbook})
        with pytest.raises(PackageError, match="is one Excel does not allow"):
            check_package(book)


def test_sheets_whose_names_differ_only_in_case_are_refused(tmp_path):
    source = _base(tmp_path / "base.xlsx", ("Plan", "Other"))
    workbook = _part(source, "xl/workbook.xml").replace(b'name="Other"', b'name="PLAN"')
    book = _rewrite(source, tmp_path / "twins.xlsx", {"xl/workbook.xml": workbook})
    with pytest.raises(PackageError, match="two sheets are named 'Plan' and 'PLAN'"):
        check_package(book)


def test_a_malformed_sheet_fails_with_every_engine(tmp_path):
    rows = '<row r="1"><c r="A1"><f>TRAIN_MEM(7E9)</f></c></row><row r="2"><c r="A2"><f>1+1</f>'  # cut short
    book = _rewrite(_base(tmp_path / "base.xlsx"), tmp_path / "broken.xlsx",
                    {SHEET1: f'<worksheet xmlns="{MAIN}"><sheetData>{rows}'.encode()})
    with pytest.raises(PackageError, match="is not well-formed XML"):
        check_package(book)
    result = _run(str(book), "-o", str(tmp_path / "out.xlsx"))  # the default engine
    assert result.exit_code == 2 and "not well-formed" in result.output
    assert not (tmp_path / "out.xlsx").exists()


def _data_table(folder: Path) -> Path:
    # A one-variable Excel data table: C3:C5 are A2 (=A1*10) for A1 = B3, B4, B5; E1 sums them.
    rows = ('<row r="1"><c r="A1"><v>1</v></c><c r="E1"><f>SUM(C3:C5)</f></c></row>'
            '<row r="2"><c r="A2"><f>A1*10</f><v>10</v></c><c r="C2"><f>A2</f><v>10</v></c></row>'
            '<row r="3"><c r="B3"><v>2</v></c><c r="C3"><f t="dataTable" ref="C3:C5" dt2D="0" dtr="0" r1="A1"/>'
            '<v>20</v></c></row><row r="4"><c r="B4"><v>3</v></c><c r="C4"><v>30</v></c></row>'
            '<row r="5"><c r="B5"><v>4</v></c><c r="C5"><v>40</v></c></row>')
    return _workbook(folder, "table.xlsx", rows)


def test_data_table_cells_are_error_cells_with_every_engine(tmp_path, engine):
    book = _data_table(tmp_path)
    inventory = check_package(book)
    values = complete(engine.compute(book, inventory), inventory, engine.name)
    for cell in ("C3", "C4", "C5"):
        assert values[("Plan", cell)].code == "#N/A"
        assert "Excel data table" in values[("Plan", cell)].reason
    assert values[("Plan", "E1")].code == "#N/A"  # what depends on the table is an error too, never a stale sum
    assert values[("Plan", "A2")] == 10.0 and values[("Plan", "C2")] == 10.0


def test_data_tables_exit_1_and_are_reported(tmp_path):
    report = tmp_path / "report.json"
    result = _run(str(_data_table(tmp_path)), "-o", str(tmp_path / "out.xlsx"), "--engine", "python",
                  "--report", str(report))
    assert result.exit_code == 1, result.output
    errors = {e["cell"]: e for e in json.loads(report.read_text())["files"][0]["errors"]}
    assert errors["C3"]["formula"] == "(Excel data table)" and "What-If" in errors["C3"]["reason"]
    assert load_workbook(tmp_path / "out.xlsx", data_only=True)["Plan"]["C4"].value == "#N/A"


def test_relationship_targets_in_another_case_or_percent_encoded_are_followed(tmp_path, engine):
    source = _base(tmp_path / "base.xlsx")
    rels = _part(source, "xl/_rels/workbook.xml.rels").replace(b"worksheets/sheet1.xml", b"WorkSheets/Sheet%31.XML")
    rows = '<row r="1"><c r="A1"><v>7000000000</v></c><c r="B1"><f>TRAIN_MEM(A1)</f></c></row>'
    book = _rewrite(source, tmp_path / "encoded.xlsx", {SHEET1: _sheet_xml(rows), "xl/_rels/workbook.xml.rels": rels})
    inventory = check_package(book)
    assert complete(engine.compute(book, inventory), inventory, engine.name) == {
        ("Plan", "B1"): catalog.call("TRAIN_MEM", 7e9)}


def test_a_formula_cell_an_engine_left_out_is_an_error_cell(tmp_path):
    rows = '<row r="1"><c r="A1"><f>1+1</f></c><c r="B1"><f>2+2</f></c><c r="C1"><v>3</v></c></row>'
    inventory = check_package(_workbook(tmp_path, "two.xlsx", rows))
    values = complete({("Plan", "A1"): 2.0, ("Plan", "C1"): 3.0}, inventory, "test")
    assert values == {("Plan", "A1"): 2.0,
                      ("Plan", "B1"): CellError("#N/A", "the test engine gave no value for this cell")}


# --- 4. cached strings are valid OOXML text --------------------------------------------------------

def test_strings_are_written_with_ooxml_escapes_and_the_output_stays_valid(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "Plan"
    ws["A1"], ws["A2"], ws["A3"] = "=CHAR(1)", '="_x0041_"', "=UNICHAR(55296)"
    ws["A4"], ws["A5"] = '="a"&CHAR(13)&"b"', '="x<y & _xZZZZ_"'
    wb.save(tmp_path / "text.xlsx")
    result = _run(str(tmp_path / "text.xlsx"), "-o", str(tmp_path / "out.xlsx"), "--engine", "python")
    assert result.exit_code in (0, 1), result.output  # UNICHAR of a lone surrogate may be an error cell
    sheet = _part(tmp_path / "out.xlsx", SHEET1)
    ET.fromstring(sheet)  # well-formed XML 1.0
    assert b"<v>_x0001_</v>" in sheet and b"<v>_x005F_x0041_</v>" in sheet and b"<v>a_x000D_b</v>" in sheet
    values = read_sheet(sheet, SheetPart("Plan", SHEET1, 0), CACHED, Limits(), Budget(100)).values
    assert values[(1, 1)] == "\x01" and values[(2, 1)] == "_x0041_" and values[(4, 1)] == "a\rb"
    assert values[(5, 1)] == "x<y & _xZZZZ_"
    assert xstring("\ud800") == "_xD800_" and xstring("\uffff") == "_xFFFF_"


def test_odd_results_never_make_an_output_that_does_not_open(tmp_path):
    source = _workbook(tmp_path, "odd.xlsx", '<row r="1"><c r="A1"><f>1</f></c><c r="B1"><f>2</f></c></row>')
    write_back(source, {("Plan", "A1"): float("inf"), ("Plan", "B1"): CellError("Err:502")}, tmp_path / "out.xlsx")
    sheet = _part(tmp_path / "out.xlsx", SHEET1)
    assert b'<c r="A1" t="e"><f>1</f><v>#NUM!</v></c>' in sheet
    assert b'<c r="B1" t="e"><f>2</f><v>#VALUE!</v></c>' in sheet


# --- 5. write-back follows the XML, changes only cached values -----------------------------------

def test_write_back_changes_only_values_in_legal_but_unusual_xml():
    head = f'<worksheet xmlns="{MAIN}" xmlns:z="urn:z"><sheetData>'
    before = (
        head + '<row r="1" z:note="a>b"><c r="A1" z:note="1 > 0" s="2"><f>1+1</f><v>0</v>'
        '<extLst><ext uri="u"><c xmlns="urn:foreign" r="A1"><f>x</f><v>keep</v></c></ext></extLst></c>'
        "<!-- <c r=\"B1\"><v>9</v></c> --><c r='B1'><f><![CDATA[A1*2]]></f><v>1</v></c></row>"
        '<row r="3"/></sheetData><z:c r="C1"><v>keep</v></z:c></worksheet>'
    ).encode()
    after = patch_sheet(before, {(1, 1): 2.0, (1, 2): "a&b", (3, 1): True})
    expected = (
        head + '<row r="1" z:note="a>b"><c r="A1" z:note="1 > 0" s="2"><f>1+1</f><v>2</v>'
        '<extLst><ext uri="u"><c xmlns="urn:foreign" r="A1"><f>x</f><v>keep</v></c></ext></extLst></c>'
        "<!-- <c r=\"B1\"><v>9</v></c> --><c r='B1' t=\"str\"><f><![CDATA[A1*2]]></f><v>a&amp;b</v></c></row>"
        '<row r="3"><c r="A3" t="b"><v>1</v></c></row></sheetData><z:c r="C1"><v>keep</v></z:c></worksheet>'
    ).encode()
    assert after == expected
    ET.fromstring(after)


# --- 6. a signal stops everything and leaves nothing --------------------------------------------

def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a process that ended and only waits to be reaped)."""
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def _command(name: str) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{int(name)}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


@pytest.fixture
def subreaper():
    """This test process adopts orphans (Linux), so a process the run left running is seen."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not sys.platform.startswith("linux") or libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        pytest.skip("needs Linux to find processes left behind")
    yield
    libc.prctl(36, 0, 0, 0, 0)


_OURS = ("forkserver", "soffice", "oosplash", "envelope_xl")


def _stopped_run(tmp_path: Path, engine: str, signum: int, wait_for: str) -> tuple[subprocess.CompletedProcess, set]:
    """Start a run, send `signum` once `wait_for` runs (2: a worker beside the fork server), and
    return how it ended and the processes it left."""
    source = tmp_path / "sweep.xlsx"
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_recalc import build_sweep
    finally:
        sys.path.pop(0)
    build_sweep(source, 3000)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    command = [sys.executable, "-c", "from envelope_xl.cli import run; run()", "recalc", str(source),
               "--out-dir", str(tmp_path / "out"), "--engine", engine]
    ours_already = _descendants(os.getpid())  # e.g. the fork server of this test session
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if sum(wait_for in _command(str(p)) for p in _descendants(process.pid)) >= (wait_for == "forkserver") + 1:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be stopped"
    time.sleep(0.3)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    time.sleep(0.5)
    left = {p: _command(str(p)) for p in _descendants(os.getpid()) - ours_already
            if _running(p) and any(w in _command(str(p)) for w in _OURS)}
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), left


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_every_process_removes_every_file_and_exits_128_plus_it(tmp_path, subreaper, signum, status):
    done, left = _stopped_run(tmp_path, "python", signum, "forkserver")
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr and f"stopped by {signal.Signals(signum).name}" in done.stderr
    assert not left, f"processes left running: {left}"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert not list((tmp_path / "tmp").iterdir())  # no pymp-* folder, no temporary file


def test_sigterm_stops_libreoffice_too(tmp_path, subreaper, libreoffice_ready):
    require("LibreOffice", libreoffice_ready)
    done, left = _stopped_run(tmp_path, "libreoffice", signal.SIGTERM, "soffice.bin")
    assert done.returncode == 143, done.stderr
    assert not left, f"processes left running: {left}"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert not list((tmp_path / "tmp").iterdir())


# --- 7. a run removes only the files it created, by their exact name -----------------------------

def test_a_failed_run_removes_only_its_own_files(tmp_path):
    source = _many_cells(tmp_path / "plan.xlsx", 20)
    out = tmp_path / "out"
    out.mkdir()
    decoys = [out / ".out.xlsx.notes.tmp", out / ".out.xlsx.v2.xlsx.1a2b3c.tmp", out / ".a.xlsx.x.tmp"]
    for decoy in decoys:
        decoy.write_text("not yours")
    slow = Limits(timeout=0.01)
    results = run_jobs([Job(source, out / "out.xlsx", "python", limits=slow),
                        Job(source, out / "[ab].xlsx", "python", limits=slow)])
    assert [r.status for r in results] == [FAILED, FAILED]
    assert sorted(out.iterdir()) == sorted(decoys)


def test_one_failing_file_does_not_disturb_another_with_a_longer_name(tmp_path):
    good = _many_cells(tmp_path / "good.xlsx", 400)
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    out = tmp_path / "out"
    results = run_jobs([Job(bad, out / "a.xlsx", "python"), Job(good, out / "a.xlsx.v2.xlsx", "python")], workers=2)
    assert [r.status for r in results] == [FAILED, OK]
    assert sorted(p.name for p in out.iterdir()) == ["a.xlsx.v2.xlsx"]


# --- 8. an output is never silently replaced -------------------------------------------------------

def test_two_runs_to_the_same_new_output_never_both_succeed(tmp_path):
    one = _many_cells(tmp_path / "one.xlsx", 200)
    two = _many_cells(tmp_path / "two.xlsx", 300)
    target = tmp_path / "out" / "plan.xlsx"
    results = run_jobs([Job(one, target, "python"), Job(two, target, "python")], workers=2)
    assert sorted(r.status for r in results) == [FAILED, OK]
    loser = next(r for r in results if r.status == FAILED)
    assert "exists; use --force" in loser.message
    winner = next(r for r in results if r.status == OK)
    assert winner.formula_cells == len(load_workbook(target)["Sheet"]["B"])
    assert [p.name for p in target.parent.iterdir()] == ["plan.xlsx"]


def test_an_output_that_appears_while_the_result_is_written_is_never_replaced(tmp_path):
    source = _many_cells(tmp_path / "plan.xlsx", 40_000)  # a few hundred milliseconds of writing
    results = PythonEngine().compute(source)
    target = tmp_path / "out" / "plan.xlsx"
    target.parent.mkdir()

    def another_run() -> None:  # puts its own output in place while this one is being written
        deadline = time.monotonic() + 60
        while not list(target.parent.glob(".plan.xlsx.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.001)
        target.write_bytes(b"the other run's output")

    other = threading.Thread(target=another_run)
    other.start()
    with pytest.raises(FileExistsError, match="exists; use --force"):
        write_back(source, results, target)
    other.join()
    assert target.read_bytes() == b"the other run's output"
    assert [p.name for p in target.parent.iterdir()] == ["plan.xlsx"]


def test_force_replaces_regular_files_only(tmp_path):
    source = _many_cells(tmp_path / "plan.xlsx", 4)
    fifo = tmp_path / "fifo.xlsx"
    os.mkfifo(fifo)
    link = tmp_path / "link.xlsx"
    link.symlink_to(tmp_path / "elsewhere.xlsx")
    for target in (fifo, link):
        result = _run(str(source), "-o", str(target), "--force", "--engine", "python")
        assert result.exit_code == 2 and "not a regular file" in result.output, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert not (tmp_path / "elsewhere.xlsx").exists()


# --- 9. both engines read every stored form of a function name ------------------------------------

def _name_forms(folder: Path) -> tuple[Path, dict[tuple[str, str], float]]:
    rows = (
        '<row r="1"><c r="A1"><f>train_mem(7E9)</f></c><c r="B1"><f><![CDATA[TRAIN_MEM(7E9,"fp32")]]></f></c>'
        '<c r="C1"><f>TRAIN&#95;MEM(13E9)</f></c><c r="D1"><f>ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM(1E9)</f></c>'
        '<c r="E1"><f>_xldudf_XLWINGS_MODEL_MEM(7E9)</f></c><c r="F1"><f>XLWINGS.KV_CACHE(32,8,128,4096)</f></c>'
        '<c r="G1"><f>DOUBLED</f></c></row>'
    )
    prefixed = (f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData><x:row r="1"><x:c r="A1"><x:f>TRAIN_MEM(2E9)</x:f>'
                "</x:c></x:row></x:sheetData></x:worksheet>").encode()
    source = _base(folder / "base.xlsx", ("Plan", "Prefixed"))
    workbook = _part(source, "xl/workbook.xml").replace(
        b"<definedNames />", b'<definedNames><definedName name="DOUBLED">2*MODEL&#95;MEM(1E9)</definedName>'
                             b"</definedNames>")
    book = _rewrite(source, folder / "forms.xlsx", {SHEET1: _sheet_xml(rows), "xl/worksheets/sheet2.xml": prefixed,
                                                    "xl/workbook.xml": workbook})
    call = catalog.call
    expected = {
        ("Plan", "A1"): call("TRAIN_MEM", 7e9), ("Plan", "B1"): call("TRAIN_MEM", 7e9, "fp32"),
        ("Plan", "C1"): call("TRAIN_MEM", 13e9), ("Plan", "D1"): call("TRAIN_MEM", 1e9),
        ("Plan", "E1"): call("MODEL_MEM", 7e9), ("Plan", "F1"): call("KV_CACHE", 32, 8, 128, 4096),
        ("Plan", "G1"): 2 * call("MODEL_MEM", 1e9), ("Prefixed", "A1"): call("TRAIN_MEM", 2e9),
    }
    return book, expected


def test_both_engines_read_every_stored_form_of_a_name(tmp_path, engine):
    book, expected = _name_forms(tmp_path)
    values = engine.compute(book)
    assert {key: pytest.approx(value, rel=1e-12) for key, value in expected.items()} == values


# --- 10. a profile someone else could write is never run ---------------------------------------------

def _plant(folder: Path) -> Path:
    """A template as a hostile user would leave it: matching the current build, so it would be used."""
    soffice = lo_engine.find_soffice()
    planted = folder / "planted"
    planted.mkdir(parents=True)
    stamps = {"files": profile._stamp(extension.sources()), "soffice": profile._stamp([soffice.resolve()])}
    (planted / "sources.json").write_text(json.dumps(stamps))
    (folder / "current").write_text("planted\n")
    os.chmod(folder, 0o777)
    return planted


def test_a_planted_profile_in_the_shared_temporary_folder_is_never_used(tmp_path, monkeypatch, libreoffice_ready):
    require("LibreOffice", libreoffice_ready)
    (tmp_path / "file").write_text("a file, so no cache folder can be made under it")
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.delenv("ENVELOPE_XL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file" / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    planted = _plant(shared / f"envelope-xl-{os.getuid()}")
    template = profile.template_profile()
    assert template != planted and not planted.exists()
    assert stat.S_IMODE(os.stat(template.parent).st_mode) & 0o022 == 0


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="a folder of another user needs root")
def test_a_cache_folder_another_user_owns_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVELOPE_XL_CACHE", str(tmp_path / "theirs"))
    (tmp_path / "theirs" / "libreoffice").mkdir(parents=True)
    os.chown(tmp_path / "theirs" / "libreoffice", 65534, 65534)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert profile.cache_root() == tmp_path / f"envelope-xl-{os.getuid()}"


# --- 11. both engines read text as numbers and dates alike; the report says what the docs say -------

VALUE_TEXTS = {
    "1,234.5": 1234.5, "$1,000": 1000.0, "50%": 0.5, "(5)": -5.0, "-1,234": -1234.0, "1,234,567": 1234567.0,
    "+1,000.5": 1000.5, "-$1,000": -1000.0, "1,234e2": 123400.0, "12:00": 0.5, "2024-01-02": 45293.0,
    "1,23": "#VALUE!", "1 234": "#VALUE!", "1.234,5": "#VALUE!", "abc": "#VALUE!",
}


def _value_book(folder: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Plan"
    for row, text in enumerate(VALUE_TEXTS, start=1):
        ws.cell(row, 1, text)
        ws.cell(row, 2, f"=VALUE(A{row})")
        ws.cell(row, 3, f"=A{row}*1")  # arithmetic converts text the same way
    wb.save(folder / "base.xlsx")
    sheet = _part(folder / "base.xlsx", SHEET1).replace(
        b"</sheetData>", b'<row r="99"><c r="A99" t="d"><v>2024-03-01T12:00:00</v></c><c r="B99"><f>A99+1</f></c>'
                         b'<c r="C99" t="d"><v>1900-01-01</v></c><c r="D99"><f>C99</f></c></row></sheetData>')
    return _rewrite(folder / "base.xlsx", folder / "values.xlsx", {SHEET1: sheet})


def test_both_engines_read_numbers_in_text_and_iso_dates_alike(tmp_path, engine):
    values = engine.compute(_value_book(tmp_path))
    for row, (text, expected) in enumerate(VALUE_TEXTS.items(), start=1):
        for column in "BC":
            got = values[("Plan", f"{column}{row}")]
            assert (got.code if isinstance(got, CellError) else got) == expected, (text, column)
    assert values[("Plan", "B99")] == 45353.5


def test_iso_dates_count_as_excel_counts(tmp_path):
    values = PythonEngine().compute(_value_book(tmp_path))
    assert values[("Plan", "D99")] == 1.0  # 1 January 1900 is day 1 in Excel's 1900 date system


def test_the_report_keys_are_the_documented_ones(tmp_path):
    report = tmp_path / "report.json"
    _run(str(_many_cells(tmp_path / "plan.xlsx", 4)), "-o", str(tmp_path / "out.xlsx"), "--engine", "python",
         "--report", str(report))
    entry = json.loads(report.read_text())["files"][0]
    assert next(iter(entry)) == "file"
    for doc in (REPO / "docs" / "recalc.md", REPO / "docs" / "recalc-security.md"):
        text = doc.read_text()
        assert all(f"`{key}`" in text or f" {key}," in text for key in entry), doc
        assert "files`: source," not in text

