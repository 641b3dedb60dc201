"""Training compute and time: about 6 x params x tokens FLOPs over the cluster's achieved FLOP/s."""

from __future__ import annotations

import math

from envelope_xl.checks import fraction, positive, whole
from envelope_xl.reference import GPUS, PRECISIONS
from envelope_xl.registry import Step, register
from envelope_xl.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, TIME_UNITS

#: Forward 2 FLOPs per parameter per token, backward twice that (Kaplan et al. 2020, section 2.1).
FORWARD_FLOPS_PER_PARAM_TOKEN = 2.0
BACKWARD_FLOPS_PER_PARAM_TOKEN = 4.0

_COMPUTE_SOURCE = "Kaplan et al. 2020, 'Scaling Laws for Neural Language Models', section 2.1 (C = 6ND)"
_TIME_SOURCE = (
    _COMPUTE_SOURCE + "; Narayanan et al. 2021, 'Efficient Large-Scale Language Model Training on GPU "
    "Clusters Using Megatron-LM', section 5.1 (time = FLOPs / (GPUs x achieved FLOP/s))"
)
_TIME_ASSUMPTIONS = (
    "training compute is 6 x params x tokens (forward 2, backward 4 FLOPs per parameter per token); "
    "attention FLOPs and recomputation are not counted",
    "the GPUs sustain `mfu` of their dense peak in `precision` for the whole run",
    "wall time is computing time / goodput: the share left after checkpoint writes, work lost to failures "
    "and restarts (GOODPUT; 1 = none)",
)


def _goodput(goodput: object) -> float:
    """Share of wall time spent training: time and GPU-hours are the computing time over it."""
    return fraction("goodput", goodput)


def _achieved_flops(gpu: str, precision: str, mfu: float) -> float:
    """FLOP/s one GPU sustains: dense peak in `precision` x utilisation."""
    return GPUS.get("gpu", gpu).peak_flops(PRECISIONS.get("precision", precision)) * fraction("mfu", mfu)


@register(
    "TRAIN_FLOPS",
    example=(70e9, 2e12),
    pillar="Compute and time",
    summary="Training compute in FLOPs: 6 x params x tokens (forward 2, backward 4 per parameter per token).",
    returns="FLOPs",
    result_unit="FLOP",
    formula="6 x params x tokens",
    source=_COMPUTE_SOURCE,
    assumptions=_TIME_ASSUMPTIONS[:1],
)
def train_flops(params: float, tokens: float) -> float:
    """Training FLOPs.

    Formula: 6 * params * tokens.

    Assumptions: dense model; attention's sequence-length term and activation
    recomputation are not counted.

    Source: Kaplan et al. 2020, section 2.1. GPT-3 175B on 300B tokens gives
    3.15e23, against 3.14e23 in Brown et al. 2020, Table D.1.

    Examples:
        >>> train_flops(175e9, 300e9)
        3.15e+23
    """
    return 6.0 * positive("params", params) * positive("tokens", tokens)


def _train_time_steps(
    params: float,
    tokens: float,
    gpus: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float = 0.4,
    goodput: float = 1.0,
) -> tuple[float, float, float, float]:
    flops = train_flops(params, tokens)
    cluster = whole("gpus", gpus) * _achieved_flops(gpu, precision, mfu)
    computing = flops / cluster
    return flops, cluster, computing, computing * (1 / _goodput(goodput) - 1)


@register(
    "TRAIN_TIME",
    example=(70e9, 2e12, 1024, "H100-SXM", "bf16", 0.4),
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
    params: float,
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
    _, _, computing, lost = _train_time_steps(params, tokens, gpus, gpu, precision, mfu, goodput)
    return (computing + lost) / TIME_UNITS.get("unit", unit)


@register(
    "GPU_HOURS",
    example=(7e9, 2e12, "A100-80GB", "bf16", 0.4),
    pillar="Compute and time",
    summary="GPU-hours to train: 6 x params x tokens FLOPs over one GPU's dense peak x MFU, in hours.",
    returns="GPU-hours",
    result_unit="GPU-hours",
    formula="6 x params x tokens / (peak(gpu, precision) x mfu) / 3600 / goodput",
    source=_TIME_SOURCE,
    assumptions=_TIME_ASSUMPTIONS,
)
def gpu_hours(
    params: float,
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
    hours = train_flops(params, tokens) / _achieved_flops(gpu, precision, mfu) / SECONDS_PER_HOUR
    return hours / _goodput(goodput)


@register(
    "TRAIN_COST",
    example=(7e9, 2e12, 2.5, "H100-SXM"),
    pillar="Compute and time",
    summary="Training cost in USD: GPU-hours x price per GPU-hour.",
    returns="USD",
    result_unit="USD",
    formula="6 x params x tokens / (peak x mfu) / 3600 / goodput x usd_per_gpu_hour",
    source=_TIME_SOURCE,
    assumptions=(*_TIME_ASSUMPTIONS, "every GPU-hour is billed; no idle, storage or network charges"),
)
def train_cost(
    params: float,
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
    hours = gpu_hours(params, tokens, gpu, precision, mfu, goodput)
    return hours * positive("usd_per_gpu_hour", usd_per_gpu_hour)


@register(
    "GPUS_FOR_DEADLINE",
    example=(70e9, 2e12, 30),
    pillar="Compute and time",
    summary="Whole GPUs needed to finish training within `days`, rounded up.",
    returns="GPUs (whole number)",
    result_unit="GPUs",
    formula="ceiling(6 x params x tokens / (peak x mfu x days x 86400) / goodput)",
    source=_TIME_SOURCE,
    assumptions=(*_TIME_ASSUMPTIONS, "throughput scales linearly with the GPU count"),
)
def gpus_for_deadline(
    params: float,
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
    exact = train_flops(params, tokens) / (_achieved_flops(gpu, precision, mfu) * seconds) / _goodput(goodput)
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
    source="Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', Table 3 "
    "(70B parameters: 1.4T tokens)",
    assumptions=("the 20 tokens/parameter rule of thumb read off the paper's Table 3",),
)
def chinchilla_tokens(params: float) -> float:
    """Compute-optimal token count: 20 * params.

    Source: Hoffmann et al. 2022, Table 3 (Chinchilla: 70B parameters, 1.4T tokens).

    Examples:
        >>> chinchilla_tokens(70e9)
        1400000000000.0
    """
    return 20.0 * positive("params", params)
