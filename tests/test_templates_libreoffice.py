"""Workbooks 1-4 recomputed by a real spreadsheet engine (LibreOffice) agree with the core.

For the default inputs, a few chosen ones (CHOSEN) and 21 random input sets per workbook,
the inputs are written into the named input cells, LibreOffice recalculates every file (one
soffice run for all of them), and every named output must equal the core's answer for the
same inputs to a relative 1e-9, with no cell anywhere evaluating to an error.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import require
from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from envelope_xl import (
    bytes_per_param,
    chinchilla_tokens,
    concurrency,
    decode_tps,
    embed_storage,
    gpu_hours,
    gpu_spec,
    max_batch,
    model_config,
    model_mem,
    model_params,
    serving_gpus,
    train_flops,
    train_mem,
    train_time,
)
from envelope_xl.catalog import call
from envelope_xl.core import cluster, peak_memory, serving_data
from envelope_xl.core.activations import layer_bytes, layer_input_bytes
from envelope_xl.core.finetune import largest_matrix, layer_adapters, parse_targets, quantized_bytes
from envelope_xl.core.recompute import RECOMPUTE
from envelope_xl.core.replica import Replica, replica
from envelope_xl.core.serving_data import scale_bits
from envelope_xl.errors import InputError
from envelope_xl.libreoffice import LibreOfficeError, convert, convert_many, find_soffice
from envelope_xl.models import PRESETS as MODELS
from envelope_xl.models import resolve_model
from envelope_xl.planning import EMBEDDING_OPTIMIZERS, TOKENIZERS
from envelope_xl.reference import GPUS, LINKS, OPTIMIZERS, PRECISIONS
from envelope_xl.registry import FUNCTIONS
from envelope_xl.templates import (
    build_bytes,
    cheatsheet,
    model_block,
    recsys,
    serving,
    serving_tables,
    storage,
    sweep,
    training,
    training_tables,
)
from envelope_xl.templates.render import render_pngs

RANDOM_SETS = 21
REL = 1e-9
ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}


@pytest.fixture(scope="module")
def soffice() -> Path:
    found = find_soffice()
    require("LibreOffice (soffice)", None if found else "these tests recompute the workbooks in it "
            "(Debian: apt-get install libreoffice-calc-nogui)")
    return found


# The core's answers ----------------------------------------------------------------------------

def _model(values: dict[str, Any], fields: tuple[str, ...]) -> tuple[float, ...]:
    if values["model"] == "custom":
        return (values["params_custom"], *(values[f"{f}_custom"] for f in fields))
    return (model_params(values["model"]), *(model_config(values["model"], f) for f in fields))


def _mixture(values: dict[str, Any]) -> tuple[float, float, float]:
    """Active parameters per token, experts and experts per token; a custom model is dense."""
    if values["model"] == "custom":
        return values["params_custom"], 1, 1
    m = values["model"]
    return model_params(m, active=True), model_config(m, "experts"), model_config(m, "experts_per_token")


def _peak(gpu: str, precision: str) -> float:
    return gpu_spec(gpu, PRECISIONS.get("precision", precision).peak_field)


def _training_plan(v: dict[str, Any], model: Any) -> Any:
    """The core's checked plan for the sheet's layout, or None where TRAIN_PEAK_MEM refuses it."""
    try:
        return peak_memory.make_plan(model, v["seq_len"], v["micro_batch"], v["precision"], v["optimizer"], v["gpus"],
                                     v["zero_stage"], v["recompute"], v["tp"], v["pp"], v["attention"], v["sp"],
                                     v["method"], v["lora_rank"], v["lora_targets"], v["offload"], v["logit_bytes"])
    except InputError:
        return None


def _half_up(x: float) -> int:
    """ROUND(x, 0) of a positive x."""
    return math.floor(x + 0.5)


def _layout_message(v: dict[str, Any], arch: Any) -> str:
    """The sheet's words for a layout TRAIN_PEAK_MEM refuses, and what would run."""
    tp, pp, gpus = v["tp"], v["pp"], v["gpus"]
    kv = arch.heads if arch.is_mla else arch.kv_heads
    if gpus % (tp * pp):
        near = max(1, _half_up(gpus / (tp * pp))) * tp * pp
        return f"tp x pp = {tp * pp} does not divide {gpus} GPUs: use e.g. {near}"
    if pp > arch.layers:
        return f"pp {pp} exceeds the {arch.layers} layers: use pp <= {arch.layers}"
    if arch.heads % tp:
        return f"tp {tp} does not divide the {arch.heads} heads: use a divisor"
    if (kv >= tp and kv % tp) or (kv < tp and tp % kv):
        return f"tp {tp} is no divisor or multiple of the {kv} KV heads"
    if v["offload"] != "none" and v["zero_stage"] < 1:
        return "optimizer offload needs ZeRO stage 1, 2 or 3"
    if v["offload"] == "optimizer+params" and v["zero_stage"] < 3:
        return "parameter offload needs ZeRO stage 3"
    return "OK"


def _step_message(v: dict[str, Any], arch: Any, dp: int) -> str:
    tp, pp, node, per = v["tp"], v["pp"], v["gpus_per_node"], v["micro_batch"] * dp
    if arch.layers % pp:
        return f"pp {pp} does not divide the {arch.layers} layers (equal stages)"
    if node % tp and tp % node:
        return f"tp {tp} does not fit nodes of {node} GPUs"
    if v["global_batch"] % per:
        return (f"global batch: a multiple of micro-batch x replicas = {per}, e.g. "
                f"{max(1, _half_up(v['global_batch'] / per)) * per}")
    return "OK"


def _adapter_values(v: dict[str, Any], arch: Any) -> dict[str, Any]:
    """LoRA adapters per block of each kind (0 for full training or a kind the model lacks)."""
    targets = parse_targets("lora_targets", v["lora_targets"])
    present = {"dense": arch.layers > arch.moe_layers, "moe": arch.moe_layers > 0}
    return {f"adapter_{kind}": layer_adapters(arch, kind == "moe", targets, v["lora_rank"]).params
            if v["method"] != "full" and here else 0 for kind, here in present.items()}


def _stage_values(plan: Any, key: str, stage: Any) -> dict[str, Any]:
    """One pipeline stage's rows: its blocks, parameters per GPU and TRAIN_PEAK_MEM's components."""
    parts = peak_memory.stage_parts(plan, stage)
    one = sum(peak_memory.stage_parts(peak_memory.with_batch(plan, 1), stage)[:-1])
    two = sum(peak_memory.stage_parts(peak_memory.with_batch(plan, 2), stage)[:-1])
    lp = peak_memory._layer_params(plan.arch)
    outside = (lp.embedding if stage.first else 0) + ((lp.head + lp.final_norm) if stage.last else 0)
    if stage.first and stage.last and plan.arch.tied_embeddings:
        outside -= lp.head
    names = ("weights", "adapter_weights", "gradients", "master", "optimizer", "activations", "logits", "transient",
             "reserve")
    adapters = peak_memory.adapters_of(plan)
    adapted = sum(n * adapters[k].params for k, n in ((False, stage.dense), (True, stage.moe))) / plan.tp \
        if adapters else 0.0
    params = (stage.dense * lp.dense + stage.moe * lp.moe + outside) / plan.tp
    return {
        **{f"{key}_{n}_gb": x / 1e9 for n, x in zip(names, parts, strict=False) if n},
        f"{key}_dense": stage.dense, f"{key}_moe": stage.moe,
        f"{key}_params": params, f"{key}_adapters": adapted,
        f"{key}_trained": params if plan.method == "full" else adapted,
        f"{key}_total_gb": sum(parts[:-1]) / 1e9, f"{key}_host_gb": parts[-1] / 1e9,
        f"{key}_per_sequence_gb": (two - one) / 1e9,
    }


def _block_values(plan: Any) -> dict[str, Any]:
    """What one block keeps (the core's per-layer accounting); 0 for a kind of block the model lacks."""
    shapes = peak_memory._shapes(plan)
    t, s, b, sp = plan.tp, plan.seq_len, plan.micro_batch, plan.sp
    kept = {k: layer_bytes(x, s, b, t, sp, plan.attention, plan.recompute) for k, x in shapes.items()}
    whole = {k: layer_bytes(x, s, b, t, sp, plan.attention, "none") for k, x in shapes.items()}
    some = next(iter(shapes))
    layer_input = layer_input_bytes(shapes[some], s, b, t, sp)
    out = {"att_kept_gb": kept[some][0] / 1e9, "att_all_gb": whole[some][0] / 1e9, "norms_gb": kept[some][2] / 1e9,
           "layer_input_gb": layer_input / 1e9}
    for kind, moe in (("dense", False), ("moe", True)):
        mlp = kept[moe][1] if moe in shapes else 0.0
        out[f"mlp_{kind}_gb"] = mlp / 1e9
        keeps = layer_input if plan.recompute == "full" else kept[some][0] + mlp + kept[some][2]
        out[f"layer_{kind}_gb"] = keeps / 1e9 if moe in shapes else 0.0
    return out


