"""The LibreOffice engine's own steps, without LibreOffice: the rename pre-pass and reading results back."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from envelope_xl.libreoffice import engine
from envelope_xl.libreoffice.headless import LibreOfficeError
from envelope_xl.libreoffice.readback import formula_values
from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.safety import formula_inventory

TRAIN_MEM = "ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

_WORKBOOK = (
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>{names}</workbook>'
)
_ROOT_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)


def _package(path: Path, cells: str, names: str = "", sheet: str = "Plan &amp; costs") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=sheet, names=names))
        archive.writestr("xl/_rels/workbook.xml.rels", _RELS)
        sheet_xml = f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">{cells}</row></sheetData></worksheet>'
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        archive.writestr("xl/styles.xml", "<styleSheet>TRAIN_MEM(</styleSheet>")
    return path


def _part(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode()


def test_rename_binds_every_envelope_call_and_nothing_else(tmp_path):
    source = _package(
        tmp_path / "in.xlsx",
        '<c r="A1"><f>train_mem(B1)&amp;"TRAIN_MEM(x)"</f><v>1</v></c>'
        '<c r="A2"><f>IF(B1&gt;1,_xldudf_XLWINGS_TRAIN_MEM(B1),SUM(B1))</f></c>'
        '<c r="A3"><f t="shared" si="0" ref="A3:A4">XLWINGS.KV_CACHE_BREAKDOWN(1,2,3,4)</f></c>'
        '<c r="A4"><f t="shared" si="0"/></c><c r="A5" t="inlineStr"><is><t>TRAIN_MEM(1)</t></is></c>',
        names='<definedNames><definedName name="M">TRAIN_MEM(7E9)*2</definedName></definedNames>',
    )
    target = tmp_path / "out.xlsx"
    engine.rename_for_libreoffice(source, target)
    sheet = _part(target, "xl/worksheets/sheet1.xml")
    assert f'<f>{TRAIN_MEM}(B1)&amp;"TRAIN_MEM(x)"</f>' in sheet
    assert f"<f>IF(B1&gt;1,{TRAIN_MEM}(B1),SUM(B1))</f>" in sheet
    assert ">ORG.ENVELOPEXL.ENVELOPEADDIN.KVCACHEBREAKDOWN(1,2,3,4)</f>" in sheet
    assert "<t>TRAIN_MEM(1)</t>" in sheet  # a text cell is not a formula
    assert f'<definedName name="M">{TRAIN_MEM}(7E9)*2</definedName>' in _part(target, "xl/workbook.xml")
    assert _part(target, "xl/styles.xml") == "<styleSheet>TRAIN_MEM(</styleSheet>"  # only formula parts


def test_results_are_read_back_with_their_types(tmp_path):
    book = _package(
        tmp_path / "computed.xlsx",
        '<c r="A1" s="0" t="n"><f aca="false">TRAIN_MEM(1)</f><v>112</v></c>'
        '<c r="B1" s="0" t="str"><f aca="false">HUMAN_BYTES(1)</f><v>1 &amp; 2 GB</v></c>'
        '<c r="C1" s="0" t="e"><f aca="false">TRAIN_MEM(0)</f><v>#VALUE!</v></c>'
        '<c r="D1" s="0" t="b"><f aca="false">1&gt;0</f><v>1</v></c>'
        '<c r="E1" s="0" t="n"><v>5</v></c>'
        '<c r="F1" s="0" t="s"><f t="array" ref="F1:G2" aca="false">T(1)</f><v>0</v></c>'
        '<c r="G1" s="0" t="n"><v>14</v></c></row><row r="2"><c r="F2" s="0" t="str"><v>total</v></c>'
        '<c r="G2" s="0" t="n"><v>2.5</v></c>',
    )
    with zipfile.ZipFile(book, "a") as archive:
        archive.writestr("xl/sharedStrings.xml", '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                                                 '2006/main"><si><t>component</t></si></sst>')
    values = formula_values(book)
    sheet = "Plan & costs"
    assert values == {
        (sheet, "A1"): 112.0, (sheet, "B1"): "1 & 2 GB", (sheet, "C1"): CellError("#VALUE!"), (sheet, "D1"): True,
        (sheet, "F1"): "component", (sheet, "G1"): 14.0, (sheet, "F2"): "total", (sheet, "G2"): 2.5,
    }


def test_without_libreoffice_the_engine_says_what_to_install(monkeypatch):
    monkeypatch.setattr(engine, "find_soffice", lambda: None)
    assert not engine.available()
    assert "apt-get install" in engine.unavailable_reason()
    with pytest.raises(LibreOfficeError, match="libreoffice-calc-nogui"):
        engine.LibreOfficeEngine().compute(Path("any.xlsx"))


def test_bad_timeout_is_refused():
    with pytest.raises(ValueError, match="timeout: got 0"):
        engine.LibreOfficeEngine(timeout=0)


def test_formula_cells_are_found_whichever_quotes_the_xml_uses(tmp_path):
    book = _package(
        tmp_path / "quotes.xlsx",
        "<c r='A1'><f>TRAIN_MEM(7e9)</f></c>"
        "<c r='B1'><f t='array' ref='B1:C2'>TRAIN_MEM_BREAKDOWN(7e9)</f></c>"
        '<c r="D1"><f>1+1</f></c>',
    )
    sheet = "Plan & costs"
    assert formula_inventory(book).formula_cells() == {(sheet, c) for c in ("A1", "B1", "C1", "B2", "C2", "D1")}
