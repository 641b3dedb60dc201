"""Reasoning chains: the assumptions a result rests on, each step that leads to it, and the
decision the result supports.

Built from the catalog entry (its formula, assumptions, steps, decision and source) and the
reference data the call looked up, so an explanation never restates a formula in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envelope_xl import catalog
from envelope_xl.core.formatting import human_bytes
from envelope_xl.models import Architecture, resolve_model
from envelope_xl.reference import (
    GPU_FIELD_NAMES,
    GPU_FIELDS,
    GPUS,
    LINK_FIELD_NAMES,
    LINK_FIELDS,
    LINKS,
    OPTIMIZERS,
    PRECISIONS,
)
from envelope_xl.registry import Function
from envelope_xl.sources import readable, render
from envelope_xl.units import BYTE_UNITS, UNIT_TABLES


@dataclass(frozen=True)
class Line:
    """One step: what it is, the formula in words, its value and unit."""

    label: str
    formula: str
    value: Any  # a number, or words for a step such as which bound applies
    unit: str


@dataclass(frozen=True)
class Explanation:
    function: Function
    inputs: tuple[tuple[str, Any], ...]
    assumptions: tuple[str, ...]
    steps: tuple[Line, ...]
    answer: Any
    unit: str
    decision: str = ""

    def text(self) -> str:
        """The chain as a candidate would state it at a whiteboard."""
        f = self.function
        out = [f"{f.name}: {f.summary}", "", "Inputs:"]
        out += [f"  {name} = {_show(value)}" for name, value in self.inputs]
        out += ["", "Assumptions:"] + [f"  - {a}" for a in self.assumptions]
        out += ["", "Steps:"]
        for i, s in enumerate(self.steps, 1):
            out.append(f"  {i}. {s.label} = {s.formula}")
            out.append(f"     = {_number(s.value)} {s.unit}".rstrip())
        out += ["", f"Answer: {self.answer_text()}"]
        if self.decision:
            out.append(f"Decision: {self.decision}")
        out.append(f"Source: {readable(f.source)}")
        return "\n".join(out)

    def answer_text(self) -> str:
        if self.function.table:
            rows = "; ".join(f"{row[0]} {_number(row[1])}" for row in self.answer[1:])
            return f"{rows} ({self.unit})" if self.unit else rows
        shown = f"{_show(self.answer)} {self.unit}".rstrip()
        if self.function.unit_kind == "bytes":
            human = human_bytes(self.answer * BYTE_UNITS.get("unit", self.unit))
            if human != shown:
                shown += f" (about {human})"
        return shown


def explain(name: str, *args: Any, **kwargs: Any) -> Explanation:
    """Evaluate a catalog function and explain how its result comes about."""
    spec = catalog.get(name)
    values = catalog.bind(spec, args, kwargs)
    answer = spec.fn(*values)
    given = dict(zip((a.name for a in spec.args), values, strict=True))
    unit = spec.unit_for(given)
    return Explanation(
        function=spec,
        inputs=tuple(given.items()),
        assumptions=tuple(render(a) for a in (
            *_data_assumptions(spec, given),
            *spec.assumptions,
            *(spec.assumptions_fn(given) if spec.assumptions_fn is not None else ()),
        )),
        steps=_steps(spec, given, answer, unit),
        answer=answer,
        unit=unit,
        decision=spec.decision(given, answer) if spec.decision is not None else "",
    )


def _steps(spec: Function, given: dict[str, Any], answer: Any, unit: str) -> tuple[Line, ...]:
    if spec.steps_fn is None:
        return (Line(spec.returns, spec.formula, answer, unit),)
    values = spec.steps_fn(**{k: v for k, v in given.items() if k != "unit"})
    factor = 1.0
    if spec.unit_kind:
        factor = UNIT_TABLES[spec.unit_kind].get("unit", given["unit"])
    lines = [
        Line(s.label, s.formula, v / factor, unit) if s.part or s.in_result_unit or s.aside
        else Line(s.label, s.formula, v, s.unit)
        for s, v in zip(spec.steps, values, strict=True) if not s.aside
    ]
    parts = [(s, v) for s, v in zip(spec.steps, values, strict=True) if s.part]
    if parts:  # a chain of intermediate quantities has no total: its answer is the last line
        total = sum(v for _, v in parts) / factor
        lines.append(Line("total", " + ".join(s.label for s, _ in parts), total, unit))
    # Asides (host memory beside GPU memory) come after the total they are not part of.
    lines += [Line(s.label, s.formula, v / factor, unit) for s, v in zip(spec.steps, values, strict=True) if s.aside]
    return tuple(lines)


def _data_assumptions(spec: Function, given: dict[str, Any]) -> list[str]:
    """What the reference data says about the names this call used, with sources."""
    out = []
    precision = PRECISIONS.get("precision", given["precision"]) if "precision" in given else None
    if precision is not None:
        out.append(f"{precision.name} stores {precision.bytes:g} bytes per value ({readable(precision.source)})")
    # A function may take `optimizer` from another catalog (embedding tables): it explains that one itself.
    if "optimizer" in given and next(a for a in spec.args if a.name == "optimizer").choices is OPTIMIZERS:
        o = OPTIMIZERS.get("optimizer", given["optimizer"])
        out.append(f"{o.name} keeps {o.state_bytes:g} bytes of state per parameter ({readable(o.source)})")
    if "gpu" in given and given["gpu"] in GPUS:  # TRAIN_PEAK_MEM's gpu may be "none"
        g = GPUS.get("gpu", given["gpu"])
        if "field" in given:
            field = GPU_FIELD_NAMES.get("field", given["field"])
            if GPU_FIELDS[field] != "GB" and field != "bandwidth_tbs":
                out.append("tensor peaks are dense: figures quoted with 2:4 sparsity are halved")
        peak = ""
        if precision is not None and precision.peak_field in g.specs:
            peak = f", dense {precision.peak_field} {g.specs[precision.peak_field]:g}"
        # One short line: the datasheet's notes stay in data/gpus.toml; the arithmetic behind derived figures shows.
        cited = "; ".join(x for x in (readable(g.source), g.derived and f"derived: {g.derived}") if x)
        out.append(f"{g.name}: {g.specs['memory_gb']:g} GB, {g.specs['bandwidth_tbs']:g} TB/s{peak} ({cited})")
    out += _link_assumptions(given)
    if "model" in given:
        out.append(describe_model(resolve_model("model", given["model"])))
    return out


def _link_assumptions(given: dict[str, Any]) -> list[str]:
    """The links a call uses: named ones, and the GPU's own intra-node link when left automatic."""
    out = []
    if "field" in given and "link" in given:
        field = LINK_FIELD_NAMES.get("field", given["field"])
        out.append(f"{field} is in {LINK_FIELDS[field]}")
    for arg in ("link", "intra_link", "inter_link"):
        if arg not in given:
            continue
        name = given[arg]
        if name is None and arg == "intra_link" and "gpu" in given:
            name = GPUS.get("gpu", given["gpu"]).intra_link or None
        if name is not None:
            link = LINKS.get(arg, name)
            cited = "; ".join(x for x in (readable(link.source), link.derived and f"derived: {link.derived}",
                                          link.notes) if x)
            out.append(
                f"{link.name}: {link.bandwidth_gbs:g} GB/s per GPU each way, {link.latency_us:g} us per message step "
                f"({cited})"
            )
    return out


