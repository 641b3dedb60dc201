"""Write-back is lossless: only cached values change, the input is never touched."""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.drawing.image import Image
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula
from PIL import Image as PILImage

from envelope_xl import catalog
from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.python_engine import PythonEngine
from envelope_xl.recalc.writeback import OutputExistsError, ask_full_calculation, patch_sheet, write_back

VBA_PART = "xl/vbaProject.bin"
VBA_BYTES = bytes.fromhex("D0CF11E0A1B11AE1") + b"Attribute VB_Name = \"xlwings_udfs\"" * 40


def _rich_workbook(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Plan"
    ws.append(["params", "precision", "optimizer", "memory (GB)", "GPUs"])
    for i, (params, precision) in enumerate([(7e9, "bf16"), (13e9, "fp16"), (70e9, "fp8")], start=2):
        ws.append([params, precision, "adam", f"=TRAIN_MEM(A{i},B{i},C{i})", f"=ROUNDUP(D{i}/GPU_MEM,0)"])
        ws[f"A{i}"].number_format = "0.0E+00"
        ws[f"D{i}"].number_format = "#,##0.0"
    ws["A6"] = "total"
    ws["D6"] = "=SUM(D2:D4)"
    ws["A7"] = "label"
    ws["D7"] = '=HUMAN_BYTES(D6*1e9)&" in total"'
    ws["A8"] = "fits?"
    ws["D8"] = "=D6<1000"
    ws["D9"] = '=TRAIN_MEM(1e9,"bf16","nope")'
    ws["G1"] = ArrayFormula("G1:H6", "=TRAIN_MEM_BREAKDOWN(A2,B2,C2)")
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="305496")
    ws.column_dimensions["A"].width = 18
    ws.freeze_panes = "A2"
    validation = DataValidation(type="list", formula1='"fp32,bf16,fp16,fp8"', allow_blank=True)
    ws.add_data_validation(validation)
    validation.add("B2:B4")
    ws.conditional_formatting.add("D2:D4", CellIsRule(operator="greaterThan", formula=["500"], fill=PatternFill(
        "solid", fgColor="FFC7CE")))
    ws["A1"].comment = Comment("Parameter count of the model", "envelope-xl")
    ws.sheet_properties.tabColor = "1072BA"
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=4), titles_from_data=True)
    ws.add_chart(chart, "J2")
    png = io.BytesIO()
    PILImage.new("RGB", (8, 8), (200, 30, 30)).save(png, format="PNG")
    png.seek(0)
    ws.add_image(Image(png), "J20")
    settings = wb.create_sheet("Settings")
    settings["A1"] = "GPU memory"
    settings["B1"] = 80
    wb.defined_names["GPU_MEM"] = DefinedName("GPU_MEM", attr_text="Settings!$B$1")
    wb.save(path)
    return path


def _add_vba(xlsx: Path, xlsm: Path) -> Path:
    """The same package as a macro-enabled workbook with a VBA project part."""
    with zipfile.ZipFile(xlsx) as zin, zipfile.ZipFile(xlsm, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"</Types>", b'<Default Extension="bin" '
                                    b'ContentType="application/vnd.ms-office.vbaProject"/></Types>')
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVBA" Type="http://schemas.microsoft.'
                                    b'com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                                    b"</Relationships>")
            zout.writestr(info, data)
        zout.writestr(VBA_PART, VBA_BYTES)
    return xlsm


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _without_values(sheet_xml: bytes) -> bytes:
    """A sheet part with cached values, value types and the dimension taken out."""
    text = re.sub(rb"<v>[^<]*</v>|<v\s*/>", b"", sheet_xml)
    text = re.sub(rb' t="(?:str|b|e|n)"', b"", text)
    return re.sub(rb'<dimension ref="[^"]*"', b"<dimension", text)


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("writeback")
    source = _add_vba(_rich_workbook(folder / "rich.xlsx"), folder / "rich.xlsm")
    before = _digest(source)
    results = PythonEngine().compute(source)
    output = folder / "out" / "rich.xlsm"
    write_back(source, results, output)
    return source, output, results, before


def test_input_is_unchanged(recalculated):
    source, _, _, before = recalculated
    assert _digest(source) == before


