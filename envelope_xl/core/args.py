"""What each argument name means, across the whole catalog (with its unit)."""

from envelope_xl.core.activations import ATTENTION
from envelope_xl.core.algorithms import ALGORITHMS
from envelope_xl.core.finetune import METHOD
from envelope_xl.core.peak_memory import OFFLOAD
from envelope_xl.core.recompute import RECOMPUTE
from envelope_xl.models import PRESETS
from envelope_xl.planning import TOKENIZERS, VECTOR_INDEXES
from envelope_xl.reference import GPU_FIELD_NAMES, GPUS, LINKS, OPTIMIZERS, PRECISIONS
from envelope_xl.registry import FLAG, MODEL, NUMBER, TEXT, WHOLE, describe_args
from envelope_xl.units import BYTE_UNITS

describe_args(NUMBER, {
    "params": "parameter count, e.g. 7e9",
    "tokens": "training tokens, e.g. 2e12",
    "count": "number of items stored, e.g. 1e9",
    "bytes_each": "bytes per item",
    "replication": "copies kept (>= 1; 3 for triple replication, 1.5 for erasure coding)",
    "overhead": "extra fraction on top of the data (0.3 = +30% for indexes, metadata)",
    "index_overhead": "index size as a fraction of the vectors (0.3 = +30%)",
    "mfu": "model FLOPs utilisation, fraction of peak achieved (0.4 = 40%)",
    "usd_per_gpu_hour": "price of one GPU-hour, USD",
    "days": "wall-clock deadline, days",
    "prompt_tokens": "tokens in the prompt",
    "qps": "requests per second",
    "latency_s": "time each request spends in the system, seconds",
    "tokens_per_request": "tokens generated per request",
    "tokens_per_sec_per_gpu": "sustained tokens/s one GPU delivers",
    "target_utilization": "fraction of capacity to plan for (0.7 = 70%, leaves headroom)",
    "value": "size to convert (>= 0)",
    "bytes": "size in bytes",
    "n": "count to format, e.g. 7e9",
    "logit_bytes": "bytes per logit held for the loss (10: 16-bit logits, fp32 copy and its gradient; 4 for "
    "Megatron's fused loss; about 0 for a fused linear cross-entropy)",
    "reserve_gb": "framework reserve per GPU in GB (CUDA context and allocator slack); default: measured context "
    "+ 5% of the rest",
    "goodput": "share of wall time spent training (GOODPUT; 1 = no failures or checkpoints)",
    "bandwidth_gbs": "per-GPU, per-direction bandwidth in GB/s, instead of the link's (empty: the link's)",
    "latency_us": "latency of one message step in microseconds, instead of the link's (empty: the link's)",
    "global_batch_tokens": "tokens per optimizer step over the whole cluster, e.g. 4194304 (1,024 x 4,096)",
    "compute_efficiency": "fraction of dense peak the GPUs sustain while computing, before communication and "
    "pipeline idle time",
    "overlap": "share of the data-parallel communication hidden behind compute (0 = none, 1 = all it can)",
    "gpu_mtbf_hours": "mean hours between job interruptions per GPU (all causes)",
    "checkpoint_write_s": "seconds to write one checkpoint (CHECKPOINT_WRITE_TIME)",
    "restart_s": "seconds from an interruption to training again: detect, reschedule, reload the checkpoint",
    "interval_s": "compute seconds between checkpoints (empty: the optimum, CHECKPOINT_INTERVAL)",
    "write_gbs": "aggregate write throughput of the checkpoint storage, GB/s",
})
describe_args(WHOLE, {
    "gpus": "number of GPUs (whole number)",
    "zero_stage": "ZeRO stage: 0 none, 1 optimizer states, 2 + gradients, 3 + weights",
    "layers": "transformer layers",
    "hidden": "hidden (model) width",
    "heads": "attention heads",
    "kv_heads": "key/value heads (= heads for multi-head attention, fewer with GQA)",
    "head_dim": "width of one attention head",
    "seq_len": "sequence length, tokens",
    "micro_batch": "sequences per micro-batch on one GPU",
    "batch": "concurrent sequences",
    "tp": "tensor-parallel degree",
    "pp": "pipeline-parallel degree (stages)",
    "dimension": "values per embedding vector",
    "vocab": "vocabulary size",
    "ffn_hidden": "MLP inner width (default 4 x hidden)",
    "experts": "MLP experts per layer (1 = dense)",
    "lora_rank": "LoRA rank r of each adapted matrix",
    "max_positions": "learned position embeddings (0 for rotary)",
    "micro_batches": "micro-batches per step",
    "virtual_stages": "model chunks per GPU (interleaved pipeline schedule; 1 = plain 1F1B)",
    "gpus_per_node": "GPUs per node sharing the intra-node link (8 for DGX/HGX)",
})
describe_args(FLAG, {
    "with_optimizer": "TRUE to include fp32 master weights and optimizer states",
    "binary": "TRUE for binary units (KiB, MiB, GiB), FALSE for decimal (KB, MB, GB)",
    "gated_mlp": "TRUE for a gated (SwiGLU) MLP with three matrices",
    "tied_embeddings": "TRUE when the output head reuses the input embedding",
    "bias": "TRUE when linear layers and norms have biases (GPT-2 style LayerNorm)",
    "sp": "TRUE for sequence parallelism (Megatron): norms, dropout and layer inputs split over tp too",
    "active": "TRUE for the parameters used per token (routed experts only; compute), FALSE for the total "
    "(memory)",
})
describe_args(TEXT, {"precision": "numeric format: fp32, tf32, bf16, fp16, fp8, int8, int4, nf4, fp4"}, PRECISIONS)
describe_args(TEXT, {"optimizer": "optimizer: adam, adamw, momentum, sgd, adam8bit, lion, adagrad, rmsprop"},
              OPTIMIZERS)
