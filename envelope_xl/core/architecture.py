"""Parameter counts and architecture figures of a model (see `envelope_xl.models`)."""

from __future__ import annotations

import functools
from typing import Any

from envelope_xl.checks import flag
from envelope_xl.errors import InputError
from envelope_xl.models import FIELD_NAMES, Architecture, resolve_model
from envelope_xl.registry import Step, register

_COUNT_SOURCE = (
    "vaswani2017 section 3; shazeer2020 section 2 (gated MLP: three matrices); ainslie2023 (grouped-query "
    "attention); deepseek-v2 section 2.1 (MLA)"
)

_PARAM_STEPS = (
    Step("token embeddings", "vocab x hidden"),
    Step("output head", "vocab x hidden, 0 when tied"),
    Step("position embeddings", "max_positions x hidden"),
    Step("attention", "layers x (2*hidden*heads*head_dim + 2*hidden*kv_heads*head_dim [+ biases])"),
    Step("MLP", "layers x experts x (3 if gated else 2) x hidden x ffn_hidden [+ biases]"),
    Step("router", "layers x hidden x experts (MoE only)"),
    Step("norms", "(2 x layers + 1) x hidden (x2 with biases)"),
)


@functools.lru_cache(maxsize=1024)  # a sheet repeats the same few architectures; errors are not cached
def _transformer(
    layers: int, hidden: int, vocab: int, ffn_hidden: int | None, gated_mlp: bool, heads: int | None,
    kv_heads: int | None, head_dim: int | None, tied_embeddings: bool, bias: bool, experts: int, max_positions: int,
) -> Architecture:
    if heads is None and (kv_heads is not None or head_dim is not None):
        raise InputError("heads", heads, "expected the number of attention heads when kv_heads or head_dim is given")
    values = {
        "layers": layers, "hidden": hidden, "vocab": vocab, "ffn_hidden": ffn_hidden, "gated_mlp": gated_mlp,
        # Multi-head attention's count does not depend on the number of heads: one head of width hidden.
        "heads": 1 if heads is None else heads, "kv_heads": kv_heads, "head_dim": head_dim,
        "tied_embeddings": tied_embeddings, "bias": bias, "experts": experts, "max_positions": max_positions,
    }
    return Architecture.build(values, "transformer", "TRANSFORMER_PARAMS arguments", arg="")


def _transformer_steps(
    layers: int, hidden: int, vocab: int, ffn_hidden: int | None = None, gated_mlp: bool = False,
    heads: int | None = None, kv_heads: int | None = None, head_dim: int | None = None,
    tied_embeddings: bool = False, bias: bool = False, experts: int = 1, max_positions: int = 0,
) -> tuple[float, ...]:
    return _transformer(layers, hidden, vocab, ffn_hidden, gated_mlp, heads, kv_heads, head_dim,
                        tied_embeddings, bias, experts, max_positions).param_steps()


@register(
    "TRANSFORMER_PARAMS",
    example=(32, 4096, 32000, 11008, True),
    pillar="Precision and catalogs",
    summary="Parameter count of a decoder-only transformer from its architecture: gated or plain MLP, "
    "grouped-query attention, tied or untied embeddings, biases, mixture of experts.",
    returns="parameters (count)",
    result_unit="parameters",
    formula="embeddings + output head + positions + L*(attention + experts*MLP + router) + norms",
    source=_COUNT_SOURCE,
    assumptions=(
        "attention: Q and O are hidden x heads*head_dim, K and V hidden x kv_heads*head_dim",
        "MLP: 3 matrices when gated (SwiGLU), 2 otherwise; MoE repeats it per expert plus a hidden x experts router",
        "norms: two per layer and a final one, with a bias only when `bias` is TRUE (LayerNorm vs RMSNorm)",
        "rotary embeddings have no parameters; learned positions add max_positions x hidden",
        "for MLA, shared experts, dense-first layers, q/k norms or attention-only biases, give MODEL_PARAMS a "
        "model (preset, config.json or range)",
    ),
    steps=_PARAM_STEPS,
    steps_fn=_transformer_steps,
)
def transformer_params(
    layers: int,
    hidden: int,
    vocab: int,
    ffn_hidden: int | None = None,
    gated_mlp: bool = False,
    heads: int | None = None,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    tied_embeddings: bool = False,
    bias: bool = False,
    experts: int = 1,
    max_positions: int = 0,
) -> float:
    """Parameter count of a decoder-only transformer.

    Formula:
        V*h (embeddings) + V*h unless tied (output head) + P*h (learned positions)
        + L*(2*h*a*d + 2*h*g*d) (attention Q, O and K, V) + L*E*(3 or 2)*h*f (MLP)
        + L*h*E (router, E > 1) + (2L + 1)*h (norms; x2 with biases) + biases

    Assumptions:
        Pre-norm decoder blocks (GPT-2, Llama, Mistral). `heads` may be left out for
        multi-head attention (the count does not depend on it); give it with
        `kv_heads` for grouped-query attention. `head_dim` defaults to hidden / heads.
        The same count as `envelope_xl.models.Architecture`, which also covers MLA,
        shared experts and the other fields of a model description.

    Source:
        Vaswani et al. 2017; Shazeer 2020, "GLU Variants Improve Transformer";
        Ainslie et al. 2023, "GQA". Reproduces the published counts of every preset
        (Llama 2 7B: 6,738,415,616).

    Args:
        layers: transformer blocks (L). hidden: model width (h). vocab: vocabulary (V).
        ffn_hidden: MLP inner width (f), default 4*h. gated_mlp: SwiGLU (3 matrices).
        heads, kv_heads, head_dim: attention shape (a, g, d). tied_embeddings: output
        head shares the embedding. bias: linear and norm biases. experts: MLP experts
        per layer (E). max_positions: learned position embeddings (P).

    Examples:
        Llama 2 7B:

        >>> transformer_params(32, 4096, 32000, 11008, True)
        6738415616.0
    """
    return sum(_transformer_steps(layers, hidden, vocab, ffn_hidden, gated_mlp, heads, kv_heads, head_dim,
                                  tied_embeddings, bias, experts, max_positions))


