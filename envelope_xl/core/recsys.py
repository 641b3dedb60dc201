"""Recommendation models: embedding-table memory with sparse updates, the devices the tables
need, training time in examples, and the yearly cost of retraining on fresh data.

Recommendation models are dominated by embedding tables whose rows a batch touches sparsely:
their gradients cover the touched rows only, and their optimizers may keep one value per row
(row-wise AdaGrad) instead of one per element. Training is measured in examples per second.
"""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.checks import fraction, non_negative, positive, whole
from envelope_xl.errors import InputError
from envelope_xl.planning import DEFAULTS, EMBEDDING_OPTIMIZERS, STATE_BYTES, default
from envelope_xl.reference import GPUS, PRECISIONS
from envelope_xl.registry import Step, register
from envelope_xl.sources import brief
from envelope_xl.units import BYTE_UNITS, SECONDS_PER_DAY, SECONDS_PER_HOUR, TIME_UNITS

#: Bytes of one row index of a sparse gradient (int64, as PyTorch's sparse COO indices).
ROW_INDEX_BYTES = 8.0
DAYS_PER_YEAR = 365.0

_FBGEMM = (
    "fbgemm file 'fbgemm_gpu/split_embedding_configs.py' (EmbOptimType.state_size_table: "
    "EXACT_ROWWISE_ADAGRAD 1, ADAM 2 x D per row, fp32 by default); naumov2019 section 2 (the embedding "
    "tables of DLRM)"
)


def _table_steps(
    rows: float, dimension: int, precision: str, optimizer: str, batch_rows: float
) -> tuple[float, float, float]:
    n = positive("rows", rows)
    d = whole("dimension", dimension)
    p = PRECISIONS.get("precision", precision)
    if not p.trainable:
        raise InputError("precision", precision, "expected a floating-point format tables train in (fp32, bf16, "
                         "fp16, fp8); integer formats serve quantized tables, not training")
    o = EMBEDDING_OPTIMIZERS.get("optimizer", optimizer)
    touched = non_negative("batch_rows", batch_rows)
    if touched > n:
        raise InputError("batch_rows", batch_rows, f"expected at most rows ({n:g}): a batch touches rows of the table")
    state = n * (o.per_element * d + o.per_row) * STATE_BYTES
    gradients = touched * (d * p.bytes + ROW_INDEX_BYTES)
    return n * d * p.bytes, state, gradients


def _optimizer_assumptions(a: dict[str, Any]) -> list[str]:
    o = EMBEDDING_OPTIMIZERS.get("optimizer", a["optimizer"])
    return [f"{o.name} keeps {o.per_element:g} fp32 value(s) per element and {o.per_row:g} per row "
            f"({brief(o.source)})"]


def _table_decision(a: dict[str, Any], total: float) -> str:
    table, state, _ = _table_steps(**{k: v for k, v in a.items() if k != "unit"})
    o = EMBEDDING_OPTIMIZERS.get("optimizer", a["optimizer"])
    said = f"optimizer state is {state / table:.3g}x the table"
    if o.per_element > 0:
        rowwise = positive("rows", a["rows"]) * STATE_BYTES
        unit = BYTE_UNITS.get("unit", a["unit"])
        name = BYTE_UNITS.name(a["unit"])
        return (f"{said}; row-wise AdaGrad would keep {rowwise / unit:,.4g} {name} instead, saving "
                f"{(state - rowwise) / unit:,.4g} {name}")
    return said


