"""Workbook 1, the LLM training plan: does a layout fit, how long is a step, how long and how much.

For a chosen layout (tp x pp x dp = GPUs), the peak memory per GPU as TRAIN_PEAK_MEM counts
it (model states under ZeRO, tensor and pipeline parallelism; activations sized to the
architecture, FlashAttention or eager, sequence parallelism, 1F1B micro-batches in flight;
logits, transients, framework reserve, optimizer offload), on the first and the last pipeline
stage; the step time as TRAIN_STEP_TIME counts it (compute at an efficiency, tensor- and
data-parallel communication over the links, pipeline bubble, overlap) and the MFU it implies;
then goodput (GOODPUT: interruptions, checkpoint writes, restarts), training days, GPU-hours
and cost. All with standard spreadsheet functions; data from the reference sheets.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.core.activations import ACT_BYTES, GATED_MLP_VALUES, LSE_BYTES, MASK_BYTES, PLAIN_MLP_VALUES
from envelope_xl.core.cluster import COMPUTE_EFFICIENCY, TP_ALLREDUCES
from envelope_xl.core.reliability import GPU_MTBF_HOURS, MIN_GOODPUT
from envelope_xl.reference import CLUSTER, TRAINING
from envelope_xl.registry import FUNCTIONS
from envelope_xl.sources import brief
from envelope_xl.templates import model_block, style
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import training_tables as tables
from envelope_xl.templates.style import (
    PlanSheet,
    between,
    choice,
    fraction,
    positive,
    whole_at_least,
    whole_between,
)

FILENAME = "llm_training_plan.xlsx"
TITLE = "LLM training plan"
DESCRIPTION = ("Peak memory per GPU, step time, goodput, training time, GPU-hours and cost of training a language "
               "model on a chosen tensor x pipeline x data parallel layout.")

#: Default inputs: Llama 3 8B on 2T tokens over 512 H100s, data parallel with ZeRO-1.
DEFAULTS = {
    "model": "llama-3-8b",
    **model_block.INPUT_DEFAULTS,
    "precision": "bf16",
    "optimizer": "adam",
    "zero_stage": 1,
    "offload": "none",
    "method": "full",
    "lora_rank": TRAINING.lora_rank,
    "lora_targets": "all",
    "gpu": "H100-SXM",
    "gpus": 512,
    "tp": 1,
    "pp": 1,
    "sp": True,
    "attention": "flash",
    "recompute": "selective",
    "seq_len": 4096,
    "micro_batch": 1,
    "global_batch": 1024,
    "logit_bytes": TRAINING.logit_bytes,
    "compute_efficiency": COMPUTE_EFFICIENCY,
    "overlap": 0.0,
    "gpus_per_node": 8,
    "intra_link": tables.GPU_OWN_LINK,
    "inter_link": "ib-ndr",
    "tokens": 2e12,
    "gpu_mtbf_hours": GPU_MTBF_HOURS,
    "checkpoint_write_gbs": 100.0,
    "restart_s": 600.0,
    "usd_per_gpu_hour": 2.5,
}

# Conditions, as formulas over the inputs and the model's figures.
_FULL = 'in_recompute="full"'
_OFF_OPT = 'in_offload<>"none"'
_OFF_PARAMS = 'in_offload="optimizer+params"'
_FULL_TRAINING, _QLORA = 'in_method="full"', 'in_method="qlora"'
_FINE_TUNING = 'in_method<>"full"'
_KV_HEADS = "IF(out_is_mla,out_heads,out_kv_heads)"  # MLA keeps a K and V per query head
#: The layout TRAIN_PEAK_MEM accepts: tp x pp divides the GPUs, whole layers per stage, whole
#: heads per tensor-parallel rank, and offload with the ZeRO stage it needs.
_MEMORY_RUNS = (
    "AND(MOD(in_gpus,in_tp*in_pp)=0,in_pp<=out_layers,MOD(out_heads,in_tp)=0,"
    f"IF({_KV_HEADS}>=in_tp,MOD({_KV_HEADS},in_tp)=0,MOD(in_tp,{_KV_HEADS})=0),"
    f'OR(in_offload="none",in_zero_stage>=1),OR(NOT({_OFF_PARAMS}),in_zero_stage=3))'
)
_FITS = "out_peak_gb<=out_gpu_memory_gb"
_ADAM = ref.optimizer_bytes('"adam"')
#: What TRAIN_STEP_TIME asks on top: equal stages, tensor-parallel groups that do not straddle
#: nodes unevenly, a global batch of whole micro-batches, a peak for the precision, a link inside
#: the node, and its own model-state check (Adam over params / (tp x pp)).
_PEAK = ref.gpu_figure("in_gpu", ref.peak_field("in_precision"))
_STEP_RUNS = (
    f"AND({_FULL_TRAINING},MOD(out_layers,in_pp)=0,OR(MOD(in_gpus_per_node,in_tp)=0,MOD(in_tp,in_gpus_per_node)=0),"
    f'MOD(in_global_batch,in_micro_batch*out_dp)=0,{_PEAK}>0,out_intra_link<>"",'
    "out_step_states_gb<=out_gpu_memory_gb)"
)
_STEP_OK = f"AND({_STEP_RUNS},{_FITS})"
_HAS_LINK = 'out_intra_link<>""'
#: The note of a headline: the catalog function it equals, whose entry lists every source.
_SAME = "Same as {0}; its sources: envelope-xl explain {0}"
SHARE = "0.00%"  # shares of the wall time: 99.58%, 0.13%
NOT_RUN = "not checked: the layout cannot run (see the layout check)"
NO_STEP = "not checked: the step cannot run (see the checks above)"
NO_STATES = "not checked: full training on a layout that runs only"


def _safe(condition: str) -> str:
    """A condition that is FALSE, not an error, while a figure it reads is blank (a `when` is
    evaluated beside the input checks, before they can stop it)."""
    return f"IFERROR({condition},FALSE)"


def _inputs(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("1. Inputs: the yellow cells")
    model_block.inputs(s, d["model"])
    s.input("precision", "Training precision", d["precision"], "",
            "format of weights, gradients and matmuls; below fp32 an fp32 master copy is added",
            choice("list_train_precisions", "a trainable precision"), style.TEXT)
    s.input("optimizer", "Optimizer", d["optimizer"], "", "optimizer whose state is kept per parameter",
            choice("opt_names", "an optimizer"), style.TEXT)
    s.input("zero_stage", "ZeRO stage", d["zero_stage"], "stage",
            "0 none; 1 shards optimizer states and master weights over the data-parallel GPUs; 2 also gradients; "
            "3 also weights", whole_between(0, 3), style.COUNT)
    s.input("offload", "Offload to the host", d["offload"], "",
            "none; optimizer (ZeRO-Offload: gradients, master weights, optimizer states, needs ZeRO 1+); "
            "optimizer+params (ZeRO-Infinity: the weights too, needs ZeRO 3)", choice("list_offload", "an offload"),
            style.TEXT)
    s.input("method", "Training method", d["method"], "", "full (every weight trained), lora (frozen base, "
            "adapters trained) or qlora (the base's linear layers in nf4)", choice("list_methods", "a method"),
            style.TEXT)
    s.input("lora_rank", "LoRA rank", d["lora_rank"], "", f"rank r of each adapter; default: PEFT's "
            f"({brief(TRAINING.lora_source)})", whole_between(1, 100_000), style.COUNT, unused_when=_FULL_TRAINING)
    s.input("lora_targets", "LoRA targets", d["lora_targets"], "", "the linear layers adapted: all, attention "
            "(q, k, v, o), mlp (gate, up, down) or a list (Training lists sheet)",
            choice("list_lora_targets", "a target set"), style.TEXT, unused_when=_FULL_TRAINING)
    s.input("gpu", "GPU type", d["gpu"], "", "accelerator, from the GPUs sheet", choice("gpu_names", "a GPU"),
            style.TEXT)
    s.input("gpus", "GPU count", d["gpus"], "GPUs", "GPUs training together: tp x pp x data-parallel replicas",
            whole_at_least(1, 1_000_000), style.COUNT)
    s.input("tp", "Tensor parallel (tp)", d["tp"], "GPUs",
            "GPUs splitting every layer (Megatron): divides the heads; inside a node", whole_between(1, 1024),
            style.COUNT)
    s.input("pp", "Pipeline parallel (pp)", d["pp"], "stages", "pipeline stages, each holding whole layers (1F1B)",
            whole_between(1, 1024), style.COUNT)
    s.input("sp", "Sequence parallel?", d["sp"], "", "TRUE: norms, dropout and layer inputs split over tp too "
            "(Megatron; counts only with tp > 1)", model_block.TRUE_OR_FALSE, "General")
    s.input("attention", "Attention kernel", d["attention"], "",
            "flash (no score matrix kept) or eager (the softmax scores kept)", choice("list_attention", "a kernel"),
            style.TEXT)
    s.input("recompute", "Recomputation", d["recompute"], "",
            "activation recomputation: none, selective (attention) or full", choice("list_recompute", "a strategy"),
            style.TEXT)
    s.input("seq_len", "Sequence length", d["seq_len"], "tokens", "tokens per training sequence",
            whole_at_least(1, 10_000_000), style.COUNT)
    s.input("micro_batch", "Micro-batch", d["micro_batch"], "sequences",
            "sequences per micro-batch on one GPU", whole_at_least(1, 10_000), style.COUNT)
    s.input("global_batch", "Global batch", d["global_batch"], "sequences",
            "sequences per optimizer step, all replicas: a multiple of micro-batch x replicas",
            whole_at_least(1, 100_000_000), style.COUNT)
    s.input("logit_bytes", "Bytes per logit", d["logit_bytes"], "bytes",
            "logits and loss per vocabulary entry and token: 10 with an fp32 upcast (torchtune's measurement), 4 "
            "with a fused loss (Megatron-LM)", between(0, 64), style.ONE_DECIMAL)
    s.input("compute_efficiency", "Compute efficiency", d["compute_efficiency"], "fraction",
            f"share of the dense peak the matmuls reach; default fitted to Megatron-LM's step times "
            f"({brief(CLUSTER['compute_efficiency']['source'])})",
            fraction(), style.PERCENT)
    s.input("overlap", "Data-parallel overlap", d["overlap"], "fraction",
            "share of the gradient reduction hidden behind compute (0: none)", between(0, 1), style.PERCENT)
    s.input("gpus_per_node", "GPUs per node", d["gpus_per_node"], "GPUs",
            "GPUs joined by the intra-node link (8 on DGX/HGX)", whole_between(1, 1024), style.COUNT)
    s.input("intra_link", "Intra-node link", d["intra_link"], "",
            "link between GPUs of a node (Links sheet), or the GPU's own", choice("list_intra_links", "a link"),
            style.TEXT)
    s.input("inter_link", "Inter-node link", d["inter_link"], "", "network between nodes, one port per GPU "
            "(Links sheet)", choice("list_links", "a link"), style.TEXT)
    s.input("tokens", "Training tokens", d["tokens"], "tokens", "tokens seen during training (e.g. 2e12)",
            positive(1e16), style.COUNT)
    s.input("gpu_mtbf_hours", "MTBF per GPU", d["gpu_mtbf_hours"], "hours",
            f"hours between interruptions of a job, per GPU; default: Llama 3's pre-training "
            f"({brief(CLUSTER['gpu_mtbf']['source'])})",
            positive(1e9), style.COUNT)
    s.input("checkpoint_write_gbs", "Checkpoint write speed", d["checkpoint_write_gbs"], "GB/s",
            "sustained write throughput of your storage, all GPUs together; 100 GB/s is a planning assumption "
            "(a parallel file system), state yours",
            positive(1e6), style.ONE_DECIMAL)
    s.input("restart_s", "Restart time", d["restart_s"], "s",
            "after an interruption: detect, reschedule, reload the checkpoint; 10 minutes is a planning "
            "assumption, state yours", between(0, 1e6), style.COUNT)
    s.input("usd_per_gpu_hour", "Price per GPU-hour", d["usd_per_gpu_hour"], "USD", "what one GPU-hour costs",
            positive(1000), style.USD_CENTS)


#: The model's figures the plan reads, in order (Model figures sheet, or the custom range).
FIGURES = (
    "params", "active_params", "layers", "hidden", "heads", "kv_heads", "head_dim", "qk_width", "v_width",
    "ffn_hidden", "vocab", "gated_mlp", "tied_embeddings", "bias", "norms_per_layer", "qk_norm", "is_mla",
    "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "experts", "experts_per_token", "shared_experts",
    "moe_ffn_hidden", "moe_layers", "expert_params", "sliding_window", "window_layers", "p_embeddings", "p_head",
    "p_positions", "p_attention", "p_mlp", "p_router", "p_norms",
)


def _model(s: PlanSheet) -> None:
    s.section("2. The model")
    model_block.figures(s, FIGURES)


def _layout(s: PlanSheet) -> None:
    s.section("3. The layout and one block")
    s.step("bytes", "Bytes per value", "bytes of one value in the training precision (Precisions sheet)",
           ref.precision_bytes("in_precision"), "bytes", "weights, gradients and activations' matmuls",
           style.BYTES_EACH)
    s.step("optimizer_bytes", "Optimizer state per parameter", "state bytes of the optimizer (Optimizers sheet)",
           ref.optimizer_bytes("in_optimizer"), "bytes", "Adam keeps m and v in fp32: 4 + 4 bytes", style.BYTES_EACH)
    s.step("master_bytes", "fp32 master copy per parameter", "full training: 4 bytes when the precision is below "
           "4 bytes, else 0", f"IF(AND({_FULL_TRAINING},out_bytes<td_master_bytes),td_master_bytes,0)", "bytes",
           "mixed precision keeps an fp32 master copy (Micikevicius et al. 2018); LoRA adapters keep none "
           "(Dettmers et al. 2023)", style.BYTES_EACH)
    s.step("base_bytes", "Bytes per base weight", "QLoRA: nf4 with its constants (blocks' linear layers); else the "
           "precision's", f"IF({_QLORA},td_qlora_base_bytes,out_bytes)", "bytes",
           brief(TRAINING.quant_sources["nf4"]), style.THREE_DECIMALS)
    s.step("dp", "Data-parallel replicas", "GPUs / (tp x pp)", "in_gpus/(in_tp*in_pp)", "replicas",
           "ZeRO shards over them; blank when the layout cannot run (see the checks)", style.COUNT,
           key=True, when=_safe(_MEMORY_RUNS))
    # One block's parameters: attention and norms are the same in every block; a dense block has
    # the dense MLP, an expert block all its experts (routed and shared) and the router.
    moe_mlp = "(out_experts+out_shared_experts)*out_expert_params"
    norms_one = "(out_p_norms-out_hidden*IF(out_bias,2,1))/out_layers"
    dense_mlp = f"(out_p_mlp-out_moe_layers*IF(out_moe_layers>0,{moe_mlp},0))/(out_layers-out_moe_layers)"
    s.step("block_dense", "Parameters of a dense block", "attention + dense MLP + norms of one block",
           f"IF(out_layers>out_moe_layers,out_p_attention/out_layers+{dense_mlp}+{norms_one},0)", "parameters",
           "0 when every block has experts", style.COUNT)
    s.step("block_moe", "Parameters of an expert block", "attention + all experts (routed, shared) + router + norms",
           f"IF(out_moe_layers>0,out_p_attention/out_layers+{moe_mlp}+out_p_router/out_moe_layers+{norms_one},0)",
           "parameters", "0 for a dense model; dense blocks come first (DeepSeek's first_k_dense_replace)",
           style.COUNT)
    s.step("embed_params", "Embedding (first stage)", "token and position embeddings",
           "out_p_embeddings+out_p_positions", "parameters", "held by the first pipeline stage", style.COUNT)
    s.step("head_params", "Output head (last stage)", "the head; tied: a copy of the embedding",
           "IF(out_tied_embeddings,out_p_embeddings,out_p_head)", "parameters",
           "with tied embeddings a pipelined last stage keeps its own copy", style.COUNT)
    s.step("final_norm_params", "Final norm (last stage)", "hidden (x 2 with biases)", "out_hidden*IF(out_bias,2,1)",
           "parameters", "before the output head", style.COUNT)
    s.step("linear_dense", "Linear weights of a dense block", "attention + dense MLP (what QLoRA stores in nf4)",
           f"IF(out_layers>out_moe_layers,out_p_attention/out_layers+{dense_mlp},0)", "parameters",
           "norms, embedding and head stay in 16-bit", style.COUNT)
    s.step("linear_moe", "Linear weights of an expert block", "attention + all experts + router",
           f"IF(out_moe_layers>0,out_p_attention/out_layers+{moe_mlp}+out_p_router/out_moe_layers,0)", "parameters",
           brief(TRAINING.quant_skip_source), style.COUNT)
    _adapters(s)


def _lora(matrix: str) -> str:
    """1 when the chosen LoRA targets adapt `matrix` (q, k, v, o, gate, up, down), else 0."""
    return f"INDEX(lora_{matrix},MATCH(in_lora_targets,list_lora_targets,0))"


#: An adapted MLP matrix's count: gate (gated MLPs only), up and down, each with as many inputs + outputs.
_MLP_ADAPTED = f"(IF(out_gated_mlp,{_lora('gate')},0)+{_lora('up')}+{_lora('down')})"


def _adapters(s: PlanSheet) -> None:
    """LoRA adapters per block: rank x (inputs + outputs) of each adapted matrix (Hu et al. 2021)."""
    kv = _KV_HEADS
    attention = (f"{_lora('q')}*(out_hidden+out_heads*out_qk_width)+{_lora('k')}*(out_hidden+{kv}*out_qk_width)"
                 f"+{_lora('v')}*(out_hidden+{kv}*out_v_width)+{_lora('o')}*(out_heads*out_v_width+out_hidden)")
    s.step("adapter_dense", "LoRA adapters of a dense block", "rank x (inputs + outputs) of each adapted matrix",
           f"IF(AND({_FINE_TUNING},out_layers>out_moe_layers),in_lora_rank*({attention}"
           f"+{_MLP_ADAPTED}*(out_hidden+out_ffn_hidden)),0)", "parameters",
           f"0 for full training. {brief(TRAINING.lora_source)}", style.COUNT)
    s.step("adapter_moe", "LoRA adapters of an expert block", "as above, every expert's MLP adapted",
           f"IF(AND({_FINE_TUNING},out_moe_layers>0),in_lora_rank*({attention}+{_MLP_ADAPTED}"
           "*(out_hidden+out_moe_ffn_hidden)*(out_experts+out_shared_experts)),0)", "parameters",
           "MLA's low-rank projections adapted as if full", style.COUNT)
    s.step("largest_matrix", "Largest linear weight of a block", "the largest of Q, K, V, output and MLP matrices",
           f"MAX(out_hidden*out_heads*out_qk_width,out_hidden*{kv}*MAX(out_qk_width,out_v_width),"
           "out_heads*out_v_width*out_hidden,IF(out_moe_layers>0,out_hidden*out_moe_ffn_hidden,0),"
           "IF(out_layers>out_moe_layers,out_hidden*out_ffn_hidden,0))", "parameters",
           "QLoRA dequantizes one weight at a time to 16-bit", style.COUNT)


def _activations(s: PlanSheet) -> None:
    s.section("4. Activations one block keeps for the backward pass (one micro-batch, per GPU)")
    tokens = "in_seq_len*in_micro_batch"
    whole = "IF(in_sp,in_tp,1)"  # what only sequence parallelism splits
    q, kv = "out_heads/in_tp", f"MAX({_KV_HEADS},in_tp)/in_tp"
    mask = f"IF(out_bias,{MASK_BYTES},0)"
    latent = ("IF(out_is_mla,2*out_q_lora_rank+2*out_kv_lora_rank+out_qk_rope_head_dim,0)"
              "+IF(out_qk_norm,(out_heads+out_kv_heads)*out_head_dim,0)")
    ranks = f"IF({_FINE_TUNING},in_lora_rank,0)"  # each adapter keeps its r-wide product
    att_ranks = f"{ranks}*({_lora('q')}+{_lora('k')}+{_lora('v')}+{_lora('o')})"
    att_whole = f"({ACT_BYTES}*out_hidden+{mask}*out_hidden+{ACT_BYTES}*({latent}+{att_ranks}))/{whole}"
    att_split = f"{ACT_BYTES}*({q}*out_qk_width+{kv}*out_qk_width+{kv}*out_v_width+{q}*out_v_width)"

    def attention(kept: str) -> str:
        # Per token: the block's input, dropout mask and latents (split only with sp); Q, K, V and the
        # output per rank; FlashAttention's 4-byte log-sum-exp per head, or eager's softmax scores
        # (and their dropout) per head and key, unless selective or full recomputation drops them.
        lse = f'IF(AND({kept},in_attention="flash"),{LSE_BYTES}*{q},0)'
        scores = (f'IF(AND({kept},in_attention="eager"),{q}*in_seq_len*({ACT_BYTES}+IF(out_bias,'
                  f"{MASK_BYTES}+{ACT_BYTES},0)),0)")
        return f"{tokens}*({att_whole}+{att_split}+{lse}+{scores})/1e9"

    s.step("att_kept_gb", "Attention", "tokens x (input, mask, latents [/tp with sp] + Q, K, V, output per rank "
           "[+ log-sum-exp, or eager scores, when not recomputed])", attention('in_recompute="none"'), "GB",
           "Korthikanti et al. 2022 section 4.1 with the model's widths; FlashAttention keeps no score matrix "
           "(Dao et al. 2022 section 3.1); selective recomputation drops the attention core", style.THREE_DECIMALS,
           when=_safe(_MEMORY_RUNS))
    s.step("att_all_gb", "Attention, nothing recomputed", "as above with recomputation none",
           attention("TRUE"), "GB", "what full recomputation rebuilds for the block in its backward pass",
           style.THREE_DECIMALS, when=_safe(_MEMORY_RUNS))
    per_unit = f"IF(out_gated_mlp,{ACT_BYTES * GATED_MLP_VALUES},{ACT_BYTES * PLAIN_MLP_VALUES})"
    mlp_whole = f"({ACT_BYTES}*out_hidden+{mask}*out_hidden+{ACT_BYTES}*{ranks}*{_MLP_ADAPTED}*{{}})"
    s.step("mlp_dense_gb", "Dense MLP", "tokens x (input, mask [/tp with sp] + inner width x 8 bytes gated "
           "(4 plain) / tp)",
           f"IF(out_layers>out_moe_layers,{tokens}*({mlp_whole.format(1)}/{whole}+out_ffn_hidden*{per_unit}/in_tp)/1e9,0)",
           "GB", "a gated MLP keeps gate, up, SiLU output and product (PyTorch autograd, no fused kernel)",
           style.THREE_DECIMALS, when=_safe(_MEMORY_RUNS))
    routed = f"out_experts_per_token*2*{ACT_BYTES}*out_hidden"  # dispatched copy and output of each routed expert
    experts = "(out_experts_per_token+out_shared_experts)"  # the experts a token runs
    s.step("mlp_moe_gb", "Expert MLP", "as the dense MLP for the routed + shared experts a token runs, plus each "
           "routed copy of the input and its output",
           f"IF(out_moe_layers>0,{tokens}*(({mlp_whole.format(experts)}+{routed})/{whole}"
           f"+(out_experts_per_token+out_shared_experts)*out_moe_ffn_hidden*{per_unit}/in_tp)/1e9,0)",
           "GB", "0 for a dense model", style.THREE_DECIMALS, when=_safe(_MEMORY_RUNS))
    s.step("norms_gb", "Norms", "tokens x norms per block x 2 bytes x hidden [/tp with sp]",
           f"{tokens}*out_norms_per_layer*{ACT_BYTES}*out_hidden/{whole}/1e9", "GB", "each norm keeps its input",
           style.THREE_DECIMALS, when=_safe(_MEMORY_RUNS))
    s.step("layer_input_gb", "Block input (full recomputation)", "tokens x 2 bytes x hidden [/tp with sp]",
           f"{tokens}*{ACT_BYTES}*out_hidden/{whole}/1e9", "GB",
           "all that full recomputation keeps of a block", style.THREE_DECIMALS, when=_safe(_MEMORY_RUNS))
    for kind, mlp, here in (("dense", "out_mlp_dense_gb", "out_layers>out_moe_layers"),
                            ("moe", "out_mlp_moe_gb", "out_moe_layers>0")):
        label = "Dense block" if kind == "dense" else "Expert block"
        s.step(f"layer_{kind}_gb", f"{label} keeps", "full recomputation: its input; else attention + MLP + norms "
               "(0 when the model has no such block)",
               f"IF({here},IF({_FULL},out_layer_input_gb,out_att_kept_gb+{mlp}+out_norms_gb),0)", "GB",
               "Korthikanti et al. 2022 section 5 (recomputation)", style.THREE_DECIMALS, when=_safe(_MEMORY_RUNS))


def _stage(s: PlanSheet, key: str, number: int, title: str, first: str, last: str, in_flight: str,
           dense: str, moe: str) -> None:
    """The memory of one pipeline stage's GPU, component by component (TRAIN_PEAK_MEM's steps)."""
    s.section(f"{number}. {title}")
    o = f"out_{key}_"
    s.step(f"{key}_dense", "Dense blocks on the stage", "whole layers, the extra ones on the first stages",
           dense, "blocks", "dense blocks come first", style.COUNT, when=_safe(_MEMORY_RUNS))
    s.step(f"{key}_moe", "Expert blocks on the stage", "layers of the stage - dense blocks", moe, "blocks", "",
           style.COUNT)
    outside = (f"IF({first},out_embed_params,0)+IF({last},out_head_params+out_final_norm_params,0)"
               f"-IF(AND({first},{last},out_tied_embeddings),out_head_params,0)")
    s.step(f"{key}_params", "Parameters per GPU before ZeRO", "(blocks' parameters + embedding / head) / tp",
           f"({o}dense*out_block_dense+{o}moe*out_block_moe+{outside})/in_tp", "parameters",
           "tensor parallelism splits every matrix; one matrix serves as embedding and head when tied and not "
           "pipelined", style.COUNT)
    s.step(f"{key}_adapters", "LoRA adapters per GPU", "(dense blocks x adapters + expert blocks x adapters) / tp",
           f"({o}dense*out_adapter_dense+{o}moe*out_adapter_moe)/in_tp", "parameters", "0 for full training",
           style.COUNT)
    s.step(f"{key}_trained", "Trained parameters per GPU", "full training: the parameters; LoRA/QLoRA: the adapters",
           f"IF({_FULL_TRAINING},{o}params,{o}adapters)", "parameters", "they get gradients and optimizer states",
           style.COUNT)
    p, trained = f"{o}params", f"{o}trained"
    # The base's bytes per GPU before ZeRO: QLoRA keeps the blocks' linear layers in nf4 and the rest
    # (norms, embedding, head) in the compute precision; otherwise every weight in the precision.
    linear = f"({o}dense*out_linear_dense+{o}moe*out_linear_moe)"
    base = f"IF({_QLORA},({linear}*out_base_bytes+({p}*in_tp-{linear})*out_bytes)/in_tp,{p}*out_bytes)"
    s.step(f"{key}_weights_gb", "Weights", "parameters x bytes [/ dp at ZeRO-3]; QLoRA: linear layers in nf4; "
           "0 with parameter offload", f"IF({_OFF_PARAMS},0,{base}/IF(in_zero_stage>=3,out_dp,1)/1e9)", "GB",
           "ZeRO-3 shards the weights")
    s.step(f"{key}_adapter_weights_gb", "LoRA adapter weights", "adapters x bytes [/ dp at ZeRO-3]",
           f"IF({_OFF_PARAMS},0,{o}adapters*out_bytes/IF(in_zero_stage>=3,out_dp,1)/1e9)", "GB",
           brief(TRAINING.adapters_source))
    s.step(f"{key}_gradients_gb", "Gradients", "trained parameters x bytes [/ dp at ZeRO-2+]; 0 when offloaded",
           f"IF({_OFF_OPT},0,{trained}*out_bytes/IF(in_zero_stage>=2,out_dp,1)/1e9)", "GB", "ZeRO-2 and 3 shard them")
    s.step(f"{key}_master_gb", "fp32 master weights", "trained x master bytes [/ dp at ZeRO-1+]; 0 offloaded",
           f"IF({_OFF_OPT},0,{trained}*out_master_bytes/IF(in_zero_stage>=1,out_dp,1)/1e9)", "GB",
           "sharded with the optimizer states")
    s.step(f"{key}_optimizer_gb", "Optimizer states", "trained x state bytes [/ dp at ZeRO-1+]; 0 offloaded",
           f"IF({_OFF_OPT},0,{trained}*out_optimizer_bytes/IF(in_zero_stage>=1,out_dp,1)/1e9)", "GB",
           "ZeRO-1 and up shard them (Rajbhandari et al. 2020)")
    s.step(f"{key}_activations_gb", "Activations", "micro-batches in flight x (dense blocks x dense block + "
           "expert blocks x expert block)", f"{in_flight}*({o}dense*out_layer_dense_gb+{o}moe*out_layer_moe_gb)",
           "GB", "1F1B: the first stage keeps pp micro-batches, the last one (Narayanan et al. 2021)")
    # The final norm's input and output, and the logits (vocabulary-parallel over tp), last stage only.
    s.step(f"{key}_logits_gb", "Logits and loss", "tokens x (2 x 2 bytes x hidden [/tp with sp] + vocab / tp x "
           "bytes per logit), on the last stage",
           f"IF({last},in_seq_len*in_micro_batch*(2*{ACT_BYTES}*out_hidden/IF(in_sp,in_tp,1)"
           "+out_vocab/in_tp*in_logit_bytes)/1e9,0)", "GB", brief(TRAINING.loss_source), when=_safe(_MEMORY_RUNS))
    # Working memory of one block's backward pass: the block being recomputed (full recomputation),
    # plus ZeRO-3's gathered blocks and held gradients, or ZeRO-1/2's reduce bucket, or DDP's bucket.
    recomputed = (f"IF({_FULL},MAX(IF({o}dense>0,out_att_all_gb+out_mlp_dense_gb+out_norms_gb,0),"
                  f"IF({o}moe>0,out_att_all_gb+out_mlp_moe_gb+out_norms_gb,0)),0)")
    # ZeRO-3 gathers whole blocks (their weights, adapters included) and holds one block's gradients.
    unit = ("(IF({q},out_linear_{k}*out_base_bytes+(out_block_{k}-out_linear_{k})*out_bytes,out_block_{k}*out_bytes)"
            "+IF({f},0,out_adapter_{k}*out_bytes))/in_tp")
    units = [(f"IF({o}{k}>0,{unit.format(q=_QLORA, f=_FULL_TRAINING, k=k)},0)",
              f"IF({o}{k}>0,IF({_FULL_TRAINING},out_block_{k},out_adapter_{k}),0)/in_tp") for k in ("dense", "moe")]
    gathered = (f"MAX({units[0][0]},{units[1][0]},IF({first},out_embed_params/in_tp*out_bytes,0),"
                f"IF({last},out_head_params/in_tp*out_bytes,0))")
    buffers = (f"IF(AND(in_zero_stage=3,OR(out_dp>1,{_OFF_PARAMS})),td_zero3_gathered*{gathered}"
               f"+td_zero3_reduced*MAX({units[0][1]},{units[1][1]})*out_bytes,"
               f"IF(AND(in_zero_stage>=1,in_zero_stage<=2,OR(out_dp>1,{_OFF_OPT})),"
               f"MIN(td_zero_bucket,{trained})*out_bytes,"
               f"IF(AND(in_zero_stage=0,out_dp>1),MIN(td_ddp_bucket_bytes,{trained}*out_bytes),0)))/1e9")
    dequantized = f"IF({_QLORA},out_largest_matrix/in_tp*out_bytes/1e9,0)"  # one weight at a time in 16-bit
    s.step(f"{key}_transient_gb", "Transient working memory", "the block being recomputed (full) + ZeRO-3's 2 "
           "gathered blocks and 1 block's gradients, or the ZeRO-1/2 bucket, or the DDP bucket; QLoRA: one "
           "dequantized matrix", f"{recomputed}+{buffers}+{dequantized}", "GB", brief(TRAINING.zero3_source))
    parts = [f"{o}{x}_gb" for x in ("weights", "adapter_weights", "gradients", "master", "optimizer",
                                    "activations", "logits", "transient")]
    s.step(f"{key}_reserve_gb", "Framework reserve", "CUDA context + allocator slack x everything above",
           f"td_cuda_context_gb+td_allocator_fraction*({'+'.join(parts)})", "GB",
           brief(TRAINING.cuda_context_source))
    s.step(f"{key}_total_gb", "Memory per GPU on this stage", "sum of the components above",
           f"{'+'.join(parts)}+{o}reserve_gb", "GB", "as TRAIN_PEAK_MEM counts this stage", key=True)
    s.step(f"{key}_per_sequence_gb", "Each further sequence adds", "(activations + logits + block recomputed) / "
           "micro-batch x (1 + slack)",
           f"({o}activations_gb+{o}logits_gb+{recomputed})/in_micro_batch*(1+td_allocator_fraction)", "GB",
           "the peak grows linearly with the micro-batch")
    s.step(f"{key}_host_gb", "Host memory per GPU (offload)", "trained parameters / dp x (4 + 4 + optimizer "
           "bytes) [+ weights with parameter offload] x host buffer factor",
           f"IF({_OFF_OPT},({trained}/out_dp*(td_host_fp32_bytes+out_optimizer_bytes)"
           f"+IF({_OFF_PARAMS},({base}+{o}adapters*out_bytes)/out_dp,0))*td_cpu_buffer/1e9,0)", "GB",
           "CPU memory, not in the GPU total (Ren et al. 2021)")


def _stages(s: PlanSheet) -> None:
    dense_layers = "(out_layers-out_moe_layers)"
    first_layers = "(INT(out_layers/in_pp)+IF(MOD(out_layers,in_pp)>0,1,0))"
    _stage(s, "first", 5, "Memory of the first pipeline stage (the only one when pp = 1)",
           first="TRUE", last="in_pp=1", in_flight="in_pp",
           dense=f"MIN({dense_layers},{first_layers})", moe=f"{first_layers}-out_first_dense")
    last_start = "(out_layers-INT(out_layers/in_pp))"
    _stage(s, "last", 6, "Memory of the last pipeline stage (the same stage when pp = 1)",
           first="in_pp=1", last="TRUE", in_flight="1",
           dense=f"MAX(0,{dense_layers}-{last_start})", moe="INT(out_layers/in_pp)-out_last_dense")


def _peak(s: PlanSheet) -> None:
    s.section("7. Peak memory per GPU: does it fit?")
    s.step("peak_gb", "Peak memory per GPU", "the larger of the two stages",
           "MAX(out_first_total_gb,out_last_total_gb)", "GB", _SAME.format("TRAIN_PEAK_MEM"),
           key=True)
    s.step("peak_stage", "Stage at the peak", "first unless the last needs more",
           'IF(in_pp=1,"the only stage",IF(out_last_total_gb>out_first_total_gb,"last","first"))', "",
           "the first keeps pp micro-batches and the embedding; the last the head and logits", style.TEXT)
    s.step("host_gb", "Host memory per GPU (offload)", "that stage's host memory",
           "IF(out_last_total_gb>out_first_total_gb,out_last_host_gb,out_first_host_gb)", "GB",
           "not in the GPU total")
    s.step("gpu_memory_gb", "GPU memory", "memory_gb of the GPU (GPUs sheet)",
           ref.gpu_figure("in_gpu", '"memory_gb"'), "GB", "capacity as printed on the datasheet", style.ONE_DECIMAL)
    s.step("margin_gb", "Margin", "GPU memory - peak (negative: it does not fit)", "out_gpu_memory_gb-out_peak_gb",
           "GB", "the reserve above already holds the CUDA context and slack")
    s.step("fits", "Fits on the GPU?", "yes when the margin is >= 0", 'IF(out_margin_gb>=0,"yes","no")', "",
           "if not: see the fit check below", style.TEXT, key=True)
    # Per stage the peak is affine in the micro-batch: peak(1) = total - (b - 1) x per sequence, and
    # the largest b is 1 + floor((memory - peak(1)) / per sequence), the smaller over the two stages.
    one = "out_{0}_total_gb-(in_micro_batch-1)*out_{0}_per_sequence_gb"
    most = "INT((out_gpu_memory_gb-({one}))/out_{0}_per_sequence_gb)+1"
    s.step("max_micro_batch", "Largest micro-batch that fits", "smallest over the stages of 1 + (GPU memory - peak "
           "at 1) / each further sequence; 0 when one does not fit",
           f"IF(MAX({one.format('first')},{one.format('last')})>out_gpu_memory_gb,0,"
           f"MIN({most.format('first', one=one.format('first'))},{most.format('last', one=one.format('last'))},1E9))",
           "sequences", "Same as MAX_MICRO_BATCH", style.COUNT, key=True)


def _links(s: PlanSheet) -> None:
    s.section("8. Links")
    s.step("intra_link", "Intra-node link", "the input, or the GPU's own (Links sheet)",
           f'IF(in_intra_link="{tables.GPU_OWN_LINK}",IF(ISNA(MATCH(in_gpu,gpu_link_gpus,0)),"",'
           'INDEX(gpu_link_names,MATCH(in_gpu,gpu_link_gpus,0))&""),in_intra_link)', "",
           "TPUs form a torus, not nodes of GPUs: name a link for them", style.TEXT)
    link = "INDEX(link_{0},MATCH({1},link_names,0))"
    s.step("intra_gbs", "Intra-node bandwidth", "per GPU, per direction (Links sheet)",
           f'IF(out_intra_link="","",{link.format("gbs", "out_intra_link")})', "GB/s",
           "vendors print both directions; halved", style.ONE_DECIMAL)
    s.step("intra_us", "Intra-node latency", "per ring step (Links sheet)",
           f'IF(out_intra_link="","",{link.format("us", "out_intra_link")})', "us", "NCCL's cost model",
           style.ONE_DECIMAL)
    s.step("inter_gbs", "Inter-node bandwidth", "per GPU, per direction (Links sheet)",
           link.format("gbs", "in_inter_link"), "GB/s", "one network port per GPU (rail-optimised)", style.ONE_DECIMAL)
    s.step("inter_us", "Inter-node latency", "per ring step (Links sheet)", link.format("us", "in_inter_link"), "us",
           "NCCL's cost model", style.ONE_DECIMAL)
    # A group within a node uses the intra-node link; across nodes NCCL spreads the ring's node
    # crossings over the group's GPUs per node: min(intra, GPUs per node of the group x inter).
    for key, size, per_node, label in (("tp", "in_tp", "MIN(in_tp,in_gpus_per_node)", "Tensor-parallel group"),
                                       ("dp", "out_dp", "MAX(1,MIN(out_dp,INT(in_gpus_per_node/in_tp)))",
                                        "Data-parallel group")):
        s.step(f"{key}_gbs", f"{label}: bandwidth", "intra-node link inside one node; across nodes "
               "min(intra, GPUs of the group per node x inter)",
               f"IF({size}<={per_node},out_intra_gbs,MIN(out_intra_gbs,{per_node}*out_inter_gbs))", "GB/s",
               "Megatron-LM's layout: tp groups of consecutive GPUs, then data parallel", style.ONE_DECIMAL,
               when=_HAS_LINK)
        s.step(f"{key}_us", f"{label}: latency", "intra-node inside one node, else inter-node",
               f"IF({size}<={per_node},out_intra_us,out_inter_us)", "us", "", style.ONE_DECIMAL, when=_HAS_LINK)


def _step_time(s: PlanSheet) -> None:
    s.section("9. One training step")
    s.step("step_states_gb", "Model states for the step time", "Adam states of params / (tp x pp), ZeRO-sharded "
           "over the replicas (TRAIN_MEM)",
           "out_params/(in_tp*in_pp)*(out_bytes/IF(in_zero_stage>=3,out_dp,1)+out_bytes/IF(in_zero_stage>=2,out_dp,1)"
           f"+out_master_bytes/IF(in_zero_stage>=1,out_dp,1)+{_ADAM}"
           "/IF(in_zero_stage>=1,out_dp,1))/1e9", "GB",
           "TRAIN_STEP_TIME's own check that model states fit the GPU (full training)",
           when=_safe(f"AND({_MEMORY_RUNS},{_FULL_TRAINING})"))
    s.step("global_tokens", "Tokens per step", "global batch x sequence length", "in_global_batch*in_seq_len",
           "tokens", "", style.COUNT)
    s.step("micro_batches", "Micro-batches per pipeline", "global batch / (micro-batch x replicas)",
           "in_global_batch/(in_micro_batch*out_dp)", "micro-batches", "", style.COUNT, when=_safe(_STEP_OK))
    # Token-layers a token attends: every earlier token on full layers, at most the window on windowed ones.
    cached = "((out_layers-out_window_layers)*in_seq_len+out_window_layers*MIN(in_seq_len,out_sliding_window))"
    s.step("attention_flops", "Attention FLOPs per token", "2 x heads x (q/k + v width) x token-layers attended "
           "(windows applied)", f"2*out_heads*(out_qk_width+out_v_width)*{cached}", "FLOP",
           "forward: scores and the weighted sum", style.SCIENTIFIC)
    s.step("model_flops", "Model FLOPs per step", "tokens x (6 x active parameters + 3 x attention FLOPs)",
           "out_global_tokens*(6*out_active_params+3*out_attention_flops)", "FLOP",
           "PaLM's MFU count (Chowdhery et al. 2022, appendix B)", style.SCIENTIFIC, when=_safe(_STEP_OK))
    s.step("peak_tflops", "Dense peak per GPU", "the GPU's peak in the precision's peak field (Precisions sheet)",
           f'IF({_PEAK}>0,{_PEAK},"")', "TFLOP/s", "dense tensor-core peak; blank when the GPU publishes none",
           style.ONE_DECIMAL)
    # Recomputation repeats attention's forward (selective) or the whole forward, 2 FLOPs per parameter (full).
    extra = ('IF(in_recompute="none",0,IF(in_recompute="selective",out_attention_flops,'
             "2*out_active_params+out_attention_flops))")
    s.step("compute_s", "Compute", "(model FLOPs + recomputed FLOPs) / GPUs / (peak x efficiency)",
           f"(out_model_flops+out_global_tokens*{extra})/in_gpus/(out_peak_tflops*1e12*in_compute_efficiency)", "s",
           "selective recomputation repeats attention's forward, full the whole forward", style.THREE_DECIMALS)
    # A ring collective over n GPUs (Thakur et al. 2005): k (n-1)/n of the bytes over the bandwidth, k (n-1)
    # message steps of latency; k = 2 for an all-reduce, 1 for an all-gather. GB/s and microseconds.
    ring = "{k}*({n}-1)/{n}*{size}/({bw}*1e9)+{k}*({n}-1)*{lat}*1e-6"
    wire = "MAX(out_bytes,2)"  # activations and gradients travel in bf16 when computing in fp8 or fp4
    one_tp = ring.format(k=2, n="in_tp", size=f"in_seq_len*in_micro_batch*out_hidden*{wire}", bw="out_tp_gbs",
                         lat="out_tp_us")
    ars = f'IF({_FULL},{TP_ALLREDUCES["full"]},{TP_ALLREDUCES["none"]})'
    s.step("tp_s", "Tensor-parallel all-reduces", "micro-batches x layers / pp x 4 (6 with full recomputation) "
           "x ring all-reduce of seq x micro-batch x hidden values over tp",
           f"IF(in_tp>1,out_micro_batches*INT(out_layers/in_pp)*{ars}*({one_tp}),0)", "s",
           "Shoeybi et al. 2019 section 3: two all-reduces forward, two backward", style.THREE_DECIMALS)
    s.step("bubble_s", "Pipeline bubble", "(pp - 1) / micro-batches x (compute + tensor-parallel)",
           "(in_pp-1)/out_micro_batches*(out_compute_s+out_tp_s)", "s", brief(FUNCTIONS["PIPELINE_BUBBLE"].source),
           style.THREE_DECIMALS)
    shard = f"out_params/(in_tp*in_pp)*{wire}"  # bytes of one GPU's gradients (TRAIN_STEP_TIME: params / (tp x pp))
    grads = ring.format(k=2, n="out_dp", size=shard, bw="out_dp_gbs", lat="out_dp_us")
    gathers = ring.format(k=1, n="out_dp", size=shard, bw="out_dp_gbs", lat="out_dp_us")
    s.step("dp_raw_s", "Data-parallel communication", "ring all-reduce of the stage's gradients over the replicas "
           "[+ ZeRO-3's all-gather of its weights]",
           f"IF(out_dp>1,{grads}+IF(in_zero_stage>=3,{gathers},0),0)", "s",
           brief(FUNCTIONS["ALLREDUCE_TIME"].source), style.THREE_DECIMALS, when=_safe(_STEP_OK))
    s.step("dp_exposed_share", "Share not hidden", "max(1 - overlap, 1 - compute / communication)",
           "IF(out_dp_raw_s>0,MAX((1-in_overlap)*out_dp_raw_s,out_dp_raw_s-out_compute_s)/out_dp_raw_s,0)", "",
           "what overlaps cannot exceed the compute", style.PERCENT)
    s.step("dp_grads_s", "Gradient reduction (exposed)", "share not hidden x ring all-reduce",
           f"out_dp_exposed_share*IF(out_dp>1,{grads},0)", "s", "", style.THREE_DECIMALS)
    s.step("zero3_s", "ZeRO-3 weight gathers (exposed)", "share not hidden x ring all-gather at ZeRO-3",
           f"out_dp_exposed_share*IF(AND(out_dp>1,in_zero_stage>=3),{gathers},0)", "s", "", style.THREE_DECIMALS)
    s.step("step_s", "Step time", "compute + tensor-parallel + bubble + exposed data-parallel",
           "out_compute_s+out_tp_s+out_bubble_s+out_dp_grads_s+out_zero3_s", "s",
           _SAME.format("TRAIN_STEP_TIME"), style.THREE_DECIMALS, key=True)
    s.step("mfu", "Model FLOPs utilisation (MFU)", "model FLOPs / GPUs / (peak x step time)",
           "out_model_flops/in_gpus/(out_peak_tflops*1e12*out_step_s)", "of peak",
           "what the step time implies; the compute efficiency less communication and bubble", style.PERCENT,
           key=True)


def _expm1(x: str) -> str:
    """exp(x) - 1 without cancellation for small x: 2 sinh(x/2) exp(x/2)."""
    return f"2*SINH(({x})/2)*EXP(({x})/2)"


_M, _D = "(out_job_mtbf_h*3600)", "out_checkpoint_write_s"


def _segment_and_rework() -> tuple[str, str]:
    """(tau + d) / M and R / M: the interval with its write, and the restart, in job MTBFs."""
    return f"(out_checkpoint_interval_s+{_D})/{_M}", f"in_restart_s/{_M}"


def _goodput_runs() -> str:
    """GOODPUT's refusal: under 1% of the wall time training (exp() would overflow past 700)."""
    seg, rework = _segment_and_rework()
    wall = f"{_M}*{_expm1(seg)}*EXP({rework})"
    return f"IF(OR({seg}>700,{rework}>700),FALSE,out_checkpoint_interval_s/({wall})>={MIN_GOODPUT})"


