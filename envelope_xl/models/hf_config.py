"""Hugging Face `config.json` files as architectures.

Each supported `model_type` maps its own field names to ours. A field the count needs
and the file lacks is an error naming it; where the family's configuration class has a
documented default (`num_key_value_heads` = `num_attention_heads`, `head_dim` = hidden /
heads, `tie_word_embeddings`), that default is used and said in the architecture's
origin. A config is data: parsed as JSON, never executed, and large or deeply nested
files are refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from envelope_xl.errors import InputError
from envelope_xl.models.architecture import Architecture

#: Configs are a few kilobytes; anything near this is not a model configuration.
MAX_BYTES = 1_000_000
MAX_DEPTH = 32

#: model_type -> (tie_word_embeddings default of its config class, what is special).
#: Sources: the configuration classes of Hugging Face transformers (v4.46+), e.g.
#: `LlamaConfig`, `Qwen2Config`, `Gemma2Config`, `DeepseekV3Config`.
FAMILIES: dict[str, bool] = {
    "llama": False,
    "mistral": False,
    "mixtral": False,
    "qwen2": False,
    "qwen3": False,
    "qwen3_moe": False,
    "gemma": True,
    "gemma2": True,
    "deepseek_v2": False,
    "deepseek_v3": False,
}


def load_file(arg: str, text: str) -> Architecture:
    """The architecture in the config.json at path `text` (cached by path, mtime and size)."""
    path = Path(text).expanduser()
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(arg, text, f"expected a preset name or the path of a config.json: {exc.strerror}") from None
    if not path.is_file():
        raise InputError(arg, text, "expected a preset name or the path of a config.json file, not a folder")
    if stat.st_size > MAX_BYTES:
        raise InputError(arg, text, f"expected a config.json under {MAX_BYTES:,} bytes; it has {stat.st_size:,}")
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, arg)


@lru_cache(maxsize=256)
def _load_cached(path: str, mtime_ns: int, size: int, arg: str) -> Architecture:
    raw = Path(path).read_bytes()[:MAX_BYTES + 1]
    try:
        config = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputError(arg, os.path.basename(path), f"expected a JSON config.json: {exc}") from None
    return from_mapping(arg, config, f"{os.path.basename(path)} ({path})")


def from_mapping(arg: str, config: Any, origin: str = "a config mapping") -> Architecture:
    """The architecture a config.json's keys describe."""
    if not isinstance(config, Mapping):
        raise InputError(arg, type(config).__name__, "expected a JSON object with config.json keys")
    _check_depth(arg, config)
    family = config.get("model_type")
    if family not in FAMILIES:
        raise InputError(f"{arg} model_type", family, f"expected one of {', '.join(FAMILIES)}")
    c = _Config(arg, config, family)
    layers = c.need("num_hidden_layers")
    heads = c.need("num_attention_heads")
    values: dict[str, Any] = {
        "layers": layers,
        "hidden": c.need("hidden_size"),
        "heads": heads,
        "kv_heads": c.get("num_key_value_heads", heads, "num_attention_heads"),
        "ffn_hidden": c.need("intermediate_size"),
        "vocab": c.need("vocab_size"),
        "gated_mlp": True,  # every supported family has a gated MLP (SwiGLU or GeGLU)
        "tied_embeddings": c.get("tie_word_embeddings", FAMILIES[family], f"the {family} default"),
        "max_context": config.get("max_position_embeddings") or 0,
    }
    if config.get("head_dim") is not None:
        values["head_dim"] = config["head_dim"]
    if config.get("mlp_bias"):
        raise InputError(f"{arg} mlp_bias", True, "expected false: MLP biases are not supported")
    if family in ("qwen2",):
        values["attention_bias"] = True  # Qwen2Attention: q, k, v biases always, none on o
    elif config.get("attention_bias"):
        values["attention_bias"] = values["output_bias"] = True  # Llama, Qwen3: all four projections
    if family in ("qwen3", "qwen3_moe"):
        values["qk_norm"] = True
    if family == "gemma2":
        values["norms_per_layer"] = 4  # pre and post norms around attention and MLP
    if family == "mixtral":
        values["experts"] = c.need("num_local_experts")
        values["experts_per_token"] = c.need("num_experts_per_tok")
    if family == "qwen3_moe":
        if config.get("decoder_sparse_step", 1) != 1 or config.get("mlp_only_layers"):
            raise InputError(f"{arg} decoder_sparse_step", config.get("decoder_sparse_step"),
                             "expected every layer to be a mixture of experts (step 1, no mlp_only_layers)")
        values["experts"] = c.need("num_experts")
        values["experts_per_token"] = c.need("num_experts_per_tok")
        values["moe_ffn_hidden"] = c.need("moe_intermediate_size")
    if family in ("deepseek_v2", "deepseek_v3"):
        _deepseek(c, config, values)
    _windows(config, family, layers, values)
    notes = f"; defaults taken: {', '.join(c.defaults)}" if c.defaults else ""
    name = str(config.get("_name_or_path") or family)
    return Architecture.build(values, name, f"config.json {origin}, model_type {family}{notes}", arg=arg)


