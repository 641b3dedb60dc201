"""TRAIN_PEAK_MEM and MAX_MICRO_BATCH against hand-computed components, on every surface.

The small model below keeps the arithmetic readable: h = 1024, a gated MLP of f = 4096,
2 layers, 8 heads (multi-head), vocabulary 1000, untied embeddings, RMSNorm, no dropout.
Its parameters: embeddings and head 2 x 1000 x 1024 = 2,048,000; per layer attention
4h^2 = 4,194,304, MLP 3hf = 12,582,912, norms 2h = 2,048; final norm 1,024: 35,607,552.
"""

from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from envelope_xl import InputError, max_micro_batch, train_peak_mem
from envelope_xl.catalog import call
from envelope_xl.cli import main
from envelope_xl.explain import explain

TINY = {
    "model_type": "llama", "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 2,
    "num_attention_heads": 8, "num_key_value_heads": 8, "vocab_size": 1000, "tie_word_embeddings": False,
}
h, f, L, a, V = 1024, 4096, 2, 8, 1000
P = 2 * V * h + L * (4 * h * h + 3 * h * f + 2 * h) + h
CONTEXT, SLACK = 1.408e9, 0.05  # data/training.toml: CUDA context 1343 MiB, 5% allocator slack

# Per token and layer, flash attention, nothing recomputed (bytes):
#   norms: two inputs, 2 x 2h; attention: the QKV input 2h + Q, K, V, output 2 x 4h + fp32 log-sum-exp 4a;
#   MLP: input 2h + gate, up, SiLU output and product 4 x 2f.
NORMS, ATTENTION, MLP = 4 * h, 2 * h + 8 * h + 4 * a, 2 * h + 8 * f
PER_TOKEN_LAYER = NORMS + ATTENTION + MLP


def components(seq_len=1024, micro_batch=1, **kw):
    rows = call("TRAIN_PEAK_MEM_BREAKDOWN", TINY, seq_len, micro_batch, unit="B", **kw)
    return {label: value for label, value in rows[1:]}


def test_model_size():
    assert call("MODEL_PARAMS", TINY) == P == 35_607_552


def test_full_training_on_one_gpu_by_hand():
    c = components()
    tokens = 1024
    assert c["weights"] == P * 2
    assert c["gradients"] == P * 2
    assert c["fp32 master weights"] == P * 4
    assert c["optimizer states"] == P * 8
    assert c["LoRA adapter weights"] == 0
    assert c["activations"] == L * tokens * PER_TOKEN_LAYER
    # Logits: 10 bytes per logit (16-bit, fp32 copy, fp32 gradient) + the final norm's input and output.
    assert c["logits and loss"] == tokens * (V * 10 + 2 * 2 * h)
    assert c["transient working memory"] == 0  # no recomputation, one GPU, no quantized base
    rest = P * 16 + L * tokens * PER_TOKEN_LAYER + tokens * (V * 10 + 4 * h)
    assert c["framework reserve"] == pytest.approx(CONTEXT + SLACK * rest, rel=1e-12)
    assert c["total"] == pytest.approx(rest * (1 + SLACK) + CONTEXT, rel=1e-12)
    assert c["CPU memory per GPU for offloaded states (not in the total)"] == 0


def test_eager_attention_stores_the_score_matrix():
    # In place of the log-sum-exp, the softmax output: 2 bytes x heads x seq_len per token and layer.
    flash, eager = components(), components(attention="eager")
    assert eager["activations"] - flash["activations"] == L * 1024 * (2 * a * 1024 - 4 * a)


def test_selective_recomputation_drops_the_attention_core():
    flash, selective = components(), components(recompute="selective")
    assert flash["activations"] - selective["activations"] == L * 1024 * 4 * a  # the log-sum-exp
    eager, eager_selective = components(attention="eager"), components(attention="eager", recompute="selective")
    assert eager["activations"] - eager_selective["activations"] == L * 1024 * 2 * a * 1024


def test_full_recomputation_keeps_layer_inputs_and_recomputes_one_layer():
    c = components(recompute="full")
    assert c["activations"] == L * 1024 * 2 * h
    assert c["transient working memory"] == 1024 * PER_TOKEN_LAYER  # the layer being recomputed


