"""Workbook 1, the LLM training plan: does it fit, how long, how much.

Model states per GPU (TRAIN_MEM with ZeRO), activations (ACTIVATION_MEM, Korthikanti et
al.), the fit against the GPU's memory, then 6PD compute (P = active parameters, so a
mixture of experts counts only its routed experts), days, GPU-hours, cost and the
Chinchilla-optimal token count, all with standard spreadsheet functions.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.registry import FUNCTIONS
from envelope_xl.sources import readable
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style
from envelope_xl.templates.style import PlanSheet, choice, fraction, positive, whole_at_least, whole_between

FILENAME = "llm_training_plan.xlsx"
TITLE = "LLM training plan"
DESCRIPTION = "Memory per GPU, training time, GPU-hours and cost of training a language model."

#: Default inputs: Llama 3 8B on 2T tokens over 512 H100s.
DEFAULTS = {
    "model": "llama-3-8b",
    "params_custom": 7e9,
    "layers_custom": 32,
    "hidden_custom": 4096,
    "heads_custom": 32,
    "precision": "bf16",
    "optimizer": "adam",
    "zero_stage": 1,
    "tokens": 2e12,
    "gpu": "H100-SXM",
    "gpus": 512,
    "mfu": 0.4,
    "seq_len": 4096,
    "micro_batch": 1,
    "recompute": "selective",
    "usd_per_gpu_hour": 2.5,
}

_CUSTOM = f'in_model="{ref.CUSTOM_MODEL}"'
_PRESET = f'in_model<>"{ref.CUSTOM_MODEL}"'
_GB = 1e9


def _inputs(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("1. Inputs: the yellow cells")
    s.input("model", "Model", d["model"], "",
            "a preset (architecture on the Models sheet) or 'custom' to use the four custom cells below",
            choice("list_models", "a model preset or custom"), style.TEXT)
    s.input("params_custom", "Custom: parameters", d["params_custom"], "parameters",
            "parameter count when Model is 'custom' (e.g. 7e9); ignored for a preset", positive(1e14),
            style.COUNT, unused_when=_PRESET)
    s.input("layers_custom", "Custom: layers", d["layers_custom"], "layers",
            "transformer blocks when Model is 'custom'", whole_at_least(1, 1000), style.COUNT, unused_when=_PRESET)
    s.input("hidden_custom", "Custom: hidden width", d["hidden_custom"], "",
            "model (residual) width when Model is 'custom'", whole_at_least(1, 1_000_000), style.COUNT,
            unused_when=_PRESET)
    s.input("heads_custom", "Custom: attention heads", d["heads_custom"], "heads",
            "attention heads when Model is 'custom'", whole_at_least(1, 10_000), style.COUNT, unused_when=_PRESET)
    s.input("precision", "Training precision", d["precision"], "",
            "format of weights, gradients and matmuls; below fp32 an fp32 master copy is added",
            choice("list_train_precisions", "a trainable precision"), style.TEXT)
    s.input("optimizer", "Optimizer", d["optimizer"], "", "optimizer whose state is kept per parameter",
            choice("opt_names", "an optimizer"), style.TEXT)
    s.input("zero_stage", "ZeRO stage", d["zero_stage"], "stage",
            "0 none; 1 shards optimizer states and master weights; 2 also gradients; 3 also weights",
            whole_between(0, 3), style.COUNT)
    s.input("tokens", "Training tokens", d["tokens"], "tokens", "tokens seen during training (e.g. 2e12)",
            positive(1e16), style.COUNT)
    s.input("gpu", "GPU type", d["gpu"], "", "accelerator, from the GPUs sheet", choice("gpu_names", "a GPU"),
            style.TEXT)
    s.input("gpus", "GPU count", d["gpus"], "GPUs", "GPUs training together (data parallel; ZeRO shards over them)",
            whole_at_least(1, 1_000_000), style.COUNT)
    s.input("mfu", "MFU", d["mfu"], "fraction", "model FLOPs utilisation: share of dense peak achieved",
            fraction(), style.PERCENT)
    s.input("seq_len", "Sequence length", d["seq_len"], "tokens", "tokens per training sequence",
            whole_at_least(1, 10_000_000), style.COUNT)
    s.input("micro_batch", "Micro-batch", d["micro_batch"], "sequences",
            "sequences per micro-batch on one GPU", whole_at_least(1, 10_000), style.COUNT)
    s.input("recompute", "Recomputation", d["recompute"], "",
            "activation recomputation: none, selective (attention) or full", choice("list_recompute", "a strategy"),
            style.TEXT)
    s.input("usd_per_gpu_hour", "Price per GPU-hour", d["usd_per_gpu_hour"], "USD", "what one GPU-hour costs",
            positive(1000), style.USD_CENTS)


def _model(s: PlanSheet) -> None:
    s.section("2. The model")
    s.step("params", "Parameters (total)", "preset: computed from its architecture (Models sheet); custom: as given",
           f"IF({_CUSTOM},in_params_custom,{ref.preset_params('in_model')})", "parameters",
           "MODEL_PARAMS: embeddings, attention, MLP, norms, all experts of a mixture. Sets the memory",
           style.COUNT, key=True)
    s.step("active_params", "Active parameters per token",
           "total - (experts - experts per token) x layers x one expert's MLP (Models sheet); custom: = total",
           f"IF({_CUSTOM},out_params,{ref.preset_params('in_model', active=True)})", "parameters",
           "MODEL_PARAMS(model, TRUE): sets the compute. Only the routed experts' MLPs run per token (Mixtral: "
           "47B total, 13B active, Jiang et al. 2024). Custom: taken as dense", style.COUNT, key=True)
    for field, label in (("layers", "Layers"), ("hidden", "Hidden width"), ("heads", "Attention heads")):
        s.step(field, label, f"preset: {field} from the Models sheet; custom: as given",
               f"IF({_CUSTOM},in_{field}_custom,{ref.model_figure('in_model', field)})", "",
               "used for activation memory", style.COUNT)


def _model_states(s: PlanSheet) -> None:
    spec = FUNCTIONS["TRAIN_MEM"]
    s.section("3. Model states per GPU (weights, gradients, master weights, optimizer)")
    s.step("bytes", "Bytes per value", "bytes of one value in the training precision (Precisions sheet)",
           ref.precision_bytes("in_precision"), "bytes", "weights and gradients are both kept in this precision",
           style.BYTES_EACH)
    s.step("optimizer_bytes", "Optimizer state per parameter", "state bytes of the optimizer (Optimizers sheet)",
           ref.optimizer_bytes("in_optimizer"), "bytes", "Adam keeps m and v in fp32: 4 + 4 bytes", style.BYTES_EACH)
    s.step("master_bytes", "fp32 master copy per parameter", "4 bytes when the precision is below 4 bytes, else 0",
           "IF(out_bytes<4,4,0)", "bytes", "mixed precision keeps an fp32 master copy (Micikevicius et al. 2018)",
           style.BYTES_EACH)
    s.step("weights_gb", "Weights", spec.steps[0].formula, "out_params*out_bytes/IF(in_zero_stage>=3,in_gpus,1)/1e9",
           "GB", "ZeRO-3 shards the weights over the GPUs")
    s.step("gradients_gb", "Gradients", spec.steps[1].formula,
           "out_params*out_bytes/IF(in_zero_stage>=2,in_gpus,1)/1e9", "GB", "ZeRO-2 and 3 shard the gradients")
    s.step("master_gb", "fp32 master weights", spec.steps[2].formula,
           "out_params*out_master_bytes/IF(in_zero_stage>=1,in_gpus,1)/1e9", "GB",
           "ZeRO-1 and up shard the master copy with the optimizer states")
    s.step("optimizer_gb", "Optimizer states", spec.steps[3].formula,
           "out_params*out_optimizer_bytes/IF(in_zero_stage>=1,in_gpus,1)/1e9", "GB",
           "ZeRO-1 and up shard the optimizer states")
    s.step("model_states_gb", "Model states per GPU", "weights + gradients + master weights + optimizer states",
           "out_weights_gb+out_gradients_gb+out_master_gb+out_optimizer_gb", "GB",
           f"Same as TRAIN_MEM. {readable(spec.source)}", key=True)


def _activations(s: PlanSheet) -> None:
    spec = FUNCTIONS["ACTIVATION_MEM"]
    sbh = "in_seq_len*in_micro_batch*out_hidden"
    full, none = 'in_recompute="full"', 'in_recompute="none"'
    s.section("4. Activations per GPU (one micro-batch)")
    s.step("act_attention_gb", "Attention activations", "layers x (11 s b h + 5 a s² b); the s² term is "
           "recomputed when selective; 0 with full recomputation",
           f"IF({full},0,out_layers*({sbh}*11+IF({none},5*out_heads*in_seq_len^2*in_micro_batch,0)))/1e9", "GB",
           "16-bit activations, 1-byte dropout masks, no tensor parallelism (tp = 1)")
    s.step("act_mlp_gb", "MLP activations", "layers x 19 s b h (0 with full recomputation)",
           f"IF({full},0,out_layers*{sbh}*19)/1e9", "GB", "Korthikanti et al. 2022, section 4.1")
    s.step("act_norms_gb", "Layer-norm activations", "layers x 4 s b h (0 with full recomputation)",
           f"IF({full},0,out_layers*4*{sbh})/1e9", "GB", "two norms per layer, 2 s b h each")
    s.step("act_inputs_gb", "Layer inputs kept (full recomputation)", "layers x 2 s b h with full recomputation",
           f"IF({full},out_layers*2*{sbh},0)/1e9", "GB", "full recomputation keeps only each layer's input")
    s.step("activation_gb", "Activations per GPU", "sum of the four rows above",
           "out_act_attention_gb+out_act_mlp_gb+out_act_norms_gb+out_act_inputs_gb", "GB",
           f"Same as ACTIVATION_MEM. Embeddings and logits not included. {readable(spec.source)}", key=True)


def _fit(s: PlanSheet) -> None:
    s.section("5. Does it fit?")
    s.step("total_gb", "Memory needed per GPU", "model states + activations", "out_model_states_gb+out_activation_gb",
           "GB", "no allowance for framework buffers, fragmentation or communication (often 5-10 GB more)", key=True)
    s.step("gpu_memory_gb", "GPU memory", "memory_gb of the GPU (GPUs sheet)",
           ref.gpu_figure("in_gpu", '"memory_gb"'), "GB", "capacity as printed on the datasheet", style.ONE_DECIMAL)
    s.step("margin_gb", "Margin", "GPU memory - memory needed (negative: it does not fit)",
           "out_gpu_memory_gb-out_total_gb", "GB", "keep a few GB spare in practice")
    s.step("fits", "Fits on the GPU?", "yes when the margin is >= 0", 'IF(out_margin_gb>=0,"yes","no")', "",
           "if not: a higher ZeRO stage, more GPUs, recomputation or a smaller micro-batch", style.TEXT, key=True)


def _compute(s: PlanSheet) -> None:
    time_spec = FUNCTIONS["TRAIN_TIME"]
    s.section("6. Compute, time and cost")
    s.step("train_flops", "Training compute",
           "6 x active parameters x tokens (forward 2, backward 4 per parameter-token)",
           "6*out_active_params*in_tokens", "FLOP", readable(FUNCTIONS["TRAIN_FLOPS"].source), style.SCIENTIFIC)
    peak = ref.gpu_figure("in_gpu", ref.peak_field("in_precision"))
    s.step("peak_tflops", "Dense peak per GPU", "the GPU's peak in the precision's peak field (Precisions sheet)",
           f"IF({peak}>0,{peak},NA())", "TFLOP/s", "dense tensor-core peak; #N/A when the GPU publishes none",
           style.ONE_DECIMAL)
    s.step("cluster_flops", "Cluster throughput achieved", "GPUs x peak x MFU",
           "in_gpus*out_peak_tflops*1e12*in_mfu", "FLOP/s", time_spec.assumptions[1], style.SCIENTIFIC)
    s.step("train_days", "Training time", "compute / cluster throughput / 86,400 s per day",
           "out_train_flops/out_cluster_flops/86400", "days", f"Same as TRAIN_TIME; no restarts or stragglers. "
           f"{readable(time_spec.source)}", style.ONE_DECIMAL, key=True)
    s.step("gpu_hours", "GPU-hours", "compute / (peak x MFU) / 3,600 s per hour",
           "out_train_flops/(out_peak_tflops*1e12*in_mfu)/3600", "GPU-hours", "Same as GPU_HOURS", style.COUNT,
           key=True)
    s.step("cost_usd", "Cost", "GPU-hours x price per GPU-hour", "out_gpu_hours*in_usd_per_gpu_hour", "USD",
           "Same as TRAIN_COST; every GPU-hour billed, no storage or network charges", style.USD, key=True)
    s.step("chinchilla_tokens", "Chinchilla-optimal tokens", "20 x total parameters", "20*out_params", "tokens",
           "Hoffmann et al. 2022, Table 3, fitted on dense models; a mixture uses its total, the capacity "
           "trained (each expert sees a share of the tokens): a rough guide", style.COUNT)
    s.step("tokens_vs_chinchilla", "Chosen tokens vs Chinchilla", "training tokens / Chinchilla-optimal tokens",
           "in_tokens/out_chinchilla_tokens", "x", "above 1: trained past compute-optimal (cheaper to serve)",
           style.DECIMAL)


def _checks(s: PlanSheet) -> None:
    s.section("7. Checks")
    s.check("check_peak", "Peak published?", "the GPU must publish a peak for the precision",
            f'IF(ISNA(out_peak_tflops),in_gpu&" publishes no "&{ref.peak_field("in_precision")}&" peak: pick '
            f'another precision or GPU","OK")', "TRAIN_TIME refuses the same combination")
    s.check("check_fit", "Memory fits?", "model states + activations within GPU memory",
            'IF(out_fits="yes","OK","does not fit: raise the ZeRO stage or GPU count, recompute, or shrink the '
            'micro-batch")')
    s.checks()


#: The bars of the memory chart: (label, output name).
_CHART_ROWS = (
    ("Weights", "out_weights_gb"),
    ("Gradients", "out_gradients_gb"),
    ("fp32 master weights", "out_master_gb"),
    ("Optimizer states", "out_optimizer_gb"),
    ("Activations", "out_activation_gb"),
    ("Needed per GPU", "out_total_gb"),
    ("GPU memory", "out_gpu_memory_gb"),
)


def build() -> Workbook:
    s = PlanSheet.in_new_workbook("Training plan", TITLE, "Does the model fit on the GPUs, and how long and how "
                                  "much will training take?", style.HOW_TO_WITH_LISTS)
    wb = s.wb
    _inputs(s)
    _model(s)
    _model_states(s)
    _activations(s)
    _fit(s)
    _compute(s)
    _checks(s)
    s.bar_chart("8. Memory per GPU at a glance", "Memory per GPU (GB)", _CHART_ROWS, "GB")
    ref.add_reference_sheets(wb, ("precisions", "optimizers", "gpus", "models", "lists"))
    return wb
