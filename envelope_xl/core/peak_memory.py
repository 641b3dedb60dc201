"""Peak memory per GPU of one training step, component by component.

A step holds the model states (weights, gradients, fp32 master weights, optimizer
states; Rajbhandari et al. 2020), sharded by ZeRO over the data-parallel GPUs, split by
tensor parallelism and by pipeline stage; the activations the layers keep for the
backward pass (`core/activations.py`), times the micro-batches a 1F1B pipeline keeps in
flight; the logits and the loss; the working memory of transients (the layer being
recomputed, communication buckets, a dequantized weight); and the framework's reserve.
With pipeline parallelism the peak is the larger of the first stage (embedding, `pp`
micro-batches in flight) and the last (output head and logits, one micro-batch).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from envelope_xl.checks import Names, flag, non_negative, whole
from envelope_xl.core.activations import (
    ACT_BYTES,
    ATTENTION,
    LayerShape,
    check_tp,
    layer_bytes,
    layer_input_bytes,
)
from envelope_xl.core.finetune import (
    METHOD,
    Adapters,
    largest_matrix,
    layer_adapters,
    method_precisions,
    parse_targets,
    quantized_bytes,
)
from envelope_xl.core.recompute import RECOMPUTE
from envelope_xl.errors import InputError
from envelope_xl.models import Architecture, resolve_model
from envelope_xl.reference import GPUS, OPTIMIZERS, TRAINING, Precision

T = TypeVar("T")

#: Mixed precision keeps an fp32 master copy of trained weights (Micikevicius et al. 2018).
MASTER_BYTES = 4.0
#: ZeRO-Offload keeps fp32 weights and fp32 gradients on the host beside the optimizer states.
HOST_FP32_BYTES = 4.0 + 4.0

OFFLOAD: Names[str] = Names(
    "offload",
    {"none": "none", "optimizer": "optimizer", "optimizer+params": "optimizer+params"},
    {
        "none": ["no", "off", "false", "gpu"],
        "optimizer": ["zero-offload", "cpu", "optimizer-states", "opt"],
        "optimizer+params": ["params", "params+optimizer", "optimizer-and-params", "zero-infinity", "all"],
    },
)

#: Components, in the order of TRAIN_PEAK_MEM's steps.
COMPONENTS = (
    "weights", "LoRA adapter weights", "gradients", "fp32 master weights", "optimizer states",
    "activations", "logits and loss", "transient working memory", "framework reserve",
)
CPU_ROW = "CPU memory per GPU for offloaded states (not in the total)"


@dataclass(frozen=True)
class Plan:
    """A training configuration, checked."""

    arch: Architecture
    seq_len: int
    micro_batch: int
    storage: Precision  # weights (the frozen base under LoRA/QLoRA)
    compute: Precision  # activations, gradients, adapters
    optimizer_bytes: float
    gpus: int
    zero: int
    recompute: str
    tp: int
    pp: int
    sp: bool
    attention: str
    method: str
    lora_rank: int
    targets: frozenset[str]
    offload: str
    logit_bytes: float
    reserve: float | None  # bytes, None for the default

    @property
    def dp(self) -> int:
        return self.gpus // (self.tp * self.pp)

    @property
    def tokens(self) -> int:
        return self.seq_len * self.micro_batch


def make_plan(
    model: Any,
    seq_len: int,
    micro_batch: int,
    precision: str = "bf16",
    optimizer: str = "adam",
    gpus: int = 1,
    zero_stage: int = 0,
    recompute: str = "none",
    tp: int = 1,
    pp: int = 1,
    attention: str = "flash",
    sp: bool | None = None,
    method: str = "full",
    lora_rank: int = TRAINING.lora_rank,
    lora_targets: str = "all",
    offload: str = "none",
    logit_bytes: float = TRAINING.logit_bytes,
    reserve_gb: float | None = None,
) -> Plan:
    """Check every argument once; errors name the argument and what would be allowed."""
    m = resolve_model("model", model)
    m.need("model", "peak training memory (activations, logits)")
    how = METHOD.get("method", method)
    precisions = method_precisions(how, precision)
    t, p, n = whole("tp", tp), whole("pp", pp), whole("gpus", gpus)
    z = whole("zero_stage", zero_stage, 0, 3)
    where = OFFLOAD.get("offload", offload)
    if where == "optimizer" and z < 1:
        raise InputError("offload", offload, "expected zero_stage 1, 2 or 3 with optimizer offload (ZeRO-Offload "
                         "moves each data-parallel rank's partition of the optimizer states)", "Set zero_stage 1.")
    if where == "optimizer+params" and z < 3:
        raise InputError("offload", offload, "expected zero_stage 3 with parameter offload (ZeRO-Infinity gathers "
                         "each layer's weights from the host)", "Set zero_stage 3.")
    rank = whole("lora_rank", lora_rank)
    targets = parse_targets("lora_targets", lora_targets)
    plan = Plan(
        arch=m,
        seq_len=whole("seq_len", seq_len),
        micro_batch=whole("micro_batch", micro_batch),
        storage=precisions.storage,
        compute=precisions.compute,
        optimizer_bytes=OPTIMIZERS.get("optimizer", optimizer).state_bytes,
        gpus=n,
        zero=z,
        recompute=RECOMPUTE.get("recompute", recompute),
        tp=t,
        pp=p,
        sp=t > 1 if sp is None else flag("sp", sp),
        attention=ATTENTION.get("attention", attention),
        method=how,
        lora_rank=rank,
        targets=targets,
        offload=where,
        logit_bytes=non_negative("logit_bytes", logit_bytes),
        reserve=None if reserve_gb is None else non_negative("reserve_gb", reserve_gb) * 1e9,
    )
    if how != "full" and not any(a.params for a in adapters_of(plan).values()):
        raise InputError("lora_targets", lora_targets, "expected at least one linear layer this model has "
                         f"(a {'gated' if m.gated_mlp else 'plain'} MLP has {'gate, ' if m.gated_mlp else ''}up, down)")
    return check_layout(plan)


def check_layout(plan: Plan) -> Plan:
    """The parallel layout divides the GPUs, the layers and the heads."""
    t, p, n = plan.tp, plan.pp, plan.gpus
    if n % (t * p):
        raise InputError("gpus", n, f"expected a multiple of tp x pp ({t} x {p} = {t * p}): the data-parallel "
                         "degree is gpus / (tp x pp)")
    if p > plan.arch.layers:
        raise InputError("pp", p, f"expected at most the model's layers ({plan.arch.layers}): each stage holds "
                         "whole layers")
    for shape in _shapes(plan).values():
        check_tp(shape, t)
    return plan


# ----------------------------------------------------------------- per-layer figures


@dataclass(frozen=True)
class LayerParams:
    """Parameters of one block of each kind, and of the parts outside the blocks."""

    dense: float  # a block with a dense MLP
    moe: float  # a block with a mixture of experts
    linear_dense: float  # of which in linear layers (quantized under QLoRA)
    linear_moe: float
    embedding: float  # token (and position) embeddings: the first stage
    head: float  # output head: the last stage (0 when tied and not pipelined)
    final_norm: float


def _per_model(fn: Callable[..., T]) -> Callable[..., T]:
    """Memoise fn(model, *rest) by the model's identity: a sheet asks about a few models many times,
    and hashing an architecture's thirty fields would cost more than the estimate."""
    memo: dict[tuple[Any, ...], tuple[Architecture, T]] = {}

    @functools.wraps(fn)
    def cached(m: Architecture, *rest: Any) -> T:
        key = (id(m), *rest)
        hit = memo.get(key)
        if hit is not None and hit[0] is m:
            return hit[1]
        if len(memo) >= 1024:
            memo.clear()
        value = fn(m, *rest)
        memo[key] = (m, value)
        return value

    return cached