def _links(v: dict[str, Any], dp: int | None) -> dict[str, Any]:
    """Section 8: the links and the bandwidth and latency of each group (the core's _group_link)."""
    own = v["intra_link"] == training_tables.GPU_OWN_LINK
    name = GPUS.get("gpu", v["gpu"]).intra_link if own else v["intra_link"]
    inter = LINKS.get("link", v["inter_link"])
    out: dict[str, Any] = {"intra_link": name, "inter_gbs": inter.bandwidth / 1e9, "inter_us": inter.latency * 1e6,
                           **dict.fromkeys(("intra_gbs", "intra_us", "tp_gbs", "tp_us", "dp_gbs", "dp_us"), "")}
    if not name:
        return out
    intra = LINKS.get("link", name)
    out |= {"intra_gbs": intra.bandwidth / 1e9, "intra_us": intra.latency * 1e6}
    speeds = (intra.bandwidth, intra.latency), (inter.bandwidth, inter.latency)
    tp, node = v["tp"], v["gpus_per_node"]
    bw, lat = cluster._group_link(tp, min(tp, node), *speeds)
    out |= {"tp_gbs": bw / 1e9, "tp_us": lat * 1e6}
    if dp is not None:
        bw, lat = cluster._group_link(dp, max(1, min(dp, node // tp)), *speeds)
        out |= {"dp_gbs": bw / 1e9, "dp_us": lat * 1e6}
    return out


_STEP_ROWS = ("micro_batches", "model_flops", "compute_s", "tp_s", "bubble_s", "dp_raw_s", "dp_exposed_share",
              "dp_grads_s", "zero3_s", "step_s", "mfu", "checkpoint_gb", "checkpoint_write_s", "checkpoint_interval_s",
              "steps", "train_flops", "compute_days")
_GOODPUT_ROWS = ("interruptions_per_interval", "wall_per_interval_s", "writes_share", "restarts_share", "goodput",
                 "lost_share", "train_days", "interruptions", "gpu_hours", "cost_usd")


def _step_time(v: dict[str, Any], model: Any, arch: Any, links: dict[str, Any]) -> dict[str, Any]:
    """Sections 9 to 11 when the step runs: TRAIN_STEP_TIME's steps, GOODPUT's, and the totals."""
    own = v["intra_link"] == training_tables.GPU_OWN_LINK
    tokens = v["global_batch"] * v["seq_len"]
    flops, dp, m, _, compute, tp_s, bubble, grads, zero3, mfu = FUNCTIONS["TRAIN_STEP_TIME"].steps_fn(
        model, tokens, v["gpus"], v["gpu"], v["precision"], v["tp"], v["pp"], v["zero_stage"], v["seq_len"],
        v["micro_batch"], 1, v["recompute"], v["compute_efficiency"], v["overlap"], v["gpus_per_node"],
        None if own else v["intra_link"], v["inter_link"])
    wire = max(bytes_per_param(v["precision"]), 2.0)
    shard = arch.total_params / (v["tp"] * v["pp"]) * wire
    speed = (links["dp_gbs"] * 1e9, links["dp_us"] * 1e-6)
    raw = 0.0
    if dp > 1:
        raw = sum(cluster.ring_terms(shard, int(dp), 2, *speed))
        raw += sum(cluster.ring_terms(shard, int(dp), 1, *speed)) if v["zero_stage"] >= 3 else 0.0
    step = compute + tp_s + bubble + grads + zero3
    size = call("CHECKPOINT_SIZE", arch.total_params, v["precision"], v["optimizer"])
    write = call("CHECKPOINT_WRITE_TIME", size * 1e9, v["checkpoint_write_gbs"])
    steps = v["tokens"] / tokens
    out = {
        "micro_batches": m, "model_flops": flops, "compute_s": compute, "tp_s": tp_s, "bubble_s": bubble,
        "dp_raw_s": raw, "dp_exposed_share": (grads + zero3) / raw if raw else 0.0, "dp_grads_s": grads,
        "zero3_s": zero3, "step_s": step, "mfu": mfu, "checkpoint_gb": size, "checkpoint_write_s": write,
        "checkpoint_interval_s": call("CHECKPOINT_INTERVAL", write, v["gpus"], v["gpu_mtbf_hours"]),
        "steps": steps, "train_flops": steps * flops, "compute_days": steps * step / 86400,
        **dict.fromkeys(_GOODPUT_ROWS, ""),
        "check_goodput": f"interrupted too often on {v['gpus']} GPUs: fewer GPUs, faster checkpoints",
    }
    try:
        _, tau, failures, writes, lost, restarts, useful = FUNCTIONS["GOODPUT"].steps_fn(
            v["gpus"], write, v["restart_s"], v["gpu_mtbf_hours"])
    except InputError:
        return out
    days = steps * step / 86400 / useful
    return out | {
        "interruptions_per_interval": failures, "wall_per_interval_s": tau / useful, "writes_share": writes,
        "restarts_share": restarts, "goodput": useful, "lost_share": lost, "train_days": days,
        "interruptions": call("EXPECTED_INTERRUPTIONS", v["gpus"], days, v["gpu_mtbf_hours"]),
        "gpu_hours": days * 24 * v["gpus"], "cost_usd": days * 24 * v["gpus"] * v["usd_per_gpu_hour"],
        "check_goodput": "OK",
    }


def _fit_message(v: dict[str, Any], peak: float, memory: float, largest: int) -> str:
    if peak <= memory:
        return "OK"
    advice = (f"micro-batch {largest} fits (accumulate more)" if largest else
              "raise ZeRO, recompute, tp, pp or GPUs; or offload")
    return f"needs {peak:,.1f} of {memory:,.1f} GB: {advice}"


_NOT_RUN, _NO_STEP = training.NOT_RUN, training.NO_STEP
#: Rows blank when the layout cannot run (TRAIN_PEAK_MEM refuses it).
_MEMORY_ROWS = ("dp", "att_kept_gb", "att_all_gb", "mlp_dense_gb", "mlp_moe_gb", "norms_gb", "layer_input_gb",
                "layer_dense_gb", "layer_moe_gb", "peak_gb", "peak_stage", "host_gb", "margin_gb", "fits",
                "max_micro_batch", "step_states_gb",
                *(f"{k}_{n}" for k in ("first", "last") for n in (
                    "dense", "moe", "params", "adapters", "trained", "weights_gb", "adapter_weights_gb",
                    "gradients_gb", "master_gb", "optimizer_gb", "activations_gb", "logits_gb", "transient_gb",
                    "reserve_gb", "total_gb", "per_sequence_gb", "host_gb")))

def expected_training(v: dict[str, Any]) -> dict[str, Any]:
    """Every output of the training plan from the core: TRAIN_PEAK_MEM (its plan and stages),
    MAX_MICRO_BATCH, TRAIN_STEP_TIME, GOODPUT; blanks and the checks' words where it refuses."""
    model = model_block.core_model(v)
    arch = resolve_model("model", model)
    gpu, prec, opt = v["gpu"], v["precision"], v["optimizer"]
    peak_tflops = GPUS.get("gpu", gpu).specs.get(PRECISIONS.get("precision", prec).peak_field)
    memory = gpu_spec(gpu, "memory_gb")
    lp = peak_memory._layer_params(arch)
    b = bytes_per_param(prec)
    out: dict[str, Any] = {
        **{name: model_block.FIGURES[name].of(arch) for name in training.FIGURES},
        "bytes": b, "optimizer_bytes": OPTIMIZERS.get("optimizer", opt).state_bytes,
        "master_bytes": peak_memory.MASTER_BYTES if v["method"] == "full" and b < peak_memory.MASTER_BYTES else 0,
        "base_bytes": quantized_bytes(PRECISIONS.get("precision", "nf4")) if v["method"] == "qlora" else b,
        "linear_dense": lp.linear_dense if arch.layers > arch.moe_layers else 0,
        "linear_moe": lp.linear_moe if arch.moe_layers else 0,
        **_adapter_values(v, arch), "largest_matrix": largest_matrix(arch),
        "block_dense": lp.dense if arch.layers > arch.moe_layers else 0, "block_moe": lp.moe if arch.moe_layers else 0,
        "embed_params": lp.embedding, "head_params": lp.head, "final_norm_params": lp.final_norm,
        "gpu_memory_gb": memory, "global_tokens": v["global_batch"] * v["seq_len"],
        "attention_flops": arch.attention_flops_per_token(v["seq_len"]),
        "peak_tflops": peak_tflops if peak_tflops else "",
        "job_mtbf_h": v["gpu_mtbf_hours"] / v["gpus"],
        "chinchilla_tokens": chinchilla_tokens(arch.total_params),
        "tokens_vs_chinchilla": v["tokens"] / chinchilla_tokens(arch.total_params),
        **dict.fromkeys((*_MEMORY_ROWS, *_STEP_ROWS, *_GOODPUT_ROWS), ""),
        "check_custom_model": "OK", "check_layout": _layout_message(v, arch), "check_fit": _NOT_RUN,
        "check_step": _NOT_RUN, "check_step_states": training.NO_STATES, "check_goodput": _NO_STEP,
        "check_method": "OK" if v["method"] == "full" else "step and training time: for full training only",
        "check_peak": "OK" if peak_tflops else (f"{gpu} publishes no {PRECISIONS.get('precision', prec).peak_field} "
                                               "peak: pick another precision or GPU"),
    }
    plan = _training_plan(v, model)
    links = _links(v, plan.dp if plan else None)
    out |= links
    out["check_link"] = "OK" if links["intra_link"] else f"{gpu} has no intra-node link: name one in Intra-node link"
    if plan is None:
        return out
    kwargs = dict(attention=v["attention"], sp=v["sp"], method=v["method"], lora_rank=v["lora_rank"],
                  lora_targets=v["lora_targets"], offload=v["offload"], logit_bytes=v["logit_bytes"])
    args = (model, v["seq_len"], v["micro_batch"], prec, opt, v["gpus"], v["zero_stage"], v["recompute"], v["tp"],
            v["pp"])
    breakdown = dict((row[0], row[1]) for row in call("TRAIN_PEAK_MEM_BREAKDOWN", *args, **kwargs)[1:])
    peak = breakdown["total"]
    largest = call("MAX_MICRO_BATCH", model, v["seq_len"], gpu, prec, opt, v["gpus"], v["zero_stage"],
                   v["recompute"], v["tp"], v["pp"], **kwargs)
    stages = peak_memory.stages(plan)
    first, last = _stage_values(plan, "first", stages[0]), _stage_values(plan, "last", stages[-1])
    at_peak = last if last["last_total_gb"] > first["first_total_gb"] else first
    assert math.isclose(sum(v for k, v in at_peak.items() if k.endswith("_total_gb")), peak, rel_tol=1e-12)
    full = v["method"] == "full"
    states = call("TRAIN_MEM", arch.total_params / (v["tp"] * v["pp"]), prec, "adam", plan.dp, v["zero_stage"])
    out |= {
        "dp": plan.dp, **_block_values(plan), **first, **last, "peak_gb": peak,
        "peak_stage": "the only stage" if v["pp"] == 1 else ("last" if at_peak is last else "first"),
        "host_gb": breakdown[peak_memory.CPU_ROW], "margin_gb": memory - peak,
        "fits": "yes" if memory - peak >= 0 else "no", "max_micro_batch": largest,
        "check_fit": _fit_message(v, peak, memory, largest), "check_step": _step_message(v, arch, plan.dp),
    }
    if full:
        out |= {"step_states_gb": states, "check_step_states": "OK" if states <= memory else
                f"model states need {states:,.1f} GB per GPU: raise ZeRO, tp or pp"}
    runs = (full and out["check_step"] == "OK" and peak_tflops and links["intra_link"] and states <= memory
            and peak <= memory)
    if runs:
        out |= _step_time(v, model, arch, links)
    return out


def _weights_roofline(params: float, gpu: str, prec: str, batch: int) -> float:
    """The cheat sheet's decode: weights read at full bandwidth or FLOPs at full peak, whichever is longer.
    DECODE_TPS gives the same at efficiencies 1 with no KV cache, for weights that fit and carry no scales."""
    step = max(params * bytes_per_param(prec) / (gpu_spec(gpu, "bandwidth_tbs") * 1e12),
               2 * params * batch / (_peak(gpu, prec) * 1e12))
    tps = batch / step
    if not scale_bits(PRECISIONS.get("precision", prec)).value:
        with contextlib.suppress(InputError):  # DECODE_TPS refuses weights beyond the usable memory
            assert math.isclose(tps, decode_tps(params, gpu, prec, batch, 0, None, 1, 1, 1), rel_tol=1e-12)
    return tps


def _serving_options(v: dict[str, Any]) -> dict[str, Any]:
    """The plan's engine inputs as the core's options: "auto" is the core's default (None)."""
    def given(name: str) -> Any:
        return None if v[name] == serving_tables.AUTO else v[name]

    return {"kv_precision": given("kv_precision"), "tp": v["tp"], "bandwidth_efficiency": v["bandwidth_efficiency"],
            "compute_efficiency": given("compute_efficiency"), "link_gbs": given("link_gbs"),
            "memory_utilization": v["memory_utilization"], "workspace_gb": v["workspace_gb"],
            "allreduce_us": v["allreduce_us"]}


def _steps(rows: list[list[Any]]) -> dict[str, Any]:
    """A _BREAKDOWN table (header first) as {label: value}."""
    return {row[0]: row[1] for row in rows[1:]}


def expected_serving(v: dict[str, Any]) -> dict[str, Any]:
    """Every output of the serving plan from the core: the model argument is the custom range's
    rows (model_block.core_model) or the preset, the engine inputs are the core's options."""
    model = model_block.core_model(v)
    arch = resolve_model("model", model)
    prec, gpu = PRECISIONS.get("precision", v["precision"]), GPUS.get("gpu", v["gpu"])
    o = _serving_options(v)
    tp, context, prompt, batch = v["tp"], v["prompt_tokens"] + v["output_tokens"], v["prompt_tokens"], v["batch"]
    kv_used = serving_tables.kv_default(prec.name) if o["kv_precision"] is None else o["kv_precision"]
    quantized, other = Replica.bytes_per_weight.fget(SimpleNamespace(precision=prec))  # the core's rule
    peak = gpu.specs.get(prec.peak_field) or ""
    default_link = serving_data.link_gbs(gpu)
    link = o["link_gbs"] if o["link_gbs"] is not None else default_link.value if default_link else 0
    try:
        r = replica(model, gpu.name, prec.name, **o)
    except InputError:
        r = None
    out: dict[str, Any] = {
        **{name: model_block.FIGURES[name].of(arch) for name in serving.FIGURES},
        "kv_precision_used": kv_used, "bytes": prec.bytes, "scale_bits": serving_data.scale_bits(prec).value,
        "bytes_quantized": quantized, "bytes_other": other, "kv_bytes": PRECISIONS.get("precision", kv_used).bytes,
        "gpu_memory_gb": gpu_spec(gpu.name, "memory_gb"), "bandwidth_tbs": gpu_spec(gpu.name, "bandwidth_tbs"),
        "peak_tflops": peak,
        "compute_efficiency_used": serving_data.compute_efficiency(prec).value if o["compute_efficiency"] is None
        else o["compute_efficiency"],
        "mfu_used": serving_data.prefill_mfu(prec).value if v["mfu"] == serving_tables.AUTO else v["mfu"],
        "link_gbs_used": link, "config_ok": "yes" if r else "no", "context": context,
        "check_custom_model": "OK",
        "check_peak": "OK" if peak
        else f"{gpu.name} publishes no {prec.peak_field} peak: pick another precision or GPU",
        "check_tp": (f"tp {tp} does not divide the {arch.heads} attention heads: choose a divisor" if arch.heads % tp
                     else f"{gpu.name} has no intra-node link: give the link bandwidth to use tp above 1"
                     if tp > 1 and link <= 0 else "OK"),
    }
    memory = ("weight_gb", "weights_per_gpu_gb", "usable_gb", "room_gb", "kv_share", "kv_per_seq_gb", "max_batch")
    runs = ("run_batch", "memory_gb", "experts_touched", "weights_read_gb", "kv_read_gb", "memory_ms",
            "attention_flops", "flops", "compute_ms", "allreduce_ms", "bound", "tpot_ms", "decode_tps", "tps_per_gpu",
            "user_tps", "prefill_linear_flops", "prefill_attention_flops", "prefill_linear_s", "prefill_attention_s",
            "prefill_weights_s", "prefill_waiting_s", "prefill_allreduce_s", "ttft_s", "ttft_met", "tpot_met",
            "demand_tps", "replicas", "gpus", "cost_per_hour", "cost_per_million")
    blank_runs = {**dict.fromkeys(runs, ""), "check_batch": serving.NOT_RUN, "check_ttft": serving.NOT_RUN,
                  "check_tpot": serving.NOT_RUN}
    if r is None:  # refused by the core: nothing below the settings shows
        return {**out, **dict.fromkeys(memory, ""), **blank_runs, "check_fits": serving.NOT_RUN}
    fit = _steps(call("MAX_BATCH_BREAKDOWN", model, context, gpu.name, prec.name, o["kv_precision"], tp,
                      o["memory_utilization"], o["workspace_gb"]))
    largest = fit["largest batch"]
    assert largest == max_batch(model, context, gpu.name, prec.name, o["kv_precision"], tp,
                                o["memory_utilization"], o["workspace_gb"])
    weights, usable, room = fit["weights per GPU"], fit["usable memory per GPU"], fit["room for the KV cache"]
    out.update({
        "weight_gb": r.weight_bytes() / 1e9, "weights_per_gpu_gb": weights, "usable_gb": usable, "room_gb": room,
        "kv_share": r.kv_share, "kv_per_seq_gb": fit["KV cache per sequence per GPU"], "max_batch": largest,
        "check_fits": "OK" if largest >= 1 else (
            "no usable memory: raise the memory utilisation or lower the workspace" if usable <= 0 else
            f"weights need {weights:.1f} GB per GPU at tp {tp}, {usable:.1f} GB usable: tp of at least "
            f"{math.ceil(r.weight_bytes() / 1e9 / usable)} (dividing the {arch.heads} heads), a smaller precision or "
            "a larger GPU" if weights > usable else
            f"one sequence of {context} tokens needs {fit['KV cache per sequence per GPU']:.3f} GB of KV cache per "
            f"GPU, {room:.3f} GB are left: fewer tokens, an fp8 KV cache or more tp"),
    })
    if largest < 1:
        return {**out, **blank_runs, "check_batch": "no batch fits (see Fits in memory?)"}
    run = min(batch, largest)
    args = dict(model=model, gpu=gpu.name, precision=prec.name, batch=run, context=context, **o)
    step = _steps(call("DECODE_TPS_BREAKDOWN", **args))
    tpot_ms = call("TPOT", **args, unit="ms")
    tps = call("DECODE_TPS", **args)
    pre_args = dict(model=model, prompt_tokens=prompt, gpu=gpu.name, precision=prec.name,
                    mfu=None if v["mfu"] == serving_tables.AUTO else v["mfu"],
                    **{k: w for k, w in o.items() if k != "compute_efficiency"})
    pre = _steps(call("PREFILL_TIME_BREAKDOWN", **pre_args))
    ttft = call("TTFT", **pre_args)
    one = r.prefill(prompt, out["mfu_used"])  # the FLOPs and weight reads PREFILL_TIME's components come from
    demand = v["qps"] * v["output_tokens"]
    replicas = serving_gpus(v["qps"], v["output_tokens"], tps, v["target_utilization"])
    cost_per_hour = replicas * tp * v["usd_per_gpu_hour"]
    return {
        **out, "run_batch": run, "memory_gb": step["memory per GPU"],
        "experts_touched": r.experts_touched(run), "weights_read_gb": step["weights read per GPU"],
        "kv_read_gb": step["KV cache read per GPU"], "memory_ms": step["memory time"],
        "attention_flops": arch.attention_flops_per_token(context), "flops": step["FLOPs per GPU"],
        "compute_ms": step["compute time"], "allreduce_ms": step["all-reduce time"],
        "bound": "memory bandwidth" if step["bound"].startswith("memory") else "compute",
        "tpot_ms": tpot_ms, "decode_tps": tps, "tps_per_gpu": tps / tp, "user_tps": 1000 / tpot_ms,
        "prefill_linear_flops": one.linear_flops, "prefill_attention_flops": one.attention_flops,
        "prefill_linear_s": pre["linear layers"], "prefill_attention_s": pre["attention"],
        "prefill_weights_s": one.weights_s, "prefill_waiting_s": pre["waiting on weight reads"],
        "prefill_allreduce_s": pre["all-reduces"], "ttft_s": ttft,
        "ttft_met": "yes" if ttft <= v["ttft_target_s"] else "no",
        "tpot_met": "yes" if tpot_ms <= v["tpot_target_ms"] else "no",
        "demand_tps": demand, "replicas": replicas, "gpus": replicas * tp, "cost_per_hour": cost_per_hour,
        "cost_per_million": cost_per_hour / (demand * 3600) * 1e6,
        "check_batch": "OK" if batch <= largest else f"batch {batch} does not fit: the plan runs {largest}, the "
        "largest that fits",
        "check_ttft": "OK" if ttft <= v["ttft_target_s"] else f"a prompt takes {ttft:.3f} s to prefill, over the "
        f"{v['ttft_target_s']:.3f} s target: raise tp, shorten the prompt or relax the target",
        "check_tpot": "OK" if tpot_ms <= v["tpot_target_ms"] else f"at batch {run} a token takes {tpot_ms:.1f} ms, "
        f"over the {v['tpot_target_ms']:.1f} ms target: lower the batch, raise tp or choose a smaller precision",
    }


def _index_gb(v: dict[str, Any], count: float) -> list:
    """VECTOR_INDEX_MEM's components in GB for `count` entities (lists 0 means automatic)."""
    lists = None if v["lists"] == 0 else v["lists"]
    return call("VECTOR_INDEX_MEM_BREAKDOWN", count, v["dim"], v["index"], v["precision"], "GB", v["m"],
                v["code_bytes"], lists)


def _refused(compute: Callable[[], Any]) -> Any:
    """What the core computes, or None where it refuses the inputs."""
    try:
        return compute()
    except InputError:
        return None


def expected_storage(v: dict[str, Any]) -> dict[str, Any]:
    """The storage plan's outputs from EMBED_STORAGE, VECTOR_INDEX_MEM, DATASET_STORAGE and RETAINED_STORAGE;
    where the core refuses the index or the retention window, those results are blank and a check says why."""
    count, dim, prec, rep = v["count"], v["dim"], v["precision"], v["replication"]
    months = list(range(storage.MONTHS + 1))
    entities = [count * (1 + v["monthly_growth"]) ** m for m in months]
    kept = [min(v["retention"], m + 1) for m in months]
    lists_used = max(1, math.floor(4 * math.sqrt(count) + 0.5)) if v["lists"] == 0 else v["lists"]
    per_token = None if v["bytes_per_token"] == 0 else v["bytes_per_token"]
    tokenizer = TOKENIZERS.get("tokenizer", v["tokenizer"])
    corpus = call("DATASET_STORAGE_BREAKDOWN", v["tokens"], per_token, v["dataset_replication"],
                  v["dataset_compression"], "TB", v["tokenizer"])
    out: dict[str, Any] = {
        "bytes": bytes_per_param(prec), "bytes_per_vector": dim * bytes_per_param(prec),
        "raw_gb": embed_storage(count, dim, prec), "replicated_gb": embed_storage(count, dim, prec, rep),
        "lists_used": lists_used, "month_entities": entities, "month_snapshots": kept, "entities_12": entities[-1],
        "text_bytes_per_token": tokenizer.text_bytes_per_token if per_token is None else per_token,
        "id_bytes": tokenizer.id_bytes, "raw_text_tb": corpus[1][1], "token_ids_tb": corpus[2][1],
        "dataset_replicas_tb": corpus[3][1], "dataset_tb": corpus[4][1],
        "kept_factor": v["retained_replication"] * (1 + v["retained_overhead"]) / v["retained_compression"],
        "check_pq": "OK", "check_lists": "OK", "check_window": "OK",
    }
    breakdown = _refused(lambda: _index_gb(v, count))
    if breakdown is None:  # the sheet's checks say why, in the core's words
        if v["index"] == "ivfpq" and dim % v["code_bytes"]:
            out["check_pq"] = f"code size must divide the dimension ({dim})"
        else:
            out["check_lists"] = "more lists than entities: k-means needs a vector per list"
        index_outputs = ("vectors_gb", "links_gb", "graph_book_gb", "codes_gb", "centroids_gb", "index_gb",
                         "index_bytes_per_vector", "index_vs_raw", "indexed_gb", "live_12_gb", "total_12_gb")
        out.update(dict.fromkeys(index_outputs, ""), month_live_gb=[""] * len(months),
                   month_total_gb=[""] * len(months))
    else:
        part = {row[0]: row[1] for row in breakdown[1:]}
        live = [_index_gb(v, n)[-1][1] * rep for n in entities]
        total = [sum(live[m - k + 1:m + 1]) for m, k in zip(months, kept, strict=True)]
        out.update({
            "vectors_gb": part["vectors"],
            "links_gb": part["graph links, level 0"] + part["graph links, upper levels"],
            "graph_book_gb": part["graph bookkeeping"], "codes_gb": part["PQ codes"] + part["ids"],
            "centroids_gb": part["centroids and codebooks"], "index_gb": part["total"],
            "index_bytes_per_vector": call("VECTOR_INDEX_MEM", count, dim, v["index"], prec, "B", v["m"],
                                           v["code_bytes"], None if v["lists"] == 0 else v["lists"]) / count,
            "index_vs_raw": part["total"] / embed_storage(count, dim, prec), "indexed_gb": part["total"] * rep,
            "month_live_gb": live, "month_total_gb": total, "live_12_gb": live[-1], "total_12_gb": total[-1],
        })
    daily, days, growth, hot = v["daily_gb"] * 1e9, v["retention_days"], v["daily_growth"], v["hot_days"]
    written = _refused(lambda: call("RETAINED_STORAGE", daily, days, 1, 0, "TB", 1, growth))
    recent = _refused(lambda: call("RETAINED_STORAGE_BREAKDOWN", daily, days, 1, 0, "TB", 1, growth, hot)[1][1])
    retained = _refused(lambda: call("RETAINED_STORAGE_BREAKDOWN", daily, days, v["retained_replication"],
                                     v["retained_overhead"], "TB", v["retained_compression"], growth, hot))
    out.update(written_tb="" if written is None else written, recent_tb="" if recent is None else recent)
    if retained is None:
        out.update(hot_tb="", cold_tb="", retained_tb="", check_window=(
            storage.TOO_FAST if written is None else
            f"more hot days than the window ({days}): the hot tier holds the most recent days" if hot > days else
            "more than 1e30 bytes kept: lower the daily volume, copies or window"))
    else:
        out.update(hot_tb=retained[1][1], cold_tb=retained[2][1], retained_tb=retained[3][1])
    if breakdown is None or retained is None:
        return {**out, "total_today_tb": "", "total_12_tb": ""}
    return {
        **out,
        "total_today_tb": out["indexed_gb"] / 1000 + corpus[4][1] + retained[3][1],
        "total_12_tb": out["total_12_gb"] / 1000 + corpus[4][1] + retained[3][1],
    }


def expected_cheatsheet(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "inference_gb": model_mem(v["params"], v["inference_precision"]),
        "train_bytes_per_param": train_mem(1, v["train_precision"], v["optimizer"], unit="B"),
        "train_gb": train_mem(v["params"], v["train_precision"], v["optimizer"]),
        "raw_gb": embed_storage(v["count"], v["dim"], v["storage_precision"]),
        "replicated_gb": embed_storage(v["count"], v["dim"], v["storage_precision"], v["replication"]),
        "serve_peak_tflops": _peak(v["serve_gpu"], v["serve_precision"]),
        "decode_tps": _weights_roofline(v["serve_params"], v["serve_gpu"], v["serve_precision"], v["batch"]),
        "concurrency": concurrency(v["qps"], v["latency_s"]),
        "train_flops": train_flops(v["train_params"], v["tokens"]),
        "train_peak_tflops": _peak(v["train_gpu"], v["time_precision"]),
        "train_days": train_time(v["train_params"], v["tokens"], v["gpus"], v["train_gpu"], v["time_precision"],
                                 v["mfu"]),
        "gpu_hours": gpu_hours(v["train_params"], v["tokens"], v["train_gpu"], v["time_precision"], v["mfu"]),
        "log_tb_day": v["log_rows_per_day"] * v["log_row_bytes"] / 1e12,
        "log_kept_tb": call("RETAINED_STORAGE", v["log_rows_per_day"] * v["log_row_bytes"], v["log_retention_days"],
                            v["replication"], 0, "TB", v["log_compression"]),
        "avg_qps": call("PEAK_QPS", v["dau"], v["requests_per_user_per_day"], 1),
        "peak_qps": call("PEAK_QPS", v["dau"], v["requests_per_user_per_day"], v["peak_factor"]),
        "servers": call("SERVERS_FOR_QPS", call("PEAK_QPS", v["dau"], v["requests_per_user_per_day"], v["peak_factor"]),
                        v["core_seconds_per_request"], v["cores_per_server"], v["target_utilization"], v["spare"]),
    }


def expected_recsys(v: dict[str, Any]) -> dict[str, Any]:
    """The design plan's outputs from the catalog functions it writes out."""
    flops = v["candidates_per_request"] * v["flops_per_candidate"]
    peak = call("PEAK_QPS", v["dau"], v["requests_per_user_per_day"], v["peak_factor"])
    seconds = call("REQUEST_CORE_SECONDS", flops, v["core_gflops"], v["efficiency"])
    servers = [call("SERVERS_FOR_QPS", peak, seconds, v["cores_per_server"], v["target_utilization"], spare)
               for spare in (0, v["spare"])]
    lists = None if v["lists"] == 0 else v["lists"]
    index = call("VECTOR_INDEX_MEM_BREAKDOWN", v["items"], v["dim"], v["index"], v["vector_precision"], "GB", v["m"],
                 v["code_bytes"], lists)
    part = {row[0]: row[1] for row in index[1:]}
    shards = call("SHARDS", part["total"] * 1e9, v["node_gb"] * 1e9, v["fill"], 1)
    nodes = call("SHARDS", part["total"] * 1e9, v["node_gb"] * 1e9, v["fill"], v["replicas"], peak,
                 v["qps_per_replica"])
    row = call("ROW_BYTES", v["features"], v["bytes_per_feature"], v["key_bytes"], v["timestamp_bytes"])
    store = call("FEATURE_STORE", v["users"], row, v["feature_retention_days"], v["updates_per_day"],
                 v["compression"], v["online_replication"], v["offline_replication"], v["index_bytes_per_row"])
    per_day = v["dau"] * v["requests_per_user_per_day"] * v["impressions_per_request"] * v["log_row_bytes"]
    logs = call("RETAINED_STORAGE_BREAKDOWN", per_day, v["log_retention_days"], v["log_replication"], 0, "TB",
                v["compression"], v["daily_growth"], v["hot_days"])
    rows = v["users"] + v["items"]
    tables = call("EMBEDDING_TABLE_MEM_BREAKDOWN", rows, v["dim"], v["embedding_precision"], v["optimizer"])
    hours = call("TRAIN_TIME_EXAMPLES", v["examples"], v["examples_per_sec_per_gpu"], v["gpus"], v["epochs"],
                 v["scaling_efficiency"], "h")
    used_lists = max(1, math.floor(4 * math.sqrt(v["items"]) + 0.5)) if lists is None else lists
    return {
        "requests_day": v["dau"] * v["requests_per_user_per_day"], "avg_qps": peak / v["peak_factor"],
        "peak_qps": peak, "flops_per_request": flops, "core_seconds": seconds, "busy_cores": peak * seconds,
        "usable_cores": v["cores_per_server"] * v["target_utilization"], "load_servers": servers[0],
        "ranking_servers": servers[1], "response_gbps": call("BANDWIDTH", peak, v["response_bytes"]),
        "vector_bytes": bytes_per_param(v["vector_precision"]), "lists_used": used_lists,
        "vectors_gb": part["vectors"], "links_gb": part["graph links, level 0"] + part["graph links, upper levels"],
        "graph_book_gb": part["graph bookkeeping"], "codes_gb": part["PQ codes"] + part["ids"],
        "centroids_gb": part["centroids and codebooks"], "index_gb": part["total"],
        "index_bytes_per_vector": part["total"] * 1e9 / v["items"], "index_shards": shards,
        "load_replicas": math.ceil(peak / v["qps_per_replica"] * (1 - 1e-12)), "index_replicas": nodes // shards,
        "index_nodes": nodes, "row_bytes": row, "online_gb": store[1][1], "offline_gb": store[2][1],
        "log_gb_day": per_day / 1e9, "log_kept_factor": v["log_replication"] / v["compression"],
        "log_written_gb": call("RETAINED_STORAGE", per_day, v["log_retention_days"], 1, 0, "GB", 1,
                               v["daily_growth"]),
        "log_hot_tb": logs[1][1], "log_cold_tb": logs[2][1], "log_total_tb": logs[3][1],
        "embedding_rows": rows, "table_gb": tables[1][1], "state_gb": tables[2][1], "embedding_gb": tables[4][1],
        "gpu_memory_gb": gpu_spec(v["gpu"], "memory_gb"),
        "embedding_gpus": call("EMBEDDING_SHARDS", rows, v["dim"], v["gpu"], v["embedding_precision"],
                               v["optimizer"], v["embedding_fill"]),
        "cluster_rate": v["examples"] * v["epochs"] / (hours * 3600), "train_hours": hours,
        "gpu_hours_run": hours * v["gpus"], "runs_per_year": 365 / v["retrain_every_days"],
        "retrain_usd_year": call("RETRAINING_COST", v["examples"], v["examples_per_sec_per_gpu"], v["gpus"],
                                 v["usd_per_gpu_hour"], v["retrain_every_days"], v["epochs"],
                                 v["scaling_efficiency"]),
        # The core refuses the other cases, so random draws never reach them.
        "check_pq": "OK", "check_lists": "OK", "check_retrain": "OK",
    }


# Random inputs, drawn within what each input's validation accepts ----------------------------

TRAINABLE = [p for p in PRECISIONS if PRECISIONS.get("precision", p).trainable]


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return 10 ** rng.uniform(math.log10(low), math.log10(high))


#: Share of the random training sets drawn again until their step runs (fits, a valid layout, full
#: training): a free draw runs about one time in eight, and the step-time rows need cases.
TRAINING_RUNS = 0.6


def random_training(rng: random.Random) -> dict[str, Any]:
    """Random training inputs; most of them (TRAINING_RUNS) a layout whose step runs."""
    must_run = rng.random() < TRAINING_RUNS
    while True:
        values = _random_training_once(rng)
        if not must_run:
            return values
        with contextlib.suppress(InputError):
            if expected_training(values)["step_s"] != "":
                return values


def _random_training_once(rng: random.Random) -> dict[str, Any]:
    """A layout drawn to run more often than not: tp a divisor of the heads and pp of the layers, GPUs a
    multiple of tp x pp and a global batch of whole micro-batches most of the time, and now and then not
    (the sheet then shows blanks and says what would run)."""
    model, custom = rng.choice([*MODELS, "custom", "custom"]), model_block.random_custom(rng)
    arch = resolve_model("model", model_block.core_model({"model": model, **custom}))

    def degree(of: int, odd: list[int]) -> int:
        usual = [d for d in (1, 1, 2, 4, 8) if of % d == 0]
        return rng.choice(usual) if rng.random() < 0.8 else rng.choice(odd)

    tp, pp = degree(arch.heads, [3, 16]), degree(arch.layers, [3, 5, 8])
    dp = rng.choice([1, 8, 64, 128, 512, 1024])
    gpus = tp * pp * dp if rng.random() < 0.85 else rng.randint(1, 4096)
    micro_batch = rng.choice([1, 1, 2, 4, 8])
    per = micro_batch * max(1, gpus // (tp * pp))
    return {
        "model": model, **custom, "precision": rng.choice(["bf16"] * 6 + TRAINABLE),
        "optimizer": rng.choice(list(OPTIMIZERS)), "zero_stage": rng.choice([0, 1, 2, 3, 3, 3]),
        "method": rng.choice(["full"] * 4 + ["lora", "qlora"]), "lora_rank": rng.choice([8, 16, 64]),
        "lora_targets": rng.choice(training_tables.LORA_TARGETS),
        "offload": rng.choice(["none"] * 6 + ["optimizer", "optimizer+params"]), "gpu": rng.choice(list(GPUS)),
        "gpus": gpus, "tp": tp, "pp": pp, "sp": rng.random() < 0.7,
        "attention": rng.choice(["flash", "flash", "eager"]), "recompute": rng.choice(list(RECOMPUTE)),
        "seq_len": rng.choice([512, 1024, 2048, 4096, 8192, 32768]), "micro_batch": micro_batch,
        "global_batch": per * rng.randint(1, 64) if rng.random() < 0.9 else rng.randint(1, 10000),
        "logit_bytes": rng.choice([2, 4, 10]), "compute_efficiency": rng.uniform(0.2, 0.8),
        "overlap": rng.uniform(0, 1), "gpus_per_node": rng.choice([8, 8, 4, 16]),
        "intra_link": rng.choice([training_tables.GPU_OWN_LINK] * 12 + list(LINKS)),
        "inter_link": rng.choice(list(LINKS)), "tokens": _log_uniform(rng, 1e9, 2e13),
        "gpu_mtbf_hours": _log_uniform(rng, 10, 1e6), "checkpoint_write_gbs": _log_uniform(rng, 1, 1e4),
        "restart_s": rng.uniform(0, 3600), "usd_per_gpu_hour": rng.uniform(0.1, 20),
    }


def random_serving(rng: random.Random) -> dict[str, Any]:
    """Random serving inputs; tp a divisor of the model's heads (other tp are refused, see CHOSEN)."""
    values = {
        **serving.DEFAULTS, **model_block.random_custom(rng),
        "model": rng.choice([*MODELS, "custom", "custom"]),
        "precision": rng.choice(list(PRECISIONS)), "kv_precision": rng.choice([serving_tables.AUTO, *PRECISIONS]),
        "gpu": rng.choice(list(GPUS)), "prompt_tokens": rng.choice([rng.randint(1, 4000), rng.randint(1, 200000)]),
        "output_tokens": rng.randint(1, 8000), "batch": rng.choice([rng.randint(1, 64), rng.randint(1, 4096)]),
        "qps": _log_uniform(rng, 0.01, 1e5), "ttft_target_s": rng.uniform(0.05, 30),
        "tpot_target_ms": rng.uniform(5, 200), "target_utilization": rng.uniform(0.05, 1.0),
        "usd_per_gpu_hour": rng.uniform(0.1, 20),
        "bandwidth_efficiency": rng.uniform(0.2, 1.0),
        "compute_efficiency": rng.choice([serving_tables.AUTO, rng.uniform(0.1, 1.0)]),
        "mfu": rng.choice([serving_tables.AUTO, rng.uniform(0.1, 1.0)]),
        "memory_utilization": rng.uniform(0.6, 0.98), "workspace_gb": rng.uniform(0, 8),
        "allreduce_us": rng.uniform(0, 50), "link_gbs": rng.choice([serving_tables.AUTO, rng.uniform(10, 1800)]),
    }
    heads = resolve_model("model", model_block.core_model(values)).heads
    values["tp"] = rng.choice([t for t in (1, 1, 2, 4, 8, 16) if heads % t == 0])
    return values


def random_storage(rng: random.Random) -> dict[str, Any]:
    dim = rng.choice([rng.randint(1, 8192), rng.choice([64, 96, 128, 256, 384, 768, 1024, 1536])])
    days = rng.randint(1, 3650)
    return {
        "count": _log_uniform(rng, 1, 1e13), "dim": dim, "precision": rng.choice(list(PRECISIONS)),
        "replication": rng.choice([1, 1.5, 2, 3, rng.uniform(1, 6)]),
        "index": rng.choice(["flat", "hnsw", "ivfflat", "ivfpq"]), "m": rng.randint(2, 128),
        "code_bytes": rng.choice([c for c in range(1, 65) if dim % c == 0]),
        "lists": rng.choice([0, rng.randint(1, 100000)]),
        "monthly_growth": rng.choice([0, rng.uniform(0, 0.5), rng.uniform(0, 10)]), "retention": rng.randint(1, 120),
        "tokens": _log_uniform(rng, 1e6, 1e15), "tokenizer": rng.choice(list(TOKENIZERS)),
        "bytes_per_token": rng.choice([0, rng.uniform(0.5, 20)]), "dataset_compression": rng.uniform(1, 10),
        "dataset_replication": rng.choice([1, 2, 3, rng.uniform(1, 6)]),
        "daily_gb": _log_uniform(rng, 1e-3, 1e7), "retention_days": days,
        "retained_replication": rng.choice([1, 3, rng.uniform(1, 6)]), "retained_overhead": rng.uniform(0, 1),
        "retained_compression": rng.uniform(1, 10), "daily_growth": rng.choice([0, rng.uniform(1e-4, 0.01)]),
        "hot_days": rng.randint(0, min(days, 30)),
    }


def random_cheatsheet(rng: random.Random) -> dict[str, Any]:
    return {
        "params": _log_uniform(rng, 1e6, 2e12), "inference_precision": rng.choice(list(PRECISIONS)),
        "train_precision": rng.choice(TRAINABLE), "optimizer": rng.choice(list(OPTIMIZERS)),
        "count": _log_uniform(rng, 1, 1e13), "dim": rng.randint(1, 8192),
        "storage_precision": rng.choice(list(PRECISIONS)), "replication": rng.uniform(1, 6),
        "serve_params": _log_uniform(rng, 1e6, 2e12), "serve_gpu": rng.choice(list(GPUS)),
        "serve_precision": rng.choice(list(PRECISIONS)), "batch": rng.randint(1, 1024),
        "qps": _log_uniform(rng, 0.01, 1e5), "latency_s": rng.uniform(0.01, 600),
        "train_params": _log_uniform(rng, 1e6, 2e12), "tokens": _log_uniform(rng, 1e8, 1e14),
        "gpus": rng.randint(1, 100000), "train_gpu": rng.choice(list(GPUS)), "time_precision": rng.choice(TRAINABLE),
        "mfu": rng.uniform(0.01, 1.0),
        "log_rows_per_day": _log_uniform(rng, 1, 1e13), "log_row_bytes": _log_uniform(rng, 1, 1e5),
        "log_retention_days": rng.randint(1, 3650), "log_compression": rng.uniform(1, 10),
        "dau": _log_uniform(rng, 1, 1e10), "requests_per_user_per_day": _log_uniform(rng, 0.01, 1e4),
        "peak_factor": rng.uniform(1, 10), "core_seconds_per_request": _log_uniform(rng, 1e-5, 10),
        "cores_per_server": rng.randint(1, 512), "target_utilization": rng.uniform(0.05, 1.0),
        "spare": rng.randint(0, 10),
    }


def random_recsys(rng: random.Random) -> dict[str, Any]:
    dim = rng.choice([16, 64, 96, 128, 256, 768])
    return {
        "dau": _log_uniform(rng, 1e3, 3e9), "requests_per_user_per_day": rng.uniform(0.1, 200),
        "peak_factor": rng.uniform(1, 10), "candidates_per_request": rng.randint(1, 5000),
        "flops_per_candidate": _log_uniform(rng, 1e3, 1e9), "core_gflops": rng.uniform(10, 500),
        "efficiency": rng.uniform(0.01, 1), "cores_per_server": rng.randint(1, 256),
        "target_utilization": rng.uniform(0.05, 1), "spare": rng.randint(0, 10),
        "response_bytes": _log_uniform(rng, 10, 1e7), "items": _log_uniform(rng, 1e3, 1e10), "dim": dim,
        "index": rng.choice(["flat", "hnsw", "ivfflat", "ivfpq"]), "vector_precision": rng.choice(list(PRECISIONS)),
        "m": rng.randint(2, 128), "code_bytes": rng.choice([c for c in (1, 2, 4, 8, 16, 32, 64) if dim % c == 0]),
        "lists": rng.choice([0, rng.randint(1, 100000)]), "node_gb": rng.uniform(1, 4096),
        "fill": rng.uniform(0.05, 1), "replicas": rng.randint(1, 5), "qps_per_replica": _log_uniform(rng, 1, 1e6),
        "users": _log_uniform(rng, 1e3, 1e10), "features": rng.randint(1, 5000),
        "bytes_per_feature": rng.choice([1, 2, 4, 8]), "key_bytes": rng.choice([0, 8, 16, 36]),
        "timestamp_bytes": rng.choice([0, 4, 8]), "feature_retention_days": rng.randint(1, 3650),
        "updates_per_day": rng.uniform(0.01, 100), "compression": rng.uniform(1, 10),
        "online_replication": rng.uniform(1, 5), "offline_replication": rng.choice([1, 1.5, 3]),
        "index_bytes_per_row": rng.uniform(0, 500), "impressions_per_request": rng.uniform(1, 100),
        "log_row_bytes": rng.uniform(50, 5000), "log_retention_days": rng.randint(1, 3650),
        "log_replication": rng.uniform(1, 5), "daily_growth": rng.choice([0, rng.uniform(1e-4, 0.01)]),
        "hot_days": rng.randint(0, 30), "embedding_precision": rng.choice(TRAINABLE),
        "optimizer": rng.choice(list(EMBEDDING_OPTIMIZERS)), "gpu": rng.choice(list(GPUS)),
        "embedding_fill": rng.uniform(0.05, 1), "examples": _log_uniform(rng, 1e6, 1e12),
        "examples_per_sec_per_gpu": _log_uniform(rng, 1e3, 1e7), "gpus": rng.randint(1, 4096),
        "epochs": rng.uniform(0.1, 10), "scaling_efficiency": rng.uniform(0.05, 1),
        "retrain_every_days": rng.uniform(0.5, 90), "usd_per_gpu_hour": rng.uniform(0.1, 20),
    }


#: Inputs chosen on top of the defaults, for branches random draws rarely reach: a batch that does
#: not fit, weights that do not fit, a mixture of experts below the batch at which every expert is
#: read (8 / 2 = 4), and weight-only int4 with an fp8 KV cache.
CHOSEN: dict[str, list[dict[str, Any]]] = {
    # A mixture with ZeRO-3; Llama 3 70B on tp 8 x pp 4 (unequal first and last stages); DeepSeek's MLA with
    # eager attention and full recomputation; optimizer offload; a 70B that does not fit one node; tp 3.
    "training": [
        {"model": "mixtral-8x7b", "zero_stage": 3},
        {"model": "llama-3-70b", "gpus": 2048, "tp": 8, "pp": 4, "global_batch": 1024},
        {"model": "deepseek-v3", "gpus": 4096, "tp": 8, "zero_stage": 3, "attention": "eager", "recompute": "full",
         "global_batch": 4096},
        {"model": "llama-3-8b", "gpus": 8, "zero_stage": 2, "offload": "optimizer", "global_batch": 64},
        {"model": "llama-3-70b", "gpus": 8, "global_batch": 64},
        {"tp": 3},
        {"model": "llama-3-70b", "gpus": 1, "method": "qlora", "lora_rank": 16, "recompute": "full",
         "global_batch": 16},
        {"model": "mixtral-8x7b", "gpus": 8, "method": "lora", "lora_targets": "q,v", "zero_stage": 3,
         "offload": "optimizer+params", "global_batch": 8},
    ],
    "serving": [
        {"gpu": "L4"},  # batch 64 does not fit (the largest that fits runs)
        {"model": "llama-3.1-405b", "gpu": "L4"},  # the weights alone exceed the GPU: nothing runs
        {"model": "llama-3.1-405b", "tp": 8, "precision": "fp8"},  # tensor parallel over NVLink
        {"model": "mixtral-8x7b", "batch": 3, "precision": "int4", "kv_precision": "fp8"},  # scales, fp8 cache
        {"model": "mixtral-8x7b", "batch": 2, "gpu": "MI300X", "tp": 2},
        {"tp": 3},  # tp does not divide the 32 heads
        {"precision": "fp8", "gpu": "A100-80GB"},  # no fp8 peak on an A100
        {"prompt_tokens": 2_000_000},  # one sequence's KV cache does not fit beside the weights
        {"model": "custom", "cm_experts": 8, "cm_experts_per_token": 2, "tp": 4, "link_gbs": 100},
        {"ttft_target_s": 0.01, "tpot_target_ms": 5},  # both targets missed
    ],
    # Each index type with automatic and given lists; no growth; a text figure given per token.
    "storage": [{"index": "ivfpq", "code_bytes": 16, "lists": 0}, {"index": "ivfflat", "lists": 4096},
                {"index": "flat", "daily_growth": 0, "hot_days": 0, "tokenizer": "llama-2", "bytes_per_token": 4.5},
                {"retention_days": 7, "hot_days": 7, "monthly_growth": 0},
                # What the core refuses: blank results and a check that says why.
                {"index": "ivfpq", "code_bytes": 48}, {"index": "ivfflat", "count": 100, "lists": 1000},
                {"retention_days": 5, "hot_days": 7}, {"retention_days": 100000, "daily_growth": 0.01},
                {"daily_gb": 1e15, "retention_days": 100000, "daily_growth": 0, "retained_replication": 100}],
    "cheatsheet": [],
    # Each index type; row-wise and element-wise optimizers; no growth; automatic IVF lists.
    "recsys": [{"index": "ivfpq", "code_bytes": 16, "lists": 0}, {"index": "ivfflat", "lists": 4096},
               {"index": "flat", "optimizer": "adam", "daily_growth": 0, "hot_days": 0}],
}

WORKBOOKS: dict[str, tuple[Any, Callable[[random.Random], dict], Callable[[dict], dict]]] = {
    "training": (training, random_training, expected_training),
    "serving": (serving, random_serving, expected_serving),
    "storage": (storage, random_storage, expected_storage),
    "cheatsheet": (cheatsheet, random_cheatsheet, expected_cheatsheet),
    "recsys": (recsys, random_recsys, expected_recsys),
}


def _draw(rng: random.Random, draw: Callable, expect: Callable) -> dict[str, Any]:
    """Random inputs the core accepts (e.g. a GPU that publishes a peak for the precision)."""
    while True:
        values = draw(rng)
        try:
            expect(values)
        except InputError:
            continue
        return values


# Writing inputs, recalculating, reading back ---------------------------------------------------

def _cell(wb: Workbook, name: str):
    sheet, coordinate = next(wb.defined_names[name].destinations)
    return wb[sheet][coordinate.replace("$", "")]


def _named_values(wb: Workbook, name: str) -> Any:
    sheet, coordinate = next(wb.defined_names[name].destinations)
    cells = wb[sheet][coordinate.replace("$", "")]
    if isinstance(cells, tuple):
        return [row[0].value for row in cells]
    return cells.value


def _write_case(template: bytes, values: dict[str, Any], path: Path) -> None:
    wb = load_workbook(io.BytesIO(template))
    for name, value in values.items():
        _cell(wb, f"in_{name}").value = value
    wb.save(path)


def _error_cells(wb: Workbook) -> list[str]:
    bad = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and (cell.value in ERRORS or cell.value.startswith("Err:")):
                    bad.append(f"{ws.title}!{cell.coordinate}={cell.value}")
    return bad


@pytest.fixture(scope="module")
def recalculated(soffice: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[dict, Workbook]]]:
    """Per workbook: (inputs, recalculated workbook) for the defaults, the chosen and the random sets."""
    folder = tmp_path_factory.mktemp("cases")
    rng = random.Random(20260101)
    cases: dict[str, list[tuple[dict, Path]]] = {}
    for key, (module, draw, expect) in WORKBOOKS.items():
        template = build_bytes(module)
        default = folder / f"{key}-default.xlsx"
        default.write_bytes(template)  # the file exactly as shipped
        cases[key] = [(dict(module.DEFAULTS), default)]
        for i, chosen in enumerate(CHOSEN[key]):
            values = {**module.DEFAULTS, **chosen}
            path = folder / f"{key}-chosen-{i}.xlsx"
            _write_case(template, values, path)
            cases[key].append((values, path))
        for i in range(RANDOM_SETS):
            values = _draw(rng, draw, expect)
            path = folder / f"{key}-{i:02d}.xlsx"
            _write_case(template, values, path)
            cases[key].append((values, path))
    sources = [path for entries in cases.values() for _, path in entries]
    outputs = convert_many(sources, folder / "recalculated", "xlsx", timeout=300)
    by_source = dict(zip(sources, outputs, strict=True))
    return {
        key: [(values, load_workbook(by_source[path], data_only=True)) for values, path in entries]
        for key, entries in cases.items()
    }


def with_checks(wb: Workbook, module: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """`expected` plus the input checks (all "OK": the inputs drawn are valid), the check block and
    the summary line, from the check results in `expected`."""
    expected = {**expected, **{f"input_{name}": "OK" for name in module.DEFAULTS}}
    sheet, area = next(wb.defined_names["out_all_checks"].destinations)
    ws = wb[sheet]
    first, last = (int(re.sub(r"\D", "", part)) for part in area.split(":"))
    at_row = {}
    for name in expected:
        _, coordinate = next(wb.defined_names[f"out_{name}"].destinations)
        if ":" not in coordinate:  # ranges (the storage projection) are no check
            at_row[ws[coordinate.replace("$", "")].row] = name
    checks = [expected[at_row[r]] for r in range(first, last + 1)]
    failed = sum(c != "OK" for c in checks)
    steps = f"{ws.cell(first, 1).value} to {ws.cell(last, 1).value}"
    summary = (f"All {len(checks)} checks pass." if not failed else
               f"ATTENTION: {failed} of {len(checks)} checks fail: see the red rows among the checks, steps {steps}.")
    return {**expected, "all_checks": checks, "summary": summary}


def _mismatches(wb: Workbook, expected: dict[str, Any]) -> list[str]:
    wrong = []
    for name, want in expected.items():
        got = _named_values(wb, f"out_{name}")
        wants, gots = (want, got) if isinstance(want, list) else ([want], [got])
        gots = ["" if g is None else g for g in gots]  # a formula showing "" reads back as an empty cell
        for w, g in zip(wants, gots, strict=True):
            if isinstance(w, str) or isinstance(g, str):
                ok = w == g
            else:
                ok = isinstance(g, int | float) and math.isclose(g, w, rel_tol=REL, abs_tol=0.0)
            if not ok:
                wrong.append(f"{name}: sheet {g!r}, core {w!r}")
    return wrong


@pytest.mark.parametrize("key", list(WORKBOOKS))
def test_every_output_equals_the_core(key: str, recalculated: dict) -> None:
    module, _draw_fn, expect = WORKBOOKS[key]
    cases = recalculated[key]
    assert len(cases) == 1 + len(CHOSEN[key]) + RANDOM_SETS
    for values, wb in cases:
        expected = with_checks(wb, module, expect(values))
        outputs = {n[4:] for n in wb.defined_names if n.startswith("out_")}
        assert outputs == set(expected), f"outputs without a core answer: {sorted(outputs ^ set(expected))}"
        wrong = _mismatches(wb, expected)
        assert not wrong, f"{module.FILENAME} with {values}:\n" + "\n".join(wrong[:10])


@pytest.mark.parametrize("key", list(WORKBOOKS))
def test_no_cell_is_an_error(key: str, recalculated: dict) -> None:
    for values, wb in recalculated[key]:
        bad = _error_cells(wb)
        assert not bad, f"{WORKBOOKS[key][0].FILENAME} with {values}: {bad[:10]}"


def test_worked_examples_of_the_cheat_sheet(recalculated: dict) -> None:
    """The numbers the issue quotes: 14 GB, 112 GB, 1,024 and 3,072 GB, and 1.2 days."""
    _, wb = recalculated["cheatsheet"][0]
    got = {n: _named_values(wb, f"out_{n}") for n in ("inference_gb", "train_gb", "raw_gb", "replicated_gb")}
    assert got == pytest.approx({"inference_gb": 14, "train_gb": 112, "raw_gb": 1024, "replicated_gb": 3072})
    assert _named_values(wb, "out_train_days") == pytest.approx(1.2, rel=1e-3)


def test_cheat_sheet_tables_show_the_catalog(recalculated: dict) -> None:
    _, wb = recalculated["cheatsheet"][0]
    ws = wb["Cheat sheet"]
    rows = {ws.cell(r, 2).value: ws.cell(r, 4).value for r in range(1, ws.max_row + 1)}
    for name in PRECISIONS:
        assert rows[name] == PRECISIONS.get("precision", name).bytes
    for name in OPTIMIZERS:
        assert rows[name] == OPTIMIZERS.get("optimizer", name).state_bytes


def test_a_gpu_without_the_peak_is_explained(soffice: Path, tmp_path: Path) -> None:
    """fp8 on an A100: the check says why, the step and training time stay blank, the memory still shows."""
    path = tmp_path / "fp8-on-a100.xlsx"
    _write_case(build_bytes(training), {"precision": "fp8", "gpu": "A100-80GB"}, path)
    wb = load_workbook(convert(path, tmp_path / "out"), data_only=True)
    explained = "A100-80GB publishes no fp8_tflops peak: pick another precision or GPU"
    assert _named_values(wb, "out_check_peak") == explained
    assert _named_values(wb, "out_step_s") is None and _named_values(wb, "out_train_days") is None
    peak = call("TRAIN_PEAK_MEM", "llama-3-8b", 4096, 1, "fp8", "adam", 512, 1, "selective")
    assert _named_values(wb, "out_peak_gb") == pytest.approx(peak, rel=1e-9)


# The LibreOffice helper itself -----------------------------------------------------------------

def test_stale_cached_values_are_recalculated(soffice: Path, tmp_path: Path) -> None:
    """An input changed behind LibreOffice's back (cached result left stale) is still recomputed."""
    wb = Workbook()
    wb.active["A1"], wb.active["A2"] = 3, "=A1*4"
    wb.save(tmp_path / "plain.xlsx")
    cached = convert(tmp_path / "plain.xlsx", tmp_path / "cached")
    with zipfile.ZipFile(cached) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert b"<v>12</v>" in parts[sheet]
    parts[sheet] = re.sub(rb'(<c r="A1"[^>]*><v>)3(</v>)', rb"\g<1>5\g<2>", parts[sheet])
    stale = tmp_path / "stale" / "plain.xlsx"
    stale.parent.mkdir()
    with zipfile.ZipFile(stale, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data)
    fresh = load_workbook(convert(stale, tmp_path / "fresh"), data_only=True)
    assert (fresh.active["A1"].value, fresh.active["A2"].value) == (5, 20)


def test_convert_refuses_to_overwrite_its_source(tmp_path: Path) -> None:
    Workbook().save(tmp_path / "book.xlsx")
    with pytest.raises(ValueError, match="would overwrite"):
        convert(tmp_path / "book.xlsx", tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        convert(tmp_path / "missing.xlsx", tmp_path / "out")
    with pytest.raises(ValueError, match="fmt: got 'docx'"):
        convert(tmp_path / "book.xlsx", tmp_path / "out", fmt="docx")


def test_convert_stops_at_the_time_limit(soffice: Path, tmp_path: Path) -> None:
    Workbook().save(tmp_path / "book.xlsx")
    with pytest.raises(LibreOfficeError, match=r"longer than 0\.05 s"):
        convert(tmp_path / "book.xlsx", tmp_path / "out", timeout=0.05)
    assert not (tmp_path / "out" / "book.xlsx").exists()


def test_render_gives_one_trimmed_png_per_workbook(soffice: Path, tmp_path: Path) -> None:
    require("pdftoppm", None if shutil.which("pdftoppm") else "rendering needs it (Debian: poppler-utils)")
    for module in (storage, sweep):
        (tmp_path / module.FILENAME).write_bytes(build_bytes(module))
    pngs = render_pngs([tmp_path / storage.FILENAME, tmp_path / sweep.FILENAME], tmp_path / "images", dpi=40)
    assert [p.name for p in pngs] == ["embedding_storage_plan.png", "scenario_sweep.png"]
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert 100 < width < 600 and 20 < height < 600  # an A4 page at 40 dpi is 331 x 468; margins trimmed


# Empty and extreme inputs: a check says so, results that need the input stay blank -----------

_EXTREME = 1e30  # "tokens 1e30": far beyond any bound
_NOT_A_CHOICE = "no-such-choice"


#: Inputs that count only in some cases (greyed out otherwise, and then never flagged), with a case
#: where they count.
_USED_WHEN = {"code_bytes": {"index": "ivfpq"}, "lists": {"index": "ivfpq"}, "lora_rank": {"method": "lora"},
              "lora_targets": {"method": "lora"}}


def _used(name: str) -> dict[str, Any]:
    custom = name.endswith("_custom") or name.startswith("cm_")  # the custom model's fields
    return {"model": "custom"} if custom else _USED_WHEN.get(name, {})


def _broken_inputs(module: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(input, "empty" or "extreme", inputs) for every input of a plan, where the input counts."""
    cases = []
    for name, default in module.DEFAULTS.items():
        extreme = _NOT_A_CHOICE if isinstance(default, str) else _EXTREME
        cases += [(name, "empty", {**_used(name), name: None}), (name, "extreme", {**_used(name), name: extreme})]
    return cases


@pytest.fixture(scope="module")
def broken(soffice: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, str, str, Workbook, Workbook]]:
    """(plan, input, kind, recalculated workbook, the same plan recalculated with valid inputs)."""
    folder = tmp_path_factory.mktemp("broken")
    cases, sources = [], []
    for key, (module, _, _) in WORKBOOKS.items():
        template = build_bytes(module)
        baselines: dict[tuple, Path] = {}
        for i, (name, kind, values) in enumerate(_broken_inputs(module)):
            base = _used(name)
            if tuple(base.items()) not in baselines:  # the same plan with valid inputs, where this one counts
                path = folder / f"{key}-baseline-{len(baselines)}.xlsx"
                _write_case(template, base, path)
                baselines[tuple(base.items())] = path
                sources.append(path)
            path = folder / f"{key}-{i:02d}-{name}-{kind}.xlsx"
            _write_case(template, values, path)
            sources.append(path)
            cases.append((module, name, kind, path, baselines[tuple(base.items())]))
    loaded = {}
    for key in WORKBOOKS:  # one LibreOffice run per plan: a single run of 200+ files stops short
        batch = [path for path in sources if path.name.startswith(f"{key}-")]
        for path, output in zip(batch, convert_many(batch, folder / "recalculated", "xlsx", timeout=600),
                                strict=True):
            loaded[path] = load_workbook(output, data_only=True)
    return [(module, name, kind, loaded[path], loaded[baseline]) for module, name, kind, path, baseline in cases]


def _outputs(wb: Workbook) -> dict[str, list[Any]]:
    values = {}
    for name in wb.defined_names:
        if name.startswith("out_"):
            got = _named_values(wb, name)
            values[name[4:]] = ["" if v is None else v for v in (got if isinstance(got, list) else [got])]
    return values


def test_an_empty_or_extreme_input_is_flagged_and_never_gives_a_silent_number(broken: list) -> None:
    """Delete bypasses validation: every input emptied, or set far out of range (a number 1e30, a text
    not in the list), gets a failed check row with a plain-language message and a red summary, no cell
    is an error, and every result either stays as it was (it does not use that input) or is blank."""
    assert len(broken) == 2 * sum(len(m.DEFAULTS) for m, _, _ in WORKBOOKS.values())
    for module, name, kind, wb, baseline in broken:
        case = f"{module.FILENAME}, {name} {kind}"
        assert not _error_cells(wb), f"{case}: {_error_cells(wb)[:5]}"
        check = _named_values(wb, f"out_input_{name}")
        assert check.startswith("empty: enter " if kind == "empty" else "got "), f"{case}: {check!r}"
        assert _named_values(wb, "out_summary").startswith("ATTENTION: "), case
        before, after = _outputs(baseline), _outputs(wb)
        for output, values in after.items():
            if output in ("all_checks", "summary") or output.startswith("input_"):
                continue
            for was, now in zip(before[output], values, strict=True):
                if output.startswith("check_"):
                    assert now == was or now.startswith("not checked: "), f"{case}: {output} = {now!r}"
                else:
                    assert now == was or now == "", f"{case}: {output} = {now!r}, was {was!r}"
        blanked = [o for o, v in after.items() if v != before[o] and not o.startswith(("check_", "input_"))
                   and o not in ("all_checks", "summary")]
        assert blanked, f"{case}: no result uses this input"
