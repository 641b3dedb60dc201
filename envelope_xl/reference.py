"""The reference data: precisions, optimizers, GPUs, interconnects and training defaults (model
presets: `envelope_xl.models`).

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
    intra_link: str = ""  # name in links.toml; "" where the chip has no nodes of GPUs (TPUs)
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


#: LINK_SPEC fields, in order, with their units.
LINK_FIELDS = {"bandwidth_gbs": "GB/s", "latency_us": "us"}


@dataclass(frozen=True)
class Link:
    """An interconnect: per-GPU, per-direction bandwidth and NCCL's per-step latency."""

    name: str
    bandwidth_gbs: float
    latency_us: float
    source: str  # a citation of data/bibliography.toml
    notes: str
    derived: str = ""  # the arithmetic from the printed figures (bidirectional totals halved)

    @property
    def bandwidth(self) -> float:
        """Bytes/s one GPU sends (or receives) over the link."""
        return self.bandwidth_gbs * 1e9

    @property
    def latency(self) -> float:
        """Seconds per message step."""
        return self.latency_us * 1e-6


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
        n: Gpu(n, {f: float(e[f]) for f in GPU_FIELDS if f in e}, e["source"], e.get("notes", ""),
               e.get("intra_link", ""), e.get("derived", ""))
        for n, e in raw.items()
    }
    return Names("GPU", entries, _aliases(raw))


@dataclass(frozen=True)
class TrainingDefaults:
    """What a training step holds besides model states and layer activations (data/training.toml)."""

    cuda_context: float  # bytes
    cuda_context_source: str
    allocator_fraction: float
    allocator_source: str
    logit_bytes: float
    loss_source: str
    ddp_bucket: float  # bytes
    ddp_source: str
    zero_bucket_elements: float
    zero_source: str
    zero3_blocks_gathered: int
    zero3_blocks_reduced: int
    zero3_source: str
    cpu_buffer_factor: float
    offload_source: str
    lora_rank: int
    lora_source: str
    adapters_source: str
    quant_constant_bits: dict[str, float]
    quant_sources: dict[str, str]
    quant_skip_source: str


def _training() -> TrainingDefaults:
    raw = _load("training.toml")
    fw, loss, comm, off, lora = raw["framework"], raw["loss"], raw["communication"], raw["offload"], raw["lora"]
    quant = {k: v for k, v in raw["quantized_base"].items() if isinstance(v, dict)}
    return TrainingDefaults(
        cuda_context=fw["cuda_context_gb"] * 1e9,
        cuda_context_source=fw["cuda_context_source"],
        allocator_fraction=fw["allocator_fraction"],
        allocator_source=fw["allocator_source"],
        logit_bytes=float(loss["logit_bytes"]),
        loss_source=loss["source"],
        ddp_bucket=comm["ddp_bucket_mib"] * 2.0**20,
        ddp_source=comm["ddp_source"],
        zero_bucket_elements=float(comm["zero_bucket_elements"]),
        zero_source=comm["zero_source"],
        zero3_blocks_gathered=comm["zero3_blocks_gathered"],
        zero3_blocks_reduced=comm["zero3_blocks_reduced"],
        zero3_source=comm["zero3_source"],
        cpu_buffer_factor=off["cpu_buffer_factor"],
        offload_source=off["source"],
        lora_rank=lora["rank"],
        lora_source=lora["source"],
        adapters_source=lora["adapters_source"],
        quant_constant_bits={k: float(v["constant_bits"]) for k, v in quant.items()},
        quant_sources={k: v["source"] for k, v in quant.items()},
        quant_skip_source=raw["quantized_base"]["skip_source"],
    )


def _links() -> Names[Link]:
    raw = _load("links.toml")
    entries = {
        n: Link(n, float(e["bandwidth_gbs"]), float(e["latency_us"]), e["source"], e.get("notes", ""),
                e.get("derived", ""))
        for n, e in raw.items()
    }
    return Names("link", entries, _aliases(raw))


PRECISIONS = _precisions()
OPTIMIZERS = _optimizers()
GPUS = _gpus()
LINKS = _links()
TRAINING = _training()
GPU_FIELD_NAMES: Names[str] = Names("GPU field", {f: f for f in GPU_FIELDS}, {})
LINK_FIELD_NAMES: Names[str] = Names("link field", {f: f for f in LINK_FIELDS}, {})
#: Defaults for training on clusters, each derived from a published run (data/cluster.toml).
CLUSTER = _load("cluster.toml")
