"""Failures and checkpoints: interruptions of a large job, checkpoint cost, and the share of
wall time spent training.

Failures are a Poisson process: each GPU fails independently with a mean time between
failures (MTBF) measured on a published run, so a job on n GPUs fails every MTBF / n.
The optimal checkpoint interval and the goodput follow Daly 2006's model, in which
failures can also strike during checkpoint writes and restarts.
"""

from __future__ import annotations

import math

from envelope_xl.checks import non_negative, positive, whole
from envelope_xl.errors import InputError
from envelope_xl.reference import CLUSTER
from envelope_xl.registry import Step, register
from envelope_xl.units import SECONDS_PER_HOUR, TIME_UNITS

_MTBF = CLUSTER["gpu_mtbf"]
#: Hours between unexpected interruptions, per GPU: 16,384 GPUs x 54 days x 24 h / 419 = 50,677 h.
GPU_MTBF_HOURS: float = _MTBF["gpus"] * _MTBF["days"] * 24 / _MTBF["unexpected_interruptions"]

_MTBF_ASSUMPTION = (
    f"a GPU's job is interrupted every {GPU_MTBF_HOURS:,.0f} h on average: {_MTBF['gpus']:,} GPUs x "
    f"{_MTBF['days']} days x 24 h / {_MTBF['unexpected_interruptions']} unexpected interruptions of Llama 3's "
    "pre-training (Dubey et al. 2024, section 3.3.4), all causes (GPUs 58.7%, also hosts, network, software), "
    "planned maintenance excluded"
)
_POISSON = "failures arrive independently (Poisson), at a rate proportional to the GPU count"
_DALY = (
    "daly2006 (the optimum checkpoint interval, higher-order estimate); young1974 (first order: the "
    "square root of 2 x write time x MTBF)"
)


def _job_mtbf(gpus: object, gpu_mtbf_hours: object) -> float:
    """Seconds between interruptions of a job on `gpus` GPUs (the per-GPU MTBF over the count)."""
    return positive("gpu_mtbf_hours", gpu_mtbf_hours) * SECONDS_PER_HOUR / whole("gpus", gpus)


def daly_interval(write: float, mtbf: float) -> float:
    """Daly's optimum compute time between checkpoints, seconds (his equation for delta < 2M).

    sqrt(2 delta M) [1 + sqrt(delta / 2M) / 3 + (delta / 2M) / 9] - delta, and M beyond.
    """
    if write >= 2 * mtbf:
        return mtbf
    x = write / (2 * mtbf)
    return math.sqrt(2 * write * mtbf) * (1 + math.sqrt(x) / 3 + x / 9) - write


@register(
    "EXPECTED_INTERRUPTIONS",
    example=(16384, 54),
    pillar="Failures and checkpoints",
    summary="Unexpected interruptions a job on `gpus` GPUs should expect in `days`: gpus x days x 24 / "
    "gpu_mtbf_hours, with the per-GPU MTBF of Llama 3's 54-day run by default.",
    returns="interruptions (expected count)",
    result_unit="interruptions",
    formula="gpus x days x 24 / gpu_mtbf_hours",
    source=_MTBF["source"],
    assumptions=(_MTBF_ASSUMPTION, _POISSON),
)
def expected_interruptions(gpus: int, days: float, gpu_mtbf_hours: float = GPU_MTBF_HOURS) -> float:
    """Expected interruptions of a job: gpus * days * 24 / MTBF per GPU.

    Source: the default MTBF is Llama 3's: 16,384 H100s had 419 unexpected interruptions in
    54 days (Dubey et al. 2024, section 3.3.4), so the default reproduces that count.

    Examples:
        >>> round(expected_interruptions(16384, 54))
        419
        >>> expected_interruptions(1000, 10, 10000)  # 1000 x 240 h / 10,000 h
        24.0
    """
    return whole("gpus", gpus) * positive("days", days) * 24 / positive("gpu_mtbf_hours", gpu_mtbf_hours)


