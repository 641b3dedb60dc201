"""Training compute and time: about 6 x params x tokens FLOPs over the cluster's achieved FLOP/s."""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.checks import fraction, positive, whole
from envelope_xl.core.recompute import RECOMPUTE
from envelope_xl.errors import InputError
from envelope_xl.models import Architecture, resolve_model
from envelope_xl.reference import GPUS, PRECISIONS
from envelope_xl.registry import Step, register
from envelope_xl.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, TIME_UNITS

#: Forward 2 FLOPs per parameter per token, backward twice that (Kaplan et al. 2020, section 2.1).
FORWARD_FLOPS_PER_PARAM_TOKEN = 2.0
BACKWARD_FLOPS_PER_PARAM_TOKEN = 4.0

_COMPUTE_SOURCE = "kaplan2020 section 2.1 (C = 6N per training token)"
_TIME_SOURCE = (
    _COMPUTE_SOURCE + "; narayanan2021 section 5.1 (training time = FLOPs divided by GPUs x achieved FLOP/s per GPU)"
)
_TIME_ASSUMPTIONS = (
    "training compute is 6 x params x tokens (forward 2, backward 4 FLOPs per parameter per token), with the "
    "active parameters of a mixture of experts; a bare parameter count is taken as dense; attention FLOPs and "
    "recomputation are not counted (TRAIN_FLOPS adds them)",
    "the GPUs sustain `mfu` of their dense peak in `precision` for the whole run",
    "wall time is computing time / goodput: the share left after checkpoint writes, work lost to failures "
    "and restarts (GOODPUT; 1 = none)",
)


#: What `model` means where only the parameter count matters.
_MODEL_DOC = ("model: a preset, a config.json, a range of field/value rows, or a parameter count (taken as dense); "
              "a mixture of experts counts its active parameters")


def _goodput(goodput: object) -> float:
    """Share of wall time spent training: time and GPU-hours are the computing time over it."""
    return fraction("goodput", goodput)


def _achieved_flops(gpu: str, precision: str, mfu: float) -> float:
    """FLOP/s one GPU sustains: dense peak in `precision` x utilisation."""
    return GPUS.get("gpu", gpu).peak_flops(PRECISIONS.get("precision", precision)) * fraction("mfu", mfu)


def _mean_attended(m: Architecture, seq_len: int) -> float:
    """Token-layers one token attends to, on average over a causal sequence of `seq_len`
    tokens: position i attends to i tokens, at most `sliding_window` in a windowed layer."""
    s = seq_len
    full = m.layers - m.window_layers
    w = m.sliding_window
    windowed = (s + 1) / 2 if not m.window_layers or s <= w else (w * (w + 1) / 2 + (s - w) * w) / s
    return full * (s + 1) / 2 + m.window_layers * windowed


def _train_flops_steps(
    model: Any, tokens: float, seq_len: int = 0, recompute: str = "none"
) -> tuple[float, float, float]:
    m = resolve_model("model", model)
    N = m.active_params
    D = positive("tokens", tokens)
    s = whole("seq_len", seq_len, low=0)
    mode = RECOMPUTE.get("recompute", recompute)
    params = (FORWARD_FLOPS_PER_PARAM_TOKEN + BACKWARD_FLOPS_PER_PARAM_TOKEN) * N * D
    attention_forward = 0.0
    if s:
        if m.counted_only:
            raise InputError("seq_len", seq_len, "expected 0 with a bare parameter count: attention FLOPs need the "
                             "model's layers and heads; give a preset, a config.json or a range of fields")
        qk, v = m.attention_width()
        # Scores (q.k) and the weighted sum of values: 2 FLOPs per multiply-add, per head and attended token.
        attention_forward = 2.0 * m.heads * (qk + v) * _mean_attended(m, s) * D
    # Backward passes cost twice the forward (Kaplan et al. 2020); recomputation repeats the forward of
    # the transformer blocks (not the embedding or the output head): all of it under full recomputation,
    # the attention core under selective.
    blocks = N if m.counted_only else N - sum(m.param_steps()[:3])
    extra = (FORWARD_FLOPS_PER_PARAM_TOKEN * blocks * D if mode == "full" else 0.0) + (
        attention_forward if mode != "none" else 0.0
    )
    return (params, 3 * attention_forward, extra)