@register(
    "EMBEDDING_TABLE_MEM",
    example=(1e9, 64, "fp32", "rowwise_adagrad"),
    pillar="Recommendation models",
    summary="Training memory of recommendation embedding tables with sparse updates: the table, the optimizer "
    "state (per element or per row), and the gradients of the rows a batch touches (named batch_rows).",
    returns="bytes, in `unit` (default GB)",
    unit_kind="bytes",
    formula="rows x dimension x bytes(precision) + rows x (per-element x dimension + per-row) x 4 + "
    "batch_rows x (dimension x bytes + 8)",
    source=_FBGEMM,
    assumptions=(
        "gradients cover only the rows a batch touches (sparse), each with its 8-byte row index; 0 rows when the "
        "optimizer is fused into the backward pass (FBGEMM), which is the default",
        "optimizer states are fp32 whatever the table's precision (FBGEMM's default)",
        "the dense layers of the model (MLPs) are counted separately: TRAIN_MEM",
    ),
    steps=(
        Step("table", "rows x dimension x bytes(precision)"),
        Step("optimizer state", "rows x (values per element x dimension + values per row) x 4 bytes"),
        Step("gradients of touched rows", "batch_rows x (dimension x bytes(precision) + 8)"),
    ),
    steps_fn=_table_steps,
    decision=_table_decision,
    assumptions_fn=_optimizer_assumptions,
    arg_choices={"optimizer": EMBEDDING_OPTIMIZERS},
    arg_docs={"optimizer": "embedding optimizer: sgd, adagrad, rowwise_adagrad (one value per row, FBGEMM), "
              "partial_rowwise_adam, adam",
              "precision": "format of the table's values: fp32, bf16, fp16, fp8"},
)
def embedding_table_mem(
    rows: float,
    dimension: int,
    precision: str = "fp32",
    optimizer: str = "adagrad",
    unit: str = "GB",
    batch_rows: float = 0,
) -> float:
    """Training memory of embedding tables, in `unit`.

    Formula: table R x D x b + state R x (e x D + r) x 4 + gradients B x (D x b + 8), with
    e and r the optimizer's fp32 values per element and per row, B = batch_rows.

    Assumptions: sparse gradients of the touched rows only (none when the optimizer is fused
    into the backward pass, as FBGEMM does); fp32 optimizer states.

    Source: FBGEMM split_embedding_configs.py (EXACT_ROWWISE_ADAGRAD keeps 1 value per row).

    Examples:
        1 billion rows of 64 fp32 values with AdaGrad: 256 GB of table and 256 GB of state;
        row-wise AdaGrad keeps 4 bytes per row instead.

        >>> embedding_table_mem(1e9, 64), embedding_table_mem(1e9, 64, "fp32", "rowwise_adagrad")
        (512.0, 260.0)
    """
    table, state, gradients = _table_steps(rows, dimension, precision, optimizer, batch_rows)
    return (table + state + gradients) / BYTE_UNITS.get("unit", unit)


def _device_gb(gpu: str, device_gb: float | None) -> float:
    return GPUS.get("gpu", gpu).specs["memory_gb"] if device_gb is None else positive("device_gb", device_gb)


def _shard_steps(
    rows: float, dimension: int, gpu: str, precision: str, optimizer: str, fill: float, device_gb: float | None,
    batch_rows: float,
) -> tuple[float, float, int]:
    need = sum(_table_steps(rows, dimension, precision, optimizer, batch_rows)) / 1e9
    usable = _device_gb(gpu, device_gb) * fraction("fill", fill)
    return need, usable, math.ceil(need / usable * (1 - 1e-12))


def _shard_decision(a: dict[str, Any], devices: int) -> str:
    need, usable, _ = _shard_steps(**a)
    what = a["gpu"] if a["device_gb"] is None else f"{a['device_gb']:g} GB devices or hosts"
    return (f"shard the tables over {devices} x {what} ({usable:,.4g} GB usable each); "
            f"the last one is {need / usable - (devices - 1):.0%} full")