def test_tensor_and_sequence_parallelism():
    # tp 2 splits heads and MLP; sequence parallelism (on by default with tp > 1) the rest.
    c = components(gpus=2, tp=2)
    assert c["weights"] == P * 2 / 2
    assert c["activations"] == pytest.approx(L * 1024 * PER_TOKEN_LAYER / 2, rel=1e-12)
    assert c["logits and loss"] == 1024 * (V / 2 * 10 + 4 * h / 2)
    no_sp = components(gpus=2, tp=2, sp=False)
    whole = NORMS + 2 * h + 2 * h  # norms' inputs, the QKV input and the MLP input stay whole
    assert no_sp["activations"] == pytest.approx(L * 1024 * (whole + (PER_TOKEN_LAYER - whole) / 2), rel=1e-12)


def test_pipeline_keeps_pp_micro_batches_in_flight_on_the_first_stage():
    # pp 2: one layer per stage. The first stage keeps 2 micro-batches of its layer and the
    # embedding; the last one micro-batch, the head and the logits. Here the first is larger.
    c = components(gpus=2, pp=2)
    assert c["activations"] == 2 * 1 * 1024 * PER_TOKEN_LAYER
    assert c["weights"] == (V * h + (4 * h * h + 3 * h * f + 2 * h)) * 2
    assert c["logits and loss"] == 0
    explained = explain("TRAIN_PEAK_MEM", TINY, 1024, 1, gpus=2, pp=2)
    assert any("first stage (1 layers, 2 micro-batches in flight" in n for n in explained.assumptions)


def test_zero_shards_model_states_over_data_parallel_gpus():
    for stage, sharded in [(1, ("fp32 master weights", "optimizer states")),
                           (2, ("gradients", "fp32 master weights", "optimizer states")),
                           (3, ("weights", "gradients", "fp32 master weights", "optimizer states"))]:
        c = components(gpus=4, zero_stage=stage)
        whole = components(gpus=4)
        for row in ("weights", "gradients", "fp32 master weights", "optimizer states"):
            expected = whole[row] / 4 if row in sharded else whole[row]
            assert c[row] == pytest.approx(expected, rel=1e-12), (stage, row)


def test_communication_buffers():
    # Plain data parallelism: one 25 MiB DDP bucket. ZeRO-1/2: a 5e8-element bucket, capped by
    # the parameters. ZeRO-3: two gathered blocks (16-bit) and one block's gradients.
    assert components(gpus=4)["transient working memory"] == 25 * 2**20
    assert components(gpus=4, zero_stage=2)["transient working memory"] == P * 2
    block = 4 * h * h + 3 * h * f + 2 * h
    assert components(gpus=4, zero_stage=3)["transient working memory"] == 2 * block * 2 + block * 2


def test_lora_trains_adapters_only():
    # Rank 8 on q, k, v, o (1024 -> 1024) and gate, up (1024 -> 4096), down (4096 -> 1024):
    # 8 x (4 x 2048 + 2 x 5120 + 5120) = 188,416 per layer.
    adapters = L * 8 * (4 * 2048 + 3 * 5120)
    c = components(method="lora")
    assert c["weights"] == P * 2
    assert c["LoRA adapter weights"] == adapters * 2
    assert c["gradients"] == adapters * 2
    assert c["fp32 master weights"] == 0  # adapters live in the compute precision
    assert c["optimizer states"] == adapters * 8
    # Each adapted matrix keeps its r-wide product: 4 x 8 in attention, 3 x 8 in the MLP.
    assert c["activations"] == L * 1024 * (PER_TOKEN_LAYER + 2 * (4 * 8 + 3 * 8))
    only_qv = components(method="lora", lora_rank=16, lora_targets="q,v")
    assert only_qv["LoRA adapter weights"] == L * 16 * 2 * 2048 * 2


def test_qlora_stores_the_frozen_base_in_nf4_with_its_constants():
    # The blocks' linear layers in 4 bits + 0.127 bits of double-quantized constants; embeddings,
    # head and norms in bf16; one 16-bit dequantized matrix (the largest, h x f) at a time.
    linear = L * (4 * h * h + 3 * h * f)
    c = components(precision="nf4", method="qlora")
    assert c["weights"] == pytest.approx(linear * (4 + 0.127) / 8 + (P - linear) * 2, rel=1e-12)
    assert c["transient working memory"] == h * f * 2
    assert components(method="qlora") == c  # bf16 compute: the base is still nf4


