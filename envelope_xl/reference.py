"""The reference data: precisions, optimizers and GPUs (model presets: `envelope_xl.models`).

Loaded once from the TOML files in `envelope_xl/data/`, where every number carries its
source: a citation of `data/bibliography.toml` (`envelope_xl.sources` renders it). Lookups
go through `Names`, so they are case-insensitive, accept aliases and suggest the closest
name on a miss.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from envelope_xl.checks import Names
from envelope_xl.errors import InputError


@dataclass(frozen=True)
class Precision:
    name: str
    bytes: float
    peak_field: str
    source: str
    trainable: bool = True


@dataclass(frozen=True)
class Optimizer:
    name: str
    state_bytes: float
    source: str


#: GPU_SPEC fields, in the order they are listed to users, with their units.
GPU_FIELDS = {
    "memory_gb": "GB",
    "bandwidth_tbs": "TB/s",
    "fp64_tflops": "TFLOP/s",
    "fp32_tflops": "TFLOP/s",
    "tf32_tflops": "TFLOP/s",
    "bf16_tflops": "TFLOP/s",
    "fp16_tflops": "TFLOP/s",
    "fp8_tflops": "TFLOP/s",
    "fp4_tflops": "TFLOP/s",
    "int8_tops": "TOP/s",
}


@dataclass(frozen=True)
class Gpu:
    name: str
    specs: dict[str, float]
    source: str  # a citation of data/bibliography.toml
    notes: str
    derived: str = ""  # the arithmetic behind figures not printed as is

    def spec(self, field_name: str, arg: str = "field") -> float:
        """One datasheet figure; an error names the chip when it has no such peak."""
        value = self.specs.get(field_name)
        if value is None:
            have = ", ".join(f for f in GPU_FIELDS if f in self.specs)
            raise InputError(arg, field_name, f"{self.name} publishes no {field_name} figure; it has: {have}")
        return value

    def peak_flops(self, precision: Precision) -> float:
        """Dense peak in FLOP/s (or int ops/s) for matmuls in `precision`."""
        value = self.specs.get(precision.peak_field)
        if value is None:
            raise InputError(
                "precision", precision.name,
                f"{self.name} publishes no {precision.name} peak ({precision.peak_field}); choose another precision",
            )
        return value * 1e12

    @property
    def bandwidth(self) -> float:
        """Memory bandwidth, bytes/s."""
        return self.specs["bandwidth_tbs"] * 1e12

    @property
    def memory(self) -> float:
        """Memory capacity, bytes (decimal GB as printed)."""
        return self.specs["memory_gb"] * 1e9


#: The data files ship inside the package (plain files: importlib.resources would add ~5 ms
#: to every start for nothing).
DATA = Path(__file__).with_name("data")


def _load(name: str) -> dict:
    return tomllib.loads((DATA / name).read_text(encoding="utf-8"))


def _aliases(raw: dict) -> dict[str, list[str]]:
    return {name: entry.get("aliases", []) for name, entry in raw.items()}


def _precisions() -> Names[Precision]:
    raw = _load("precisions.toml")
    entries = {
        n: Precision(n, float(e["bytes"]), e["peak_field"], e["source"], e.get("trainable", True))
        for n, e in raw.items()
    }
    return Names("precision", entries, _aliases(raw))


def _optimizers() -> Names[Optimizer]:
    raw = _load("optimizers.toml")
    entries = {n: Optimizer(n, float(e["state_bytes"]), e["source"]) for n, e in raw.items()}
    return Names("optimizer", entries, _aliases(raw))


def _gpus() -> Names[Gpu]:
    raw = _load("gpus.toml")
    entries = {
        n: Gpu(n, {f: float(e[f]) for f in GPU_FIELDS if f in e}, e["source"], e.get("notes", ""), e.get("derived", ""))
        for n, e in raw.items()
    }
    return Names("GPU", entries, _aliases(raw))


PRECISIONS = _precisions()
OPTIMIZERS = _optimizers()
GPUS = _gpus()
GPU_FIELD_NAMES: Names[str] = Names("GPU field", {f: f for f in GPU_FIELDS}, {})