@register(
    "CHECKPOINT_WRITE_TIME",
    example=(1.0e12, 100),
    pillar="Failures and checkpoints",
    summary="Time to write a checkpoint of `bytes` at `write_gbs` GB/s of aggregate storage throughput.",
    returns="time, in `unit` (default s)",
    unit_kind="time",
    formula="bytes / (write_gbs x 1e9)",
    source="rajbhandari2020 section 3.1 (a checkpoint holds the model states: 16-bit weights, fp32 master copy "
    "and optimizer states, as CHECKPOINT_SIZE counts them); micikevicius2018 section 3.1 (fp32 master "
    "weights)",
    assumptions=(
        "the write runs at the storage's sustained aggregate throughput, shared by every GPU writing its shard",
        "training pauses for the whole write (no asynchronous checkpointing)",
    ),
    arg_docs={"bytes": "checkpoint size, bytes (CHECKPOINT_SIZE in GB x 1e9)"},
)
def checkpoint_write_time(bytes: float, write_gbs: float, unit: str = "s") -> float:
    """Seconds (or `unit`) to write a checkpoint: bytes / (write_gbs * 1e9).

    Examples:
        Llama 3 405B's weights, fp32 master copy and Adam states (14 bytes per parameter,
        5.68 TB) at the 2 TB/s its storage sustains (Dubey et al. 2024, section 3.3.1):

        >>> round(checkpoint_write_time(405e9 * 14, 2000), 2)
        2.83
    """
    seconds = positive("bytes", bytes) / (positive("write_gbs", write_gbs) * 1e9)
    return seconds / TIME_UNITS.get("unit", unit)


def _interval_steps(
    checkpoint_write_s: float, gpus: int, gpu_mtbf_hours: float = GPU_MTBF_HOURS
) -> tuple[float, float, float]:
    write = positive("checkpoint_write_s", checkpoint_write_s)
    mtbf = _job_mtbf(gpus, gpu_mtbf_hours)
    young = math.sqrt(2 * write * mtbf)
    return mtbf, young, daly_interval(write, mtbf) - young


@register(
    "CHECKPOINT_INTERVAL",
    example=(60, 2048),
    pillar="Failures and checkpoints",
    summary="Optimal compute time between checkpoints (Daly 2006's higher-order estimate): about "
    "sqrt(2 x write time x job MTBF), the job MTBF being gpu_mtbf_hours / gpus.",
    returns="time, in `unit` (default s)",
    unit_kind="time",
    formula="sqrt(2 d M) x [1 + sqrt(d / 2M) / 3 + (d / 2M) / 9] - d for d < 2M, else M; d = checkpoint_write_s, "
    "M = gpu_mtbf_hours x 3600 / gpus",
    source=_DALY,
    assumptions=(_MTBF_ASSUMPTION, _POISSON, "the interval minimises the expected wall time of the whole run"),
    steps=(
        Step("job MTBF", "gpu_mtbf_hours x 3600 / gpus", part=False, unit="s"),
        Step("first-order interval (Young 1974)", "sqrt(2 d M)"),
        Step("higher-order correction (Daly 2006)", "sqrt(2 d M) x [sqrt(d / 2M) / 3 + (d / 2M) / 9] - d"),
    ),
    steps_fn=_interval_steps,
)
def checkpoint_interval(
    checkpoint_write_s: float, gpus: int, gpu_mtbf_hours: float = GPU_MTBF_HOURS, unit: str = "s"
) -> float:
    """Optimal compute time between checkpoints, in `unit`.

    Formula (d = write time, M = job MTBF = per-GPU MTBF / gpus):
        sqrt(2dM) * [1 + sqrt(d/2M)/3 + (d/2M)/9] - d   when d < 2M, else M.

    Source: Daly 2006 (higher-order perturbation solution); the leading term is Young 1974's.
    Daly's Figure 3 (M = 24 h, d = 5 min) gives 117 min:

        >>> round(checkpoint_interval(300, 1, 24, "min"))
        117
    """
    _, young, correction = _interval_steps(checkpoint_write_s, gpus, gpu_mtbf_hours)
    return (young + correction) / TIME_UNITS.get("unit", unit)


#: Below this share of useful time a run makes no real progress: refused, not estimated.
MIN_GOODPUT = 0.01


