"""Serving: decode throughput and latency with the KV cache, memory fit, prefill, fleets.

The physics lives in `envelope_xl.core.replica`; this module registers the spreadsheet
functions over it. Every function that returns a speed first checks that the weights and
KV cache fit, and refuses (saying what would fit) when they do not.
"""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.checks import fraction, positive, whole
from envelope_xl.core import serving_data as data
from envelope_xl.core.replica import Prefill, Replica, Step, context_arg, context_note, replica
from envelope_xl.reference import PRECISIONS
from envelope_xl.registry import NUMBER, TEXT, WHOLE, describe_args, register
from envelope_xl.registry import Step as ChainStep
from envelope_xl.units import TIME_UNITS

_ROOFLINE_SOURCE = (
    "williams2009 (time = the larger of bytes over bandwidth and FLOPs over peak); pope2022 section 2 "
    "(decode streams the weights and the KV cache, 2 FLOPs per parameter per token); shoeybi2019 section "
    "3 (two all-reduces per layer)"
)
_PREFILL_SOURCE = (
    "kaplan2020 section 2.1, Table 1 (forward pass: 2N per token plus 2 x layers x context x attention "
    "width); dao2023 section 3.1 (causal masking skips the blocks above the diagonal)"
)

_BW = data.BANDWIDTH_EFFICIENCY.value
_MU = data.MEMORY_UTILIZATION.value
_WS = data.WORKSPACE_GB.value
_AR = data.ALLREDUCE_US.value

describe_args(NUMBER, {
    "bandwidth_efficiency": "fraction of the datasheet memory bandwidth real decode reaches (1 = pure roofline; "
    "default from measured serving engines, data/serving.toml)",
    "link_gbs": "bandwidth per GPU and direction, GB/s, of the link tensor-parallel all-reduces cross (default: the "
    "GPU's intra-node link, links.toml: 450 for H100 NVLink 4)",
    "memory_utilization": "share of GPU memory the serving engine takes (vLLM's default 0.9)",
    "workspace_gb": "GB per GPU the engine keeps beside weights and KV cache: activations, CUDA graphs, buffers",
    "allreduce_us": "fixed time of one tensor-parallel all-reduce, microseconds",
    "tpot_target_s": "time per output token each user may see, seconds (default: MLPerf's interactive 40 ms)",
    "ttft_target_s": "time to first token allowed, seconds (default: MLPerf's interactive 450 ms)",
})
describe_args(WHOLE, {
    "context": "tokens already in each sequence's KV cache",
    "output_tokens": "tokens generated per request",
})
describe_args(TEXT, {
    "kv_precision": "numeric format of the KV cache (default: the weights' float format; bf16 for int8, int4, nf4)",
}, PRECISIONS)

_TP_DOC = "GPUs per model replica (tensor parallelism): weights and KV heads split over them"
#: Serving's meaning of a name training also uses (set per function, not globally).
COMPUTE_EFFICIENCY_DOC = ("fraction of the dense peak compute-bound decode steps reach (default by precision: 0.5 "
                          "for 16-bit, 0.4 for 8- and 4-bit compute; 1 = pure roofline)")
_MFU_DOC = ("share of the dense peak reached in prefill (default by precision from measured engines: 0.5 for 16-bit, "
            "0.4 for 8- and 4-bit compute)")


def _gb(x: float) -> float:
    return x / 1e9


# ---------------------------------------------------------------------------- decode


def _decode(
    model: Any, gpu: Any, precision: Any, batch: Any, context: Any, kv_precision: Any, tp: Any,
    bandwidth_efficiency: Any, compute_efficiency: Any, link_gbs: Any, memory_utilization: Any,
    workspace_gb: Any, allreduce_us: Any,
) -> tuple[Replica, Step]:
    r = replica(
        model, gpu, precision, kv_precision=kv_precision, tp=tp, bandwidth_efficiency=bandwidth_efficiency,
        compute_efficiency=compute_efficiency, link_gbs=link_gbs, memory_utilization=memory_utilization,
        workspace_gb=workspace_gb, allreduce_us=allreduce_us,
    )
    b = whole("batch", batch)
    c = context_arg(r, context)
    r.check_fits(b, c)
    return r, r.step(b, c)