def test_offload_moves_states_to_the_host():
    # ZeRO-Offload (ZeRO-2 on 4 GPUs): gradients, master weights and Adam states leave the GPU;
    # the host keeps fp32 weights, fp32 gradients and m, v: 16 bytes x P / 4, x 1.5 buffers.
    c = components(gpus=4, zero_stage=2, offload="optimizer")
    assert c["weights"] == P * 2
    assert c["gradients"] == c["fp32 master weights"] == c["optimizer states"] == 0
    assert c["CPU memory per GPU for offloaded states (not in the total)"] == pytest.approx(P * 16 / 4 * 1.5)
    params = components(gpus=4, zero_stage=3, offload="optimizer+params")
    assert params["weights"] == 0
    assert params["CPU memory per GPU for offloaded states (not in the total)"] == pytest.approx(P * 18 / 4 * 1.5)


def test_overrides():
    assert components(reserve_gb=2)["framework reserve"] == 2e9
    assert components(logit_bytes=4)["logits and loss"] == 1024 * (V * 4 + 4 * h)


def test_breakdown_rows_add_up_and_every_surface_agrees():
    kw = dict(gpus=8, zero_stage=3, recompute="selective")
    rows = call("TRAIN_PEAK_MEM_BREAKDOWN", "llama-3-8b", 8192, 1, **kw)
    labels = [r[0] for r in rows]
    total = rows[labels.index("total")][1]
    assert sum(r[1] for r in rows[1:labels.index("total")]) == pytest.approx(total, rel=1e-12)
    assert call("TRAIN_PEAK_MEM", "llama-3-8b", 8192, 1, **kw) == total
    assert train_peak_mem("llama-3-8b", 8192, 1, gpus=8, zero_stage=3, recompute="selective") == total
    assert explain("TRAIN_PEAK_MEM", "llama-3-8b", 8192, 1, **kw).answer == total
    steps = explain("TRAIN_PEAK_MEM", "llama-3-8b", 8192, 1, **kw).steps
    assert next(s for s in steps if s.label == "total").value == pytest.approx(total, rel=1e-12)


def test_the_command_line_agrees():
    out = CliRunner().invoke(main, ["call", "TRAIN_PEAK_MEM", "llama-3-8b", "8192", "1", "gpus=8", "zero_stage=3",
                                    "offload=optimizer"]).output
    assert float(out) == call("TRAIN_PEAK_MEM", "llama-3-8b", 8192, 1, gpus=8, zero_stage=3, offload="optimizer")
    table = CliRunner().invoke(main, ["call", "TRAIN_PEAK_MEM_BREAKDOWN", "llama-3-8b", "8192", "1", "gpus=8",
                                      "zero_stage=3", "offload=optimizer"]).output.splitlines()
    assert table[-1].startswith("CPU memory per GPU for offloaded states (not in the total)\t")
    assert float(table[-2].split("\t")[1]) == float(out)


def test_a_step_that_does_not_fit_says_by_how_much_and_what_to_change():
    with pytest.raises(InputError) as caught:
        call("TRAIN_PEAK_MEM", "llama-3-8b", 8192, 2, gpus=8, zero_stage=3, gpu="H100-SXM")
    message = str(caught.value)
    assert message.startswith("gpu: got 'H100-SXM'; the step needs ")
    assert "more than the H100-SXM's 80.0 GB" in message
    assert "To fit, change one of: micro_batch 1" in message and 'recompute "full"' in message and "tp 2" in message
    # The breakdown refuses it the same way; without a GPU the number is returned.
    with pytest.raises(InputError, match="more than the H100-SXM"):
        call("TRAIN_PEAK_MEM_BREAKDOWN", "llama-3-8b", 8192, 2, gpus=8, zero_stage=3, gpu="h100")
    assert call("TRAIN_PEAK_MEM", "llama-3-8b", 8192, 2, gpus=8, zero_stage=3) > 80


def test_advice_raises_zero_stage_when_data_parallel_gpus_can_share_the_states():
    with pytest.raises(InputError, match="To fit, change one of: zero_stage 1"):
        call("TRAIN_PEAK_MEM", "llama-3-8b", 2048, 1, gpus=8, recompute="full", gpu="H100-SXM")


def test_advice_combines_levers_when_none_suffices_alone():
    with pytest.raises(InputError, match=r"No single change fits; together: .*zero_stage 3 over"):
        call("TRAIN_PEAK_MEM", "llama-3-70b", 8192, 1, gpu="H100-SXM")


