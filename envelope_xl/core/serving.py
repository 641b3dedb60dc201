"""Serving: bandwidth-bound decode, compute-bound prefill, concurrency and fleet size."""

from __future__ import annotations

import math

from envelope_xl.checks import fraction, positive, whole
from envelope_xl.reference import GPUS, PRECISIONS
from envelope_xl.registry import register
from envelope_xl.units import TIME_UNITS

_ROOFLINE_SOURCE = (
    "williams2009 (time = the larger of bytes / bandwidth and FLOPs / peak); pope2022 section 2 "
    "(2 FLOPs per parameter per token)"
)


@register(
    "DECODE_TPS",
    example=(7e9, "H100-SXM", "bf16", 64),
    pillar="Throughput and serving",
    summary="Roofline upper bound on generated tokens/s for a batch on one GPU: each step reads every "
    "weight once and does 2 x params FLOPs per sequence.",
    returns="tokens/s (all sequences of the batch together)",
    result_unit="tokens/s",
    formula="batch / max(params x bytes / bandwidth, 2 x params x batch / peak)",
    source=_ROOFLINE_SOURCE,
    assumptions=(
        "an upper bound: 100% of memory bandwidth and of dense peak",
        "KV-cache reads and attention FLOPs are not counted (short contexts)",
        "the weights fit on the GPU",
    ),
)
def decode_tps(params: float, gpu: str = "H100-SXM", precision: str = "bf16", batch: int = 1) -> float:
    """Upper bound on decode throughput, tokens/s, for `batch` sequences on one GPU.

    Formula: batch / max(P*b / BW, 2*P*batch / peak). Small batches are bound by
    memory bandwidth (every step streams all weights); large ones by compute.

    Assumptions: full bandwidth and peak; KV-cache traffic ignored.

    Source: the roofline model (Williams et al. 2009); Pope et al. 2022, section 2.

    Examples:
        7B in bf16 on an H100 (3.35 TB/s), batch 1: 3.35e12 / 14e9 = 239 tokens/s.

        >>> round(decode_tps(7e9, "H100-SXM", "bf16", 1), 1)
        239.3
    """
    P = positive("params", params)
    p = PRECISIONS.get("precision", precision)
    g = GPUS.get("gpu", gpu)
    n = whole("batch", batch)
    step = max(P * p.bytes / g.bandwidth, 2.0 * P * n / g.peak_flops(p))
    return n / step


@register(
    "PREFILL_TIME",
    example=(7e9, 2000),
    pillar="Throughput and serving",
    summary="Time to process a prompt (compute-bound): 2 x params x prompt_tokens FLOPs over dense peak x MFU.",
    returns="time, in `unit` (default s)",
    unit_kind="time",
    formula="2 x params x prompt_tokens / (peak(gpu, precision) x mfu)",
    source=_ROOFLINE_SOURCE,
    assumptions=(
        "prefill is compute-bound: 2 FLOPs per parameter per prompt token",
        "attention's quadratic term is not counted (prompts short next to the model width)",
    ),
)
def prefill_time(
    params: float,
    prompt_tokens: float,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float = 0.4,
    unit: str = "s",
) -> float:
    """Prefill time in `unit`.

    Formula: 2 * P * prompt_tokens / (peak * mfu).

    Source: Pope et al. 2022, section 2.

    Examples:
        >>> round(prefill_time(7e9, 1000, "H100-SXM", "bf16", 0.5) * 1000, 2)  # ms
        28.3
    """
    flops = 2.0 * positive("params", params) * positive("prompt_tokens", prompt_tokens)
    peak = GPUS.get("gpu", gpu).peak_flops(PRECISIONS.get("precision", precision))
    return flops / (peak * fraction("mfu", mfu)) / TIME_UNITS.get("unit", unit)


@register(
    "CONCURRENCY",
    example=(2000, 1.5),
    pillar="Throughput and serving",
    summary="Requests in flight at once (Little's law): arrival rate x time in system.",
    returns="requests in flight",
    result_unit="requests",
    formula="qps x latency_s",
    source="little1961 (L = lambda W)",
    assumptions=("a steady state: arrivals and completions balance",),
)
def concurrency(qps: float, latency_s: float) -> float:
    """Mean requests in flight: L = lambda * W.

    Examples:
        >>> concurrency(2000, 1.5)
        3000.0
    """
    return positive("qps", qps) * positive("latency_s", latency_s)


@register(
    "SERVING_GPUS",
    example=(2000, 500, 10000, 0.7),
    pillar="Throughput and serving",
    summary="Whole GPUs to serve `qps` requests of `tokens_per_request` tokens when one GPU sustains "
    "`tokens_per_sec_per_gpu`, planned at `target_utilization`.",
    returns="GPUs (whole number)",
    result_unit="GPUs",
    formula="ceiling(qps x tokens_per_request / (tokens_per_sec_per_gpu x target_utilization))",
    source="beyer2016 chapter 22, section 'Preventing Server Overload' (capacity planning with headroom)",
    assumptions=("throughput scales linearly with GPUs; load is spread evenly",),
)
def serving_gpus(
    qps: float, tokens_per_request: float, tokens_per_sec_per_gpu: float, target_utilization: float = 0.7
) -> int:
    """GPUs needed, rounded up.

    Formula: ceil(qps * tokens_per_request / (tokens_per_sec_per_gpu * target_utilization)).

    Examples:
        2,000 requests/s of 500 tokens, 10,000 tokens/s per GPU, planned at 70%:

        >>> serving_gpus(2000, 500, 10000, 0.7)
        143
    """
    demand = positive("qps", qps) * positive("tokens_per_request", tokens_per_request)
    supply = positive("tokens_per_sec_per_gpu", tokens_per_sec_per_gpu) * fraction(
        "target_utilization", target_utilization
    )
    return math.ceil(demand / supply * (1 - 1e-12))