#: The steps both DECODE_TPS and TPOT show (times in ms, sizes in GB).
_DECODE_STEPS = (
    ChainStep("weights read per GPU", "weights the batch touches (a mixture: the experts its tokens reach; "
              "the input embedding: its rows) / tp", False, "GB"),
    ChainStep("KV cache read per GPU", "batch x KV cache of `context` tokens per sequence x the GPU's share of "
              "the KV heads", False, "GB"),
    ChainStep("memory time", "(weights + KV cache) / (bandwidth x bandwidth_efficiency)", False, "ms"),
    ChainStep("FLOPs per GPU", "batch x (2 x active parameters + attention over the context) / tp", False, "FLOP"),
    ChainStep("compute time", "FLOPs / (dense peak x compute_efficiency)", False, "ms"),
    ChainStep("bound", "the longer of the memory and compute times sets the step", False, ""),
    ChainStep("all-reduce time", "2 x layers x (latency + 2 (tp - 1) / tp x batch x hidden x 2 bytes / link); "
              "0 at tp 1", False, "ms"),
    ChainStep("memory per GPU", "weights / tp + KV cache of the batch (checked against the usable memory)",
              False, "GB"),
    ChainStep("usable memory per GPU", "GPU memory x memory_utilization - workspace", False, "GB"),
)


def _decode_values(r: Replica, s: Step) -> tuple[Any, ...]:
    return (
        _gb(s.weights_read), _gb(s.kv_read), s.memory_s * 1e3, s.flops, s.compute_s * 1e3, s.bound,
        s.allreduce_s * 1e3, _gb(r.weights_per_gpu + s.kv_read), _gb(r.usable),
    )


def _decode_tps_steps(**args: Any) -> tuple[Any, ...]:
    r, s = _decode(**args)
    return (*_decode_values(r, s), s.time_s * 1e3, s.batch / s.time_s)


def _decode_notes(unit: Any = None, **args: Any) -> list[str]:
    r, s = _decode(**args)
    out = r.notes() + context_note(r, s.context)
    if r.arch.is_moe:
        out.append(f"batch {s.batch:,}: on average {r.experts_touched(s.batch):.3g} of {r.arch.experts} experts "
                   "per MoE layer are read each step")
    return out


_DECODE_ASSUMPTIONS = (
    "one step reads the weights the batch touches plus every sequence's KV cache of `context` tokens, and "
    "takes the longer of its memory time and its compute time, plus the tensor-parallel all-reduces",
    "every sequence of the batch holds `context` tokens; writing the new token's keys and values is not counted",
    "no speculative decoding, prefix sharing or CPU offload",
    "a context beyond the model's trained length is computed, with a note; tp must divide the attention heads, "
    "and KV heads it does not divide are replicated",
)


@register(
    "DECODE_TPS",
    example=("llama-3-8b", "H100-SXM", "bf16", 64, 2048),
    pillar="Throughput and serving",
    summary="Generated tokens/s of a batch on one model replica: each step reads the weights and every sequence's "
    "KV cache, and does the FLOPs of the active parameters and attention; refuses a batch that does not fit.",
    returns="tokens/s (all sequences of the batch together)",
    result_unit="tokens/s",
    formula="batch / (max((weights read + KV cache) / (bandwidth x bandwidth_efficiency), FLOPs / (peak x "
    "compute_efficiency)) + all-reduces)",
    source=_ROOFLINE_SOURCE,
    assumptions=_DECODE_ASSUMPTIONS,
    steps=(*_DECODE_STEPS, ChainStep("step time", "max(memory time, compute time) + all-reduce time", False, "ms"),
           ChainStep("decode throughput", "batch / step time", False, "tokens/s")),
    steps_fn=_decode_tps_steps,
    assumptions_fn=lambda a: _decode_notes(**a),
    arg_docs={"tp": _TP_DOC, "compute_efficiency": COMPUTE_EFFICIENCY_DOC},
)
def decode_tps(
    model: Any,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    batch: int = 1,
    context: int = 0,
    kv_precision: str | None = None,
    tp: int = 1,
    bandwidth_efficiency: float = _BW,
    compute_efficiency: float | None = None,
    link_gbs: float | None = None,
    memory_utilization: float = _MU,
    workspace_gb: float = _WS,
    allreduce_us: float = _AR,
) -> float:
    """Generated tokens/s of `batch` sequences on one replica of `tp` GPUs.

    Formula (per GPU): step = max(memory, compute) + all-reduces, with
        memory  = (weights read + batch x KV cache of `context` tokens) / (BW x bandwidth_efficiency)
        compute = batch x (2 x active params + attention FLOPs at `context`) / (peak x compute_efficiency)
        all-reduces = 2 x layers x (latency + 2 (tp-1)/tp x batch x hidden x 2 bytes / link)
    and tokens/s = batch / step.

    Assumptions: the efficiencies default to measured serving engines (data/serving.toml);
    1 gives the pure roofline. A mixture of experts reads the experts its tokens reach
    (uniform routing). Refuses a batch whose weights and KV cache exceed the usable memory.

    Source: Williams et al. 2009 (roofline); Pope et al. 2022, sections 2-3.

    Examples:
        Llama 2 7B in bf16 on an H100, one sequence, empty cache, pure roofline: the step
        reads the weights but the input embedding (6.61e9 x 2 bytes) at 3.35 TB/s.

        >>> round(decode_tps("llama-2-7b", bandwidth_efficiency=1), 1)
        253.5
    """
    _, s = _decode(model, gpu, precision, batch, context, kv_precision, tp, bandwidth_efficiency,
                   compute_efficiency, link_gbs, memory_utilization, workspace_gb, allreduce_us)
    return s.batch / s.time_s