def _model_steps(model: Any, active: bool = False) -> tuple[float, ...]:
    m = resolve_model("model", model)
    m.need("model", "a breakdown by parameter group")
    steps = list(m.param_steps())
    if flag("active", active) and m.is_moe:
        steps[4] -= (m.experts - m.experts_per_token) * m.moe_layers * m.expert_params
    return tuple(steps)


@register(
    "MODEL_PARAMS",
    example=("llama-2-7b",),
    pillar="Precision and catalogs",
    summary="Parameter count of a model (preset, config.json or range of fields), computed from its "
    "architecture: the total (memory), or with active TRUE those used per token (compute).",
    returns="parameters (count): total over all experts, or active per token when `active` is TRUE",
    result_unit="parameters",
    formula="sum of the parameter groups of the architecture; active: total - (experts - experts_per_token) "
    "x MoE layers x one expert's MLP",
    source=_COUNT_SOURCE + "; jiang2024 abstract (active count: 47B total, 13B active)",
    assumptions=(
        "active: each token runs only its experts_per_token routed experts' MLPs (and the shared experts); "
        "attention, embeddings, norms and the router run for every token",
        "a dense model (one expert), or a bare parameter count, has active = total",
        "MLA (DeepSeek): low-rank query and key/value projections with their norms; no multi-token-prediction module",
    ),
    steps=_PARAM_STEPS,
    steps_fn=_model_steps,
)
def model_params(model: Any, active: bool = False) -> float:
    """Parameters of a model: the total, or with `active` those each token uses.

    Formula:
        total = embeddings + output head + positions + attention + MLPs + router + norms,
        counted from the architecture (`envelope_xl.models.Architecture.param_steps`).
        active = total - (E - k) * M * mlp_one, with E routed experts, k = experts_per_token,
        M layers with experts and mlp_one one expert's MLP in one layer.

    Assumptions:
        Mixture-of-experts routing: each token runs its k routed experts' MLPs (plus any
        shared experts) and nothing of the others; attention, embeddings, norms and the
        router are used by every token. Memory needs the total; training and inference
        FLOPs (6ND, 2N per token) need the active count. Dense models: active == total.
        A bare parameter count is returned as it is.

    Source:
        Each preset's configuration (data/models.toml). Jiang et al. 2024, "Mixtral of
        Experts", abstract: "each token has access to 47B parameters, but only uses 13B
        active parameters during inference"; computed here 46.70B and 12.88B.
        DeepSeek-AI 2024, "DeepSeek-V3 Technical Report": 671B total, 37B activated.

    Examples:
        >>> model_params("llama-2-7b"), model_params("gpt2")
        (6738415616.0, 124439808.0)
        >>> model_params("mixtral-8x7b"), model_params("mixtral-8x7b", active=True)
        (46702792704.0, 12879925248.0)
        >>> model_params("qwen2.5-7b")
        7615616512.0
    """
    m = resolve_model("model", model)
    return m.active_params if flag("active", active) else m.total_params


@register(
    "MODEL_CONFIG",
    example=("llama-3-70b", "kv_heads"),
    pillar="Precision and catalogs",
    summary="One architecture figure of a model (preset, config.json or range): layers, hidden, heads, "
    "kv_heads, head_dim, ffn_hidden, vocab, experts, kv_lora_rank, sliding_window, max_context...",
    returns="the figure (count, or TRUE/FALSE for a yes/no field)",
    formula="look-up in the model's description",
    source="hf-transformers (config.json field names, each preset's configuration cited in data/models.toml)",
    arg_docs={"field": "which figure: layers, hidden, heads, kv_heads, head_dim, ffn_hidden, vocab, experts, "
              "experts_per_token, kv_lora_rank, sliding_window, max_context... (any model field)"},
    arg_choices={"field": FIELD_NAMES},
)
def model_config(model: Any, field: str) -> float | bool:
    """One architecture figure of a model, e.g. the KV heads to feed KV_CACHE.

    Examples:
        >>> model_config("llama-3-70b", "kv_heads"), model_config("Mistral-7B", "sliding_window")
        (8.0, 4096.0)
        >>> model_config("qwen2.5-7b", "attention_bias")
        True
    """
    name = FIELD_NAMES.get("field", field)
    m = resolve_model("model", model)
    m.need("model", "MODEL_CONFIG")
    value = getattr(m, name)
    return value if isinstance(value, bool) else float(value)
