"""Every catalog function against values computed by hand (shown in the comments)."""

from __future__ import annotations

import math

import pytest

from envelope_xl.catalog import CATALOG, call

#: A two-layer model as a spreadsheet range of field/value rows.
TINY = [["layers", 2], ["hidden", 8], ["heads", 2], ["vocab", 10], ["ffn_hidden", 32], ["gated_mlp", False],
        ["tied_embeddings", True]]

#: h = 1024, gated f = 4096, 2 layers, 8 heads, V = 1000 (tests/test_training_memory.py).
TRAINING_TINY = {
    "model_type": "llama", "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 2,
    "num_attention_heads": 8, "num_key_value_heads": 8, "vocab_size": 1000, "tie_word_embeddings": False,
}

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
    ("LINK_SPEC", ("nvlink4", "bandwidth_gbs"), 450.0),  # 900 GB/s both ways on the datasheet
    ("LINK_SPEC", ("InfiniBand NDR", "latency_us"), 14.0),
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
    # tp=2 with sequence parallelism: every term over 2, 3.9e6 / 2
    ("ACTIVATION_MEM", (1, 1000, 10, 100, 1, "none", 2, "B", True), 1.95e6),
    # FlashAttention: the 5as^2b score terms give way to a 4-byte log-sum-exp per head: 100*(34*1000 + 4*10)
    ("ACTIVATION_MEM", (1, 1000, 10, 100, 1, "none", 1, "B", False, "flash"), 100 * (34 * 1000 + 40)),
    # A model with h=1024, gated f=4096, 2 layers, 8 heads, V=1000 (tests/test_training_memory.py): 35,607,552
    # parameters x 16 bytes + 2 layers x 1024 tokens x 49,184 bytes of activations + 1024 x (1000 x 10 + 4 x 1024)
    # of logits = 684,883,968 bytes, x 1.05 allocator slack + 1.408e9 CUDA context
    ("TRAIN_PEAK_MEM", (TRAINING_TINY, 1024, 1, "bf16", "adam", 1, 0, "none", 1, 1, "B"),
     (35_607_552 * 16 + 2 * 1024 * 49_184 + 1024 * (1000 * 10 + 4 * 1024)) * 1.05 + 1.408e9),
    # The same on an L4 (24 GB): 1.05 x (569,720,832 + b x 115,163,136) + 1.408e9 <= 24e9 up to b = 181
    ("MAX_MICRO_BATCH", (TRAINING_TINY, 1024, "L4"), 181),
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
    # Mixtral 8x7B runs 12,879,925,248 parameters per token (MODEL_PARAMS active, above)
    ("TRAIN_FLOPS", ("mixtral-8x7b", 1e12), 6 * 12_879_925_248 * 1e12),
    # The small model at 1024 tokens: attention forward 2 x 8 heads x (128 + 128) x 2 layers x (1024 + 1)/2
    # attended tokens on average (causal), x 3 for the backward; full recomputation adds the forward of all
    # but the embedding and head (2 x (35,607,552 - 2,048,000)) and the attention forward once more
    ("TRAIN_FLOPS", (TRAINING_TINY, 1e9, 1024), 6 * 35_607_552 * 1e9 + 3 * 2 * 8 * 256 * 2 * 1025 / 2 * 1e9),
    ("TRAIN_FLOPS", (TRAINING_TINY, 1e9, 1024, "full"),
     6 * 35_607_552 * 1e9 + 4 * 2 * 8 * 256 * 2 * 1025 / 2 * 1e9 + 2 * (35_607_552 - 2_048_000) * 1e9),
    ("TRAIN_TIME", (7e9, 1e12, 1000, "A100-80GB", "bf16", 0.5, "s"), 4.2e22 / (1000 * 312e12 * 0.5)),
    ("TRAIN_TIME", (7e9, 1e12, 1000, "A100-80GB", "bf16", 0.5, "h"), 4.2e22 / (1000 * 312e12 * 0.5) / 3600),
    ("GPU_HOURS", (7e9, 1e12, "A100-80GB", "bf16", 0.5), 4.2e22 / (312e12 * 0.5) / 3600),
    ("TRAIN_COST", (7e9, 1e12, 2.5, "A100-80GB", "bf16", 0.5), 4.2e22 / (312e12 * 0.5) / 3600 * 2.5),
    # 4.2e22 / (312e12 * 0.5 * 10 * 86400) = 311.6 -> 312 GPUs
    ("GPUS_FOR_DEADLINE", (7e9, 1e12, 10, "A100-80GB", "bf16", 0.5), 312),
    ("CHINCHILLA_TOKENS", (7e9,), 1.4e11),
    # goodput 0.8: the same computing time over 0.8 of the wall clock
    ("TRAIN_TIME", (7e9, 1e12, 1000, "A100-80GB", "bf16", 0.5, "s", 0.8), 4.2e22 / (1000 * 312e12 * 0.5) / 0.8),
    ("GPU_HOURS", (7e9, 1e12, "A100-80GB", "bf16", 0.5, 0.8), 4.2e22 / (312e12 * 0.5) / 3600 / 0.8),
    ("TRAIN_COST", (7e9, 1e12, 2.5, "A100-80GB", "bf16", 0.5, 0.8), 4.2e22 / (312e12 * 0.5) / 3600 / 0.8 * 2.5),
    # 311.6 / 0.9 = 346.2 -> 347 GPUs
    ("GPUS_FOR_DEADLINE", (7e9, 1e12, 10, "A100-80GB", "bf16", 0.5, 0.9), 347),
    # Parallel training. NVLink 4: 450e9 B/s, 3.4 us per step; NDR: 50e9 B/s, 14 us.
    ("ALLREDUCE_TIME", (1e9, 8), (2 * 7 / 8 * 1e9 / 450e9 + 14 * 3.4e-6) * 1e3),  # ms
    ("ALLREDUCE_TIME", (1e9, 8, "nvlink4", None, None, "tree"), (2 * 1e9 / 450e9 + 2 * 3 * 3.4e-6) * 1e3),
    ("ALLREDUCE_TIME", (1e9, 1), 0.0),  # one GPU: nothing to exchange
    ("ALLREDUCE_TIME", (4e9, 64, "ib-ndr", 25, 0, "ring", "s"), 2 * 63 / 64 * 4e9 / 25e9),
    ("ALLGATHER_TIME", (1e9, 8), (7 / 8 * 1e9 / 450e9 + 7 * 3.4e-6) * 1e3),
    ("REDUCE_SCATTER_TIME", (1e9, 64, "ib-ndr"), (63 / 64 * 1e9 / 50e9 + 63 * 14e-6) * 1e3),
    # A 2-layer model (h=8, 2 heads, V=10, plain MLP f=32, tied, no bias: 1,656 parameters) on one
    # H100: 4 tokens x (6 x 1656 + 3 x 256 attention FLOPs + 256 recomputed) / (989.5e12 x 0.62).
    # Attention forward per token at s=4: 4 x 2 layers x 8 wide x 4 tokens = 256 FLOPs.
    ("TRAIN_STEP_TIME", (TINY, 4, 1, "H100-SXM", "bf16", 1, 1, 0, 4), 4 * (6 * 1656 + 4 * 256) / (989.5e12 * 0.62)),
    # The same on 2 GPUs, tp 2: half the compute, plus 2 layers x 4 all-reduces of 4 x 8 x 2 bytes
    # over 2 GPUs on NVLink 4: 2 x 1/2 x 64 / 450e9 s + 2 steps x 3.4 us each.
    ("TRAIN_STEP_TIME", (TINY, 4, 2, "H100-SXM", "bf16", 2, 1, 0, 4),
     4 * (6 * 1656 + 4 * 256) / (989.5e12 * 0.62) / 2 + 8 * (64 / 450e9 + 2 * 3.4e-6)),
    ("PIPELINE_BUBBLE", (8, 32), 7 / 39),
    ("PIPELINE_BUBBLE", (8, 32, 2), 7 / 71),
    ("PIPELINE_BUBBLE", (1, 10), 0.0),
    # Failures and checkpoints
    ("EXPECTED_INTERRUPTIONS", (1000, 10, 10000), 24.0),  # 1000 GPUs x 240 h / 10,000 h
    ("CHECKPOINT_WRITE_TIME", (1e12, 100), 10.0),
    ("CHECKPOINT_WRITE_TIME", (1e12, 100, "min"), 10 / 60),
    # M = 86,400 s (one GPU, 24 h), d = 300 s: sqrt(2dM) = 7,200 s; x = d / 2M
    ("CHECKPOINT_INTERVAL", (300, 1, 24), 7200 * (1 + (300 / 172800) ** 0.5 / 3 + 300 / 172800 / 9) - 300),
    ("CHECKPOINT_INTERVAL", (3e5, 1, 24), 86400.0),  # d >= 2M: Daly's interval is M
    # Daly's complete model, tau = 7,200 s: tau / (M (e^((tau + d)/M) - 1) e^(R/M))
    ("GOODPUT", (1, 300, 600, 24, 7200), 7200 / (86400 * math.expm1(7500 / 86400) * math.exp(600 / 86400))),
    # Throughput and serving (more in test_serving.py)
    # A bare count, one sequence, empty cache: 14e9 bytes at 60% of 3.35 TB/s = 143.6 tokens/s
    ("DECODE_TPS", (7e9, "H100-SXM", "bf16", 1), 3.35e12 * 0.6 / 14e9),
    # batch 1000 at the pure roofline: compute-bound, 1000 / (2 * 7e9 * 1000 / 989.5e12) = 70,679
    ("DECODE_TPS", (7e9, "H100-SXM", "bf16", 1000, 0, None, 1, 1, 1), 989.5e12 / (2 * 7e9)),
    # Llama 2 7B, one sequence, pure roofline: all weights but the input embedding's other rows,
    # (6,738,415,616 - 32000 x 4096 + 4096) x 2 bytes over 3.35 TB/s
    ("TPOT", ("llama-2-7b", "H100-SXM", "bf16", 1, 0, "s", None, 1, 1), 6_607_347_712 * 2 / 3.35e12),
    # Llama 3 8B, 4,096 tokens: (80e9 x 0.9 - 3.3e9 - 8,030,261,248 x 2) / (4096 x 131,072) = 98.05
    ("MAX_BATCH", ("llama-3-8b", 4096), 98),
    ("PREFILL_TIME", (7e9, 2000, "H100-SXM", "bf16", 0.5), 2 * 7e9 * 2000 / (989.5e12 * 0.5)),
    # Llama 2 7B, 1,000 tokens: 2 x 6,738,415,616 x 1000 + causal attention 2 x 32 heads x 256 x 32 layers
    # x (1000 x 1001 / 2) pairs, over half the bf16 peak
    ("TTFT", ("llama-2-7b", 1000, "H100-SXM", "bf16", 0.5),
     (2 * 6_738_415_616 * 1000 + 2 * 32 * 256 * 32 * 500_500) / (989.5e12 * 0.5)),
    ("CONCURRENCY", (2000, 1.5), 3000.0),
    ("SERVING_GPUS", (2000, 500, 10000, 0.7), 143),  # 1e6 / 7000 = 142.9
    ("SERVING_GPUS", (100, 70, 1000, 0.7), 10),  # exactly 10: float noise must not make it 11
    # Traffic, fleets, feature and log storage, recommendation models
    ("PEAK_QPS", (1e6, 10), 1e7 / 86400 * 3),  # 115.7 average x 3
    ("PEAK_QPS", (1e6, 10, 2, 16), 1e7 / (16 * 3600) * 2),  # requests arrive over 16 hours
    ("REQUEST_CORE_SECONDS", (20e6,), 20e6 / (128e9 * 0.3)),
    ("REQUEST_CORE_SECONDS", (1e9, 100, 0.5), 1e9 / 50e9),
    ("SERVERS_FOR_QPS", (7000, 0.01), 5),  # ceil(70 / 22.4) = 4, + 1 spare
    ("SERVERS_FOR_QPS", (10000, 0.0224, 32, 0.7, 0), 10),  # 224 / 22.4 is exactly 10: float noise must not add one
    ("BANDWIDTH", (7000, 2000), 0.112),  # 14 MB/s x 8 bits
    ("BANDWIDTH", (7000, 2000, "MB/s"), 14.0),
    ("SHARDS", (10e12, 1e12), 45),  # ceil(10 / 0.7) = 15 shards x 3 replicas
    ("SHARDS", (10e12, 1e12, 0.7, 3, 20000, 5000), 60),  # the load needs 4 replicas: 15 x 4
    ("ROW_BYTES", (200,), 1624.0),  # 200 x 8 + 16 + 8
    ("ROW_BYTES", (10, 4, 8, 0), 48.0),
    ("RETAINED_STORAGE", (5e12, 90, 3, 0.1, "TB"), 1485.0),  # 5 x 90 x 3 x 1.1
    ("RETAINED_STORAGE", (1, 3, 1, 0, "B", 1, 0.1), 1 + 1.1 + 1.21),  # growth compounds daily
    ("RETAINED_STORAGE", (6e12, 30, 3, 0, "TB", 3), 180.0),  # 6 x 30 x 3 / 3
    ("DATASET_STORAGE", (1e6, None, 1, 1, "B"), 1e6 * (3.94 + 4)),  # Llama 3: 3.94 bytes of text, 4-byte ids
    ("DATASET_STORAGE", (1e6, None, 2, 2, "B", "llama-2"), 2 * 1e6 * (3.17 / 2 + 2)),  # 2-byte ids below 65,500
    ("VECTOR_INDEX_MEM", (1e6, 128, "flat", "fp32", "B"), 512e6),
    ("VECTOR_INDEX_MEM", (1e6, 128, "hnsw", "fp32", "B"), 1e6 * (512 + 256 + 32 / 31 * 4 + 12)),
    ("VECTOR_INDEX_MEM", (1e6, 128, "ivfpq", "fp32", "B", 32, 64, 1000), 1e6 * (64 + 8) + (1000 + 256) * 128 * 4),
    ("VECTOR_INDEX_MEM", (1e6, 128, "ivfflat", "fp32", "B", 32, 64, 1000), 1e6 * (512 + 8) + 1000 * 128 * 4),
    ("EMBEDDING_TABLE_MEM", (1e9, 64), 512.0),  # table 256 + AdaGrad state 256
    ("EMBEDDING_TABLE_MEM", (1e9, 64, "fp32", "rowwise_adagrad"), 260.0),  # state: 4 bytes per row
    ("EMBEDDING_TABLE_MEM", (1e9, 64, "fp16", "adam", "GB", 1e6), 128 + 512 + 1e6 * (128 + 8) / 1e9),
    ("EMBEDDING_SHARDS", (1e9, 64), 8),  # 512 / (80 x 0.85) = 7.5
    ("EMBEDDING_SHARDS", (1e9, 64, "H100-SXM", "fp32", "adagrad", 0.85, 512), 2),  # hosts of 512 GB
    ("TRAIN_TIME_EXAMPLES", (4e9, 200000, 8), 4e9 / (200000 * 8 * 0.9) / 3600),
    ("TRAIN_TIME_EXAMPLES", (4e9, 200000, 1, 2), 2 * 4e9 / 200000 / 3600),  # one GPU: no scaling loss
    ("RETRAINING_COST", (4e9, 200000, 8, 2.5), 4e9 / (200000 * 8 * 0.9) / 3600 * 8 * 2.5 * 365 / 7),
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


