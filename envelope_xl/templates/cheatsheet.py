"""Workbook 4, the estimation cheat sheet: the four pillars, each with its formula, what to say
aloud, and a worked example computed live, the classic steps of a system design answer (users
to peak QPS, QPS to servers, daily rows to retained storage) beside the LLM ones; then bytes
per precision and per optimizer.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.planning import default
from envelope_xl.reference import OPTIMIZERS, PRECISIONS
from envelope_xl.sources import readable
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style
from envelope_xl.templates.style import (
    PlanSheet,
    at_least,
    choice,
    fraction,
    positive,
    whole_at_least,
    whole_between,
)

FILENAME = "estimation_cheat_sheet.xlsx"
TITLE = "Estimation cheat sheet"
DESCRIPTION = ("The four pillars of back-of-the-envelope estimation for ML systems, with the classic system design "
               "steps and live worked examples.")

#: The worked examples: 7B in fp16 for inference, 7B with mixed-precision Adam, 1B x 256 fp32
#: embeddings with 3 replicas, a 7B model on 1T tokens over 1,024 H100s.
DEFAULTS = {
    "params": 7e9,
    "inference_precision": "fp16",
    "train_precision": "fp16",
    "optimizer": "adam",
    "count": 1e9,
    "dim": 256,
    "storage_precision": "fp32",
    "replication": 3,
    "log_rows_per_day": 1e9,
    "log_row_bytes": 500,
    "log_retention_days": 90,
    "log_compression": default("compression"),
    "serve_params": 7e9,
    "serve_gpu": "H100-SXM",
    "serve_precision": "bf16",
    "batch": 1,
    "qps": 2000,
    "latency_s": 1.5,
    "dau": 100e6,
    "requests_per_user_per_day": 20,
    "peak_factor": default("peak_factor"),
    "core_seconds_per_request": 0.01,
    "cores_per_server": int(default("cores_per_server")),
    "target_utilization": default("target_utilization"),
    "spare": int(default("spare")),
    "train_params": 7e9,
    "tokens": 1e12,
    "gpus": 1024,
    "train_gpu": "H100-SXM",
    "time_precision": "bf16",
    "mfu": 0.4,
}


def _say(s: PlanSheet, formula: str, aloud: tuple[str, ...]) -> None:
    s.text(f"Formula: {formula}", style.KEY_FONT)
    for line in aloud:
        s.text(f"Say aloud: {line}")


def _model_size(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("Pillar 1. Model size")
    _say(s, "memory = parameters x bytes per parameter; training adds gradients, fp32 master weights and "
         "optimizer states", (
             "fp32 is 4 bytes, fp16/bf16 2, int8 1, int4 half a byte.",
             "Inference: weights only, before KV cache and activations (add ~20% for the runtime).",
             "Mixed-precision Adam: 2 (weights) + 2 (gradients) + 4 (fp32 master) + 8 (m and v) = 16 bytes "
             "per parameter, before activations.",
         ))
    s.input("params", "Parameters", d["params"], "parameters", "model size (7e9 = 7B)", positive(), style.COUNT)
    s.input("inference_precision", "Inference precision", d["inference_precision"], "", "format of the weights",
            choice("prec_names", "a precision"), style.TEXT)
    s.input("train_precision", "Training precision", d["train_precision"], "",
            "format of weights and gradients in training", choice("list_train_precisions", "a trainable precision"),
            style.TEXT)
    s.input("optimizer", "Optimizer", d["optimizer"], "", "optimizer whose state is kept",
            choice("opt_names", "an optimizer"), style.TEXT)
    s.step("inference_gb", "Inference weights", "parameters x bytes per value",
           f"in_params*{ref.precision_bytes('in_inference_precision')}/1e9", "GB",
           "Same as MODEL_MEM: 7B in fp16 = 14 GB", style.DECIMAL, key=True)
    train_bytes = ref.precision_bytes("in_train_precision")
    s.step("train_bytes_per_param", "Training bytes per parameter",
           "weights + gradients + fp32 master (below 4 bytes) + optimizer state",
           f"2*{train_bytes}+IF({train_bytes}<4,4,0)+{ref.optimizer_bytes('in_optimizer')}", "bytes",
           "ZeRO section 3.1: 2 + 2 + 12 for mixed-precision Adam", style.BYTES_EACH)
    s.step("train_gb", "Training model states", "parameters x training bytes per parameter",
           "in_params*out_train_bytes_per_param/1e9", "GB",
           "Same as TRAIN_MEM on one GPU: 7B with mixed-precision Adam = 112 GB before activations",
           style.DECIMAL, key=True)


def _storage(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("Pillar 2. Storage")
    _say(s, "storage = entities x bytes per entity x replication x (1 + overhead)", (
        "Count the entities, multiply by bytes per entity, then the copies and the index you forget.",
        "An fp32 embedding of d values is 4d bytes; replication 3 is the usual default (HDFS).",
    ))
    s.input("count", "Entities", d["count"], "embeddings", "embeddings stored (1e9 = 1 billion)", positive(),
            style.COUNT)
    s.input("dim", "Dimension", d["dim"], "values", "values per embedding", whole_at_least(1), style.COUNT)
    s.input("storage_precision", "Precision", d["storage_precision"], "", "format of each value",
            choice("prec_names", "a precision"), style.TEXT)
    s.input("replication", "Replication", d["replication"], "copies", "copies kept", at_least(1), style.DECIMAL)
    s.step("raw_gb", "Raw storage", "entities x dimension x bytes per value",
           f"in_count*in_dim*{ref.precision_bytes('in_storage_precision')}/1e9", "GB",
           "1B x 256 x 4 bytes = 1,024 GB", style.COUNT)
    s.step("replicated_gb", "Replicated storage", "raw x replication", "out_raw_gb*in_replication", "GB",
           "Same as EMBED_STORAGE: 3,072 GB with 3 copies, before any index", style.COUNT, key=True)
    _retained(s)


def _retained(s: PlanSheet) -> None:
    d = DEFAULTS
    _say(s, "kept = rows per day x bytes per row x days kept x replication / compression", (
        "Logs and features accumulate: the daily volume times the retention window, not the daily volume.",
        "Then the copies (x3), then compression (columnar files with zstd: about 3x smaller).",
    ))
    s.input("log_rows_per_day", "Rows per day", d["log_rows_per_day"], "rows", "events or feature rows written a day",
            positive(), style.COUNT)
    s.input("log_row_bytes", "Bytes per row", d["log_row_bytes"], "bytes", "bytes of one row (ROW_BYTES)", positive(),
            style.COUNT)
    s.input("log_retention_days", "Retention", d["log_retention_days"], "days", "days the rows are kept",
            whole_between(1, 100000), style.COUNT)
    s.input("log_compression", "Compression", d["log_compression"], "x",
            "compression ratio (zstd -1 on the Silesia corpus: 2.896)", at_least(1), style.DECIMAL)
    s.step("log_tb_day", "Written per day", "rows per day x bytes per row", "in_log_rows_per_day*in_log_row_bytes/1e12",
           "TB", "before copies and compression", style.DECIMAL)
    s.step("log_kept_tb", "Kept", "per day x days x replication / compression",
           "out_log_tb_day*in_log_retention_days*in_replication/in_log_compression", "TB",
           "Same as RETAINED_STORAGE: 1B rows of 500 bytes for 90 days, 3 copies: 46.6 TB", style.DECIMAL, key=True)


def _throughput(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("Pillar 3. Throughput")
    _say(s, "decode tokens/s = batch / max(weight bytes / bandwidth, 2 x parameters x batch / peak); "
         "requests in flight = QPS x latency", (
             "At small batch, every generated token reads every weight once: bandwidth, not FLOPs, sets the pace.",
             "Little's law sizes concurrency: arrivals per second x seconds in the system.",
         ))
    s.input("serve_params", "Parameters", d["serve_params"], "parameters", "model size", positive(), style.COUNT)
    s.input("serve_gpu", "GPU", d["serve_gpu"], "", "accelerator (GPUs sheet)", choice("gpu_names", "a GPU"),
            style.TEXT)
    s.input("serve_precision", "Precision", d["serve_precision"], "", "format of the weights",
            choice("prec_names", "a precision"), style.TEXT)
    s.input("batch", "Batch", d["batch"], "sequences", "sequences decoded together", whole_at_least(1), style.COUNT)
    s.input("qps", "Load", d["qps"], "requests/s", "requests per second", positive(), style.COUNT)
    s.input("latency_s", "Latency", d["latency_s"], "s", "seconds each request spends in the system", positive(),
            style.DECIMAL)
    weight_bytes = f"in_serve_params*{ref.precision_bytes('in_serve_precision')}"
    bandwidth = ref.gpu_figure("in_serve_gpu", '"bandwidth_tbs"')
    peak = ref.gpu_figure("in_serve_gpu", ref.peak_field("in_serve_precision"))
    s.step("serve_peak_tflops", "Dense peak", "the GPU's peak in the precision", f"IF({peak}>0,{peak},NA())",
           "TFLOP/s", "#N/A when the GPU publishes no such peak", style.ONE_DECIMAL)
    s.step("decode_tps", "Decode throughput", "batch / max(weight bytes / bandwidth, 2 x params x batch / peak)",
           f"in_batch/MAX({weight_bytes}/({bandwidth}*1e12),2*in_serve_params*in_batch/(out_serve_peak_tflops*1e12))",
           "tokens/s", "The weights-only roofline: an upper bound (DECODE_TPS adds KV-cache reads, measured "
           "efficiencies and a memory check)",
           style.ONE_DECIMAL, key=True)
    s.step("concurrency", "Requests in flight", "QPS x latency", "in_qps*in_latency_s", "requests",
           "Same as CONCURRENCY: 2,000 QPS x 1.5 s = 3,000", style.COUNT, key=True)
    _traffic(s)


def _traffic(s: PlanSheet) -> None:
    d = DEFAULTS
    _say(s, "peak QPS = daily users x requests per user / 86,400 x peak factor; servers = peak QPS x CPU seconds "
         "per request / (cores x utilisation) + spares", (
             "Start from users: 100M daily users x 20 requests / 86,400 s is 23,000 requests/s on average.",
             "Plan for the peak, not the average: x3 (aggregate Internet traffic peaks at 1.72x its average hour).",
             "Busy cores = requests/s x CPU seconds each; divide by cores at 70% and add a spare for N+1.",
         ))
    s.input("dau", "Daily active users", d["dau"], "users", "users active on a day", positive(), style.COUNT)
    s.input("requests_per_user_per_day", "Requests per user", d["requests_per_user_per_day"], "requests/day",
            "requests one user makes a day", positive(), style.COUNT)
    s.input("peak_factor", "Peak factor", d["peak_factor"], "x average", "peak over average request rate",
            at_least(1), style.DECIMAL)
    s.input("core_seconds_per_request", "CPU time per request", d["core_seconds_per_request"], "core-seconds",
            "CPU time of one request (REQUEST_CORE_SECONDS)", positive(), style.THREE_DECIMALS)
    s.input("cores_per_server", "Cores per server", d["cores_per_server"], "cores", "CPU cores of one server",
            whole_at_least(1), style.COUNT)
    s.input("target_utilization", "Target utilisation", d["target_utilization"], "fraction",
            "share of each server's cores to plan for", fraction(), style.PERCENT)
    s.input("spare", "Spare servers", d["spare"], "servers", "servers for N+k redundancy", whole_between(0, 1000000),
            style.COUNT)
    s.step("avg_qps", "Average rate", "daily users x requests per user / 86,400",
           "in_dau*in_requests_per_user_per_day/86400", "requests/s", "requests spread over the day", style.COUNT)
    s.step("peak_qps", "Peak rate", "average x peak factor", "out_avg_qps*in_peak_factor", "requests/s",
           "Same as PEAK_QPS: 69,444 requests/s", style.COUNT, key=True)
    s.step("servers", "Servers", "peak x CPU time / (cores x utilisation), rounded up, + spares",
           "ROUNDUP(out_peak_qps*in_core_seconds_per_request/(in_cores_per_server*in_target_utilization)*(1-1E-12),0)"
           "+in_spare", "servers", "Same as SERVERS_FOR_QPS: 32 + 1 = 33", style.COUNT, key=True)


def _training_time(s: PlanSheet) -> None:
    d = DEFAULTS
    s.section("Pillar 4. Training time")
    _say(s, "days = 6 x parameters x tokens / (GPUs x peak x MFU) / 86,400", (
        "6 FLOPs per parameter per token: 2 forward, 4 backward (Kaplan et al. 2020).",
        "MFU of 30-50% is typical for large dense models; state yours.",
    ))
    s.input("train_params", "Parameters", d["train_params"], "parameters", "model size", positive(), style.COUNT)
    s.input("tokens", "Tokens", d["tokens"], "tokens", "training tokens", positive(), style.COUNT)
    s.input("gpus", "GPUs", d["gpus"], "GPUs", "GPUs training together", whole_at_least(1), style.COUNT)
    s.input("train_gpu", "GPU", d["train_gpu"], "", "accelerator (GPUs sheet)", choice("gpu_names", "a GPU"),
            style.TEXT)
    s.input("time_precision", "Precision", d["time_precision"], "", "format of the matmuls",
            choice("list_train_precisions", "a trainable precision"), style.TEXT)
    s.input("mfu", "MFU", d["mfu"], "fraction", "share of dense peak achieved", fraction(), style.PERCENT)
    peak = ref.gpu_figure("in_train_gpu", ref.peak_field("in_time_precision"))
    s.step("train_flops", "Training compute", "6 x parameters x tokens", "6*in_train_params*in_tokens", "FLOP",
           "Same as TRAIN_FLOPS", style.SCIENTIFIC)
    s.step("train_peak_tflops", "Dense peak", "the GPU's peak in the precision", f"IF({peak}>0,{peak},NA())",
           "TFLOP/s", "#N/A when the GPU publishes no such peak", style.ONE_DECIMAL)
    s.step("train_days", "Training time", "compute / (GPUs x peak x MFU) / 86,400",
           "out_train_flops/(in_gpus*out_train_peak_tflops*1e12*in_mfu)/86400", "days",
           "Same as TRAIN_TIME: a constant MFU, no restarts", style.DECIMAL, key=True)
    s.step("gpu_hours", "GPU-hours", "compute / (peak x MFU) / 3,600",
           "out_train_flops/(out_train_peak_tflops*1e12*in_mfu)/3600", "GPU-hours", "Same as GPU_HOURS",
           style.COUNT)


def _tables(s: PlanSheet) -> None:
    ws = s.ws
    s.section("Bytes per value (Precisions sheet)")
    style.header_row(ws, s.row, ("Precision", "Source", "Bytes", "Unit"), first_column=style.LABEL)
    s.row += 1
    for i, name in enumerate(PRECISIONS):
        src = ref.FIRST_DATA_ROW + i
        source = readable(PRECISIONS.get("precision", name).source)
        ws.row_dimensions[s.row].height = style.rows_for((source, style.WIDTHS[style.WORDS]))
        ws.cell(s.row, style.LABEL, f"=Precisions!A{src}").alignment = style.TOP
        ws.cell(s.row, style.WORDS, f"=Precisions!E{src}").alignment = style.WRAP
        ws.cell(s.row, style.VALUE, f"=Precisions!B{src}").number_format = style.BYTES_EACH
        ws.cell(s.row, style.VALUE).alignment = style.TOP
        ws.cell(s.row, style.UNIT, "bytes").alignment = style.TOP
        s.row += 1
    s.section("Optimizer state per parameter (Optimizers sheet)")
    style.header_row(ws, s.row, ("Optimizer", "Source", "State bytes", "Unit", "Total with 2-byte mixed precision"),
                     first_column=style.LABEL)
    s.row += 1
    for i, name in enumerate(OPTIMIZERS):
        src = ref.FIRST_DATA_ROW + i
        source = readable(OPTIMIZERS.get("optimizer", name).source)
        ws.row_dimensions[s.row].height = style.rows_for((source, style.WIDTHS[style.WORDS]))
        ws.cell(s.row, style.LABEL, f"=Optimizers!A{src}").alignment = style.TOP
        ws.cell(s.row, style.WORDS, f"=Optimizers!C{src}").alignment = style.WRAP
        ws.cell(s.row, style.VALUE, f"=Optimizers!B{src}").number_format = style.BYTES_EACH
        ws.cell(s.row, style.VALUE).alignment = style.TOP
        ws.cell(s.row, style.UNIT, "bytes").alignment = style.TOP
        total = ws.cell(s.row, style.NOTE, f'="2 + 2 + 4 + "&D{s.row}&" = "&(8+D{s.row})&" bytes per parameter"')
        total.alignment = style.TOP
        s.row += 1
    s.text("The GPU catalog (memory, bandwidth, dense peaks, and the datasheet behind each) is on the GPUs sheet.",
           style.KEY_FONT)


def build() -> Workbook:
    s = PlanSheet.in_new_workbook(
        "Cheat sheet", TITLE,
        "Model size, storage, throughput and training time: the formula, what to say aloud, and a worked example "
        "for each.",
        "Change any yellow cell and the worked examples follow. Reasoning beats arithmetic: state the assumptions "
        "before the number.",
        repeat_header=False,  # the tables at the end have headers of their own
    )
    wb = s.wb
    _model_size(s)
    _storage(s)
    _throughput(s)
    _training_time(s)
    s.section("Checks")
    s.checks()
    _tables(s)
    ref.add_reference_sheets(wb, ("precisions", "optimizers", "gpus", "lists"))
    return wb
