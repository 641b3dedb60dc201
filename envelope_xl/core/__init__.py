"""The calculation core: pure functions over the reference data, standard library only.

Importing this package registers every function in the catalog (`envelope_xl.registry`).
"""

# ruff: noqa: I001  (the import order below is the order of the catalog and its docs)
from envelope_xl.core import args as _args  # noqa: F401  (argument meanings before any @register)
from envelope_xl.core.lookups import bytes_per_param, gpu_spec, link_spec
from envelope_xl.core.architecture import model_config, model_params, transformer_params
from envelope_xl.core.memory import activation_mem, checkpoint_size, kv_cache, model_mem, train_mem
from envelope_xl.core.kv_model import kv_cache_model
from envelope_xl.core.storage import embed_storage, storage
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
from envelope_xl.core.serving import concurrency, decode_tps, prefill_time, serving_gpus
from envelope_xl.core.formatting import convert_bytes, human_bytes, human_count

__all__ = [
    "activation_mem",
    "allgather_time",
    "allreduce_time",
    "bytes_per_param",
    "checkpoint_interval",
    "checkpoint_size",
    "checkpoint_write_time",
    "chinchilla_tokens",
    "concurrency",
    "convert_bytes",
    "decode_tps",
    "embed_storage",
    "expected_interruptions",
    "goodput",
    "gpu_hours",
    "gpu_spec",
    "gpus_for_deadline",
    "human_bytes",
    "human_count",
    "kv_cache",
    "kv_cache_model",
    "link_spec",
    "model_config",
    "model_mem",
    "model_params",
    "pipeline_bubble",
    "prefill_time",
    "reduce_scatter_time",
    "serving_gpus",
    "storage",
    "train_cost",
    "train_flops",
    "train_mem",
    "train_step_time",
    "train_time",
    "transformer_params",
]