def _goodput_steps(
    gpus: int,
    checkpoint_write_s: float,
    restart_s: float,
    gpu_mtbf_hours: float = GPU_MTBF_HOURS,
    interval_s: float | None = None,
) -> tuple[float, ...]:
    write = positive("checkpoint_write_s", checkpoint_write_s)
    restart = non_negative("restart_s", restart_s)
    mtbf = _job_mtbf(gpus, gpu_mtbf_hours)
    tau = daly_interval(write, mtbf) if interval_s is None else positive("interval_s", interval_s)
    # Daly 2006, complete model: each segment of tau + delta succeeds after expm1((tau+delta)/M)
    # failures on average, and each failure costs a restart that may itself fail.
    segment, rework = (tau + write) / mtbf, restart / mtbf
    if segment > 700 or rework > 700:  # exp() would overflow: nothing useful is ever done
        useful = 0.0
    else:
        failures = math.expm1(segment)
        wall = mtbf * failures * math.exp(rework)
        useful = tau / wall
    if useful < MIN_GOODPUT:
        raise InputError(
            "gpus", gpus,
            f"a job on {whole('gpus', gpus):,} GPUs is interrupted every {mtbf:,.0f} s on average, against "
            f"{tau + write:,.0f} s between checkpoints (writes included) and {restart:,.0f} s to restart: "
            f"under {MIN_GOODPUT:.0%} of its time would be training. Use fewer GPUs, or faster checkpoint "
            "writes and restarts",
        )
    writes = write / wall
    restarts = mtbf * failures * math.expm1(rework) / wall
    return mtbf / SECONDS_PER_HOUR, tau, failures, writes, 1.0 - useful - writes - restarts, restarts, useful


@register(
    "GOODPUT",
    example=(2048, 30, 600),
    pillar="Failures and checkpoints",
    summary="Share of wall time a job spends training, after checkpoint writes, work lost to interruptions "
    "and restarts (Daly 2006's model; checkpoints at the optimal interval unless interval_s is given).",
    returns="fraction of wall time doing useful training (0 to 1)",
    result_unit="fraction",
    formula="tau / (M x (exp((tau + d) / M) - 1) x exp(R / M)); M = gpu_mtbf_hours x 3600 / gpus, "
    "d = checkpoint_write_s, R = restart_s, tau = interval_s or the optimal interval",
    source=_DALY,
    assumptions=(
        _MTBF_ASSUMPTION,
        _POISSON,
        "after each interruption the job restarts (restart_s: detect, reschedule, reload) from the last "
        "checkpoint, redoing the work since",
        "training pauses while a checkpoint is written",
    ),
    steps=(
        Step("job MTBF", "gpu_mtbf_hours / gpus", part=False, unit="h"),
        Step("checkpoint interval", "interval_s, or Daly's optimum (CHECKPOINT_INTERVAL)", part=False, unit="s"),
        Step("interruptions per checkpoint interval", "exp((tau + d) / M) - 1", part=False, unit="interruptions"),
        Step("checkpoint writes", "d / wall time per interval", part=False, unit="of wall time"),
        Step("work lost to interruptions", "(M x (exp((tau + d)/M) - 1) - tau - d) / wall time per interval",
             part=False, unit="of wall time"),
        Step("restarts", "M x (exp((tau + d)/M) - 1) x (exp(R/M) - 1) / wall time per interval", part=False,
             unit="of wall time"),
        Step("useful training (goodput)", "1 - checkpoint writes - lost work - restarts", part=False,
             unit="of wall time"),
    ),
    steps_fn=_goodput_steps,
    arg_docs={"gpus": "GPUs the job runs on (all of them stop when one fails)"},
)
def goodput(
    gpus: int,
    checkpoint_write_s: float,
    restart_s: float,
    gpu_mtbf_hours: float = GPU_MTBF_HOURS,
    interval_s: float | None = None,
) -> float:
    """Fraction of wall time spent on useful training.

    Formula (Daly 2006, complete model; M = job MTBF, d = write time, R = restart time,
    tau = compute time between checkpoints): expected wall time per interval is
    M * (exp((tau + d)/M) - 1) * exp(R/M), of which tau is useful. It splits exactly into
    useful work, checkpoint writes, work lost to interruptions and restarts.

    Source: Daly 2006; default MTBF from Llama 3 (Dubey et al. 2024, section 3.3.4).

    Examples:
        2,048 GPUs, 30 s writes, 10 min restarts: the job fails every 24.7 h and loses about 3%.

        >>> round(goodput(2048, 30, 600), 3)
        0.968
    """
    return _goodput_steps(gpus, checkpoint_write_s, restart_s, gpu_mtbf_hours, interval_s)[-1]
