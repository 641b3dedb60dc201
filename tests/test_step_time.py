"""TRAIN_STEP_TIME against Megatron-LM's measured step times, and its layout rules."""

from __future__ import annotations

import pytest

from envelope_xl import InputError
from envelope_xl.catalog import call
from envelope_xl.core.cluster import COMPUTE_EFFICIENCY, train_step_time
from envelope_xl.explain import explain


def gpt(heads: int, hidden: int, layers: int) -> list[list[object]]:
    """A Megatron-LM GPT model as a range of field/value rows: 4h MLP, vocabulary 51,200, learned
    positions for 2,048 tokens, tied embeddings, biases (Korthikanti et al. 2022, section 6)."""
    return [["layers", layers], ["hidden", hidden], ["heads", heads], ["vocab", 51200], ["ffn_hidden", 4 * hidden],
            ["gated_mlp", False], ["tied_embeddings", True], ["bias", True], ["max_positions", 2048]]


# Korthikanti et al. 2022, Tables 3 and 5 (A100-80GB, sequence 2048, data parallel 1, tensor parallel 8):
# model, pipeline stages, GPUs, global batch, micro-batch, interleaved chunks, step time with selective
# recomputation (and sequence parallelism) and with full recomputation, in seconds, and the MFU.
MEGATRON = {
    "22B": (gpt(64, 6144, 48), 1, 8, 4, 4, 1, 1.10, 1.42, 0.415),
    "175B": (gpt(96, 12288, 96), 8, 64, 64, 1, 3, 13.75, 18.13, 0.514),
    "530B": (gpt(128, 20480, 105), 35, 280, 280, 1, 3, 37.83, 49.05, 0.560),
    "1T": (gpt(160, 25600, 128), 64, 512, 512, 1, 1, 71.49, 94.42, 0.563),
}


def megatron_step(name: str, recompute: str) -> float:
    model, pp, gpus, batch, micro, chunks, *_ = MEGATRON[name]
    return train_step_time(model, batch * 2048, gpus, "A100-80GB", "bf16", 8, pp, 0, 2048, micro, chunks, recompute)


@pytest.mark.parametrize("name", ["175B", "530B", "1T"])
@pytest.mark.parametrize("recompute", ["selective", "full"])
def test_megatron_lm_step_times(name, recompute):
    # The default compute efficiency (0.62) is fitted to the three selective-recomputation times;
    # the full-recomputation times are not used in the fit. One efficiency for all sizes is the
    # model's main simplification: per model it would be 0.60-0.66 (+-6%), and pipeline sends and
    # the partial overlap of backward all-reduces are not modelled, so we allow 10%.
    measured = MEGATRON[name][6 if recompute == "selective" else 7]
    assert megatron_step(name, recompute) == pytest.approx(measured, rel=0.10)


@pytest.mark.parametrize("name", ["175B", "530B", "1T"])
def test_megatron_lm_mfu(name):
    model, pp, gpus, batch, micro, chunks, _, _, mfu = MEGATRON[name]
    chain = explain("TRAIN_STEP_TIME", model, batch * 2048, gpus, "A100-80GB", "bf16", 8, pp, 0, 2048, micro, chunks)
    ours = next(s.value for s in chain.steps if s.label == "model FLOPs utilisation")
    assert ours == pytest.approx(mfu, rel=0.10)  # the step times' tolerance, as MFU is FLOPs / time


def test_small_models_run_below_the_default_efficiency():
    # The 22B model splits hidden 6144 over 8 GPUs: its matrices are small and ran at about 0.49
    # of peak, not 0.62, so the default is optimistic for it (by about a fifth), as
    # data/cluster.toml says. Passing the lower efficiency brings it back.
    assert 0.75 < megatron_step("22B", "selective") / 1.10 < 0.85
    model, pp, gpus, batch, micro, chunks, measured, *_ = MEGATRON["22B"]
    lower = train_step_time(model, batch * 2048, gpus, "A100-80GB", "bf16", 8, pp, 0, 2048, micro, chunks,
                            compute_efficiency=0.49)
    assert lower == pytest.approx(measured, rel=0.05)