def _goodput(s: PlanSheet) -> None:
    s.section("10. Checkpoints and interruptions")
    s.step("checkpoint_gb", "Checkpoint size", "parameters x (bytes + master bytes + optimizer bytes)",
           "out_params*(out_bytes+out_master_bytes+out_optimizer_bytes)/1e9", "GB",
           brief(FUNCTIONS["CHECKPOINT_SIZE"].source), when=_safe(_STEP_OK))
    s.step("checkpoint_write_s", "Checkpoint write time", "size / write speed",
           "out_checkpoint_gb/in_checkpoint_write_gbs", "s", "training pauses while it is written", style.ONE_DECIMAL)
    s.step("job_mtbf_h", "Job MTBF", "MTBF per GPU / GPUs", "in_gpu_mtbf_hours/in_gpus", "h",
           "every GPU stops when one fails", style.ONE_DECIMAL)
    m, d = _M, _D
    x = f"{d}/(2*{m})"
    s.step("checkpoint_interval_s", "Checkpoint interval", "Daly's optimum: sqrt(2 d M) (1 + sqrt(d/2M)/3 + "
           "(d/2M)/9) - d, M beyond 2M", f"IF({d}>=2*{m},{m},SQRT(2*{d}*{m})*(1+SQRT({x})/3+({x})/9)-{d})", "s",
           brief(FUNCTIONS["CHECKPOINT_INTERVAL"].source), style.COUNT)
    seg, rework = _segment_and_rework()
    s.step("interruptions_per_interval", "Interruptions per interval", "exp((tau + d) / M) - 1", _expm1(seg),
           "interruptions", "failures strike independently (Poisson), during writes and restarts too",
           style.THREE_DECIMALS, when=_safe(_goodput_runs()))
    s.step("wall_per_interval_s", "Wall time per interval", "M x (exp((tau + d)/M) - 1) x exp(R / M)",
           f"{m}*out_interruptions_per_interval*EXP({rework})", "s", "Daly 2006, complete model", style.COUNT)
    s.step("writes_share", "Checkpoint writes", "d / wall time per interval", f"{d}/out_wall_per_interval_s",
           "of wall time", "", SHARE)
    s.step("restarts_share", "Restarts", "M x (exp((tau + d)/M) - 1) x (exp(R/M) - 1) / wall time",
           f"{m}*out_interruptions_per_interval*{_expm1(rework)}/out_wall_per_interval_s", "of wall time", "",
           SHARE)
    s.step("goodput", "Goodput", "checkpoint interval / wall time per interval",
           "out_checkpoint_interval_s/out_wall_per_interval_s", "of wall time",
           _SAME.format("GOODPUT"), SHARE, key=True)
    s.step("lost_share", "Work lost to interruptions", "1 - goodput - writes - restarts",
           "1-out_goodput-out_writes_share-out_restarts_share", "of wall time", "redone since the last checkpoint",
           SHARE)


