"""Fine-tuning methods: full training, LoRA and QLoRA, and what each keeps per layer.

LoRA (Hu et al. 2021, section 4) freezes the base weights and trains, for each adapted
matrix W (d_in x d_out), two factors A (d_in x r) and B (r x d_out): r x (d_in + d_out)
parameters. QLoRA (Dettmers et al. 2023, section 3) stores the frozen base in 4-bit
NormalFloat with double-quantized constants and computes in bf16.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from envelope_xl.checks import Names, normalise
from envelope_xl.errors import InputError
from envelope_xl.models import Architecture
from envelope_xl.reference import PRECISIONS, TRAINING, Precision

METHOD: Names[str] = Names(
    "training method",
    {"full": "full", "lora": "lora", "qlora": "qlora"},
    {"full": ["full-finetune", "full-fine-tuning", "pretraining", "none"], "lora": ["peft"],
     "qlora": ["4bit-lora", "q-lora"]},
)

#: The linear layers LoRA can adapt, by the names PEFT gives them in Llama-style models.
ATTENTION_MATRICES = ("q", "k", "v", "o")
MLP_MATRICES = ("gate", "up", "down")
_TARGET_GROUPS = {
    "all": ATTENTION_MATRICES + MLP_MATRICES,
    "all-linear": ATTENTION_MATRICES + MLP_MATRICES,
    "attention": ATTENTION_MATRICES,
    "mlp": MLP_MATRICES,
}
_TARGETS_ALLOWED = ('expected "all", "attention", "mlp" or a comma-separated list of q, k, v, o, gate, up, down '
                    '(e.g. "q,v")')
_TARGET_ALIASES = {
    "q-proj": "q", "query": "q", "k-proj": "k", "key": "k", "v-proj": "v", "value": "v",
    "o-proj": "o", "out": "o", "output": "o", "gate-proj": "gate", "up-proj": "up", "down-proj": "down",
}


def parse_targets(arg: str, value: object) -> frozenset[str]:
    """The adapted matrices: "all" (every linear layer of attention and MLP, PEFT's
    "all-linear"), "attention", "mlp", or a comma-separated list of q, k, v, o, gate, up, down."""
    if isinstance(value, str):
        return _parse_targets(arg, value)
    raise InputError(arg, value, _TARGETS_ALLOWED)


@functools.lru_cache(maxsize=256)
def _parse_targets(arg: str, value: str) -> frozenset[str]:
    allowed = _TARGETS_ALLOWED
    if not value.strip():
        raise InputError(arg, value, allowed)
    chosen: set[str] = set()
    for part in value.split(","):
        key = normalise(part)
        key = _TARGET_ALIASES.get(key, key)
        if key in _TARGET_GROUPS:
            chosen.update(_TARGET_GROUPS[key])
        elif key in ATTENTION_MATRICES or key in MLP_MATRICES:
            chosen.add(key)
        else:
            raise InputError(arg, value, allowed, f"{part.strip()!r} is not a linear layer LoRA adapts")
    return frozenset(chosen)


@dataclass(frozen=True)
class Matrix:
    """A linear layer's weight: inputs x outputs, and how many of it a layer holds (experts)."""

    name: str
    d_in: float
    d_out: float
    count: float = 1.0  # copies per layer (experts of a mixture)
    per_token: float = 1.0  # copies each token runs

    @property
    def size(self) -> float:
        return self.d_in * self.d_out


def attention_matrices(m: Architecture) -> tuple[Matrix, ...]:
    """Q, K, V and the output projection. MLA's low-rank projections are sized as full ones
    (the adapter count is then approximate; its memory is small beside the base)."""
    qk, v = m.attention_width()
    kv_heads = m.heads if m.is_mla else m.kv_heads
    h = m.hidden
    return (
        Matrix("q", h, m.heads * qk), Matrix("k", h, kv_heads * qk),
        Matrix("v", h, kv_heads * v), Matrix("o", m.heads * v, h),
    )


def mlp_matrices(m: Architecture, moe: bool) -> tuple[Matrix, ...]:
    """Gate (gated MLPs only), up and down of a dense layer, or of every expert of a MoE layer."""
    h = m.hidden
    if moe:
        width, count, per_token = m.moe_ffn_hidden, m.experts + m.shared_experts, m.experts_per_token + m.shared_experts
    else:
        width, count, per_token = m.ffn_hidden, 1, 1
    names = MLP_MATRICES if m.gated_mlp else ("up", "down")
    return tuple(
        Matrix(n, width if n == "down" else h, h if n == "down" else width, count, per_token) for n in names
    )


@dataclass(frozen=True)
class Adapters:
    """LoRA adapters of one layer: parameters, and the ranks whose r-wide products it keeps."""

    params: float
    attention_ranks: float
    mlp_ranks: float


def layer_adapters(m: Architecture, moe: bool, targets: frozenset[str], rank: int) -> Adapters:
    att = [x for x in attention_matrices(m) if x.name in targets]
    mlp = [x for x in mlp_matrices(m, moe) if x.name in targets]
    params = rank * sum(x.count * (x.d_in + x.d_out) for x in att + mlp)
    return Adapters(params, rank * len(att), rank * sum(x.per_token for x in mlp))


def largest_matrix(m: Architecture) -> float:
    """Elements of the largest linear weight in a transformer block (QLoRA dequantizes one
    at a time to compute in 16-bit)."""
    matrices = list(attention_matrices(m))
    if m.moe_layers:
        matrices += mlp_matrices(m, True)
    if m.layers > m.moe_layers:
        matrices += mlp_matrices(m, False)
    return max(x.size for x in matrices)


def quantized_bytes(storage: Precision) -> float:
    """Bytes per weight of a frozen base stored in `storage`, quantization constants included."""
    return storage.bytes + TRAINING.quant_constant_bits.get(storage.name, 0.0) / 8


@dataclass(frozen=True)
class Precisions:
    """How a method stores weights and computes: `storage` for the (frozen or trained)
    weights, `compute` for activations, gradients and adapters."""

    storage: Precision
    compute: Precision


def method_precisions(method: str, precision: object) -> Precisions:
    """Full training and LoRA store and compute in `precision` (a floating-point training
    format); QLoRA stores the base in `precision` when it is a quantized storage format
    (nf4, int4, int8) and computes in bf16, or stores it in nf4 and computes in
    `precision` when that is a training format."""
    p = PRECISIONS.get("precision", precision)
    if method == "qlora":
        if p.trainable:
            return Precisions(PRECISIONS.get("precision", "nf4"), p)
        return Precisions(p, PRECISIONS.get("precision", "bf16"))
    if not p.trainable:
        hint = 'For a frozen base stored in it, use method "qlora".'
        raise InputError(
            "precision", precision,
            "expected a floating-point training format (fp32, tf32, bf16, fp16, fp8, fp4); "
            "integer and 4-bit storage formats hold no gradients", hint,
        )
    return Precisions(p, p)
