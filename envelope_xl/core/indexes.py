"""Vector index memory: what FAISS keeps per vector for flat, HNSW, IVF-Flat and IVF-PQ indexes.

The storage of embeddings is decided by the index: HNSW adds graph links to every vector,
IVF-PQ replaces the vector with a code of a few bytes plus its id.
"""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.checks import positive, whole
from envelope_xl.errors import InputError
from envelope_xl.planning import VECTOR_INDEXES, VectorIndex
from envelope_xl.reference import PRECISIONS
from envelope_xl.registry import Step, register
from envelope_xl.units import BYTE_UNITS

#: Values of a PQ sub-quantizer's codebook: 8-bit codes (FAISS IndexIVFPQ with nbits = 8).
PQ_CENTROIDS = 256
#: Bytes of a coarse centroid or codebook value: FAISS trains and keeps them in fp32.
CENTROID_VALUE_BYTES = 4.0


def _auto_lists(count: float) -> int:
    """4 x sqrt(count) inverted lists, rounded half up (as a spreadsheet's INT(x + 0.5)): the low
    end of FAISS's advice of 4 to 16 x sqrt(N)."""
    return max(1, math.floor(4 * math.sqrt(count) + 0.5))


def _index_steps(
    count: float, dimension: int, index: str, precision: str, m: int, code_bytes: int, lists: int | None
) -> tuple[float, float, float, float, float, float, float]:
    n = positive("count", count)
    d = whole("dimension", dimension)
    kind = VECTOR_INDEXES.get("index", index)
    value_bytes = PRECISIONS.get("precision", precision).bytes
    vectors = links0 = upper = book = codes = ids = centroids = 0.0
    if kind.name in ("flat", "hnsw", "ivfflat"):
        vectors = n * d * value_bytes
    if kind.name == "hnsw":
        links = whole("m", m, 2, 512)
        links0 = n * 2 * links * kind.link_bytes
        # Level l >= 1 is reached with probability M^-l: M/(M-1) expected links above level 0.
        upper = n * links / (links - 1) * kind.link_bytes
        book = n * (kind.level_bytes + kind.offset_bytes)
    if kind.name in ("ivfflat", "ivfpq"):
        nlist = _auto_lists(n) if lists is None else whole("lists", lists)
        if nlist > n:
            raise InputError("lists", lists, f"expected at most count ({n:g}) lists: k-means needs a vector per list")
        ids = n * kind.id_bytes
        centroids = nlist * d * CENTROID_VALUE_BYTES
    if kind.name == "ivfpq":
        size = whole("code_bytes", code_bytes)
        if d % size:
            raise InputError("code_bytes", code_bytes, f"expected a divisor of dimension ({d}): PQ splits each "
                             "vector into code_bytes sub-vectors of one byte each")
        codes = n * size
        centroids += PQ_CENTROIDS * d * CENTROID_VALUE_BYTES
    return vectors, links0, upper, book, codes, ids, centroids


def _per_vector(a: dict[str, Any]) -> float:
    return sum(_index_steps(**{k: v for k, v in a.items() if k != "unit"})) / a["count"]


def _index_assumptions(a: dict[str, Any]) -> list[str]:
    kind: VectorIndex = VECTOR_INDEXES.get("index", a["index"])
    used = {"hnsw": f"m = {a['m']}", "ivfpq": f"code_bytes = {a['code_bytes']}, lists = {a['lists'] or 'auto'}",
            "ivfflat": f"lists = {a['lists'] or 'auto'}"}.get(kind.name, "no options")
    return [f"{kind.name}: {kind.description}; {used} (other options are ignored)"]


def _index_decision(a: dict[str, Any], total: float) -> str:
    per = _per_vector(a)
    raw = a["dimension"] * PRECISIONS.get("precision", a["precision"]).bytes
    kind = VECTOR_INDEXES.get("index", a["index"]).name
    said = f"{per:,.0f} bytes per vector, {per / raw:.3g}x the raw vectors"
    if kind == "ivfpq":
        return f"{said}; re-rank with full vectors from storage if recall falls short"
    pq = dict(a, index="ivfpq", code_bytes=_largest_code(a["dimension"]), lists=None, unit="B")
    pq_total = sum(_index_steps(**{k: v for k, v in pq.items() if k != "unit"}))
    return (f"{said}; IVF-PQ with {pq['code_bytes']}-byte codes would need {pq_total / a['count']:,.0f} bytes per "
            f"vector ({pq_total / BYTE_UNITS.get('unit', a['unit']):,.4g} {BYTE_UNITS.name(a['unit'])})")


