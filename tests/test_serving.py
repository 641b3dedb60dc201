"""Serving: hand-computed values, edge cases and bad input, the reasoning chains and tables.

Figures used below (Hugging Face config.json of each preset):
- Llama 3 8B: 8,030,261,248 parameters, input embedding 128,256 x 4,096 = 525,336,576; KV cache
  32 layers x 2 x 8 heads x 128 x 2 bytes = 131,072 bytes per token in bf16.
- Llama 2 7B: 6,738,415,616 parameters, input embedding 32,000 x 4,096 = 131,072,000; KV cache
  32 x 2 x 32 x 128 x 2 = 524,288 bytes per token.
- H100 SXM: 80 GB, 3.35 TB/s, 989.5 dense bf16 TFLOP/s. Defaults: 60% of the bandwidth, 50% of the
  16-bit peak, 80 GB x 0.9 - 3.3 GB = 68.7 GB usable (data/serving.toml).
"""

from __future__ import annotations

import math

import pytest

from envelope_xl import InputError
from envelope_xl.catalog import call
from envelope_xl.explain import explain

BW, PEAK = 3.35e12, 989.5e12
L3_8B, L3_EMB, L3_KV = 8_030_261_248, 525_336_576, 131_072
L2_7B, L2_EMB, L2_KV = 6_738_415_616, 131_072_000, 524_288
USABLE = 80e9 * 0.9 - 3.3e9
ROOFLINE = {"bandwidth_efficiency": 1, "compute_efficiency": 1}


def rows(table: list[list]) -> dict[str, object]:
    """A step table or a plan as {label: value}."""
    return {row[0]: row[1] for row in table[1:]}


# Decode ---------------------------------------------------------------------------------------

