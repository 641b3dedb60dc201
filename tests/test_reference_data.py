"""The data files: every number has a source, names resolve, aliases are unambiguous."""

from __future__ import annotations

import tomllib

import pytest

from envelope_xl.checks import normalise
from envelope_xl.models import PRESETS as MODELS
from envelope_xl.reference import DATA, GPU_FIELDS, GPUS, LINKS, OPTIMIZERS, PRECISIONS

FILES = {name: tomllib.loads((DATA / name).read_text()) for name in
        ("gpus.toml", "precisions.toml", "optimizers.toml", "models.toml", "links.toml", "cluster.toml")}


@pytest.mark.parametrize("file", FILES)
def test_every_entry_cites_a_source(file):
    for name, entry in FILES[file].items():
        assert len(entry.get("source", "")) > 10, f"{file} [{name}] has no source"


@pytest.mark.parametrize("file", FILES)
def test_aliases_are_unambiguous(file):
    seen: dict[str, str] = {}
    for name, entry in FILES[file].items():
        for key in (name, *entry.get("aliases", [])):
            owner = seen.setdefault(normalise(key), name)
            assert owner == name, f"{key!r} names both {owner} and {name}"


def test_the_issue_gpus_and_fields_are_present():
    for gpu in ("A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200", "B200", "L4", "L40S", "T4", "V100",
                "A10G", "MI300X", "TPU-v5e", "TPU-v5p"):
        specs = GPUS.get("gpu", gpu).specs
        assert specs["memory_gb"] > 0 and specs["bandwidth_tbs"] > 0


def test_gpu_fields_are_known_and_positive():
    for name, entry in FILES["gpus.toml"].items():
        numbers = {k: v for k, v in entry.items() if isinstance(v, int | float)}
        assert set(numbers) <= set(GPU_FIELDS), name
        assert all(v > 0 for v in numbers.values()), name


def test_sparse_datasheet_figures_are_halved():
    # NVIDIA's H100 SXM datasheet prints 1,979 TFLOPS bf16 "with sparsity"; dense is half.
    assert GPUS.get("gpu", "H100-SXM").specs["bf16_tflops"] == 1979 / 2
    for name, entry in FILES["gpus.toml"].items():
        said = (entry.get("notes", "") + " " + entry.get("derived", "")).lower()
        assert "dense" in said, f"{name} does not say whether its peaks are dense"


def test_precision_peaks_are_gpu_fields():
    for p in PRECISIONS.values():
        assert p.peak_field in GPU_FIELDS


def test_aliases_from_the_issue():
    assert PRECISIONS.get("p", "bfloat16") is PRECISIONS.get("p", "bf16")
    assert GPUS.get("g", "h100") is GPUS.get("g", "H100-SXM")
    assert OPTIMIZERS.get("o", "AdamW").name == "adamw"
    assert MODELS.get("m", "Llama-2-7B").name == "llama-2-7b"


def test_model_head_dims_are_consistent():
    # Gemma 2 (16 x 256 = 4096 > 3584) and MLA models set head widths apart from hidden / heads.
    wide = {"gemma-2-9b", "deepseek-v3"}
    for m in MODELS.values():
        assert m.heads % m.kv_heads == 0, m.name
        assert (m.head_dim * m.heads == m.hidden) != (m.name in wide), m.name


def test_every_gpu_names_a_known_intra_node_link():
    for gpu in GPUS.values():
        if gpu.name.startswith("TPU"):
            assert gpu.intra_link == ""  # an ICI torus, not nodes: no intra-node link
        else:
            assert LINKS.get("intra_link", gpu.intra_link).name == gpu.intra_link, gpu.name


def test_links_are_positive_and_halve_bidirectional_totals():
    for link in LINKS.values():
        assert link.bandwidth_gbs > 0 and link.latency_us > 0, link.name
    # The H100 SXM datasheet prints NVLink as 900 GB/s, both directions together.
    assert LINKS.get("l", "nvlink4").bandwidth_gbs == 900 / 2
    # PCIe 5.0 x16: 32 GT/s x 16 lanes x 128/130 encoding / 8 bits, one direction.
    assert LINKS.get("l", "pcie5").bandwidth_gbs == pytest.approx(32 * 16 * 128 / 130 / 8, rel=0.001)
    # InfiniBand NDR: 400 Gb/s per port.
    assert LINKS.get("l", "ib-ndr").bandwidth_gbs == 400 / 8