def _largest_code(d: int) -> int:
    """The largest divisor of d up to 64 bytes: the PQ code the decision compares against."""
    return max(c for c in range(1, min(d, 64) + 1) if d % c == 0)


@register(
    "VECTOR_INDEX_MEM",
    example=(1e9, 128, "hnsw"),
    pillar="Storage",
    summary="Memory of a FAISS vector index: flat (the vectors), HNSW (vectors + graph links by M, with the "
    "upper levels), IVF-Flat or IVF-PQ (codes, ids, coarse centroids). Named options m, code_bytes, lists.",
    returns="bytes, in `unit` (default GB)",
    unit_kind="bytes",
    formula="flat: n d b; hnsw: n (d b + 2M x 4 + M/(M-1) x 4 + 12); ivfpq: n (code_bytes + 8) + "
    "(lists + 256) d x 4; ivfflat: n (d b + 8) + lists d x 4",
    source="faiss-wiki-index section 'Is memory a concern?' (HNSW: d * 4 + M * 2 * 4 bytes per vector); "
    "faiss-wiki-indexes section 'Summary of methods' (IVFPQ: M + 8 bytes per vector); faiss file "
    "'faiss/impl/HNSW.cpp', file 'faiss/impl/HNSW.h' (levels and links)",
    assumptions=(
        "one copy in memory: replicas multiply it; no search-time buffers or allocator slack",
        "HNSW keeps 2M links at level 0 and M on each upper level; a vector reaches level l with probability M^-l",
        "IVF lists default to 4 x sqrt(count), the low end of FAISS's 4 to 16 x sqrt(N)",
    ),
    steps=(
        Step("vectors", "count x dimension x bytes(precision) (flat, hnsw, ivfflat)"),
        Step("graph links, level 0", "count x 2m x 4 bytes (hnsw)"),
        Step("graph links, upper levels", "count x m/(m - 1) x 4 bytes (hnsw, expected)"),
        Step("graph bookkeeping", "count x (4-byte level + 8-byte offset) (hnsw)"),
        Step("PQ codes", "count x code_bytes (ivfpq)"),
        Step("ids", "count x 8 bytes (ivfflat, ivfpq)"),
        Step("centroids and codebooks", "lists x dimension x 4 (+ 256 x dimension x 4 for PQ)"),
    ),
    steps_fn=_index_steps,
    decision=_index_decision,
    assumptions_fn=_index_assumptions,
    arg_docs={"precision": "format of the stored vectors (flat, hnsw, ivfflat); IVF-PQ stores codes instead"},
)
def vector_index_mem(
    count: float,
    dimension: int,
    index: str = "hnsw",
    precision: str = "fp32",
    unit: str = "GB",
    m: int = 32,
    code_bytes: int = 64,
    lists: int | None = None,
) -> float:
    """Memory of a FAISS index over `count` vectors of `dimension` values, in `unit`.

    Formula per vector (d = dimension, b = bytes(precision)):
        flat     d b
        hnsw     d b + 2M x 4 + M/(M-1) x 4 + 12  (links at level 0 and above; level and offset)
        ivfflat  d b + 8, plus lists x d x 4 of centroids
        ivfpq    code_bytes + 8, plus (lists + 256) x d x 4 of centroids and codebooks

    Source: FAISS wiki, "Guidelines to choose an index" (HNSW: d*4 + M*2*4 bytes per vector)
    and "Faiss indexes" (IVFPQ: M + 8); faiss/impl/HNSW.cpp for the upper levels.

    Examples:
        1M SIFT vectors (d = 128) in HNSW32: 512 + 256 + 32/31 x 4 + 12 bytes each.

        >>> round(vector_index_mem(1e6, 128, "hnsw", unit="B") / 1e6, 3)
        784.129
    """
    parts = _index_steps(count, dimension, index, precision, m, code_bytes, lists)
    return sum(parts) / BYTE_UNITS.get("unit", unit)
