"""Training beyond one GPU: collectives over a link, the pipeline bubble, and one step's time.

Collectives follow the alpha-beta cost model of Thakur, Rabenseifner and Gropp (2005) with
NCCL's ring algorithm: every GPU sends k (n - 1)/n of the buffer (k = 2 for all-reduce, 1
for all-gather and reduce-scatter) in k (n - 1) message steps. Bandwidth is per GPU and per
direction (data/links.toml), so the ring moves data at the link's full speed: the bus
bandwidth of NCCL's tests equals the link bandwidth.
"""

from __future__ import annotations

import math

from envelope_xl.checks import non_negative, positive, whole
from envelope_xl.core.algorithms import ALGORITHMS
from envelope_xl.reference import LINKS, Link
from envelope_xl.registry import Step, register
from envelope_xl.units import TIME_UNITS

_COLLECTIVE_SOURCE = (
    "Thakur, Rabenseifner and Gropp 2005, 'Optimization of Collective Communication Operations in MPICH', "
    "section 4 (ring all-gather (n-1) alpha + (n-1)/n n beta; reduce-scatter alike; all-reduce as both); "
    "NCCL tests, doc/PERFORMANCE.md (bus bandwidth = algorithm bandwidth x 2(n-1)/n for all-reduce, "
    "(n-1)/n for all-gather and reduce-scatter); per-step latency from NCCL src/graph/tuning.cc"
)
_COLLECTIVE_ASSUMPTIONS = (
    "bandwidth is one GPU's, in one direction; every GPU of the ring has the same link",
    "latency is paid once per message step, as in NCCL's cost model (its fixed launch cost of a few "
    "microseconds is not counted)",
    "large buffers: no protocol switching (NCCL's LL and LL128 protocols for small messages are not modelled)",
)


def _link_speed(
    link: object, bandwidth_gbs: float | None, latency_us: float | None, arg: str = "link"
) -> tuple[Link, float, float]:
    """The link, and its bandwidth (bytes/s) and step latency (s), either overridable."""
    found = LINKS.get(arg, link)
    bandwidth = found.bandwidth if bandwidth_gbs is None else positive("bandwidth_gbs", bandwidth_gbs) * 1e9
    latency = found.latency if latency_us is None else non_negative("latency_us", latency_us) * 1e-6
    return found, bandwidth, latency


def ring_terms(size: float, n: int, passes: int, bandwidth: float, latency: float) -> tuple[float, float]:
    """Seconds of a ring collective over `n` GPUs: (bandwidth term, latency term).

    `passes` is 2 for all-reduce (reduce-scatter then all-gather) and 1 for either half.
    """
    return passes * (n - 1) / n * size / bandwidth, passes * (n - 1) * latency


def tree_terms(size: float, n: int, bandwidth: float, latency: float) -> tuple[float, float]:
    """Seconds of a pipelined double-binary-tree all-reduce (Sanders, Speck and Traeff 2009; NCCL >= 2.4):
    reduce up and broadcast down, each GPU sending the whole buffer twice, in 2 log2(n) steps."""
    if n == 1:
        return 0.0, 0.0
    return 2 * size / bandwidth, 2 * math.ceil(math.log2(n)) * latency


def _collective_steps(passes: int):
    def steps(
        bytes: float,
        gpus: int,
        link: str = "nvlink4",
        bandwidth_gbs: float | None = None,
        latency_us: float | None = None,
        algorithm: str = "ring",
    ) -> tuple[float, float, float, float]:
        size = positive("bytes", bytes)
        n = whole("gpus", gpus)
        _, bandwidth, latency = _link_speed(link, bandwidth_gbs, latency_us)
        if ALGORITHMS.get("algorithm", algorithm) == "tree":
            bw_term, lat_term = tree_terms(size, n, bandwidth, latency)
            sent = 2 * size if n > 1 else 0.0
        else:
            bw_term, lat_term = ring_terms(size, n, passes, bandwidth, latency)
            sent = passes * (n - 1) / n * size
        return sent, bandwidth / 1e9, bw_term, lat_term

    return steps