def test_each_component_by_hand():
    # Llama 3 70B (80 layers, hidden 8192, 64 heads of 128; 70,553,706,496 parameters) on 2,048 H100s:
    # tp 8 x pp 4 x 64 replicas, 4,194,304 tokens per step as 1,024 sequences of 4,096: 16 micro-batches.
    params, tokens, s, h, layers = 70_553_706_496, 4_194_304, 4096, 8192, 80
    attention = 4 * layers * h * s  # forward FLOPs per token
    compute = tokens * (6 * params + 4 * attention) / 2048 / (989.5e12 * 0.62)  # + selective recomputation
    tp = 16 * (layers // 4) * 4 * (2 * 7 / 8 * s * h * 2 / 450e9 + 14 * 3.4e-6)  # NVLink 4
    bubble = 3 / 16 * (compute + tp)
    # One GPU per node in each replica group: NDR at 50 GB/s per GPU; bf16 gradients of a quarter/eighth.
    grads = 2 * 63 / 64 * params / 32 * 2 / 50e9 + 2 * 63 * 14e-6
    table = call("TRAIN_STEP_TIME_BREAKDOWN", "llama-3-70b", tokens, 2048, "H100-SXM", "bf16", 8, 4)
    assert [row[0] for row in table] == [
        "component", "compute", "tensor-parallel all-reduces", "pipeline bubble",
        "data-parallel gradient reduction (exposed)", "ZeRO-3 weight gathers (exposed)", "total",
    ]
    for row, expected in zip(table[1:], [compute, tp, bubble, grads, 0.0], strict=False):
        assert row[1] == pytest.approx(expected, rel=1e-12), row[0]
    assert table[-1][1] == pytest.approx(compute + tp + bubble + grads, rel=1e-12)


def test_overlap_zero3_and_shared_nics():
    base = ("llama-3-70b", 4194304, 2048, "H100-SXM", "bf16", 8, 4)
    rows = {r[0]: r[1] for r in call("TRAIN_STEP_TIME_BREAKDOWN", *base)}
    hidden = {r[0]: r[1] for r in call("TRAIN_STEP_TIME_BREAKDOWN", *base, overlap=1.0)}
    assert hidden["data-parallel gradient reduction (exposed)"] == 0.0  # compute is longer: all of it hides
    zero3 = {r[0]: r[1] for r in call("TRAIN_STEP_TIME_BREAKDOWN", *base, 3)}
    # ZeRO-3: one more all-gather, half an all-reduce (Rajbhandari et al. 2020, section 7.2.2: 3 psi vs 2 psi).
    ratio = zero3["ZeRO-3 weight gathers (exposed)"] / zero3["data-parallel gradient reduction (exposed)"]
    assert ratio == pytest.approx(0.5, rel=0.01)
    # tp 4: two GPUs of each replica group share a node, so its ring crosses nodes on two NICs at once.
    tp4 = {r[0]: r[1] for r in call("TRAIN_STEP_TIME_BREAKDOWN", "llama-3-70b", 4194304, 2048, "H100-SXM", "bf16",
                                    4, 8)}
    assert tp4["data-parallel gradient reduction (exposed)"] < rows["data-parallel gradient reduction (exposed)"]


def test_layouts_that_cannot_run_are_refused():
    with pytest.raises(InputError, match=r"^gpus: got 1000; expected a multiple of tp x pp = 32"):
        train_step_time("llama-3-70b", 4194304, 1000, "H100-SXM", "bf16", 8, 4)
    with pytest.raises(InputError, match=r"^pp: got 3; expected pp x virtual_stages \(3 x 1\) to divide the "
                       r"model's 80 layers"):
        train_step_time("llama-3-70b", 4194304, 2040, "H100-SXM", "bf16", 8, 3)
    with pytest.raises(InputError, match=r"^tp: got 3; expected a divisor of the model's 64 attention heads"):
        train_step_time("llama-3-70b", 4194304, 2040, "H100-SXM", "bf16", 3, 4)
    with pytest.raises(InputError, match=r"^global_batch_tokens: got 4000000.0; expected a multiple of seq_len x "
                       r"micro_batch x data-parallel replicas = 4096 x 1 x 64 = 262,144 tokens"):
        train_step_time("llama-3-70b", 4e6, 2048, "H100-SXM", "bf16", 8, 4)
    # 70B on 8 GPUs with plain data parallelism: 70.6e9 x 16 bytes of states on every GPU.
    # 70B on 8 GPUs with plain data parallelism: 16 bytes per parameter everywhere, and 8 GPUs cannot hold
    # 1.13 TB even split 8 ways.
    with pytest.raises(InputError, match=r"^gpus: got 8; the model states alone .* need 1,128.9 GB per GPU; each "
                       r"H100-SXM has 80 GB: no split of 8 GPUs holds them at this ZeRO stage: use more GPUs$"):
        train_step_time("llama-3-70b", 32768, 8, "H100-SXM", "bf16", zero_stage=0)
    # On 64 GPUs with ZeRO-1: 70.55e9 x (2 + 2) + 70.55e9 x 12 / 64 = 295.4 GB. ZeRO-3 shards all 16 bytes
    # (1,128.9 / 64 = 17.6 GB); tp x pp = 8 leaves 8.82e9 x 4 + 8.82e9 x 12 / 8 = 48.5 GB.
    with pytest.raises(InputError, match=r"need 295.4 GB per GPU; each H100-SXM has 80 GB: zero_stage 3 would need "
                       r"17.6 GB; or tp x pp = 8 would need 48.5 GB$"):
        train_step_time("llama-3-70b", 262144, 64, "H100-SXM", "bf16", zero_stage=1)
    with pytest.raises(InputError, match=r"^model: got 70000000000.0; a training step's layout"):
        train_step_time(70e9, 4194304, 2048)
    with pytest.raises(InputError, match=r"^intra_link: got nothing; expected a link name: TPU-v5p has no intra-node"):
        train_step_time("llama-3-8b", 4194304, 64, "TPU-v5p")


def test_explain_shows_layout_links_and_efficiency():
    text = explain("TRAIN_STEP_TIME", "llama-3-70b", 4194304, 2048, "H100-SXM", "bf16", 8, 4).text()
    for expected in ("nvlink4: 450 GB/s", "ib-ndr: 50 GB/s", "64 replicas", "16 micro-batches",
                     "derived from Megatron-LM's measured step times", "model FLOPs utilisation"):
        assert expected in text
    assert COMPUTE_EFFICIENCY == 0.62
