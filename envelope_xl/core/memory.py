"""Memory: weights, training model states, activations, KV cache, checkpoints.

Results are bytes internally and `unit` (decimal GB by default) at the surface.
"""

from __future__ import annotations

from envelope_xl.checks import flag, positive, whole
from envelope_xl.core.activations import ATTENTION, check_tp, korthikanti_shape, layer_bytes, layer_input_bytes
from envelope_xl.core.recompute import RECOMPUTE
from envelope_xl.errors import InputError
from envelope_xl.reference import OPTIMIZERS, PRECISIONS, Precision
from envelope_xl.registry import Step, register
from envelope_xl.units import BYTE_UNITS

#: Mixed precision keeps an fp32 master copy of the weights (Micikevicius et al. 2018).
MASTER_BYTES = 4.0

_MODEL_STATES_SOURCE = "rajbhandari2020 section 3.1, section 5; micikevicius2018 section 3.1 (fp32 master weights)"


def _trainable(precision: object) -> Precision:
    p = PRECISIONS.get("precision", precision)
    if not p.trainable:
        raise InputError(
            "precision", precision,
            "expected a floating-point training format (fp32, tf32, bf16, fp16, fp8, fp4); "
            "integer and 4-bit storage formats hold no gradients",
            'For a frozen base stored in it, see TRAIN_PEAK_MEM with method "qlora".',
        )
    return p


@register(
    "MODEL_MEM",
    example=(7e9, "fp16"),
    pillar="Memory",
    summary="Memory for a model's weights alone (inference, before KV cache and activations).",
    returns="bytes of weights, in `unit` (default GB = 1e9 bytes)",
    unit_kind="bytes",
    formula="params x bytes per parameter",
    source="anthony2023 section 'Inference' (model weights: bytes per parameter x parameters)",
    assumptions=("weights only: no KV cache, activations, framework buffers or fragmentation",),
)
def model_mem(params: float, precision: str = "bf16", unit: str = "GB") -> float:
    """Weights memory in `unit`.

    Formula: params * bytes(precision).

    Assumptions: weights only, no KV cache, activations or runtime overhead (often
    quoted as +20% for inference, EleutherAI).

    Source: Anthony, Biderman and Schoelkopf 2023, "Transformer Math 101", "Inference".

    Examples:
        >>> model_mem(7e9, "fp16")
        14.0
    """
    return positive("params", params) * PRECISIONS.get("precision", precision).bytes / BYTE_UNITS.get("unit", unit)


def _train_mem_steps(
    params: float, precision: str = "bf16", optimizer: str = "adam", gpus: int = 1, zero_stage: int = 0
) -> tuple[float, float, float, float]:
    P = positive("params", params)
    b = _trainable(precision).bytes
    o = OPTIMIZERS.get("optimizer", optimizer).state_bytes
    n = whole("gpus", gpus)
    z = whole("zero_stage", zero_stage, 0, 3)
    master = MASTER_BYTES if b < MASTER_BYTES else 0.0
    # ZeRO: stage 1 shards optimizer states (with the master copy), 2 adds gradients, 3 weights.
    return (
        P * b / (n if z >= 3 else 1),
        P * b / (n if z >= 2 else 1),
        P * master / (n if z >= 1 else 1),
        P * o / (n if z >= 1 else 1),
    )


