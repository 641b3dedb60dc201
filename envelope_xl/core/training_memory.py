"""Does a training job fit the GPU? TRAIN_PEAK_MEM and MAX_MICRO_BATCH."""

from __future__ import annotations

from typing import Any

from envelope_xl.core.finetune import quantized_bytes
from envelope_xl.core.fit_advice import advise, gb
from envelope_xl.core.peak_memory import (
    COMPONENTS,
    CPU_ROW,
    Plan,
    adapters_of,
    capacity_of,
    largest_micro_batch,
    make_plan,
    peak,
    peak_parts,
    with_batch,
)
from envelope_xl.errors import InputError
from envelope_xl.reference import TRAINING
from envelope_xl.registry import Step, register
from envelope_xl.sources import brief, mark
from envelope_xl.units import BYTE_UNITS

#: `gpu` when no GPU is named: the peak is returned without a fit check.
NO_GPU = "none"

_SOURCE = (
    "rajbhandari2020 section 3.1, section 5 (model states and their sharding); korthikanti2022 section 4, "
    "section 5, Table 2 (activations, sequence parallelism, recomputation, 1F1B in-flight micro-batches); "
    "dao2022 section 3.1 (no score matrix stored); hu2021 section 4 (LoRA adapters); dettmers2023 section "
    "3 (QLoRA); ren2021 (ZeRO-Offload); deepspeed file 'deepspeed/runtime/zero/stage3.py' (model-state "
    "estimators)"
)

_ASSUMPTIONS = (
    "model states as TRAIN_MEM: weights and gradients in the training precision, fp32 master weights below "
    "fp32, optimizer states; ZeRO-1/2/3 shard them over the data-parallel GPUs (gpus / (tp x pp)), tensor "
    "parallelism splits every matrix, each pipeline stage holds its layers (the first the embedding, the last "
    "the output head)",
    "activations: each layer keeps its tensors for the backward pass with the model's real widths (query and "
    "KV heads, gated MLP, routed and shared experts, MLA latents), 16-bit, dropout masks only for GPT-2/3-style "
    "models; FlashAttention keeps no score matrix; tensor parallelism splits heads and MLP, sequence parallelism "
    "the rest; a 1F1B pipeline keeps pp micro-batches in flight on its first stage",
    "LoRA/QLoRA: the base is frozen (QLoRA: the blocks' linear layers in 4-bit with their quantization "
    "constants, the rest in 16-bit); adapters, their gradients and optimizer states in the compute precision, "
    f"no master copy ({mark(TRAINING.adapters_source)}); LoRA dropout 0, PEFT's default (with dropout each adapted "
    "matrix keeps a copy of its input); the activations are those of full training plus each adapter's r-wide "
    f"product; MLA's low-rank projections are adapted as if full ({mark(TRAINING.lora_source)})",
    f"logits and loss: {TRAINING.logit_bytes:g} bytes per logit by default ({mark(TRAINING.loss_source)}), plus the "
    "final norm's input and output",
    "transient working memory, all present during one layer's backward pass: the layer being recomputed (full "
    f"recomputation); ZeRO-3 gathers {TRAINING.zero3_blocks_gathered} blocks' weights and holds "
    f"{TRAINING.zero3_blocks_reduced} block's gradients ({mark(TRAINING.zero3_source)}); ZeRO-1/2 reduce buckets of "
    f"{TRAINING.zero_bucket_elements:g} elements ({mark(TRAINING.zero_source)}); plain data parallelism "
    f"{TRAINING.ddp_bucket / 2**20:g} MiB buckets ({mark(TRAINING.ddp_source)}); QLoRA dequantizes one weight matrix "
    "at a time to 16-bit",
    f"framework reserve: the CUDA context, {TRAINING.cuda_context / 1e9:g} GB ({mark(TRAINING.cuda_context_source)}), "
    f"and {TRAINING.allocator_fraction:.0%} allocator slack on the rest ({mark(TRAINING.allocator_source)})",
    "offload: ZeRO-Offload moves gradients, fp32 master weights and optimizer states to the host (4 + 4 + "
    "optimizer bytes per trained parameter, sharded over the data-parallel GPUs), ZeRO-Infinity's parameter "
    f"offload the weights too, with DeepSpeed's {TRAINING.cpu_buffer_factor:g} host buffer factor "
    f"({mark(TRAINING.offload_source)})",
)