def _time_and_cost(s: PlanSheet) -> None:
    s.section("11. Training time and cost")
    s.step("steps", "Optimizer steps", "training tokens / tokens per step", "in_tokens/out_global_tokens", "steps",
           "", style.COUNT, when=_safe(_STEP_OK))
    s.step("train_flops", "Training compute", "steps x model FLOPs per step", "out_steps*out_model_flops", "FLOP",
           "model FLOPs (6 x active parameters + attention), recomputation not counted", style.SCIENTIFIC)
    s.step("compute_days", "Time computing", "steps x step time / 86,400 s per day", "out_steps*out_step_s/86400",
           "days", "no interruptions", style.ONE_DECIMAL)
    s.step("train_days", "Training time", "time computing / goodput", "out_compute_days/out_goodput", "days",
           "wall time with checkpoints, lost work and restarts", style.ONE_DECIMAL, key=True)
    s.step("interruptions", "Interruptions expected", "GPUs x days x 24 / MTBF per GPU",
           "in_gpus*out_train_days*24/in_gpu_mtbf_hours", "interruptions",
           brief(FUNCTIONS["EXPECTED_INTERRUPTIONS"].source), style.ONE_DECIMAL)
    s.step("gpu_hours", "GPU-hours", "training days x 24 x GPUs", "out_train_days*24*in_gpus", "GPU-hours",
           "every GPU held for the whole run", style.COUNT, key=True)
    s.step("cost_usd", "Cost", "GPU-hours x price per GPU-hour", "out_gpu_hours*in_usd_per_gpu_hour", "USD",
           "every GPU-hour billed, no storage or network charges", style.USD, key=True)
    s.step("chinchilla_tokens", "Chinchilla-optimal tokens", "20 x total parameters", "20*out_params", "tokens",
           "Hoffmann et al. 2022, Table 3, fitted on dense models; a mixture uses its total: a rough guide",
           style.COUNT)
    s.step("tokens_vs_chinchilla", "Chosen tokens vs Chinchilla", "training tokens / Chinchilla-optimal tokens",
           "in_tokens/out_chinchilla_tokens", "x", "above 1: trained past compute-optimal (cheaper to serve)",
           style.DECIMAL)


