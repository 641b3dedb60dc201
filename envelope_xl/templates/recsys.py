"""Workbook 6, the ML system design plan for a recommendation system: traffic, the ranking fleet,
candidate retrieval, the feature store, logs, embedding tables, training and retraining.

Each section is a catalog function written out in standard spreadsheet formulas: PEAK_QPS,
REQUEST_CORE_SECONDS and SERVERS_FOR_QPS for the ranking fleet, BANDWIDTH for its responses,
VECTOR_INDEX_MEM and SHARDS for retrieval, ROW_BYTES and FEATURE_STORE, RETAINED_STORAGE for
the impression logs, EMBEDDING_TABLE_MEM and EMBEDDING_SHARDS for the tables, and
TRAIN_TIME_EXAMPLES and RETRAINING_COST for training.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.planning import default
from envelope_xl.registry import FUNCTIONS
from envelope_xl.sources import render
from envelope_xl.templates import classic_tables as classic
from envelope_xl.templates import native, style
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates.style import (
    PlanSheet,
    at_least,
    choice,
    fraction,
    non_negative_up_to,
    positive,
    whole_at_least,
    whole_between,
)

FILENAME = "recsys_design_plan.xlsx"
TITLE = "Recommendation system design plan"
DESCRIPTION = ("Traffic, ranking fleet, retrieval index, feature store, logs, embedding tables, training and "
               "retraining of a recommendation system.")

#: Default inputs: a feed of 100M daily users refreshing 20 times a day, 500 candidates ranked per
#: request on CPUs, 100M items retrieved from an HNSW index, 300M users' features, a year of
#: impression logs, and a ranking model retrained weekly on 4 billion examples.
DEFAULTS = {
    "dau": 100e6,
    "requests_per_user_per_day": 20,
    "peak_factor": default("peak_factor"),
    "candidates_per_request": 500,
    "flops_per_candidate": 2e6,
    "core_gflops": default("core_gflops"),
    "efficiency": default("efficiency"),
    "cores_per_server": int(default("cores_per_server")),
    "target_utilization": default("target_utilization"),
    "spare": int(default("spare")),
    "response_bytes": 20000,
    "items": 100e6,
    "dim": 128,
    "index": "hnsw",
    "vector_precision": "fp32",
    "m": 32,
    "code_bytes": 64,
    "lists": 0,
    "node_gb": 512,
    "fill": default("fill"),
    "replicas": int(default("replicas")),
    "qps_per_replica": 5000,
    "users": 300e6,
    "features": 200,
    "bytes_per_feature": default("bytes_per_feature"),
    "key_bytes": default("key_bytes"),
    "timestamp_bytes": default("timestamp_bytes"),
    "feature_retention_days": int(default("retention_days")),
    "updates_per_day": default("updates_per_day"),
    "compression": default("compression"),
    "online_replication": default("online_replication"),
    "offline_replication": default("offline_replication"),
    "index_bytes_per_row": default("index_bytes_per_row"),
    "impressions_per_request": 20,
    "log_row_bytes": 500,
    "log_retention_days": 365,
    "log_replication": 3,
    "daily_growth": 0.001,
    "hot_days": 7,
    "embedding_precision": "fp32",
    "optimizer": "rowwise_adagrad",
    "gpu": "H100-SXM",
    "embedding_fill": default("embedding_fill"),
    "examples": 4e9,
    "examples_per_sec_per_gpu": 200000,
    "gpus": 8,
    "epochs": 1,
    "scaling_efficiency": default("scaling_efficiency"),
    "retrain_every_days": default("retrain_every_days"),
    "usd_per_gpu_hour": 2.5,
}

_INDEX = native.VectorIndex()


def _note(name: str) -> str:
    return render(FUNCTIONS[name].assumptions[0])


def _inputs(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("1. Inputs: the yellow cells")
    s.text("Traffic and ranking")
    s.input("dau", "Daily active users", d["dau"], "users", "users active on a day", positive(), style.COUNT)
    s.input("requests_per_user_per_day", "Requests per user per day", d["requests_per_user_per_day"], "requests",
            "feed refreshes or searches one user makes per day", positive(), style.COUNT)
    s.input("peak_factor", "Peak factor", d["peak_factor"], "x average",
            "peak over average request rate (aggregate Internet traffic peaks at 1.72x, Cisco VNI 2010)", at_least(1),
            style.DECIMAL)
    s.input("candidates_per_request", "Candidates ranked per request", d["candidates_per_request"], "items",
            "items the ranking model scores for one request", positive(), style.COUNT)
    s.input("flops_per_candidate", "FLOPs per candidate", d["flops_per_candidate"], "FLOP",
            "the ranking model's FLOPs to score one item", positive(), style.COUNT)
    s.input("core_gflops", "Core peak", d["core_gflops"], "GFLOP/s",
            "fp32 peak of one server core (Xeon Platinum 8480+: 2.0 GHz x 64 FLOP/cycle)", positive(), style.DECIMAL)
    s.input("efficiency", "Core efficiency", d["efficiency"], "fraction",
            "share of the core's peak the model reaches: an assumption, profile yours", fraction(), style.PERCENT)
    s.input("cores_per_server", "Cores per server", d["cores_per_server"], "cores", "CPU cores of one server",
            whole_at_least(1), style.COUNT)
    s.input("target_utilization", "Target utilisation", d["target_utilization"], "fraction",
            "share of each server's cores to plan for; the rest is headroom", fraction(), style.PERCENT)
    s.input("spare", "Spare servers", d["spare"], "servers", "servers on top of the load for N+k redundancy",
            whole_between(0, 1000000), style.COUNT)
    s.input("response_bytes", "Response size", d["response_bytes"], "bytes", "bytes sent back per request",
            positive(), style.COUNT)
    s.text("Candidate retrieval (vector index)")
    s.input("items", "Items", d["items"], "vectors", "items (videos, products) in the retrieval index", positive(),
            style.COUNT)
    s.input("dim", "Embedding dimension", d["dim"], "values", "values per item and user embedding",
            whole_at_least(1), style.COUNT)
    s.input("index", "Index type", d["index"], "", "flat, hnsw, ivfflat or ivfpq (Vector indexes sheet)",
            choice("vi_names", "a vector index"), style.TEXT)
    s.input("vector_precision", "Vector precision", d["vector_precision"], "", "format of the stored vectors",
            choice("prec_names", "a precision"), style.TEXT)
    _INDEX.option_inputs(s, d, "items")
    s.input("node_gb", "Memory per retrieval node", d["node_gb"], "GB", "memory of one retrieval host", positive(),
            style.COUNT)
    s.input("fill", "Node fill", d["fill"], "fraction", "share of a node's memory the index may fill", fraction(),
            style.PERCENT)
    s.input("replicas", "Index replicas", d["replicas"], "copies", "copies of each index shard at least",
            whole_at_least(1), style.COUNT)
    s.input("qps_per_replica", "Requests/s per replica", d["qps_per_replica"], "requests/s",
            "queries one replica of a shard serves", positive(), style.COUNT)
    s.text("Feature store")
    s.input("users", "Users with features", d["users"], "users", "entities in the feature store (all users)",
            positive(), style.COUNT)
    s.input("features", "Features per row", d["features"], "features", "feature values per user row",
            whole_at_least(1), style.COUNT)
    s.input("bytes_per_feature", "Bytes per feature", d["bytes_per_feature"], "bytes", "one 64-bit value",
            positive(), style.COUNT)
    s.input("key_bytes", "Key", d["key_bytes"], "bytes", "entity key (a UUID is 16 bytes)", at_least(0), style.COUNT)
    s.input("timestamp_bytes", "Timestamp", d["timestamp_bytes"], "bytes", "event timestamp (INT64)", at_least(0),
            style.COUNT)
    s.input("feature_retention_days", "Feature history", d["feature_retention_days"], "days",
            "days of history the offline store keeps", whole_between(1, 100000), style.COUNT)
    s.input("updates_per_day", "Rows per user per day", d["updates_per_day"], "rows",
            "rows written per user per day offline (1 = daily snapshot)", positive(), style.DECIMAL)
    s.input("compression", "Compression", d["compression"], "x", "compression of the offline store and the logs "
            "(zstd -1 on Silesia: 2.896)", at_least(1), style.DECIMAL)
    s.input("online_replication", "Online copies", d["online_replication"], "copies", "copies of the online store",
            at_least(1), style.DECIMAL)
    s.input("offline_replication", "Offline copies", d["offline_replication"], "copies",
            "copies of the offline store (1 on object storage)", at_least(1), style.DECIMAL)
    s.input("index_bytes_per_row", "Online index per row", d["index_bytes_per_row"], "bytes",
            "per-row index overhead of the online store (DynamoDB: 100)", at_least(0), style.COUNT)
    s.text("Impression logs")
    s.input("impressions_per_request", "Impressions per request", d["impressions_per_request"], "items",
            "items shown and logged per request", positive(), style.COUNT)
    s.input("log_row_bytes", "Log row", d["log_row_bytes"], "bytes", "bytes of one logged impression", positive(),
            style.COUNT)
    s.input("log_retention_days", "Log retention", d["log_retention_days"], "days", "days the logs are kept",
            whole_between(1, 100000), style.COUNT)
    s.input("log_replication", "Log copies", d["log_replication"], "copies", "copies of the logs", at_least(1),
            style.DECIMAL)
    s.input("daily_growth", "Daily growth", d["daily_growth"], "per day",
            "growth of the log volume per day, compounded (0.001 = +0.1% a day)", non_negative_up_to(1),
            style.THREE_DECIMALS)
    s.input("hot_days", "Hot days", d["hot_days"], "days", "most recent days of logs on the hot tier",
            whole_between(0, 100000), style.COUNT)
    s.text("Embedding tables and training")
    s.input("embedding_precision", "Table precision", d["embedding_precision"], "", "format of the table values",
            choice("list_train_precisions", "a trainable precision"), style.TEXT)
    s.input("optimizer", "Table optimizer", d["optimizer"], "", "Embedding optimizers sheet (row-wise AdaGrad keeps "
            "one value per row)", choice("eo_names", "an embedding optimizer"), style.TEXT)
    s.input("gpu", "GPU type", d["gpu"], "", "accelerator, from the GPUs sheet", choice("gpu_names", "a GPU"),
            style.TEXT)
    s.input("embedding_fill", "GPU memory for tables", d["embedding_fill"], "fraction",
            "share of each GPU's memory for the tables (TorchRec reserves 15%)", fraction(), style.PERCENT)
    s.input("examples", "Examples per run", d["examples"], "examples", "training examples of one retraining run",
            positive(), style.COUNT)
    s.input("examples_per_sec_per_gpu", "Examples/s per GPU", d["examples_per_sec_per_gpu"], "examples/s",
            "measured training throughput of one GPU", positive(), style.COUNT)
    s.input("gpus", "GPUs", d["gpus"], "GPUs", "GPUs training together", whole_at_least(1), style.COUNT)
    s.input("epochs", "Epochs", d["epochs"], "passes", "passes over the examples", positive(), style.DECIMAL)
    s.input("scaling_efficiency", "Scaling efficiency", d["scaling_efficiency"], "fraction",
            "share of linear scaling kept from two GPUs on (Horovod: 90%)", fraction(), style.PERCENT)
    s.input("retrain_every_days", "Retrain every", d["retrain_every_days"], "days", "days between retraining runs",
            positive(), style.DECIMAL)
    s.input("usd_per_gpu_hour", "Price per GPU-hour", d["usd_per_gpu_hour"], "USD", "what one GPU-hour costs",
            positive(), style.USD_CENTS)


def _traffic(s: PlanSheet) -> None:
    s.section("2. Traffic")
    s.step("requests_day", "Requests per day", "daily users x requests per user", "in_dau*in_requests_per_user_per_day",
           "requests", "", style.COUNT)
    s.step("avg_qps", "Average rate", "requests per day / 86,400 s", "out_requests_day/86400", "requests/s",
           _note("PEAK_QPS"), style.COUNT)
    s.step("peak_qps", "Peak rate", "average x peak factor", "out_avg_qps*in_peak_factor", "requests/s",
           "Same as PEAK_QPS: size every fleet for the peak", style.COUNT, key=True)


def _ranking(s: PlanSheet) -> None:
    s.section("3. Ranking fleet (CPU)")
    s.step("flops_per_request", "FLOPs per request", "candidates x FLOPs per candidate",
           "in_candidates_per_request*in_flops_per_candidate", "FLOP", "", style.SCIENTIFIC)
    s.step("core_seconds", "CPU time per request", "FLOPs / (core peak x 1e9 x efficiency)",
           "out_flops_per_request/(in_core_gflops*1e9*in_efficiency)", "core-seconds",
           f"Same as REQUEST_CORE_SECONDS; {_note('REQUEST_CORE_SECONDS')}", "0.00000")
    s.step("busy_cores", "Busy cores at peak", "peak rate x CPU time per request", "out_peak_qps*out_core_seconds",
           "cores", "Little's law: arrival rate x service time", style.ONE_DECIMAL)
    s.step("usable_cores", "Usable cores per server", "cores x target utilisation",
           "in_cores_per_server*in_target_utilization", "cores", "headroom for spikes and failures", style.ONE_DECIMAL)
    s.step("load_servers", "Servers for the load", "busy cores / usable cores, rounded up",
           "ROUNDUP(out_busy_cores/out_usable_cores*(1-1E-12),0)", "servers",
           "float noise at whole numbers forgiven", style.COUNT)
    s.step("ranking_servers", "Ranking servers", "servers for the load + spares", "out_load_servers+in_spare",
           "servers", f"Same as SERVERS_FOR_QPS; {_note('SERVERS_FOR_QPS')}", style.COUNT, key=True)
    s.step("response_gbps", "Response traffic at peak", "peak rate x response bytes x 8 / 1e9",
           "out_peak_qps*in_response_bytes*8/1e9", "Gbps", f"Same as BANDWIDTH; {_note('BANDWIDTH')}", style.DECIMAL)


def _retrieval(s: PlanSheet) -> None:
    s.section("4. Candidate retrieval: the vector index")
    s.step("vector_bytes", "Bytes per vector value", "bytes of the vector precision (Precisions sheet)",
           ref.precision_bytes("in_vector_precision"), "bytes", "", style.BYTES_EACH)
    s.step("lists_used", "IVF lists", "as given, or 4 x sqrt(items) rounded when 0",
           _INDEX.lists_used("in_items", "in_lists"), "lists",
           "FAISS advises 4 to 16 x sqrt(N) lists; used by ivfflat and ivfpq only", style.COUNT)
    s.step("vectors_gb", "Vectors", "items x dimension x bytes (flat, hnsw, ivfflat)",
           _INDEX.vectors("in_items", "out_vector_bytes"), "GB", "", style.DECIMAL)
    s.step("links_gb", "Graph links", "items x (2M + M/(M-1)) x link bytes (hnsw)", _INDEX.links("in_items"), "GB",
           "2M links at level 0; a vector reaches level l with probability M^-l", style.DECIMAL)
    s.step("graph_book_gb", "Graph bookkeeping", "items x (level + offset bytes) (hnsw)",
           _INDEX.bookkeeping("in_items"), "GB", "faiss/impl/HNSW.h", style.DECIMAL)
    s.step("codes_gb", "PQ codes and ids", "items x (code bytes (ivfpq) + id bytes (ivf))",
           _INDEX.codes_and_ids("in_items"), "GB", "FAISS wiki: IVFPQ takes M + 8 bytes per vector", style.DECIMAL)
    s.step("centroids_gb", "Centroids and codebooks", "(lists + 256 for PQ) x dimension x 4 bytes (ivf)",
           _INDEX.centroids("out_lists_used"), "GB", "fp32, as FAISS trains them", style.THREE_DECIMALS)
    s.step("index_gb", "Index memory", "vectors + links + bookkeeping + codes and ids + centroids",
           "out_vectors_gb+out_links_gb+out_graph_book_gb+out_codes_gb+out_centroids_gb", "GB",
           "Same as VECTOR_INDEX_MEM: the FAISS wiki's memory per vector, with HNSW's upper levels", style.DECIMAL,
           key=True)
    s.step("index_bytes_per_vector", "Bytes per item", "index memory / items", "out_index_gb*1e9/in_items", "bytes",
           "compare: the raw fp32 vector is 4 x dimension", style.DECIMAL)
    s.step("index_shards", "Index shards", "index memory / (node memory x fill), rounded up",
           "ROUNDUP(out_index_gb/(in_node_gb*in_fill)*(1-1E-12),0)", "shards", _note("SHARDS"), style.COUNT)
    s.step("load_replicas", "Replicas for the peak", "peak rate / requests per replica, rounded up",
           "ROUNDUP(out_peak_qps/in_qps_per_replica*(1-1E-12),0)", "replicas", "", style.COUNT)
    s.step("index_replicas", "Replicas per shard", "the larger of the replicas asked and those the peak needs",
           "MAX(in_replicas,out_load_replicas)", "replicas", "", style.COUNT)
    s.step("index_nodes", "Retrieval nodes", "shards x replicas per shard", "out_index_shards*out_index_replicas",
           "nodes", "Same as SHARDS", style.COUNT, key=True)


def _features(s: PlanSheet) -> None:
    s.section("5. Feature store")
    s.step("row_bytes", "Bytes per feature row", "features x bytes + key + timestamp",
           "in_features*in_bytes_per_feature+in_key_bytes+in_timestamp_bytes", "bytes",
           f"Same as ROW_BYTES; {_note('ROW_BYTES')}", style.COUNT)
    s.step("online_gb", "Online store", "users x (row + index bytes) x online copies",
           "in_users*(out_row_bytes+in_index_bytes_per_row)*in_online_replication/1e9", "GB",
           "latest row per user, served at low latency", style.DECIMAL, key=True)
    s.step("offline_gb", "Offline store", "users x rows per day x days x row bytes / compression x offline copies",
           "in_users*in_updates_per_day*in_feature_retention_days*out_row_bytes/in_compression"
           "*in_offline_replication/1e9", "GB", f"Same as FEATURE_STORE; {_note('FEATURE_STORE')}", style.DECIMAL,
           key=True)


def _logs(s: PlanSheet) -> None:
    s.section("6. Impression logs")
    s.step("log_gb_day", "Logged per day", "requests per day x impressions x log row bytes",
           "out_requests_day*in_impressions_per_request*in_log_row_bytes/1e9", "GB", "before copies and compression",
           style.DECIMAL)
    s.step("log_kept_factor", "Bytes kept per byte written", "log copies / compression",
           "in_log_replication/in_compression", "x", "", style.THREE_DECIMALS)
    growth, days, hot = "in_daily_growth", "in_log_retention_days", "in_hot_days"
    s.step("log_written_gb", "Written over the window", "daily volume x days, or the geometric sum with growth",
           native.retained_written("out_log_gb_day", growth, days), "GB",
           _note("RETAINED_STORAGE"), style.DECIMAL)
    s.step("log_hot_tb", "Hot tier", "the last hot days x bytes kept per byte",
           f"{native.retained_recent('out_log_gb_day', growth, days, hot)}*out_log_kept_factor/1000", "TB",
           "recent days on fast storage", style.DECIMAL, key=True)
    s.step("log_cold_tb", "Cold tier", "the older days x bytes kept per byte",
           "out_log_written_gb*out_log_kept_factor/1000-out_log_hot_tb", "TB", "the rest of the window",
           style.DECIMAL)
    s.step("log_total_tb", "Logs kept", "hot tier + cold tier", "out_log_hot_tb+out_log_cold_tb", "TB",
           "Same as RETAINED_STORAGE", style.DECIMAL, key=True)


def _embeddings(s: PlanSheet) -> None:
    s.section("7. Embedding tables (training)")
    s.step("embedding_rows", "Rows", "users + items", "in_users+in_items", "rows", "one row per id", style.COUNT)
    s.step("table_gb", "Tables", "rows x dimension x bytes of the table precision",
           f"out_embedding_rows*in_dim*{ref.precision_bytes('in_embedding_precision')}/1e9", "GB", "", style.DECIMAL)
    state = (f"({classic.optimizer_states('in_optimizer', 'element')}*in_dim+"
             f"{classic.optimizer_states('in_optimizer', 'row')})")
    s.step("state_gb", "Optimizer state", "rows x (values per element x dimension + values per row) x 4 bytes",
           f"out_embedding_rows*{state}*4/1e9", "GB", "fp32 states (Embedding optimizers sheet)", style.DECIMAL)
    s.step("embedding_gb", "Table memory", "tables + optimizer state", "out_table_gb+out_state_gb", "GB",
           f"Same as EMBEDDING_TABLE_MEM; {_note('EMBEDDING_TABLE_MEM')}", style.DECIMAL, key=True)
    s.step("gpu_memory_gb", "GPU memory", "memory_gb of the GPU (GPUs sheet)", ref.gpu_figure("in_gpu", '"memory_gb"'),
           "GB", "capacity as printed on the datasheet", style.ONE_DECIMAL)
    s.step("embedding_gpus", "GPUs for the tables", "table memory / (GPU memory x share for tables), rounded up",
           "ROUNDUP(out_embedding_gb/(out_gpu_memory_gb*in_embedding_fill)*(1-1E-12),0)", "GPUs",
           "Same as EMBEDDING_SHARDS: tables split by rows", style.COUNT, key=True)


def _training(s: PlanSheet) -> None:
    s.section("8. Training and retraining")
    s.step("cluster_rate", "Cluster throughput", "examples/s per GPU x GPUs x scaling efficiency (from 2 GPUs)",
           "in_examples_per_sec_per_gpu*in_gpus*IF(in_gpus>1,in_scaling_efficiency,1)", "examples/s",
           _note("TRAIN_TIME_EXAMPLES"), style.COUNT)
    s.step("train_hours", "Time per run", "examples x epochs / cluster throughput / 3,600",
           "in_examples*in_epochs/out_cluster_rate/3600", "h", "Same as TRAIN_TIME_EXAMPLES", style.DECIMAL, key=True)
    s.step("gpu_hours_run", "GPU-hours per run", "time per run x GPUs", "out_train_hours*in_gpus", "GPU-hours", "",
           style.DECIMAL)
    s.step("runs_per_year", "Runs per year", "365 / days between runs", "365/in_retrain_every_days", "runs",
           "retraining follows the drift of the data", style.DECIMAL)
    s.step("retrain_usd_year", "Retraining per year", "GPU-hours per run x runs x price",
           "out_gpu_hours_run*out_runs_per_year*in_usd_per_gpu_hour", "USD",
           f"Same as RETRAINING_COST; {_note('RETRAINING_COST')}", style.USD, key=True)


def _checks(s: PlanSheet) -> None:
    s.section("9. Checks")
    _INDEX.check_rows(s, "in_items", "item", "items")
    s.check("check_retrain", "Run fits the interval?", "time per run within the days between runs",
            'IF(out_train_hours/24<=in_retrain_every_days,"OK","a run takes "&ROUNDUP(out_train_hours/24,1)&'
            '" days: retrain less often or add GPUs")', "RETRAINING_COST refuses the same")
    s.checks()


_CHART_ROWS = (
    ("Retrieval index, all replicas", "out_index_gb*out_index_replicas/1000"),
    ("Online feature store", "out_online_gb/1000"),
    ("Offline feature store", "out_offline_gb/1000"),
    ("Impression logs", "out_log_total_tb"),
    ("Embedding tables (training)", "out_embedding_gb/1000"),
)


def build() -> Workbook:
    s = PlanSheet.in_new_workbook("Design plan", TITLE, "What does this recommendation system need: servers, index "
                                  "nodes, storage, GPUs, and a year of retraining?", style.HOW_TO_WITH_LISTS)
    wb = s.wb
    _inputs(s)
    _traffic(s)
    _ranking(s)
    _retrieval(s)
    _features(s)
    _logs(s)
    _embeddings(s)
    _training(s)
    _checks(s)
    s.bar_chart("10. Storage and memory at a glance", "Storage and memory (TB)", _CHART_ROWS, "TB")
    ref.add_reference_sheets(wb, ("precisions", "gpus", "lists"))
    for table in ("vector_indexes", "embedding_optimizers", "planning"):
        classic.TABLES[table](wb)
    return wb