def _deepseek(c: _Config, config: Mapping[str, Any], values: dict[str, Any]) -> None:
    values["q_lora_rank"] = config.get("q_lora_rank") or 0  # null: queries projected directly (V2-Lite)
    for name in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
        values[name] = c.need(name)
    values["kv_heads"] = values["heads"]
    values["head_dim"] = values["v_head_dim"]  # MLA has no single head width; attention sizes use the two
    routed = config.get("n_routed_experts")
    if routed:
        if config.get("moe_layer_freq", 1) != 1:
            raise InputError(f"{c.arg} moe_layer_freq", config["moe_layer_freq"], "expected 1 (experts in every layer)")
        values["experts"] = routed
        values["experts_per_token"] = c.need("num_experts_per_tok")
        values["shared_experts"] = config.get("n_shared_experts") or 0
        values["moe_ffn_hidden"] = c.need("moe_intermediate_size")
        values["dense_layers"] = config.get("first_k_dense_replace") or 0
        # DeepSeek-V3's auxiliary-loss-free balancing keeps a bias per expert (e_score_correction_bias).
        values["router_bias"] = config.get("topk_method") == "noaux_tc"


def _windows(config: Mapping[str, Any], family: str, layers: int, values: dict[str, Any]) -> None:
    """Sliding-window attention: which layers use it, as the family's modelling code decides."""
    window = config.get("sliding_window") or 0
    types = config.get("layer_types")
    if isinstance(types, list):
        count = sum(t == "sliding_attention" for t in types)
    elif family in ("mistral", "mixtral"):
        count = layers  # every layer, when the window is set (Mistral 7B v0.1: 4,096)
    elif family == "gemma2":
        count = (layers + 1) // 2  # even-numbered layers are local, odd ones global
    elif family in ("qwen2", "qwen3", "qwen3_moe"):
        # Only with use_sliding_window, and only from layer max_window_layers on.
        count = layers - min(layers, config.get("max_window_layers") or 0) if config.get("use_sliding_window") else 0
    else:
        count = 0
    if window and count:
        values["sliding_window"], values["window_layers"] = window, count


class _Config:
    """Field access that names what is missing."""

    def __init__(self, arg: str, config: Mapping[str, Any], family: str) -> None:
        self.arg, self.config, self.family = arg, config, family
        self.defaults: list[str] = []

    def need(self, key: str) -> Any:
        value = self.config.get(key)
        if value is None:
            raise InputError(f"{self.arg} {key}", None, f"expected {key} in a {self.family} config.json")
        return value

    def get(self, key: str, default: Any, why: str) -> Any:
        value = self.config.get(key)
        if value is None:
            self.defaults.append(f"{key} = {str(default).lower() if isinstance(default, bool) else default} ({why})")
            return default
        return value


def _check_depth(arg: str, config: Mapping[str, Any]) -> None:
    stack: list[tuple[Any, int]] = [(config, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(arg, "config.json", f"expected JSON nested at most {MAX_DEPTH} levels deep")
        children = node.values() if isinstance(node, Mapping) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, Mapping | list))