def _layout_check() -> str:
    """What TRAIN_PEAK_MEM refuses about the layout, and what would run (short: a message reads on
    across the unit and note columns, no further)."""
    split = "in_tp*in_pp"
    near = f"MAX(1,ROUND(in_gpus/({split}),0))*{split}"
    return (
        f'IF(MOD(in_gpus,{split})<>0,"tp x pp = "&{split}&" does not divide "&in_gpus&" GPUs: use e.g. "&{near},'
        'IF(in_pp>out_layers,"pp "&in_pp&" exceeds the "&out_layers&" layers: use pp <= "&out_layers,'
        'IF(MOD(out_heads,in_tp)<>0,"tp "&in_tp&" does not divide the "&out_heads&" heads: use a divisor",'
        f'IF(IF({_KV_HEADS}>=in_tp,MOD({_KV_HEADS},in_tp)<>0,MOD(in_tp,{_KV_HEADS})<>0),"tp "&in_tp&'
        f'" is no divisor or multiple of the "&{_KV_HEADS}&" KV heads",'
        f'IF(AND({_OFF_OPT},in_zero_stage<1),"optimizer offload needs ZeRO stage 1, 2 or 3",'
        f'IF(AND({_OFF_PARAMS},in_zero_stage<3),"parameter offload needs ZeRO stage 3","OK"))))))'
    )