@register(
    "EMBEDDING_SHARDS",
    example=(1e9, 64, "H100-SXM", "fp32", "rowwise_adagrad"),
    pillar="Recommendation models",
    summary="GPUs (or hosts, with device_gb) that embedding tables need for training: EMBEDDING_TABLE_MEM over "
    "the device memory left after a reservation for activations and buffers.",
    returns="devices (whole number)",
    result_unit="devices",
    formula="ceiling(EMBEDDING_TABLE_MEM / (memory of the device x fill))",
    source=f"{DEFAULTS['embedding_fill'].source}; {_FBGEMM}",
    assumptions=(
        "tables split by rows over the devices (row-wise sharding) so they fill each device evenly",
        DEFAULTS["embedding_fill"].assumption("fill"),
    ),
    steps=(
        Step("table memory", "EMBEDDING_TABLE_MEM in GB", part=False, unit="GB"),
        Step("usable memory per device", "memory of the device x fill", part=False, unit="GB"),
        Step("devices", "ceiling(table memory / usable memory per device)", part=False, unit="devices"),
    ),
    steps_fn=_shard_steps,
    decision=_shard_decision,
    assumptions_fn=_optimizer_assumptions,
    arg_choices={"optimizer": EMBEDDING_OPTIMIZERS},
    arg_docs={"optimizer": "embedding optimizer: sgd, adagrad, rowwise_adagrad, partial_rowwise_adam, adam",
              "precision": "format of the table's values: fp32, bf16, fp16, fp8",
              "fill": "share of each device's memory given to the tables (default 0.85: TorchRec reserves 15%)"},
)
def embedding_shards(
    rows: float,
    dimension: int,
    gpu: str = "H100-SXM",
    precision: str = "fp32",
    optimizer: str = "adagrad",
    fill: float = default("embedding_fill"),
    device_gb: float | None = None,
    batch_rows: float = 0,
) -> int:
    """Devices the embedding tables need, rounded up.

    Formula: ceil(EMBEDDING_TABLE_MEM / (device memory x fill)); the device memory is the
    GPU's, or `device_gb` for hosts.

    Examples:
        512 GB of AdaGrad tables on 80 GB H100s at 85%: 512 / 68 = 7.5, so 8 GPUs.

        >>> embedding_shards(1e9, 64), embedding_shards(1e9, 64, device_gb=512)
        (8, 2)
    """
    return _shard_steps(rows, dimension, gpu, precision, optimizer, fill, device_gb, batch_rows)[2]


# Training time in examples, and retraining --------------------------------------------------

def _examples_steps(
    examples: float, examples_per_sec_per_gpu: float, gpus: int, epochs: float, scaling_efficiency: float
) -> tuple[float, float, float]:
    work = positive("examples", examples) * positive("epochs", epochs)
    n = whole("gpus", gpus)
    efficiency = fraction("scaling_efficiency", scaling_efficiency) if n > 1 else 1.0  # one GPU scales perfectly
    rate = positive("examples_per_sec_per_gpu", examples_per_sec_per_gpu) * n * efficiency
    return work, rate, work / rate


def _examples_decision(a: dict[str, Any], time: float) -> str:
    _, _, seconds = _examples_steps(**{k: v for k, v in a.items() if k != "unit"})
    return (f"a run takes {time:,.3g} {TIME_UNITS.name(a['unit'])} on {a['gpus']:g} GPUs: "
            f"{seconds / SECONDS_PER_HOUR * a['gpus']:,.4g} GPU-hours")


@register(
    "TRAIN_TIME_EXAMPLES",
    example=(4e9, 200000, 8),
    pillar="Recommendation models",
    summary="Wall-clock training time measured in examples (recommendation and ranking models): examples x "
    "epochs over the cluster's examples/s, with a scaling efficiency beyond one GPU.",
    returns="time, in `unit` (default hours)",
    unit_kind="time",
    formula="examples x epochs / (examples_per_sec_per_gpu x gpus x scaling_efficiency)",
    source=DEFAULTS["scaling_efficiency"].source,
    assumptions=(
        "examples_per_sec_per_gpu is measured on one GPU with the model and batch of the run",
        "scaling_efficiency applies from two GPUs on; one GPU runs at its own rate",
        DEFAULTS["scaling_efficiency"].assumption(),
    ),
    steps=(
        Step("examples processed", "examples x epochs", part=False, unit="examples"),
        Step("cluster throughput", "examples_per_sec_per_gpu x gpus x scaling_efficiency", part=False,
             unit="examples/s"),
        Step("training time", "examples processed / cluster throughput", part=False, in_result_unit=True),
    ),
    steps_fn=_examples_steps,
    decision=_examples_decision,
)
def train_time_examples(
    examples: float,
    examples_per_sec_per_gpu: float,
    gpus: int,
    epochs: float = 1,
    scaling_efficiency: float = default("scaling_efficiency"),
    unit: str = "hours",
) -> float:
    """Training time in `unit`.

    Formula: examples * epochs / (examples_per_sec_per_gpu * gpus * scaling_efficiency), the
    efficiency applied from two GPUs on.

    Examples:
        4 billion examples on 8 GPUs at 200,000 examples/s each, 90% scaling: 46 minutes.

        >>> round(train_time_examples(4e9, 200000, 8), 4)
        0.7716
    """
    return _examples_steps(examples, examples_per_sec_per_gpu, gpus, epochs, scaling_efficiency)[2] / (
        TIME_UNITS.get("unit", unit))


