"""A model's architecture, and what follows from it: parameters, KV cache, attention FLOPs.

Every form of the `model` argument (preset, Hugging Face config, spreadsheet range, bare
parameter count) becomes one `Architecture`; the estimates read only this.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

from envelope_xl.checks import flag, whole
from envelope_xl.errors import InputError
from envelope_xl.models.fields import FIELD_BY_NAME, FIELDS

#: Parameter groups, in the order `param_steps` returns them.
PARAM_GROUPS = ("token embeddings", "output head", "position embeddings", "attention", "MLP", "router", "norms")


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer, dense or mixture of experts.

    Attention is multi-head, grouped-query (kv_heads < heads) or multi-head latent
    (MLA, kv_lora_rank > 0, DeepSeek-V2/V3). MLPs are plain or gated; a mixture of
    experts has `experts` routed experts (of which `experts_per_token` run per token)
    plus `shared_experts`, in every layer after the first `dense_layers`.
    """

    name: str
    origin: str  # where the figures came from, for the reasoning chain
    layers: int = 0
    hidden: int = 0
    heads: int = 0
    kv_heads: int = 0
    head_dim: int = 0
    ffn_hidden: int = 0
    vocab: int = 0
    gated_mlp: bool = False
    tied_embeddings: bool = False
    bias: bool = False
    attention_bias: bool = False
    output_bias: bool = False
    qk_norm: bool = False
    norms_per_layer: int = 2
    experts: int = 1
    experts_per_token: int = 1
    shared_experts: int = 0
    moe_ffn_hidden: int = 0
    dense_layers: int = 0
    router_bias: bool = False
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    sliding_window: int = 0
    window_layers: int = 0
    max_positions: int = 0
    max_context: int = 0
    counted: float = 0.0  # a bare parameter count: the only figure known

    # ----------------------------------------------------------------- building

    @classmethod
    def build(cls, values: dict[str, object], name: str, origin: str, arg: str = "model") -> Architecture:
        """An architecture from field values (as in `FIELDS`), checked and completed.

        Errors name the field as `arg`'s field, e.g. "model.heads: got 0; ..." (the field
        alone when `arg` is empty).
        """

        def label(name: str) -> str:
            return f"{arg}.{name}" if arg else name

        unknown = [k for k in values if k not in FIELD_BY_NAME]
        if unknown:
            raise InputError(f"{arg} field", unknown[0], f"expected one of {', '.join(FIELD_BY_NAME)}")
        v: dict[str, object] = {}
        for f in FIELDS:
            raw = values.get(f.name)
            if raw is None:
                v[f.name] = f.default
            elif f.kind is bool:
                v[f.name] = flag(label(f.name), raw)
            else:
                v[f.name] = whole(label(f.name), raw, low=f.low)
        for required in ("layers", "hidden", "heads", "vocab"):
            if v[required] is None:
                raise InputError(label(required), None, f"expected the model's {FIELD_BY_NAME[required].meaning}")
        h, a = v["hidden"], v["heads"]
        v["kv_heads"] = v["kv_heads"] or a
        if a % v["kv_heads"]:
            msg = f"expected a divisor of heads ({a}) for grouped-query attention"
            raise InputError(label("kv_heads"), v["kv_heads"], msg)
        if v["head_dim"] is None:
            if h % a:
                msg = f"expected a value: hidden ({h}) is not a multiple of heads ({a})"
                raise InputError(label("head_dim"), None, msg)
            v["head_dim"] = h // a
        v["ffn_hidden"] = v["ffn_hidden"] or 4 * h
        v["moe_ffn_hidden"] = v["moe_ffn_hidden"] or v["ffn_hidden"]
        if v["experts_per_token"] > v["experts"]:
            msg = f"expected at most experts ({v['experts']})"
            raise InputError(label("experts_per_token"), v["experts_per_token"], msg)
        if v["dense_layers"] > v["layers"]:
            raise InputError(label("dense_layers"), v["dense_layers"], f"expected at most layers ({v['layers']})")
        if v["kv_lora_rank"] and not (v["qk_rope_head_dim"] and v["qk_nope_head_dim"] and v["v_head_dim"]):
            msg = "expected qk_rope_head_dim, qk_nope_head_dim and v_head_dim with kv_lora_rank (MLA)"
            raise InputError(label("kv_lora_rank"), v["kv_lora_rank"], msg)
        if v["window_layers"] is None:
            v["window_layers"] = v["layers"] if v["sliding_window"] else 0
        elif v["window_layers"] > v["layers"]:
            raise InputError(label("window_layers"), v["window_layers"], f"expected at most layers ({v['layers']})")
        return cls(name=name, origin=origin, **v)  # type: ignore[arg-type]

    @classmethod
    def from_count(cls, params: object, arg: str = "model") -> Architecture:
        """A model known only by its parameter count (dense: active = total)."""
        from envelope_xl.checks import positive

        return cls(name=f"{positive(arg, params):g} parameters", origin="a bare parameter count",
                   counted=positive(arg, params))

    @property
    def counted_only(self) -> bool:
        return self.counted > 0

    def need(self, arg: str, what: str) -> None:
        """Refuse a bare parameter count where `what` needs the architecture."""
        if self.counted_only:
            raise InputError(
                arg, self.counted,
                f"{what} needs the model's architecture: give a preset name, a config.json or a range of fields",
            )

    def config(self) -> dict[str, int | bool]:
        """The field values, as MODEL_CONFIG returns them."""
        return {f.name: getattr(self, f.name) for f in FIELDS}

    # ----------------------------------------------------------------- shape

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_moe(self) -> bool:
        return self.experts > 1

    @property
    def moe_layers(self) -> int:
        """Layers whose MLP is a mixture of experts."""
        return self.layers - self.dense_layers if self.is_moe else 0

    def attention_width(self) -> tuple[int, int]:
        """(query/key width, value width) of one attention head."""
        if self.is_mla:
            return self.qk_nope_head_dim + self.qk_rope_head_dim, self.v_head_dim
        return self.head_dim, self.head_dim

    def _mlp(self, width: int) -> int:
        """One MLP (a dense block's, or one expert's) of inner width `width`."""
        h = self.hidden
        weights = (3 if self.gated_mlp else 2) * h * width
        return weights + (((2 if self.gated_mlp else 1) * width + h) if self.bias else 0)

    @property
    def expert_params(self) -> float:
        """One routed expert's MLP in one layer."""
        return float(self._mlp(self.moe_ffn_hidden)) if self.is_moe else 0.0

    # ----------------------------------------------------------------- parameters

    def param_steps(self) -> tuple[float, ...]:
        """Parameters by group, in the order of `PARAM_GROUPS`."""
        return _param_steps(self)

    @property
    def total_params(self) -> float:
        return self.counted or sum(self.param_steps())

    @property
    def active_params(self) -> float:
        """Parameters each token runs: the routed experts' MLPs replace all experts' MLPs."""
        if self.counted_only or not self.is_moe:
            return self.total_params
        idle = (self.experts - self.experts_per_token) * self.moe_layers * self.expert_params
        return self.total_params - idle

    # ----------------------------------------------------------------- KV cache and attention

    def kv_values_per_layer(self) -> int:
        """Values cached per token in one layer: the latent and the RoPE key for MLA,
        a key and a value per KV head otherwise."""
        if self.is_mla:
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.kv_heads * self.head_dim

    def kv_values_per_token(self) -> float:
        """Values cached per token over all layers, before any sliding-window cap."""
        return float(self.layers * self.kv_values_per_layer())

    def cached_tokens(self, seq_len: float) -> float:
        """Token-layers held in the cache for one sequence of `seq_len` tokens: a windowed
        layer keeps at most `sliding_window` tokens."""
        full = self.layers - self.window_layers
        windowed = min(seq_len, self.sliding_window) if self.window_layers else 0.0
        return full * seq_len + self.window_layers * windowed

    def kv_cache_bytes(self, seq_len: float, batch: float, bytes_per_value: float) -> float:
        """KV cache of `batch` sequences of `seq_len` tokens, bytes."""
        return self.cached_tokens(seq_len) * self.kv_values_per_layer() * batch * bytes_per_value

    def attention_flops_per_token(self, context: float) -> float:
        """Forward FLOPs of attention for one new token attending `context` cached tokens:
        2 x heads x (q/k width + value width) per attended token and layer (scores and the
        weighted sum of values), windows applied. The projections are in the parameters."""
        qk, v = self.attention_width()
        return 2.0 * self.heads * (qk + v) * self.cached_tokens(context)


