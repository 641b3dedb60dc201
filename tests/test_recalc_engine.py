"""The pure-Python engine computes every formula cell as the core and Excel would."""

from __future__ import annotations

import math

import pytest
from openpyxl import Workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from envelope_xl import catalog
from envelope_xl.recalc import names
from envelope_xl.recalc.engine import CellError
from envelope_xl.recalc.formula import Area, Name, template
from envelope_xl.recalc.python_engine import PythonEngine

ROWS = [  # params, precision, optimizer, gpus
    (7e9, "bf16", "adam", 1),
    (13e9, "fp16", "adamw", 8),
    (70e9, "fp32", "sgd", 64),
    (1.3e9, "fp8", "lion", None),  # empty gpus cell: the default applies
]


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "features.xlsx"
    wb = Workbook()
    main = wb.active
    main.title = "Main"
    main.append(["params", "precision", "optimizer", "gpus", "mem", "mem/gpu", "gpus to fit", "kind", "weights"])
    for i, (params, precision, optimizer, gpus) in enumerate(ROWS, start=2):
        main.append([params, precision, optimizer, gpus,
                     f"=TRAIN_MEM(A{i},B{i},C{i},D{i})",
                     f"=ROUND(E{i}/MAX(1,D{i}),2)",
                     f"=ROUNDUP(E{i}*OVERHEAD/GPU_MEM,0)",
                     f'=IF(G{i}>8,"multi-node",IF(G{i}>1,"multi-gpu","single"))',
                     f"=INDEX('Ref data'!$B$2:$B$5,MATCH(B{i},'Ref data'!$A$2:$A$5,0))*A{i}/1e9"])
    ref = wb.create_sheet("Ref data")
    ref.append(["precision", "bytes", None, "gpu", "memory", "usd"])
    for row in [("fp32", 4, None, "A100", 80, 2.0), ("bf16", 2, None, "H100", 80, 2.5),
                ("fp16", 2, None, "L4", 24, 0.8), ("fp8", 1)]:
        ref.append(row)
    ref["H1"], ref["H2"], ref["H3"] = 1.2, 80, "H100"
    wb.defined_names["OVERHEAD"] = DefinedName("OVERHEAD", attr_text="'Ref data'!$H$1")
    wb.defined_names["GPU_MEM"] = DefinedName("GPU_MEM", attr_text="'Ref data'!$H$2")
    wb.defined_names["GPU_NAME"] = DefinedName("GPU_NAME", attr_text="'Ref data'!$H$3")
    wb.defined_names["TOKENS"] = DefinedName("TOKENS", attr_text="2000000000000")
    s = wb.create_sheet("Summary")
    s.defined_names["LOCAL_SCALE"] = DefinedName("LOCAL_SCALE", attr_text="Summary!$Z$1")
    s["Z1"] = 10
    formulas = {
        "B1": "=SUM(Main!E2:E5)",
        "B2": "=MAX(Main!G2:G5)+MIN(Main!G2:G5)",
        "B3": "=VLOOKUP(GPU_NAME,'Ref data'!$D$2:$F$4,3,FALSE)",
        "B4": "=_xlfn.XLOOKUP(\"L4\",'Ref data'!D2:D4,'Ref data'!E2:E4)",
        "B5": "=CEILING(B2,8)",
        "B6": '=COUNTIF(Main!H2:H5,"single")',
        "B7": '=ROUNDUP(TRAIN_MEM(70000000000,"bf16")/GPU_MEM,0)',
        "B8": '=TRAIN_MEM(7e9,"bf16","adma")',
        "B9": "=IFERROR(B8,-1)",
        "B10": "=B8*2",
        "B11": '=UPPER(LEFT(HUMAN_BYTES(B1*1e9),3))&"!"',
        "B12": "=1/0",
        "B13": "=NOT_A_FUNCTION(1)",
        "B14": "=TRAIN_TIME(70e9,TOKENS,1024)",
        "B15": "=B1*LOCAL_SCALE",
        "B16": "=C16+1",
        "C16": "=B16+1",
        "B17": "=SUM(D1:E6)",
        "B18": "=train_mem(7e9)",
        "B19": '=_xldudf_XLWINGS_TRAIN_MEM(7e9,"fp32")',
        "B20": "=_xldudf_XLWINGS_DEV_MODEL_MEM(7e9)",
        "B21": '=XLWINGS.KV_CACHE(32,8,128,8192,4)',
        "B22": '=IF(ISNUMBER(SEARCH("GB",HUMAN_BYTES(1e9))),"has GB","no")',
        "B23": "=TRAIN_MEM(Main!A2:A5)",
        "B24": "=OFFSET(B1,1,0)",
        "B25": "=LOOP_A",
        "B26": '=TRAIN_MEM(7e9,,"sgd")',
        "B27": "=CHECKPOINT_SIZE(7e9,,,FALSE,)",
        "B28": "=SUM(1,,2)",
        "B29": "=TRANSFORMER_PARAMS(32,4096,32000,11008,TRUE,None,-1)",
        "B30": '=TRAIN_MEM(7e9,IF(FALSE,"fp8",""),"sgd")',  # "" from a formula: the default, as in Excel
        "B31": "=SUM(E2:E5)+MAX(H2:H4)",  # over the breakdown tables below
    }
    wb.defined_names["LOOP_A"] = DefinedName("LOOP_A", attr_text="LOOP_B+1")
    wb.defined_names["LOOP_B"] = DefinedName("LOOP_B", attr_text="LOOP_A+1")
    for ref_, text in formulas.items():
        s[ref_] = text
    s["D1"] = ArrayFormula("D1:E6", "=TRAIN_MEM_BREAKDOWN(7e9)")
    s["G1"] = ArrayFormula("G1:H7", "=KV_CACHE_BREAKDOWN(32,8,128,4096)")  # one row more than the table: #N/A
    wb.save(path)
    return PythonEngine().compute(path)