_STEPS = (
    Step("weights", "params on the stage / tp x bytes(precision) [/ dp at ZeRO-3]; LoRA: the frozen base; QLoRA: "
         "block linears in 4-bit + constants, the rest in 16-bit"),
    Step("LoRA adapter weights", "rank x (inputs + outputs) of each adapted matrix x layers / tp x bytes "
         "[/ dp at ZeRO-3]"),
    Step("gradients", "trained params / tp x bytes [/ dp at ZeRO-2+]; 0 when offloaded"),
    Step("fp32 master weights", "trained params / tp x 4 when precision < 4 bytes (full training) [/ dp at "
         "ZeRO-1+]; 0 when offloaded"),
    Step("optimizer states", "trained params / tp x optimizer bytes [/ dp at ZeRO-1+]; 0 when offloaded"),
    Step("activations", "micro-batches in flight x layers on the stage x what each layer keeps (attention, "
         "MLP, norms; full recomputation: its input)"),
    Step("logits and loss", "seq_len x micro_batch x (vocab / tp x logit_bytes + 2 x 2 x hidden [/ tp with sp]), "
         "on the last stage"),
    Step("transient working memory", "the layer being recomputed + communication buffers + QLoRA's dequantized "
         "matrix"),
    Step("framework reserve", "CUDA context + allocator slack x everything above (or reserve_gb)"),
    Step(CPU_ROW, "trained params / tp / dp x (4 + 4 + optimizer bytes) [+ weights with parameter offload] x "
         "host buffer factor", part=False, aside=True),
)


def _plan(model: Any, seq_len: Any, micro_batch: Any, precision: Any, optimizer: Any, gpus: Any, zero_stage: Any,
          recompute: Any, tp: Any, pp: Any, attention: Any, sp: Any, method: Any, lora_rank: Any, lora_targets: Any,
          offload: Any, logit_bytes: Any, reserve_gb: Any) -> Plan:
    return make_plan(model, seq_len, micro_batch, precision, optimizer, gpus, zero_stage, recompute, tp, pp,
                     attention, sp, method, lora_rank, lora_targets, offload, logit_bytes, reserve_gb)


def _checked(gpu: Any, plan: Plan) -> tuple[float, ...]:
    """The peak's components; with a GPU named, refuse a step that does not fit it."""
    parts = peak_parts(plan)[0]
    if isinstance(gpu, str) and gpu.strip().lower() == NO_GPU:
        return parts
    name, capacity = capacity_of(gpu)
    total = sum(parts[:-1])
    if total > capacity:
        raise InputError(
            "gpu", gpu,
            f"the step needs {gb(total)} per GPU, {gb(total - capacity)} more than the {name}'s {gb(capacity)}",
            advise(plan, capacity),
        )
    return parts


def _train_peak_steps(
    model: Any, seq_len: int, micro_batch: int, precision: str = "bf16", optimizer: str = "adam", gpus: int = 1,
    zero_stage: int = 0, recompute: str = "none", tp: int = 1, pp: int = 1, gpu: str = NO_GPU,
    attention: str = "flash", sp: bool | None = None, method: str = "full", lora_rank: int = TRAINING.lora_rank,
    lora_targets: str = "all", offload: str = "none", logit_bytes: float = TRAINING.logit_bytes,
    reserve_gb: float | None = None,
) -> tuple[float, ...]:
    plan = _plan(model, seq_len, micro_batch, precision, optimizer, gpus, zero_stage, recompute, tp, pp, attention,
                 sp, method, lora_rank, lora_targets, offload, logit_bytes, reserve_gb)
    return _checked(gpu, plan)


def _peak_plan(given: dict[str, Any]) -> Plan:
    g = given
    return _plan(g["model"], g["seq_len"], g["micro_batch"], g["precision"], g["optimizer"], g["gpus"],
                 g["zero_stage"], g["recompute"], g["tp"], g["pp"], g["attention"], g["sp"], g["method"],
                 g["lora_rank"], g["lora_targets"], g["offload"], g["logit_bytes"], g["reserve_gb"])


