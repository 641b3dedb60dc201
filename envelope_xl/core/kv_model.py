"""The KV cache of a model, from its architecture: multi-head, grouped-query or latent
attention, with sliding windows where layers use them."""

from __future__ import annotations

from typing import Any

from envelope_xl.checks import whole
from envelope_xl.models import resolve_model
from envelope_xl.reference import PRECISIONS
from envelope_xl.registry import Step, register
from envelope_xl.units import BYTE_UNITS


def _kv_model_steps(model: Any, seq_len: int, batch: int = 1, precision: str = "bf16") -> tuple[float, ...]:
    m = resolve_model("model", model)
    m.need("model", "the KV cache")
    n = whole("seq_len", seq_len)
    per_token = m.kv_values_per_layer() * whole("batch", batch) * PRECISIONS.get("precision", precision).bytes
    full = (m.layers - m.window_layers) * n * per_token
    windowed = m.window_layers * min(n, m.sliding_window) * per_token if m.window_layers else 0.0
    return (float(m.kv_values_per_layer()), float(full), float(windowed))


@register(
    "KV_CACHE_MODEL",
    example=("llama-3-8b", 8192, 16),
    pillar="Memory",
    summary="KV-cache size of `batch` sequences of `seq_len` tokens for a model: grouped-query, multi-head "
    "or multi-head latent attention (MLA), capped by sliding windows.",
    returns="bytes of cache, in `unit` (default GB)",
    unit_kind="bytes",
    formula="sum over layers of min(seq_len, window of the layer) x values per token and layer x batch x bytes",
    source="pope2022 section 2; kwon2023 section 3; deepseek-v2 section 2.1.2, section 2.1.3, Table 1 (MLA caches "
    "d_c + d_h^R elements per token and layer); jiang2023 section 2 (rolling buffer cache)",
    assumptions=(
        "every token of every sequence is cached; no paging slack",
        "grouped-query and multi-head attention cache a key and a value per KV head per layer",
        "MLA caches the compressed latent (kv_lora_rank) and the decoupled RoPE key (qk_rope_head_dim) per layer",
        "a sliding-window layer keeps at most `sliding_window` tokens (rolling buffer)",
    ),
    steps=(
        Step("cached values per token and layer", "MLA: kv_lora_rank + qk_rope_head_dim; else 2 x kv_heads x "
             "head_dim", part=False, unit="values"),
        Step("full-attention layers", "(layers - window_layers) x seq_len x values x batch x bytes(precision)"),
        Step("sliding-window layers", "window_layers x min(seq_len, sliding_window) x values x batch x "
             "bytes(precision)"),
    ),
    steps_fn=_kv_model_steps,
)
def kv_cache_model(model: Any, seq_len: int, batch: int = 1, precision: str = "bf16", unit: str = "GB") -> float:
    """KV cache of a model in `unit`.

    Formula: sum over layers of min(seq_len, window) x c x batch x bytes(precision), with
    c = 2 x kv_heads x head_dim cached values per token and layer (multi-head and
    grouped-query attention) or kv_lora_rank + qk_rope_head_dim (multi-head latent
    attention), and window = seq_len for full-attention layers.

    Assumptions: every token of every sequence is cached, with no paging slack. A
    sliding-window layer keeps a rolling buffer of `sliding_window` tokens (Mistral 7B
    v0.1: 4,096 in every layer; Gemma 2: every other layer).

    Source: Pope et al. 2022, section 2; Kwon et al. 2023 (vLLM), section 3: 800 KB
    per token for OPT-13B; DeepSeek-AI 2024, "DeepSeek-V2", section 2.1.2: MLA caches
    (d_c + d_h^R) x l = (512 + 64) x 61 values per token for DeepSeek-V3's shape;
    Jiang et al. 2023, "Mistral 7B", section 2.

    Examples:
        Llama 3 8B, 8,192 tokens, batch 1, bf16: 32 layers x 2 x 8 x 128 x 8192 x 2 bytes.

        >>> kv_cache_model("llama-3-8b", 8192, unit="GiB")
        1.0
        >>> round(kv_cache_model("deepseek-v3", 8192), 3)  # 576 values x 61 layers x 8192 x 2 bytes
        0.576
        >>> kv_cache_model("mistral-7b", 32768) == kv_cache_model("mistral-7b", 4096)
        True
    """
    _, full, windowed = _kv_model_steps(model, seq_len, batch, precision)
    return (full + windowed) / BYTE_UNITS.get("unit", unit)
