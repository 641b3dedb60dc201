"""The model argument: presets, Hugging Face config.json files, mappings and spreadsheet ranges.

Parameter counts are checked exactly against released checkpoints (the total of the
safetensors index, as each model card prints it), so a tolerance would hide a missing
bias or norm; headline figures that papers round ("671B") are checked at their rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envelope_xl.catalog import CATALOG, call
from envelope_xl.errors import InputError
from envelope_xl.models import PRESETS, Architecture, resolve_model
from envelope_xl.registry import MODEL

CONFIGS = Path(__file__).with_name("configs")
#: The configs in tests/configs are the published config.json files of these presets.
CONFIG_PRESETS = sorted(p.stem for p in CONFIGS.glob("*.json"))

PUBLISHED = {
    # Released checkpoint totals (model cards / safetensors metadata).
    "qwen2.5-7b": 7_615_616_512,  # Qwen/Qwen2.5-7B
    "qwen2.5-72b": 72_706_203_648,  # Qwen/Qwen2.5-72B, "72.7B"
    "qwen3-8b": 8_190_735_360,  # Qwen/Qwen3-8B, "8.2B"
    "gemma-2-9b": 9_241_705_984,  # google/gemma-2-9b
    "mixtral-8x22b": 140_630_071_296,  # mistralai/Mixtral-8x22B-v0.1, "141B"
    "mixtral-8x7b": 46_702_792_704,
    "mistral-7b": 7_241_732_096,
    "llama-3-8b": 8_030_261_248,
}


@pytest.mark.parametrize("preset", sorted(PUBLISHED))
def test_published_totals_are_exact(preset):
    assert call("MODEL_PARAMS", preset) == PUBLISHED[preset]


def test_deepseek_v3_headline_counts():
    # DeepSeek-V3 Technical Report, section 4.2: "671B total parameters, of which 37B are activated".
    # The 14B multi-token-prediction module is not part of the 671B and is not counted.
    assert round(call("MODEL_PARAMS", "deepseek-v3") / 1e9) == 671
    # 37.55B computed; the report rounds down (the 0.93B input embedding is a look-up, not compute): 2%.
    assert call("MODEL_PARAMS", "deepseek-v3", True) == pytest.approx(37e9, rel=0.02)


def test_mixtral_8x22b_active_count():
    # Mistral AI's announcement: 39B active of 141B.
    assert round(call("MODEL_PARAMS", "mixtral-8x22b", True) / 1e9) == 39


def test_deepseek_v2_from_its_config():
    # DeepSeek-V2 (arXiv:2405.04434), abstract: 236B total, 21B activated per token.
    config = {
        "model_type": "deepseek_v2", "hidden_size": 5120, "num_hidden_layers": 60, "num_attention_heads": 128,
        "num_key_value_heads": 128, "intermediate_size": 12288, "moe_intermediate_size": 1536,
        "n_routed_experts": 160, "n_shared_experts": 2, "num_experts_per_tok": 6, "first_k_dense_replace": 1,
        "moe_layer_freq": 1, "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 102400, "topk_method": "group_limited_greedy",
        "max_position_embeddings": 163840,
    }
    m = resolve_model("model", config)
    assert round(m.total_params / 1e9) == 236
    assert round(m.active_params / 1e9) == 21
    assert not m.router_bias


@pytest.mark.parametrize("preset", CONFIG_PRESETS)
def test_config_file_reads_as_the_preset(preset):
    from_file = resolve_model("model", str(CONFIGS / f"{preset}.json"))
    assert from_file.config() == PRESETS.get("model", preset).config()
    assert "config.json" in from_file.origin


def test_mla_cache_is_57_times_smaller_than_per_head_keys_and_values():
    m = PRESETS.get("model", "deepseek-v3")
    assert m.kv_values_per_layer() == 512 + 64
    assert 2 * 128 * 128 / m.kv_values_per_layer() == pytest.approx(56.9, abs=0.05)


def test_windows():
    mistral = PRESETS.get("model", "mistral-7b")
    assert (mistral.sliding_window, mistral.window_layers) == (4096, 32)
    gemma = PRESETS.get("model", "gemma-2-9b")
    assert gemma.cached_tokens(100_000) == 21 * 100_000 + 21 * 4096
    qwen = resolve_model("model", {**_config("qwen2.5-7b"), "use_sliding_window": True, "max_window_layers": 20})
    assert (qwen.sliding_window, qwen.window_layers) == (131072, 8)
    listed = resolve_model("model", {**_config("llama-3-8b"), "sliding_window": 512,
                                     "layer_types": ["sliding_attention", "full_attention"] * 16})
    assert listed.window_layers == 16


def test_attention_flops_per_token():
    m = PRESETS.get("model", "llama-2-7b")
    assert m.attention_flops_per_token(1000) == 4 * 32 * 32 * 128 * 1000
    mla = PRESETS.get("model", "deepseek-v3")  # scores over 192 dims, values over 128
    assert mla.attention_flops_per_token(10) == 2 * 128 * (192 + 128) * 61 * 10


# --- Every form of the argument gives the same answer in every function -----------------------

def _config(preset: str) -> dict:
    return json.loads((CONFIGS / f"{preset}.json").read_text())


def _range(preset: str) -> tuple[tuple[object, ...], ...]:
    m = PRESETS.get("model", preset)
    return (("field", "value"), ("name", preset), *((k, v) for k, v in m.config().items()))


MODEL_FUNCTIONS = [s for s in CATALOG.values() if s.args and s.args[0].kind == MODEL]


@pytest.mark.parametrize("spec", MODEL_FUNCTIONS, ids=lambda s: s.name)
@pytest.mark.parametrize("preset", ["deepseek-v3", "gemma-2-9b", "qwen2.5-7b", "mixtral-8x7b"])
def test_every_form_gives_the_same_result(spec, preset):
    rest = spec.example[1:]
    expected = _outcome(spec.name, preset, *rest)
    for form in (str(CONFIGS / f"{preset}.json"), _config(preset), _range(preset)):
        assert _outcome(spec.name, form, *rest) == expected, form if isinstance(form, str) else type(form)


def _outcome(name: str, *args: object) -> object:
    """The value, or the argument an InputError names (a serving function refuses a model whose
    weights do not fit the example's GPU, whatever form the model comes in)."""
    try:
        return call(name, *args)
    except InputError as refused:
        return f"refused: {refused.arg}"


def test_range_cells_as_excel_gives_them():
    rows = [["Layers", 2.0], ["hidden", 8.0], ["heads", 2.0], ["vocab", 10.0], [None, None],
            ["gated_mlp", "TRUE"], ["tied_embeddings", 1.0]]
    m = resolve_model("model", rows)
    assert (m.layers, m.ffn_hidden, m.gated_mlp, m.tied_embeddings) == (2, 32, True, True)
    assert call("MODEL_PARAMS", rows) == call("TRANSFORMER_PARAMS", 2, 8, 10, None, True, 2, None, None, True)


def test_bare_count():
    assert call("MODEL_PARAMS", 7e9) == call("MODEL_PARAMS", 7e9, True) == 7e9
    with pytest.raises(InputError, match="needs the model's architecture"):
        call("KV_CACHE_MODEL", 7e9, 1000)


def test_config_loading_is_cached_until_the_file_changes(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_config("llama-3-8b")))
    first = resolve_model("model", str(path))
    assert resolve_model("model", str(path)) is first
    path.write_text(json.dumps({**_config("llama-3-8b"), "num_hidden_layers": 16}))
    assert resolve_model("model", str(path)).layers == 16


