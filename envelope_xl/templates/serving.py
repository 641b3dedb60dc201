"""Workbook 2, the LLM serving plan: memory per GPU, roofline throughput, fleet size and cost.

Weights (MODEL_MEM, all experts of a mixture) and KV cache (KV_CACHE, in its own
precision) against GPU memory, decode tokens/s from the roofline (DECODE_TPS: weights
read over bandwidth, active parameters over peak), prefill (PREFILL_TIME, active
parameters), Little's law (CONCURRENCY), GPUs for the load (SERVING_GPUS) and the cost
per million generated tokens.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.registry import FUNCTIONS
from envelope_xl.sources import readable
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style
from envelope_xl.templates.style import PlanSheet, choice, fraction, positive, whole_at_least

FILENAME = "llm_serving_plan.xlsx"
TITLE = "LLM serving plan"
DESCRIPTION = "Memory, decode throughput, latency, GPUs and cost per million tokens of serving a language model."

#: Default inputs: Llama 3 8B in bf16 on H100s, 20 requests/s of 300 generated tokens.
DEFAULTS = {
    "model": "llama-3-8b",
    "params_custom": 7e9,
    "layers_custom": 32,
    "kv_heads_custom": 8,
    "head_dim_custom": 128,
    "precision": "bf16",
    "kv_precision": "bf16",
    "gpu": "H100-SXM",
    "context": 8192,
    "batch": 32,
    "qps": 20,
    "tokens_per_request": 300,
    "prompt_tokens": 1500,
    "latency_target_s": 5,
    "mfu": 0.4,
    "target_utilization": 0.7,
    "usd_per_gpu_hour": 2.5,
}

_CUSTOM = f'in_model="{ref.CUSTOM_MODEL}"'
#: The results of a decode step exist only when at least one sequence fits beside the weights.
_RUNS = "out_run_batch>=1"
WEIGHTS_TOO_LARGE = "weights alone exceed the GPU: shard the model (tensor parallel) or quantize"
NOTHING_RUNS = "no batch runs: the weights alone exceed the GPU"
NO_SEQUENCE_FITS = "no batch runs: one sequence of this context does not fit beside the weights; shorten the context"
NOT_RUN = "not checked: no batch runs on one GPU (see Batch fits?)"
_PRESET = f'in_model<>"{ref.CUSTOM_MODEL}"'


def _inputs(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("1. Inputs: the yellow cells")
    s.input("model", "Model", d["model"], "",
            "a preset (architecture on the Models sheet) or 'custom' to use the four custom cells below",
            choice("list_models", "a model preset or custom"), style.TEXT)
    s.input("params_custom", "Custom: parameters", d["params_custom"], "parameters",
            "parameter count when Model is 'custom' (e.g. 7e9)", positive(1e14), style.COUNT, unused_when=_PRESET)
    s.input("layers_custom", "Custom: layers", d["layers_custom"], "layers",
            "transformer blocks when Model is 'custom'", whole_at_least(1, 1000), style.COUNT, unused_when=_PRESET)
    s.input("kv_heads_custom", "Custom: KV heads", d["kv_heads_custom"], "heads",
            "key/value heads when Model is 'custom' (fewer than query heads with GQA)", whole_at_least(1, 10_000),
            style.COUNT, unused_when=_PRESET)
    s.input("head_dim_custom", "Custom: head width", d["head_dim_custom"], "",
            "width of one attention head when Model is 'custom'", whole_at_least(1, 100_000), style.COUNT,
            unused_when=_PRESET)
    s.input("precision", "Weight precision", d["precision"], "",
            "format of the weights (int4/awq/gptq and nf4: weight-only quantization, matmuls in fp16 and bf16)",
            choice("prec_names", "a precision"), style.TEXT)
    s.input("kv_precision", "KV-cache precision", d["kv_precision"], "",
            "format of the cached keys and values: bf16 by default; fp8 KV caches exist (e.g. vLLM, TensorRT-LLM); "
            "weight-only int4/nf4/awq keeps a 16-bit cache", choice("prec_names", "a precision"), style.TEXT)
    s.input("gpu", "GPU type", d["gpu"], "", "accelerator, from the GPUs sheet", choice("gpu_names", "a GPU"),
            style.TEXT)
    s.input("context", "Context length", d["context"], "tokens",
            "tokens cached per sequence (prompt + generated)", whole_at_least(1, 10_000_000), style.COUNT)
    s.input("batch", "Batch", d["batch"], "sequences",
            "sequences decoded together on one GPU (the plan uses the largest batch that fits when this one does "
            "not)", whole_at_least(1, 1_000_000),
            style.COUNT)
    s.input("qps", "Load", d["qps"], "requests/s", "requests arriving per second", positive(1e9), style.DECIMAL)
    s.input("tokens_per_request", "Tokens per request", d["tokens_per_request"], "tokens",
            "tokens generated per request", positive(1e7), style.COUNT)
    s.input("prompt_tokens", "Prompt tokens", d["prompt_tokens"], "tokens", "tokens in each request's prompt",
            positive(1e7), style.COUNT)
    s.input("latency_target_s", "Latency target", d["latency_target_s"], "s",
            "time a request may spend in the system, end to end", positive(86400), style.DECIMAL)
    s.input("mfu", "Prefill MFU", d["mfu"], "fraction", "share of dense peak achieved while processing prompts",
            fraction(), style.PERCENT)
    s.input("target_utilization", "Target utilisation", d["target_utilization"], "fraction",
            "share of each GPU's throughput to plan for; the rest is headroom", fraction(), style.PERCENT)
    s.input("usd_per_gpu_hour", "Price per GPU-hour", d["usd_per_gpu_hour"], "USD", "what one GPU-hour costs",
            positive(1000), style.USD_CENTS)


def _model(s: PlanSheet) -> None:
    s.section("2. The model")
    s.step("params", "Parameters (total)", "preset: computed from its architecture (Models sheet); custom: as given",
           f"IF({_CUSTOM},in_params_custom,{ref.preset_params('in_model')})", "parameters",
           "MODEL_PARAMS: all experts of a mixture are held in memory", style.COUNT, key=True)
    s.step("active_params", "Active parameters per token",
           "total - (experts - experts per token) x layers x one expert's MLP (Models sheet); custom: = total",
           f"IF({_CUSTOM},out_params,{ref.preset_params('in_model', active=True)})", "parameters",
           "MODEL_PARAMS(model, TRUE): sets prefill and decode FLOPs. Only the routed experts' MLPs run per "
           "token (Mixtral: 47B total, 13B active, Jiang et al. 2024). Custom: taken as dense", style.COUNT)
    for field, label in (("layers", "Layers"), ("kv_heads", "KV heads"), ("head_dim", "Head width")):
        s.step(field, label, f"preset: {field} from the Models sheet; custom: as given",
               f"IF({_CUSTOM},in_{field}_custom,{ref.model_figure('in_model', field)})", "",
               "shape of the KV cache", style.COUNT)
    for field, label in (("experts", "Experts per layer"), ("experts_per_token", "Experts routed per token")):
        s.step(field, label, f"preset: {field} from the Models sheet; custom: 1 (dense)",
               f"IF({_CUSTOM},1,{ref.model_figure('in_model', field)})", "",
               "mixture of experts: which weights a decode step reads", style.COUNT)


def _memory(s: PlanSheet) -> None:
    s.section("3. Memory on one GPU")
    s.step("bytes", "Bytes per weight", "bytes of one value in the weight precision (Precisions sheet)",
           ref.precision_bytes("in_precision"), "bytes", "int4/nf4/awq store 4 bits per weight and compute in 16 bits",
           style.BYTES_EACH)
    s.step("kv_bytes", "Bytes per KV-cache value", "bytes of one value in the KV-cache precision (Precisions sheet)",
           ref.precision_bytes("in_kv_precision"), "bytes", "independent of the weight precision",
           style.BYTES_EACH)
    s.step("weights_gb", "Weights", "parameters x bytes per value", "out_params*out_bytes/1e9", "GB",
           f"Same as MODEL_MEM; {FUNCTIONS['MODEL_MEM'].assumptions[0]}", key=True)
    s.step("kv_per_seq_gb", "KV cache per sequence", "2 (K and V) x layers x KV heads x head width x context x bytes",
           "2*out_layers*out_kv_heads*out_head_dim*in_context*out_kv_bytes/1e9", "GB",
           f"Same as KV_CACHE; {FUNCTIONS['KV_CACHE'].assumptions[0]}", style.THREE_DECIMALS, key=True)
    s.step("gpu_memory_gb", "GPU memory", "memory_gb of the GPU (GPUs sheet)",
           ref.gpu_figure("in_gpu", '"memory_gb"'), "GB", "capacity as printed on the datasheet", style.ONE_DECIMAL)
    s.step("kv_room_gb", "Room for the KV cache", "GPU memory - weights", "out_gpu_memory_gb-out_weights_gb", "GB",
           "no allowance for activations, CUDA graphs or fragmentation (keep ~10% spare)")
    s.step("max_batch", "Largest batch that fits", "room / KV cache per sequence, rounded down (0 if none)",
           "MAX(0,INT(out_kv_room_gb/out_kv_per_seq_gb*(1+1E-12)))", "sequences",
           "every sequence holds its full context; float noise at whole numbers forgiven", style.COUNT)
    s.step("batch_fits", "Chosen batch fits?", "yes when the chosen batch <= the largest batch that fits",
           'IF(in_batch<=out_max_batch,"yes","no")', "", "", style.TEXT)
    s.step("run_batch", "Batch that runs", "the chosen batch, or the largest that fits when it does not",
           "MIN(in_batch,out_max_batch)", "sequences",
           "every result below uses this batch; 0: nothing fits on one GPU and they stay blank", style.COUNT,
           key=True)
    s.step("batch_memory_gb", "Memory at the batch that runs", "weights + batch that runs x KV cache per sequence",
           "out_weights_gb+out_run_batch*out_kv_per_seq_gb", "GB", "")


def _decode(s: PlanSheet) -> None:
    s.section("4. Decode throughput (roofline) and prefill")
    s.step("bandwidth_tbs", "Memory bandwidth", "bandwidth_tbs of the GPU", ref.gpu_figure("in_gpu", '"bandwidth_tbs"'),
           "TB/s", "100% of the datasheet bandwidth: an upper bound", style.DECIMAL)
    peak = ref.gpu_figure("in_gpu", ref.peak_field("in_precision"))
    s.step("peak_tflops", "Dense peak", "the GPU's peak in the precision's peak field (Precisions sheet)",
           f"IF({peak}>0,{peak},NA())", "TFLOP/s", "dense tensor-core peak; #N/A when the GPU publishes none",
           style.ONE_DECIMAL)
    s.step("experts_read", "Experts read per layer and step", "experts per token x batch, at most the experts",
           "MIN(out_experts,out_experts_per_token*out_run_batch)", "experts",
           "assumption: the sequences of a batch route to different experts, so every expert is read once batch "
           ">= experts / experts per token (1 for a dense model)", style.COUNT, when=_RUNS)
    s.step("params_read", "Parameters read per step",
           "active parameters + (experts read - experts per token) x one expert's parameters over all layers",
           "out_active_params+IF(out_experts>out_experts_per_token,(out_experts_read-out_experts_per_token)"
           "*(out_params-out_active_params)/(out_experts-out_experts_per_token),0)", "parameters",
           "one expert = (total - active) / (experts - experts per token); dense: every parameter", style.COUNT)
    s.step("step_memory_s", "Step time if bandwidth-bound", "parameters read x bytes per weight / bandwidth",
           "out_params_read*out_bytes/(out_bandwidth_tbs*1e12)", "s",
           "every step streams the weights it touches; KV-cache reads are not counted here (DECODE_TPS counts them)",
           "0.00000")
    s.step("step_compute_s", "Step time if compute-bound", "2 x active parameters x batch / peak",
           "2*out_active_params*out_run_batch/(out_peak_tflops*1e12)", "s",
           "2 FLOPs per active parameter per token", "0.00000", when=_RUNS)
    s.step("step_s", "Time per decode step", "the larger of the two (roofline)",
           "MAX(out_step_memory_s,out_step_compute_s)", "s", readable(FUNCTIONS["DECODE_TPS"].source), "0.00000")
    s.step("bound", "Bound by", "which limit sets the step time",
           'IF(out_step_memory_s>=out_step_compute_s,"memory bandwidth","compute")', "", "", style.TEXT)
    s.step("decode_tps", "Decode throughput per GPU", "batch that runs / step time", "out_run_batch/out_step_s",
           "tokens/s",
           "an upper bound: the weights-only roofline at full bandwidth and peak (DECODE_TPS adds KV-cache reads, "
           "measured efficiencies and a memory check)", style.COUNT, key=True)
    s.step("per_sequence_tps", "Speed each user sees", "1 / step time", "1/out_step_s", "tokens/s", "",
           style.ONE_DECIMAL)
    s.step("prefill_s", "Prefill time", "2 x active parameters x prompt tokens / (peak x MFU)",
           "2*out_active_params*in_prompt_tokens/(out_peak_tflops*1e12*in_mfu)", "s",
           "PREFILL_TIME(active parameters) without its attention FLOPs and weight-read floor",
           style.THREE_DECIMALS)
    s.step("request_latency_s", "Time per request", "prefill + tokens per request x step time",
           "out_prefill_s+in_tokens_per_request*out_step_s", "s", "no queueing; prefill not overlapped with decode",
           style.DECIMAL, key=True)
    s.step("meets_latency", "Meets the latency target?", "yes when time per request <= target",
           'IF(out_request_latency_s<=in_latency_target_s,"yes","no")', "", "", style.TEXT)


def _fleet(s: PlanSheet) -> None:
    s.section("5. Fleet and cost")
    s.step("concurrency", "Requests in flight", "load x time per request (Little's law)",
           "in_qps*out_request_latency_s", "requests",
           f"Same as CONCURRENCY; {FUNCTIONS['CONCURRENCY'].assumptions[0]}", style.DECIMAL)
    s.step("demand_tps", "Tokens to generate", "load x tokens per request", "in_qps*in_tokens_per_request",
           "tokens/s", "output tokens only", style.COUNT)
    s.step("gpus_needed", "GPUs needed", "tokens to generate / (decode throughput x target utilisation), rounded up",
           "ROUNDUP(out_demand_tps/(out_decode_tps*in_target_utilization)*(1-1E-12),0)", "GPUs",
           f"Same as SERVING_GPUS; {FUNCTIONS['SERVING_GPUS'].assumptions[0]}", style.COUNT, key=True)
    s.step("in_flight_per_gpu", "Requests in flight per GPU", "requests in flight / GPUs needed",
           "out_concurrency/out_gpus_needed", "requests", "should not exceed the batch that runs", style.DECIMAL)
    s.step("cost_per_hour", "Fleet cost per hour", "GPUs needed x price per GPU-hour",
           "out_gpus_needed*in_usd_per_gpu_hour", "USD/h", "", style.USD_CENTS)
    s.step("cost_per_million", "Cost per million tokens", "cost per hour / tokens generated per hour x 1,000,000",
           "out_cost_per_hour/(out_demand_tps*3600)*1000000", "USD", "generated tokens; prompts ride along",
           style.USD_CENTS, key=True)


def _checks(s: PlanSheet) -> None:
    s.section("6. Checks")
    s.check("check_peak", "Peak published?", "the GPU must publish a peak for the precision",
            f'IF(ISNA(out_peak_tflops),in_gpu&" publishes no "&{ref.peak_field("in_precision")}&" peak: pick '
            f'another precision or GPU","OK")', "DECODE_TPS refuses the same combination")
    s.check("check_weights", "Weights fit?", "weights within GPU memory",
            f'IF(out_weights_gb<=out_gpu_memory_gb,"OK","{WEIGHTS_TOO_LARGE}")')
    s.check("check_batch", "Batch fits?", "chosen batch within the largest batch that fits",
            f'IF(out_batch_fits="yes","OK",IF(out_max_batch>=1,"batch "&in_batch&" does not fit: the plan uses '
            f'"&out_max_batch&", the largest that fits",IF(out_weights_gb>out_gpu_memory_gb,"{NOTHING_RUNS}",'
            f'"{NO_SEQUENCE_FITS}")))')
    s.check("check_latency", "Latency met?", "time per request within the target",
            'IF(out_meets_latency="yes","OK","too slow: smaller batch, faster GPU or fewer tokens")',
            not_run=NOT_RUN)
    s.check("check_in_flight", "Enough batch slots?", "requests in flight per GPU within the batch that runs",
            'IF(out_in_flight_per_gpu<=out_run_batch,"OK","more requests in flight per GPU than the batch that runs ("'
            '&out_run_batch&"): they will queue")', not_run=NOT_RUN)
    s.checks()


_CHART_ROWS = (
    ("Weights", "out_weights_gb"),
    ("KV cache at the batch that runs", "out_run_batch*out_kv_per_seq_gb"),
    ("Memory at the batch that runs", "out_batch_memory_gb"),
    ("GPU memory", "out_gpu_memory_gb"),
)


def build() -> Workbook:
    s = PlanSheet.in_new_workbook("Serving plan", TITLE, "How many GPUs does this load need, how fast is it, and "
                                  "what does a million tokens cost?", style.HOW_TO_WITH_LISTS)
    wb = s.wb
    _inputs(s)
    _model(s)
    _memory(s)
    _decode(s)
    _fleet(s)
    _checks(s)
    s.bar_chart("7. Memory on one GPU at a glance", "Memory on one GPU (GB)", _CHART_ROWS, "GB")
    ref.add_reference_sheets(wb, ("precisions", "gpus", "models", "lists"))
    return wb
