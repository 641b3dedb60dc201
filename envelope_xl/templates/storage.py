"""Workbook 3, the embedding and storage plan: embeddings and their vector index, a year ahead, the
training corpus and the data kept for a retention window.

Each section is a catalog function written out in standard spreadsheet formulas: EMBED_STORAGE
for the raw and replicated vectors, VECTOR_INDEX_MEM for the index (also month by month in the
projection, with snapshots kept), DATASET_STORAGE for the corpus and RETAINED_STORAGE for logs
and feature snapshots, with hot and cold tiers.
"""

from __future__ import annotations

from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet.pagebreak import Break

from envelope_xl.checks import HUGE
from envelope_xl.planning import default
from envelope_xl.registry import FUNCTIONS
from envelope_xl.sources import readable, render
from envelope_xl.templates import classic_tables as classic
from envelope_xl.templates import native, style
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates.style import (
    PlanSheet,
    at_least,
    between,
    choice,
    non_negative_up_to,
    positive,
    whole_between,
)

FILENAME = "embedding_storage_plan.xlsx"
TITLE = "Embedding and storage plan"
DESCRIPTION = ("Embeddings and their vector index, a month-by-month projection for a year, the training corpus, "
               "and logs and feature snapshots kept for a retention window.")

#: Default inputs: 1 billion 256-dimensional fp32 embeddings in an HNSW32 index, 3 copies, growing 5% a
#: month with 3 monthly snapshots kept; a 15T-token corpus (Llama 3's scale) once on object storage;
#: 1 TB a day of logs and feature snapshots kept 90 days in 3 copies, the last 7 days on the hot tier.
DEFAULTS = {
    "count": 1e9,
    "dim": 256,
    "precision": "fp32",
    "replication": 3,
    "index": "hnsw",
    "m": 32,
    "code_bytes": 64,
    "lists": 0,
    "monthly_growth": 0.05,
    "retention": 3,
    "tokens": 15e12,
    "tokenizer": "llama-3",
    "bytes_per_token": 0,
    "dataset_compression": default("compression"),
    "dataset_replication": default("offline_replication"),
    "daily_gb": 1000,
    "retention_days": int(default("retention_days")),
    "retained_replication": 3,
    "retained_overhead": 0.1,
    "retained_compression": default("compression"),
    "daily_growth": 0.001,
    "hot_days": 7,
}
MONTHS = 12
_NUMBER = Alignment(horizontal="right")
_PROJECTION_HEADERS = ("Month", "Entities", "Live index, all copies (GB)", "Snapshots kept", "Total kept (GB)")
_INDEX = native.VectorIndex()
#: The index components show only for a configuration VECTOR_INDEX_MEM accepts (its checks say why not).
_INDEX_FITS = 'AND(out_check_pq="OK",out_check_lists="OK")'
#: RETAINED_STORAGE refuses growth that would pass e^600 within the window; the input checks first,
#: so a text in either cell never reaches LN.
_GROWTH_HOLDS = ('IF(AND(out_input_daily_growth="OK",out_input_retention_days="OK"),'
                 "in_retention_days*LN(1+in_daily_growth)<=600,FALSE)")
_HOT_IN_WINDOW = ('IF(AND(out_input_hot_days="OK",out_input_retention_days="OK"),in_hot_days<=in_retention_days,'
                  "FALSE)")
TOO_FAST = "daily growth too fast for the window: the data would pass 1e30 bytes; lower it or shorten the window"


def _note(name: str, i: int = 0) -> str:
    return render(FUNCTIONS[name].assumptions[i])


