"""Workbook 3, the embedding and storage plan: raw, replicated and indexed storage, and a year ahead.

Storage is EMBED_STORAGE (count x dim x bytes x replication x (1 + index overhead)); the
projection grows the entity count each month and keeps a number of monthly snapshots.
"""

from __future__ import annotations

from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment
from openpyxl.workbook import Workbook
from openpyxl.worksheet.pagebreak import Break

from envelope_xl.registry import FUNCTIONS
from envelope_xl.sources import readable
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style
from envelope_xl.templates.style import PlanSheet, between, choice, positive, whole_between

FILENAME = "embedding_storage_plan.xlsx"
TITLE = "Embedding and storage plan"
DESCRIPTION = "Raw, replicated and indexed storage of embeddings, and a month-by-month projection for a year."

#: Default inputs: 1 billion 256-dimensional fp32 embeddings, 3 replicas, an HNSW-sized index.
DEFAULTS = {
    "count": 1e9,
    "dim": 256,
    "precision": "fp32",
    "replication": 3,
    "index_overhead": 0.3,
    "monthly_growth": 0.05,
    "retention": 3,
}
MONTHS = 12
_NUMBER = Alignment(horizontal="right")
_PROJECTION_HEADERS = ("Month", "Entities", "Live storage (GB)", "Snapshots kept", "Total kept (GB)")


def _inputs(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("1. Inputs: the yellow cells")
    s.input("count", "Entities", d["count"], "embeddings", "embeddings stored today (users, items, documents)",
            positive(1e15), style.COUNT)
    s.input("dim", "Dimension", d["dim"], "values", "values per embedding vector", whole_between(1, 1_000_000),
            style.COUNT)
    s.input("precision", "Precision", d["precision"], "", "format each value is stored in",
            choice("prec_names", "a precision"), style.TEXT)
    s.input("replication", "Replication", d["replication"], "copies",
            "copies kept of everything (3 for triple replication)", between(1, 100), style.DECIMAL)
    s.input("index_overhead", "Index overhead", d["index_overhead"], "fraction",
            "index size as a fraction of the vectors (HNSW links, ids, metadata; 0.3 = +30%)", between(0, 100),
            style.PERCENT)
    s.input("monthly_growth", "Monthly growth", d["monthly_growth"], "per month",
            "growth of the entity count per month, compounded (0.05 = +5% a month)", between(0, 10),
            style.PERCENT)
    s.input("retention", "Retention", d["retention"], "snapshots",
            "monthly snapshots of the index kept, the live one included (1 = live index only)",
            whole_between(1, 120), style.COUNT)


def _today(s: PlanSheet) -> None:
    spec = FUNCTIONS["EMBED_STORAGE"]
    s.section("2. Storage today")
    s.step("bytes", "Bytes per value", "bytes of one value in the precision (Precisions sheet)",
           ref.precision_bytes("in_precision"), "bytes", "vectors stored uncompressed", style.BYTES_EACH)
    s.step("bytes_per_vector", "Bytes per vector", "dimension x bytes per value", "in_dim*out_bytes", "bytes",
           "FAISS flat index: 4 x d bytes per fp32 vector", style.COUNT)
    s.step("raw_gb", "Raw storage", "entities x bytes per vector", "in_count*out_bytes_per_vector/1e9", "GB",
           "one copy, no index", style.COUNT, key=True)
    s.step("replicated_gb", "Replicated storage", "raw x replication", "out_raw_gb*in_replication", "GB",
           "every copy is complete", style.COUNT, key=True)
    s.step("index_gb", "Index", "replicated x index overhead", "out_replicated_gb*in_index_overhead", "GB",
           spec.assumptions[1], style.COUNT)
    s.step("indexed_gb", "Indexed storage", "replicated + index", "out_replicated_gb+out_index_gb", "GB",
           f"Same as EMBED_STORAGE. {readable(spec.source)}", style.COUNT, key=True)


def _projection(s: PlanSheet) -> None:
    ws = s.ws
    ws.row_breaks.append(Break(id=s.row))  # the projection, its chart and the checks on a page of their own
    s.section("3. The next twelve months")
    s.text("Entities grow by the monthly rate, compounded; each month a snapshot of the live index is kept, and "
           "the oldest is dropped beyond the retention (no snapshots before month 0).")
    style.header_row(ws, s.row, _PROJECTION_HEADERS, first_column=style.LABEL)
    ws.row_dimensions[s.row].height = 2 * style.LINE_HEIGHT  # "Snapshots kept" wraps in the unit column
    s.row += 1
    first, last = s.row, s.row + MONTHS
    months, live = f"$B${first}:$B${last}", f"$D${first}:$D${last}"
    growth = ("in_count", "in_monthly_growth")  # what column C needs: D and F read it by address
    for month in range(MONTHS + 1):
        r = s.row
        ws.cell(r, 2, month).number_format = style.COUNT
        cells = (
            (3, s.guarded(f"in_count*(1+in_monthly_growth)^B{r}")[0]),
            (4, s.guarded(f"C{r}*in_dim*out_bytes*in_replication*(1+in_index_overhead)/1e9", also=growth)[0]),
            (5, s.guarded(f"MIN(in_retention,B{r}+1)")[0]),
            (6, s.guarded(f'SUMIFS({live},{months},">="&(B{r}-E{r}+1),{months},"<="&B{r})',
                          also=(*growth, "in_dim", "out_bytes", "in_replication", "in_index_overhead",
                                "in_retention"))[0]),
        )
        for col, formula in cells:
            cell = ws.cell(r, col, f"={formula}")
            cell.number_format, cell.alignment = style.COUNT, _NUMBER
        s.row += 1
    style.define(s.wb, "projection_months", ws, f"B{first}:B{last}")
    for name, col in (("month_entities", "C"), ("month_live_gb", "D"), ("month_snapshots", "E"),
                      ("month_total_gb", "F")):
        style.define(s.wb, f"out_{name}", ws, f"{col}{first}:{col}{last}")
    s.section("4. In twelve months")
    s.step("entities_12", "Entities", "entities today x (1 + growth)^12", f"C{last}", "embeddings", "", style.COUNT)
    s.step("live_12_gb", "Live indexed storage", "as in step 6, for the entities of month 12", f"D{last}", "GB",
           "", style.COUNT, key=True)
    s.step("total_12_gb", "Total kept, snapshots included", "sum of the live storage of the snapshots kept",
           f"F{last}", "GB", "plan capacity for this, plus headroom", style.COUNT, key=True)
    _chart(s, first, last)
    s.section("5. Checks")
    s.checks()


def _chart(s: PlanSheet, first: int, last: int) -> None:
    chart = BarChart()
    chart.type = "col"
    chart.title = "Storage by month (GB)"
    chart.y_axis.title = "GB"
    chart.x_axis.title = "month"
    chart.y_axis.majorGridlines = None
    chart.y_axis.number_format = "#,##0"
    for col in (4, 6):
        chart.add_data(Reference(s.ws, min_col=col, min_row=first - 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(s.ws, min_col=2, min_row=first, max_row=last))
    chart.legend.position = "b"
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.width, chart.height = 22, 9
    s.ws.add_chart(chart, f"B{s.row + 1}")
    s.row += 20


def build() -> Workbook:
    s = PlanSheet.in_new_workbook("Storage plan", TITLE, "How much storage do these embeddings need today, and in "
                                  "a year?", style.HOW_TO.format("each has a note"), repeat_header=False)
    wb = s.wb
    _inputs(s)
    _today(s)
    _projection(s)
    ref.add_reference_sheets(wb, ("precisions",))
    return wb