@register(
    "TRAIN_FLOPS",
    example=("llama-3-8b", 15e12),
    pillar="Compute and time",
    summary="Training compute in FLOPs: 6 x active parameters x tokens; with `seq_len`, plus causal attention; "
    "with recompute, the extra forward pass (hardware FLOPs).",
    returns="FLOPs",
    result_unit="FLOP",
    formula="6 x active params x tokens [+ 3 x attention forward FLOPs (causal) at seq_len] [+ recomputed forward]",
    source=_COMPUTE_SOURCE + "; narayanan2021 section 5.1 (FLOPs per iteration with full recomputation: "
    "96 B s l h^2 times 1 + s/6h + V/16lh); korthikanti2022 appendix A (model FLOPs: 72 B s l h^2 times "
    "1 + s/6h + V/12lh, both count attention without the causal mask); chowdhery2022 appendix B (MFU: "
    "model FLOPs, 6N + attention, no recomputation)",
    assumptions=(
        "forward 2, backward 4 FLOPs per active parameter per token; a mixture of experts runs its shared layers "
        "and experts_per_token routed experts per token; a bare parameter count is taken as dense",
        "attention (seq_len > 0): 2 x heads x (q/k width + value width) FLOPs per attended token and layer, forward; "
        "causal, so the token at position i attends to i tokens (at most the window in a sliding-window layer); "
        "backward twice the forward",
        "recompute \"full\" adds the blocks' forward pass (2 x their active params x tokens + the attention "
        "forward; a bare count is taken as all blocks): hardware "
        "FLOPs, as HFU counts them; \"selective\" adds the attention forward; MFU uses the model FLOPs "
        "(recompute \"none\"), as PaLM defines it",
        "PaLM and Megatron count non-causal attention (twice the causal figure) in their MFU",
    ),
    arg_docs={
        "model": _MODEL_DOC,
        "seq_len": "tokens per training sequence: adds the attention FLOPs (0, the default, leaves them out, as 6ND)",
        "recompute": "none (model FLOPs, for MFU), selective (+ the attention forward) or full (+ a whole forward: "
        "hardware FLOPs)",
    },
    steps=(
        Step("parameter FLOPs", "6 x active params x tokens (forward 2, backward 4)"),
        Step("attention FLOPs", "3 x 2 x heads x (qk + v width) x mean attended token-layers x tokens (causal)"),
        Step("recomputation", "full: 2 x the blocks' active params x tokens + the attention forward; selective: the "
             "attention forward"),
    ),
    steps_fn=_train_flops_steps,
)
def train_flops(model: Any, tokens: float, seq_len: int = 0, recompute: str = "none") -> float:
    """Training FLOPs.

    Formula: 6*N*D (N = active parameters), + 3 x the causal attention forward FLOPs
    when `seq_len` is given, + the recomputed forward pass under `recompute`.

    Assumptions: forward 2 and backward 4 FLOPs per active parameter per token; a
    mixture of experts runs only its routed experts' MLPs; attention is causal (a token
    attends to the ones before it); a bare parameter count is taken as dense.

    Source: Kaplan et al. 2020, section 2.1. GPT-3 175B on 300B tokens gives 3.15e23,
    against 3.14e23 in Brown et al. 2020, Table D.1. MFU (Chowdhery et al. 2022,
    Appendix B) divides the model FLOPs (recompute "none") by time and peak; HFU the
    hardware FLOPs (recompute "full").

    Examples:
        >>> train_flops(175e9, 300e9)
        3.15e+23
        >>> round(train_flops("mixtral-8x7b", 1e12) / train_flops(46.7e9, 1e12), 3)  # 12.9B of 46.7B active
        0.276
    """
    return sum(_train_flops_steps(model, tokens, seq_len, recompute))


def _train_time_steps(
    model: Any,
    tokens: float,
    gpus: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float = 0.4,
    goodput: float = 1.0,
) -> tuple[float, float, float, float]:
    flops = train_flops(model, tokens)
    cluster = whole("gpus", gpus) * _achieved_flops(gpu, precision, mfu)
    computing = flops / cluster
    return flops, cluster, computing, computing * (1 / _goodput(goodput) - 1)


@register(
    "TRAIN_TIME",
    example=(70e9, 2e12, 1024, "H100-SXM", "bf16", 0.4),
    arg_docs={"model": _MODEL_DOC},
    pillar="Compute and time",
    summary="Wall-clock training time: 6 x params x tokens FLOPs over gpus x dense peak x MFU, divided by "
    "goodput.",
    returns="time, in `unit` (default days)",
    unit_kind="time",
    formula="6 x params x tokens / (gpus x peak(gpu, precision) x mfu) / goodput",
    source=_TIME_SOURCE,
    assumptions=_TIME_ASSUMPTIONS,
    steps=(
        Step("training compute", "6 x params x tokens", part=False, unit="FLOP"),
        Step("cluster's achieved FLOP/s", "gpus x dense peak x mfu", part=False, unit="FLOP/s"),
        Step("computing", "training compute / cluster's achieved FLOP/s"),
        Step("lost to failures and checkpoints", "computing x (1 / goodput - 1)"),
    ),
    steps_fn=_train_time_steps,
)
def train_time(
    model: Any,
    tokens: float,
    gpus: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float = 0.4,
    unit: str = "days",
    goodput: float = 1.0,
) -> float:
    """Training wall-clock time in `unit`.

    Formula: 6 * P * D / (gpus * peak * mfu) / goodput, peak = the GPU's dense peak in `precision`.

    Assumptions: the 6PD compute model; a constant MFU over the run; failures, restarts and
    checkpoint writes through `goodput` (GOODPUT), 1 by default.

    Source: Kaplan et al. 2020 section 2.1; Narayanan et al. 2021 section 5.1.

    Examples:
        7e9 parameters on 1e12 tokens with 1,024 H100s in bf16 at 40% MFU:

        >>> round(train_time(7e9, 1e12, 1024, "H100-SXM", "bf16", 0.4), 3)
        1.199
    """
    _, _, computing, lost = _train_time_steps(model, tokens, gpus, gpu, precision, mfu, goodput)
    return (computing + lost) / TIME_UNITS.get("unit", unit)