@pytest.mark.parametrize("spec", [s for s in CATALOG.values() if s.name.endswith("_BREAKDOWN")],
                         ids=lambda s: s.name)
def test_breakdown_components_add_up_to_the_scalar(spec):
    base = spec.name.removesuffix("_BREAKDOWN")
    args = {
        "TRAIN_MEM": (7e9, "bf16", "adam", 8, 2),
        "ACTIVATION_MEM": (32, 4096, 32, 4096, 1, "none", 2),
        "KV_CACHE": (32, 8, 128, 8192, 4),
        "CHECKPOINT_SIZE": (7e9,),
        "STORAGE": (1e9, 1000, 3, 0.5),
        "EMBED_STORAGE": (1e9, 256, "fp32", 3, 0.3),
        "TRAIN_TIME": (70e9, 2e12, 1024, "H100-SXM", "bf16", 0.4, "days", 0.9),
        "RETAINED_STORAGE": (5e12, 90, 3, 0.1, "TB", 2.9, 0.001, 7),
        "DATASET_STORAGE": (15e12, None, 3, 3),
        "VECTOR_INDEX_MEM": (1e9, 128, "hnsw"),
        "EMBEDDING_TABLE_MEM": (1e9, 64, "bf16", "adam", "GB", 1e6),
        "KV_CACHE_MODEL": ("gemma-2-9b", 8192, 4),  # both global and windowed layers
        "ALLGATHER_TIME": (1e9, 64, "ib-ndr"),
        "REDUCE_SCATTER_TIME": (1e9, 8, "pcie5"),
    }.get(base, spec.example)
    table = call(spec.name, *args)
    if table[0][0] != "component":  # steps that do not add up, or a plan: test_serving.py checks them
        return
    assert table[0][0] == "component"
    end = [row[0] for row in table].index("total")  # rows after the total are not parts (host memory)
    assert len(table) - 1 - end == sum(s.aside for s in spec.steps)
    assert table[end][1] == call(base, *args)  # the same float: one formula, summed in one order
    assert sum(row[1] for row in table[1:end]) == pytest.approx(table[end][1], rel=1e-12)


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
