"""Reference sheets of the classic ML system design workbooks, written from `envelope_xl.planning`:
the planning defaults with their sources, vector index bookkeeping, embedding optimizers and tokenizers.

Like `reference_tables`, every number is read from the core's data files, each row with its
source, and the tables get defined names (`vi_...`, `eo_...`) for the look-up formulas below.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.planning import DEFAULTS, EMBEDDING_OPTIMIZERS, TOKENIZERS, VECTOR_INDEXES
from envelope_xl.sources import readable
from envelope_xl.templates import style
from envelope_xl.templates.reference_tables import _column, _entries, _sheet, _table

_SOURCE_WIDTH = 90


def add_planning(wb: Workbook) -> None:
    ws = _sheet(wb, "Planning defaults", "Planning defaults: the published figure behind each default input",
                "From envelope_xl/data/planning.toml. The yellow cells of the plan start at these values.")
    rows = [(d.name, d.value, d.unit, d.note, readable(d.source) if d.source else f"planning choice: {d.choice}")
            for d in DEFAULTS.values()]
    _table(ws, ("default", "value", "unit", "meaning", "source"), rows, (20, 10, 14, 50, _SOURCE_WIDTH),
           formats={2: "General"})  # defaults of every kind (3, 0.3, 2.896): each as written


def add_vector_indexes(wb: Workbook) -> None:
    ws = _sheet(wb, "Vector indexes", "Vector indexes (FAISS): bytes of bookkeeping per vector",
                "From envelope_xl/data/vector_indexes.toml. The formulas are those of VECTOR_INDEX_MEM.")
    fields = ("link_bytes", "level_bytes", "offset_bytes", "id_bytes")
    rows = [(v.name, *(getattr(v, f) for f in fields), v.description, readable(v.source))
            for v in _entries(VECTOR_INDEXES)]
    first = _table(ws, ("index", *fields, "description", "source"), rows, (10, 11, 11, 12, 10, 40, _SOURCE_WIDTH),
                   formats={c: style.COUNT for c in range(2, 6)})
    style.define(wb, "vi_names", ws, _column(ws, 1, first, len(rows)))
    for col, field in enumerate(fields, start=2):
        style.define(wb, f"vi_{field}", ws, _column(ws, col, first, len(rows)))


def add_embedding_optimizers(wb: Workbook) -> None:
    ws = _sheet(wb, "Embedding optimizers", "Embedding-table optimizers: fp32 state values per element and per row",
                "From envelope_xl/data/embedding_optimizers.toml (FBGEMM's table-batched embeddings).")
    rows = [(o.name, o.per_element, o.per_row, readable(o.source)) for o in _entries(EMBEDDING_OPTIMIZERS)]
    first = _table(ws, ("optimizer", "per element", "per row", "source"), rows, (22, 11, 11, _SOURCE_WIDTH),
                   formats={2: style.COUNT, 3: style.COUNT})
    for name, col in (("eo_names", 1), ("eo_per_element", 2), ("eo_per_row", 3)):
        style.define(wb, name, ws, _column(ws, col, first, len(rows)))


def add_tokenizers(wb: Workbook) -> None:
    ws = _sheet(wb, "Tokenizers", "Tokenizer families: bytes of raw text per token and bytes of one token id",
                "From envelope_xl/data/tokenizers.toml. Ids take 2 bytes below 65,500 tokens in the vocabulary, "
                "else 4 (Megatron-LM's best_fitting_dtype). The formulas are those of DATASET_STORAGE.")
    rows = [(t.name, t.text_bytes_per_token, t.vocab, t.id_bytes, readable(t.source)) for t in _entries(TOKENIZERS)]
    first = _table(ws, ("tokenizer", "text bytes per token", "vocabulary", "id bytes", "source"), rows,
                   (14, 12, 12, 9, _SOURCE_WIDTH), formats={2: "0.00", 3: style.COUNT, 4: style.COUNT})
    for name, col in (("tok_names", 1), ("tok_text_bytes", 2), ("tok_id_bytes", 4)):
        style.define(wb, name, ws, _column(ws, col, first, len(rows)))


TABLES = {"planning": add_planning, "vector_indexes": add_vector_indexes,
          "embedding_optimizers": add_embedding_optimizers, "tokenizers": add_tokenizers}


def index_figure(index: str, field: str) -> str:
    """A vector index's bookkeeping bytes (`field` is link_bytes, level_bytes, offset_bytes or id_bytes)."""
    return f"INDEX(vi_{field},MATCH({index},vi_names,0))"


def tokenizer_figure(tokenizer: str, field: str) -> str:
    """A tokenizer family's figure (`field` is text_bytes or id_bytes)."""
    return f"INDEX(tok_{field},MATCH({tokenizer},tok_names,0))"


def optimizer_states(optimizer: str, per: str) -> str:
    """fp32 state values of an embedding optimizer, `per` "element" or "row"."""
    return f"INDEX(eo_per_{per},MATCH({optimizer},eo_names,0))"
