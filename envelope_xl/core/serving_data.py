"""Serving defaults from `data/serving.toml`: efficiencies, engine memory, links, scales.

Every default here is overridable by a named argument of the serving functions; the
sources travel with the values so reasoning chains can cite them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from envelope_xl.reference import DATA, Gpu, Precision

_RAW = tomllib.loads((DATA / "serving.toml").read_text(encoding="utf-8"))


def _clean(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Default:
    """A default value and where it comes from."""

    value: float
    source: str


def _efficiency(table: str, precision: Precision) -> Default:
    entry = _RAW["efficiency"][table]
    return Default(float(entry[precision.peak_field]), _clean(entry["source"]))


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
    return _efficiency("compute", precision)


def prefill_mfu(precision: Precision) -> Default:
    """Share of the dense peak that prefill reaches in `precision`."""
    return _efficiency("prefill", precision)


def link_gbs(gpu: Gpu) -> Default:
    """The GPU's intra-node link bandwidth per direction, GB/s."""
    entry = _RAW["links"][gpu.name]
    return Default(float(entry["link_gbs"]), entry["source"])


def scale_bits(precision: Precision) -> Default:
    """Extra bits per quantized weight for the format's scales (0 when negligible)."""
    table = _RAW["weight_scales"]
    if precision.name not in table:
        return Default(0.0, "")
    return Default(float(table[precision.name]), table[f"{precision.name}_source"])


#: GPUs with a link entry: every GPU of gpus.toml must have one (tests check).
LINK_GPUS = tuple(_RAW["links"])
