"""Parameter counts from a transformer's architecture, and the model presets."""

from __future__ import annotations

import functools

from envelope_xl.checks import flag, whole
from envelope_xl.errors import InputError
from envelope_xl.reference import MODEL_FIELD_NAMES, MODELS, Model
from envelope_xl.registry import Step, register


def _transformer_steps(
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
) -> tuple[float, ...]:
    L = whole("layers", layers)
    h = whole("hidden", hidden)
    V = whole("vocab", vocab)
    f = 4 * h if ffn_hidden is None else whole("ffn_hidden", ffn_hidden)
    gated = flag("gated_mlp", gated_mlp)
    tied = flag("tied_embeddings", tied_embeddings)
    biased = flag("bias", bias)
    E = whole("experts", experts)
    pos = whole("max_positions", max_positions, low=0)
    if heads is None:
        if kv_heads is not None or head_dim is not None:
            msg = "expected the number of attention heads when kv_heads or head_dim is given"
            raise InputError("heads", heads, msg)
        q = kv = h  # multi-head attention: the count does not depend on the number of heads
    else:
        a = whole("heads", heads)
        g = a if kv_heads is None else whole("kv_heads", kv_heads)
        if a % g:
            raise InputError("kv_heads", kv_heads, f"expected a divisor of heads ({a}) for grouped-query attention")
        if head_dim is None:
            if h % a:
                msg = f"expected a value: hidden ({h}) is not a multiple of heads ({a})"
                raise InputError("head_dim", head_dim, msg)
            d = h // a
        else:
            d = whole("head_dim", head_dim)
        q, kv = a * d, g * d
    # Q and O project h <-> q; K and V project h -> kv. Biases on each output.
    attention = L * (2 * h * q + 2 * h * kv + (q + 2 * kv + h if biased else 0))
    # Gated (SwiGLU): gate and up h -> f, down f -> h. Plain: up and down.
    mlp_one = (3 if gated else 2) * h * f + (((2 if gated else 1) * f + h) if biased else 0)
    mlp = L * E * mlp_one
    router = L * h * E if E > 1 else 0
    # Two norms per layer plus the final one; LayerNorm has a bias, RMSNorm does not.
    norms = (2 * L + 1) * h * (2 if biased else 1)
    embeddings = V * h
    head = 0 if tied else V * h
    positions = pos * h
    return (float(embeddings), float(head), float(positions), float(attention), float(mlp), float(router),
            float(norms))