@functools.cache  # architectures are immutable: count each once
def _param_steps(m: Architecture) -> tuple[float, ...]:
    h, L = m.hidden, m.layers
    if m.is_mla:
        qk, v = m.attention_width()
        q = h * m.q_lora_rank + m.q_lora_rank * m.heads * qk if m.q_lora_rank else h * m.heads * qk
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank * m.heads * (m.qk_nope_head_dim + v)
        attention = q + kv + m.heads * v * h
        latent_norms = m.q_lora_rank + m.kv_lora_rank
        q_width = kv_width = 0  # MLA projections carry no biases
    else:
        q_width, kv_width = m.heads * m.head_dim, m.kv_heads * m.head_dim
        attention = 2 * h * q_width + 2 * h * kv_width
        latent_norms = 0
    if m.bias or m.attention_bias:
        attention += (q_width if not m.is_mla else 0) + 2 * kv_width
    if m.bias or m.output_bias:
        attention += h
    mlp_dense = m._mlp(m.ffn_hidden)
    moe = m.moe_layers
    mlp = (L - moe) * mlp_dense + moe * (m.experts + m.shared_experts) * m._mlp(m.moe_ffn_hidden)
    router = moe * (h * m.experts + (m.experts if m.router_bias else 0))
    qk_norms = 2 * m.head_dim if m.qk_norm else 0
    norms = L * (m.norms_per_layer * h * (2 if m.bias else 1) + qk_norms + latent_norms) + h * (2 if m.bias else 1)
    embeddings = m.vocab * h
    head = 0 if m.tied_embeddings else m.vocab * h
    return (float(embeddings), float(head), float(m.max_positions * h), float(L * attention), float(mlp),
            float(router), float(norms))


#: Field names of `Architecture` that are figures (everything but name, origin, counted).
FIGURES = tuple(f.name for f in fields(Architecture) if f.name not in ("name", "origin", "counted"))