def _inputs(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("1. Inputs: the yellow cells")
    s.text("Embeddings and their vector index")
    s.input("count", "Entities", d["count"], "embeddings", "embeddings stored today (users, items, documents)",
            positive(1e15), style.COUNT)
    s.input("dim", "Dimension", d["dim"], "values", "values per embedding vector", whole_between(1, 1_000_000),
            style.COUNT)
    s.input("precision", "Precision", d["precision"], "", "format each value is stored in",
            choice("prec_names", "a precision"), style.TEXT)
    s.input("replication", "Replication", d["replication"], "copies",
            "copies kept of the vectors and of the index (3 for triple replication)", between(1, 100), style.DECIMAL)
    s.input("index", "Index type", d["index"], "", "flat, hnsw, ivfflat or ivfpq (Vector indexes sheet)",
            choice("vi_names", "a vector index"), style.TEXT)
    _INDEX.option_inputs(s, d, "entities")
    s.input("monthly_growth", "Monthly growth", d["monthly_growth"], "per month",
            "growth of the entity count per month, compounded (0.05 = +5% a month)", between(0, 10),
            style.PERCENT)
    s.input("retention", "Snapshots kept", d["retention"], "snapshots",
            "monthly snapshots of the index kept, the live one included (1 = live index only)",
            whole_between(1, 120), style.COUNT)
    s.text("Training corpus")
    s.input("tokens", "Tokens", d["tokens"], "tokens", "tokens in the training corpus (1.5E+13 = 15 trillion)",
            positive(), style.SCIENTIFIC)
    s.input("tokenizer", "Tokenizer family", d["tokenizer"], "", "sets bytes of text per token and of one token id "
            "(Tokenizers sheet)", choice("tok_names", "a tokenizer family"), style.TEXT)
    s.input("bytes_per_token", "Text bytes per token", d["bytes_per_token"], "bytes",
            "bytes of raw text per token; 0 = the tokenizer family's measured figure", between(0, 1000),
            style.DECIMAL)
    s.input("dataset_compression", "Text compression", d["dataset_compression"], "x",
            "compression of the raw text (zstd -1 on Silesia: 2.896; 1 = none)", at_least(1), style.DECIMAL)
    s.input("dataset_replication", "Corpus copies", d["dataset_replication"], "copies",
            "copies of the corpus (1 on object storage)", between(1, 100), style.DECIMAL)
    s.text("Retained data: logs and feature snapshots")
    s.input("daily_gb", "Written per day", d["daily_gb"], "GB", "data written on the first day of the window, one "
            "copy, uncompressed", positive(), style.COUNT)
    s.input("retention_days", "Retention", d["retention_days"], "days", "days each day's data is kept",
            whole_between(1, 100_000), style.COUNT)
    s.input("retained_replication", "Copies", d["retained_replication"], "copies", "copies of the retained data",
            between(1, 100), style.DECIMAL)
    s.input("retained_overhead", "Overhead", d["retained_overhead"], "fraction",
            "indexes and metadata, as a fraction of the data (0.1 = +10%)", between(0, 100), style.PERCENT)
    s.input("retained_compression", "Compression", d["retained_compression"], "x",
            "compression of every copy (zstd -1 on Silesia: 2.896; 1 = none)", at_least(1), style.DECIMAL)
    s.input("daily_growth", "Daily growth", d["daily_growth"], "per day",
            "growth of the daily volume, compounded (0.001 = +0.1% a day)", non_negative_up_to(1),
            style.THREE_DECIMALS)
    s.input("hot_days", "Hot days", d["hot_days"], "days", "most recent days kept on the hot tier (fast storage)",
            whole_between(0, 100_000), style.COUNT)


def _today(s: PlanSheet) -> None:
    s.section("2. Embeddings today")
    s.step("bytes", "Bytes per value", "bytes of one value in the precision (Precisions sheet)",
           ref.precision_bytes("in_precision"), "bytes", "vectors stored uncompressed", style.BYTES_EACH)
    s.step("bytes_per_vector", "Bytes per vector", "dimension x bytes per value", "in_dim*out_bytes", "bytes",
           readable(FUNCTIONS["EMBED_STORAGE"].source), style.COUNT)
    s.step("raw_gb", "Raw vectors", "entities x bytes per vector", "in_count*out_bytes_per_vector/1e9", "GB",
           "one copy, no index. Same as EMBED_STORAGE", style.COUNT, key=True)
    s.step("replicated_gb", "Replicated vectors", "raw x replication", "out_raw_gb*in_replication", "GB",
           "every copy is complete", style.COUNT, key=True)


def _index(s: PlanSheet) -> None:
    s.section("3. The vector index (one copy, in memory)")
    s.step("lists_used", "IVF lists", "as given, or 4 x sqrt(entities) rounded when 0",
           _INDEX.lists_used("in_count", "in_lists"), "lists", _note("VECTOR_INDEX_MEM", 2) + "; ivfflat and ivfpq "
           "only", style.COUNT)
    fits = _INDEX_FITS
    s.step("vectors_gb", "Vectors", "entities x dimension x bytes (flat, hnsw, ivfflat)",
           _INDEX.vectors("in_count", "out_bytes"), "GB", "IVF-PQ keeps codes instead", style.DECIMAL, when=fits)
    s.step("links_gb", "Graph links", "entities x (2M + M/(M-1)) x link bytes (hnsw)", _INDEX.links("in_count"), "GB",
           _note("VECTOR_INDEX_MEM", 1), style.DECIMAL, when=fits)
    s.step("graph_book_gb", "Graph bookkeeping", "entities x (level + offset bytes) (hnsw)",
           _INDEX.bookkeeping("in_count"), "GB", "4-byte level and 8-byte offset per vector (faiss/impl/HNSW.h)",
           style.DECIMAL, when=fits)
    s.step("codes_gb", "PQ codes and ids", "entities x (code bytes (ivfpq) + id bytes (ivf))",
           _INDEX.codes_and_ids("in_count"), "GB", "FAISS wiki: IVFPQ takes M + 8 bytes per vector", style.DECIMAL,
           when=fits)
    s.step("centroids_gb", "Centroids and codebooks", "(lists + 256 for PQ) x dimension x 4 bytes (ivf)",
           _INDEX.centroids("out_lists_used"), "GB", "fp32, as FAISS trains them", style.THREE_DECIMALS, when=fits)
    s.step("index_gb", "Index, one copy", "vectors + links + bookkeeping + codes and ids + centroids",
           "out_vectors_gb+out_links_gb+out_graph_book_gb+out_codes_gb+out_centroids_gb", "GB",
           "Same as VECTOR_INDEX_MEM (sources below)", style.COUNT, key=True)
    s.step("index_bytes_per_vector", "Index bytes per entity", "index / entities", "out_index_gb*1e9/in_count",
           "bytes", readable(FUNCTIONS["VECTOR_INDEX_MEM"].source), style.DECIMAL)
    s.step("index_vs_raw", "Index over raw vectors", "index / raw vectors", "out_index_gb/out_raw_gb", "x",
           "HNSW adds links; IVF-PQ shrinks each vector to a code", style.THREE_DECIMALS)
    s.step("indexed_gb", "Index, all copies", "index x replication", "out_index_gb*in_replication", "GB",
           "every copy holds its own index", style.COUNT, key=True)


def _dataset(s: PlanSheet) -> None:
    s.section("4. Training corpus")
    s.step("text_bytes_per_token", "Text bytes per token", "as given, or the tokenizer family's figure when 0",
           f"IF(in_bytes_per_token=0,{classic.tokenizer_figure('in_tokenizer', 'text_bytes')},in_bytes_per_token)",
           "bytes", _note("DATASET_STORAGE"), style.DECIMAL)
    s.step("id_bytes", "Bytes per token id", "2 below 65,500 ids in the vocabulary, else 4 (Tokenizers sheet)",
           classic.tokenizer_figure("in_tokenizer", "id_bytes"), "bytes", _note("DATASET_STORAGE", 1), style.COUNT)
    s.step("raw_text_tb", "Raw text", "tokens x text bytes per token / compression",
           "in_tokens*out_text_bytes_per_token/in_dataset_compression/1e12", "TB", "kept to re-tokenize or audit",
           style.DECIMAL)
    s.step("token_ids_tb", "Token ids", "tokens x bytes per id", "in_tokens*out_id_bytes/1e12", "TB",
           f"what training reads. {readable(FUNCTIONS['DATASET_STORAGE'].source)}", style.DECIMAL)
    s.step("dataset_replicas_tb", "Further copies", "(raw text + token ids) x (copies - 1)",
           "(out_raw_text_tb+out_token_ids_tb)*(in_dataset_replication-1)", "TB", "", style.DECIMAL)
    s.step("dataset_tb", "Corpus storage", "raw text + token ids + further copies",
           "out_raw_text_tb+out_token_ids_tb+out_dataset_replicas_tb", "TB",
           "Same as DATASET_STORAGE", style.DECIMAL, key=True)


def _retained(s: PlanSheet) -> None:
    s.section("5. Retained data: logs and feature snapshots")
    daily, growth, days, hot = "in_daily_gb", "in_daily_growth", "in_retention_days", "in_hot_days"
    s.step("written_tb", "Written over the window", "daily volume x days, or the geometric sum with growth",
           f"{native.retained_written(daily, growth, days)}/1000", "TB", _note("RETAINED_STORAGE"), style.DECIMAL,
           when=_GROWTH_HOLDS)
    s.step("recent_tb", "Written over the hot days", "the same sum over the last hot days",
           f"{native.retained_recent(daily, growth, days, hot)}/1000", "TB", _note("RETAINED_STORAGE", 2),
           style.DECIMAL, when=f"AND({_GROWTH_HOLDS},{_HOT_IN_WINDOW})")
    s.step("kept_factor", "Bytes kept per byte written", "copies x (1 + overhead) / compression",
           "in_retained_replication*(1+in_retained_overhead)/in_retained_compression", "x",
           _note("RETAINED_STORAGE", 1), style.THREE_DECIMALS)
    window = 'out_check_window="OK"'
    s.step("hot_tb", "Hot tier", "written over the hot days x bytes kept per byte", "out_recent_tb*out_kept_factor",
           "TB", "recent days on fast storage", style.DECIMAL, key=True, when=window)
    s.step("cold_tb", "Cold tier", "written over the older days x bytes kept per byte",
           "(out_written_tb-out_recent_tb)*out_kept_factor", "TB",
           f"the rest of the window, on cheaper storage. {readable(FUNCTIONS['RETAINED_STORAGE'].source)}",
           style.DECIMAL, when=window)
    s.step("retained_tb", "Retained storage", "hot tier + cold tier", "out_hot_tb+out_cold_tb", "TB",
           "Same as RETAINED_STORAGE, on the window's last day", style.DECIMAL, key=True)


def _projection(s: PlanSheet) -> None:
    ws = s.ws
    ws.row_breaks.append(Break(id=s.row))  # the projection, its chart and the checks on a page of their own
    s.section("6. The embeddings over the next twelve months")
    s.text("Entities grow by the monthly rate, compounded; the index is sized again each month (IVF lists too, when "
           "automatic); a snapshot of the live index is kept each month, the oldest dropped beyond the snapshots kept.")
    style.header_row(ws, s.row, _PROJECTION_HEADERS, first_column=style.LABEL)
    ws.row_dimensions[s.row].height = 2 * style.LINE_HEIGHT  # "Snapshots kept" wraps in the unit column
    s.row += 1
    first, last = s.row, s.row + MONTHS
    months, live = f"$B${first}:$B${last}", f"$D${first}:$D${last}"
    growth = ("in_count", "in_monthly_growth")  # what column C needs: D and F read it by address
    conditions: dict[str, frozenset[str]] = {}  # per column letter: what its cells need to show
    for month in range(MONTHS + 1):
        r = s.row
        ws.cell(r, 2, month).number_format = style.COUNT
        count = f"C{r}"
        index = _INDEX.total(count, "out_bytes", _INDEX.lists_used(count, "in_lists"))
        cells = (
            (3, s.guarded(f"in_count*(1+in_monthly_growth)^B{r}")),
            (4, s.guarded(f"({index})*in_replication", also=(*growth, "out_index_gb"))),
            (5, s.guarded(f"MIN(in_retention,B{r}+1)")),
            (6, s.guarded(f'SUMIFS({live},{months},">="&(B{r}-E{r}+1),{months},"<="&B{r})',
                          also=(*growth, "out_index_gb", "in_replication", "in_retention"))),
        )
        for col, (formula, needs) in cells:
            conditions[get_column_letter(col)] = needs
            cell = ws.cell(r, col, f"={formula}")
            cell.number_format, cell.alignment = style.COUNT, _NUMBER
        s.row += 1
    style.define(s.wb, "projection_months", ws, f"B{first}:B{last}")
    for name, col in (("month_entities", "C"), ("month_live_gb", "D"), ("month_snapshots", "E"),
                      ("month_total_gb", "F")):
        style.define(s.wb, f"out_{name}", ws, f"{col}{first}:{col}{last}")
        s.conditions[f"out_{name}"] = conditions[col]  # for the steps that read month 12
    s.section("7. In twelve months, and what to provision")
    s.step("entities_12", "Entities", "entities today x (1 + growth)^12", _last("out_month_entities"), "embeddings",
           "", style.COUNT)
    s.step("live_12_gb", "Live index, all copies", "VECTOR_INDEX_MEM for the entities of month 12 x replication",
           _last("out_month_live_gb"), "GB", "", style.COUNT, key=True)
    s.step("total_12_gb", "Index kept, snapshots included", "sum of the live index of the snapshots kept",
           _last("out_month_total_gb"), "GB", "plan capacity for this, plus headroom", style.COUNT, key=True)
    s.step("total_today_tb", "All storage today", "index (all copies) + corpus + retained data",
           "out_indexed_gb/1000+out_dataset_tb+out_retained_tb", "TB", "the corpus and the retention window as "
           "computed above", style.DECIMAL, key=True)
    s.step("total_12_tb", "All storage in twelve months", "index kept with snapshots + corpus + retained data",
           "out_total_12_gb/1000+out_dataset_tb+out_retained_tb", "TB", "corpus and window as today: size them "
           "again when they change", style.DECIMAL, key=True)
    _chart(s, first, last)


def _last(column: str) -> str:
    """Month 12 of a projection column."""
    return f"INDEX({column},ROWS({column}))"


def _checks(s: PlanSheet) -> None:
    s.section("8. Checks")
    _INDEX.check_rows(s, "in_count", "entity", "entities")
    s.check("check_window", "Retention window holds?", "hot days within the window, under 1e30 bytes kept",
            'IF(in_hot_days>in_retention_days,"more hot days than the window ("&in_retention_days&"): the hot tier '
            f'holds the most recent days",IF(out_written_tb*1E+12*out_kept_factor>{HUGE:.0E},"more than 1e30 bytes '
            'kept: lower the daily volume, copies or window","OK"))', "RETAINED_STORAGE refuses the same",
            not_run=TOO_FAST)
    s.checks()


def _chart(s: PlanSheet, first: int, last: int) -> None:
    chart = BarChart()
    chart.type = "col"
    chart.title = "Vector index by month (GB)"
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
    s = PlanSheet.in_new_workbook("Storage plan", TITLE, "How much storage do these embeddings, their index, the "
                                  "training corpus and the logs need today, and in a year?", style.HOW_TO_WITH_LISTS,
                                  repeat_header=False)
    wb = s.wb
    _inputs(s)
    _today(s)
    _index(s)
    _dataset(s)
    _retained(s)
    _projection(s)
    _checks(s)
    ref.add_reference_sheets(wb, ("precisions",))
    for table in ("vector_indexes", "tokenizers"):
        classic.TABLES[table](wb)
    return wb