@register(
    "TRAIN_MEM",
    example=(7e9, "bf16", "adam"),
    pillar="Memory",
    summary="Model-state memory per GPU for training: weights and gradients in `precision`, fp32 master "
    "weights (mixed precision), optimizer states; ZeRO stages 1-3 shard them over `gpus`. No activations.",
    returns="bytes per GPU, in `unit` (default GB)",
    unit_kind="bytes",
    formula="params x (bytes + bytes + 4 if below fp32 + optimizer bytes), each term divided by gpus "
    "from its ZeRO stage on",
    source=_MODEL_STATES_SOURCE,
    assumptions=(
        "gradients are kept in the training precision",
        "below fp32, an fp32 master copy of the weights is kept (mixed precision)",
        "ZeRO-1 shards optimizer states and master weights, ZeRO-2 also gradients, ZeRO-3 also weights",
        "activations, communication buffers and fragmentation are not included",
    ),
    steps=(
        Step("weights", "params x bytes(precision) [/ gpus at ZeRO-3]"),
        Step("gradients", "params x bytes(precision) [/ gpus at ZeRO-2+]"),
        Step("fp32 master weights", "params x 4 when precision < 4 bytes [/ gpus at ZeRO-1+]"),
        Step("optimizer states", "params x optimizer bytes [/ gpus at ZeRO-1+]"),
    ),
    steps_fn=_train_mem_steps,
)
def train_mem(
    params: float,
    precision: str = "bf16",
    optimizer: str = "adam",
    gpus: int = 1,
    zero_stage: int = 0,
    unit: str = "GB",
) -> float:
    """Model-state memory per GPU for training, in `unit`.

    Formula (b = bytes(precision), K = optimizer bytes, N = gpus):
        weights P*b [/N at ZeRO-3] + gradients P*b [/N at ZeRO-2+]
        + master P*4 if b < 4 [/N at ZeRO-1+] + optimizer P*K [/N at ZeRO-1+]

    Assumptions: gradients in the training precision; mixed precision keeps fp32
    master weights; activations, buffers and fragmentation excluded.

    Source: Rajbhandari et al. 2020, ZeRO, section 3.1 (2 + 2 + K with K = 12 for
    mixed-precision Adam) and Figure 1 (7.5B parameters on 64 GPUs: 120, 31.4, 16.6,
    1.9 GB for stages 0-3).

    Examples:
        >>> train_mem(7e9, "bf16", "adam")
        112.0
        >>> round(train_mem(7.5e9, "fp16", "adam", 64, 1), 1)
        31.4
    """
    w, g, m, o = _train_mem_steps(params, precision, optimizer, gpus, zero_stage)
    return (w + g + m + o) / BYTE_UNITS.get("unit", unit)


def _activation_steps(
    layers: int,
    hidden: int,
    heads: int,
    seq_len: int,
    micro_batch: int,
    recompute: str = "none",
    tp: int = 1,
    sp: bool = False,
    attention: str = "eager",
) -> tuple[float, float, float, float]:
    L = whole("layers", layers)
    shape = korthikanti_shape(whole("hidden", hidden), whole("heads", heads))
    s = whole("seq_len", seq_len)
    b = whole("micro_batch", micro_batch)
    mode = RECOMPUTE.get("recompute", recompute)
    t = whole("tp", tp)
    split = flag("sp", sp)
    impl = ATTENTION.get("attention", attention)
    check_tp(shape, t)
    if mode == "full":  # only each layer's input is kept (Table 2: 2sbhL, / t with sequence parallelism)
        return (0.0, 0.0, 0.0, L * layer_input_bytes(shape, s, b, t, split))
    at, mlp, norms = layer_bytes(shape, s, b, t, split, impl, mode)
    return (L * at, L * mlp, L * norms, 0.0)