def test_output_gets_the_permissions_of_an_ordinary_new_file(recalculated):
    _, output, _, _ = recalculated
    mask = os.umask(0)
    os.umask(mask)
    assert output.stat().st_mode & 0o777 == 0o666 & ~mask


def test_untouched_parts_are_byte_identical(recalculated):
    source, output, _, _ = recalculated
    original, written = _parts(source), _parts(output)
    assert list(written) == list(original)
    changed = {name for name in original if original[name] != written[name]}
    assert changed == {"xl/worksheets/sheet1.xml"}
    for kept in (VBA_PART, "xl/theme/theme1.xml", "xl/styles.xml", "xl/charts/chart1.xml", "xl/media/image1.png",
                 "xl/comments/comment1.xml", "xl/drawings/drawing1.xml", "xl/worksheets/sheet2.xml"):
        assert written[kept] == original[kept]


def test_changed_parts_differ_only_in_values(recalculated):
    source, output, _, _ = recalculated
    original, written = _parts(source), _parts(output)
    sheet = "xl/worksheets/sheet1.xml"
    assert _without_values(written[sheet]) == _without_values(original[sheet]) or _only_new_array_cells(
        original[sheet], written[sheet])
    head, tail = (lambda x: (x.split(b"<sheetData>")[0], x.split(b"</sheetData>")[1]))(written[sheet])
    assert tail == original[sheet].split(b"</sheetData>")[1]
    assert re.sub(rb'<dimension ref="[^"]*"', b"", head) == re.sub(
        rb'<dimension ref="[^"]*"', b"", original[sheet].split(b"<sheetData>")[0])
    # openpyxl already asks for a full calculation: the workbook part is then left as it was.
    assert written["xl/workbook.xml"] == original["xl/workbook.xml"]
    assert b'fullCalcOnLoad="1"' in written["xl/workbook.xml"]


def _only_new_array_cells(original: bytes, written: bytes) -> bool:
    # Cells of the array range that openpyxl did not write are the only additions.
    added = re.sub(rb'<c r="(?:H1|[GH][2-6])"( t="str")?><v>[^<]*</v></c>', b"", written)
    added = re.sub(rb'<row r="\d+"></row>', b"", added)
    return _without_values(added) == _without_values(original)


def test_output_reads_back_with_values_formulas_and_formatting(recalculated):
    _, output, results, _ = recalculated
    values = load_workbook(output, data_only=True)["Plan"]
    formulas = load_workbook(output, keep_vba=True)
    plan = formulas["Plan"]
    assert values["D2"].value == pytest.approx(catalog.call("TRAIN_MEM", 7e9, "bf16", "adam"))
    total = sum(catalog.call("TRAIN_MEM", p, q, "adam") for p, q in [(7e9, "bf16"), (13e9, "fp16"), (70e9, "fp8")])
    assert values["D6"].value == pytest.approx(total)
    assert values["D8"].value is (total < 1000)
    assert values["D9"].value == "#VALUE!"
    assert values["D7"].value.endswith(" in total")
    assert values["H6"].value == pytest.approx(catalog.call("TRAIN_MEM", 7e9, "bf16", "adam"))
    assert values["G1"].value == "component"
    assert plan["D2"].value == "=TRAIN_MEM(A2,B2,C2)"
    assert plan["D2"].number_format == "#,##0.0"
    assert plan.freeze_panes == "A2"
    assert plan.column_dimensions["A"].width == 18
    assert plan["A1"].comment.text == "Parameter count of the model"
    assert len(plan.data_validations.dataValidation) == 1
    assert len(plan.conditional_formatting) == 1
    assert "GPU_MEM" in formulas.defined_names
    assert isinstance(results[("Plan", "D9")], CellError)


def test_existing_output_is_refused_unless_forced(recalculated, tmp_path):
    source, _, results, _ = recalculated
    target = tmp_path / "taken.xlsm"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="--force"):
        write_back(source, results, target)
    assert target.read_bytes() == b"keep me"
    write_back(source, results, target, force=True)
    assert zipfile.is_zipfile(target)
    assert [p.name for p in tmp_path.iterdir()] == ["taken.xlsm"]  # no temporary file left behind
    with pytest.raises(OutputExistsError, match="never modified"):
        write_back(source, results, source, force=True)