@_per_model
def _layer_params(m: Architecture) -> LayerParams:
    emb, head, pos, attention, mlp, router, norms = m.param_steps()
    L = m.layers
    final_norm = m.hidden * (2 if m.bias else 1)
    attention_one = attention / L
    norms_one = (norms - final_norm) / L
    moe_mlp = (m.experts + m.shared_experts) * m.expert_params if m.moe_layers else 0.0
    router_one = router / m.moe_layers if m.moe_layers else 0.0
    dense_layers = L - m.moe_layers
    dense_mlp = (mlp - m.moe_layers * moe_mlp) / dense_layers if dense_layers else 0.0
    return LayerParams(
        dense=attention_one + dense_mlp + norms_one,
        moe=attention_one + moe_mlp + router_one + norms_one,
        linear_dense=attention_one + dense_mlp,
        linear_moe=attention_one + moe_mlp + router_one,
        embedding=emb + pos,
        head=head if not m.tied_embeddings else emb,  # tied: the last stage keeps a copy when pipelined
        final_norm=final_norm,
    )


def _shapes(plan: Plan) -> dict[bool, LayerShape]:
    """The activation shape of a dense block (False) and of a MoE block (True), as present."""
    return _shapes_for(plan.arch, plan.method, plan.targets, plan.lora_rank)


