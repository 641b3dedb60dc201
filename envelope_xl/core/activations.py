"""What one transformer layer keeps for the backward pass: activation memory per GPU.

Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models"
(arXiv:2205.05198), section 4.1, counts the tensors a GPT layer stores, in bytes with
16-bit activations and 1-byte dropout masks (s = sequence, b = micro-batch, h = hidden,
a = heads):

- attention 11sbh + 5as^2b: the shared QKV input (2sbh), Q and K (4sbh), V (2sbh), the
  output projection's input (2sbh), the dropout mask (sbh); the softmax output (2as^2b),
  its dropout mask (as^2b) and the dropout output (2as^2b);
- MLP 19sbh: the input (2sbh), the GeLU input and the second linear's input (8sbh each at
  4h width), the dropout mask (sbh);
- layer norms 4sbh (each keeps its input).

The same accounting holds for today's layers with their real widths: query heads of
width qk and value width v, KV heads shared by groups of query heads, a gated MLP (SwiGLU
keeps the gate and up outputs, the SiLU output and their product: 8 bytes per inner unit,
as PyTorch's autograd does without a fused kernel), the experts a token is routed to, and
dropout only where the model trains with it. FlashAttention (Dao 2022, section 3.1) never
stores the score matrix: it keeps Q, K, V, the output and a 4-byte log-sum-exp per head
and token in place of the s^2 terms.

Tensor parallelism (Megatron) splits the heads and the MLP's inner width over `tp`; the
layer's input, the norms' inputs and the dropout masks stay whole on every rank unless
sequence parallelism splits them along the sequence (section 4.2.2). Selective
recomputation (section 5) recomputes the attention core, so its s^2 terms (and
FlashAttention's log-sum-exp) are not kept; full recomputation keeps each layer's input
(2sbh) and recomputes the rest during the backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from envelope_xl.checks import Names
from envelope_xl.errors import InputError

#: Bytes of one activation value (16-bit training) and of a dropout mask element.
ACT_BYTES = 2
MASK_BYTES = 1
#: FlashAttention's per-row statistic (log-sum-exp) is fp32.
LSE_BYTES = 4
#: A gated MLP keeps gate output, up output, SiLU output and their product per inner unit;
#: a plain one keeps the activation's input and the second linear's input.
GATED_MLP_VALUES, PLAIN_MLP_VALUES = 4, 2

ATTENTION: Names[str] = Names(
    "attention implementation",
    {"flash": "flash", "eager": "eager"},
    {
        "flash": ["flash-attention", "flashattention", "fa", "fa2", "fa3", "sdpa", "memory-efficient"],
        "eager": ["math", "naive", "standard", "vanilla", "materialized"],
    },
)


@dataclass(frozen=True)
class LayerShape:
    """The widths of one transformer layer that decide what it stores per token."""

    hidden: int
    heads: int
    kv_heads: int
    qk_width: float  # per head
    v_width: float  # per head
    mlp: tuple[tuple[float, float], ...]  # (expert MLPs each token runs, inner width); dense: ((1, f),)
    gated: bool
    routed: int = 0  # routed experts per token; 0 for a dense MLP
    dropout: bool = False
    latent: float = 0.0  # values kept beside Q, K, V: MLA latents (norm inputs, outputs), q/k-norm inputs
    adapter_attention: float = 0.0  # LoRA: sum of ranks over adapted attention matrices
    adapter_mlp: float = 0.0  # LoRA: sum of ranks over adapted MLP matrices (all experts a token runs)
    norms: int = 2  # norms per layer, each keeping its input (Gemma 2 has 4)


def check_tp(shape: LayerShape, tp: int) -> None:
    """Tensor parallelism splits the query heads; KV heads split or are replicated."""
    if shape.heads % tp:
        raise InputError("tp", tp, f"expected a divisor of heads ({shape.heads}): tensor "
                         "parallelism splits the heads")
    g = shape.kv_heads
    if (g >= tp and g % tp) or (g < tp and tp % g):
        raise InputError("tp", tp, f"expected a divisor or multiple of the KV heads ({g}): each rank holds "
                         "whole KV heads, replicated when there are fewer than tp")


def layer_bytes(
    shape: LayerShape, seq_len: int, micro_batch: int, tp: int, sp: bool, attention: str, recompute: str
) -> tuple[float, float, float]:
    """(attention, MLP, norms) bytes one layer keeps for one micro-batch, per GPU, when it is
    not fully recomputed (`recompute` is "none" or "selective")."""
    h, t, s = shape.hidden, tp, seq_len
    tokens = seq_len * micro_batch
    whole = 1 / t if sp else 1.0  # share of the tensors only sequence parallelism splits
    q = shape.heads / t
    kv = max(shape.kv_heads, t) / t
    mask = MASK_BYTES if shape.dropout else 0
    kept = recompute == "none"  # selective recomputes the attention core

    att_whole = ACT_BYTES * h + mask * h + ACT_BYTES * (shape.latent + shape.adapter_attention)
    att_split = ACT_BYTES * (q * shape.qk_width + kv * shape.qk_width + kv * shape.v_width + q * shape.v_width)
    if kept and attention == "flash":
        att_split += LSE_BYTES * q
    scores = 0.0
    if kept and attention == "eager":  # softmax output, and with dropout its mask and output
        scores = q * s * (ACT_BYTES + (mask + ACT_BYTES if shape.dropout else 0))

    mlp_whole = ACT_BYTES * h + mask * h + ACT_BYTES * shape.adapter_mlp
    # Routed tokens: the dispatched copy of each input, and each expert's output kept for the
    # router-weighted sum.
    mlp_whole += shape.routed * 2 * ACT_BYTES * h
    per_unit = ACT_BYTES * (GATED_MLP_VALUES if shape.gated else PLAIN_MLP_VALUES)
    mlp_split = sum(n * width for n, width in shape.mlp) * per_unit / t

    norms = shape.norms * ACT_BYTES * h * whole
    return (
        tokens * (att_whole * whole + att_split + scores),
        tokens * (mlp_whole * whole + mlp_split),
        tokens * norms,
    )


def layer_input_bytes(shape: LayerShape, seq_len: int, micro_batch: int, tp: int, sp: bool) -> float:
    """What full recomputation keeps of a layer: its input, split by sequence parallelism."""
    return ACT_BYTES * shape.hidden * seq_len * micro_batch / (tp if sp else 1)


def korthikanti_shape(hidden: int, heads: int) -> LayerShape:
    """GPT as in Korthikanti et al.: multi-head attention, a 4h GeLU MLP, LayerNorm, dropout."""
    width = hidden / heads
    return LayerShape(hidden, heads, heads, width, width, ((1, 4 * hidden),), gated=False, dropout=True)