@register(
    "ACTIVATION_MEM",
    example=(32, 4096, 32, 4096, 1, "selective"),
    pillar="Memory",
    summary="Activation memory of a GPT-style transformer's layers for one micro-batch, per GPU (Korthikanti et "
    "al. 2022): no, selective or full recomputation, tensor and sequence parallelism, eager or FlashAttention. "
    "For a real model's peak memory use TRAIN_PEAK_MEM.",
    returns="bytes per GPU, in `unit` (default GB)",
    unit_kind="bytes",
    formula="layers x s x b x h x (10 + 24/tp + 5 a s / (h tp)); selective: (10 + 24/tp); full: 2; "
    "with sp: every term / tp; flash: the 5 a s / h term becomes 4 a / h (fp32 log-sum-exp)",
    source="korthikanti2022 section 4.1, Table 2, section 5 (selective recomputation); "
    "dao2022 section 3.1 (no score matrix stored, softmax statistics kept instead)",
    assumptions=(
        "GPT layer as in the paper: multi-head attention, a 4 x hidden GeLU MLP, LayerNorm, dropout; "
        "16-bit activations, 1-byte dropout masks",
        "defaults reproduce the paper's Table 2: no sequence parallelism, the attention score matrix stored "
        "(eager); a modern stack is sp TRUE with tp > 1 and attention \"flash\"",
        "transformer layers only: embeddings, final norm and logits are not included (TRAIN_PEAK_MEM adds them)",
    ),
    arg_docs={
        "sp": "TRUE for Megatron sequence parallelism (norms, dropout and layer inputs split over tp too); "
        "default FALSE, as the paper's baseline",
        "attention": "eager (default, the score matrix is stored as in the paper) or flash (FlashAttention: "
        "no score matrix)",
    },
    steps=(
        Step("attention", "layers x (s b h (3 + 8/tp) + 5 a s^2 b / tp); the s^2 term is dropped when selective; "
             "flash keeps 4 a s b / tp instead; sp divides the 3 s b h by tp"),
        Step("MLP", "layers x s b h (3 + 16/tp); sp divides the 3 s b h by tp"),
        Step("layer norms", "layers x 4 s b h [/ tp with sp]"),
        Step("layer inputs kept for full recomputation", "layers x 2 s b h [/ tp with sp] (full recomputation only)"),
    ),
    steps_fn=_activation_steps,
)
def activation_mem(
    layers: int,
    hidden: int,
    heads: int,
    seq_len: int,
    micro_batch: int,
    recompute: str = "none",
    tp: int = 1,
    unit: str = "GB",
    sp: bool = False,
    attention: str = "eager",
) -> float:
    """Activation memory of all transformer layers for one micro-batch, per GPU, in `unit`.

    Formula (s = seq_len, b = micro_batch, h = hidden, a = heads, t = tp, per layer):
        none:      s*b*h*(10 + 24/t + 5*a*s/(h*t))
        selective: s*b*h*(10 + 24/t)
        full:      2*s*b*h
        sp=TRUE:   every term over t (34/t + 5as/(ht); selective 34/t; full 2/t)
        flash:     the 5*a*s/(h*t) term becomes 4*a/(h*t): no score matrix, an fp32
                   log-sum-exp per head and token

    Assumptions: GPT layer as in the paper (multi-head attention, 4h GeLU MLP,
    LayerNorm, dropout); 16-bit activations and 1-byte dropout masks; embeddings and
    logits excluded. The defaults (no sequence parallelism, eager attention) are the
    paper's Table 2 rows; today's stacks run FlashAttention with sp when tp > 1, and
    TRAIN_PEAK_MEM counts a real model's layers, logits and model states.

    Source: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
    Transformer Models", section 4.1 (per-layer 34sbh + 5as^2b) and Table 2; Dao et al.
    2022, "FlashAttention", section 3.1.

    Examples:
        >>> activation_mem(1, 1000, 10, 100, 1, unit="B")  # 100*1000*(34 + 5*10*100/1000)
        3900000.0
        >>> activation_mem(1, 1000, 10, 100, 1, tp=2, sp=True, unit="B")  # 100*1000*(34 + 50)/2
        1950000.0
    """
    at, mlp, norms, inputs = _activation_steps(
        layers, hidden, heads, seq_len, micro_batch, recompute, tp, sp, attention
    )
    return (at + mlp + norms + inputs) / BYTE_UNITS.get("unit", unit)


def _kv_steps(
    layers: int, kv_heads: int, head_dim: int, seq_len: int, batch: int = 1, precision: str = "bf16"
) -> tuple[float, float]:
    per = (
        whole("layers", layers) * whole("kv_heads", kv_heads) * whole("head_dim", head_dim)
        * whole("seq_len", seq_len) * whole("batch", batch) * PRECISIONS.get("precision", precision).bytes
    )
    return (per, per)


