"""What to change when a training step does not fit a GPU, cheapest first.

The order is how a practitioner reaches for the levers: shard more of the model states
with ZeRO while there are data-parallel GPUs to shard over (communication, no extra
compute); recompute activations (selective first: the attention core, a few percent of
compute; then full: about a third more); a smaller micro-batch with gradient
accumulation for the same global batch (lower arithmetic intensity); then tensor
parallelism within a node (NVLink traffic on every layer). Each lever is tried alone;
when none suffices, they are combined in that order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from envelope_xl.core.peak_memory import Plan, check_layout, largest_micro_batch, peak
from envelope_xl.errors import InputError

#: Tensor parallelism stays within one NVLink domain (8 GPUs per node on DGX/HGX systems).
MAX_TP = 8

#: A lever: the change in words and the changed plan, when it makes the step fit.
Lever = Callable[[Plan, float], "tuple[str, Plan] | None"]


def gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB"


def _valid(plan: Plan) -> Plan | None:
    """The plan if its parallel layout can run (a lever may break a divisibility rule)."""
    try:
        return check_layout(plan)
    except InputError:
        return None


def _zero(plan: Plan, capacity: float) -> tuple[str, Plan] | None:
    if plan.dp == 1:
        return None
    for z in range(plan.zero + 1, 4):
        p = replace(plan, zero=z)
        if peak(p) <= capacity:
            return f"zero_stage {z}", p
    return None


def _recompute(mode: str) -> Lever:
    def lever(plan: Plan, capacity: float) -> tuple[str, Plan] | None:
        order = ("none", "selective", "full")
        if order.index(plan.recompute) >= order.index(mode):
            return None
        p = replace(plan, recompute=mode)
        return (f'recompute "{mode}"', p) if peak(p) <= capacity else None

    return lever


def _micro_batch(plan: Plan, capacity: float) -> tuple[str, Plan] | None:
    n = min(largest_micro_batch(plan, capacity), plan.micro_batch - 1)
    if n < 1:
        return None
    steps = math.ceil(plan.micro_batch / n)
    return f"micro_batch {n} (x{steps} gradient accumulation keeps the batch)", replace(plan, micro_batch=n)


def _tp(plan: Plan, capacity: float) -> tuple[str, Plan] | None:
    t = plan.tp * 2
    while t <= MAX_TP:
        gpus = plan.gpus if plan.gpus % (t * plan.pp) == 0 else plan.dp * t * plan.pp
        p = _valid(replace(plan, tp=t, gpus=gpus, sp=plan.sp or plan.tp == 1))
        if p is not None and peak(p) <= capacity:
            return f"tp {t}", p
        t *= 2
    return None


#: Data-parallel GPUs to try sharding over (powers of two, as clusters are sized).
MAX_DP = 4096


def _more_gpus(plan: Plan, capacity: float) -> tuple[str, Plan] | None:
    """Shard the model states over more data-parallel GPUs with ZeRO-3 (FSDP)."""
    dp = plan.dp * 2
    while dp <= MAX_DP:
        p = replace(plan, zero=3, gpus=dp * plan.tp * plan.pp)
        if peak(p) <= capacity:
            return f"zero_stage 3 over {dp} data-parallel GPUs", p
        dp *= 2
    return None


LEVERS: tuple[Lever, ...] = (_zero, _recompute("selective"), _micro_batch, _recompute("full"), _tp, _more_gpus)


def _strongest(plan: Plan) -> list[tuple[str, Plan]]:
    """Each lever pushed as far as it goes, applied in turn."""
    out = []
    if plan.dp > 1 and plan.zero < 3:
        plan = replace(plan, zero=3)
        out.append(("zero_stage 3", plan))
    if plan.recompute != "full":
        plan = replace(plan, recompute="full")
        out.append(('recompute "full"', plan))
    if plan.micro_batch > 1:
        plan = replace(plan, micro_batch=1)
        out.append(("micro_batch 1", plan))
    t = plan.tp * 2
    while t <= MAX_TP:
        n = plan.gpus if plan.gpus % (t * plan.pp) == 0 else plan.dp * t * plan.pp
        p = _valid(replace(plan, tp=t, gpus=n, sp=True))
        if p is not None:
            plan = p
            out.append((f"tp {t}", plan))
        t *= 2
    return out


def advise(plan: Plan, capacity: float) -> str:
    """One sentence on what would make `plan` fit `capacity` bytes per GPU."""
    options = [_shown(what, p, plan) for lever in LEVERS if (found := lever(plan, capacity)) for what, p in [found]]
    if options:
        return "To fit, change one of: " + "; ".join(options) + "."
    steps = _strongest(plan)
    for i in range(len(steps)):
        if peak(steps[i][1]) <= capacity:
            return f"No single change fits; together: {_shown(_named(steps[: i + 1]), steps[i][1], plan)}."
    last = steps[-1][1] if steps else plan
    more = _more_gpus(last, capacity)
    if more is not None:
        return f"No single change fits; together: {_shown(_named([*steps, more]), more[1], plan)}."
    tried = _named(steps) or "the present settings"
    return (
        f"Even with {tried} a GPU needs {gb(peak(last))}: split the layers over more pipeline stages (pp), "
        'offload the optimizer states (offload "optimizer"), fine-tune with method "lora" or "qlora", '
        "or train on shorter sequences."
    )


def _shown(what: str, changed: Plan, plan: Plan) -> str:
    """A change with its peak, and the GPU count when it changes."""
    on = "" if changed.gpus == plan.gpus else f"{changed.gpus} GPUs, "
    return f"{what} ({on}{gb(peak(changed))})"


def _named(steps: list[tuple[str, Plan]]) -> str:
    """The changes in words, each lever once (the last tp tried stands for the others)."""
    words = [what for i, (what, _) in enumerate(steps)
             if not (what.startswith("tp ") and i + 1 < len(steps) and steps[i + 1][0].startswith("tp "))]
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1] if words else ""