def _train_peak_assumptions(given: dict[str, Any]) -> tuple[str, ...]:
    """What this call's layout and method mean, which stage peaks and its largest component."""
    plan = _peak_plan(given)
    parts, stage = peak_parts(plan)
    out = [_layout(plan)]
    if plan.pp > 1:
        which = (f"the first stage ({stage.dense + stage.moe} layers, {stage.in_flight} micro-batches in flight, "
                 "the embedding)" if stage.first else f"the last stage ({stage.dense + stage.moe} layers, one "
                 "micro-batch, the output head and the logits)")
        out.append(f"the peak is on {which}")
    out += _method_notes(plan)
    largest = max(range(len(COMPONENTS)), key=lambda i: parts[i])
    out.append(f"largest component: {COMPONENTS[largest]} ({gb(parts[largest])})")
    return tuple(out)


def _train_peak_decision(given: dict[str, Any], result: Any) -> str:
    """With a GPU named, how much room the step leaves (a step that does not fit is refused)."""
    gpu = given["gpu"]
    if isinstance(gpu, str) and gpu.strip().lower() == NO_GPU:
        return ""
    name, capacity = capacity_of(gpu)
    return f"fits the {name} ({gb(capacity)}) with {gb(capacity - peak(_peak_plan(given)))} to spare"


def _layout(plan: Plan) -> str:
    sp = "on" if plan.sp else "off"
    gpus = f"{plan.gpus} GPU{'s' if plan.gpus > 1 else ''}"
    return (f"{gpus} = tp {plan.tp} x pp {plan.pp} x data-parallel {plan.dp}; ZeRO stage {plan.zero}; "
            f"sequence parallelism {sp}; {plan.attention} attention; recompute {plan.recompute}; offload "
            f"{plan.offload}")


def _method_notes(plan: Plan) -> list[str]:
    if plan.method == "full":
        return []
    adapters = adapters_of(plan)
    m = plan.arch
    total = (m.layers - m.moe_layers) * adapters[False].params + m.moe_layers * adapters[True].params
    targets = ", ".join(x for x in ("q", "k", "v", "o", "gate", "up", "down") if x in plan.targets)
    out = [f"LoRA rank {plan.lora_rank} on {targets}: {total:,.0f} trained parameters "
           f"({total / m.total_params:.2%} of {m.total_params:,.0f})"]
    if plan.method == "qlora":
        bits = 8 * quantized_bytes(plan.storage)
        out.append(f"frozen base: the blocks' linear layers in {plan.storage.name}, {bits:.3g} bits per weight "
                   f"with quantization constants ({brief(TRAINING.quant_sources.get(plan.storage.name, ''))}); "
                   f"embeddings, head and norms in {plan.compute.name}; computed in {plan.compute.name} "
                   f"({brief(TRAINING.quant_skip_source)})")
    return out


@register(
    "TRAIN_PEAK_MEM",
    example=("llama-3-8b", 8192, 1, "bf16", "adam", 8, 3, "selective"),
    pillar="Memory",
    summary="Peak memory per GPU of a training step: model states (ZeRO, tp, pp), activations (FlashAttention, "
    "sequence parallelism, recomputation, pipeline), logits, transients, framework reserve; full, LoRA or QLoRA; "
    "offload.",
    returns="bytes per GPU at the peak, in `unit` (default GB); with `gpu` named, an error saying by how much "
    "it does not fit and what to change",
    unit_kind="bytes",
    formula="weights + adapters + gradients + master weights + optimizer states (sharded) + in-flight "
    "activations + logits + transients + reserve, on the most loaded pipeline stage",
    source=_SOURCE,
    assumptions=_ASSUMPTIONS,
    arg_docs={
        "gpu": 'GPU to check the peak against: an error says by how much it does not fit and what to change '
        '("none": no check)',
        "sp": "TRUE for sequence parallelism (Megatron): norms, dropout and layer inputs split over tp too; "
        "default: TRUE when tp > 1",
    },
    steps=_STEPS,
    steps_fn=_train_peak_steps,
    assumptions_fn=_train_peak_assumptions,
    decision=_train_peak_decision,
)
def train_peak_mem(
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
    unit: str = "GB",
    gpu: str = NO_GPU,
    attention: str = "flash",
    sp: bool | None = None,
    method: str = "full",
    lora_rank: int = TRAINING.lora_rank,
    lora_targets: str = "all",
    offload: str = "none",
    logit_bytes: float = TRAINING.logit_bytes,
    reserve_gb: float | None = None,
) -> float:
    """Peak memory per GPU of one training step, in `unit`.

    Formula (per GPU, on the pipeline stage with the highest total):
        model states: weights P*b [/dp at ZeRO-3] + gradients P*b [/dp at ZeRO-2+]
            + master P*4 if b < 4 [/dp at ZeRO-1+] + optimizer P*K [/dp at ZeRO-1+],
            P = the stage's parameters / tp (LoRA: adapters trained, the base frozen)
        + activations: in-flight micro-batches x layers x per-layer tensors
        + logits: s*b*(V/tp*logit_bytes + 4h) + transients + CUDA context + 5% slack

    Assumptions: see the catalog entry; every default is in data/training.toml with
    its source, and `logit_bytes`, `reserve_gb`, `lora_rank` override them.

    Source: ZeRO (Rajbhandari et al. 2020); Korthikanti et al. 2022; FlashAttention
    (Dao et al. 2022); LoRA (Hu et al. 2021); QLoRA (Dettmers et al. 2023).

    Examples:
        Llama 3 8B on 8 GPUs, FSDP (ZeRO-3), 8,192 tokens, selective recomputation:

        >>> round(train_peak_mem("llama-3-8b", 8192, 1, gpus=8, zero_stage=3, recompute="selective"), 1)
        78.3
    """
    parts = _train_peak_steps(model, seq_len, micro_batch, precision, optimizer, gpus, zero_stage, recompute, tp, pp,
                              gpu, attention, sp, method, lora_rank, lora_targets, offload, logit_bytes, reserve_gb)
    return sum(parts[:-1]) / BYTE_UNITS.get("unit", unit)