def test_envelope_function_cells_match_the_core(computed):
    for i, (params, precision, optimizer, gpus) in enumerate(ROWS, start=2):
        expected = catalog.call("TRAIN_MEM", params, precision, optimizer, gpus)
        assert computed[("Main", f"E{i}")] == pytest.approx(expected)
        assert computed[("Main", f"F{i}")] == pytest.approx(round(expected / max(1, gpus or 0), 2))
        fit = math.ceil(expected * 1.2 / 80)
        assert computed[("Main", f"G{i}")] == fit
        assert computed[("Main", f"H{i}")] == ("multi-node" if fit > 8 else "multi-gpu" if fit > 1 else "single")
        per_param = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}[precision]
        assert computed[("Main", f"I{i}")] == pytest.approx(per_param * params / 1e9)


def test_standard_functions_cross_sheet_and_names(computed):
    mems = [catalog.call("TRAIN_MEM", *row) for row in ROWS]
    fits = [math.ceil(m * 1.2 / 80) for m in mems]
    assert computed[("Summary", "B1")] == pytest.approx(sum(mems))
    assert computed[("Summary", "B2")] == max(fits) + min(fits)
    assert computed[("Summary", "B3")] == 2.5
    assert computed[("Summary", "B4")] == 24
    assert computed[("Summary", "B5")] == math.ceil((max(fits) + min(fits)) / 8) * 8
    assert computed[("Summary", "B6")] == sum(f <= 1 for f in fits)
    assert computed[("Summary", "B7")] == math.ceil(catalog.call("TRAIN_MEM", 70e9, "bf16") / 80)
    human = catalog.call("HUMAN_BYTES", sum(mems) * 1e9)
    assert computed[("Summary", "B11")] == human[:3].upper() + "!"
    assert computed[("Summary", "B14")] == pytest.approx(catalog.call("TRAIN_TIME", 70e9, 2e12, 1024))
    assert computed[("Summary", "B15")] == pytest.approx(sum(mems) * 10)
    assert computed[("Summary", "B22")] == "has GB"


def test_every_stored_name_form_calls_the_catalog(computed):
    assert computed[("Summary", "B18")] == catalog.call("TRAIN_MEM", 7e9)
    assert computed[("Summary", "B19")] == catalog.call("TRAIN_MEM", 7e9, "fp32")
    assert computed[("Summary", "B20")] == catalog.call("MODEL_MEM", 7e9)
    assert computed[("Summary", "B21")] == pytest.approx(catalog.call("KV_CACHE", 32, 8, 128, 8192, 4))


def test_an_empty_argument_of_an_envelope_function_takes_its_default(computed):
    assert computed[("Summary", "B26")] == catalog.call("TRAIN_MEM", 7e9, None, "sgd")
    assert computed[("Summary", "B27")] == catalog.call("CHECKPOINT_SIZE", 7e9, None, None, False)
    assert computed[("Summary", "B28")] == 3  # built-in functions keep Excel's rule: an empty argument is 0


