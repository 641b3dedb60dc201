"""Catalog functions written out in standard spreadsheet formulas, shared by the plan sheets.

VECTOR_INDEX_MEM (per component, in GB) and RETAINED_STORAGE (bytes written over a window and
over its most recent days), as the formula texts the plans put in their cells. Each plan
passes the names of its own cells; the constants come from the core, so a sheet and the
core cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from envelope_xl.core.indexes import CENTROID_VALUE_BYTES, PQ_CENTROIDS
from envelope_xl.templates import classic_tables as classic
from envelope_xl.templates import style
from envelope_xl.templates.style import PlanSheet, whole_at_least, whole_between


@dataclass(frozen=True)
class VectorIndex:
    """VECTOR_INDEX_MEM over the cells of a plan: the index kind, the dimension and the HNSW M and
    PQ code size (defined names); each component in GB for a count given per call (a name, a
    cell or a formula), so a projection can size the index month by month."""

    index: str = "in_index"
    dim: str = "in_dim"
    m: str = "in_m"
    code_bytes: str = "in_code_bytes"

    @property
    def hnsw(self) -> str:
        return f'{self.index}="hnsw"'

    @property
    def pq(self) -> str:
        return f'{self.index}="ivfpq"'

    @property
    def ivf(self) -> str:
        return f'OR({self.index}="ivfflat",{self.index}="ivfpq")'

    @property
    def stores_vectors(self) -> str:
        return f'OR({self.index}="flat",{self.index}="hnsw",{self.index}="ivfflat")'

    def option_inputs(self, s: PlanSheet, defaults: dict[str, object], counted: str) -> None:
        """The inputs only some index kinds use (HNSW M, PQ code size, IVF lists), greyed out for
        the others; `counted` names what the index holds (entities, items)."""
        s.input("m", "HNSW M", defaults["m"], "links", "HNSW links per vector per level (level 0 keeps 2M)",
                whole_between(2, 512), style.COUNT, unused_when=f"NOT({self.hnsw})")
        s.input("code_bytes", "PQ code size", defaults["code_bytes"], "bytes",
                "bytes of one IVF-PQ code; divides the dimension", whole_at_least(1), style.COUNT,
                unused_when=f"NOT({self.pq})")
        s.input("lists", "IVF lists", defaults["lists"], "lists", f"inverted lists; 0 = automatic, 4 x sqrt({counted})",
                whole_at_least(0), style.COUNT, unused_when=f"NOT({self.ivf})")

    def check_rows(self, s: PlanSheet, count: str, one: str, counted: str) -> None:
        """The index's check rows (check_pq, check_lists): the cases VECTOR_INDEX_MEM refuses; `count`
        names the cell with the vectors' count, `one` and `counted` what they are (entity, entities)."""
        s.check("check_pq", "PQ code fits?", "for ivfpq the code size divides the dimension", self.pq_check(),
                "VECTOR_INDEX_MEM refuses the same")
        s.check("check_lists", "IVF lists sensible?", f"at most one list per {one}",
                self.lists_check(count, "out_lists_used", counted))

    def figure(self, field: str) -> str:
        """Bytes of bookkeeping per vector (Vector indexes sheet): link_bytes, level_bytes, ..."""
        return classic.index_figure(self.index, field)

    @staticmethod
    def lists_used(count: str, lists: str) -> str:
        """The lists given, or with 0 FAISS's low end of 4 to 16 x sqrt(N), rounded half up."""
        return f"IF({lists}=0,MAX(1,INT(4*SQRT({count})+0.5)),{lists})"

    def vectors(self, count: str, value_bytes: str) -> str:
        return f"IF({self.stores_vectors},{count}*{self.dim}*{value_bytes}/1e9,0)"

    def links(self, count: str) -> str:
        """2M links at level 0 and M/(M - 1) expected above (level l reached with probability M^-l)."""
        m = self.m
        return f"IF({self.hnsw},{count}*(2*{m}+{m}/({m}-1))*{self.figure('link_bytes')}/1e9,0)"

    def bookkeeping(self, count: str) -> str:
        return f"IF({self.hnsw},{count}*({self.figure('level_bytes')}+{self.figure('offset_bytes')})/1e9,0)"

    def codes_and_ids(self, count: str) -> str:
        return f"IF({self.ivf},{count}*(IF({self.pq},{self.code_bytes},0)+{self.figure('id_bytes')})/1e9,0)"

    def centroids(self, lists: str) -> str:
        """Coarse centroids and PQ codebooks, kept in fp32 as FAISS trains them."""
        return (f"IF({self.ivf},({lists}+IF({self.pq},{PQ_CENTROIDS},0))*{self.dim}*{CENTROID_VALUE_BYTES:g}"
                "/1e9,0)")

    def total(self, count: str, value_bytes: str, lists: str) -> str:
        """The whole index in GB, one formula (for a table row)."""
        return "+".join((self.vectors(count, value_bytes), self.links(count), self.bookkeeping(count),
                         self.codes_and_ids(count), self.centroids(lists)))

    def pq_check(self) -> str:
        # IF, not AND: an unused, empty code size must not reach MOD (AND evaluates every argument).
        return (f'IF({self.pq},IF(MOD({self.dim},{self.code_bytes})<>0,"code size must divide the dimension ("&'
                f'{self.dim}&")","OK"),"OK")')

    def lists_check(self, count: str, lists_used: str, what: str) -> str:
        return (f'IF(AND({self.ivf},{lists_used}>{count}),"more lists than {what}: k-means needs a vector per list",'
                '"OK")')


def retained_written(daily: str, growth: str, days: str) -> str:
    """RETAINED_STORAGE's bytes written over the window: daily x days, or the geometric sum with
    growth (in the unit of `daily`)."""
    return f"IF({growth}=0,{daily}*{days},{daily}*((1+{growth})^{days}-1)/{growth})"


def retained_recent(daily: str, growth: str, days: str, hot: str) -> str:
    """Bytes written over the last `hot` days of the window (the hot tier before copies)."""
    return (f"IF({growth}=0,{daily}*{hot},{daily}*(1+{growth})^({days}-{hot})*((1+{growth})^{hot}-1)"
            f"/{growth})")
