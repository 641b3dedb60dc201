"""Workbook 2, the LLM serving plan: memory per GPU, decode and prefill, targets, fleet and cost.

The physics of `envelope_xl.core.replica` in native formulas: weights with the scales of
sub-16-bit formats, the KV cache per sequence per GPU (its share of the KV heads under tp,
MLA latents, sliding windows), usable memory = capacity x memory_utilization - workspace,
the largest batch that fits (MAX_BATCH), a decode step = max(memory time, compute time) +
all-reduces (TPOT, DECODE_TPS) and a prompt's prefill (PREFILL_TIME, TTFT). The plan runs
the chosen batch (or the largest that fits) with every sequence at its final length
(prompt + output), checks the TTFT and TPOT targets, and sizes replicas and GPUs for the
load as SERVING_PLAN does at that batch. Defaults come from data/serving.toml.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.core import serving_data as data
from envelope_xl.registry import FUNCTIONS
from envelope_xl.sources import readable
from envelope_xl.templates import model_block, style
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import serving_tables as tables
from envelope_xl.templates.serving_tables import AUTO
from envelope_xl.templates.style import PlanSheet, Rule, choice, fraction, non_negative_up_to, positive, whole_between

FILENAME = "llm_serving_plan.xlsx"
TITLE = "LLM serving plan"
DESCRIPTION = ("Memory per GPU, largest batch, time per output token, time to first token, replicas, GPUs and "
               "cost per million tokens of serving a language model.")

#: Default inputs: Llama 3 8B in bf16 on H100s, 20 requests/s of 1,500-token prompts and 300 generated tokens.
DEFAULTS: dict[str, object] = {
    "model": "llama-3-8b",
    **model_block.INPUT_DEFAULTS,
    "precision": "bf16",
    "kv_precision": AUTO,
    "gpu": "H100-SXM",
    "tp": 1,
    "prompt_tokens": 1500,
    "output_tokens": 300,
    "batch": 64,
    "qps": 20,
    "ttft_target_s": data.TTFT_TARGET_S.value,
    "tpot_target_ms": data.TPOT_TARGET_S.value * 1000,
    "target_utilization": 0.7,
    "usd_per_gpu_hour": 2.5,
    "bandwidth_efficiency": data.BANDWIDTH_EFFICIENCY.value,
    "compute_efficiency": AUTO,
    "mfu": AUTO,
    "memory_utilization": data.MEMORY_UTILIZATION.value,
    "workspace_gb": data.WORKSPACE_GB.value,
    "allreduce_us": data.ALLREDUCE_US.value,
    "link_gbs": AUTO,
}

#: The figures of the model the plan reads (model block), in the order shown.
FIGURES = ("params", "active_params", "layers", "hidden", "heads", "kv_heads", "vocab", "tied_embeddings",
           "experts", "experts_per_token", "is_moe", "moe_layers", "expert_params", "is_mla", "kv_values_layer",
           "qk_width", "v_width", "sliding_window", "window_layers", "max_positions", "p_embeddings", "p_head",
           "p_positions", "p_attention", "p_mlp", "p_router", "p_norms")

#: What must hold for the memory, decode and prefill results: a peak, tp dividing the heads, a link.
RUNS = 'out_config_ok="yes"'
#: ... and for decode, prefill and the fleet: at least one sequence fits beside the weights.
FITS = "N(out_max_batch)>=1"
NOT_RUN = "not checked: nothing runs (see the red checks above)"
_ACTIVATION_BYTES = f"{data.ACTIVATION_BYTES:g}"


def auto_or_fraction() -> Rule:
    """'auto' (the default for the precision or the GPU) or a fraction above 0 and at most 1."""
    test = f'IF(ISNUMBER({{cell}}),AND({{cell}}>0,{{cell}}<=1),{{cell}}="{AUTO}")'
    return Rule("custom", f"{AUTO} or a fraction above 0 and at most 1", test, test)


def auto_or_positive(high: float) -> Rule:
    test = f'IF(ISNUMBER({{cell}}),AND({{cell}}>0,{{cell}}<={high:g}),{{cell}}="{AUTO}")'
    return Rule("custom", f"{AUTO} or a number above 0 and at most {high:,g}", test, test)


# ------------------------------------------------------------------------------------ formulas


def _cached(c: str) -> str:
    """Token-layers cached for one sequence of `c` tokens: windowed layers keep at most the window."""
    return (f"((out_layers-out_window_layers)*{c}+out_window_layers*IF(out_window_layers>0,"
            f"MIN({c},out_sliding_window),0))")


def _touched(tokens: str) -> str:
    """Routed experts per MoE layer that `tokens` tokens reach: E (1 - (1 - k/E)^tokens).

    The power stops at the tokens where it falls below e^-39 (1 - it is then 1 in floating point),
    as a spreadsheet's POWER underflows to an error where Python gives 0."""
    keep = "(1-out_experts_per_token/out_experts)"
    return (f"IF(out_is_moe,IF(out_experts_per_token>=out_experts,out_experts,"
            f"out_experts*(1-POWER({keep},MIN({tokens},-39/LN({keep}))))),0)")


