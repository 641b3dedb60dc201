"""Every catalog function against values computed by hand (shown in the comments)."""

from __future__ import annotations

import pytest

from envelope_xl.catalog import CATALOG, call

CASES = [
    # Precision and catalogs
    ("BYTES_PER_PARAM", ("fp64",), 8.0),
    ("BYTES_PER_PARAM", ("TF32",), 4.0),
    ("BYTES_PER_PARAM", (" bfloat16 ",), 2.0),
    ("BYTES_PER_PARAM", ("fp8",), 1.0),
    ("BYTES_PER_PARAM", ("int8",), 1.0),
    ("BYTES_PER_PARAM", ("fp4",), 0.5),
    ("GPU_SPEC", ("h100", "bandwidth_tbs"), 3.35),
    ("GPU_SPEC", ("A100-40GB", "bf16_tflops"), 312.0),  # dense; the datasheet's 624 is sparse
    ("GPU_SPEC", ("TPU-v5e", "memory_gb"), 16.0),  # as Google's page prints it (issue 17)
    ("GPU_SPEC", ("mi300x", "fp8_tflops"), 2614.9),
    ("MODEL_CONFIG", ("llama-2-70b", "kv_heads"), 8.0),
    # GPT-2: 12 x (12h^2 + 13h) + V h + 1024 h + 2h with h = 768, V = 50257
    ("MODEL_PARAMS", ("gpt2",), 12 * (12 * 768**2 + 13 * 768) + 50257 * 768 + 1024 * 768 + 2 * 768),
    ("MODEL_CONFIG", ("mixtral-8x7b", "experts"), 8.0),
    # Dense: every parameter is used by every token, so active == total.
    ("MODEL_PARAMS", ("gpt2", True), 12 * (12 * 768**2 + 13 * 768) + 50257 * 768 + 1024 * 768 + 2 * 768),
    ("MODEL_PARAMS", ("llama-2-7b", False), 6_738_415_616),
    # Mixtral 8x7B (h=4096, 32 layers, 32 heads of 128, 8 KV heads, gated f=14336, V=32000, untied),
    # 2 of 8 experts per token: embeddings + head 2*32000*4096 + attention 32*(2*4096*4096 + 2*4096*1024)
    # + 2 routed experts' MLPs 32*2*3*4096*14336 + full router 32*4096*8 + norms 65*4096 = 12,879,925,248
    ("MODEL_PARAMS", ("mixtral-8x7b", True),
     2 * 32000 * 4096 + 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024) + 32 * 2 * 3 * 4096 * 14336 + 32 * 4096 * 8
     + 65 * 4096),
    # Total minus the 6 experts not routed: 46,702,792,704 - 6*32*3*4096*14336 (same figure)
    ("MODEL_PARAMS", ("mixtral", 1), 46_702_792_704 - 6 * 32 * 3 * 4096 * 14336),
    # 2 layers, h=8, V=10, plain MLP f=32, MHA, untied, no bias:
    # embeddings 80 + head 80 + attention 2*4*64 = 512 + MLP 2*2*8*32 = 1024 + norms 5*8 = 40 -> 1736
    ("TRANSFORMER_PARAMS", (2, 8, 10), 1736.0),
    # Same with GQA (4 heads of 2, 1 KV head): attention 2*(2*8*8 + 2*8*2) = 320 -> 1544
    ("TRANSFORMER_PARAMS", (2, 8, 10, None, False, 4, 1), 1544.0),
    # MoE, 2 experts, gated f=16: MLP 2*2*3*8*16 = 1536, router 2*8*2 = 32; tied (no head):
    # 80 + 512 + 1536 + 32 + 40 = 2200
    ("TRANSFORMER_PARAMS", (2, 8, 10, 16, True, None, None, None, True, False, 2), 2200.0),
    # Qwen2.5-7B (h=3584, 28 layers, 28 heads of 128, 4 KV heads, gated f=18944, V=152064, untied),
    # biases on q, k, v: 2*152064*3584 + 28*(2*3584*3584 + 2*3584*512 + 3584 + 2*512
    # + 3*3584*18944 + 2*3584) + 3584 = 7,615,616,512 (the model card's 7.61B)
    ("MODEL_PARAMS", ("qwen2.5-7b",),
     2 * 152064 * 3584 + 28 * (2 * 3584 * 3584 + 2 * 3584 * 512 + 3584 + 2 * 512 + 3 * 3584 * 18944 + 2 * 3584)
     + 3584),
    ("MODEL_CONFIG", ("deepseek-v3", "kv_lora_rank"), 512.0),
    ("MODEL_CONFIG", ("gemma-2-9b", "window_layers"), 21.0),
    ("MODEL_CONFIG", ("qwen3-8b", "qk_norm"), True),
    # Memory
    ("MODEL_MEM", (7e9, "fp16"), 14.0),
    ("MODEL_MEM", (7e9, "int4", "GiB"), 3.5e9 / 2**30),
    ("TRAIN_MEM", (7e9, "bf16", "adam"), 112.0),  # 7e9 x (2 + 2 + 4 + 8)
    ("TRAIN_MEM", (7e9, "fp32", "adam"), 112.0),  # 7e9 x (4 + 4 + 0 + 8): no master copy
    ("TRAIN_MEM", (7e9, "bf16", "sgd"), 56.0),  # 7e9 x (2 + 2 + 4)
    ("TRAIN_MEM", (1e9, "bf16", "adam8bit"), 10.0),  # 1e9 x (2 + 2 + 4 + 2)
    ("TRAIN_MEM", (8e9, "bf16", "adam", 8, 1), 8 * 4 + 8 * 12 / 8),  # 32 + 12 = 44
    ("TRAIN_MEM", (8e9, "bf16", "adam", 8, 2), 16 + 8 * 14 / 8),  # 16 + 14 = 30
    ("TRAIN_MEM", (8e9, "bf16", "adam", 8, 3), 8 * 16 / 8),  # 16
    # 1 layer, s=100, b=1, h=1000, a=10: 100*1000*(34 + 5*10*100/1000) = 3.9e6 bytes
    # Llama 3 8B: 32 layers x 2 x 8 KV heads x 128 x 4096 tokens x 4 sequences x 2 bytes
    ("KV_CACHE_MODEL", ("llama-3-8b", 4096, 4), 32 * 2 * 8 * 128 * 4096 * 4 * 2 / 1e9),
    # DeepSeek-V3 (MLA): 61 layers x (512 latent + 64 RoPE key) x 1000 tokens x 1 byte (fp8)
    ("KV_CACHE_MODEL", ("deepseek-v3", 1000, 1, "fp8", "B"), 61 * 576 * 1000 * 1.0),
    # Mistral 7B v0.1: the 4,096-token window caps every layer: 32 x 2 x 8 x 128 x 4096 x 2 bytes
    ("KV_CACHE_MODEL", ("mistral-7b", 16384, 1, "bf16", "B"), 32 * 2 * 8 * 128 * 4096 * 2.0),
    # Gemma 2 9B at 8,192 tokens: 21 global layers hold 8192, 21 local layers 4096; 2 x 8 x 256 values
    ("KV_CACHE_MODEL", ("gemma-2-9b", 8192, 1, "bf16", "B"), (21 * 8192 + 21 * 4096) * 2 * 8 * 256 * 2.0),
    ("ACTIVATION_MEM", (1, 1000, 10, 100, 1, "none", 1, "B"), 3.9e6),
    ("ACTIVATION_MEM", (1, 1000, 10, 100, 1, "selective", 1, "B"), 3.4e6),
    ("ACTIVATION_MEM", (1, 1000, 10, 100, 1, "full", 1, "B"), 2e5),
    # tp=2: 100*1000*(10 + 12 + 5*10*100/2000) = 2.45e6
    ("ACTIVATION_MEM", (1, 1000, 10, 100, 1, "none", 2, "B"), 2.45e6),
    ("ACTIVATION_MEM", (1, 1000, 10, 100, 1, "full", 2, "B"), 2e5),
    ("KV_CACHE", (32, 8, 128, 8192), 2 * 32 * 8 * 128 * 8192 * 2 / 1e9),
    ("KV_CACHE", (32, 32, 128, 4096, 1, "bf16", "GiB"), 2.0),
    ("KV_CACHE", (80, 8, 128, 1000, 4, "fp8", "MB"), 2 * 80 * 8 * 128 * 1000 * 4 / 1e6),
    ("CHECKPOINT_SIZE", (7e9,), 98.0),  # 14 + 28 + 56
    ("CHECKPOINT_SIZE", (7e9, "int4", "adam", False), 3.5),
    # Storage
    ("STORAGE", (1e9, 1000), 1000.0),
    ("STORAGE", (1e9, 1000, 3, 0.5, "TB"), 4.5),
    ("EMBED_STORAGE", (1e9, 256), 1024.0),
    ("EMBED_STORAGE", (1e9, 256, "fp32", 3), 3072.0),
    ("EMBED_STORAGE", (1e6, 768, "fp16", 2, 0.25, "MB"), 1e6 * 768 * 2 * 2 * 1.25 / 1e6),
    # Compute and time
    ("TRAIN_FLOPS", (7e9, 1e12), 4.2e22),
    ("TRAIN_TIME", (7e9, 1e12, 1000, "A100-80GB", "bf16", 0.5, "s"), 4.2e22 / (1000 * 312e12 * 0.5)),
    ("TRAIN_TIME", (7e9, 1e12, 1000, "A100-80GB", "bf16", 0.5, "h"), 4.2e22 / (1000 * 312e12 * 0.5) / 3600),
    ("GPU_HOURS", (7e9, 1e12, "A100-80GB", "bf16", 0.5), 4.2e22 / (312e12 * 0.5) / 3600),
    ("TRAIN_COST", (7e9, 1e12, 2.5, "A100-80GB", "bf16", 0.5), 4.2e22 / (312e12 * 0.5) / 3600 * 2.5),
    # 4.2e22 / (312e12 * 0.5 * 10 * 86400) = 311.6 -> 312 GPUs
    ("GPUS_FOR_DEADLINE", (7e9, 1e12, 10, "A100-80GB", "bf16", 0.5), 312),
    ("CHINCHILLA_TOKENS", (7e9,), 1.4e11),
    # Throughput and serving
    ("DECODE_TPS", (7e9, "H100-SXM", "bf16", 1), 3.35e12 / 14e9),  # bandwidth-bound
    # batch 1000: compute-bound, 1000 / (2 * 7e9 * 1000 / 989.5e12) = 70,679
    ("DECODE_TPS", (7e9, "H100-SXM", "bf16", 1000), 989.5e12 / (2 * 7e9)),
    ("PREFILL_TIME", (7e9, 2000, "H100-SXM", "bf16", 0.5), 2 * 7e9 * 2000 / (989.5e12 * 0.5)),
    ("CONCURRENCY", (2000, 1.5), 3000.0),
    ("SERVING_GPUS", (2000, 500, 10000, 0.7), 143),  # 1e6 / 7000 = 142.9
    ("SERVING_GPUS", (100, 70, 1000, 0.7), 10),  # exactly 10: float noise must not make it 11
    # Units
    ("CONVERT_BYTES", (1, "TiB", "GB"), 1.099511627776e3),
    ("CONVERT_BYTES", (1500, "MB", "GB"), 1.5),
    ("HUMAN_BYTES", (112e9,), "112 GB"),
    ("HUMAN_BYTES", (3.5 * 2**30, True), "3.5 GiB"),
    ("HUMAN_BYTES", (999.9e6,), "1 GB"),
    ("HUMAN_BYTES", (0,), "0 B"),
    ("HUMAN_COUNT", (7e9,), "7B"),
    ("HUMAN_COUNT", (6738415616,), "6.74B"),
    ("HUMAN_COUNT", (999,), "999"),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_hand_computed(name, args, expected):
    value = call(name, *args)
    if isinstance(expected, str | int) and not isinstance(expected, float):
        assert value == expected
    else:
        assert value == pytest.approx(expected, rel=1e-12)


