"""The plans' model block: a preset's figures or a custom model's range, as the core sees them.

A sheet holding only the block (every figure) is recomputed in LibreOffice for every preset
and 20 random custom models; each figure must equal the core's for the same model (the
preset by name, the custom one as the range of rows `custom_model` holds) to a relative
1e-12, well below any rounding a plan shows; parameter counts are whole numbers below 2^53,
so they are exact in doubles.
"""

from __future__ import annotations

import io
import math
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import require
from openpyxl import load_workbook

from envelope_xl.libreoffice import convert_many, find_soffice
from envelope_xl.models import PRESETS, resolve_model
from envelope_xl.recalc.cli import recalc
from envelope_xl.templates import model_block, reference_tables, style

RANDOM_MODELS = 20


def _block_workbook() -> bytes:
    s = style.PlanSheet.in_new_workbook("Plan", "Model block", "What is the model?", style.HOW_TO_WITH_LISTS)
    s.section("1. Inputs")
    model_block.inputs(s, "llama-3-8b")
    s.section("2. The model")
    model_block.figures(s, list(model_block.FIGURES))
    s.section("3. Checks")
    model_block.checks(s)
    s.checks()
    reference_tables.add_reference_sheets(s.wb, ("models", "model_figures", "lists"))
    out = io.BytesIO()
    s.wb.save(out)
    return out.getvalue()


def _cell(wb: Any, name: str) -> Any:
    sheet, coordinate = next(wb.defined_names[name].destinations)
    return wb[sheet][coordinate.replace("$", "")]


def _defaults() -> dict[str, Any]:
    return {"model": "llama-3-8b", **model_block.INPUT_DEFAULTS}


def test_the_custom_range_is_the_range_form_of_the_model_argument() -> None:
    wb = load_workbook(io.BytesIO(_block_workbook()))
    rows = [tuple(c.value for c in row) for row in _cell(wb, "custom_model")]
    assert rows == model_block.core_model({**_defaults(), "model": "custom"})
    # Its defaults are Llama 3 8B's shape: the same parameter count as the preset.
    assert resolve_model("model", rows).total_params == resolve_model("model", "llama-3-8b").total_params


def test_every_figure_has_a_custom_formula_and_a_preset_value() -> None:
    wb = load_workbook(io.BytesIO(_block_workbook()))
    figure_rows = [row[0].value for row in _cell(wb, "fig_names")]
    assert figure_rows == list(model_block.FIGURES)
    assert [c.value for c in _cell(wb, "fig_models")[0]] == list(PRESETS)


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict[str, Any], Any]]:
    soffice = find_soffice()
    require("LibreOffice (soffice)", None if soffice else "the block is recomputed in it")
    folder = tmp_path_factory.mktemp("block")
    template = _block_workbook()
    rng = random.Random(13)
    cases = [{**_defaults(), "model": name} for name in PRESETS]
    cases += [{**_defaults(), "model": "custom"}]
    cases += [{**_defaults(), "model": "custom", **model_block.random_custom(rng)} for _ in range(RANDOM_MODELS)]
    sources = []
    for i, values in enumerate(cases):
        wb = load_workbook(io.BytesIO(template))
        for name, value in values.items():
            _cell(wb, f"in_{name}").value = value
        path = folder / f"case-{i:02d}.xlsx"
        wb.save(path)
        sources.append(path)
    outputs = convert_many(sources, folder / "out", "xlsx", timeout=300)
    return [(values, load_workbook(Path(out), data_only=True)) for values, out in zip(cases, outputs, strict=True)]


def test_every_figure_equals_the_core(recalculated: list) -> None:
    for values, wb in recalculated:
        arch = resolve_model("model", model_block.core_model(values))
        assert _cell(wb, "out_summary").value.startswith("All "), values
        for name, figure in model_block.FIGURES.items():
            got, want = _cell(wb, f"out_{name}").value, figure.of(arch)
            if isinstance(want, bool):
                assert got == want, f"{values['model']} {name}: sheet {got!r}, core {want!r}"
            else:
                assert isinstance(got, int | float) and math.isclose(got, want, rel_tol=1e-12), (
                    f"{values['model']} {name}: sheet {got!r}, core {want!r}")


def test_an_inconsistent_custom_model_shows_no_figure(tmp_path: Path) -> None:
    soffice = find_soffice()
    require("LibreOffice (soffice)", None if soffice else "the block is recomputed in it")
    wb = load_workbook(io.BytesIO(_block_workbook()))
    for name, value in {**_defaults(), "model": "custom", "cm_heads": 32, "cm_kv_heads": 5}.items():
        _cell(wb, f"in_{name}").value = value
    wb.save(tmp_path / "bad.xlsx")
    (out,) = convert_many([tmp_path / "bad.xlsx"], tmp_path / "out", "xlsx", timeout=120)
    got = load_workbook(out, data_only=True)
    assert _cell(got, "out_check_custom_model").value == "KV heads (5) must divide the heads (32)"
    assert _cell(got, "out_params").value in (None, "")
    assert _cell(got, "out_summary").value.startswith("ATTENTION: 1 of")


@pytest.mark.parametrize("engine", ["python", "libreoffice"])
def test_the_custom_range_feeds_the_envelope_functions(engine: str, tmp_path: Path) -> None:
    """`=MODEL_PARAMS(custom_model)` on a plan reads the same model as the plan's own formulas."""
    if engine == "libreoffice":
        require("LibreOffice (soffice)", None if find_soffice() else "the LibreOffice engine runs in it")
    wb = load_workbook(io.BytesIO(_block_workbook()))
    for name, value in {"model": "custom", "cm_layers": 40, "cm_experts": 8, "cm_experts_per_token": 2}.items():
        _cell(wb, f"in_{name}").value = value
    wb["Plan"]["H1"] = "=MODEL_PARAMS(custom_model)"
    wb["Plan"]["H2"] = "=MODEL_PARAMS(custom_model,TRUE)"
    wb.save(tmp_path / "in.xlsx")
    result = CliRunner().invoke(recalc, [str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx"),
                                       "--engine", engine])
    assert result.exit_code == 0, result.output
    ws = load_workbook(tmp_path / "out.xlsx", data_only=True)["Plan"]
    arch = resolve_model("model", [tuple(c.value for c in row) for row in _cell(wb, "custom_model")])
    assert arch.experts == 8 and arch.layers == 40
    assert (ws["H1"].value, ws["H2"].value) == (arch.total_params, arch.active_params)