# --- Bad input: one line naming what is wrong ----------------------------------------------------

@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"model_type": "gpt_neox"}, "model model_type: got 'gpt_neox'; expected one of llama, mistral"),
        ({"model_type": "llama", "hidden_size": 64}, "model num_hidden_layers: got nothing; expected "
         "num_hidden_layers in a llama config.json"),
        ([["layers", 2.0], ["hiden", 8.0]], "model row 2: got 'hiden'; expected a known model field: "),
        ([["layers", -2.0], ["hidden", 8.0], ["heads", 2.0], ["vocab", 10.0]],
         "model.layers: got -2.0; expected a whole number >= 1"),
        ([["layers", 2.5], ["hidden", 8.0], ["heads", 2.0], ["vocab", 10.0]],
         "model.layers: got 2.5; expected a whole number >= 1"),
        ([["layers", 2.0], ["hidden", 10.0], ["heads", 4.0], ["vocab", 10.0]],
         "model.head_dim: got nothing; expected a value: hidden (10) is not a multiple of heads (4)"),
        ([["layers", 2.0], ["hidden", 8.0], ["vocab", 10.0]], "model.heads: got nothing; expected the model's"),
        ([["layers", 2.0, 3.0]], "model: got 'a range 3 cells wide'; expected two columns"),
        ("lama-3-8b", "Did you mean 'llama-3-8b'?"),
        ("missing/config.json", "model: got 'missing/config.json'; expected a preset name or the path of a "
         "config.json: No such file or directory"),
        (True, "model: got True; expected a preset name"),
    ],
)
def test_bad_models(value, message):
    with pytest.raises(InputError) as raised:
        resolve_model("model", value)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_bad_config_files(tmp_path):
    not_json = tmp_path / "config.json"
    not_json.write_text("{'model_type': 'llama'}")
    with pytest.raises(InputError, match=r"expected a JSON config\.json"):
        resolve_model("model", str(not_json))
    deep = tmp_path / "deep.json"
    deep.write_text('{"model_type": "llama", "x": ' + "[" * 100 + "]" * 100 + "}")
    with pytest.raises(InputError, match="nested at most 32 levels"):
        resolve_model("model", str(deep))
    huge = tmp_path / "huge.json"
    huge.write_text('{"pad": "' + "x" * 1_100_000 + '"}')
    with pytest.raises(InputError, match="under 1,000,000 bytes"):
        resolve_model("model", str(huge))
    with pytest.raises(InputError, match="not a folder"):
        resolve_model("model", str(tmp_path) + "/")


def test_architecture_is_a_value():
    m = PRESETS.get("model", "llama-3-8b")
    assert resolve_model("model", m) is m
    assert isinstance(m, Architecture)