@register(
    "GPU_HOURS",
    example=(7e9, 2e12, "A100-80GB", "bf16", 0.4),
    arg_docs={"model": _MODEL_DOC},
    pillar="Compute and time",
    summary="GPU-hours to train: 6 x params x tokens FLOPs over one GPU's dense peak x MFU, in hours.",
    returns="GPU-hours",
    result_unit="GPU-hours",
    formula="6 x params x tokens / (peak(gpu, precision) x mfu) / 3600 / goodput",
    source=_TIME_SOURCE,
    assumptions=_TIME_ASSUMPTIONS,
)
def gpu_hours(
    model: Any,
    tokens: float,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float = 0.4,
    goodput: float = 1.0,
) -> float:
    """GPU-hours of training, the GPUs held through failures and checkpoints included.

    Formula: 6 * P * D / (peak * mfu) / 3600 / goodput.

    Source: as TRAIN_TIME. Llama 2 7B (6.74e9 parameters, 2e12 tokens) reported
    184,320 A100-80GB hours (Touvron et al. 2023, Table 2): an implied MFU of 0.39.

    Examples:
        >>> gpu_hours(7e9, 1e12, "H100-SXM", "bf16", 0.5) == 6 * 7e9 * 1e12 / (989.5e12 * 0.5) / 3600
        True
    """
    hours = train_flops(model, tokens) / _achieved_flops(gpu, precision, mfu) / SECONDS_PER_HOUR
    return hours / _goodput(goodput)


@register(
    "TRAIN_COST",
    example=(7e9, 2e12, 2.5, "H100-SXM"),
    arg_docs={"model": _MODEL_DOC},
    pillar="Compute and time",
    summary="Training cost in USD: GPU-hours x price per GPU-hour.",
    returns="USD",
    result_unit="USD",
    formula="6 x params x tokens / (peak x mfu) / 3600 / goodput x usd_per_gpu_hour",
    source=_TIME_SOURCE,
    assumptions=(*_TIME_ASSUMPTIONS, "every GPU-hour is billed; no idle, storage or network charges"),
)
def train_cost(
    model: Any,
    tokens: float,
    usd_per_gpu_hour: float,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float = 0.4,
    goodput: float = 1.0,
) -> float:
    """Training cost in USD: GPU_HOURS * usd_per_gpu_hour.

    Examples:
        >>> round(train_cost(7e9, 1e12, 2.0, "H100-SXM", "bf16", 0.4))
        58952
    """
    hours = gpu_hours(model, tokens, gpu, precision, mfu, goodput)
    return hours * positive("usd_per_gpu_hour", usd_per_gpu_hour)


@register(
    "GPUS_FOR_DEADLINE",
    example=(70e9, 2e12, 30),
    arg_docs={"model": _MODEL_DOC},
    pillar="Compute and time",
    summary="Whole GPUs needed to finish training within `days`, rounded up.",
    returns="GPUs (whole number)",
    result_unit="GPUs",
    formula="ceiling(6 x params x tokens / (peak x mfu x days x 86400) / goodput)",
    source=_TIME_SOURCE,
    assumptions=(*_TIME_ASSUMPTIONS, "throughput scales linearly with the GPU count"),
)
def gpus_for_deadline(
    model: Any,
    tokens: float,
    days: float,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float = 0.4,
    goodput: float = 1.0,
) -> int:
    """GPUs needed to train within `days`, rounded up to a whole GPU.

    Formula: ceil(6 * P * D / (peak * mfu * days * 86400) / goodput).

    Examples:
        >>> gpus_for_deadline(7e9, 1e12, 1.2)
        1024
    """
    seconds = positive("days", days) * SECONDS_PER_DAY
    exact = train_flops(model, tokens) / (_achieved_flops(gpu, precision, mfu) * seconds) / _goodput(goodput)
    # Forgive float noise at exact integers (1024.0000000001 GPUs is 1024).
    return math.ceil(exact * (1 - 1e-12))


@register(
    "CHINCHILLA_TOKENS",
    example=(70e9,),
    pillar="Compute and time",
    summary="Compute-optimal training tokens for a model size: about 20 tokens per parameter (Chinchilla).",
    returns="tokens",
    result_unit="tokens",
    formula="20 x params",
    source="hoffmann2022 Table 1, Table 3 (Chinchilla: 70B parameters on 1.4T tokens in Table 1, "
    "about 20 tokens per parameter in Table 3)",
    assumptions=("the 20 tokens/parameter rule of thumb read off the paper's Table 3",),
)
def chinchilla_tokens(params: float) -> float:
    """Compute-optimal token count: 20 * params.

    Source: Hoffmann et al. 2022, Table 1 (Chinchilla: 70B parameters, 1.4T tokens) and
    Table 3 (compute-optimal tokens, about 20 per parameter).

    Examples:
        >>> chinchilla_tokens(70e9)
        1400000000000.0
    """
    return 20.0 * positive("params", params)