def _fit_check() -> str:
    """How much the step needs, and the largest micro-batch that fits or the levers to pull."""
    return (
        f'IF({_FITS},"OK","needs "&FIXED(out_peak_gb,1)&" of "&FIXED(out_gpu_memory_gb,1)&" GB: "'
        '&IF(out_max_micro_batch>0,"micro-batch "&out_max_micro_batch&" fits (accumulate more)",'
        '"raise ZeRO, recompute, tp, pp or GPUs; or offload"))'
    )


def _step_check() -> str:
    """What TRAIN_STEP_TIME refuses on top of TRAIN_PEAK_MEM, and what would run."""
    per = "in_micro_batch*out_dp"
    return (
        'IF(MOD(out_layers,in_pp)<>0,"pp "&in_pp&" does not divide the "&out_layers&" layers (equal stages)",'
        'IF(AND(MOD(in_gpus_per_node,in_tp)<>0,MOD(in_tp,in_gpus_per_node)<>0),"tp "&in_tp&" does not fit nodes of "'
        '&in_gpus_per_node&" GPUs",'
        f'IF(MOD(in_global_batch,{per})<>0,"global batch: a multiple of micro-batch x replicas = "&{per}&", e.g. "'
        f'&MAX(1,ROUND(in_global_batch/({per}),0))*{per},"OK")))'
    )


