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

_COMPUTE_SOURCE = "kaplan2020 section 2.1 (C = 6N per training token)"
_TIME_SOURCE = (
    _COMPUTE_SOURCE + "; narayanan2021 section 5.1 (training time = FLOPs divided by GPUs x achieved FLOP/s per GPU)"
)
_TIME_ASSUMPTIONS = (
    "training compute is 6 x params x tokens (forward 2, backward 4 FLOPs per parameter per token); "
    "attention FLOPs and recomputation are not counted",
    "the GPUs sustain `mfu` of their dense peak in `precision` for the whole run",
)


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
    params: float, tokens: float, gpus: int, gpu: str = "H100-SXM", precision: str = "bf16", mfu: float = 0.4
) -> tuple[float, float, float, float]:
    P = positive("params", params)
    D = positive("tokens", tokens)
    cluster = whole("gpus", gpus) * _achieved_flops(gpu, precision, mfu)
    return (
        6.0 * P * D,
        cluster,
        FORWARD_FLOPS_PER_PARAM_TOKEN * P * D / cluster,
        BACKWARD_FLOPS_PER_PARAM_TOKEN * P * D / cluster,
    )


@register(
    "TRAIN_TIME",
    example=(70e9, 2e12, 1024, "H100-SXM", "bf16", 0.4),
    pillar="Compute and time",
    summary="Wall-clock training time: 6 x params x tokens FLOPs over gpus x dense peak x MFU.",
    returns="time, in `unit` (default days)",
    unit_kind="time",
    formula="6 x params x tokens / (gpus x peak(gpu, precision) x mfu)",
    source=_TIME_SOURCE,
    assumptions=_TIME_ASSUMPTIONS,
    steps=(
        Step("training compute", "6 x params x tokens", part=False, unit="FLOP"),
        Step("cluster throughput", "gpus x dense peak x mfu", part=False, unit="FLOP/s"),
        Step("forward passes", "2 x params x tokens / cluster throughput"),
        Step("backward passes", "4 x params x tokens / cluster throughput"),
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
) -> float:
    """Training wall-clock time in `unit`.

    Formula: 6 * P * D / (gpus * peak * mfu), peak = the GPU's dense peak in `precision`.

    Assumptions: the 6PD compute model; a constant MFU over the run; no restarts.

    Source: Kaplan et al. 2020 section 2.1; Narayanan et al. 2021 section 5.1.

    Examples:
        7e9 parameters on 1e12 tokens with 1,024 H100s in bf16 at 40% MFU:

        >>> round(train_time(7e9, 1e12, 1024, "H100-SXM", "bf16", 0.4), 3)
        1.199
    """
    _, _, fwd, bwd = _train_time_steps(params, tokens, gpus, gpu, precision, mfu)
    return (fwd + bwd) / TIME_UNITS.get("unit", unit)


@register(
    "GPU_HOURS",
    example=(7e9, 2e12, "A100-80GB", "bf16", 0.4),
    pillar="Compute and time",
    summary="GPU-hours to train: 6 x params x tokens FLOPs over one GPU's dense peak x MFU, in hours.",
    returns="GPU-hours",
    result_unit="GPU-hours",
    formula="6 x params x tokens / (peak(gpu, precision) x mfu) / 3600",
    source=_TIME_SOURCE,
    assumptions=_TIME_ASSUMPTIONS,
)
def gpu_hours(
    params: float, tokens: float, gpu: str = "H100-SXM", precision: str = "bf16", mfu: float = 0.4
) -> float:
    """GPU-hours of training.

    Formula: 6 * P * D / (peak * mfu) / 3600.

    Source: as TRAIN_TIME. Llama 2 7B (6.74e9 parameters, 2e12 tokens) reported
    184,320 A100-80GB hours (Touvron et al. 2023, Table 2): an implied MFU of 0.39.

    Examples:
        >>> gpu_hours(7e9, 1e12, "H100-SXM", "bf16", 0.5) == 6 * 7e9 * 1e12 / (989.5e12 * 0.5) / 3600
        True
    """
    return train_flops(params, tokens) / _achieved_flops(gpu, precision, mfu) / SECONDS_PER_HOUR


@register(
    "TRAIN_COST",
    example=(7e9, 2e12, 2.5, "H100-SXM"),
    pillar="Compute and time",
    summary="Training cost in USD: GPU-hours x price per GPU-hour.",
    returns="USD",
    result_unit="USD",
    formula="6 x params x tokens / (peak x mfu) / 3600 x usd_per_gpu_hour",
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
) -> float:
    """Training cost in USD: GPU_HOURS * usd_per_gpu_hour.

    Examples:
        >>> round(train_cost(7e9, 1e12, 2.0, "H100-SXM", "bf16", 0.4))
        58952
    """
    return gpu_hours(params, tokens, gpu, precision, mfu) * positive("usd_per_gpu_hour", usd_per_gpu_hour)


@register(
    "GPUS_FOR_DEADLINE",
    example=(70e9, 2e12, 30),
    pillar="Compute and time",
    summary="Whole GPUs needed to finish training within `days`, rounded up.",
    returns="GPUs (whole number)",
    result_unit="GPUs",
    formula="ceiling(6 x params x tokens / (peak x mfu x days x 86400))",
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
) -> int:
    """GPUs needed to train within `days`, rounded up to a whole GPU.

    Formula: ceil(6 * P * D / (peak * mfu * days * 86400)).

    Examples:
        >>> gpus_for_deadline(7e9, 1e12, 1.2)
        1024
    """
    seconds = positive("days", days) * SECONDS_PER_DAY
    exact = train_flops(params, tokens) / (_achieved_flops(gpu, precision, mfu) * seconds)
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
