"""The calculation core: pure functions over the reference data, standard library only.

Importing this package registers every function in the catalog (`envelope_xl.registry`).
"""

# ruff: noqa: I001  (the import order below is the order of the catalog and its docs)
from envelope_xl.core import args as _args  # noqa: F401  (argument meanings before any @register)
from envelope_xl.core.lookups import bytes_per_param, gpu_spec, link_spec
from envelope_xl.core.architecture import model_config, model_params, transformer_params
from envelope_xl.core.memory import activation_mem, checkpoint_size, kv_cache, model_mem, train_mem
from envelope_xl.core.kv_model import kv_cache_model
from envelope_xl.core.training_memory import max_micro_batch, train_peak_mem
from envelope_xl.core.storage import dataset_storage, embed_storage, retained_storage, storage
from envelope_xl.core.indexes import vector_index_mem
from envelope_xl.core.features import feature_store, row_bytes
from envelope_xl.core.training import (
    chinchilla_tokens,
    gpu_hours,
    gpus_for_deadline,
    train_cost,
    train_flops,
    train_time,
)
from envelope_xl.core.cluster import (
    allgather_time,
    allreduce_time,
    pipeline_bubble,
    reduce_scatter_time,
    train_step_time,
)
from envelope_xl.core.reliability import (
    checkpoint_interval,
    checkpoint_write_time,
    expected_interruptions,
    goodput,
)
from envelope_xl.core.recsys import embedding_shards, embedding_table_mem, retraining_cost, train_time_examples
from envelope_xl.core.serving import concurrency, decode_tps, max_batch, prefill_time, serving_gpus, tpot
from envelope_xl.core.serving_plan import serving_plan
from envelope_xl.core.fleet import bandwidth, peak_qps, request_core_seconds, servers_for_qps, shards
from envelope_xl.core.formatting import convert_bytes, human_bytes, human_count

__all__ = [
    "activation_mem",
    "allgather_time",
    "allreduce_time",
    "bandwidth",
    "bytes_per_param",
    "checkpoint_interval",
    "checkpoint_size",
    "checkpoint_write_time",
    "chinchilla_tokens",
    "concurrency",
    "convert_bytes",
    "dataset_storage",
    "decode_tps",
    "embed_storage",
    "embedding_shards",
    "embedding_table_mem",
    "expected_interruptions",
    "feature_store",
    "goodput",
    "gpu_hours",
    "gpu_spec",
    "gpus_for_deadline",
    "human_bytes",
    "human_count",
    "kv_cache",
    "kv_cache_model",
    "link_spec",
    "max_batch",
    "max_micro_batch",
    "model_config",
    "model_mem",
    "model_params",
    "peak_qps",
    "pipeline_bubble",
    "prefill_time",
    "reduce_scatter_time",
    "request_core_seconds",
    "retained_storage",
    "retraining_cost",
    "row_bytes",
    "servers_for_qps",
    "serving_gpus",
    "serving_plan",
    "shards",
    "storage",
    "tpot",
    "train_cost",
    "train_flops",
    "train_mem",
    "train_peak_mem",
    "train_step_time",
    "train_time",
    "train_time_examples",
    "transformer_params",
    "vector_index_mem",
]