def _checks(s: PlanSheet) -> None:
    s.section("12. Checks")
    model_block.checks(s)
    s.check("check_layout", "Layout runs?", "tp x pp divides the GPUs, pp at most the layers, tp divides the heads "
            "and the KV heads; offload with its ZeRO stage", _layout_check(), "TRAIN_PEAK_MEM refuses the same")
    s.check("check_fit", "Memory fits?", "the peak per GPU within the GPU's memory", _fit_check(),
            "TRAIN_PEAK_MEM and MAX_MICRO_BATCH", not_run=NOT_RUN)
    s.check("check_step", "Step runs?", "equal stages, tp within nodes, a global batch of whole micro-batches",
            _step_check(), "TRAIN_STEP_TIME refuses the same", not_run=NOT_RUN)
    s.check("check_peak", "Peak published?", "the GPU must publish a peak for the precision",
            f'IF({_PEAK}>0,"OK",in_gpu&" publishes no "&{ref.peak_field("in_precision")}&" peak: pick '
            'another precision or GPU")', "TRAIN_STEP_TIME refuses the same combination")
    s.check("check_link", "Intra-node link known?", "the GPU's own link, or one named",
            'IF(out_intra_link<>"","OK",in_gpu&" has no intra-node link: name one in Intra-node link")')
    s.check("check_method", "Step time for this method?", "TRAIN_STEP_TIME counts every gradient and 6 FLOPs per "
            "parameter and token: full training",
            f'IF({_FULL_TRAINING},"OK","step and training time: for full training only")')
    s.check("check_step_states", "Model states fit (step time)?", "Adam states of params / (tp x pp) within the GPU",
            'IF(out_step_states_gb<=out_gpu_memory_gb,"OK","model states need "&FIXED(out_step_states_gb,1)'
            '&" GB per GPU: raise ZeRO, tp or pp")', "TRAIN_STEP_TIME's own check", not_run=NO_STATES)
    s.check("check_goodput", "Goodput at least 1%?", "the job trains at least 1% of its wall time",
            f'IF({_goodput_runs()},"OK","interrupted too often on "&in_gpus&" GPUs: fewer GPUs, faster checkpoints")',
            "GOODPUT refuses the same", not_run=NO_STEP)
    s.checks()