# ----------------------------------------------------------------- MAX_MICRO_BATCH


def _max_micro_batch_plan(model: Any, seq_len: int, gpu: str, precision: str, optimizer: str, gpus: int,
                          zero_stage: int, recompute: str, tp: int, pp: int, attention: str, sp: bool | None,
                          method: str, lora_rank: int, lora_targets: str, offload: str, logit_bytes: float,
                          reserve_gb: float | None) -> tuple[Plan, str, float]:
    plan = _plan(model, seq_len, 1, precision, optimizer, gpus, zero_stage, recompute, tp, pp, attention, sp,
                 method, lora_rank, lora_targets, offload, logit_bytes, reserve_gb)
    name, capacity = capacity_of(gpu)
    return plan, name, capacity


def _max_micro_batch_steps(
    model: Any, seq_len: int, gpu: str = "H100-SXM", precision: str = "bf16", optimizer: str = "adam",
    gpus: int = 1, zero_stage: int = 0, recompute: str = "none", tp: int = 1, pp: int = 1, attention: str = "flash",
    sp: bool | None = None, method: str = "full", lora_rank: int = TRAINING.lora_rank, lora_targets: str = "all",
    offload: str = "none", logit_bytes: float = TRAINING.logit_bytes, reserve_gb: float | None = None,
) -> tuple[float, ...]:
    plan, _, capacity = _max_micro_batch_plan(model, seq_len, gpu, precision, optimizer, gpus, zero_stage, recompute,
                                              tp, pp, attention, sp, method, lora_rank, lora_targets, offload,
                                              logit_bytes, reserve_gb)
    one = peak(plan)
    n = largest_micro_batch(plan, capacity)
    return (capacity / 1e9, one / 1e9, (peak(with_batch(plan, 2)) - one) / 1e9,
            peak(with_batch(plan, max(n, 1))) / 1e9, float(n))


def _max_micro_batch_plan_of(given: dict[str, Any]) -> tuple[Plan, str, float]:
    g = given
    return _max_micro_batch_plan(g["model"], g["seq_len"], g["gpu"], g["precision"], g["optimizer"], g["gpus"],
                                 g["zero_stage"], g["recompute"], g["tp"], g["pp"], g["attention"], g["sp"],
                                 g["method"], g["lora_rank"], g["lora_targets"], g["offload"], g["logit_bytes"],
                                 g["reserve_gb"])


def _max_micro_batch_assumptions(given: dict[str, Any]) -> tuple[str, ...]:
    plan, _, _ = _max_micro_batch_plan_of(given)
    return (_layout(plan), *_method_notes(plan))


def _max_micro_batch_decision(given: dict[str, Any], result: Any) -> str:
    """How close the answer is to the next micro-batch, or why not even one sequence fits and what to change."""
    plan, name, capacity = _max_micro_batch_plan_of(given)
    n = int(result)
    if n:
        return (f"micro-batch {n} peaks at {gb(peak(with_batch(plan, n)))} of the {name}'s {gb(capacity)}; "
                f"{n + 1} would need {gb(peak(with_batch(plan, n + 1)))}")
    return " ".join(problem(plan, name, capacity))


