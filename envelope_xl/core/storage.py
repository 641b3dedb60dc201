"""Storage: items x bytes x copies, data that accumulates over a retention window (logs,
features, snapshots), and a training corpus as raw text and token ids."""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.checks import HUGE, at_least_one, non_negative, positive, whole
from envelope_xl.errors import InputError
from envelope_xl.planning import TOKENIZERS
from envelope_xl.reference import PRECISIONS
from envelope_xl.registry import Step, register
from envelope_xl.sources import brief
from envelope_xl.units import BYTE_UNITS

_REPLICA_STEPS = (
    Step("replicas", "primary copy x (replication - 1)"),
    Step("overhead", "primary copy x replication x overhead"),
)


def _human(n_bytes: float) -> str:
    from envelope_xl.core.formatting import human_bytes  # at call time: keeps the catalog's order

    return human_bytes(n_bytes)


def _in_bytes(a: dict[str, Any], result: float) -> float:
    return result * BYTE_UNITS.get("unit", a["unit"])


def _replicated(primary: float, replication: float, overhead: float, overhead_arg: str) -> tuple[float, float, float]:
    r = at_least_one("replication", replication)
    o = non_negative(overhead_arg, overhead)
    return (primary, primary * (r - 1), primary * r * o)


def _storage_steps(
    count: float, bytes_each: float, replication: float = 1, overhead: float = 0
) -> tuple[float, float, float]:
    return _replicated(positive("count", count) * positive("bytes_each", bytes_each), replication, overhead, "overhead")


@register(
    "STORAGE",
    example=(1e9, 2000, 3, 0.2),
    pillar="Storage",
    summary="Storage for `count` items of `bytes_each`, kept in `replication` copies with an `overhead` "
    "fraction on top (indexes, metadata).",
    returns="bytes, in `unit` (default GB)",
    unit_kind="bytes",
    formula="count x bytes_each x replication x (1 + overhead)",
    source="shvachko2010 section II (blocks replicated on typically three DataNodes)",
    assumptions=(
        "every replica carries the same overhead (its own index and metadata)",
        "no compression or deduplication",
    ),
    steps=(Step("primary copy", "count x bytes_each"), *_REPLICA_STEPS),
    steps_fn=_storage_steps,
    decision=lambda a, total: f"provision {_human(_in_bytes(a, total))}: "
    f"{_in_bytes(a, total) / _storage_steps(a['count'], a['bytes_each'])[0]:.3g}x the data",
)
def storage(
    count: float, bytes_each: float, replication: float = 1, overhead: float = 0, unit: str = "GB"
) -> float:
    """Storage in `unit`.

    Formula: count * bytes_each * replication * (1 + overhead).

    Assumptions: each replica carries the overhead; no compression.

    Source: standard capacity planning (HDFS keeps 3 replicas by default,
    Shvachko et al. 2010, "The Hadoop Distributed File System").

    Examples:
        >>> storage(1e9, 1000, 3, 0.5)  # 1 TB x 3 x 1.5
        4500.0
    """
    p, r, o = _storage_steps(count, bytes_each, replication, overhead)
    return (p + r + o) / BYTE_UNITS.get("unit", unit)


def _embed_steps(
    count: float, dimension: int, precision: str = "fp32", replication: float = 1, index_overhead: float = 0
) -> tuple[float, float, float]:
    primary = positive("count", count) * whole("dimension", dimension) * PRECISIONS.get("precision", precision).bytes
    return _replicated(primary, replication, index_overhead, "index_overhead")


@register(
    "EMBED_STORAGE",
    example=(1e9, 256, "fp32", 3),
    pillar="Storage",
    summary="Storage for `count` embeddings of `dimension` values in `precision`, with replication and an index "
    "overhead fraction (e.g. HNSW graph links).",
    returns="bytes, in `unit` (default GB)",
    unit_kind="bytes",
    formula="count x dimension x bytes(precision) x replication x (1 + index_overhead)",
    source="faiss-wiki-index section 'Do you need exact results?', section 'Is memory a concern?' "
    "(Flat: 4 x d bytes per vector, HNSW adds M x 2 x 4 bytes of links)",
    assumptions=(
        "vectors stored uncompressed in `precision`; ids and metadata belong in index_overhead",
        "every replica carries its own index",
    ),
    steps=(Step("primary copy", "count x dimension x bytes(precision)"), *_REPLICA_STEPS[:1],
           Step("index", "primary copy x replication x index_overhead")),
    steps_fn=_embed_steps,
    decision=lambda a, total: f"provision {_human(_in_bytes(a, total))}: "
    f"{_in_bytes(a, total) / _embed_steps(a['count'], a['dimension'], a['precision'])[0]:.3g}x the raw vectors; "
    "VECTOR_INDEX_MEM counts an index's links and codes",
)
def embed_storage(
    count: float,
    dimension: int,
    precision: str = "fp32",
    replication: float = 1,
    index_overhead: float = 0,
    unit: str = "GB",
) -> float:
    """Embedding storage in `unit`.

    Formula: count * dimension * bytes(precision) * replication * (1 + index_overhead).

    Assumptions: uncompressed vectors; each replica holds its index.

    Source: FAISS wiki, "Guidelines to choose an index": a flat index stores
    4 * d bytes per fp32 vector.

    Examples:
        1 billion 256-dimensional fp32 embeddings, then with 3 replicas:

        >>> embed_storage(1e9, 256), embed_storage(1e9, 256, "fp32", 3)
        (1024.0, 3072.0)
    """
    p, r, i = _embed_steps(count, dimension, precision, replication, index_overhead)
    return (p + r + i) / BYTE_UNITS.get("unit", unit)