def describe_model(m: Architecture) -> str:
    """The architecture figures a chain rests on, and where they came from."""
    if m.counted_only:
        return f"model: {_number(m.counted)} parameters (a bare count: dense, no architecture known)"
    attention = (
        f"MLA latent {m.kv_lora_rank} + RoPE {m.qk_rope_head_dim}" if m.is_mla
        else f"{m.heads} heads ({m.kv_heads} KV) of {m.head_dim}"
    )
    moe = ""
    if m.is_moe:
        shared = f" + {m.shared_experts} shared" if m.shared_experts else ""
        moe = f", {m.experts} experts{shared} ({m.experts_per_token} per token) of {m.moe_ffn_hidden}"
    window = f", window {m.sliding_window} on {m.window_layers} layers" if m.window_layers else ""
    return (
        f"{m.name}: {m.layers} layers, hidden {m.hidden}, {attention}, MLP {m.ffn_hidden}"
        f"{' gated' if m.gated_mlp else ''}{moe}, vocab {m.vocab}{window}; {_number(m.total_params)} parameters "
        f"({_number(m.active_params)} active) ({readable(m.origin)})"
    )


def _number(x: Any) -> str:
    """Whole counts with separators (6,738,415,616), huge or tiny values in short
    scientific form (8.4e23), the rest with six significant digits."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if x == int(x) and abs(x) < 1e13:
        return f"{int(x):,}"
    if abs(x) >= 1e7 or abs(x) < 1e-3:
        mantissa, exponent = f"{x:.3e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    return f"{x:,.6g}"


def _show(value: Any) -> str:
    if value is None:  # an automatic default, as the catalog shows it
        return "auto"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return value
    return _number(value)