def _chart_rows() -> tuple[tuple[str, str], ...]:
    """The bars of the memory chart: the components of the stage at the peak."""
    labels = (("Weights", "weights"), ("LoRA adapter weights", "adapter_weights"), ("Gradients", "gradients"),
              ("fp32 master weights", "master"),
              ("Optimizer states", "optimizer"), ("Activations", "activations"), ("Logits and loss", "logits"),
              ("Transient working memory", "transient"), ("Framework reserve", "reserve"))
    pick = "IF(out_last_total_gb>out_first_total_gb,out_last_{0}_gb,out_first_{0}_gb)"
    return (*((label, pick.format(key)) for label, key in labels), ("Peak per GPU", "out_peak_gb"),
            ("GPU memory", "out_gpu_memory_gb"))


def build() -> Workbook:
    s = PlanSheet.in_new_workbook("Training plan", TITLE, "Does the model fit on the GPUs with this layout, how "
                                  "long is a step, and how long and how much will training take?",
                                  style.HOW_TO_WITH_LISTS)
    wb = s.wb
    _inputs(s)
    _model(s)
    _layout(s)
    _activations(s)
    _stages(s)
    _peak(s)
    _links(s)
    _step_time(s)
    _goodput(s)
    _time_and_cost(s)
    _checks(s)
    s.bar_chart("13. Memory per GPU at the peak", "Memory per GPU (GB)", _chart_rows(), "GB")
    ref.add_reference_sheets(wb, ("precisions", "optimizers", "gpus", "models", "model_figures", "lists"))
    ref.add_links(wb)
    tables.add_training_defaults(wb)
    tables.add_training_lists(wb)
    return wb