def _tpot_steps(**args: Any) -> tuple[Any, ...]:
    r, s = _decode(**args)
    return (*_decode_values(r, s), max(s.memory_s, s.compute_s), s.allreduce_s)


@register(
    "TPOT",
    example=("llama-3-8b", "H100-SXM", "bf16", 64, 2048),
    pillar="Throughput and serving",
    summary="Time per output token each sequence sees: one decode step of the batch (weights and KV cache read, "
    "FLOPs, all-reduces); refuses a batch that does not fit.",
    returns="time per output token, in `unit` (default s)",
    unit_kind="time",
    formula="max((weights read + KV cache) / (bandwidth x bandwidth_efficiency), FLOPs / (peak x "
    "compute_efficiency)) + all-reduces",
    source=_ROOFLINE_SOURCE,
    assumptions=_DECODE_ASSUMPTIONS,
    steps=(*_DECODE_STEPS,
           ChainStep("binding limit", "max(memory time, compute time)"),
           ChainStep("all-reduces", "tensor-parallel all-reduces of the step (0 at tp 1)")),
    steps_fn=_tpot_steps,
    assumptions_fn=lambda a: _decode_notes(**a),
    arg_docs={"tp": _TP_DOC, "compute_efficiency": COMPUTE_EFFICIENCY_DOC},
)
def tpot(
    model: Any,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    batch: int = 1,
    context: int = 0,
    unit: str = "s",
    kv_precision: str | None = None,
    tp: int = 1,
    bandwidth_efficiency: float = _BW,
    compute_efficiency: float | None = None,
    link_gbs: float | None = None,
    memory_utilization: float = _MU,
    workspace_gb: float = _WS,
    allreduce_us: float = _AR,
) -> float:
    """Time per output token, in `unit`: one decode step of the batch (= batch / DECODE_TPS).

    Formula: max(memory time, compute time) + all-reduce time, as in `decode_tps`.

    Source: Pope et al. 2022, section 2 (latency per generated token).

    Examples:
        One sequence of Llama 2 7B, pure roofline: 13.2 GB read at 3.35 TB/s.

        >>> round(tpot("llama-2-7b", bandwidth_efficiency=1, unit="s") * 1000, 3)  # ms
        3.945
    """
    factor = TIME_UNITS.get("unit", unit)
    _, s = _decode(model, gpu, precision, batch, context, kv_precision, tp, bandwidth_efficiency,
                   compute_efficiency, link_gbs, memory_utilization, workspace_gb, allreduce_us)
    return s.time_s / factor


# ---------------------------------------------------------------------------- memory fit


def _max_batch(model: Any, context: Any, gpu: Any, precision: Any, kv_precision: Any, tp: Any,
               memory_utilization: Any, workspace_gb: Any) -> tuple[Replica, int]:
    r = replica(model, gpu, precision, kv_precision=kv_precision, tp=tp, memory_utilization=memory_utilization,
                workspace_gb=workspace_gb)
    return r, context_arg(r, context, low=1)


def _max_batch_steps(**args: Any) -> tuple[Any, ...]:
    r, c = _max_batch(**args)
    room = r.usable - r.weights_per_gpu
    return (r.gpu.memory / 1e9, _gb(r.usable), _gb(r.weights_per_gpu), _gb(room), _gb(r.kv_per_sequence(c)),
            r.max_batch(c))


