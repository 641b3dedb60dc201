"""Bad input: one exception type whose message names the argument, the value and what is allowed."""

from __future__ import annotations

import math

import pytest

from envelope_xl import InputError
from envelope_xl.catalog import call

CASES = [
    (("TRAIN_MEM", -7e9), "params: got -7000000000.0; expected a finite number > 0"),
    (("TRAIN_MEM", 0), "params: got 0; expected a finite number > 0"),
    (("TRAIN_MEM", math.nan), "params: got nan; expected a finite number > 0"),
    (("TRAIN_MEM", math.inf), "params: got inf; expected a finite number > 0"),
    (("TRAIN_MEM", 1e308), "params: got 1e+308; expected a number from 1e-30 to 1e30 (beyond that no estimate is "
     "meaningful)"),
    (("SERVING_GPUS", 100, 500, 1e-300), "tokens_per_sec_per_gpu: got 1e-300; expected a number from 1e-30 to 1e30 "
     "(beyond that no estimate is meaningful)"),
    (("KV_CACHE", 32, 8, 128, 1e20), "seq_len: got 1e+20; expected a whole number from 1 to 1e15"),
    (("TRAIN_MEM", "7e9"), "params: got '7e9'; expected a number > 0"),
    (("TRAIN_MEM", True), "params: got True; expected a number > 0"),
    (("TRAIN_MEM",), "params: got nothing; expected a number > 0"),
    (("TRAIN_MEM", 7e9, "bf16", "adam", 64.5), "gpus: got 64.5; expected a whole number >= 1"),
    (("TRAIN_MEM", 7e9, "bf16", "adam", 0), "gpus: got 0; expected a whole number >= 1"),
    (("TRAIN_MEM", 7e9, "bf16", "adam", 8, 4), "zero_stage: got 4; expected a whole number from 0 to 3"),
    (("TRAIN_MEM", 7e9, "bf16", "adam", 8, -1), "zero_stage: got -1; expected a whole number from 0 to 3"),
    (
        ("TRAIN_MEM", 7e9, "bf16", "adma"),
        "optimizer: got 'adma'; expected a known optimizer: adam, adamw, momentum, sgd, adam8bit, lion, "
        "adagrad, rmsprop. Did you mean 'adam'?",
    ),
    (
        ("TRAIN_MEM", 7e9, "bf61"),
        "precision: got 'bf61'; expected a known precision: fp64, fp32, tf32, fp16, bf16, fp8, int8, int4, "
        "nf4, fp4. Did you mean 'bf16'?",
    ),
    (
        ("TRAIN_MEM", 7e9, "int4"),
        "precision: got 'int4'; expected a floating-point training format (fp32, tf32, bf16, fp16, fp8, fp4); "
        "integer and 4-bit storage formats hold no gradients. For a frozen base stored in it, see TRAIN_PEAK_MEM "
        'with method "qlora".',
    ),
    (
        ("MODEL_MEM", 7e9, "bf16", "GBs"),
        "unit: got 'GBs'; expected a known byte unit: B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB. "
        "Did you mean 'GB'?",
    ),
    (("MODEL_MEM", 7e9, "bf16", "Gb "), None),  # case and spaces do not matter: accepted
    (("MODEL_MEM", 7e9, "bf16", "gigabytes"), None),  # spelled out: accepted
    (
        ("TRAIN_TIME", 7e9, 1e12, 8, "H100-SXM", "bf16", 0.4, "weeks"),
        "unit: got 'weeks'; expected a known time unit: ms, s, min, h, days",
    ),
    (
        ("TRAIN_TIME", 7e9, 1e12, 8, "H100 SMX"),
        "gpu: got 'H100 SMX'; expected a known GPU: A100-40GB, A100-80GB, H100-SXM, H100-PCIe, H200, B200, L4, "
        "L40S, T4, V100, A10G, MI300X, TPU-v5e, TPU-v5p. Did you mean 'H100-SXM'?",
    ),
    (("TRAIN_TIME", 7e9, 1e12, 8, "H100-SXM", "bf16", 1.5), "mfu: got 1.5; expected a fraction in (0, 1], "
     "e.g. 0.4 for 40%"),
    (
        ("TRAIN_TIME", 7e9, 1e12, 8, "A100-80GB", "FP8"),
        "precision: got 'fp8'; A100-80GB publishes no fp8 peak (fp8_tflops); choose another precision",
    ),
    (
        ("GPU_SPEC", "T4", "bf16_tflops"),
        "field: got 'bf16_tflops'; T4 publishes no bf16_tflops figure; it has: memory_gb, bandwidth_tbs, "
        "fp32_tflops, fp16_tflops, int8_tops",
    ),
    (
        ("GPU_SPEC", "H100", "memory"),
        "field: got 'memory'; expected a known GPU field: memory_gb, bandwidth_tbs, fp64_tflops, fp32_tflops, "
        "tf32_tflops, bf16_tflops, fp16_tflops, fp8_tflops, fp4_tflops, int8_tops. Did you mean 'memory_gb'?",
    ),
    (
        ("MODEL_PARAMS", "llama-2-7"),
        "model: got 'llama-2-7'; expected a preset name, the path of a config.json, a range of field/value rows "
        "or a parameter count; presets: gpt2, gpt3-175b, llama-2-7b, llama-2-13b, llama-2-70b, llama-3-8b, "
        "llama-3-70b, llama-3.1-405b, mistral-7b, mixtral-8x7b, llama-3.1-8b, llama-3.1-70b, mixtral-8x22b, "
        "qwen2.5-7b, qwen2.5-72b, qwen3-8b, gemma-2-9b, deepseek-v3. Did you mean 'llama-2-7b'?",
    ),
    (("STORAGE", 1e9, 100, 0.5), "replication: got 0.5; expected a finite number >= 1"),
    (("STORAGE", 1e9, 100, 3, -0.1), "overhead: got -0.1; expected a finite number >= 0"),
    (("CHECKPOINT_SIZE", 7e9, "bf16", "adam", "yes"), "with_optimizer: got 'yes'; expected TRUE or FALSE"),
    (
        ("ACTIVATION_MEM", 32, 4096, 32, 4096, 1, "some"),
        "recompute: got 'some'; expected a known recomputation strategy: none, selective, full",
    ),
    (
        ("TRANSFORMER_PARAMS", 32, 4096, 32000, None, True, 32, 5),
        "kv_heads: got 5; expected a divisor of heads (32) for grouped-query attention",
    ),
    (
        ("TRANSFORMER_PARAMS", 32, 4096, 32000, None, True, 3),
        "head_dim: got nothing; expected a value: hidden (4096) is not a multiple of heads (3)",
    ),
    (
        ("TRANSFORMER_PARAMS", 32, 4096, 32000, None, True, None, 8),
        "heads: got nothing; expected the number of attention heads when kv_heads or head_dim is given",
    ),
    (("SERVING_GPUS", 100, 500, 1000, 0), "target_utilization: got 0; expected a fraction in (0, 1], e.g. 0.4 "
     "for 40%"),
    (("HUMAN_BYTES", -1), "bytes: got -1; expected a finite number >= 0"),
    (("CONVERT_BYTES", -1, "GB", "B"), "value: got -1; expected a finite number >= 0"),
    (
        ("ACTIVATION_MEM", 32, 4096, 32, 4096, 1, "none", 3),
        "tp: got 3; expected a divisor of heads (32): tensor parallelism splits the heads",
    ),
    (("CONVERT_BYTES", 1, "GB", "Gbit"), "to_unit: got 'Gbit'; expected a known byte unit: B, KB, MB, GB, TB, "
     "PB, KiB, MiB, GiB, TiB, PiB. Did you mean 'GB'?"),
    (
        ("TRAIN_MEM", 1, 2, 3, 4, 5, 6, 7),
        "TRAIN_MEM: got '7 arguments'; expected at most 6: TRAIN_MEM(params, [precision=\"bf16\"], "
        "[optimizer=\"adam\"], [gpus=1], [zero_stage=0], [unit=\"GB\"])",
    ),
    (
        ("TRAIN_MEN", 7e9),
        None,  # checked below: suggests TRAIN_MEM
    ),
]


@pytest.mark.parametrize(("call_args", "message"), CASES, ids=[" ".join(map(str, c[0][:3])) for c in CASES])
def test_message(call_args, message):
    if message is None and call_args[0] != "TRAIN_MEN":
        call(*call_args)  # accepted
        return
    with pytest.raises(InputError) as info:
        call(*call_args)
    if message is not None:
        assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_unknown_function_suggests_the_closest():
    with pytest.raises(InputError, match=r"^function: got 'TRAIN_MEN'; .* Did you mean 'TRAIN_MEM'\?$"):
        call("TRAIN_MEN", 7e9)


def test_unknown_named_argument():
    with pytest.raises(InputError, match=r"^TRAIN_MEM: got 'gpu'; expected an argument name of TRAIN_MEM: params"):
        call("TRAIN_MEM", 7e9, gpu=8)


def test_error_carries_its_parts():
    with pytest.raises(InputError) as info:
        call("TRAIN_MEM", 7e9, "bf16", "adam", 64.5)
    assert (info.value.arg, info.value.value) == ("gpus", 64.5)
