"""Serving estimates side by side with published measurements of real serving, and with
LLM-Viewer's roofline formulas for the same inputs.

Every measured figure names its source; /work/shared/research/measured_serving.md lists them
with the overheads each includes. The defaults in data/serving.toml were derived from a few
of these (marked CALIBRATION); the others were not used to choose them (HELD OUT).

Tolerances, and why:
- Serving engines differ among themselves by more than an envelope estimate can resolve:
  TensorRT-LLM's default and tuned builds of the same model on the same GPUs give 30.9 and
  14.7 ms per token (row S5), and vLLM on an H200 is 15-20% slower per byte than on an H100
  (row S10). So single-request latencies are held to 25%.
- Static-batch and maximum-throughput runs add unknowns: the batch the engine chose (maximum
  throughput), the KV-cache precision of the checkpoint, kernel generations (TensorRT-LLM
  0.5-0.7 predate its XQA attention kernels). They are held to 30% and 35%.
- Time to first token is held to 40%: A100s reach 0.6-0.7 of their fp16 peak in prefill
  where the default (from H100 measurements) assumes 0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from envelope_xl.catalog import call
from envelope_xl.models import resolve_model
from envelope_xl.reference import GPUS, PRECISIONS


def _tpot(model, gpu, precision, batch, context, tp=1, **options) -> float:
    return call("TPOT", model, gpu, precision, batch, context, "s", None, tp, **options)


def _prefill_compute(model, tokens, gpu, precision, tp=1) -> float:
    """Seconds of prefill compute for one prompt (linear layers and attention, no weight-read floor:
    a batch of prompts reads the weights once)."""
    parts = {r[0]: r[1] for r in call("PREFILL_TIME_BREAKDOWN", model, tokens, gpu, precision, None, "s", tp)[1:]}
    return parts["linear layers"] + parts["attention"]


def _static_run(model, gpu, precision, batch, isl, osl, tp=1) -> float:
    """Output tokens/s per GPU of a static batch: `batch` prompts prefilled together, then `osl`
    decode steps as the context grows (midpoints of 16 equal slices)."""
    prefill = batch * _prefill_compute(model, isl, gpu, precision, tp)
    slices = 16
    decode = sum(_tpot(model, gpu, precision, batch, isl + osl * (2 * k + 1) // (2 * slices), tp)
                 for k in range(slices)) * osl / slices
    return batch * osl / (prefill + decode) / tp


def _plan_throughput(model, gpu, precision, isl, osl, tp) -> float:
    """Total generated tokens/s of one replica at the largest batch that fits (no latency target)."""
    rows = dict(call("SERVING_PLAN", model, 1, isl, osl, gpu, precision, tp, 100, 1000)[1:])
    return rows["tokens_per_s_per_gpu"] * tp


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    measured: float
    tolerance: float
    estimate: object  # a function of nothing: evaluated in the test

    def ratio(self) -> float:
        return self.estimate() / self.measured


CASES = [
    # One request at a time: a decode step reads the weights (and the KV cache).
    Case("gpt-fast, Llama-2-7B bf16, 1 A100-80GB, tokens/s", "pytorch-labs/gpt-fast README @32971d31 (HELD OUT)",
         104.9, 0.25, lambda: call("DECODE_TPS", "llama-2-7b", "A100-80GB", "bf16", 1, 100)),
    *[Case(f"gpt-fast, Llama-2-70B bf16, {tp} A100-80GB, tokens/s", "gpt-fast README (HELD OUT); gpt-fast "
           "reserves no serving workspace, so memory_utilization 1 and a 1 GB workspace",
           measured, 0.25, lambda tp=tp: call("DECODE_TPS", "llama-2-70b", "A100-80GB", "bf16", 1, 100, None, tp,
                                              memory_utilization=1, workspace_gb=1))
      for tp, measured in ((2, 21.3), (4, 38.0), (8, 62.5))],
    Case("NIM 1.8.0, Llama-3.3-70B fp8, 2 H100, 500 in / 2000 out, inter-token s", "docs.nvidia.com/nim "
         "benchmarking (CALIBRATION)", 18.91e-3, 0.25, lambda: _tpot("llama-3.1-70b", "H100-SXM", "fp8", 1, 1500, 2)),
    Case("NIM 1.8.0, Llama-3.3-70B fp8, 2 H100, 5000 in / 500 out, inter-token s", "as above (HELD OUT)",
         18.58e-3, 0.25, lambda: _tpot("llama-3.1-70b", "H100-SXM", "fp8", 1, 5250, 2)),
    Case("TensorRT-LLM 0.14 online, Llama-3.1-8B bf16, 1 H100, 2 requests/s, inter-token s",
         "TensorRT-LLM perf-overview.md, online serving (CALIBRATION)", 8e-3, 0.25,
         lambda: _tpot("llama-3.1-8b", "H100-SXM", "bf16", 1, 595)),
    Case("TensorRT-LLM 0.14 online, Llama-3.1-70B bf16, 4 H100, 2 requests/s, inter-token s", "as above (HELD OUT)",
         21e-3, 0.25, lambda: _tpot("llama-3.1-70b", "H100-SXM", "bf16", 1, 595, 4)),
    Case("vLLM server, Llama-3-70B bf16, 4 H100, 1 request/s, inter-token s", "vLLM nightly benchmarks (HELD OUT)",
         19.4e-3, 0.25, lambda: _tpot("llama-3-70b", "H100-SXM", "bf16", 1, 400, 4)),
    # vLLM's nightly latency test: 8 prompts of 32 tokens, 128 tokens each, the whole batch timed.
    *[Case(f"vLLM latency test, {model} bf16, {tp} {gpu}, batch 8, 32 in / 128 out, s", "buildkite "
           f"vllm/performance-benchmark, latency-tests.json ({role})", measured, 0.25,
           lambda model=model, gpu=gpu, tp=tp: call("PREFILL_TIME", model, 256, gpu, "bf16", None, "s", tp)
           + sum(_tpot(model, gpu, "bf16", 8, 32 + i, tp) for i in range(128)))
      for model, tp, gpu, measured, role in (
          ("llama-3-8b", 1, "H100-SXM", 0.9975, "CALIBRATION"), ("llama-3-8b", 1, "H200", 0.8341, "HELD OUT"),
          ("llama-3-8b", 1, "A100-80GB", 1.5793, "HELD OUT"), ("llama-3-70b", 4, "H100-SXM", 2.4445, "HELD OUT"),
          ("llama-3-70b", 4, "H200", 2.0751, "HELD OUT"), ("llama-3-70b", 4, "A100-80GB", 3.9906, "HELD OUT"))],
    # Static batches (TensorRT-LLM's C++ benchmark): every sequence of the batch from prompt to the end.
    *[Case(f"TensorRT-LLM {version}, {model} fp8, {tp} {gpu}, batch {batch}, {isl}/{osl}, tokens/s per GPU",
           f"TensorRT-LLM {source} ({role})", measured, 0.30,
           lambda model=model, gpu=gpu, batch=batch, isl=isl, osl=osl, tp=tp:
           _static_run(model, gpu, "fp8", batch, isl, osl, tp))
      for version, model, gpu, tp, batch, isl, osl, measured, source, role in (
          ("0.6.1", "llama-2-7b", "H100-SXM", 1, 768, 128, 128, 19_694, "docs/source/performance.md", "HELD OUT"),
          ("0.6.1", "llama-2-7b", "H100-SXM", 1, 48, 2048, 2048, 2_740, "docs/source/performance.md", "HELD OUT"),
          ("0.6.1", "llama-2-70b", "H100-SXM", 2, 1024, 128, 128, 2_657, "docs/source/performance.md",
           "CALIBRATION"),
          ("0.5", "llama-2-70b", "H200", 1, 512, 128, 128, 3_014, "blogs/H200launch.md", "HELD OUT"),
          ("0.5", "llama-2-70b", "H200", 1, 64, 2048, 128, 341, "blogs/H200launch.md", "HELD OUT"),
          ("0.7a", "llama-2-70b", "H200", 1, 960, 128, 128, 3_803, "blogs/Falcon180B-H200.md", "HELD OUT"))],
    # Maximum throughput (trtllm-bench, in-flight batching; TensorRT-LLM v1.0 perf-overview.md,
    # 'Total Output Throughput'): the plan's batch at the memory limit, without latency targets.
    *[Case(f"TensorRT-LLM 1.0 max throughput, Llama-3.1-8B fp8, 1 H100, {isl}/{osl}, tokens/s",
           "docs/source/performance/perf-overview.md @00f37686 (HELD OUT)", measured, 0.35,
           lambda isl=isl, osl=osl: _plan_throughput("llama-3.1-8b", "H100-SXM", "fp8", isl, osl, 1))
      for (isl, osl), measured in {(128, 128): 28_312, (128, 2048): 22_714, (128, 4096): 14_325,
                                   (500, 2000): 17_660, (1000, 1000): 15_220, (1000, 2000): 13_899,
                                   (2048, 128): 3_450, (2048, 2048): 9_305, (5000, 500): 3_459,
                                   (20000, 2000): 1_351}.items()],
    *[Case(f"TensorRT-LLM 1.0 max throughput, Llama-3.3-70B fp8, 2 H100, {isl}/{osl}, tokens/s",
           "docs/source/performance/perf-overview.md @00f37686 (HELD OUT)", measured, 0.35,
           lambda isl=isl, osl=osl: _plan_throughput("llama-3.1-70b", "H100-SXM", "fp8", isl, osl, 2))
      for (isl, osl), measured in {(128, 128): 6_378, (128, 2048): 6_651, (128, 4096): 4_199, (500, 2000): 5_222,
                                   (1000, 1000): 4_205, (1000, 2000): 4_146, (2048, 128): 762,
                                   (2048, 2048): 3_082, (5000, 500): 898, (20000, 2000): 437}.items()],
    # Time to first token, one request.
    Case("TensorRT-LLM 0.16, Llama-3.3-70B bf16, 4 H100, 2,048-token prompt, s",
         "performance-tuning-guide, benchmarking-default-performance.md (CALIBRATION)", 0.1478, 0.40,
         lambda: call("TTFT", "llama-3.1-70b", 2048, "H100-SXM", "bf16", None, "s", 4)),
    *[Case(f"TensorRT-LLM 0.5, {model} {precision}, {tp} {gpu}, 2,048-token prompt, s",
           f"docs/source/performance.md @138f96d4 ({role})", measured, 0.40,
           lambda model=model, gpu=gpu, precision=precision, tp=tp:
           call("TTFT", model, 2048, gpu, precision, None, "s", tp))
      for model, precision, gpu, tp, measured, role in (
          ("llama-2-7b", "fp8", "H100-SXM", 1, 0.036, "CALIBRATION"),
          ("llama-2-70b", "fp8", "H100-SXM", 4, 0.109, "CALIBRATION"),
          ("llama-2-7b", "fp16", "A100-80GB", 1, 0.133, "HELD OUT"),
          ("llama-2-70b", "fp16", "A100-80GB", 4, 0.377, "HELD OUT"))],
    Case("NIM 1.8.0, Llama-3.3-70B fp8, 2 H100, 5,000-token prompt, s", "docs.nvidia.com/nim benchmarking; "
         "includes HTTP and queueing (HELD OUT)", 0.4068, 0.40,
         lambda: call("TTFT", "llama-3.1-70b", 5000, "H100-SXM", "fp8", None, "s", 2)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_side_by_side_with_published_measurements(case):
    assert abs(case.ratio() - 1) <= case.tolerance, f"{case.name}: {case.ratio():.3f} x measured ({case.source})"


def test_no_bias_across_held_out_measurements():
    # Over the held-out cases, estimates are neither systematically high nor low: the geometric
    # mean ratio is within 10% of 1 (it is 0.96 at the data file's defaults).
    ratios = [c.ratio() for c in CASES if "HELD OUT" in c.source]
    mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    assert len(ratios) >= 30 and abs(mean - 1) < 0.10


def test_the_issue_cases_no_longer_overstate():
    # The issue: weights-only decode at 100% overstated a batch of 64 with 2,000-4,000 tokens 5-8x.
    # TensorRT-LLM 0.6.1 measured Llama-2-7B fp8 at batch 48, 2,048 in / 2,048 out: 2,740 tokens/s.
    old = 48 / (6_738_415_616 / 3.35e12)  # the old formula: one byte per fp8 weight at full bandwidth
    assert old / 2_740 > 8
    assert abs(_static_run("llama-2-7b", "H100-SXM", "fp8", 48, 2048, 2048) / 2_740 - 1) < 0.30


# LLM-Viewer ------------------------------------------------------------------------------------

def llm_viewer_decode(model: str, gpu: str, batch: int, context: int, bytes_each: float = 2) -> float:
    """Tokens/s of one decode step by LLM-Viewer's formulas (hahnyuan/LLM-Viewer model_analyzer.py
    @472f71f, default options: no FlashAttention): a roofline per operator, the times summed.

    Per layer: the seven linear layers (weights, input and output activations, K and V written to
    the cache), QK^T and SV reading the KV cache, softmax (5 ops per score), two norms (7 ops per
    value), two residual adds and the MLP activation; then the output head. As in LLM-Viewer: the
    head counts one op per multiply-add and its output once, and the MLP activation works on the
    hidden width."""
    m = resolve_model("model", model)
    g = GPUS.get("gpu", gpu)
    bw, peak = g.bandwidth, g.peak_flops(PRECISIONS.get("p", "bf16"))
    h, a, kv, d, f, b, s, w = m.hidden, m.heads, m.kv_heads, h_dim(m), m.ffn_hidden, batch, context, bytes_each

    def op(ops: float, memory: float) -> float:
        return max(ops / peak, memory / bw)

    layer = 0.0
    for ic, oc, to_cache in ((h, h, False), (h, h * kv / a, True), (h, h * kv / a, True), (h, h, False),
                             (h, f, False), (h, f, False), (f, h, False)):
        layer += op(2 * ic * oc * b, ic * oc * w + ic * b * w + oc * b * w)  # output to activations or to cache
        del to_cache  # same bytes either way at 16-bit activations and cache
    layer += op(2 * s * d * a * b, d * b * a * w + s * b * a * w + s * d * b * kv * w)  # QK^T
    layer += op(2 * d * s * a * b, s * b * a * w + d * b * a * w + s * d * b * kv * w)  # SV
    layer += op(5 * b * a * s, 2 * b * a * s * w)  # softmax
    layer += 2 * op(7 * b * h, 2 * b * h * w)  # norms
    layer += 2 * op(b * h, 2 * b * h * w)  # residual adds
    layer += op(2 * b * h, 3 * b * h * w)  # MLP activation
    head = op(b * h * m.vocab, h * m.vocab * w + h * w + m.vocab * w)
    return b / (m.layers * layer + head)


def h_dim(m) -> int:
    return m.hidden // m.heads  # LLM-Viewer's head size


@pytest.mark.parametrize(("model", "gpu", "batch", "context"), [
    ("llama-2-7b", "H100-SXM", 1, 2048),
    ("llama-2-7b", "H200", 64, 2048),  # the issue's batch: 82 GB, so an H200
    ("llama-3-8b", "H100-SXM", 1, 128),
    ("llama-3-8b", "H100-SXM", 16, 4096),
    ("llama-3-8b", "H200", 64, 8192),
    ("llama-2-13b", "H100-SXM", 8, 4096),
])
def test_pure_roofline_matches_llm_viewer_below_the_ridge(model, gpu, batch, context):
    # Efficiencies 1: our roofline and LLM-Viewer's agree within 7% while every operator is
    # memory-bound. The gap is LLM-Viewer writing and reading the attention scores (it models no
    # FlashAttention by default): 4 x 2 bytes per query head and cached token per layer, beside
    # 4 x head width bytes of keys and values per KV head: 1.6% more traffic for multi-head
    # attention, 6.3% for Llama 3's 4 query heads per KV head.
    ours = call("DECODE_TPS", model, gpu, "bf16", batch, context, bandwidth_efficiency=1, compute_efficiency=1,
                memory_utilization=1, workspace_gb=0)
    assert ours == pytest.approx(llm_viewer_decode(model, gpu, batch, context), rel=0.07)
    assert ours >= llm_viewer_decode(model, gpu, batch, context)  # LLM-Viewer moves more bytes, never fewer


def test_llm_viewer_sums_operators_where_we_overlap_them():
    # Above the ridge the two rooflines part: LLM-Viewer adds the memory-bound attention to the
    # compute-bound matmuls; ours takes the longer of the step's memory and compute times. At
    # 512 sequences of 1,024 tokens of Llama 3 8B on an H200 LLM-Viewer's step is longer.
    ours = call("DECODE_TPS", "llama-3-8b", "H200", "bf16", 512, 1024, bandwidth_efficiency=1, compute_efficiency=1,
                memory_utilization=1, workspace_gb=0)
    theirs = llm_viewer_decode("llama-3-8b", "H200", 512, 1024)
    assert 1.1 < ours / theirs < 1.6


def test_prefill_attention_flops_are_half_of_llm_viewers():
    # LLM-Viewer's prefill attention: QK^T and SV over every (query, key) pair, 4 s^2 h per layer.
    # Causal attention skips the masked half: 4 h x s (s + 1) / 2 per layer (FlashAttention-2).
    from envelope_xl.explain import explain

    s = 4096
    steps = {step.label: step.value for step in explain("PREFILL_TIME", "llama-2-7b", s).steps}
    theirs = 32 * 4 * s * s * 4096
    assert steps["attention FLOPs"] == pytest.approx(theirs / 2 * (s + 1) / s, rel=1e-12)
    # The linear layers: 2 x parameters x tokens; LLM-Viewer leaves out the embedding lookup and
    # counts the head once per multiply-add, 1.9% fewer for Llama 2 7B.
    assert steps["linear FLOPs"] == 2 * 6_738_415_616 * s


def test_the_llm_viewer_transcription_reproduces_its_own_figures():
    # /work/shared/research/peers_side_by_side.md ran LLM-Viewer's code on Llama 2 7B at 3.35 TB/s,
    # 2,048 tokens of context: 234.1 tokens/s at batch 1 and 2,566 at batch 64 (printed to 4 digits).
    assert llm_viewer_decode("llama-2-7b", "H100-SXM", 1, 2048) == pytest.approx(234.1, abs=0.05)
    assert llm_viewer_decode("llama-2-7b", "H100-SXM", 64, 2048) == pytest.approx(2566, abs=0.5)
