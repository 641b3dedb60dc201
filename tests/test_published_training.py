"""Training memory and compute against published figures, each with its tolerance justified."""

from __future__ import annotations

import pytest

from envelope_xl import activation_mem, model_params, train_flops, train_mem
from envelope_xl.catalog import call

GB, GIB = 1e9, 2**30
CPU_ROW = "CPU memory per GPU for offloaded states (not in the total)"
STATES = ("weights", "LoRA adapter weights", "gradients", "fp32 master weights", "optimizer states")


def rows(*args, **kwargs) -> dict[str, float]:
    return {label: value for label, value in call("TRAIN_PEAK_MEM_BREAKDOWN", *args, unit="B", **kwargs)[1:]}


# ----------------------------------------------------------------- Korthikanti et al. 2022, Table 2

# Table 2 gives activation memory per transformer layer, in bytes, for s = sequence, b = micro-batch,
# h = hidden, a = heads, t = tensor-parallel size. Checked at GPT-3 175B's shape (Table 3: s = 2048,
# h = 12288, a = 96, t = 8) with b = 1, one layer. The formulas are exact, so the tolerance is float
# rounding only.
s, b, h, a, t = 2048, 1, 12288, 96, 8
TABLE_2 = [
    # (row, recompute, tp, sp, bytes per layer)
    ("no parallelism", "none", 1, False, s * b * h * (34 + 5 * a * s / h)),
    ("tensor parallel (baseline)", "none", t, False, s * b * h * (10 + 24 / t + 5 * a * s / (h * t))),
    ("tensor + sequence parallel", "none", t, True, s * b * h / t * (34 + 5 * a * s / h)),
    ("tensor parallel + selective recompute", "selective", t, False, s * b * h * (10 + 24 / t)),
    ("tensor + sequence parallel + selective recompute", "selective", t, True, s * b * h * 34 / t),
    ("full activation recompute", "full", t, False, 2 * s * b * h),
]


@pytest.mark.parametrize(("row", "recompute", "tp", "sp", "expected"), TABLE_2, ids=[r[0] for r in TABLE_2])
def test_korthikanti_table_2(row, recompute, tp, sp, expected):
    assert activation_mem(1, h, a, s, b, recompute, tp, "B", sp=sp) == pytest.approx(expected, rel=1e-12)


def test_gpt3_at_tp8_with_sequence_parallelism_and_selective_recompute():
    # The case: GPT-3 175B (96 layers) at tp 8 with selective recomputation keeps 10.3 GB per GPU
    # with sequence parallelism (34 sbhL / t = 10.27 GB) against 31.4 GB without (sbhL (10 + 24/t)).
    assert round(activation_mem(96, h, a, s, 1, "selective", 8, sp=True), 1) == 10.3
    assert round(activation_mem(96, h, a, s, 1, "selective", 8), 1) == 31.4


def test_train_peak_mem_counts_gpt3_layers_as_table_2():
    # The GPT-3 preset is the paper's layer (LayerNorm, 4h GeLU MLP, dropout, multi-head attention),
    # so with the score matrix stored (eager) its activation row is Table 2's, to float rounding.
    for recompute, sp in (("none", False), ("none", True), ("selective", False), ("selective", True)):
        got = rows("gpt3-175b", s, 1, gpus=8, tp=8, recompute=recompute, sp=sp, attention="eager")["activations"]
        assert got == pytest.approx(activation_mem(96, h, a, s, 1, recompute, 8, "B", sp=sp), rel=1e-12)


def test_first_pipeline_stage_holds_a_whole_model_of_activations():
    # Korthikanti et al. section 4.2.3: with 1F1B the first stage keeps p micro-batches of its L/p
    # layers, L layers' worth whatever p is (GPT-3, pp 8 x tp 8). Exact.
    got = rows("gpt3-175b", s, 1, gpus=64, tp=8, pp=8, recompute="selective", attention="eager")["activations"]
    assert got == pytest.approx(activation_mem(96, h, a, s, 1, "selective", 8, "B", sp=True), rel=1e-12)


# ----------------------------------------------------------------- ZeRO (Rajbhandari et al. 2020)


