"""Training beyond one GPU: collectives over a link, the pipeline bubble, and one step's time.

Collectives follow the alpha-beta cost model of Thakur, Rabenseifner and Gropp (2005) with
NCCL's ring algorithm: every GPU sends k (n - 1)/n of the buffer (k = 2 for all-reduce, 1
for all-gather and reduce-scatter) in k (n - 1) message steps. Bandwidth is per GPU and per
direction (data/links.toml), so the ring moves data at the link's full speed: the bus
bandwidth of NCCL's tests equals the link bandwidth.
"""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.checks import fraction, non_negative, positive, whole
from envelope_xl.core.algorithms import ALGORITHMS
from envelope_xl.core.memory import _train_mem_steps, _trainable
from envelope_xl.core.recompute import RECOMPUTE
from envelope_xl.errors import InputError
from envelope_xl.models import resolve_model
from envelope_xl.reference import CLUSTER, GPUS, LINKS
from envelope_xl.registry import Step, register
from envelope_xl.units import TIME_UNITS

_COLLECTIVE_SOURCE = (
    "thakur2005 section 4 (ring all-gather: n-1 steps of latency alpha and n-1 over n of the data over "
    "the bandwidth, reduce-scatter alike, all-reduce as both); nccl-tests file 'doc/PERFORMANCE.md' (bus "
    "bandwidth = algorithm bandwidth x 2 n-1 over n for all-reduce, n-1 over n for all-gather and "
    "reduce-scatter); nccl file 'src/graph/tuning.cc' (per-step latency)"
)
_COLLECTIVE_ASSUMPTIONS = (
    "bandwidth is one GPU's, in one direction; every GPU of the ring has the same link",
    "latency is paid once per message step, as in NCCL's cost model (its fixed launch cost of a few "
    "microseconds is not counted)",
    "large buffers: no protocol switching (NCCL's LL and LL128 protocols for small messages are not modelled)",
)


def _link_speed(link: object, bandwidth_gbs: float | None, latency_us: float | None) -> tuple[float, float]:
    """A link's bandwidth (bytes/s) and step latency (s), either overridable."""
    found = LINKS.get("link", link)
    bandwidth = found.bandwidth if bandwidth_gbs is None else positive("bandwidth_gbs", bandwidth_gbs) * 1e9
    latency = found.latency if latency_us is None else non_negative("latency_us", latency_us) * 1e-6
    return bandwidth, latency


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
        bandwidth, latency = _link_speed(link, bandwidth_gbs, latency_us)
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
        3.936
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
    source="narayanan2021 section 2.2.1, section 2.2.2 (bubble time over ideal time: p-1 over m, and p-1 over v "
    "m interleaved)",
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


# ---------------------------------------------------------------------------------------------
# One training step on a cluster: tensor, pipeline and data parallelism (Megatron-LM's layout)

_EFFICIENCY = CLUSTER["compute_efficiency"]
COMPUTE_EFFICIENCY: float = _EFFICIENCY["value"]

#: Tensor-parallel all-reduces per layer and micro-batch: two in the forward pass (after
#: attention and after the MLP), two in the backward pass (Shoeybi et al. 2019, section 3,
#: Figure 3); full recomputation runs the forward's two again.
TP_ALLREDUCES = {"none": 4, "selective": 4, "full": 6}


def _group_link(
    size: int, per_node: int, intra: tuple[float, float], inter: tuple[float, float]
) -> tuple[float, float]:
    """(bandwidth, latency) of a ring over a group of `size` GPUs with `per_node` of them in
    each node: the intra-node link inside one node; across nodes NCCL spreads the ring's node
    crossings over the group's `per_node` network ports, so min(intra, per_node x inter)."""
    if size <= per_node:
        return intra
    return min(intra[0], per_node * inter[0]), inter[1]