def problem(plan: Plan, name: str, capacity: float) -> tuple[str, ...]:
    """Why not even one sequence fits, and what to change."""
    parts = peak_parts(plan)[0]
    per_sequence = {i: parts[i] for i in (5, 6)}  # activations, logits: they grow with the micro-batch
    fixed = sum(parts[:-1]) - sum(per_sequence.values())
    if fixed > capacity:
        states = max(range(5), key=lambda i: parts[i])
        why = (f"before any activation, model states, transients and reserve take {gb(fixed)} of the {name}'s "
               f"{gb(capacity)}; the largest is {COMPONENTS[states]} ({gb(parts[states])})")
    else:
        worst = max(per_sequence, key=lambda i: per_sequence[i])
        why = (f"model states, transients and reserve take {gb(fixed)} of the {name}'s {gb(capacity)}, and one "
               f"sequence of {plan.seq_len:,} tokens adds {gb(sum(per_sequence.values()))}, mostly "
               f"{COMPONENTS[worst]} ({gb(per_sequence[worst])})")
    return (why + ".", advise(plan, capacity))


@register(
    "MAX_MICRO_BATCH",
    example=("llama-3-8b", 8192, "H100-SXM", "bf16", "adam", 8, 3, "selective"),
    pillar="Memory",
    summary="Largest micro-batch of `seq_len`-token sequences whose training step fits the GPU's memory (the "
    "peak of TRAIN_PEAK_MEM); 0 when not even one does, and the chain says which component is the problem.",
    returns="sequences per micro-batch (whole number, 0 when nothing fits)",
    result_unit="sequences",
    formula="largest b with TRAIN_PEAK_MEM(model, seq_len, b, ...) <= GPU memory",
    source=_SOURCE,
    assumptions=(*_ASSUMPTIONS, "the GPU's memory as its datasheet prints it (GPU_SPEC memory_gb)"),
    arg_docs={
        "sp": "TRUE for sequence parallelism (Megatron): norms, dropout and layer inputs split over tp too; "
        "default: TRUE when tp > 1",
    },
    steps=(
        Step("GPU memory", "memory_gb of the GPU", part=False, unit="GB"),
        Step("peak at micro-batch 1", "TRAIN_PEAK_MEM(model, seq_len, 1, ...)", part=False, unit="GB"),
        Step("each further sequence adds", "TRAIN_PEAK_MEM at 2 - at 1 (activations, logits, their share of "
             "transients and slack)", part=False, unit="GB"),
        Step("peak at the answer", "TRAIN_PEAK_MEM(model, seq_len, answer, ...) (at 1 when the answer is 0)",
             part=False, unit="GB"),
        Step("largest micro-batch", "largest b whose peak fits", part=False, unit="sequences"),
    ),
    steps_fn=_max_micro_batch_steps,
    assumptions_fn=_max_micro_batch_assumptions,
    decision=_max_micro_batch_decision,
)
def max_micro_batch(
    model: Any,
    seq_len: int,
    gpu: str = "H100-SXM",
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
) -> int:
    """Largest micro-batch that fits the GPU, 0 when even one sequence does not.

    Formula: the peak is affine in the micro-batch b (activations, logits and the
    recomputed layer grow with b; model states, buffers and the CUDA context do not), so
    b = floor((memory - peak(1)) / (peak(2) - peak(1))) + 1, checked against the peak.

    Examples:
        Llama 3 8B at 8,192 tokens with FSDP over 8 GPUs and full recomputation: each sequence
        adds 10.5 GB of logits (128,256 x 8,192 x 10 bytes); with a fused loss (4 bytes), 7 fit.

        >>> max_micro_batch("llama-3-8b", 8192, "H100-SXM", gpus=8, zero_stage=3, recompute="full")
        3
        >>> max_micro_batch("llama-3-8b", 8192, "H100-SXM", gpus=8, zero_stage=3, recompute="full", logit_bytes=4)
        7
        >>> max_micro_batch("llama-3-70b", 8192, "H100-SXM")  # 70B of model states on one GPU
        0
    """
    plan, _, capacity = _max_micro_batch_plan(model, seq_len, gpu, precision, optimizer, gpus, zero_stage, recompute,
                                              tp, pp, attention, sp, method, lora_rank, lora_targets, offload,
                                              logit_bytes, reserve_gb)
    return largest_micro_batch(plan, capacity)