def _max_batch_notes(**args: Any) -> list[str]:
    r, c = _max_batch(**args)
    out = [n for n in r.notes() if not n.startswith(("bandwidth_eff", "compute_eff", "all-reduces"))]
    out += context_note(r, c)
    if r.weights_per_gpu > r.usable:
        out.append(f"the weights alone ({r.weights_per_gpu / 1e9:,.1f} GB per GPU) exceed the usable "
                   f"{r.usable / 1e9:,.1f} GB: no sequence fits ({r._more_gpus_hint(1, c)})")
    return out


@register(
    "MAX_BATCH",
    example=("llama-3-8b", 4096),
    pillar="Throughput and serving",
    summary="Largest number of sequences of `context` tokens whose KV cache fits beside the weights in the memory "
    "a serving engine takes (0 when the weights alone do not fit).",
    returns="sequences (whole number)",
    result_unit="sequences",
    formula="floor((GPU memory x memory_utilization - workspace - weights / tp) / KV cache per sequence per GPU)",
    source="kwon2023 section 3, section 4 (the KV cache takes the memory the weights leave); vllm-engine-args "
    "(gpu_memory_utilization 0.9 by default)",
    assumptions=(
        "every sequence holds its whole context in the cache (no preemption, no prefix sharing)",
        "paged allocation: no fragmentation beyond the workspace",
    ),
    steps=(
        ChainStep("GPU memory", "memory_gb of the GPU", False, "GB"),
        ChainStep("usable memory per GPU", "GPU memory x memory_utilization - workspace", False, "GB"),
        ChainStep("weights per GPU", "weights (every expert; quantized layers with their scales) / tp", False, "GB"),
        ChainStep("room for the KV cache", "usable - weights", False, "GB"),
        ChainStep("KV cache per sequence per GPU", "KV cache of `context` tokens x the GPU's share of the KV heads",
                  False, "GB"),
        ChainStep("largest batch", "room / KV cache per sequence, rounded down (0 when there is no room)", False,
                  "sequences"),
    ),
    steps_fn=_max_batch_steps,
    assumptions_fn=lambda a: _max_batch_notes(**a),
    arg_docs={"tp": _TP_DOC, "compute_efficiency": COMPUTE_EFFICIENCY_DOC},
)
def max_batch(
    model: Any,
    context: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    kv_precision: str | None = None,
    tp: int = 1,
    memory_utilization: float = _MU,
    workspace_gb: float = _WS,
) -> int:
    """Largest batch of `context`-token sequences that fits, per replica of `tp` GPUs.

    Formula: floor((memory x memory_utilization - workspace - weights/tp) / KV per sequence per GPU),
    0 when the weights alone do not fit.

    Source: Kwon et al. 2023 (vLLM), section 4; vLLM's gpu_memory_utilization default 0.9.

    Examples:
        Llama 3 8B in bf16, 4,096 tokens, on an H100 with 80 x 0.9 - 3.3 = 68.7 GB usable:
        (68.7 - 16.06) GB / 0.537 GB = 98.

        >>> max_batch("llama-3-8b", 4096)
        98
    """
    r, c = _max_batch(model, context, gpu, precision, kv_precision, tp, memory_utilization, workspace_gb)
    return r.max_batch(c)


# ---------------------------------------------------------------------------- prefill


def _prefill(model: Any, prompt_tokens: Any, gpu: Any, precision: Any, mfu: Any, tp: Any, kv_precision: Any,
             bandwidth_efficiency: Any, link_gbs: Any, memory_utilization: Any, workspace_gb: Any,
             allreduce_us: Any) -> tuple[Replica, Prefill, float]:
    r = replica(model, gpu, precision, kv_precision=kv_precision, tp=tp, bandwidth_efficiency=bandwidth_efficiency,
                link_gbs=link_gbs, memory_utilization=memory_utilization, workspace_gb=workspace_gb,
                allreduce_us=allreduce_us)
    n = whole("prompt_tokens", prompt_tokens)
    m = data.prefill_mfu(r.precision).value if mfu is None else fraction("mfu", mfu)
    c = n if not r.arch.counted_only else 0
    r.check_fits(1, c)
    return r, r.prefill(n, m), m


def _prefill_steps(**args: Any) -> tuple[Any, ...]:
    _, p, _ = _prefill(**args)
    return (p.linear_flops, p.attention_flops, p.linear_s, p.attention_s, p.waiting_s, p.allreduce_s)