def test_decode_reads_weights_and_kv_cache():
    # Llama 3 8B, 64 sequences of 2,048 cached tokens, defaults.
    weights = (L3_8B - L3_EMB + 64 * 4096) * 2  # all but the input embedding's unused rows
    kv = 64 * 2048 * L3_KV  # 17.2 GB: more than the weights
    memory = (weights + kv) / (BW * 0.6)  # 16.0 ms
    flops = 64 * (2 * L3_8B + 2 * 32 * 256 * 32 * 2048)  # linear + attention over 2,048 tokens
    compute = flops / (PEAK * 0.5)  # 2.2 ms: memory-bound by 7.2x
    assert call("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 64, 2048) == pytest.approx(64 / memory, rel=1e-12)
    steps = rows(call("DECODE_TPS_BREAKDOWN", "llama-3-8b", "H100-SXM", "bf16", 64, 2048))
    assert steps["weights read per GPU"] == pytest.approx(weights / 1e9, rel=1e-12)
    assert steps["KV cache read per GPU"] == pytest.approx(kv / 1e9, rel=1e-12)
    assert steps["FLOPs per GPU"] == pytest.approx(flops, rel=1e-12)
    assert steps["compute time"] == pytest.approx(compute * 1e3, rel=1e-12)
    assert steps["bound"] == "memory bandwidth (7.2x the compute time)"
    assert steps["memory per GPU"] == pytest.approx((2 * L3_8B + kv) / 1e9, rel=1e-12)
    assert steps["decode throughput"] == call("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 64, 2048)


def test_pure_roofline_of_one_sequence():
    # Efficiencies 1: one step reads 6,607,347,712 x 2 bytes at the datasheet's 3.35 TB/s.
    assert call("DECODE_TPS", "llama-2-7b", **ROOFLINE) == pytest.approx(BW / ((L2_7B - L2_EMB + 4096) * 2))
    assert call("TPOT", "llama-2-7b", **ROOFLINE) == pytest.approx((L2_7B - L2_EMB + 4096) * 2 / BW)


def test_large_batches_are_compute_bound():
    # A bare count at batch 1,000, pure roofline: 1000 / (2 x 7e9 x 1000 / 989.5e12) = 70,679 tokens/s.
    assert call("DECODE_TPS", 7e9, "H100-SXM", "bf16", 1000, **ROOFLINE) == pytest.approx(PEAK / 14e9)
    steps = rows(call("DECODE_TPS_BREAKDOWN", 7e9, "H100-SXM", "bf16", 1000, **ROOFLINE))
    assert steps["bound"].startswith("compute (")


def test_the_issue_batch_that_does_not_fit_is_refused_with_what_fits():
    # The issue: 64 sequences of Llama 2 7B at 2,048 tokens need 13.5 GB of weights and 68.7 GB of KV
    # cache; the old DECODE_TPS answered 15,909 tokens/s. (68.7 - 13.48) / 1.07 = 51.4 sequences fit.
    with pytest.raises(InputError) as raised:
        call("DECODE_TPS", "llama-2-7b", "H100-SXM", "bf16", 64, 2048)
    assert str(raised.value) == (
        "batch: got 64; expected a batch that fits in memory: 64 sequences of 2,048 tokens need 82.2 GB per GPU "
        "(weights 13.5 GB + KV cache 68.7 GB), and H100-SXM offers 68.7 GB per GPU (80 GB x memory_utilization 0.9 "
        "- 3.3 GB engine workspace); the largest batch that fits is 51"
    )
    assert math.floor((USABLE - 2 * L2_7B) / (2048 * L2_KV)) == 51
    assert call("DECODE_TPS", "llama-2-7b", "H100-SXM", "bf16", 51, 2048) > 0


def test_tpot_is_one_decode_step():
    for args in (("llama-3-8b", "H100-SXM", "bf16", 32, 4096), ("mixtral-8x7b", "H200", "fp8", 16, 1000)):
        tps = call("DECODE_TPS", *args)
        assert call("TPOT", *args) == pytest.approx(args[3] / tps, rel=1e-12)
        assert call("TPOT", *args, "min") == pytest.approx(args[3] / tps / 60, rel=1e-12)


def test_tpot_breakdown_parts_add_up():
    table = call("TPOT_BREAKDOWN", "llama-3-70b", "H100-SXM", "bf16", 8, 1000, "s", None, 4)
    assert table[0] == ["component", "s"]
    parts = rows(table)
    assert parts["total"] == pytest.approx(parts["binding limit"] + parts["all-reduces"], rel=1e-12)
    assert parts["total"] == call("TPOT", "llama-3-70b", "H100-SXM", "bf16", 8, 1000, "s", None, 4)


# Tensor parallelism, KV heads, MLA, mixtures of experts -------------------------------------------

def test_tensor_parallel_all_reduces():
    # Llama 3 70B on 4 H100s, one sequence: 2 x 80 layers x (10 us + 2 x 3/4 x 8192 x 2 bytes / 450 GB/s).
    steps = rows(call("DECODE_TPS_BREAKDOWN", "llama-3-70b", "H100-SXM", "bf16", 1, 0, None, 4))
    assert steps["all-reduce time"] == pytest.approx(160 * (10e-6 + 1.5 * 8192 * 2 / 450e9) * 1e3, rel=1e-12)
    assert steps["memory per GPU"] == pytest.approx(2 * 70_553_706_496 / 4 / 1e9, rel=1e-12)
    slower_link = rows(call("DECODE_TPS_BREAKDOWN", "llama-3-70b", "H100-SXM", "bf16", 1, 0, None, 4,
                            link_gbs=64, allreduce_us=20))
    assert slower_link["all-reduce time"] == pytest.approx(160 * (20e-6 + 1.5 * 8192 * 2 / 64e9) * 1e3, rel=1e-12)


def test_the_link_is_the_gpus_intra_node_link_unless_given():
    # H100 SXM: NVLink 4, 450 GB/s each way (links.toml); a TPU has no intra-node link in gpus.toml.
    notes = explain("DECODE_TPS", "llama-3-70b", "H100-SXM", "bf16", 1, 0, None, 4).assumptions
    assert any(n.startswith("all-reduces over a 450 GB/s link (default: H100-SXM's nvlink4") for n in notes)
    with pytest.raises(InputError, match=r"^link_gbs: got nothing; expected the bandwidth between TPU-v5ps"):
        call("DECODE_TPS", "llama-3-8b", "TPU-v5p", "bf16", 1, 0, None, 2)
    assert call("DECODE_TPS", "llama-3-8b", "TPU-v5p", "bf16", 1, 0, None, 2, link_gbs=600) > 0
    assert call("DECODE_TPS", "llama-3-8b", "TPU-v5p", "bf16") > 0  # one chip: no link needed


def test_tp_that_does_not_divide_the_kv_heads_replicates_them():
    # Qwen2.5 7B has 28 heads and 4 KV heads: at tp 7 each GPU holds one KV head (4 of 7 GPUs would
    # otherwise hold none), so each GPU keeps 1/4 of the cache, not 1/7.
    one = rows(call("MAX_BATCH_BREAKDOWN", "qwen2.5-7b", 1000, "H100-SXM", "bf16", None, 1))
    seven = rows(call("MAX_BATCH_BREAKDOWN", "qwen2.5-7b", 1000, "H100-SXM", "bf16", None, 7))
    assert seven["KV cache per sequence per GPU"] == pytest.approx(one["KV cache per sequence per GPU"] / 4)
    notes = explain("MAX_BATCH", "qwen2.5-7b", 1000, "H100-SXM", "bf16", None, 7).assumptions
    assert any("does not divide the 4 KV heads: each GPU holds 1 (replicated" in n for n in notes)
    with pytest.raises(InputError, match=r"^tp: got 3; expected a divisor of the model's 32 attention heads"):
        call("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 1, 0, None, 3)


def test_an_mla_latent_cache_is_whole_on_every_gpu():
    # DeepSeek-V3: 61 layers x (512 latent + 64 RoPE key) values per token, not split by tensor parallelism.
    steps = rows(call("MAX_BATCH_BREAKDOWN", "deepseek-v3", 4096, "H200", "fp8", None, 8))
    assert steps["KV cache per sequence per GPU"] == pytest.approx(61 * 576 * 1 * 4096 / 1e9)


def test_a_mixture_of_experts_reads_the_experts_its_tokens_reach():
    # Mixtral 8x7B: one sequence reads its 2 experts (the active parameters); 64 sequences read all
    # but 8 x 0.75^64 of the 8 experts per layer on average (uniform routing).
    active, total, embedding = 12_879_925_248, 46_702_792_704, 32000 * 4096
    expert = (total - active) / (6 * 32)  # one expert's MLP in one layer
    one = rows(call("DECODE_TPS_BREAKDOWN", "mixtral-8x7b", "H200", "bf16", 1, 0))
    assert one["weights read per GPU"] == pytest.approx((active - embedding + 4096) * 2 / 1e9, rel=1e-12)
    many = rows(call("DECODE_TPS_BREAKDOWN", "mixtral-8x7b", "H200", "bf16", 64, 0))
    touched = 8 * (1 - 0.75**64)
    read = active - embedding + 64 * 4096 + 32 * (touched - 2) * expert
    assert many["weights read per GPU"] == pytest.approx(read * 2 / 1e9, rel=1e-12)
    assert many["FLOPs per GPU"] == pytest.approx(64 * 2 * active, rel=1e-12)  # compute: active parameters


# Quantized serving -------------------------------------------------------------------------------

LINEAR = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024) + 32 * 3 * 4096 * 14336  # Llama 3 8B blocks: 6,979,321,856
OTHER = L3_8B - LINEAR  # embeddings, head, norms: kept in 16 bits


@pytest.mark.parametrize(("precision", "bytes_per_weight", "kv_bytes"), [
    ("bf16", 2, 2),
    ("fp8", 1, 1),  # fp8 weights and activations, fp8 KV cache
    ("int8", 1, 2),  # W8A8: integer formats keep a bf16 cache
    ("int4", 0.5 + 0.15625 / 8, 2),  # AWQ/GPTQ: group-128 scales and zero points, bf16 cache
    ("nf4", 0.5 + 0.127 / 8, 2),  # QLoRA's double-quantized NormalFloat
])
def test_quantized_formats_read_the_right_bytes(precision, bytes_per_weight, kv_bytes):
    steps = rows(call("MAX_BATCH_BREAKDOWN", "llama-3-8b", 4096, "H100-SXM", precision))
    assert steps["weights per GPU"] == pytest.approx((LINEAR * bytes_per_weight + OTHER * 2) / 1e9, rel=1e-12)
    assert steps["KV cache per sequence per GPU"] == pytest.approx(4096 * 32 * 2 * 8 * 128 * kv_bytes / 1e9)


def test_fp8_weights_match_a_published_checkpoint():
    # nvidia/Llama-3.1-8B-Instruct-FP8 on Hugging Face: two safetensors files of 5 GB and 4.08 GB
    # (ModelOpt: fp8 blocks, bf16 embedding and head). The shards' sizes are printed to 3 digits.
    weights = rows(call("MAX_BATCH_BREAKDOWN", "llama-3.1-8b", 1024, "H100-SXM", "fp8"))["weights per GPU"]
    assert weights == pytest.approx(5 + 4.08, abs=0.01)


def test_a_kv_precision_can_be_chosen():
    fp8_cache = rows(call("MAX_BATCH_BREAKDOWN", "llama-3-8b", 4096, "H100-SXM", "int4", "fp8"))
    assert fp8_cache["KV cache per sequence per GPU"] == pytest.approx(4096 * L3_KV / 2 / 1e9)


def test_a_gpu_without_the_precision_peak_is_refused():
    with pytest.raises(InputError, match=r"^precision: got 'fp8'; A100-80GB publishes no fp8 peak"):
        call("DECODE_TPS", "llama-3-8b", "A100-80GB", "fp8")
    assert call("DECODE_TPS", "llama-3-8b", "A100-80GB", "int4") > 0  # weight-only int4 computes in bf16


# Memory fit --------------------------------------------------------------------------------------

def test_max_batch_by_hand():
    assert call("MAX_BATCH", "llama-3-8b", 4096) == math.floor((USABLE - 2 * L3_8B) / (4096 * L3_KV)) == 98
    # At the whole 80 GB with no workspace: 30, the figure of a pure calculation (peers_side_by_side).
    assert call("MAX_BATCH", "llama-2-7b", 4096, memory_utilization=1, workspace_gb=0) == 30
    assert call("MAX_BATCH", "llama-2-7b", 4096) == 25


def test_max_batch_is_zero_when_the_weights_do_not_fit():
    assert call("MAX_BATCH", "llama-3-70b", 1024) == 0
    notes = explain("MAX_BATCH", "llama-3-70b", 1024).assumptions
    assert any("the weights alone (141.1 GB per GPU) exceed the usable 68.7 GB: no sequence fits (tp 4 fits" in n
               for n in notes)
    assert call("MAX_BATCH", "llama-3-70b", 1024, "H100-SXM", "bf16", None, 4) > 0
    with pytest.raises(InputError, match=r"^tp: got 1; expected enough GPUs for the weights: .* tp 4 fits"):
        call("DECODE_TPS", "llama-3-70b")


def test_a_sliding_window_caps_the_cache():
    # Mistral 7B: every layer attends to 4,096 tokens at most, so 32k tokens cache as much as 4k.
    assert call("MAX_BATCH", "mistral-7b", 32768) == call("MAX_BATCH", "mistral-7b", 4096)


# Prefill -----------------------------------------------------------------------------------------

def test_prefill_keeps_its_order_and_counts_attention():
    # A bare count: 2 P n / (peak mfu), as before (attention needs the architecture; the chain says so).
    assert call("PREFILL_TIME", 7e9, 2000, "H100-SXM", "bf16", 0.5) == pytest.approx(2 * 7e9 * 2000 / (PEAK * 0.5))
    notes = explain("PREFILL_TIME", 7e9, 2000).assumptions
    assert any(n.startswith("attention FLOPs not counted: only a parameter count") for n in notes)
    # Llama 3.1 8B, 131,072 tokens at full peak: 2 P n + causal attention 2 x 32 heads x 256 x 32 layers x n(n+1)/2
    # = 6.68 s; the old formula without attention gave 2.13 s (68% short, as the issue says).
    n = 131_072
    expected = (2 * L3_8B * n + 2 * 32 * 256 * 32 * n * (n + 1) / 2) / PEAK
    assert call("PREFILL_TIME", "llama-3.1-8b", n, "H100-SXM", "bf16", 1) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(6.68, abs=0.005)
    assert call("TTFT", "llama-3.1-8b", n, "H100-SXM", "bf16", 1) == call("PREFILL_TIME", "llama-3.1-8b", n,
                                                                          "H100-SXM", "bf16", 1)


def test_prefill_defaults_to_the_measured_mfu():
    # Default mfu by precision: 0.5 for bf16, 0.4 for fp8 (data/serving.toml).
    assert call("PREFILL_TIME", 7e9, 2000) == pytest.approx(2 * 7e9 * 2000 / (PEAK * 0.5))
    assert call("PREFILL_TIME", 7e9, 2000, "H100-SXM", "fp8") == pytest.approx(2 * 7e9 * 2000 / (1979e12 * 0.4))


def test_a_short_prompt_waits_on_the_weights():
    # Ten tokens: 2 x 8.03e9 x 10 FLOPs take 0.3 ms, reading 15 GB of weights 7.5 ms.
    parts = rows(call("PREFILL_TIME_BREAKDOWN", "llama-3-8b", 10))
    read = (L3_8B - L3_EMB + 10 * 4096) * 2 / (BW * 0.6)
    assert parts["total"] == pytest.approx(read, rel=1e-12)
    assert parts["waiting on weight reads"] > 10 * parts["linear layers"]


def test_a_sliding_window_caps_prefill_attention():
    # Mistral 7B, 8,192 tokens, window 4,096 on all 32 layers: token i attends to min(i, 4096) tokens.
    n, w = 8192, 4096
    pairs = 32 * (w * (w + 1) / 2 + (n - w) * w)
    steps = {s.label: s.value for s in explain("PREFILL_TIME", "mistral-7b", n).steps}
    assert steps["attention FLOPs"] == pytest.approx(2 * 32 * 256 * pairs, rel=1e-12)


def test_prefill_of_a_model_that_does_not_fit_is_refused():
    with pytest.raises(InputError, match=r"^tp: got 1; expected enough GPUs for the weights"):
        call("PREFILL_TIME", "llama-3-70b", 1000)


# Edge cases and bad input ------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (("llama-3-8b", "H100-SXM", "bf16", 0), "batch: got 0; expected a whole number >= 1"),
    (("llama-3-8b", "H100-SXM", "bf16", 2.5), "batch: got 2.5; expected a whole number >= 1"),
    (("llama-3-8b", "H100-SXM", "bf16", 1, -1), "context: got -1; expected a whole number >= 0"),
    (("llama-3-8b", "H100-SXM", "bf16", 1, 10.5), "context: got 10.5; expected a whole number >= 0"),
    ((7e9, "H100-SXM", "bf16", 1, 1024), "model: got 7000000000.0; a context of cached tokens (the KV cache's "
     "shape) needs the model's architecture: give a preset name, a config.json or a range of fields"),
    ((7e9, "H100-SXM", "bf16", 1, 0, None, 2), "model: got 7000000000.0; tensor parallelism (its all-reduces need "
     "the layers and hidden width) needs the model's architecture"),
    (("llama-3-8b", "H100-SXM", "bf16", 1, 0, "fp9"), "kv_precision: got 'fp9'; expected a known precision"),
    (("llama-3-8b", "H100-SXM", "bf16", 1, 0, None, 1, 0), "bandwidth_efficiency: got 0; expected a fraction"),
    (("llama-3-8b", "H100-SXM", "bf16", 1, 0, None, 1, 0.6, 1.5), "compute_efficiency: got 1.5; expected a fraction"),
    (("llama-3-8b", "H100-SXM", "bf16", 1, 0, None, 1, 0.6, None, -5), "link_gbs: got -5; expected a finite number"),
    (("lama-3-8b",), "model: got 'lama-3-8b'"),
])
def test_bad_decode_input_names_the_argument(args, message):
    with pytest.raises(InputError) as raised:
        call("DECODE_TPS", *args)
    assert str(raised.value).startswith(message)


