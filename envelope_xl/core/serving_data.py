"""Serving defaults from `data/serving.toml`: efficiencies, engine memory, links, scales.

Every default here is overridable by a named argument of the serving functions; the
citations travel with the values so reasoning chains can cite them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from envelope_xl.reference import DATA, LINKS, Gpu, Precision
from envelope_xl.sources import brief

_RAW = tomllib.loads((DATA / "serving.toml").read_text(encoding="utf-8"))


def _clean(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Default:
    """A default value and where it comes from (a citation of data/bibliography.toml)."""

    value: float
    source: str

    def cite(self) -> str:
        """Its short citation, for a reasoning chain (read when an explanation is built)."""
        return brief(self.source)


def _efficiencies(table: str) -> dict[str, Default]:
    entry = _RAW["efficiency"][table]
    source = _clean(entry["source"])
    return {field: Default(float(value), source) for field, value in entry.items() if not isinstance(value, str)}


_COMPUTE = _efficiencies("compute")
_PREFILL = _efficiencies("prefill")
_SCALES = {
    name: Default(float(bits), _RAW["weight_scales"][f"{name}_source"])
    for name, bits in _RAW["weight_scales"].items() if not isinstance(bits, str)
}
_NO_SCALES = Default(0.0, "")

BANDWIDTH_EFFICIENCY = Default(float(_RAW["efficiency"]["bandwidth"]), _clean(_RAW["efficiency"]["bandwidth_source"]))
MEMORY_UTILIZATION = Default(float(_RAW["memory"]["utilization"]), _clean(_RAW["memory"]["utilization_source"]))
WORKSPACE_GB = Default(float(_RAW["memory"]["workspace_gb"]), _clean(_RAW["memory"]["workspace_source"]))
ALLREDUCE_US = Default(float(_RAW["allreduce"]["latency_us"]), _clean(_RAW["allreduce"]["latency_source"]))
TPOT_TARGET_S = Default(float(_RAW["plan"]["tpot_target_s"]), _clean(_RAW["plan"]["targets_source"]))
TTFT_TARGET_S = Default(float(_RAW["plan"]["ttft_target_s"]), _clean(_RAW["plan"]["targets_source"]))
#: Bytes per activation value in a tensor-parallel all-reduce.
ACTIVATION_BYTES = float(_RAW["allreduce"]["activation_bytes"])
QUANTIZED_LAYERS_SOURCE = _clean(_RAW["quantized_layers"]["source"])


def compute_efficiency(precision: Precision) -> Default:
    """Share of the dense peak that compute-bound decode steps reach in `precision`."""
    return _COMPUTE[precision.peak_field]


def prefill_mfu(precision: Precision) -> Default:
    """Share of the dense peak that prefill reaches in `precision`."""
    return _PREFILL[precision.peak_field]


def link_gbs(gpu: Gpu) -> Default | None:
    """The GPU's intra-node link bandwidth per direction, GB/s (None for chips without one)."""
    if not gpu.intra_link:
        return None
    link = LINKS.get("intra_link", gpu.intra_link)
    return Default(link.bandwidth_gbs, link.source)


def scale_bits(precision: Precision) -> Default:
    """Extra bits per quantized weight for the format's scales (0 when negligible)."""
    return _SCALES.get(precision.name, _NO_SCALES)