_allreduce_steps = _collective_steps(2)
_gather_scatter_steps = _collective_steps(1)  # no `algorithm` argument: always the ring


def _collective(what: str, passes: int, formula: str = "") -> dict:
    """Registration shared by the three collectives."""
    k = "2" if passes == 2 else ""
    factor = f"{k}(n-1)/n" if k else "(n-1)/n"
    return dict(
        example=(1e9, 8, "nvlink4"),
        pillar="Parallel training",
        returns="time, in `unit` (default ms)",
        unit_kind="time",
        formula=formula or f"{factor} x bytes / bandwidth + {k + ' x ' if k else ''}(n-1) x latency (ring)",
        source=_COLLECTIVE_SOURCE,
        assumptions=_COLLECTIVE_ASSUMPTIONS,
        steps=(
            Step("data each GPU sends", f"{factor} x bytes (ring)", part=False, unit="bytes"),
            Step("link bandwidth", "per GPU, per direction: the link's, or bandwidth_gbs", part=False,
                 unit="GB/s"),
            Step("bandwidth term", "data each GPU sends / link bandwidth"),
            Step("latency term", f"{k + ' x ' if k else ''}(n-1) message steps x latency"),
        ),
        arg_docs={"bytes": what, "gpus": "GPUs taking part in the collective"},
    )


@register(
    "ALLREDUCE_TIME",
    summary="Time of an all-reduce of `bytes` over `gpus` GPUs on a link: ring by default (2(n-1)/n x bytes "
    "/ bandwidth + 2(n-1) x latency), or NCCL's double binary tree.",
    steps_fn=_allreduce_steps,
    **_collective(
        "size of the buffer every GPU holds and gets back summed, bytes", 2,
        "ring: 2(n-1)/n x bytes / bandwidth + 2(n-1) x latency; tree: 2 x bytes / bandwidth "
        "+ 2 ceil(log2 n) x latency",
    ),
)
def allreduce_time(
    bytes: float,
    gpus: int,
    link: str = "nvlink4",
    bandwidth_gbs: float | None = None,
    latency_us: float | None = None,
    algorithm: str = "ring",
    unit: str = "ms",
) -> float:
    """Time of an all-reduce, in `unit`.

    Formula (S = bytes, n = gpus, B = per-GPU per-direction bandwidth, a = step latency):
        ring: 2(n-1)/n * S / B + 2(n-1) * a
        tree: 2 * S / B + 2 * ceil(log2 n) * a

    The ring's bandwidth term is the one NCCL's tests divide out: their bus bandwidth,
    S / t * 2(n-1)/n, equals B when latency is negligible.

    Source: Thakur et al. 2005 (ring = reduce-scatter + all-gather); NCCL tests
    PERFORMANCE.md (bus bandwidth); NCCL tuning.cc (latency per step).

    Examples:
        1 GB over 8 GPUs on NVLink 4 (450 GB/s each way): 2 x 7/8 x 1e9 / 450e9 s = 3.889 ms,
        plus 14 steps x 3.4 us = 0.048 ms.

        >>> round(allreduce_time(1e9, 8, "nvlink4"), 3)
        3.937
    """
    _, _, bw_term, lat_term = _allreduce_steps(bytes, gpus, link, bandwidth_gbs, latency_us, algorithm)
    return (bw_term + lat_term) / TIME_UNITS.get("unit", unit)


@register(
    "ALLGATHER_TIME",
    summary="Time of a ring all-gather over `gpus` GPUs: each GPU contributes bytes/n and receives the "
    "whole `bytes`: (n-1)/n x bytes / bandwidth + (n-1) x latency.",
    steps_fn=_gather_scatter_steps,
    **_collective("size of the gathered result every GPU ends with, bytes (each GPU contributes bytes / gpus)", 1),
)
def allgather_time(
    bytes: float,
    gpus: int,
    link: str = "nvlink4",
    bandwidth_gbs: float | None = None,
    latency_us: float | None = None,
    unit: str = "ms",
) -> float:
    """Time of a ring all-gather, in `unit`: (n-1)/n * S / B + (n-1) * a.

    Source: Thakur et al. 2005, section 4.1 (ring all-gather); NCCL tests PERFORMANCE.md.

    Examples:
        >>> round(allgather_time(1e9, 8, "nvlink4", latency_us=0), 4)  # 7/8 x 1e9 / 450e9 s
        1.9444
    """
    _, _, bw_term, lat_term = _gather_scatter_steps(bytes, gpus, link, bandwidth_gbs, latency_us)
    return (bw_term + lat_term) / TIME_UNITS.get("unit", unit)