@register(
    "TRANSFORMER_PARAMS",
    example=(32, 4096, 32000, 11008, True),
    pillar="Precision and catalogs",
    summary="Parameter count of a decoder-only transformer from its architecture: gated or plain MLP, "
    "grouped-query attention, tied or untied embeddings, biases, mixture of experts.",
    returns="parameters (count)",
    result_unit="parameters",
    formula="embeddings + output head + positions + L*(attention + experts*MLP + router) + norms",
    source="Vaswani et al. 2017; Shazeer 2020 (GLU variants); Ainslie et al. 2023 (GQA); "
    "reproduces the published counts of every preset",
    assumptions=(
        "attention: Q and O are hidden x heads*head_dim, K and V hidden x kv_heads*head_dim",
        "MLP: 3 matrices when gated (SwiGLU), 2 otherwise; MoE repeats it per expert plus a hidden x experts router",
        "norms: two per layer and a final one, with a bias only when `bias` is TRUE (LayerNorm vs RMSNorm)",
        "rotary embeddings have no parameters; learned positions add max_positions x hidden",
    ),
    steps=(
        Step("token embeddings", "vocab x hidden"),
        Step("output head", "vocab x hidden, 0 when tied"),
        Step("position embeddings", "max_positions x hidden"),
        Step("attention", "layers x (2*hidden*heads*head_dim + 2*hidden*kv_heads*head_dim [+ biases])"),
        Step("MLP", "layers x experts x (3 if gated else 2) x hidden x ffn_hidden [+ biases]"),
        Step("router", "layers x hidden x experts (MoE only)"),
        Step("norms", "(2 x layers + 1) x hidden (x2 with biases)"),
    ),
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


#: Position of the MLP parameters in `_transformer_steps`' result.
_MLP_STEP = 4


@register(
    "MODEL_PARAMS",
    example=("llama-2-7b",),
    pillar="Precision and catalogs",
    summary="Parameter count of a model preset (gpt2, llama-2-7b, mixtral-8x7b...), computed from its "
    "published architecture: the total (memory), or with active TRUE those used per token (compute).",
    returns="parameters (count): total over all experts, or active per token when `active` is TRUE",
    result_unit="parameters",
    formula="TRANSFORMER_PARAMS of the preset's configuration; active: total - (experts - experts_per_token) "
    "x layers x one expert's MLP",
    source="Each preset's published configuration, cited in data/models.toml; active count as in Jiang et al. "
    "2024, 'Mixtral of Experts' (47B total, 13B active)",
    assumptions=(
        "active: each token runs only its experts_per_token routed experts' MLPs; attention, embeddings, "
        "norms and the router run for every token",
        "a dense model (one expert) has active = total",
    ),
)
def model_params(model: str, active: bool = False) -> float:
    """Parameters of a preset, computed with `transformer_params` from its configuration.

    Formula:
        total = TRANSFORMER_PARAMS(configuration), all E experts of a mixture included.
        active = total - (E - k) * L * mlp_one, with k = experts_per_token and mlp_one
        the parameters of one expert's MLP in one layer: the same count with k experts
        in place of E, the router (h x E per layer) kept whole.

    Assumptions:
        Mixture-of-experts routing: each token runs its k routed experts' MLPs and
        nothing of the others; attention, embeddings, norms and the router are used by
        every token. Memory needs the total; training and inference FLOPs (6ND, 2N per
        token) need the active count. Dense presets: active == total.

    Source:
        Each preset's configuration (data/models.toml). Jiang et al. 2024, "Mixtral of
        Experts", abstract: "each token has access to 47B parameters, but only uses 13B
        active parameters during inference"; computed here 46.70B and 12.88B.

    Examples:
        >>> model_params("llama-2-7b"), model_params("gpt2")
        (6738415616.0, 124439808.0)
        >>> model_params("mixtral-8x7b"), model_params("mixtral-8x7b", active=True)
        (46702792704.0, 12879925248.0)
    """
    return _preset_params(MODELS.get("model", model), flag("active", active))


@functools.cache  # presets are immutable: count each once
def _preset_params(m: Model, active: bool = False) -> float:
    def steps(experts: int) -> tuple[float, ...]:
        return _transformer_steps(
            m.layers, m.hidden, m.vocab, m.ffn_hidden, m.gated_mlp, m.heads, m.kv_heads, m.head_dim,
            m.tied_embeddings, m.bias, experts, m.max_positions,
        )

    every = steps(m.experts)
    if not active or m.experts_per_token == m.experts:
        return sum(every)
    # The routed experts' MLPs replace all experts' MLPs; the router stays whole (it scores every expert).
    return sum(every) - every[_MLP_STEP] + steps(m.experts_per_token)[_MLP_STEP]


@register(
    "MODEL_CONFIG",
    example=("llama-3-70b", "kv_heads"),
    pillar="Precision and catalogs",
    summary="One architecture figure of a model preset: layers, hidden, heads, kv_heads, head_dim, "
    "ffn_hidden, vocab, experts, experts_per_token or max_positions.",
    returns="the figure (count)",
    formula="look-up in the model presets",
    source="Each preset's published configuration, cited in data/models.toml",
    arg_docs={"field": "layers, hidden, heads, kv_heads, head_dim, ffn_hidden, vocab, experts, "
              "experts_per_token or max_positions"},
    arg_choices={"field": MODEL_FIELD_NAMES},
)
def model_config(model: str, field: str) -> float:
    """One architecture figure of a preset, e.g. the KV heads to feed KV_CACHE.

    Examples:
        >>> model_config("llama-3-70b", "kv_heads"), model_config("Mistral-7B", "head_dim")
        (8.0, 128.0)
    """
    return float(getattr(MODELS.get("model", model), MODEL_FIELD_NAMES.get("field", field)))
