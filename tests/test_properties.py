"""Invariants that hold for every input (hypothesis)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envelope_xl import convert_bytes, embed_storage, kv_cache, train_mem, train_time
from envelope_xl.catalog import call
from envelope_xl.reference import OPTIMIZERS, PRECISIONS
from envelope_xl.units import BYTE_UNITS

params = st.floats(1e6, 1e13)
trainable = st.sampled_from([p for p in PRECISIONS if PRECISIONS.get("p", p).trainable])
optimizers = st.sampled_from(list(OPTIMIZERS))
units = st.sampled_from(list(BYTE_UNITS))


@given(params, params, trainable, optimizers, st.integers(0, 3))
def test_train_mem_grows_with_size(a, b, precision, optimizer, stage):
    small, large = sorted((a, b))
    assert train_mem(small, precision, optimizer, 8, stage) <= train_mem(large, precision, optimizer, 8, stage)


@given(params, trainable, optimizers, st.integers(1, 4096))
def test_zero3_model_states_scale_as_one_over_gpus(p, precision, optimizer, gpus):
    assert train_mem(p, precision, optimizer, gpus, 3) == pytest.approx(
        train_mem(p, precision, optimizer, 1, 3) / gpus, rel=1e-12
    )


@given(params, trainable, optimizers, st.integers(1, 512))
def test_each_zero_stage_needs_no_more_memory_than_the_one_before(p, precision, optimizer, gpus):
    stages = [train_mem(p, precision, optimizer, gpus, z) for z in range(4)]
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in itertools.pairwise(stages))


@given(st.floats(1e-6, 1e12), units, units)
def test_unit_conversion_round_trips(value, a, b):
    assert convert_bytes(convert_bytes(value, a, b), b, a) == pytest.approx(value, rel=1e-12)


@given(st.floats(1, 1e12), st.integers(1, 8192), units)
def test_units_only_rescale(count, dimension, unit):
    gb = embed_storage(count, dimension)
    assert embed_storage(count, dimension, "fp32", 1, 0, unit) == pytest.approx(gb * 1e9 / BYTE_UNITS.get("u", unit))


@given(st.integers(1, 128), st.integers(1, 64), st.integers(1, 512), st.integers(1, 10**6), st.integers(1, 256))
def test_kv_cache_is_linear_in_tokens_and_batch(layers, kv_heads, head_dim, seq_len, batch):
    one = kv_cache(layers, kv_heads, head_dim, seq_len, batch)
    assert kv_cache(layers, kv_heads, head_dim, 2 * seq_len, batch) == pytest.approx(2 * one, rel=1e-12)
    assert kv_cache(layers, kv_heads, head_dim, seq_len, 2 * batch) == pytest.approx(2 * one, rel=1e-12)


@given(params, st.floats(1e9, 1e14), st.integers(1, 100_000))
def test_training_time_halves_with_twice_the_gpus(p, tokens, gpus):
    assert train_time(p, tokens, 2 * gpus) == pytest.approx(train_time(p, tokens, gpus) / 2, rel=1e-12)


@given(params, st.floats(1e9, 1e14), st.floats(0.1, 1000))
def test_gpus_for_deadline_meets_the_deadline(p, tokens, days):
    gpus = call("GPUS_FOR_DEADLINE", p, tokens, days)
    assert train_time(p, tokens, gpus) <= days * (1 + 1e-9)
    if gpus > 1:
        assert train_time(p, tokens, gpus - 1) > days * (1 - 1e-9)


@given(st.floats(0, 1e21))
def test_human_bytes_reads_back_within_rounding(n):
    number, unit = call("HUMAN_BYTES", n).split(" ")
    back = float(number) * BYTE_UNITS.get("u", unit)
    assert math.isclose(back, n, rel_tol=5e-3, abs_tol=0.5)