describe_args(TEXT, {"gpu": "GPU type, e.g. H100-SXM, A100-80GB, L4, MI300X, TPU-v5e"}, GPUS)
describe_args(TEXT, {"link": "interconnect, e.g. nvlink4, pcie5, ib-ndr, roce-400g, ethernet-100g",
                     "intra_link": "link between GPUs of a node (empty: the GPU's own, e.g. nvlink4 for H100-SXM)",
                     "inter_link": "link between nodes, per GPU, e.g. ib-ndr, roce-400g, efa-p5"}, LINKS)
describe_args(TEXT, {"algorithm": "collective algorithm: ring or tree (NCCL's double binary tree)"}, ALGORITHMS)
describe_args(MODEL, {"model": "model: a preset (llama-3-8b, qwen2.5-7b, deepseek-v3...), the path of a Hugging Face "
              "config.json, or a two-column range of field names and values"}, PRESETS)
describe_args(TEXT, {"recompute": "activation recomputation: none, selective or full"}, RECOMPUTE)
describe_args(TEXT, {"method": "training method: full, lora (frozen base, trained adapters) or qlora (frozen "
              "base in 4-bit)"}, METHOD)
describe_args(TEXT, {"offload": "what ZeRO moves to host memory: none, optimizer (ZeRO-Offload: gradients, master "
              "weights, optimizer states) or optimizer+params (ZeRO-Infinity: also the weights)"}, OFFLOAD)
describe_args(TEXT, {"lora_targets": "matrices LoRA adapts: all (every linear layer of attention and MLP), "
              "attention, mlp, or a list such as q,v (q, k, v, o, gate, up, down)"})
describe_args(TEXT, {"attention": "attention kernel: flash (FlashAttention, no score matrix stored) or eager"},
              ATTENTION)
describe_args(TEXT, {"field": "which figure to return"}, GPU_FIELD_NAMES)
describe_args(TEXT, {
    "from_unit": "unit of value: B, KB, MB, GB, TB, PB, KiB ... PiB",
    "to_unit": "unit wanted: B, KB, MB, GB, TB, PB, KiB ... PiB",
}, BYTE_UNITS)
describe_args(TEXT, {"unit": "unit of the result"})

# Traffic, fleets, feature and log storage, recommendation models.
describe_args(NUMBER, {
    "dau": "daily active users",
    "requests_per_user_per_day": "requests one active user makes per day",
    "peak_factor": "peak over average request rate (>= 1)",
    "active_hours": "hours of the day over which the requests arrive (24 = around the clock)",
    "flops_per_request": "FLOPs of the model for one request (all candidates it scores)",
    "core_gflops": "peak GFLOP/s of one CPU core",
    "efficiency": "share of the core's peak the model reaches (0.3 = 30%)",
    "core_seconds_per_request": "CPU time of one request, core-seconds (REQUEST_CORE_SECONDS)",
    "rate_per_s": "items per second (requests, events, rows)",
    "total_bytes": "data to hold, bytes",
    "node_bytes": "capacity of one node, bytes",
    "fill": "share of a node's capacity to fill (0.7 = 70%, leaves room to grow)",
    "qps_per_replica": "requests/s one replica of a shard serves (0 = no load limit)",
    "bytes_per_feature": "bytes of one feature value",
    "key_bytes": "bytes of the entity key",
    "timestamp_bytes": "bytes of the event timestamp",
    "entities": "entities with features (users, items)",
    "row_bytes": "bytes of one feature row (ROW_BYTES)",
    "updates_per_day": "rows written per entity per day to the offline store (1 = a daily snapshot)",
    "compression": "compression ratio, >= 1 (3 = a third of the size; 1 = none)",
    "online_replication": "copies of the online store (>= 1)",
    "offline_replication": "copies of the offline store (>= 1; 1 on object storage)",
    "index_bytes_per_row": "index overhead of the online store per row, bytes",
    "daily_bytes": "bytes written per day (before replication and compression)",
    "daily_growth": "growth of the daily volume per day, compounded (0.001 = +0.1% a day)",
    "bytes_per_token": "bytes of raw text per token",
    "rows": "rows of the embedding tables (ids over all tables)",
    "batch_rows": "distinct rows one batch touches (their gradients are kept); 0 when the optimizer is fused",
    "device_gb": "memory of one device or host, GB (default: the GPU's)",
    "examples": "training examples per epoch",
    "examples_per_sec_per_gpu": "training examples/s one GPU sustains",
    "epochs": "passes over the examples",
    "scaling_efficiency": "share of linear scaling kept from two GPUs on (0.9 = 90%)",
    "retrain_every_days": "days between retraining runs",
})
describe_args(WHOLE, {
    "cores_per_server": "CPU cores per server",
    "spare": "spare servers for N+k redundancy (0 or more)",
    "replicas": "copies of each shard (>= 1)",
    "features": "feature values per row",
    "retention_days": "days the data is kept",
    "hot_days": "most recent days kept on the hot tier (0 = no tiering)",
    "m": "HNSW links per vector per level (M; level 0 keeps 2M)",
    "code_bytes": "bytes of one IVF-PQ code (PQ sub-quantizers of 8 bits); divides the dimension",
    "lists": "IVF inverted lists (empty: 4 x sqrt(count))",
})
describe_args(TEXT, {"tokenizer": "tokenizer family: llama-3, llama-2, cl100k"}, TOKENIZERS)
describe_args(TEXT, {"index": "vector index: flat, hnsw, ivfflat, ivfpq"}, VECTOR_INDEXES)