@pytest.mark.parametrize(("stage", "published_gb"), [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_figure_1_through_the_peak_memory_rows(stage, published_gb):
    # Figure 1: 7.5B parameters, 64 GPUs, mixed-precision Adam (K = 12). Model states are linear in the
    # parameter count, so the rows of a 7.5B-class GPT (Narayanan et al. 2021 Table 1: h 4096, 36 layers,
    # vocabulary 51,200) scaled to 7.5e9 parameters must print as the figure, to its one decimal.
    gpt = [["layers", 36], ["hidden", 4096], ["heads", 32], ["vocab", 51200], ["ffn_hidden", 16384],
           ["gated_mlp", False], ["tied_embeddings", True], ["bias", True]]  # a range of field/value rows
    assert round(model_params(gpt) / 1e9, 2) == 7.46
    gpt_rows = rows(gpt, 2048, 1, "fp16", gpus=64, zero_stage=stage)
    states = sum(gpt_rows[r] for r in STATES)
    assert round(states / model_params(gpt) * 7.5e9 / GB, 1) == published_gb
    assert states == pytest.approx(train_mem(model_params(gpt), "fp16", "adam", 64, stage, "B"), rel=1e-12)


def test_zero_trillion_parameters_on_1024_gpus():
    # Rajbhandari et al. 2020, section 1: with all three stages, a trillion-parameter model's 16 TB of
    # model states fit 1024 GPUs at 16 GB each (15.6 GB exactly). Exact.
    assert train_mem(1e12, "fp16", "adam", 1024, 3) == pytest.approx(16e12 / 1024 / GB, rel=1e-12)


# ----------------------------------------------------------------- QLoRA (Dettmers et al. 2023)

LLAMA_65B = {  # huggyllama/llama-65b config.json; Touvron et al. 2023, Table 2: 65.2B parameters
    "model_type": "llama", "hidden_size": 8192, "intermediate_size": 22016, "num_hidden_layers": 80,
    "num_attention_heads": 64, "vocab_size": 32000, "tie_word_embeddings": False,
}


def test_llama_65b_size():
    assert round(model_params(LLAMA_65B) / 1e9, 1) == 65.3  # 65.29B; the paper's "65.2B" truncates


def test_qlora_fine_tunes_65b_on_one_48gb_gpu():
    # QLoRA abstract: "finetune a 65B parameter model on a single 48GB GPU". Its recipe
    # (artidoro/qlora scripts/finetune_guanaco_65b.sh): nf4 with double quantization, LoRA r = 64 on every
    # linear layer, bf16, gradient checkpointing, paged 32-bit AdamW, sequences up to 512 tokens; one
    # sequence per micro-batch, as the paper's Figure 6 sizes the footprint.
    qlora = rows(LLAMA_65B, 512, 1, "nf4", "adamw", recompute="full", method="qlora", lora_rank=64)
    total = qlora["total"]
    # A "48GB" card (RTX A6000) has 48 GiB, 49,140 MiB as nvidia-smi reports it: the whole peak,
    # CUDA context and allocator slack included, fits with room to spare.
    assert total < 49_140 * 2**20
    # The tensors alone stay under 48e9 bytes, the paper's "<48GB" (45.4 GB).
    assert total - qlora["framework reserve"] < 48 * GB
    # The same fine-tune in 16-bit LoRA needs three such GPUs, and full fine-tuning more than the
    # paper's ">780GB" (16-bit weights and gradients, fp32 Adam: 12 bytes x 65.3B = 783 GB; with an fp32
    # master copy, 1,045 GB).
    assert call("TRAIN_PEAK_MEM", LLAMA_65B, 512, 1, recompute="full", method="lora", lora_rank=64) > 3 * 48
    assert train_mem(model_params(LLAMA_65B), "bf16", "adam") > 780
    assert model_params(LLAMA_65B) * 12 / GB > 780


# ----------------------------------------------------------------- DeepSpeed's model-state estimators

# deepspeed/runtime/zero/stage3.py, estimate_zero3_model_states_mem_needs (zero_init, k = 1.5 buffer
# factor, LLP = the largest layer's parameters), and stage_1_and_2.py, estimate_zero2_model_states_mem_needs:
#   ZeRO-3 offload params + optimizer: GPU 4 LLP;            host 18 P k / nodes
#   ZeRO-3 offload optimizer:          GPU 4 LLP + 2 P / G;  host 16 P k / nodes
#   ZeRO-2 offload optimizer:          GPU 2 P;              host P max(4 G, 16) k


def ds_zero3(P: float, llp: float, gpus: int, offload_params: bool) -> tuple[float, float]:
    k = 1.5
    if offload_params:
        return 18 * P * k, 4 * llp
    return 16 * P * k, 4 * llp + 2 * P / gpus


def test_deepspeed_formulas_reproduce_their_documented_example():
    # Hugging Face transformers DeepSpeed docs: bigscience/T0_3B, "2783M total params, 65M largest layer
    # params", one GPU: 70.00 GB | 0.25 GB (params + optimizer offloaded), 62.23 GB | 5.43 GB (optimizer),
    # printed in GiB. The counts are truncated to millions; the printed figures pin them closer (70.00 and
    # 62.23 put P in [2783.91, 2783.98) million, 0.25 puts LLP above 65.8 million), and the formulas
    # agree with every figure to its printed rounding, 0.005 GiB.
    P, llp = 2783.95e6, 65.9e6
    host, gpu = ds_zero3(P, llp, 1, True)
    assert (host / GIB, gpu / GIB) == pytest.approx((70.00, 0.25), abs=0.005)
    host, gpu = ds_zero3(P, llp, 1, False)
    assert (host / GIB, gpu / GIB) == pytest.approx((62.23, 5.43), abs=0.005)


@pytest.mark.parametrize("model", ["llama-2-7b", "mistral-7b", "qwen2.5-7b"])
def test_offload_rows_reproduce_deepspeed_zero3(model):
    # One node of 8 GPUs. Our model-state rows on the GPU are DeepSpeed's figure less its 4 LLP
    # working term (our transient row), and our host row times 8 GPUs is its per-node host memory. Exact.
    P = model_params(model)
    for offload, params in (("optimizer", False), ("optimizer+params", True)):
        r = rows(model, 4096, 1, gpus=8, zero_stage=3, offload=offload)
        host, gpu = ds_zero3(P, 0.0, 8, params)
        assert sum(r[x] for x in STATES) == pytest.approx(gpu, rel=1e-12)
        assert r[CPU_ROW] * 8 == pytest.approx(host, rel=1e-12)


def test_offload_rows_reproduce_deepspeed_zero2():
    # ZeRO-2 with optimizer offload on 4 GPUs of one node: GPU 2P (16-bit weights), host P x max(16, 16)
    # x 1.5 = 24P for the node. Exact.
    P = model_params("llama-2-7b")
    r = rows("llama-2-7b", 4096, 1, gpus=4, zero_stage=2, offload="optimizer")
    assert sum(r[x] for x in STATES) == pytest.approx(2 * P, rel=1e-12)
    assert r[CPU_ROW] * 4 == pytest.approx(P * max(4 * 4, 16) * 1.5, rel=1e-12)


# ----------------------------------------------------------------- measured: LitGPT LoRA runs

# Lightning-AI/litgpt config_hub/finetune/README.md: LoRA fine-tunes on one A10G, bf16-true, rank 32 on
# the query and value projections (lora.yaml of each model), micro-batches padded to their longest
# sequence and capped at 512 tokens, PyTorch's scaled_dot_product_attention (FlashAttention-2 kernels on
# the A10G). "Peak memory" is litgpt/finetune/lora.py's torch.cuda.max_memory_allocated() / 1e9: tensors
# only, so it compares with our total less the framework reserve. Tolerance 5%: LitGPT's LoRA dropout
# (0.05) keeps a dropped-out copy of the adapted input that we do not count (about 2% of the total
# here), it computes the head and the loss in chunks of 128 tokens (our 10 bytes per logit overstate
# that by up to 3%), its bf16 AdamW states are 4 bytes per adapter parameter where we count 8, and the
# longest sequence of the dataset may fall short of 512 tokens. Measured errors: -0.4%, -3.6%, -0.8%.
LITGPT = [
    ("llama-3-8b", 1, 19.73),
    ("llama-2-7b", 2, 19.77),
    ("mistral-7b", 2, 20.66),
]


@pytest.mark.parametrize(("model", "micro_batch", "measured_gb"), LITGPT)
def test_litgpt_measured_lora_peak(model, micro_batch, measured_gb):
    r = rows(model, 512, micro_batch, method="lora", lora_rank=32, lora_targets="q,v")
    assert (r["total"] - r["framework reserve"]) / GB == pytest.approx(measured_gb, rel=0.05)


# ----------------------------------------------------------------- compute


def test_mixtral_trains_on_its_active_parameters():
    # The issue: 6ND on Mixtral's 46.7B total overstates compute 3.6x; it runs 12.9B per token
    # (Jiang et al. 2024). Exact against MODEL_PARAMS(active).
    assert train_flops("mixtral-8x7b", 1e12) == 6 * model_params("mixtral-8x7b", True) * 1e12
    assert round(train_flops(model_params("mixtral-8x7b"), 1e12) / train_flops("mixtral-8x7b", 1e12), 1) == 3.6


def test_attention_and_recomputation_flops_match_megatron():
    # Narayanan et al. 2021 (FLOPs per iteration with full recomputation, the hardware FLOPs) and Korthikanti
    # et al. 2022 (model FLOPs, for MFU) for GPT-3 175B at s = 2048, per iteration of B sequences:
    #   hardware 96 B s l h^2 (1 + s/(6h) + V/(16 l h)), model 72 B s l h^2 (1 + s/(6h) + V/(12 l h)).
    # Both count attention without the causal mask; halving their s/(6h) term gives the causal count.
    # Within 0.1%: our parameter count adds biases, norms and position embeddings the formulas leave out.
    B, L, V = 1, 96, 50257
    tokens = B * s
    hardware = 96 * B * s * L * h**2 * (1 + s / (12 * h) + V / (16 * L * h))
    model = 72 * B * s * L * h**2 * (1 + s / (12 * h) + V / (12 * L * h))
    assert train_flops("gpt3-175b", tokens, s, "full") == pytest.approx(hardware, rel=1e-3)
    assert train_flops("gpt3-175b", tokens, s) == pytest.approx(model, rel=1e-3)