@register(
    "REDUCE_SCATTER_TIME",
    summary="Time of a ring reduce-scatter over `gpus` GPUs: each GPU holds `bytes` and ends with its summed "
    "bytes/n share: (n-1)/n x bytes / bandwidth + (n-1) x latency.",
    steps_fn=_gather_scatter_steps,
    **_collective("size of the buffer every GPU holds before the reduction, bytes (each ends with bytes / gpus "
                  "of the sum)", 1),
)
def reduce_scatter_time(
    bytes: float,
    gpus: int,
    link: str = "nvlink4",
    bandwidth_gbs: float | None = None,
    latency_us: float | None = None,
    unit: str = "ms",
) -> float:
    """Time of a ring reduce-scatter, in `unit`: (n-1)/n * S / B + (n-1) * a.

    Same cost as the all-gather (Thakur et al. 2005, section 4.4, with the reduction's
    arithmetic taken as free next to the transfer).

    Examples:
        >>> reduce_scatter_time(1e9, 8, "ib-ndr") == allgather_time(1e9, 8, "ib-ndr")
        True
    """
    _, _, bw_term, lat_term = _gather_scatter_steps(bytes, gpus, link, bandwidth_gbs, latency_us)
    return (bw_term + lat_term) / TIME_UNITS.get("unit", unit)


def bubble_fraction(pp: int, micro_batches: int, virtual_stages: int = 1) -> float:
    """Idle share of a 1F1B pipeline step: (p - 1) / (v m + p - 1)."""
    return (pp - 1) / (virtual_stages * micro_batches + pp - 1)


@register(
    "PIPELINE_BUBBLE",
    example=(8, 32),
    pillar="Parallel training",
    summary="Idle fraction of a pipeline-parallel step (1F1B schedule, or interleaved with virtual_stages "
    "model chunks per GPU): (pp - 1) / (virtual_stages x micro_batches + pp - 1).",
    returns="fraction of the step each GPU waits (0 to 1)",
    result_unit="fraction",
    formula="(pp - 1) / (virtual_stages x micro_batches + pp - 1)",
    source="Narayanan et al. 2021, 'Efficient Large-Scale Language Model Training on GPU Clusters Using "
    "Megatron-LM', sections 2.2.1-2.2.2 (bubble time / ideal time = (p-1)/m, and (p-1)/(v m) interleaved)",
    assumptions=(
        "every stage takes the same time per micro-batch (balanced layers)",
        "the idle time is (p - 1) micro-batch slots of forward and backward, out of the step",
    ),
    arg_docs={"micro_batches": "micro-batches per step that each pipeline processes",
              "virtual_stages": "model chunks per GPU in the interleaved schedule (1 = plain 1F1B)"},
)
def pipeline_bubble(pp: int, micro_batches: int, virtual_stages: int = 1) -> float:
    """Share of a step the pipeline's GPUs are idle.

    Formula: (p - 1) / (v*m + p - 1). Narayanan et al. 2021 state the bubble relative to
    the ideal time, (p - 1)/(v*m); as a share of the whole step that is the expression
    above (f = b / (1 + b)).

    Examples:
        8 stages, 32 micro-batches: 7 / 39.

        >>> round(pipeline_bubble(8, 32), 4)
        0.1795
        >>> round(pipeline_bubble(8, 32, 2), 4)  # interleaved: 7 / 71
        0.0986
    """
    return bubble_fraction(
        whole("pp", pp), whole("micro_batches", micro_batches), whole("virtual_stages", virtual_stages)
    )