@_per_model
def _shapes_for(m: Architecture, method: str, targets: frozenset[str], rank: int) -> dict[bool, LayerShape]:
    qk, v = m.attention_width()
    adapters = _adapters_for(m, method, targets, rank)
    present = {False: m.layers > m.moe_layers, True: m.moe_layers > 0}
    latent = 2 * m.q_lora_rank + 2 * m.kv_lora_rank + m.qk_rope_head_dim if m.is_mla else 0
    if m.qk_norm:  # each head's queries and keys are normed: the norms' inputs are kept too
        latent += (m.heads + m.kv_heads) * m.head_dim
    out = {}
    for moe in (kind for kind, here in present.items() if here):
        if moe:
            mlp = ((m.experts_per_token, m.moe_ffn_hidden), (m.shared_experts, m.moe_ffn_hidden))
            routed = m.experts_per_token
        else:
            mlp, routed = ((1, m.ffn_hidden),), 0
        a = adapters.get(moe, Adapters(0.0, 0.0, 0.0))
        out[moe] = LayerShape(
            hidden=m.hidden,
            heads=m.heads,
            kv_heads=m.heads if m.is_mla else m.kv_heads,
            qk_width=qk,
            v_width=v,
            mlp=mlp,
            gated=m.gated_mlp,
            routed=routed,
            dropout=m.bias,  # GPT-2/3-style models train with dropout; Llama-style ones with none
            latent=latent,
            adapter_attention=a.attention_ranks,
            adapter_mlp=a.mlp_ranks,
            norms=m.norms_per_layer,
        )
    return out


def adapters_of(plan: Plan) -> dict[bool, Adapters]:
    """LoRA adapters of a dense block (False) and of a MoE block (True); none for full training."""
    return _adapters_for(plan.arch, plan.method, plan.targets, plan.lora_rank)


@_per_model
def _adapters_for(m: Architecture, method: str, targets: frozenset[str], rank: int) -> dict[bool, Adapters]:
    if method == "full":
        return {}
    return {kind: layer_adapters(m, kind, targets, rank) for kind in (False, True)}


# ----------------------------------------------------------------- one pipeline stage


@dataclass(frozen=True)
class Stage:
    first: bool
    last: bool
    dense: int  # blocks with a dense MLP
    moe: int  # blocks with experts
    in_flight: int  # micro-batches whose activations it keeps (1F1B)