def test_every_scalar_function_has_a_hand_computed_case():
    covered = {name for name, _, _ in CASES}
    scalar = {spec.name for spec in CATALOG.values() if not spec.table}
    assert scalar - covered == set()


@pytest.mark.parametrize("spec", [s for s in CATALOG.values() if s.table], ids=lambda s: s.name)
def test_breakdown_components_add_up_to_the_scalar(spec):
    base = spec.name.removesuffix("_BREAKDOWN")
    args = {
        "TRAIN_MEM": (7e9, "bf16", "adam", 8, 2),
        "ACTIVATION_MEM": (32, 4096, 32, 4096, 1, "none", 2),
        "KV_CACHE": (32, 8, 128, 8192, 4),
        "CHECKPOINT_SIZE": (7e9,),
        "STORAGE": (1e9, 1000, 3, 0.5),
        "EMBED_STORAGE": (1e9, 256, "fp32", 3, 0.3),
        "TRAIN_TIME": (70e9, 2e12, 1024),
        "KV_CACHE_MODEL": ("gemma-2-9b", 8192, 4),  # both global and windowed layers
    }.get(base, spec.example)
    table = call(spec.name, *args)
    assert table[0][0] == "component"
    assert table[-1][0] == "total"
    assert table[-1][1] == call(base, *args)  # the same float: one formula, summed in one order
    assert sum(row[1] for row in table[1:-1]) == pytest.approx(table[-1][1], rel=1e-12)


def test_train_mem_breakdown_rows():
    assert call("TRAIN_MEM_BREAKDOWN", 7e9, "bf16", "adam") == [
        ["component", "GB"],
        ["weights", 14.0],
        ["gradients", 14.0],
        ["fp32 master weights", 28.0],
        ["optimizer states", 56.0],
        ["total", 112.0],
    ]


def test_excel_style_arguments():
    # Floats for whole numbers, None for empty optional cells, names in any case with spaces.
    assert call("TRAIN_MEM", 7e9, None, " ADAMW ", 64.0, 3.0, None) == pytest.approx(112 / 64)
    assert call("train_time", 7e9, 1e12, 1024.0) == call("TRAIN_TIME", 7e9, 1e12, 1024, "H100-SXM", "bf16", 0.4)