# Retained data: logs, features, snapshots --------------------------------------------------

def _days_of_growth(daily: float, growth: float, first: int, days: int) -> float:
    """Bytes written on days first .. first + days - 1 when day 0 writes `daily` and each day
    writes (1 + growth) times the day before."""
    if days == 0:
        return 0.0
    if growth < 1e-12:
        # First order in growth: the next terms are below 1e-14 of the sum over any window
        # allowed (and a subnormal growth would make the closed form below lose its digits).
        return daily * (days + growth * days * (2 * first + days - 1) / 2)
    rate = math.log1p(growth)
    if (first + days) * rate > 600:  # e^600: far past anything storable, and before float overflow
        raise InputError("daily_growth", growth, f"expected a growth the window can hold: at {growth:g} a day the "
                         f"data would pass 1e30 bytes within {first + days} days; lower it or shorten the window")
    return daily * math.exp(first * rate) * math.expm1(days * rate) / growth


def _retained_steps(
    daily_bytes: float, retention_days: int, replication: float, overhead: float, compression: float,
    daily_growth: float, hot_days: int,
) -> tuple[float, float, float, float, float]:
    daily = positive("daily_bytes", daily_bytes)
    days = whole("retention_days", retention_days, 1, 100_000)
    growth = non_negative("daily_growth", daily_growth)
    hot = whole("hot_days", hot_days, 0)
    if hot > days:
        raise InputError("hot_days", hot_days, f"expected at most retention_days ({days}): the hot tier holds the "
                         "most recent days of the window")
    kept = at_least_one("replication", replication) * (1 + non_negative("overhead", overhead)) / at_least_one(
        "compression", compression)
    written = _days_of_growth(daily, growth, 0, days)
    recent = _days_of_growth(daily, growth, days - hot, hot)
    if written * kept > HUGE:
        arg, value = ("daily_growth", daily_growth) if growth > 0 else ("daily_bytes", daily_bytes)
        raise InputError(arg, value, "expected data that a window can hold: the total would pass 1e30 bytes")
    return _days_of_growth(daily, growth, days - 1, 1), written, kept, recent * kept, (written - recent) * kept


def _retained_decision(a: dict[str, Any], total: float) -> str:
    last, _, _, hot, cold = _retained_steps(**{k: v for k, v in a.items() if k != "unit"})
    grows = (f"; the last day writes {last / a['daily_bytes']:.3g}x the first, so keep growing capacity"
             if a["daily_growth"] > 0 else f"; it stops growing after {a['retention_days']:g} days")
    if a["hot_days"] > 0:
        return (f"keep {_human(hot)} on the hot tier (last {a['hot_days']:g} days) and {_human(cold)} on the cold "
                f"tier{grows}")
    return f"provision {_human(_in_bytes(a, total))}" + grows


@register(
    "RETAINED_STORAGE",
    example=(5e12, 90, 3, 0.1),
    pillar="Storage",
    summary="Storage of data written every day and kept for a retention window (logs, features, snapshots): "
    "replicated, with an overhead fraction, compressed, with daily growth, and the recent days on a hot tier.",
    returns="bytes kept when the window is first full, in `unit` (default GB)",
    unit_kind="bytes",
    formula="daily_bytes x days (x ((1 + g)^days - 1) / (g x days) with growth g) x replication x "
    "(1 + overhead) / compression",
    source="shvachko2010 section II (blocks replicated, three copies by default); muralidhar2014 section 2 (a "
    "warm tier for older, less read data)",
    assumptions=(
        "day 1 writes daily_bytes and each later day (1 + daily_growth) times the day before; the result is "
        "what the window holds on its last day",
        "compression is a ratio (3 = a third of the size) applied to every copy; overhead (indexes, metadata) "
        "is a fraction of the data",
        "the hot tier holds the most recent hot_days days, the cold tier the rest",
    ),
    steps=(
        Step("written on the last day", "daily_bytes x (1 + daily_growth)^(retention_days - 1)", part=False,
             in_result_unit=True),
        Step("written over the window", "daily_bytes x retention_days, or the geometric sum with growth", part=False,
             in_result_unit=True),
        Step("bytes kept per byte written", "replication x (1 + overhead) / compression", part=False, unit="x"),
        Step("hot tier", "bytes of the last hot_days days x bytes kept per byte"),
        Step("cold tier", "bytes of the older days x bytes kept per byte"),
    ),
    steps_fn=_retained_steps,
    decision=_retained_decision,
    arg_docs={"compression": "compression ratio, >= 1 (1 = none; 2.9 for zstd level 1 on mixed data)"},
)
def retained_storage(
    daily_bytes: float,
    retention_days: int,
    replication: float = 1,
    overhead: float = 0,
    unit: str = "GB",
    compression: float = 1,
    daily_growth: float = 0,
    hot_days: int = 0,
) -> float:
    """Storage of a retention window, in `unit`.

    Formula: sum over the days kept of daily_bytes x (1 + daily_growth)^day, times
    replication x (1 + overhead) / compression; the last hot_days days are the hot tier.

    Assumptions: the window is full (every day of it written); growth compounds daily.

    Examples:
        5 TB a day for 90 days, 3 copies, 10% overhead: 5 x 90 x 3 x 1.1 = 1,485 TB.

        >>> round(retained_storage(5e12, 90, 3, 0.1, "TB"), 6)
        1485.0
    """
    *_, hot, cold = _retained_steps(daily_bytes, retention_days, replication, overhead, compression, daily_growth,
                                    hot_days)
    return (hot + cold) / BYTE_UNITS.get("unit", unit)


