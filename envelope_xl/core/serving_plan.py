"""SERVING_PLAN: the batch, replicas, GPUs, latencies and cost of serving a load.

A replica runs continuous batching with chunked prefill: each decode step of `batch`
sequences also processes the prompt tokens of the requests that replace the finished
ones (Agrawal et al. 2024, 'Taming Throughput-Latency Tradeoff in LLM Inference with
Sarathi-Serve', section 4). The plan picks the largest batch that fits memory and meets
the per-token target, then sizes replicas for the load below full utilisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from envelope_xl.checks import fraction, positive, whole
from envelope_xl.core import serving_data as data
from envelope_xl.core.replica import Prefill, Replica, Step, context_note, replica
from envelope_xl.core.serving import COMPUTE_EFFICIENCY_DOC
from envelope_xl.errors import InputError
from envelope_xl.registry import NUMBER, describe_args, register
from envelope_xl.registry import Step as ChainStep

_BW = data.BANDWIDTH_EFFICIENCY.value
_MU = data.MEMORY_UTILIZATION.value
_WS = data.WORKSPACE_GB.value
_AR = data.ALLREDUCE_US.value

describe_args(NUMBER, {"target_utilization": "fraction of capacity to plan for (0.7 = 70%, leaves headroom)"})

#: The table's rows, in order: (label, meaning).
ROWS = (
    ("batch", "sequences each replica decodes together"),
    ("replicas", "model replicas serving the load"),
    ("gpus", "replicas x tp"),
    ("ttft_s", "time to first token, s: one prompt's prefill on a replica"),
    ("tpot_s", "time per output token at the batch, s"),
    ("tokens_per_s_per_gpu", "generated tokens/s each GPU sustains at the batch"),
    ("usd_per_million_tokens", "fleet cost per million generated tokens at the load"),
    ("bound", "what limits the batch: memory, latency or compute"),
)


@dataclass(frozen=True)
class Plan:
    replica: Replica
    qps: float
    prompt: int
    output: int
    prefill: Prefill
    memory_batch: int
    batch: int
    step: Step
    next_step: Step | None  # the step one sequence more would take (None when it would not fit)
    target_utilization: float
    tpot_target: float
    usd_per_gpu_hour: float | None

    @property
    def tpot(self) -> float:
        return self.step.time_s

    @property
    def replica_tps(self) -> float:
        return self.batch / self.tpot

    @property
    def demand(self) -> float:
        return self.qps * self.output

    @property
    def replicas(self) -> int:
        return math.ceil(self.demand / (self.replica_tps * self.target_utilization) * (1 - 1e-12))

    @property
    def gpus(self) -> int:
        return self.replicas * self.replica.tp

    @property
    def usd_per_million(self) -> float | str:
        if self.usd_per_gpu_hour is None:
            return "needs usd_per_gpu_hour"
        return self.gpus * self.usd_per_gpu_hour / (self.demand * 3600) * 1e6

    @property
    def bound(self) -> str:
        if not self.step.memory_bound:
            return "compute"
        return "memory" if self.next_step is None else "latency"

    def bound_reason(self) -> str:
        b = self.batch
        if self.bound == "compute":
            stop = "memory stops the batch there" if self.next_step is None else "the TPOT target stops the batch there"
            ratio = self.step.compute_s / self.step.memory_s
            return (f"compute: at batch {b:,} a step's compute takes {ratio:.2g}x its memory time; {stop}, but a "
                    "larger batch would add latency, not throughput")
        if self.bound == "memory":
            return (f"memory: {b + 1:,} sequences of {self.prompt + self.output:,} tokens would not fit; the TPOT of "
                    f"{self.tpot:.3g} s leaves room under the {self.tpot_target:g} s target")
        assert self.next_step is not None
        return (f"latency: a batch of {b + 1:,} would take {self.next_step.time_s:.3g} s per token, over the "
                f"{self.tpot_target:g} s target")


def _step(r: Replica, batch: int, prompt: int, output: int, one: Prefill, mfu: float) -> Step:
    """A decode step at `batch`, at the mean context, with the prompt tokens chunked prefill
    mixes in: `batch / output` requests finish per step and as many prompts start."""
    starts = batch / output
    return r.step(batch, prompt + output / 2, prefill_tokens=starts * prompt,
                  prefill_flops=starts * (one.linear_flops + one.attention_flops), mfu=mfu)


def plan(
    model: Any, qps: Any, prompt_tokens: Any, output_tokens: Any, gpu: Any, precision: Any, tp: Any,
    tpot_target_s: Any, ttft_target_s: Any, usd_per_gpu_hour: Any, kv_precision: Any, target_utilization: Any,
    mfu: Any, bandwidth_efficiency: Any, compute_efficiency: Any, link_gbs: Any, memory_utilization: Any,
    workspace_gb: Any, allreduce_us: Any,
) -> Plan:
    r = replica(
        model, gpu, precision, kv_precision=kv_precision, tp=tp, bandwidth_efficiency=bandwidth_efficiency,
        compute_efficiency=compute_efficiency, link_gbs=link_gbs, memory_utilization=memory_utilization,
        workspace_gb=workspace_gb, allreduce_us=allreduce_us,
    )
    q = positive("qps", qps)
    n_in = whole("prompt_tokens", prompt_tokens)
    n_out = whole("output_tokens", output_tokens)
    r.arch.need("model", "a serving plan (each request's KV cache)")
    tpot_target = positive("tpot_target_s", tpot_target_s)
    ttft_target = positive("ttft_target_s", ttft_target_s)
    price = None if usd_per_gpu_hour is None else positive("usd_per_gpu_hour", usd_per_gpu_hour)
    util = fraction("target_utilization", target_utilization)
    m = data.prefill_mfu(r.precision).value if mfu is None else fraction("mfu", mfu)

    full = n_in + n_out
    memory_batch = r.max_batch(full)
    if memory_batch == 0:
        r.check_fits(1, full)  # raises: says what is needed and what would fit
    one = r.prefill(n_in, m)
    if one.time_s > ttft_target:
        raise InputError(
            "ttft_target_s", ttft_target_s,
            f"expected a target one replica can meet: a prompt of {n_in:,} tokens takes {one.time_s:.3g} s to prefill "
            f"on {r.tp} {r.gpu.name}",
            _faster(r, "ttft", lambda wider: wider.prefill(n_in, m).time_s <= ttft_target),
        )
    first = _step(r, 1, n_in, n_out, one, m)
    if first.time_s > tpot_target:
        raise InputError(
            "tpot_target_s", tpot_target_s,
            f"expected a target one replica can meet: even one sequence takes {first.time_s:.3g} s per token on "
            f"{r.tp} {r.gpu.name}",
            _faster(r, "tpot", lambda wider: _step(wider, 1, n_in, n_out, wider.prefill(n_in, m), m).time_s
                    <= tpot_target),
        )
    low, high = 1, memory_batch  # the largest batch within the target: steps grow with the batch
    while low < high:
        mid = (low + high + 1) // 2
        if _step(r, mid, n_in, n_out, one, m).time_s <= tpot_target:
            low = mid
        else:
            high = mid - 1
    following = _step(r, low + 1, n_in, n_out, one, m) if low < memory_batch else None
    return Plan(
        replica=r, qps=q, prompt=n_in, output=n_out, prefill=one, memory_batch=memory_batch, batch=low,
        step=_step(r, low, n_in, n_out, one, m), next_step=following, target_utilization=util,
        tpot_target=tpot_target, usd_per_gpu_hour=price,
    )


def _faster(r: Replica, what: str, meets: Any) -> str:
    from dataclasses import replace

    for tp in range(r.tp + 1, 129):
        if r.arch.heads % tp == 0 and meets(replace(r, tp=tp)):
            return f"tp {tp} meets it; or relax the target"
    return "Relax the target, or choose a faster GPU or a smaller precision"


def _plan_steps(**args: Any) -> tuple[Any, ...]:
    p = plan(**args)
    s = p.step
    return (
        p.prompt + p.output, p.memory_batch, p.prefill.time_s, p.prompt + p.output / 2,
        p.batch * p.prompt / p.output, p.batch, s.bound, p.tpot, p.replica_tps, p.demand, p.replicas, p.gpus,
        p.replica_tps / p.replica.tp, p.usd_per_million, p.bound_reason(),
    )


def _plan_notes(**args: Any) -> list[str]:
    p = plan(**args)
    r = p.replica
    mfu = args["mfu"]
    source = "given" if mfu is not None else f"default: {data.prefill_mfu(r.precision).cite()}"
    out = r.notes()
    m = data.prefill_mfu(r.precision).value if mfu is None else mfu
    out.append(f"prefill reaches {m:g} of the dense {r.precision.peak_field} peak ({source})")
    if args["tpot_target_s"] == data.TPOT_TARGET_S.value or args["ttft_target_s"] == data.TTFT_TARGET_S.value:
        out.append(f"latency targets by default: {data.TPOT_TARGET_S.cite()}")
    return out + context_note(r, p.prompt + p.output, "prompt + output")


@register(
    "SERVING_PLAN",
    example=("llama-3-8b", 20, 1500, 300, "H100-SXM", "bf16", 1, 0.04, 0.45, 2.5),
    pillar="Throughput and serving",
    summary="A serving plan as a table: the largest batch that fits memory and meets the per-token target, "
    "replicas and GPUs for the load, time to first token, time per output token, tokens/s per GPU and cost per "
    "million tokens, and which limit bound.",
    returns="table: quantity | value (" + ", ".join(label for label, _ in ROWS) + "); spills in Excel",
    formula="batch = largest within MAX_BATCH(prompt + output) with TPOT(batch) <= tpot_target_s; replicas = "
    "ceiling(qps x output_tokens / (batch / TPOT x target_utilization)); gpus = replicas x tp",
    source="agrawal2024 section 4 (chunked prefill mixed into decode steps); kwon2023 section 4 (the KV cache in "
    "the memory the weights leave); williams2009 (the roofline of DECODE_TPS); beyer2016 chapter 22, "
    "section 'Preventing Server Overload' (capacity headroom as in SERVING_GPUS)",
    assumptions=(
        "steady state: each step decodes `batch` sequences at the mean context (prompt + output / 2) and prefills "
        "the prompts of the batch / output_tokens requests that replace the finished ones",
        "memory: every sequence of the batch holds its final length (prompt + output) at once (no preemption)",
        "time to first token: one prompt's prefill on an idle replica (no queueing)",
        "tokens are generated tokens; the cost is the fleet's at the offered load, headroom included",
    ),
    steps=(
        ChainStep("context per sequence at the end", "prompt_tokens + output_tokens", False, "tokens"),
        ChainStep("largest batch that fits", "MAX_BATCH at that context", False, "sequences"),
        ChainStep("time to first token", "PREFILL_TIME of one prompt on the replica", False, "s"),
        ChainStep("mean context while decoding", "prompt_tokens + output_tokens / 2", False, "tokens"),
        ChainStep("prompt tokens mixed into each step", "batch x prompt_tokens / output_tokens", False, "tokens"),
        ChainStep("batch", "the largest that fits and keeps TPOT within tpot_target_s", False, "sequences"),
        ChainStep("step at the batch", "which limit sets the step", False, ""),
        ChainStep("time per output token", "max(memory time, compute time with the mixed prompt tokens) + "
                  "all-reduces", False, "s"),
        ChainStep("replica throughput", "batch / time per output token", False, "tokens/s"),
        ChainStep("load", "qps x output_tokens", False, "tokens/s"),
        ChainStep("replicas", "ceiling(load / (replica throughput x target_utilization))", False, "replicas"),
        ChainStep("GPUs", "replicas x tp", False, "GPUs"),
        ChainStep("tokens/s per GPU", "replica throughput / tp", False, "tokens/s"),
        ChainStep("cost per million tokens", "GPUs x usd_per_gpu_hour / (load x 3,600) x 1e6", False, "USD"),
        ChainStep("limit", "what stops a larger batch: memory, latency or compute", False, ""),
    ),
    steps_fn=_plan_steps,
    assumptions_fn=lambda a: _plan_notes(**a),
    table=True,
    arg_docs={
        "tp": "GPUs per model replica (tensor parallelism)",
        "usd_per_gpu_hour": "price of one GPU-hour, USD (optional: without it the cost row says so)",
        "mfu": "share of the dense peak reached in prefill (default by precision, data/serving.toml)",
        "prompt_tokens": "tokens in each request's prompt",
        "compute_efficiency": COMPUTE_EFFICIENCY_DOC,
    },
)
def serving_plan(
    model: Any,
    qps: float,
    prompt_tokens: int,
    output_tokens: int,
    gpu: str = "H100-SXM",
    precision: str = "bf16",
    tp: int = 1,
    tpot_target_s: float = data.TPOT_TARGET_S.value,
    ttft_target_s: float = data.TTFT_TARGET_S.value,
    usd_per_gpu_hour: float | None = None,
    kv_precision: str | None = None,
    target_utilization: float = 0.7,
    mfu: float | None = None,
    bandwidth_efficiency: float = _BW,
    compute_efficiency: float | None = None,
    link_gbs: float | None = None,
    memory_utilization: float = _MU,
    workspace_gb: float = _WS,
    allreduce_us: float = _AR,
) -> list[list[Any]]:
    """A serving plan: rows of (quantity, value) after a header row.

    Formula: batch = the largest b <= MAX_BATCH(model, prompt + output) whose step (decode at
    the mean context, with b / output prompts prefilled in it) meets tpot_target_s;
    replicas = ceil(qps x output / (b / TPOT x target_utilization)); gpus = replicas x tp;
    usd per million = gpus x price / (qps x output x 3600) x 1e6.

    Assumptions: chunked prefill mixes prompts into decode steps (Sarathi-Serve); every
    sequence may hold its final length; time to first token without queueing. Refuses
    targets no batch can meet, and models that do not fit, saying what would.

    Source: Agrawal et al. 2024 (Sarathi-Serve), section 4; Kwon et al. 2023 (vLLM).

    Examples:
        Llama 3 8B, 20 requests/s of 1,500-token prompts and 300 generated tokens, MLPerf's
        interactive targets: the prompts mixed into each step make it compute-bound.

        >>> rows = serving_plan("llama-3-8b", 20, 1500, 300, usd_per_gpu_hour=2.5)
        >>> dict(rows[1:])["batch"], dict(rows[1:])["gpus"], dict(rows[1:])["bound"]
        (199, 2, 'compute')
    """
    p = plan(model, qps, prompt_tokens, output_tokens, gpu, precision, tp, tpot_target_s, ttft_target_s,
             usd_per_gpu_hour, kv_precision, target_utilization, mfu, bandwidth_efficiency, compute_efficiency,
             link_gbs, memory_utilization, workspace_gb, allreduce_us)
    values = (p.batch, p.replicas, p.gpus, p.prefill.time_s, p.tpot, p.replica_tps / p.replica.tp,
              p.usd_per_million, p.bound)
    return [["quantity", "value"], *([label, v] for (label, _), v in zip(ROWS, values, strict=True))]