def _step_steps(
    model: Any,
    global_batch_tokens: float,
    gpus: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    tp: int = 1,
    pp: int = 1,
    zero_stage: int = 1,
    seq_len: int = 4096,
    micro_batch: int = 1,
    virtual_stages: int = 1,
    recompute: str = "selective",
    compute_efficiency: float = COMPUTE_EFFICIENCY,
    overlap: float = 0.0,
    gpus_per_node: int = 8,
    intra_link: str | None = None,
    inter_link: str = "ib-ndr",
) -> tuple[float, ...]:
    arch = resolve_model("model", model)
    arch.need("model", "a training step's layout (layers, heads, width)")
    tokens = positive("global_batch_tokens", global_batch_tokens)
    n = whole("gpus", gpus)
    device = GPUS.get("gpu", gpu)
    p = _trainable(precision)
    peak = device.peak_flops(p)
    t, stages = whole("tp", tp), whole("pp", pp)
    zero = whole("zero_stage", zero_stage, 0, 3)
    s, b, v = whole("seq_len", seq_len), whole("micro_batch", micro_batch), whole("virtual_stages", virtual_stages)
    mode = RECOMPUTE.get("recompute", recompute)
    efficiency = fraction("compute_efficiency", compute_efficiency)
    hidden_share = non_negative("overlap", overlap)
    if hidden_share > 1:
        raise InputError("overlap", overlap, "expected a share from 0 to 1 of the data-parallel communication")
    node = whole("gpus_per_node", gpus_per_node)
    dp = _layout(arch, n, t, stages, v, node)
    m = _micro_batches(tokens, s, b, dp)
    active = arch.active_params
    shard = arch.total_params / (t * stages)  # parameters each GPU holds before ZeRO sharding
    states = sum(_train_mem_steps(shard, p.name, "adam", dp, zero))
    if states > device.memory:
        raise InputError("gpus", gpus, _does_not_fit(arch, device, p.name, states, t, stages, dp, zero))

    # Compute: model FLOPs per token (6 x active parameters + 3 x attention's forward FLOPs),
    # plus what recomputation repeats: the forward (full) or attention's core (selective).
    attention = arch.attention_flops_per_token(s)
    model_flops = tokens * (6 * active + 3 * attention)
    extra = {"none": 0.0, "selective": attention, "full": 2 * active + attention}[mode]
    compute = (model_flops + tokens * extra) / n / (peak * efficiency)

    # Links: the GPU's own inside a node unless named, per GPU and direction.
    intra_name = intra_link if intra_link is not None else device.intra_link
    if not intra_name:
        raise InputError(
            "intra_link", intra_link,
            f"expected a link name: {device.name} has no intra-node link in the catalog (its chips form a "
            "torus, not nodes of GPUs)",
        )
    intra = LINKS.get("intra_link", intra_name)
    inter = LINKS.get("inter_link", inter_link)
    intra_speed, inter_speed = (intra.bandwidth, intra.latency), (inter.bandwidth, inter.latency)
    wire = max(p.bytes, 2.0)  # activations and gradients travel in bf16 when computing in fp8 or fp4

    # Tensor parallelism: all-reduces of each micro-batch's activations, every layer of the stage.
    tp_time = 0.0
    if t > 1:
        bandwidth, latency = _group_link(t, min(t, node), intra_speed, inter_speed)
        one = sum(ring_terms(s * b * arch.hidden * wire, t, 2, bandwidth, latency))
        tp_time = m * (arch.layers // stages) * TP_ALLREDUCES[mode] * one

    # Pipeline: idle (p - 1)/(v m) of the busy time (Narayanan et al. 2021, section 2.2).
    bubble = (stages - 1) / (v * m) * (compute + tp_time)

    # Data parallelism: the gradients of each stage's shard, all-reduced (or reduce-scattered and
    # gathered back, the same volume) across dp replicas; ZeRO-3 gathers the weights once more.
    grads = zero3 = 0.0
    if dp > 1:
        per_node = max(1, min(dp, node // t))
        bandwidth, latency = _group_link(dp, per_node, intra_speed, inter_speed)
        grads = sum(ring_terms(shard * wire, dp, 2, bandwidth, latency))
        zero3 = sum(ring_terms(shard * wire, dp, 1, bandwidth, latency)) if zero >= 3 else 0.0
    dp_time = grads + zero3
    exposed = max((1 - hidden_share) * dp_time, dp_time - compute)
    ratio = exposed / dp_time if dp_time else 0.0

    step = compute + tp_time + bubble + ratio * grads + ratio * zero3
    mfu = model_flops / n / (peak * step)
    return (
        model_flops, float(dp), float(m), states / 1e9,
        compute, tp_time, bubble, ratio * grads, ratio * zero3, mfu,
    )


def _layout(arch: Any, gpus: int, tp: int, pp: int, virtual: int, node: int) -> int:
    """Data-parallel replicas of a tp x pp layout, or an error saying what divides."""
    if gpus % (tp * pp):
        raise InputError("gpus", gpus, f"expected a multiple of tp x pp = {tp * pp} (tensor x pipeline degrees)")
    if arch.heads % tp:
        raise InputError("tp", tp, f"expected a divisor of the model's {arch.heads} attention heads: tensor "
                         "parallelism splits the heads")
    if node % tp and tp % node:
        raise InputError("tp", tp, f"expected a divisor or a multiple of gpus_per_node ({node}): a tensor-parallel "
                         "group must not straddle nodes unevenly")
    if arch.layers % (pp * virtual):
        raise InputError("pp", pp, f"expected pp x virtual_stages ({pp} x {virtual}) to divide the model's "
                         f"{arch.layers} layers: every stage holds the same number of layers")
    return gpus // (tp * pp)


def _micro_batches(tokens: float, seq_len: int, micro_batch: int, dp: int) -> int:
    """Micro-batches each pipeline runs per step, or an error naming a batch that divides."""
    per_step = seq_len * micro_batch * dp
    sequences = tokens / per_step
    if sequences != int(sequences):
        fits = max(1, round(sequences)) * per_step
        raise InputError(
            "global_batch_tokens", tokens,
            f"expected a multiple of seq_len x micro_batch x data-parallel replicas = {seq_len} x {micro_batch} x "
            f"{dp} = {per_step:,} tokens (gpus / (tp x pp) = {dp} replicas), e.g. {fits:,}",
        )
    return int(sequences)


def _does_not_fit(arch: Any, device: Any, precision: str, states: float, tp: int, pp: int, dp: int, zero: int) -> str:
    """Why model states overflow the GPU, and which layouts would hold them."""
    params, gpus = arch.total_params, tp * pp * dp

    def per_gpu(split: int, stage: int) -> float:
        return sum(_train_mem_steps(params / split, precision, "adam", gpus // split, stage))

    hints = []
    if zero < 3 and per_gpu(tp * pp, 3) <= device.memory:
        hints.append(f"zero_stage 3 would need {per_gpu(tp * pp, 3) / 1e9:,.1f} GB")
    split = 2 * tp * pp  # model-parallel degrees that still divide the GPUs, doubling
    while gpus % split == 0 and per_gpu(split, zero) > device.memory:
        split *= 2
    if gpus % split == 0:
        hints.append(f"tp x pp = {split} would need {per_gpu(split, zero) / 1e9:,.1f} GB")
    if not hints:
        hints.append(f"no split of {gpus:,} GPUs holds them at this ZeRO stage: use more GPUs")
    return (
        f"the model states alone (weights, gradients, fp32 master weights and Adam states of {params:,.0f} "
        f"parameters over tp x pp = {tp * pp}, ZeRO stage {zero} over {dp} replicas) need {states / 1e9:,.1f} GB "
        f"per GPU; each {device.name} has {device.memory / 1e9:g} GB: " + "; or ".join(hints)
    )


@register(
    "TRAIN_STEP_TIME",
    example=("llama-3-70b", 4194304, 2048, "H100-SXM", "bf16", 4, 1, 3),
    pillar="Parallel training",
    summary="One training step on a tensor x pipeline x data parallel cluster: compute, tensor-parallel "
    "all-reduces in the node, pipeline bubble, data-parallel gradient reduction (and ZeRO-3 gathers) across "
    "nodes; the chain gives the MFU.",
    returns="time, in `unit` (default s)",
    unit_kind="time",
    formula="compute + tensor-parallel all-reduces + pipeline bubble + exposed data-parallel communication",
    source="narayanan2021 section 2, section 3 (tensor, pipeline and data parallelism, the 1F1B and interleaved "
    "schedules); shoeybi2019 section 3 (two all-reduces per layer forward, two backward); korthikanti2022 "
    "section 5, Table 5 (recomputation FLOPs, measured step times); rajbhandari2020 section 7 "
    "(communication volume); chowdhery2022 appendix B (MFU: 6N + 12 L H Q T FLOPs per token)",
    assumptions=(
        "Megatron-LM's layout: tensor-parallel groups of consecutive GPUs inside a node, then data-parallel, "
        "then pipeline stages",
        "model FLOPs per token: 6 x active parameters + 3 x attention's forward FLOPs at seq_len (PaLM's MFU "
        "count); selective recomputation repeats attention's forward, full recomputation the whole forward",
        "compute runs at compute_efficiency of the dense peak; the default is derived from Megatron-LM's "
        "measured step times (data/cluster.toml)",
        "tensor-parallel all-reduces are not overlapped with compute (sequence parallelism moves the same bytes)",
        "data-parallel gradients are reduced once per step in the training precision (bf16 when computing in "
        "fp8); only `overlap` of that time hides behind compute",
        "zero_stage 1 by default, as Megatron-LM's distributed optimizer: optimizer states sharded over the "
        "replicas at the communication cost of plain data parallelism (ZeRO, section 7.2.1)",
        "ZeRO-3 gathers each weight shard once more per step; pipeline sends, expert-parallel all-to-all and "
        "the optimizer step are not counted",
        "model states (weights, gradients, fp32 master weights, Adam) must fit in GPU memory; activations are "
        "not checked (see ACTIVATION_MEM)",
    ),
    steps=(
        Step("model FLOPs per step", "global_batch_tokens x (6 x active parameters + 3 x attention FLOPs per token)",
             part=False, unit="FLOP"),
        Step("data-parallel replicas", "gpus / (tp x pp)", part=False, unit="replicas"),
        Step("micro-batches per pipeline", "global_batch_tokens / (seq_len x micro_batch x replicas)", part=False,
             unit="micro-batches"),
        Step("model states per GPU", "weights, gradients, fp32 master and Adam states of params / (tp x pp), "
             "ZeRO-sharded over the replicas (TRAIN_MEM)", part=False, unit="GB"),
        Step("compute", "(model FLOPs + recomputed FLOPs) / gpus / (dense peak x compute_efficiency)"),
        Step("tensor-parallel all-reduces", "micro-batches x layers / pp x 4 (6 with full recomputation) x "
             "ALLREDUCE_TIME(seq_len x micro_batch x hidden x bytes, tp) on the intra-node link"),
        Step("pipeline bubble", "(pp - 1) / (virtual_stages x micro-batches) x (compute + tensor-parallel)"),
        Step("data-parallel gradient reduction (exposed)", "ALLREDUCE_TIME(params / (tp x pp) x bytes, replicas) "
             "across nodes at min(intra, GPUs of the group per node x inter) bandwidth, less the share overlapped"),
        Step("ZeRO-3 weight gathers (exposed)", "ALLGATHER_TIME(params / (tp x pp) x bytes, replicas) at ZeRO "
             "stage 3, less the share overlapped"),
        Step("model FLOPs utilisation", "model FLOPs / gpus / (dense peak x step time)", part=False,
             unit="of peak"),
    ),
    steps_fn=_step_steps,
    arg_docs={"tp": "tensor-parallel degree (GPUs splitting each layer, inside a node)",
              "micro_batch": "sequences per micro-batch"},
)
def train_step_time(
    model: Any,
    global_batch_tokens: float,
    gpus: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    tp: int = 1,
    pp: int = 1,
    zero_stage: int = 1,
    seq_len: int = 4096,
    micro_batch: int = 1,
    virtual_stages: int = 1,
    recompute: str = "selective",
    compute_efficiency: float = COMPUTE_EFFICIENCY,
    overlap: float = 0.0,
    gpus_per_node: int = 8,
    intra_link: str | None = None,
    inter_link: str = "ib-ndr",
    unit: str = "s",
) -> float:
    """Time of one optimizer step, in `unit`.

    Formula (per GPU): compute = (model + recomputed FLOPs) / gpus / (peak x efficiency);
    tensor parallelism = micro-batches x layers/pp x 4 all-reduces of s x b x h values over tp
    GPUs; bubble = (pp - 1)/(v x m) x (compute + tensor parallelism); data parallelism = an
    all-reduce of the stage's gradients over the replicas (plus an all-gather of its weights at
    ZeRO-3), of which `overlap` hides behind compute. Step = their sum; MFU = model FLOPs /
    (gpus x peak x step).

    Source: Narayanan et al. 2021 (layout, schedules); Shoeybi et al. 2019 (all-reduces per
    layer); Korthikanti et al. 2022 (recomputation; Table 5 step times reproduced in the tests);
    Rajbhandari et al. 2020 (ZeRO communication).

    Examples:
        Llama 3 70B on 2,048 H100s, tp 8 x pp 4 x 64 replicas, 4M-token batches of 4,096-token
        sequences:

        >>> round(train_step_time("llama-3-70b", 4194304, 2048, "H100-SXM", "bf16", 8, 4), 2)
        2.49
    """
    steps = _step_steps(
        model, global_batch_tokens, gpus, gpu, precision, tp, pp, zero_stage, seq_len, micro_batch,
        virtual_stages, recompute, compute_efficiency, overlap, gpus_per_node, intra_link, inter_link,
    )
    return sum(steps[4:9]) / TIME_UNITS.get("unit", unit)