def _retrain_steps(
    examples: float, examples_per_sec_per_gpu: float, gpus: int, usd_per_gpu_hour: float, retrain_every_days: float,
    epochs: float, scaling_efficiency: float,
) -> tuple[float, float, float, float]:
    _, _, seconds = _examples_steps(examples, examples_per_sec_per_gpu, gpus, epochs, scaling_efficiency)
    every = positive("retrain_every_days", retrain_every_days)
    run_days = seconds / SECONDS_PER_DAY
    if run_days > every:
        raise InputError("retrain_every_days", retrain_every_days,
                         f"expected at least the length of one run ({run_days:.3g} days): retrain less often or add "
                         f"GPUs (about {math.ceil(gpus * run_days / every)} would fit every {every:g} days)")
    gpu_hours = seconds / SECONDS_PER_HOUR * gpus
    runs = DAYS_PER_YEAR / every
    return seconds / SECONDS_PER_HOUR, gpu_hours, runs, gpu_hours * runs * positive("usd_per_gpu_hour",
                                                                                      usd_per_gpu_hour)


def _retrain_decision(a: dict[str, Any], cost: float) -> str:
    _, gpu_hours, runs, _ = _retrain_steps(**a)
    return (f"{runs:.3g} runs a year at ${gpu_hours * a['usd_per_gpu_hour']:,.0f} each: ${cost:,.0f} a year; "
            f"retraining every {2 * a['retrain_every_days']:g} days would halve it, if the model tolerates the drift")


@register(
    "RETRAINING_COST",
    example=(4e9, 200000, 8, 2.5),
    pillar="Recommendation models",
    summary="Yearly cost of retraining on fresh data every `retrain_every_days` days (to follow data drift): "
    "GPU-hours per run x runs a year x price.",
    returns="USD per year",
    result_unit="USD/year",
    formula="examples x epochs / (examples_per_sec_per_gpu x gpus x scaling_efficiency) / 3600 x gpus x "
    "usd_per_gpu_hour x 365 / retrain_every_days",
    source=DEFAULTS["scaling_efficiency"].source + "; sculley2015 section 7 (models decay as the world "
    "changes: retraining is a recurring cost)",
    assumptions=(
        "each run trains on `examples` fresh examples (a full retrain of that size, not a fine-tune)",
        "every GPU-hour of a run is billed; a run must finish before the next one starts",
        DEFAULTS["retrain_every_days"].assumption(),
        DEFAULTS["scaling_efficiency"].assumption(),
    ),
    steps=(
        Step("hours per run", "TRAIN_TIME_EXAMPLES in hours", part=False, unit="h"),
        Step("GPU-hours per run", "hours per run x gpus", part=False, unit="GPU-hours"),
        Step("runs per year", "365 / retrain_every_days", part=False, unit="runs"),
        Step("cost per year", "GPU-hours per run x runs per year x usd_per_gpu_hour", part=False, unit="USD"),
    ),
    steps_fn=_retrain_steps,
    decision=_retrain_decision,
)
def retraining_cost(
    examples: float,
    examples_per_sec_per_gpu: float,
    gpus: int,
    usd_per_gpu_hour: float,
    retrain_every_days: float = default("retrain_every_days"),
    epochs: float = 1,
    scaling_efficiency: float = default("scaling_efficiency"),
) -> float:
    """Yearly retraining cost in USD.

    Formula: GPU-hours per run x (365 / retrain_every_days) x usd_per_gpu_hour.

    Examples:
        A 0.77-hour run on 8 GPUs at $2.5 per GPU-hour, weekly: 6.17 GPU-hours x 52.1 runs.

        >>> round(retraining_cost(4e9, 200000, 8, 2.5))
        805
    """
    return _retrain_steps(examples, examples_per_sec_per_gpu, gpus, usd_per_gpu_hour, retrain_every_days, epochs,
                          scaling_efficiency)[3]
