"""Hostile files are refused before loading, and one file's evaluation is bounded."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from msoffcrypto.format.ooxml import OOXMLFile
from openpyxl import Workbook

from envelope_xl.recalc.cli import recalc
from envelope_xl.recalc.package import PackageError
from envelope_xl.recalc.python_engine import PythonEngine
from envelope_xl.recalc.runner import FAILED, OK, Job, run_jobs
from envelope_xl.recalc.safety import MB, Limits, UnsafeWorkbookError, check_package
from envelope_xl.recalc.workbook import read_book

SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _good(path: Path, rows: int = 3) -> Path:
    wb = Workbook()
    ws = wb.active
    for i in range(1, rows + 1):
        ws.append([i * 1e9, f"=TRAIN_MEM(A{i})"])
    wb.save(path)
    return path


def _with_sheet(source: Path, target: Path, sheet_xml: bytes) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, sheet_xml if info.filename == SHEET else zin.read(info))
    return target


def _entity_bomb(folder: Path) -> Path:
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol0 "lol">{lol}]>'
           f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c>'
           "</row></sheetData></worksheet>").encode()
    return _with_sheet(_good(folder / "base.xlsx"), folder / "entity_bomb.xlsx", xml)


def _external_entity(folder: Path) -> Path:
    xml = (f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY host SYSTEM "file:///etc/hostname">]>'
           f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&host;</t></is></c>'
           "</row></sheetData></worksheet>").encode()
    return _with_sheet(_good(folder / "base2.xlsx"), folder / "external_entity.xlsx", xml)


def _zip_bomb(folder: Path, padding: int = 30 * MB) -> Path:
    xml = (f'<worksheet xmlns="{MAIN}"><sheetData>'.encode() + b" " * padding + b"</sheetData></worksheet>")
    return _with_sheet(_good(folder / "base3.xlsx"), folder / "zip_bomb.xlsx", xml)


def _truncated(folder: Path) -> Path:
    data = _good(folder / "base4.xlsx").read_bytes()
    target = folder / "truncated.xlsx"
    target.write_bytes(data[: len(data) // 2])
    return target


def _renamed_csv(folder: Path) -> Path:
    target = folder / "renamed.xlsx"
    target.write_text("params,precision\n7e9,bf16\n")
    return target


def _encrypted(folder: Path) -> Path:
    target = folder / "encrypted.xlsx"
    with _good(folder / "base5.xlsx").open("rb") as plain, target.open("wb") as out:
        OOXMLFile(plain).encrypt("secret", out)
    return target


def test_entity_bomb_is_refused_before_and_during_parsing(tmp_path):
    bomb = _entity_bomb(tmp_path)
    with pytest.raises(UnsafeWorkbookError, match="DTD or XML entities"):
        check_package(bomb)
    # Even without the check, the reader never expands an entity.
    with pytest.raises(Exception, match=r"DTD|[Ee]ntit"):
        read_book(bomb)


def test_external_entity_is_refused(tmp_path):
    with pytest.raises(UnsafeWorkbookError, match="external entities are refused"):
        check_package(_external_entity(tmp_path))


def test_zip_bomb_is_refused_by_ratio_and_by_total_size(tmp_path):
    bomb = _zip_bomb(tmp_path)
    with pytest.raises(UnsafeWorkbookError, match=r"unpacks \d+x .*zip bomb"):
        check_package(bomb)
    with pytest.raises(UnsafeWorkbookError, match="once unpacked, over the limit of 5 MB"):
        check_package(bomb, Limits(max_uncompressed=5 * MB, max_ratio=10_000))


def test_truncated_renamed_and_encrypted_files_are_refused_with_a_clear_message(tmp_path):
    with pytest.raises(PackageError, match="truncated or corrupt"):
        check_package(_truncated(tmp_path))
    with pytest.raises(PackageError, match="not a zip package"):
        check_package(_renamed_csv(tmp_path))
    with pytest.raises(PackageError, match=r"encrypted \(password-protected"):
        check_package(_encrypted(tmp_path))


def test_cell_and_row_limits_hold_even_when_the_dimension_lies(tmp_path):
    with pytest.raises(UnsafeWorkbookError, match="more than 10 cells"):
        PythonEngine(Limits(max_cells=10)).compute(_good(tmp_path / "many.xlsx", rows=20))
    far = (f'<worksheet xmlns="{MAIN}"><dimension ref="A1:B2"/><sheetData><row r="300000"><c r="A300000">'
           "<v>1</v></c></row></sheetData></worksheet>").encode()
    liar = _with_sheet(_good(tmp_path / "base6.xlsx"), tmp_path / "liar.xlsx", far)
    for read in (check_package, read_book):  # the declared dimension looks harmless; the stream is counted
        with pytest.raises(UnsafeWorkbookError, match="300000 rows, over the limit of 250000"):
            read(liar)


def test_one_file_over_its_time_or_memory_limit_does_not_stop_the_others(tmp_path):
    good = _good(tmp_path / "good.xlsx")
    slow = Job(good, tmp_path / "out" / "slow.xlsx", "python", limits=Limits(timeout=0.01))
    hungry = Job(good, tmp_path / "out" / "hungry.xlsx", "python", limits=Limits(memory=50 * MB))
    fine = Job(good, tmp_path / "out" / "good.xlsx", "python")
    results = run_jobs([slow, hungry, fine], workers=2)
    assert [r.status for r in results] == [FAILED, FAILED, OK]
    assert "time limit of 0.01 s" in results[0].message
    assert "memory limit of 50 MB" in results[1].message
    assert (tmp_path / "out" / "good.xlsx").exists()
    assert not (tmp_path / "out" / "slow.xlsx").exists()
    assert not list((tmp_path / "out").glob(".*.tmp"))  # no half-written file is left behind


def test_a_dtd_hidden_after_a_long_prolog_is_still_refused(tmp_path):
    padding = "<!--" + "x" * 10_000 + "-->"
    xml = (f'<?xml version="1.0"?>{padding}<!DOCTYPE worksheet [<!ENTITY a "aaaa">]>'
           f'<worksheet xmlns="{MAIN}"><sheetData/></worksheet>').encode()
    hidden = _with_sheet(_good(tmp_path / "base.xlsx"), tmp_path / "hidden.xlsx", xml)
    [result] = run_jobs([Job(hidden, tmp_path / "out.xlsx", "python")])
    assert result.status == "refused" and "refused as unsafe" in result.message


def test_every_hostile_file_in_one_run_exits_2_and_the_good_one_is_written(tmp_path):
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    for make in (_entity_bomb, _external_entity, _zip_bomb, _truncated, _renamed_csv, _encrypted):
        make(hostile)
    for base in hostile.glob("base*.xlsx"):
        base.unlink()
    _good(hostile / "good.xlsx")
    report = tmp_path / "report.json"
    result = CliRunner().invoke(recalc, [str(hostile), "--out-dir", str(tmp_path / "out"), "--engine", "python",
                                         "--jobs", "2", "--report", str(report)])
    assert result.exit_code == 2, result.output
    files = {Path(f["file"]).name: f for f in json.loads(report.read_text())["files"]}
    assert files["good.xlsx"]["status"] == OK
    assert (tmp_path / "out" / "good.xlsx").exists()
    for name in ("entity_bomb.xlsx", "external_entity.xlsx", "zip_bomb.xlsx"):
        assert files[name]["status"] == "refused" and "refused as unsafe" in files[name]["message"]
    for name, words in (("truncated.xlsx", "truncated or corrupt"), ("renamed.xlsx", "not a zip package"),
                        ("encrypted.xlsx", "encrypted")):
        assert files[name]["status"] == FAILED and words in files[name]["message"]
        assert not (tmp_path / "out" / name).exists()