def test_breakdown_arrays_fill_their_range(computed):
    table = catalog.call("TRAIN_MEM_BREAKDOWN", 7e9)
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            got = computed[("Summary", f"{'DE'[c]}{r + 1}")]
            assert got == (pytest.approx(value) if isinstance(value, float) else value)
    assert computed[("Summary", "B17")] == pytest.approx(sum(v for row in table for v in row if isinstance(v, float)))
    kv = catalog.call("KV_CACHE_BREAKDOWN", 32, 8, 128, 4096)
    assert computed[("Summary", f"H{len(kv)}")] == pytest.approx(kv[-1][1])
    assert computed[("Summary", f"G{len(kv) + 1}")].code == "#N/A"


def test_error_cells_carry_their_reason(computed):
    bad = computed[("Summary", "B8")]
    assert isinstance(bad, CellError) and bad.code == "#VALUE!"
    assert "optimizer: got 'adma'" in bad.reason and "Did you mean 'adam'?" in bad.reason
    assert computed[("Summary", "B9")] == -1
    assert computed[("Summary", "B10")] == bad  # the reason travels with the error
    assert computed[("Summary", "B12")] == CellError("#DIV/0!", "division by zero")
    assert computed[("Summary", "B13")] == CellError("#NAME?", "unknown function NOT_A_FUNCTION")
    assert computed[("Summary", "B29")] == CellError("#NAME?", "unknown name NONE")  # not a defined name
    assert "OFFSET is not supported by the python engine" in computed[("Summary", "B24")].reason
    assert "circular definition" in computed[("Summary", "B25")].reason
    circular = computed[("Summary", "B16")]
    assert circular.code == "#REF!" and "circular reference" in circular.reason and "Summary!C16" in circular.reason


def test_blank_text_takes_the_default_and_tables_can_be_summed(computed):
    assert computed[("Summary", "B30")] == catalog.call("TRAIN_MEM", 7e9, "bf16", "sgd")
    assert computed[("Summary", "B31")] == pytest.approx(112 + catalog.call("KV_CACHE", 32, 8, 128, 4096))


def test_a_table_reaching_past_the_last_stored_row_is_read_whole(tmp_path):
    # openpyxl stores only an array formula's anchor: A1:B6 ends below the last stored row (4).
    wb = Workbook()
    ws = wb.active
    ws["A1"] = ArrayFormula("A1:B6", "=TRAIN_MEM_BREAKDOWN(7e9)")
    ws["D1"], ws["D2"] = "=SUM(B2:B5)", "=MAX(B2:B5)"
    ws["D3"], ws["D4"] = '=VLOOKUP("total",A1:B6,2,FALSE)', '=MATCH("total",A1:A6,0)'
    wb.save(tmp_path / "table.xlsx")
    values = PythonEngine().compute(tmp_path / "table.xlsx")
    assert [values[("Sheet", c)] for c in ("D1", "D2", "D3", "D4")] == [112.0, 56.0, 112.0, 6.0]


def test_an_envelope_function_given_a_range_refuses_it_as_the_excel_add_in_does(computed):
    assert computed[("Summary", "B23")] == CellError(
        "#VALUE!", "TRAIN_MEM: params: got a range of 4 cells; expected a single value or cell"
    )


def test_every_formula_cell_is_reported(computed):
    assert len([k for k in computed if k[0] == "Main"]) == 5 * len(ROWS)
    assert ("Summary", "E6") in computed and ("Summary", "H7") in computed


@pytest.mark.parametrize(("stored", "expected"), [
    ("TRAIN_MEM", "TRAIN_MEM"),
    ("train_mem", "TRAIN_MEM"),
    ("Train_Mem_Breakdown", "TRAIN_MEM_BREAKDOWN"),
    ("[1]!TRAIN_MEM", "TRAIN_MEM"),
    ("_xldudf_XLWINGS_TRAIN_MEM", "TRAIN_MEM"),
    ("_XLDUDF_xlwings_train_mem_breakdown", "TRAIN_MEM_BREAKDOWN"),
    ("_xldudf_TRAIN_MEM", "TRAIN_MEM"),
    ("_xldudf_ENVELOPE_XL_MODEL_MEM", "MODEL_MEM"),
    ("XLWINGS.TRAIN_MEM", "TRAIN_MEM"),
    ("ML.TOOLS.KV_CACHE", "KV_CACHE"),
    ("SUM", None),
    ("_xlfn.XLOOKUP", None),
    ("_xldudf_XLWINGS_HELLO", None),
    ("TRAIN_MEMORY", None),
])
def test_name_forms(stored, expected):
    assert names.catalog_name(stored) == expected