def _sheet(rows: str, prefix: str = "") -> bytes:
    ns = f'xmlns{":" + prefix[:-1] if prefix else ""}="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{prefix}worksheet {ns}>'
    return (head + f'<{prefix}dimension ref="A1:B2"/><{prefix}sheetData>{rows}</{prefix}sheetData>'
            f"</{prefix}worksheet>").encode()


def test_patch_keeps_shared_formulas_and_sets_types():
    rows = ('<row r="1"><c r="A1" s="3"><f t="shared" ref="A1:A3" si="0">B1*2</f><v>0</v></c></row>'
            '<row r="2"><c r="A2" s="3"><f t="shared" si="0"/></c><c r="B2" t="s"><v>0</v></c></row>'
            '<row r="3" spans="1:2"><c r="A3" s="3"><f t="shared" si="0"/><v>1</v></c></row>')
    out = patch_sheet(_sheet(rows), {(1, 1): 2.0, (2, 1): "a<b", (3, 1): CellError("#N/A", "x")})
    assert b'<c r="A1" s="3"><f t="shared" ref="A1:A3" si="0">B1*2</f><v>2</v></c>' in out
    assert b'<c r="A2" s="3" t="str"><f t="shared" si="0"/><v>a&lt;b</v></c><c r="B2" t="s"><v>0</v></c>' in out
    assert b'<row r="3" spans="1:2"><c r="A3" s="3" t="e"><f t="shared" si="0"/><v>#N/A</v></c></row>' in out


def test_patch_inserts_missing_cells_and_rows_in_order_with_the_parts_prefix():
    rows = '<x:row r="2"><x:c r="C2"><x:f>1</x:f></x:c></x:row><x:row r="5"/>'
    out = patch_sheet(_sheet(rows, "x:"), {(2, 3): 1.0, (2, 1): True, (4, 2): 0.5, (5, 1): "t", (7, 1): 1e20})
    body = out.split(b"<x:sheetData>")[1].split(b"</x:sheetData>")[0]
    assert body == (b'<x:row r="2"><x:c r="A2" t="b"><x:v>1</x:v></x:c><x:c r="C2"><x:f>1</x:f><x:v>1</x:v></x:c>'
                    b'</x:row><x:row r="4"><x:c r="B4"><x:v>0.5</x:v></x:c></x:row>'
                    b'<x:row r="5"><x:c r="A5" t="str"><x:v>t</x:v></x:c></x:row>'
                    b'<x:row r="7"><x:c r="A7"><x:v>1e+20</x:v></x:c></x:row>')
    assert b'<x:dimension ref="A1:C7"/>' in out


def test_full_calculation_is_requested_with_or_without_calc_pr():
    ns = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    with_pr = b"<workbook " + ns + b'><sheets/><calcPr calcId="191029" fullCalcOnLoad=\'0\'/></workbook>'
    assert ask_full_calculation(with_pr) == with_pr.replace(b"fullCalcOnLoad='0'", b"fullCalcOnLoad='1'")
    plain = b"<x:workbook " + ns.replace(b"xmlns", b"xmlns:x") + b'><x:calcPr calcId="191029" /></x:workbook>'
    assert ask_full_calculation(plain) == plain.replace(b"<x:calcPr", b'<x:calcPr fullCalcOnLoad="1"')
    without = b"<workbook " + ns + b"><sheets><sheet/></sheets><definedNames><definedName/></definedNames></workbook>"
    assert ask_full_calculation(without) == without.replace(b"</definedNames>",
                                                            b'</definedNames><calcPr fullCalcOnLoad="1"/>')
    # A calcPr inside a comment or another namespace is not the workbook's own.
    decoy = b"<workbook " + ns + b'><sheets/><!-- <calcPr/> --><x:calcPr xmlns:x="urn:other"/></workbook>'
    assert ask_full_calculation(decoy) == decoy.replace(b"<sheets/>", b'<sheets/><calcPr fullCalcOnLoad="1"/>')