def test_fits_note():
    decision = explain("TRAIN_PEAK_MEM", "llama-3-8b", 4096, 1, gpus=8, zero_stage=3, gpu="H100-SXM").decision
    assert decision.startswith("fits the H100-SXM (80.0 GB) with ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(precision="nf4"), "precision: got 'nf4'; expected a floating-point training format"),
        (dict(precision="nf4", method="lora"), 'use method "qlora"'),
        (dict(gpus=3, tp=2), "gpus: got 3; expected a multiple of tp x pp (2 x 1 = 2)"),
        (dict(gpus=3, tp=3), "tp: got 3; expected a divisor of heads (8)"),
        (dict(gpus=4, pp=4), "pp: got 4; expected at most the model's layers (2)"),
        (dict(offload="optimizer"), "offload: got 'optimizer'; expected zero_stage 1, 2 or 3"),
        (dict(zero_stage=2, offload="params"), "expected zero_stage 3 with parameter offload"),
        (dict(method="lora", lora_targets="q,x"), "'x' is not a linear layer LoRA adapts"),
        (dict(method="lora", lora_rank=0), "lora_rank: got 0; expected a whole number >= 1"),
        (dict(attention="flsh"), "Did you mean 'flash'?"),
        (dict(method="qlroa"), "Did you mean 'qlora'?"),
        (dict(logit_bytes=-1), "logit_bytes: got -1; expected a finite number >= 0"),
        (dict(gpu="H100-SMX"), "Did you mean 'H100-SXM'?"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(InputError) as caught:
        call("TRAIN_PEAK_MEM", TINY, 1024, 1, **kwargs)
    assert message in str(caught.value)


def test_a_bare_parameter_count_is_refused_with_the_reason():
    with pytest.raises(InputError, match=r"peak training memory .* needs the model.s architecture"):
        call("TRAIN_PEAK_MEM", 7e9, 4096, 1)


def test_max_micro_batch_is_the_largest_that_fits():
    # peak(b) = 1.05 x (16 P + b x 1024 x (2 x 49,184 + 14,096)) + 1.408e9 <= 24e9 (L4): b = 181.
    assert max_micro_batch(TINY, 1024, "L4") == 181
    for model, seq, kw in [("llama-3-8b", 8192, dict(gpus=8, zero_stage=3, recompute="full")),
                           ("mistral-7b", 4096, dict(method="qlora")),
                           ("mixtral-8x7b", 4096, dict(gpus=64, tp=8, zero_stage=3, recompute="full"))]:
        n = max_micro_batch(model, seq, "H100-SXM", **kw)
        assert n >= 1
        assert call("TRAIN_PEAK_MEM", model, seq, n, **kw) <= 80 < call("TRAIN_PEAK_MEM", model, seq, n + 1, **kw)


def test_max_micro_batch_zero_names_the_problem():
    assert max_micro_batch("llama-3-70b", 8192, "H100-SXM") == 0
    decision = explain("MAX_MICRO_BATCH", "llama-3-70b", 8192, "H100-SXM").decision
    assert "before any activation" in decision and "the largest is optimizer states" in decision
    # Model states fit but one sequence does not: the chain says it is the activations.
    assert max_micro_batch("llama-3-8b", 131072, "H100-SXM", gpus=8, zero_stage=3) == 0
    decision = explain("MAX_MICRO_BATCH", "llama-3-8b", 131072, "H100-SXM", gpus=8, zero_stage=3).decision
    assert "one sequence of 131,072 tokens adds" in decision and "mostly activations" in decision
    assert 'recompute "full"' in decision


def test_train_flops_needs_an_architecture_for_attention():
    with pytest.raises(InputError, match="seq_len: got 4096; expected 0 with a bare parameter count"):
        call("TRAIN_FLOPS", 7e9, 1e12, 4096)
    # Without seq_len a bare count is 6ND, taken as dense, and the chain says so.
    assert call("TRAIN_FLOPS", 7e9, 1e12) == 4.2e22
    assert any("a bare count: dense" in a for a in explain("TRAIN_FLOPS", 7e9, 1e12).assumptions)
    assert any("a bare count: dense" in a for a in explain("TRAIN_TIME", 7e9, 1e12, 8).assumptions)


def test_time_functions_run_a_mixture_on_its_active_parameters():
    active = call("MODEL_PARAMS", "mixtral-8x7b", True)
    for name, args in [("TRAIN_TIME", (1e12, 64)), ("GPU_HOURS", (1e12,)), ("TRAIN_COST", (1e12, 2.5)),
                       ("GPUS_FOR_DEADLINE", (1e12, 30))]:
        assert call(name, "mixtral-8x7b", *args) == call(name, active, *args)


# ----------------------------------------------------------------- invariants (hypothesis)

PRESETS = st.sampled_from(["llama-3-8b", "mistral-7b", "mixtral-8x7b", "qwen3-8b", "gemma-2-9b", "deepseek-v3"])
LAYOUTS = st.sampled_from([(1, 1, 1), (8, 1, 1), (8, 2, 1), (16, 8, 1), (64, 8, 2), (64, 4, 4)])  # gpus, tp, pp
METHODS = st.sampled_from(["full", "lora", "qlora"])


@settings(max_examples=150)
@given(PRESETS, LAYOUTS, METHODS, st.integers(0, 3), st.sampled_from(["none", "selective", "full"]),
       st.integers(128, 65536), st.integers(1, 16))
def test_peak_grows_with_micro_batch_and_sequence(model, layout, method, zero, recompute, seq_len, micro_batch):
    gpus, tp, pp = layout
    kw = dict(gpus=gpus, tp=tp, pp=pp, zero_stage=zero, recompute=recompute, method=method)
    base = call("TRAIN_PEAK_MEM", model, seq_len, micro_batch, **kw)
    assert call("TRAIN_PEAK_MEM", model, seq_len, micro_batch + 1, **kw) > base
    assert call("TRAIN_PEAK_MEM", model, 2 * seq_len, micro_batch, **kw) > base


@settings(max_examples=100)
@given(PRESETS, LAYOUTS, st.integers(1024, 32768))
def test_each_lever_never_adds_memory(model, layout, seq_len):
    gpus, tp, pp = layout
    kw = dict(gpus=gpus, tp=tp, pp=pp)
    peaks = [call("TRAIN_PEAK_MEM", model, seq_len, 1, zero_stage=z, **kw) for z in range(4)]
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in itertools.pairwise(peaks))
    modes = [call("TRAIN_PEAK_MEM", model, seq_len, 1, recompute=r, attention="eager", **kw)
             for r in ("none", "selective", "full")]
    assert modes[0] >= modes[1] >= modes[2]


@settings(max_examples=60)
@given(PRESETS, LAYOUTS, METHODS, st.integers(0, 3), st.integers(256, 16384),
       st.sampled_from(["H100-SXM", "A100-40GB", "L4", "H200", "MI300X"]))
def test_max_micro_batch_is_the_boundary(model, layout, method, zero, seq_len, gpu):
    gpus, tp, pp = layout
    kw = dict(gpus=gpus, tp=tp, pp=pp, zero_stage=zero, method=method, recompute="full")
    capacity = call("GPU_SPEC", gpu, "memory_gb")
    n = call("MAX_MICRO_BATCH", model, seq_len, gpu, **kw)
    if n:
        assert call("TRAIN_PEAK_MEM", model, seq_len, n, **kw) <= capacity
    assert call("TRAIN_PEAK_MEM", model, seq_len, n + 1, **kw) > capacity


def test_activations_of_a_mixture_of_experts():
    # Mixtral 8x7B, per token and layer: norms 2 x 2h; attention: QKV input 2h, Q 4096 + K 1024 + V 1024
    # + output 4096 (x 2 bytes), log-sum-exp 4 x 32; MLP: input 2h, for each of the 2 routed experts the
    # dispatched input and its output (2 x 2h) and 4 x 2 bytes x 14,336 inside the gated expert.
    h = 4096
    per_token_layer = 4 * h + (2 * h + 2 * (4096 + 1024 + 1024 + 4096) + 4 * 32) + (2 * h + 2 * (4 * h + 8 * 14336))
    rows = dict(call("TRAIN_PEAK_MEM_BREAKDOWN", "mixtral-8x7b", 1024, 1, unit="B")[1:])
    assert rows["activations"] == 32 * 1024 * per_token_layer


def test_qk_norms_keep_their_inputs():
    # Qwen3 8B normalizes each head's queries and keys: (32 + 8) x 128 more 16-bit values per token and layer.
    qwen3 = {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
             "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
             "tie_word_embeddings": False}
    plain = {**qwen3, "model_type": "llama"}
    with_norms = dict(call("TRAIN_PEAK_MEM_BREAKDOWN", qwen3, 1024, 1, unit="B")[1:])["activations"]
    without = dict(call("TRAIN_PEAK_MEM_BREAKDOWN", plain, 1024, 1, unit="B")[1:])["activations"]
    assert with_norms - without == 36 * 1024 * 2 * (32 + 8) * 128