def stages(plan: Plan) -> tuple[Stage, ...]:
    """The first stage (most layers and in-flight micro-batches) and, when pipelined, the last."""
    m, pp = plan.arch, plan.pp
    L = m.layers
    dense_first = L - m.moe_layers  # dense blocks come first (DeepSeek's first_k_dense_replace)

    def stage(index: int) -> Stage:
        n = L // pp + (1 if index < L % pp else 0)  # balanced, extra layers on the first stages
        start = index * (L // pp) + min(index, L % pp)
        dense = max(0, min(dense_first, start + n) - start)
        return Stage(index == 0, index == pp - 1, dense, n - dense, pp - index)

    return (stage(0),) if pp == 1 else (stage(0), stage(pp - 1))


def stage_parts(plan: Plan, stage: Stage) -> tuple[float, ...]:
    """Bytes per GPU of each component (COMPONENTS order), then host bytes per GPU."""
    m, t, dp, z = plan.arch, plan.tp, plan.dp, plan.zero
    lp = _layer_params(m)
    b = plan.compute.bytes
    blocks = stage.dense * lp.dense + stage.moe * lp.moe
    outside = (lp.embedding if stage.first else 0.0) + ((lp.head + lp.final_norm) if stage.last else 0.0)
    if stage.last and stage.first and m.tied_embeddings:
        outside -= lp.head  # one matrix serves as embedding and head
    adapters = adapters_of(plan)
    adapter_params = sum(n * adapters[k].params for k, n in ((False, stage.dense), (True, stage.moe)) if adapters)

    if plan.method == "qlora":
        linear = stage.dense * lp.linear_dense + stage.moe * lp.linear_moe
        base = (linear * quantized_bytes(plan.storage) + (blocks - linear + outside) * b) / t
    else:
        base = (blocks + outside) * plan.storage.bytes / t
    trainable = (blocks + outside) / t if plan.method == "full" else adapter_params / t

    def shard(x: float, from_stage: int) -> float:
        return x / dp if z >= from_stage else x

    off_opt = plan.offload != "none"
    off_params = plan.offload == "optimizer+params"
    master = MASTER_BYTES if plan.method == "full" and b < MASTER_BYTES else 0.0
    weights = 0.0 if off_params else shard(base, 3)
    adapter_weights = 0.0 if off_params else shard(adapter_params / t * b, 3)
    grads = 0.0 if off_opt else shard(trainable * b, 2)
    masters = 0.0 if off_opt else shard(trainable * master, 1)
    states = 0.0 if off_opt else shard(trainable * plan.optimizer_bytes, 1)
    host = 0.0
    if off_opt:
        host = trainable / dp * (HOST_FP32_BYTES + plan.optimizer_bytes)
        if off_params:
            host += (base + adapter_params / t * b) / dp
        host *= TRAINING.cpu_buffer_factor

    shapes = _shapes(plan)
    counts = {False: stage.dense, True: stage.moe}
    s, mb, sp = plan.seq_len, plan.micro_batch, plan.sp
    if plan.recompute == "full":
        per_layers = sum(n * layer_input_bytes(shapes[k], s, mb, t, sp) for k, n in counts.items() if n)
    else:
        per_layers = sum(
            n * sum(layer_bytes(shapes[k], s, mb, t, sp, plan.attention, plan.recompute))
            for k, n in counts.items() if n
        )
    activations = stage.in_flight * per_layers

    logits = 0.0
    if stage.last:
        # The final norm's input and output (the head's input), and the vocabulary-parallel logits.
        logits = plan.tokens * (2 * ACT_BYTES * m.hidden / (t if sp else 1) + m.vocab / t * plan.logit_bytes)

    transient = _transient(plan, stage, shapes, counts, trainable)
    on_gpu = weights + adapter_weights + grads + masters + states + activations + logits + transient
    reserve = plan.reserve
    if reserve is None:
        reserve = TRAINING.cuda_context + TRAINING.allocator_fraction * on_gpu
    return (weights, adapter_weights, grads, masters, states, activations, logits, transient, reserve, host)


def _block_bytes(plan: Plan, moe: bool) -> tuple[float, float]:
    """One block's weight bytes and trained parameters, per GPU."""
    lp, t, b = _layer_params(plan.arch), plan.tp, plan.compute.bytes
    params, linear = (lp.moe, lp.linear_moe) if moe else (lp.dense, lp.linear_dense)
    adapters = adapters_of(plan)
    if plan.method == "full":
        return params / t * plan.storage.bytes, params / t
    trained = adapters[moe].params / t
    if plan.method == "qlora":
        weights = (linear * quantized_bytes(plan.storage) + (params - linear) * b) / t
    else:
        weights = params / t * plan.storage.bytes
    return weights + trained * b, trained


def _transient(plan: Plan, stage: Stage, shapes: dict[bool, LayerShape], counts: dict[bool, int],
               trainable: float) -> float:
    """Working memory that comes and goes within a layer's backward pass, all at once: the
    layer being recomputed, communication buffers, and QLoRA's dequantized weight."""
    m, t, b = plan.arch, plan.tp, plan.compute.bytes
    work = 0.0
    if plan.recompute == "full":  # the layer being recomputed holds all its activations again
        work = max(
            sum(layer_bytes(shapes[k], plan.seq_len, plan.micro_batch, t, plan.sp, plan.attention, "none"))
            for k, n in counts.items() if n
        )
    if plan.zero == 3 and (plan.dp > 1 or plan.offload == "optimizer+params"):
        # Whole blocks gathered (the one computing and the next), one block's gradients unsharded;
        # the embedding or the head is gathered whole on the stage that holds it.
        units = [_block_bytes(plan, kind) for kind, n in counts.items() if n]
        lp = _layer_params(m)
        outside = (lp.embedding if stage.first else 0.0, lp.head if stage.last else 0.0)
        gathered = max([w for w, _ in units] + [x / t * plan.compute.bytes for x in outside])
        work += TRAINING.zero3_blocks_gathered * gathered
        work += TRAINING.zero3_blocks_reduced * max(g for _, g in units) * b
    elif plan.zero in (1, 2) and (plan.dp > 1 or plan.offload != "none"):
        work += min(TRAINING.zero_bucket_elements, trainable) * b
    elif plan.zero == 0 and plan.dp > 1:
        work += min(TRAINING.ddp_bucket, trainable * b)
    if plan.method == "qlora":
        work += largest_matrix(m) / t * b
    return work


def peak_parts(plan: Plan) -> tuple[tuple[float, ...], Stage]:
    """Components of the stage with the highest total, and that stage."""
    best = None
    for stage in stages(plan):
        parts = stage_parts(plan, stage)
        if best is None or sum(parts[:-1]) > sum(best[0][:-1]):
            best = (parts, stage)
    assert best is not None
    return best


def peak(plan: Plan) -> float:
    """Peak bytes per GPU."""
    return sum(peak_parts(plan)[0][:-1])


def with_batch(plan: Plan, micro_batch: int) -> Plan:
    return replace(plan, micro_batch=micro_batch)


def largest_micro_batch(plan: Plan, capacity: float) -> int:
    """The largest micro-batch whose peak fits `capacity` bytes (0 when even one does not).
    The peak is affine in the micro-batch, so two evaluations locate it; the loops only
    correct rounding."""
    one = peak(with_batch(plan, 1))
    if one > capacity:
        return 0
    slope = peak(with_batch(plan, 2)) - one
    n = 1 + math.floor((capacity - one) / slope) if slope > 0 else 1
    n = max(1, min(n, 10**9))
    while n > 1 and peak(with_batch(plan, n)) > capacity:
        n -= 1
    while n < 10**9 and peak(with_batch(plan, n + 1)) <= capacity:
        n += 1
    return n


def capacity_of(gpu: str) -> tuple[str, float]:
    g = GPUS.get("gpu", gpu)
    return g.name, g.memory