def _prefill_notes(unit: Any = None, **args: Any) -> list[str]:
    r, p, m = _prefill(**args)
    source = "given" if args["mfu"] is not None else f"default: {data.prefill_mfu(r.precision).cite()}"
    out = [n for n in r.notes() if not n.startswith("compute_eff")]
    out.append(f"prefill reaches {m:g} of the dense {r.precision.peak_field} peak ({source})")
    if r.arch.counted_only:
        out.append("attention FLOPs not counted: only a parameter count was given (exact for short prompts only)")
    return out + context_note(r, p.tokens, "prompt")


_PREFILL_KW = dict(
    pillar="Throughput and serving",
    returns="time, in `unit` (default s)",
    unit_kind="time",
    formula="(2 x active parameters x prompt_tokens + causal attention FLOPs) / (tp x peak x mfu), at least the "
    "time to read the weights once, + all-reduces",
    source=_PREFILL_SOURCE,
    assumptions=(
        "one prompt alone on the replica: no queueing, no batching with other requests",
        "causal attention: token i attends to the i tokens up to it (the masked half is skipped)",
    ),
    steps=(
        ChainStep("linear FLOPs", "2 x active parameters x prompt tokens", False, "FLOP"),
        ChainStep("attention FLOPs", "sum over the prompt of attention over the tokens before (causal), windows "
                  "applied", False, "FLOP"),
        ChainStep("linear layers", "linear FLOPs / (tp x peak x mfu)"),
        ChainStep("attention", "attention FLOPs / (tp x peak x mfu)"),
        ChainStep("waiting on weight reads", "weights read / (bandwidth x bandwidth_efficiency) beyond the compute "
                  "time (short prompts)"),
        ChainStep("all-reduces", "2 x layers x (latency + 2 (tp - 1) / tp x prompt tokens x hidden x 2 bytes / link)"),
    ),
    steps_fn=_prefill_steps,
    assumptions_fn=lambda a: _prefill_notes(**a),
    arg_docs={"tp": _TP_DOC, "mfu": _MFU_DOC},
)


def prefill_time(
    model: Any,
    prompt_tokens: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    mfu: float | None = None,
    unit: str = "s",
    tp: int = 1,
    kv_precision: str | None = None,
    bandwidth_efficiency: float = _BW,
    link_gbs: float | None = None,
    memory_utilization: float = _MU,
    workspace_gb: float = _WS,
    allreduce_us: float = _AR,
) -> float:
    """Time to process a prompt of `prompt_tokens` tokens, in `unit` (the time to first token).

    Formula: (2 x A x n + causal attention FLOPs) / (tp x peak x mfu), at least the time to
    read the weights once, plus the all-reduces. Causal attention: sum over i = 1..n of the
    attention FLOPs of a token over i tokens, about 2 x layers x heads x head width x n^2.

    Assumptions: `mfu` defaults to what current engines reach in prefill (data/serving.toml).
    A bare parameter count leaves attention out (the chain says so).

    Source: Kaplan et al. 2020, section 2.1; Dao 2023 (FlashAttention-2), section 3.

    Examples:
        7e9 parameters, 1,000 tokens, bf16 on an H100 at 50% MFU: 2 x 7e9 x 1e3 / (989.5e12 x 0.5).

        >>> round(prefill_time(7e9, 1000, "H100-SXM", "bf16", 0.5) * 1000, 2)  # ms
        28.3
    """
    factor = TIME_UNITS.get("unit", unit)
    _, p, _ = _prefill(model, prompt_tokens, gpu, precision, mfu, tp, kv_precision, bandwidth_efficiency,
                       link_gbs, memory_utilization, workspace_gb, allreduce_us)
    return p.time_s / factor


register(
    "PREFILL_TIME",
    example=("llama-3-8b", 2000),
    summary="Time to process a prompt: 2 x active parameters x tokens plus causal attention FLOPs over the peak "
    "prefill reaches, at least one read of the weights, plus tensor-parallel all-reduces.",
    **_PREFILL_KW,  # type: ignore[arg-type]
)(prefill_time)
register(
    "TTFT",
    example=("llama-3-8b", 2000),
    summary="Time to first token of a request alone on the replica: the same formula as PREFILL_TIME.",
    **_PREFILL_KW,  # type: ignore[arg-type]
)(prefill_time)


# ---------------------------------------------------------------------------- fleets


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