# A training corpus: raw text and token ids ---------------------------------------------------

def _dataset_steps(
    tokens: float, bytes_per_token: float | None, replication: float, compression: float, tokenizer: str
) -> tuple[float, float, float]:
    n = positive("tokens", tokens)
    family = TOKENIZERS.get("tokenizer", tokenizer)
    text = family.text_bytes_per_token if bytes_per_token is None else positive("bytes_per_token", bytes_per_token)
    raw = n * text / at_least_one("compression", compression)
    ids = n * family.id_bytes
    return raw, ids, (raw + ids) * (at_least_one("replication", replication) - 1)


def _tokenizer_assumptions(a: dict[str, Any]) -> list[str]:
    t = TOKENIZERS.get("tokenizer", a["tokenizer"])
    given = "" if a["bytes_per_token"] is None else "; bytes_per_token given replaces its text figure"
    return [f"{t.name}: {t.text_bytes_per_token:g} bytes of text per token, vocabulary {t.vocab:,} so "
            f"{t.id_bytes}-byte ids ({brief(t.source)}){given}"]


def _dataset_decision(a: dict[str, Any], total: float) -> str:
    raw, ids, _ = _dataset_steps(**{k: v for k, v in a.items() if k != "unit"})
    return (f"store {_human(_in_bytes(a, total))}: raw text {_human(raw)} and token ids {_human(ids)} per copy; "
            "training reads the ids")


@register(
    "DATASET_STORAGE",
    example=(15e12,),
    pillar="Storage",
    summary="Storage of a training corpus: the raw text (bytes per token of the tokenizer family, compressed) and "
    "the tokenized ids (2 or 4 bytes each), in `replication` copies.",
    returns="bytes, in `unit` (default GB)",
    unit_kind="bytes",
    formula="tokens x (bytes_per_token / compression + id bytes) x replication",
    source="dubey2024 section 3.2 (characters per token); megatron-lm file 'megatron/data/indexed_dataset.py' "
    "(best_fitting_dtype: uint16 ids below 65,500 tokens, else int32)",
    assumptions=(
        "English text at 1 byte per character (UTF-8); compression applies to the raw text only",
        "token ids are stored uncompressed (memory-mapped for training)",
    ),
    steps=(
        Step("raw text", "tokens x bytes_per_token / compression"),
        Step("token ids", "tokens x id bytes (2 below 65,500 ids, else 4)"),
        Step("replicas", "(raw text + token ids) x (replication - 1)"),
    ),
    steps_fn=_dataset_steps,
    decision=_dataset_decision,
    assumptions_fn=_tokenizer_assumptions,
    arg_docs={
        "bytes_per_token": "bytes of raw text per token (default: the tokenizer family's measured figure)",
        "compression": "compression ratio of the raw text, >= 1 (1 = stored as is)",
    },
)
def dataset_storage(
    tokens: float,
    bytes_per_token: float | None = None,
    replication: float = 1,
    compression: float = 1,
    unit: str = "GB",
    tokenizer: str = "llama-3",
) -> float:
    """Storage of a tokenized training corpus with its raw text, in `unit`.

    Formula: tokens x (bytes_per_token / compression + id bytes) x replication.

    Source: Llama 3 paper, section 3.2 (3.94 characters per token for its tokenizer).

    Examples:
        15T tokens with the Llama 3 tokenizer: 59.1 TB of text and 60 TB of 4-byte ids.

        >>> round(dataset_storage(15e12, unit="TB"), 6)
        119.1
    """
    raw, ids, replicas = _dataset_steps(tokens, bytes_per_token, replication, compression, tokenizer)
    return (raw + ids + replicas) / BYTE_UNITS.get("unit", unit)
