"""Storage: count x bytes per item x replication x (1 + overhead)."""

from __future__ import annotations

from envelope_xl.checks import at_least_one, non_negative, positive, whole
from envelope_xl.reference import PRECISIONS
from envelope_xl.registry import Step, register
from envelope_xl.units import BYTE_UNITS

_REPLICA_STEPS = (
    Step("replicas", "primary copy x (replication - 1)"),
    Step("overhead", "primary copy x replication x overhead"),
)


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