def _weights_read(tokens: str, touched: str) -> str:
    """Weight bytes per GPU a forward pass over `tokens` tokens reads: the blocks' linear layers with
    only the experts touched, the input embedding's rows (all of it when tied to the head), the rest."""
    linear = (f"(out_p_attention+out_p_mlp-out_moe_layers*out_expert_params*out_experts"
              f"+out_moe_layers*out_expert_params*{touched})*out_bytes_quantized")
    rest = (f"(IF(out_tied_embeddings,out_p_embeddings,MIN({tokens},out_vocab)*out_hidden)+out_p_head"
            f"+MIN({tokens},out_max_positions)*out_hidden+out_p_router+out_p_norms)*out_bytes_other")
    return f"({linear}+{rest})/in_tp"


def _allreduce_s(tokens: str) -> str:
    """Seconds of a forward pass's all-reduces: 2 per layer, latency + ring 2 (tp-1)/tp of the activations."""
    return (f"IF(in_tp=1,0,2*out_layers*(in_allreduce_us*1E-6+2*(in_tp-1)/in_tp*{tokens}*out_hidden"
            f"*{_ACTIVATION_BYTES}/(out_link_gbs_used*1E9)))")


# ------------------------------------------------------------------------------------ sections


def _inputs(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("1. Inputs: the yellow cells")
    model_block.inputs(s, default=str(d["model"]))
    s.input("precision", "Weight precision", d["precision"], "",
            "format of the weights: int4, nf4 and fp4 quantize the blocks' linear layers (with their "
            "scales), embeddings, head and norms stay 16-bit", choice("prec_names", "a precision"), style.TEXT)
    s.input("kv_precision", "KV-cache precision", d["kv_precision"], "",
            f"format of the cached keys and values; {AUTO}: the weights' float format, bf16 for integer and "
            "weight-only formats (Serving by precision sheet)", choice("list_kv_precisions", "auto or a precision"),
            style.TEXT)
    s.input("gpu", "GPU type", d["gpu"], "", "accelerator, from the GPUs sheet", choice("gpu_names", "a GPU"),
            style.TEXT)
    s.input("tp", "GPUs per replica (tp)", d["tp"], "GPUs",
            "tensor parallelism: weights and KV heads split over the GPUs; must divide the attention heads",
            whole_between(1, 1024), style.COUNT)
    s.input("prompt_tokens", "Prompt tokens", d["prompt_tokens"], "tokens", "tokens in each request's prompt",
            whole_between(1, 10_000_000), style.COUNT)
    s.input("output_tokens", "Output tokens", d["output_tokens"], "tokens", "tokens generated per request",
            whole_between(1, 10_000_000), style.COUNT)
    s.input("batch", "Batch", d["batch"], "sequences",
            "sequences each replica decodes together (the plan runs the largest that fits when this one does not)",
            whole_between(1, 10_000_000), style.COUNT)
    s.input("qps", "Load", d["qps"], "requests/s", "requests arriving per second", positive(1e9), style.DECIMAL)
    s.input("ttft_target_s", "TTFT target", d["ttft_target_s"], "s",
            f"time to first token allowed; default: {data.TTFT_TARGET_S.cite()}", positive(86400),
            style.THREE_DECIMALS)
    s.input("tpot_target_ms", "TPOT target", d["tpot_target_ms"], "ms",
            f"time per output token allowed; default: {data.TPOT_TARGET_S.cite()}", positive(1e6), style.ONE_DECIMAL)
    s.input("target_utilization", "Target utilisation", d["target_utilization"], "fraction",
            "share of each replica's throughput to plan for; the rest is headroom", fraction(), style.PERCENT)
    s.input("usd_per_gpu_hour", "Price per GPU-hour", d["usd_per_gpu_hour"], "USD", "what one GPU-hour costs",
            positive(1000), style.USD_CENTS)
    _engine_inputs(s)


def _engine_inputs(s: PlanSheet) -> None:
    """What real engines reach and keep: defaults from data/serving.toml (Serving defaults sheet)."""
    d = DEFAULTS
    s.input("bandwidth_efficiency", "Bandwidth efficiency", d["bandwidth_efficiency"], "fraction",
            f"share of the datasheet bandwidth decode reaches (1 = pure roofline); default: "
            f"{data.BANDWIDTH_EFFICIENCY.cite()}", fraction(), style.PERCENT)
    s.input("compute_efficiency", "Decode compute efficiency", d["compute_efficiency"], "fraction",
            f"share of the dense peak compute-bound decode reaches; {AUTO}: by precision (Serving by precision "
            "sheet)", auto_or_fraction(), style.PERCENT)
    s.input("mfu", "Prefill efficiency (MFU)", d["mfu"], "fraction",
            f"share of the dense peak prefill reaches; {AUTO}: by precision (Serving by precision sheet)",
            auto_or_fraction(), style.PERCENT)
    s.input("memory_utilization", "Memory utilisation", d["memory_utilization"], "fraction",
            f"share of GPU memory the engine takes; default: {data.MEMORY_UTILIZATION.cite()}", fraction(),
            style.PERCENT)
    s.input("workspace_gb", "Engine workspace", d["workspace_gb"], "GB",
            f"per GPU, beside weights and KV cache (activations, CUDA graphs, buffers); default: "
            f"{data.WORKSPACE_GB.cite()}", non_negative_up_to(1000), style.DECIMAL)
    s.input("allreduce_us", "All-reduce latency", d["allreduce_us"], "us",
            f"fixed time of one tensor-parallel all-reduce; default: {data.ALLREDUCE_US.cite()}",
            non_negative_up_to(1e6), style.DECIMAL)
    s.input("link_gbs", "Link bandwidth", d["link_gbs"], "GB/s",
            f"per GPU and direction, for the all-reduces; {AUTO}: the GPU's intra-node link (Links sheet)",
            auto_or_positive(1e6), style.DECIMAL)


def _model(s: PlanSheet) -> None:
    s.section("2. The model")
    model_block.figures(s, FIGURES)


def _by_precision(column: str) -> str:
    return f"INDEX({column},MATCH(in_precision,srv_prec_names,0))"


def _auto(name: str, default: str) -> str:
    return f'IF(in_{name}="{AUTO}",{default},in_{name})'


def _settings(s: PlanSheet) -> None:
    s.section("3. Formats, GPU and efficiencies in use")
    s.step("kv_precision_used", "KV-cache precision", f"as given; {AUTO}: the weights' float format, bf16 for "
           "integer and weight-only formats", _auto("kv_precision", _by_precision("srv_kv_auto")), "",
           "the core's default rule", style.TEXT)
    s.step("bytes", "Bytes per weight", "bytes of one value in the weight precision (Precisions sheet)",
           ref.precision_bytes("in_precision"), "bytes", "", style.BYTES_EACH)
    s.step("scale_bits", "Scale bits per quantized weight", "extra bits of the format's scales (Serving by "
           "precision sheet)", _by_precision("srv_scale_bits"), "bits",
           readable(data.scale_bits(ref.PRECISIONS.get("precision", "int4")).source), "0.000")
    s.step("bytes_quantized", "Bytes per weight of the linear layers", "bytes + scale bits / 8 below 2 bytes",
           "IF(out_bytes>=2,out_bytes,out_bytes+out_scale_bits/8)", "bytes",
           "a sub-16-bit format quantizes the decoder blocks' linear layers", "0.000")
    s.step("bytes_other", "Bytes per other weight", "2 below 2 bytes (embeddings, head, norms stay bf16)",
           "IF(out_bytes>=2,out_bytes,2)", "bytes", readable(data.QUANTIZED_LAYERS_SOURCE), style.BYTES_EACH)
    s.step("kv_bytes", "Bytes per KV-cache value", "bytes of the KV-cache precision in use",
           ref.precision_bytes("out_kv_precision_used"), "bytes", "", style.BYTES_EACH)
    s.step("gpu_memory_gb", "GPU memory", "memory_gb of the GPU (GPUs sheet)", ref.gpu_figure("in_gpu", '"memory_gb"'),
           "GB", "capacity as printed on the datasheet", style.ONE_DECIMAL)
    s.step("bandwidth_tbs", "Memory bandwidth", "bandwidth_tbs of the GPU (GPUs sheet)",
           ref.gpu_figure("in_gpu", '"bandwidth_tbs"'), "TB/s", "datasheet figure", "0.000")
    peak = ref.gpu_figure("in_gpu", ref.peak_field("in_precision"))
    s.step("peak_tflops", "Dense peak", "the GPU's peak in the precision's peak field; blank when it publishes none",
           f'IF(N({peak})>0,{peak},"")', "TFLOP/s", "dense tensor-core peak", style.ONE_DECIMAL)
    s.step("compute_efficiency_used", "Decode compute efficiency", f"as given; {AUTO}: by precision",
           _auto("compute_efficiency", _by_precision("srv_compute_eff")), "fraction",
           readable(data.compute_efficiency(ref.PRECISIONS.get("precision", "fp8")).source), style.PERCENT)
    s.step("mfu_used", "Prefill efficiency (MFU)", f"as given; {AUTO}: by precision",
           _auto("mfu", _by_precision("srv_prefill_mfu")), "fraction",
           readable(data.prefill_mfu(ref.PRECISIONS.get("precision", "bf16")).source), style.PERCENT)
    s.step("link_gbs_used", "Link bandwidth", f"as given; {AUTO}: the GPU's intra-node link (0: none)",
           _auto("link_gbs", "N(INDEX(gpu_link_gbs,MATCH(in_gpu,gpu_link_gpus,0)))"), "GB/s",
           "per GPU and direction (Links sheet)", style.COUNT)
    s.step("config_ok", "Can this configuration run?", "a peak for the precision, tp dividing the heads, and a "
           "link when tp > 1", 'IF(NOT(ISNUMBER(out_peak_tflops)),"no",IF(MOD(out_heads,in_tp)<>0,"no",'
           'IF(AND(in_tp>1,out_link_gbs_used<=0),"no","yes")))', "",
           "serving engines split the heads evenly; the checks say what to change", style.TEXT)


def _memory(s: PlanSheet) -> None:
    spec = FUNCTIONS["MAX_BATCH"]
    s.section("4. Memory per GPU: the largest batch that fits")
    s.step("context", "Tokens per sequence at the end", "prompt tokens + output tokens",
           "in_prompt_tokens+in_output_tokens", "tokens", "every sequence of the batch may reach its final length "
           "(no preemption)", style.COUNT)
    s.step("weight_gb", "Weights", "linear layers x their bytes + the other weights x theirs (every expert)",
           "((out_p_attention+out_p_mlp)*out_bytes_quantized+(out_params-out_p_attention-out_p_mlp)*out_bytes_other)"
           "/1E9", "GB", "all experts of a mixture are held", style.DECIMAL, when=RUNS)
    s.step("weights_per_gpu_gb", "Weights per GPU", "weights / tp", "out_weight_gb/in_tp", "GB", "", style.DECIMAL,
           key=True)
    s.step("usable_gb", "Usable memory per GPU", "GPU memory x memory utilisation - workspace",
           "out_gpu_memory_gb*in_memory_utilization-in_workspace_gb", "GB", "", style.DECIMAL, when=RUNS)
    s.step("room_gb", "Room for the KV cache", "usable - weights per GPU", "out_usable_gb-out_weights_per_gpu_gb",
           "GB", "negative: the weights alone do not fit", style.DECIMAL)
    s.step("kv_share", "Share of the KV cache per GPU", "ceiling(KV heads / tp) / KV heads; MLA: 1",
           "IF(out_is_mla,1,ROUNDUP(out_kv_heads/in_tp,0)/out_kv_heads)", "", "KV heads tp does not divide are "
           "replicated (vLLM, TensorRT-LLM); an MLA latent is whole on every GPU", "0.000", when=RUNS)
    s.step("kv_per_seq_gb", "KV cache per sequence per GPU",
           "cached token-layers (windows applied) x KV values per token and layer x bytes x share",
           f"{_cached('out_context')}*out_kv_values_layer*out_kv_bytes*out_kv_share/1E9", "GB",
           "Same as KV_CACHE, per GPU", "0.0000")
    s.step("max_batch", "Largest batch that fits", "room / KV cache per sequence, rounded down (0 if no room)",
           "IF(out_room_gb<0,0,INT(out_room_gb/out_kv_per_seq_gb*(1+1E-12)))", "sequences",
           f"Same as MAX_BATCH. {readable(spec.source)}", style.COUNT, key=True)
    s.step("run_batch", "Batch that runs", "the chosen batch, or the largest that fits when it does not",
           "MIN(in_batch,out_max_batch)", "sequences", "every result below uses this batch", style.COUNT, key=True,
           when=FITS)
    s.step("memory_gb", "Memory per GPU at the batch", "weights per GPU + batch x KV cache per sequence",
           "out_weights_per_gpu_gb+out_run_batch*out_kv_per_seq_gb", "GB", "within the usable memory",
           style.DECIMAL, key=True)


def _decode(s: PlanSheet) -> None:
    spec = FUNCTIONS["DECODE_TPS"]
    s.section("5. Decode: time per output token at the batch that runs")
    s.step("experts_touched", "Experts read per MoE layer", "experts x (1 - (1 - per token / experts)^batch)",
           _touched("out_run_batch"), "experts", "routing uniform and independent (Fedus et al. 2022, section "
           "2.2); 0 for a dense model", style.DECIMAL)
    s.step("weights_read_gb", "Weights read per GPU", "linear layers with the experts touched, the embedding "
           "rows of the batch, head, norms; / tp", f"{_weights_read('out_run_batch', 'out_experts_touched')}/1E9",
           "GB", "decode streams the weights each step (Pope et al. 2022, section 3.1)", style.DECIMAL)
    s.step("kv_read_gb", "KV cache read per GPU", "batch x KV cache per sequence per GPU",
           "out_run_batch*out_kv_per_seq_gb", "GB", "each sequence at its final length: the slowest step",
           style.DECIMAL)
    s.step("memory_ms", "Memory time", "(weights + KV cache read) / (bandwidth x bandwidth efficiency)",
           "(out_weights_read_gb+out_kv_read_gb)/(out_bandwidth_tbs*in_bandwidth_efficiency)", "ms",
           "GB / (TB/s) = ms", style.DECIMAL)
    s.step("attention_flops", "Attention FLOPs per token", "2 x heads x (q/k + value width) x cached token-layers",
           f"2*out_heads*(out_qk_width+out_v_width)*{_cached('out_context')}", "FLOP",
           "scores and weighted sum over the context", style.SCIENTIFIC, when=FITS)
    s.step("flops", "FLOPs per GPU", "batch x (2 x active parameters + attention FLOPs) / tp",
           "out_run_batch*(2*out_active_params+out_attention_flops)/in_tp", "FLOP", "", style.SCIENTIFIC)
    s.step("compute_ms", "Compute time", "FLOPs / (peak x decode compute efficiency)",
           "out_flops/(out_peak_tflops*out_compute_efficiency_used)/1E9", "ms", "", style.DECIMAL)
    s.step("allreduce_ms", "All-reduce time", "2 x layers x (latency + 2 (tp-1)/tp x batch x hidden x 2 bytes / "
           "link); 0 at tp 1", f"{_allreduce_s('out_run_batch')}*1000", "ms", "Shoeybi et al. 2019, section 3",
           style.DECIMAL)
    s.step("bound", "Bound by", "the longer of memory and compute time", 'IF(out_memory_ms>=out_compute_ms,'
           '"memory bandwidth","compute")', "", "", style.TEXT)
    s.step("tpot_ms", "Time per output token (TPOT)", "max(memory, compute) + all-reduces",
           "MAX(out_memory_ms,out_compute_ms)+out_allreduce_ms", "ms", f"Same as TPOT. {readable(spec.source)}",
           style.DECIMAL, key=True)
    s.step("decode_tps", "Decode throughput per replica", "batch / TPOT", "out_run_batch/out_tpot_ms*1000",
           "tokens/s", "Same as DECODE_TPS", style.COUNT, key=True)
    s.step("tps_per_gpu", "Tokens/s per GPU", "decode throughput / tp", "out_decode_tps/in_tp", "tokens/s", "",
           style.COUNT)
    s.step("user_tps", "Speed each user sees", "1 / TPOT", "1000/out_tpot_ms", "tokens/s", "", style.ONE_DECIMAL)


def _prefill(s: PlanSheet) -> None:
    spec = FUNCTIONS["PREFILL_TIME"]
    n, w = "in_prompt_tokens", "out_sliding_window"
    full = f"{n}*({n}+1)/2"
    windowed = f"IF({n}<={w},{full},{w}*({w}+1)/2+({n}-{w})*{w})"
    s.section("6. Prefill: time to first token")
    s.step("prefill_linear_flops", "Linear FLOPs", "2 x active parameters x prompt tokens",
           "2*out_active_params*in_prompt_tokens", "FLOP", "", style.SCIENTIFIC, when=FITS)
    # Causal attention: token i attends to i tokens, a windowed layer to at most the window.
    s.step("prefill_attention_flops", "Attention FLOPs", "2 x heads x (q/k + value width) x attended pairs "
           "(causal, windows applied)", f"2*out_heads*(out_qk_width+out_v_width)*((out_layers-out_window_layers)"
           f"*{full}+out_window_layers*IF(out_window_layers>0,{windowed},0))", "FLOP",
           "the masked half is skipped (Dao 2023, section 3)", style.SCIENTIFIC, when=FITS)
    rate = "(in_tp*out_peak_tflops*1E12*out_mfu_used)"
    s.step("prefill_linear_s", "Linear layers", "linear FLOPs / (tp x peak x MFU)",
           f"out_prefill_linear_flops/{rate}", "s", "", style.THREE_DECIMALS)
    s.step("prefill_attention_s", "Attention", "attention FLOPs / (tp x peak x MFU)",
           f"out_prefill_attention_flops/{rate}", "s", "", style.THREE_DECIMALS)
    s.step("prefill_weights_s", "Reading the weights once", "weights the prompt touches per GPU / bandwidth reached",
           f"{_weights_read(n, _touched(n))}/(out_bandwidth_tbs*1E12*in_bandwidth_efficiency)", "s",
           "the floor for short prompts", style.THREE_DECIMALS, when=FITS)
    s.step("prefill_waiting_s", "Waiting on weight reads", "reading beyond the compute time",
           "MAX(0,out_prefill_weights_s-out_prefill_linear_s-out_prefill_attention_s)", "s", "", style.THREE_DECIMALS)
    s.step("prefill_allreduce_s", "All-reduces", "as in decode, over the prompt's tokens", _allreduce_s(n), "s", "",
           style.THREE_DECIMALS, when=FITS)
    s.step("ttft_s", "Time to first token (TTFT)", "linear + attention + waiting + all-reduces",
           "out_prefill_linear_s+out_prefill_attention_s+out_prefill_waiting_s+out_prefill_allreduce_s", "s",
           f"Same as PREFILL_TIME and TTFT: one prompt on an idle replica. {readable(spec.source)}",
           style.THREE_DECIMALS, key=True)


def _targets_and_fleet(s: PlanSheet) -> None:
    s.section("7. Targets, replicas and cost")
    s.step("ttft_met", "Meets the TTFT target?", "TTFT <= target", 'IF(out_ttft_s<=in_ttft_target_s,"yes","no")',
           "", "", style.TEXT)
    s.step("tpot_met", "Meets the TPOT target?", "TPOT <= target", 'IF(out_tpot_ms<=in_tpot_target_ms,"yes","no")',
           "", "a TPOT over target: a smaller batch, more tp or a smaller precision", style.TEXT)
    s.step("demand_tps", "Tokens to generate", "load x output tokens", "in_qps*in_output_tokens", "tokens/s",
           "generated tokens; prompts ride along", style.COUNT, when=FITS)
    s.step("replicas", "Replicas", "tokens to generate / (decode throughput x target utilisation), rounded up",
           "ROUNDUP(out_demand_tps/(out_decode_tps*in_target_utilization)*(1-1E-12),0)", "replicas",
           f"Same as SERVING_GPUS per replica, at the batch that runs (SERVING_PLAN instead searches for the "
           f"largest batch that meets the TPOT target). {readable(FUNCTIONS['SERVING_GPUS'].source)}", style.COUNT,
           key=True)
    s.step("gpus", "GPUs", "replicas x tp", "out_replicas*in_tp", "GPUs", "", style.COUNT, key=True)
    s.step("cost_per_hour", "Fleet cost per hour", "GPUs x price per GPU-hour", "out_gpus*in_usd_per_gpu_hour",
           "USD/h", "", style.USD_CENTS)
    s.step("cost_per_million", "Cost per million tokens", "cost per hour / generated tokens per hour x 1,000,000",
           "out_cost_per_hour/(out_demand_tps*3600)*1000000", "USD", "as SERVING_PLAN: the fleet at the load, "
           "headroom included", style.USD_CENTS, key=True)


def _fits_message() -> str:
    """Why no sequence fits, and what would: more tp, a smaller precision, fewer tokens."""
    too_big = ('"weights need "&TEXT(out_weights_per_gpu_gb,"0.0")&" GB per GPU at tp "&in_tp&", "'
               '&TEXT(out_usable_gb,"0.0")&" GB usable: tp of at least "&ROUNDUP(out_weight_gb/out_usable_gb,0)'
               '&" (dividing the "&out_heads&" heads), a smaller precision or a larger GPU"')
    no_room = ('"one sequence of "&out_context&" tokens needs "&TEXT(out_kv_per_seq_gb,"0.000")&" GB of KV cache '
               'per GPU, "&TEXT(out_room_gb,"0.000")&" GB are left: fewer tokens, an fp8 KV cache or more tp"')
    no_memory = '"no usable memory: raise the memory utilisation or lower the workspace"'
    return (f'IF(out_max_batch>=1,"OK",IF(out_usable_gb<=0,{no_memory},'
            f"IF(out_weights_per_gpu_gb>out_usable_gb,{too_big},{no_room})))")


def _checks(s: PlanSheet) -> None:
    s.section("8. Checks")
    model_block.checks(s)
    s.check("check_peak", "Peak published?", "the GPU must publish a peak for the precision",
            f'IF(ISNUMBER(out_peak_tflops),"OK",in_gpu&" publishes no "&{ref.peak_field("in_precision")}&" peak: '
            f'pick another precision or GPU")', "DECODE_TPS refuses the same combination")
    s.check("check_tp", "tp possible?", "tp divides the attention heads; tp > 1 needs a link",
            'IF(MOD(out_heads,in_tp)<>0,"tp "&in_tp&" does not divide the "&out_heads&" attention heads: choose a '
            'divisor",IF(AND(in_tp>1,out_link_gbs_used<=0),in_gpu&" has no intra-node link: give the link '
            'bandwidth to use tp above 1","OK"))')
    s.check("check_fits", "Fits in memory?", "weights and one sequence within the usable memory per GPU",
            _fits_message(), not_run=NOT_RUN)
    s.check("check_batch", "Batch fits?", "the chosen batch within the largest that fits",
            'IF(in_batch<=out_max_batch,"OK",IF(out_max_batch>=1,"batch "&in_batch&" does not fit: the plan runs "&'
            'out_max_batch&", the largest that fits","no batch fits (see Fits in memory?)"))', not_run=NOT_RUN)
    s.check("check_ttft", "TTFT target met?", "time to first token within the target",
            'IF(out_ttft_met="yes","OK","a prompt takes "&TEXT(out_ttft_s,"0.000")&" s to prefill, over the "&'
            'TEXT(in_ttft_target_s,"0.000")&" s target: raise tp, shorten the prompt or relax the target")',
            not_run=NOT_RUN)
    s.check("check_tpot", "TPOT target met?", "time per output token within the target",
            'IF(out_tpot_met="yes","OK","at batch "&out_run_batch&" a token takes "&TEXT(out_tpot_ms,"0.0")&" ms, '
            'over the "&TEXT(in_tpot_target_ms,"0.0")&" ms target: lower the batch, raise tp or choose a smaller '
            'precision")', not_run=NOT_RUN)
    s.checks()


_CHART_ROWS = (
    ("Weights per GPU", "out_weights_per_gpu_gb"),
    ("KV cache at the batch that runs", "out_run_batch*out_kv_per_seq_gb"),
    ("Memory per GPU at the batch", "out_memory_gb"),
    ("Usable memory per GPU", "out_usable_gb"),
    ("GPU memory", "out_gpu_memory_gb"),
)


def build() -> Workbook:
    s = PlanSheet.in_new_workbook("Serving plan", TITLE, "How large a batch fits, how fast is each token, how many "
                                  "GPUs does this load need, and what does a million tokens cost?",
                                  style.HOW_TO_WITH_LISTS)
    _inputs(s)
    _model(s)
    _settings(s)
    _memory(s)
    _decode(s)
    _prefill(s)
    _targets_and_fleet(s)
    _checks(s)
    s.bar_chart("9. Memory on one GPU at a glance", "Memory on one GPU (GB)", _CHART_ROWS, "GB")
    ref.add_reference_sheets(s.wb, ("precisions", "gpus", "models", "model_figures", "lists"))
    tables.add_sheets(s.wb)
    return s.wb