def test_rename_leaves_strings_and_other_calls_alone():
    text = '=IF(A1="train_mem(",_xldudf_XLWINGS_TRAIN_MEM(A1),SUM(B1:B3))&"[1]!KV_CACHE("'
    assert names.rename_envelope_calls(text) == '=IF(A1="train_mem(",TRAIN_MEM(A1),SUM(B1:B3))&"[1]!KV_CACHE("'
    assert names.envelope_calls(text) == ["TRAIN_MEM"]


def test_template_replaces_references_and_names_by_placeholders():
    defined = {"OVERHEAD"}
    tpl = template("=TRAIN_MEM($B2,'My sheet'!C$2:D9,OVERHEAD)*LOG10(E:E)+7e9",
                   lambda sheet, name: name.upper() in defined, names.catalog_name)
    assert tpl.text == "=TRAIN_MEM(_R0,_R1,_R2)*LOG10(_R3)+7E+9"
    assert tpl.refs == (Area(None, 2, 2, 2, 2), Area("My sheet", 2, 3, 9, 4), Name(None, "OVERHEAD"),
                        Area(None, 1, 5, 1_048_576, 5))
    # Rows of a sweep share one shape, so the engine compiles it once.
    assert template("=TRAIN_MEM(B3,C3)", lambda *_: False, names.catalog_name).text == \
        template("=train_mem(B9,C9)", lambda *_: False, names.catalog_name).text


def test_excel_style_shared_formulas_and_spilled_arrays(tmp_path):
    """Parts as Excel writes them: shared formulas, a spill with stale cached values, shared strings."""
    import zipfile

    base = tmp_path / "base.xlsx"
    wb = Workbook()
    wb.active.title = "Plan"
    wb.save(base)
    sheet = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1"><v>7000000000</v></c><c r="B1"><f t="shared" ref="B1:B3" si="0">'
        b"_xldudf_XLWINGS_MODEL_MEM(A1)</f><v>1</v></c>"
        b'<c r="D1" t="str" cm="1"><f t="array" ref="D1:E6">TRAIN_MEM_BREAKDOWN(A1)</f><v>stale</v></c>'
        b'<c r="E1" t="str"><v>stale</v></c></row>'
        b'<row r="2"><c r="A2"><v>13000000000</v></c><c r="B2"><f t="shared" si="0"/><v>1</v></c>'
        b'<c r="D2" t="str"><v>stale</v></c><c r="E2"><v>-1</v></c></row>'
        b'<row r="3"><c r="A3" t="s"><v>0</v></c><c r="B3"><f t="shared" si="0"/><v>1</v></c></row>'
        b"</sheetData></worksheet>"
    )
    strings = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
               b"<si><r><t>7e</t></r><r><t>9</t></r></si></sst>")
    source = tmp_path / "excel_style.xlsx"
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(source, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = sheet
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.'
                                    b'org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                                    b"</Relationships>")
            zout.writestr(info, data)
        zout.writestr("xl/sharedStrings.xml", strings)
    computed = PythonEngine().compute(source)
    assert computed[("Plan", "B1")] == catalog.call("MODEL_MEM", 7e9)
    assert computed[("Plan", "B2")] == catalog.call("MODEL_MEM", 13e9)
    assert "params: got '7e9'" in computed[("Plan", "B3")].reason  # text is not a number, as in Excel
    table = catalog.call("TRAIN_MEM_BREAKDOWN", 7e9)
    assert [computed[("Plan", f"D{r}")] for r in range(1, 7)] == [row[0] for row in table]
    assert computed[("Plan", "E2")] == pytest.approx(table[1][1])
    from envelope_xl.recalc.writeback import write_back

    write_back(source, computed, tmp_path / "out.xlsx")
    with zipfile.ZipFile(tmp_path / "out.xlsx") as zf:
        written = zf.read("xl/worksheets/sheet1.xml")
    anchor = b'<c r="D1" t="str" cm="1"><f t="array" ref="D1:E6">TRAIN_MEM_BREAKDOWN(A1)</f><v>component</v></c>'
    assert anchor in written
    assert b'<c r="B2"><f t="shared" si="0"/><v>26</v></c>' in written
    assert b"stale" not in written
