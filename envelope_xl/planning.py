"""Reference data of the classic ML system functions: planning defaults, tokenizer families,
embedding-table optimizers and vector index types.

Loaded once from `envelope_xl/data/` (planning.toml, tokenizers.toml,
embedding_optimizers.toml, vector_indexes.toml), where every number cites its source (a
planning default that is a choice, not a measurement, says so instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from envelope_xl.checks import Names
from envelope_xl.reference import _aliases, _load
from envelope_xl.sources import mark


@dataclass(frozen=True)
class Default:
    """A default argument and the published figure (`source`, a citation) or the stated
    planning `choice` behind it."""

    name: str
    value: float
    unit: str
    note: str
    source: str = ""
    choice: str = ""
    derived: str = ""

    def assumption(self, arg: str | None = None) -> str:
        """One short line for a reasoning chain: the note and where the value comes from (its
        citation is marked, rendered when the chain is shown; the figures stay in the data file)."""
        where = mark(self.source) if self.source else "a planning choice, not a measurement"
        return f"{arg or self.name} = {self.value:g} by default: {self.note} ({where})"


@dataclass(frozen=True)
class Tokenizer:
    name: str
    text_bytes_per_token: float
    vocab: int
    source: str

    @property
    def id_bytes(self) -> int:
        """Bytes of one token id on disk: uint16 below 65,500 ids, else int32 (Megatron-LM's
        `best_fitting_dtype`, megatron/data/indexed_dataset.py)."""
        return 2 if self.vocab < 65500 else 4


@dataclass(frozen=True)
class EmbeddingOptimizer:
    name: str
    per_element: float  # fp32 state values per table element
    per_row: float  # fp32 state values per table row
    source: str


@dataclass(frozen=True)
class VectorIndex:
    name: str
    description: str
    source: str
    link_bytes: float = 0.0
    level_bytes: float = 0.0
    offset_bytes: float = 0.0
    id_bytes: float = 0.0


def _defaults() -> dict[str, Default]:
    raw = _load("planning.toml")
    return {
        n: Default(n, float(e["value"]), e["unit"], e["note"], e.get("source", ""), e.get("choice", ""),
                   e.get("derived", ""))
        for n, e in raw.items()
    }


def _tokenizers() -> Names[Tokenizer]:
    raw = _load("tokenizers.toml")
    entries = {n: Tokenizer(n, float(e["text_bytes_per_token"]), int(e["vocab"]), e["source"]) for n, e in raw.items()}
    return Names("tokenizer", entries, _aliases(raw))


def _embedding_optimizers() -> Names[EmbeddingOptimizer]:
    raw = _load("embedding_optimizers.toml")
    entries = {
        n: EmbeddingOptimizer(n, float(e["per_element"]), float(e["per_row"]), e["source"]) for n, e in raw.items()
    }
    return Names("embedding optimizer", entries, _aliases(raw))


def _vector_indexes() -> Names[VectorIndex]:
    raw = _load("vector_indexes.toml")
    numbers = ("link_bytes", "level_bytes", "offset_bytes", "id_bytes")
    entries = {
        n: VectorIndex(n, e["description"], e["source"], **{k: float(e[k]) for k in numbers if k in e})
        for n, e in raw.items()
    }
    return Names("vector index", entries, _aliases(raw))


DEFAULTS = _defaults()
TOKENIZERS = _tokenizers()
EMBEDDING_OPTIMIZERS = _embedding_optimizers()
VECTOR_INDEXES = _vector_indexes()

#: Bytes of one fp32 optimizer-state value (FBGEMM keeps embedding optimizer states in fp32
#: unless told otherwise: split_embedding_configs.py, EmbOptimType._extract_dtype).
STATE_BYTES = 4.0


def default(name: str) -> float:
    """The value of a planning default (a float; whole-number defaults are integral)."""
    return DEFAULTS[name].value
