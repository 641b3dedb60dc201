"""Collectives and the pipeline bubble: NCCL's bus-bandwidth formula, Megatron-LM's bubble, edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envelope_xl import InputError, allgather_time, allreduce_time, pipeline_bubble, reduce_scatter_time
from envelope_xl.catalog import call
from envelope_xl.explain import explain
from envelope_xl.reference import LINKS

sizes = st.floats(1e3, 1e12)
ranks = st.integers(2, 100_000)
links = st.sampled_from(list(LINKS))


@given(sizes, ranks, links)
def test_bus_bandwidth_of_a_ring_is_the_link_bandwidth(size, n, link):
    # NCCL tests, doc/PERFORMANCE.md: algbw = S / t; busbw = algbw x 2(n-1)/n for all-reduce and
    # algbw x (n-1)/n for all-gather and reduce-scatter, "which should be comparable to the
    # hardware peak bandwidth". Without the latency term the ring reaches exactly that peak.
    peak = LINKS.get("l", link).bandwidth_gbs
    for time_ms, factor in (
        (allreduce_time(size, n, link, latency_us=0), 2 * (n - 1) / n),
        (allgather_time(size, n, link, latency_us=0), (n - 1) / n),
        (reduce_scatter_time(size, n, link, latency_us=0), (n - 1) / n),
    ):
        bus_gbs = size / (time_ms / 1e3) * factor / 1e9
        assert bus_gbs == pytest.approx(peak, rel=1e-12)


@given(sizes, ranks, links)
def test_all_reduce_is_a_reduce_scatter_then_an_all_gather(size, n, link):
    # Thakur et al. 2005, section 4.4 (Rabenseifner's algorithm and the ring): the same steps.
    both = reduce_scatter_time(size, n, link) + allgather_time(size, n, link)
    assert allreduce_time(size, n, link) == pytest.approx(both, rel=1e-12)


def test_latency_counts_message_steps():
    # 1 byte over 1,024 GPUs on InfiniBand: 2 x 1023 steps x 14 us, the bandwidth term negligible.
    assert allreduce_time(1, 1024, "ib-ndr", unit="s") == pytest.approx(2 * 1023 * 14e-6, rel=1e-6)
    # A tree needs only 2 log2(n) steps: far faster for small messages...
    assert allreduce_time(1, 1024, "ib-ndr", algorithm="tree", unit="s") == pytest.approx(20 * 14e-6, rel=1e-6)
    # ...and moves as much data as the ring (2 x S / B against 2(n-1)/n x S / B: 0.1% apart).
    ring = allreduce_time(1e10, 1024, "ib-ndr", latency_us=0)
    assert allreduce_time(1e10, 1024, "ib-ndr", latency_us=0, algorithm="tree") == pytest.approx(ring, rel=1e-3)


def test_bandwidth_override_replaces_the_link():
    assert allreduce_time(1e9, 8, "ethernet-100g", bandwidth_gbs=450) == allreduce_time(
        1e9, 8, "ethernet-100g", 450, 14.0
    )
    assert allreduce_time(1e9, 8, "ethernet-100g", bandwidth_gbs=450, latency_us=3.4) == allreduce_time(1e9, 8)


def test_breakdown_separates_bandwidth_and_latency():
    table = call("ALLREDUCE_TIME_BREAKDOWN", 1e9, 8)
    assert table[0] == ["component", "ms"]
    assert [row[0] for row in table[1:]] == ["bandwidth term", "latency term", "total"]
    assert table[1][1] == pytest.approx(2 * 7 / 8 * 1e9 / 450e9 * 1e3, rel=1e-12)


def test_explain_names_the_link_and_its_source():
    text = explain("ALLREDUCE_TIME", 1e9, 8, "roce").text()
    assert "roce-400g: 50 GB/s per GPU each way" in text
    assert "Lee et al. 2024" in text and "bandwidth term = data each GPU sends / link bandwidth" in text


def test_bad_links_and_algorithms_are_named():
    with pytest.raises(InputError, match=r"link: got 'nvlnk4'; expected a known link: .* Did you mean 'nvlink4'"):
        allreduce_time(1e9, 8, "nvlnk4")
    with pytest.raises(InputError, match="algorithm: got 'butterfly'; expected a known collective algorithm"):
        allreduce_time(1e9, 8, algorithm="butterfly")
    with pytest.raises(InputError, match="bandwidth_gbs: got 0; expected a finite number > 0"):
        allgather_time(1e9, 8, bandwidth_gbs=0)


@given(st.integers(1, 512), st.integers(1, 4096), st.integers(1, 16))
def test_bubble_is_megatron_lm_bubble_time_fraction(pp, m, v):
    # Narayanan et al. 2021, sections 2.2.1-2.2.2: bubble time / ideal compute time = (p-1)/m,
    # and (1/v)(p-1)/m with v model chunks per GPU. Our share of the whole step, f, must give
    # back exactly that ratio: f / (1 - f).
    f = pipeline_bubble(pp, m, v)
    assert 0 <= f < 1
    assert f / (1 - f) == pytest.approx((pp - 1) / (v * m), rel=1e-12, abs=1e-15)


def test_bubble_shrinks_with_micro_batches_and_interleaving():
    # Narayanan et al. 2021, section 2.2.1: the bubble is small only when m >> p.
    assert pipeline_bubble(8, 8) == pytest.approx(7 / 15)
    assert pipeline_bubble(8, 64) == pytest.approx(7 / 71)  # under a quarter of the m = p bubble
    assert pipeline_bubble(8, 64, 4) < pipeline_bubble(8, 64)
    assert pipeline_bubble(1, 1) == 0.0  # no pipeline, no bubble