def test_context_beyond_the_trained_length_is_allowed_with_a_note():
    # Decision: allowed (RoPE scaling serves longer contexts), with a visible note; the cache still counts.
    assert call("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 1, 16384) > 0
    notes = explain("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 1, 16384).assumptions
    assert any(n.startswith("context 16,384 tokens is beyond the 8,192 the model was trained for") for n in notes)
    assert not any("trained for" in n for n in explain("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 1, 8192)
                   .assumptions)


def test_max_batch_needs_a_context_and_an_architecture():
    with pytest.raises(InputError, match=r"^context: got 0; expected a whole number >= 1"):
        call("MAX_BATCH", "llama-3-8b", 0)
    with pytest.raises(InputError, match=r"^model: got 7000000000.0; a context of cached tokens"):
        call("MAX_BATCH", 7e9, 1024)


# Serving plan ------------------------------------------------------------------------------------

def _plan(*args, **kwargs) -> dict[str, object]:
    table = call("SERVING_PLAN", *args, **kwargs)
    assert table[0] == ["quantity", "value"] and {len(r) for r in table} == {2}
    return rows(table)


def test_serving_plan_rows_follow_from_its_parts():
    p = _plan("llama-3-8b", 20, 1500, 300, "H100-SXM", "bf16", 1, 0.04, 0.45, 2.5)
    assert set(p) == {"batch", "replicas", "gpus", "ttft_s", "tpot_s", "tokens_per_s_per_gpu",
                      "usd_per_million_tokens", "bound"}
    batch = p["batch"]
    assert 1 <= batch <= call("MAX_BATCH", "llama-3-8b", 1800)
    assert p["tpot_s"] <= 0.04
    replica_tps = batch / p["tpot_s"]
    assert p["replicas"] == math.ceil(20 * 300 / (replica_tps * 0.7))
    assert p["gpus"] == p["replicas"]
    assert p["tokens_per_s_per_gpu"] == pytest.approx(replica_tps)
    assert p["usd_per_million_tokens"] == pytest.approx(p["gpus"] * 2.5 / (20 * 300 * 3600) * 1e6)
    assert p["ttft_s"] == call("TTFT", "llama-3-8b", 1500)
    # The batch is the largest that meets the target: one more sequence would not.
    bigger = _plan("llama-3-8b", 20, 1500, 300, "H100-SXM", "bf16", 1, p["tpot_s"] * 1.0001, 0.45)
    assert bigger["batch"] == batch


def test_serving_plan_says_which_limit_bound():
    # Long contexts fill memory before the per-token target binds.
    memory = _plan("llama-3.1-8b", 1, 60000, 1000, tpot_target_s=1, ttft_target_s=10)
    assert memory["bound"] == "memory" and memory["batch"] == call("MAX_BATCH", "llama-3.1-8b", 61000)
    # Short contexts and a tight target: latency.
    latency = _plan("llama-3-8b", 1, 200, 2000, tpot_target_s=0.012)
    assert latency["bound"] == "latency"
    # Prompt-heavy traffic: the mixed-in prefill makes steps compute-bound.
    assert _plan("llama-3-8b", 1, 1500, 300)["bound"] == "compute"
    chain = explain("SERVING_PLAN", "llama-3-8b", 1, 200, 2000, tpot_target_s=0.012)
    limit = next(s for s in chain.steps if s.label == "limit").value
    assert limit.startswith(f"latency: a batch of {latency['batch'] + 1:,} would take ")


def test_serving_plan_sizes_replicas_and_gpus_with_tp():
    p = _plan("llama-3-70b", 50, 2000, 500, "H100-SXM", "fp8", 2, 0.05, 1.0, 3.0)
    assert p["gpus"] == 2 * p["replicas"]
    assert p["tokens_per_s_per_gpu"] == pytest.approx(p["batch"] / p["tpot_s"] / 2)


def test_serving_plan_without_a_price_says_so():
    assert _plan("llama-3-8b", 20, 1500, 300)["usd_per_million_tokens"] == "needs usd_per_gpu_hour"


def test_serving_plan_refuses_targets_no_batch_meets():
    with pytest.raises(InputError, match=r"^tpot_target_s: got 0.005; expected a target one replica can meet: even "
                                         r"one sequence takes 0.00748 s per token on 1 H100-SXM. tp 2 meets it"):
        call("SERVING_PLAN", "llama-3-8b", 1, 100, 100, "H100-SXM", "bf16", 1, 0.005, 1)
    with pytest.raises(InputError, match=r"^ttft_target_s: got 0.1; expected a target one replica can meet: a "
                                         r"prompt of 30,000 tokens takes"):
        call("SERVING_PLAN", "llama-3.1-8b", 1, 30000, 100, "H100-SXM", "bf16", 1, 0.1, 0.1)
    with pytest.raises(InputError, match=r"^tp: got 1; expected enough GPUs for the weights"):
        call("SERVING_PLAN", "llama-3-70b", 1, 100, 100)
    with pytest.raises(InputError, match=r"^model: got 7000000000.0; a serving plan"):
        call("SERVING_PLAN", 7e9, 1, 100, 100)


# Reasoning chains ----------------------------------------------------------------------------------

def test_the_decode_chain_shows_bytes_flops_bound_efficiencies_and_memory():
    chain = explain("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 64, 2048)
    assert chain.answer == call("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 64, 2048)
    labels = [s.label for s in chain.steps]
    assert labels[:3] == ["weights read per GPU", "KV cache read per GPU", "memory time"]
    assert {"FLOPs per GPU", "compute time", "bound", "memory per GPU", "usable memory per GPU"} <= set(labels)
    text = chain.text()
    assert "memory bandwidth (7.2x the compute time)" in text
    assert "bandwidth_efficiency 0.6 (default: vLLM performance benchmarks (Buildkite)" in text
    assert "compute_efficiency 0.5 of the dense bf16_tflops peak (default:" in text
    assert "usable memory per GPU = 80 GB x memory_utilization 0.9 (default: vLLM" in text
    given = explain("DECODE_TPS", "llama-3-8b", "H100-SXM", "bf16", 64, 2048, bandwidth_efficiency=0.8).text()
    assert "bandwidth_efficiency 0.8 (given)" in given
    assert "total" not in labels  # a roofline is not a sum


def test_the_plan_chain_states_the_limit():
    text = explain("SERVING_PLAN", "llama-3-8b", 20, 1500, 300, usd_per_gpu_hour=2.5).text()
    assert "limit = what stops a larger batch: memory, latency or compute" in text
    assert "= compute: at batch 199 a step's compute takes 1.4x its memory time; the TPOT target stops" in text
    assert "latency targets by default: MLCommons, LLM benchmarks of MLPerf Inference v5.0" in text


@pytest.mark.parametrize("name", ["DECODE_TPS", "MAX_BATCH"])
def test_step_tables_end_with_the_answer(name):
    example = {"DECODE_TPS": ("llama-3-8b", "H100-SXM", "bf16", 64, 2048), "MAX_BATCH": ("llama-3-8b", 4096)}[name]
    table = call(f"{name}_BREAKDOWN", *example)
    assert table[0] == ["step", "value", "unit"]
    assert table[-1][1] == call(name, *example)
    chain = explain(name, *example)
    assert [row[0] for row in table[1:]] == [s.label for s in chain.steps]


# The data file ------------------------------------------------------------------------------------

def test_every_serving_default_cites_its_source():
    import tomllib

    from envelope_xl.reference import DATA

    raw = tomllib.loads((DATA / "serving.toml").read_text(encoding="utf-8"))

    def check(table: dict, where: str) -> None:
        numbers = [k for k, v in table.items() if isinstance(v, int | float)]
        sources = [k for k, v in table.items() if "source" in k and isinstance(v, str) and len(v) > 20]
        for name in numbers:  # its own source (x and x_source), or the table's one source
            assert f"{name}_source" in table or "source" in table or len(sources) == 1 or (
                name.rsplit("_", 1)[0] + "_source" in table), f"{where}.{name} has no source"
        for key, value in table.items():
            if isinstance(value, dict):
                check(value, f"{where}.{key}")

    check(raw, "serving.toml")
    for prefill, compute in zip(raw["efficiency"]["prefill"].items(), raw["efficiency"]["compute"].items(),
                                strict=True):
        assert prefill[0] == compute[0] and (isinstance(prefill[1], str) or 0 < prefill[1] <= 1)