@register(
    "KV_CACHE",
    example=(32, 8, 128, 8192, 16),
    pillar="Memory",
    summary="KV-cache memory for `batch` sequences of `seq_len` tokens: one key and one value vector per "
    "token, layer and KV head (grouped-query attention uses kv_heads).",
    returns="bytes, in `unit` (default GB)",
    unit_kind="bytes",
    formula="2 x layers x kv_heads x head_dim x seq_len x batch x bytes(precision)",
    source="pope2022 section 2; kwon2023 section 3 (800 KB per token for OPT-13B)",
    assumptions=(
        "the cache holds every token of every sequence: no paging slack, sliding window or compression",
        "grouped-query attention: pass the KV heads, not the query heads",
    ),
    steps=(
        Step("keys", "layers x kv_heads x head_dim x seq_len x batch x bytes"),
        Step("values", "layers x kv_heads x head_dim x seq_len x batch x bytes"),
    ),
    steps_fn=_kv_steps,
)
def kv_cache(
    layers: int,
    kv_heads: int,
    head_dim: int,
    seq_len: int,
    batch: int = 1,
    precision: str = "bf16",
    unit: str = "GB",
) -> float:
    """KV-cache size in `unit`.

    Formula: 2 * layers * kv_heads * head_dim * seq_len * batch * bytes(precision).

    Assumptions: every token of every sequence is cached; no paging slack.

    Source: Pope et al. 2022, "Efficiently Scaling Transformer Inference", section 2;
    vLLM (Kwon et al. 2023, section 3) quotes 800 KB per token for OPT-13B
    (2 * 40 layers * 5120 * 2 bytes = 819,200 bytes).

    Examples:
        Llama 2 7B, 4096 tokens, bf16: 2 GiB.

        >>> kv_cache(32, 32, 128, 4096, unit="GiB")
        2.0
    """
    k, v = _kv_steps(layers, kv_heads, head_dim, seq_len, batch, precision)
    return (k + v) / BYTE_UNITS.get("unit", unit)


def _checkpoint_steps(
    params: float, precision: str = "bf16", optimizer: str = "adam", with_optimizer: bool = True
) -> tuple[float, float, float]:
    P = positive("params", params)
    o = OPTIMIZERS.get("optimizer", optimizer).state_bytes
    if not flag("with_optimizer", with_optimizer):
        return (P * PRECISIONS.get("precision", precision).bytes, 0.0, 0.0)
    b = _trainable(precision).bytes
    return (P * b, P * (MASTER_BYTES if b < MASTER_BYTES else 0.0), P * o)


@register(
    "CHECKPOINT_SIZE",
    example=(7e9, "bf16", "adam"),
    pillar="Memory",
    summary="Size of a training checkpoint on disk: weights, plus fp32 master weights and optimizer states "
    "when `with_optimizer` (needed to resume training).",
    returns="bytes, in `unit` (default GB)",
    unit_kind="bytes",
    formula="params x bytes(precision) [+ params x (4 if below fp32 + optimizer bytes)]",
    source=_MODEL_STATES_SOURCE,
    assumptions=(
        "a resumable checkpoint stores the same model states as training memory, except gradients",
        "no compression, no data-loader or RNG state",
    ),
    steps=(
        Step("weights", "params x bytes(precision)"),
        Step("fp32 master weights", "params x 4 when with_optimizer and precision < 4 bytes"),
        Step("optimizer states", "params x optimizer bytes when with_optimizer"),
    ),
    steps_fn=_checkpoint_steps,
)
def checkpoint_size(
    params: float,
    precision: str = "bf16",
    optimizer: str = "adam",
    with_optimizer: bool = True,
    unit: str = "GB",
) -> float:
    """Checkpoint size in `unit`.

    Formula: P*b, plus P*(4 if b < 4) + P*K with the optimizer.

    Assumptions: gradients are not saved; no compression.

    Source: ZeRO (Rajbhandari et al. 2020) section 3.1 for the model states.

    Examples:
        >>> checkpoint_size(7e9), checkpoint_size(7e9, with_optimizer=False)
        (98.0, 14.0)
    """
    w, m, o = _checkpoint_steps(params, precision, optimizer, with_optimizer)
    return (w + m + o) / BYTE_UNITS.get("unit", unit)
