"""How a core function becomes a catalog entry.

`@register` attaches to a plain Python function everything the surfaces need: its
Excel name, what each argument means (with unit and allowed values), what it returns,
the formula in words, the assumptions and the published source. The command line, the
spreadsheet adapters, the templates and the recalculation engines all read this one
description, so a formula exists in exactly one place.

A function registered with `steps` that add up to its result also gets a `..._BREAKDOWN`
twin: the same arguments, returning a table of its components and their total; when its
steps are not parts of a sum (a roofline takes the larger of two times), the twin lists
every step with its value and unit. A `decision` turns the arguments and the result into
the sentence the number supports ("needs 3 shards of 2 replicas"), which ends the
function's reasoning chain.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from envelope_xl.checks import Names
from envelope_xl.sources import Citation, check_form, parse
from envelope_xl.units import UNIT_TABLES

REQUIRED = inspect.Parameter.empty

#: Argument kinds, as an adapter must convert them: a number, a whole number,
#: TRUE/FALSE, a name from a list, or a model (a preset name, a config.json path, a
#: range of field/value rows, or a parameter count: the one kind that takes a range).
NUMBER, WHOLE, FLAG, TEXT, MODEL = "number", "whole", "flag", "text", "model"


@dataclass(frozen=True)
class Arg:
    """One argument as users see it."""

    name: str
    kind: str
    doc: str
    default: Any = REQUIRED
    choices: Names | None = None

    @property
    def optional(self) -> bool:
        return self.default is not REQUIRED


@dataclass(frozen=True)
class Step:
    """One step of a reasoning chain: words, the formula, and whether it adds to the total."""

    label: str
    formula: str
    part: bool = True
    unit: str = ""  # for steps that are not parts (e.g. "FLOP"); parts take the result's unit
    in_result_unit: bool = False  # a step that is not a part but is shown in the result's unit (bytes, time)
    aside: bool = False  # not a part, in the result's unit, listed after the total (e.g. host memory)


@dataclass(frozen=True)
class Function:
    """A catalog entry: one spreadsheet function."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Arg, ...]
    summary: str
    returns: str
    formula: str
    source: str
    assumptions: tuple[str, ...] = ()
    unit_kind: str = ""  # "bytes" or "time" when the function takes a `unit` argument
    result_unit: str = ""  # fixed unit of the result when there is no `unit` argument
    steps: tuple[Step, ...] = ()
    steps_fn: Callable[..., tuple[Any, ...]] | None = None
    table: bool = False  # returns a 2-D table (spills in Excel)
    pillar: str = ""
    example: tuple[Any, ...] = ()  # arguments of a typical call, for docs, tests and benchmarks
    #: The sentence the result supports, from the call's arguments (by name) and the result; "" for none.
    decision: Callable[[dict[str, Any], Any], str] | None = None
    #: The result's unit when it depends on the arguments (GPU_SPEC: the field's unit).
    unit_from: Callable[[dict[str, Any]], str] | None = None
    #: Assumptions that depend on the arguments (e.g. the figures of the tokenizer chosen).
    assumptions_fn: Callable[[dict[str, Any]], Sequence[str]] | None = None

    @property
    def citations(self) -> tuple[Citation, ...]:
        """The works `source` cites (CitationError while it is still free text)."""
        return parse(self.source)

    @property
    def signature(self) -> str:
        shown = [a.name if not a.optional else f"[{a.name}={show_value(a.default)}]" for a in self.args]
        return f"{self.name}({', '.join(shown)})"

    def unit_of(self, unit: str | None) -> str:
        """The unit a result is expressed in, given the call's `unit` argument."""
        if self.unit_kind:
            return UNIT_TABLES[self.unit_kind].name(unit or self.default_of("unit"))
        return self.result_unit

    def unit_for(self, given: dict[str, Any]) -> str:
        """The unit of the result of a call with these (bound, validated) arguments."""
        if self.unit_from is not None:
            return self.unit_from(given)
        return self.unit_of(given.get("unit"))

    def default_of(self, arg: str) -> Any:
        return next(a.default for a in self.args if a.name == arg)


def show_value(value: Any) -> str:
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


#: Every registered function, in registration order (which is the order of the docs).
FUNCTIONS: dict[str, Function] = {}

#: What each argument name means across the catalog. A function may override a doc.
ARG_DOCS: dict[str, tuple[str, str]] = {}
ARG_CHOICES: dict[str, Names] = {}


def describe_args(kind: str, docs: dict[str, str], choices: Names | None = None) -> None:
    """Declare shared argument meanings: `docs` maps argument names to descriptions."""
    for name, doc in docs.items():
        ARG_DOCS[name] = (kind, doc)
        if choices is not None:
            ARG_CHOICES[name] = choices


def register(
    name: str,
    *,
    summary: str,
    returns: str,
    formula: str,
    source: str,
    pillar: str,
    assumptions: Sequence[str] = (),
    unit_kind: str = "",
    result_unit: str = "",
    steps: Sequence[Step] = (),
    steps_fn: Callable[..., tuple[Any, ...]] | None = None,
    arg_docs: dict[str, str] | None = None,
    arg_choices: dict[str, Names] | None = None,
    example: Sequence[Any] = (),
    decision: Callable[[dict[str, Any], Any], str] | None = None,
    unit_from: Callable[[dict[str, Any]], str] | None = None,
    assumptions_fn: Callable[[dict[str, Any]], Sequence[str]] | None = None,
    table: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the decorated function to the catalog under its Excel `name`.

    `source` cites works of `data/bibliography.toml` ("korthikanti2022 section 4.1, Table 2;
    rajbhandari2020 section 3.1"; the form is in `envelope_xl.sources`). A citation that breaks
    the form stops the import; free text is still accepted and listed by the bibliography tests.

    `decision(args, result)` gets the call's arguments by name and its result, and returns
    the sentence the number supports (or "" when there is none). `steps_fn` takes the
    function's arguments (without `unit`) and returns one value per step;
    `assumptions_fn(args)` returns the assumptions that depend on the arguments (defaults
    used, with their sources). `table` marks a function that returns a table itself.
    """
    check_form(source)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        args = []
        for p in inspect.signature(fn).parameters.values():
            kind, doc = ARG_DOCS[p.name]
            choices = (arg_choices or {}).get(p.name, ARG_CHOICES.get(p.name))
            if p.name == "unit":
                choices = UNIT_TABLES[unit_kind]
                doc = _UNIT_DOCS[unit_kind]
            doc = (arg_docs or {}).get(p.name, doc)
            args.append(Arg(p.name, kind, doc, p.default, choices))
        spec = Function(
            name, fn, tuple(args), summary, returns, formula, source, tuple(assumptions),
            unit_kind, result_unit, tuple(steps), steps_fn, table, pillar, tuple(example),
            decision=decision, unit_from=unit_from, assumptions_fn=assumptions_fn,
        )
        _add(spec)
        if steps_fn is not None and not table:
            if not any(s.part for s in steps):
                _add(_steps_table_of(spec))
            elif unit_kind:
                _add(_breakdown_of(spec))
        return fn

    return decorate


_UNIT_DOCS = {
    "bytes": "unit of the result: B, KB, MB, GB, TB, PB (decimal) or KiB, MiB, GiB, TiB, PiB (binary)",
    "time": "unit of the result: ms, s, min, h or days",
    "rate": "unit of the result: bps, Kbps, Mbps, Gbps, Tbps (bits per second) or B/s, KB/s, MB/s, GB/s, TB/s",
}


def _add(spec: Function) -> None:
    if spec.name in FUNCTIONS:
        raise RuntimeError(f"{spec.name} is registered twice")
    FUNCTIONS[spec.name] = spec


def _breakdown_of(spec: Function) -> Function:
    """The `..._BREAKDOWN` twin of a function with steps: same arguments, a table out."""
    assert spec.steps_fn is not None
    steps_fn = spec.steps_fn
    sig = inspect.signature(spec.fn)
    parts = [i for i, s in enumerate(spec.steps) if s.part]
    labels = [spec.steps[i].label for i in parts]
    asides = [i for i, s in enumerate(spec.steps) if s.aside]
    table_of = UNIT_TABLES[spec.unit_kind]

    def breakdown(*args: Any, **kwargs: Any) -> list[list[Any]]:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        unit = values.pop("unit")
        factor = table_of.get("unit", unit)
        steps = steps_fn(**values)
        rows: list[list[Any]] = [["component", table_of.name(unit)]]
        total = 0.0
        for label, i in zip(labels, parts, strict=True):
            rows.append([label, steps[i] / factor])
            total += steps[i]
        rows.append(["total", total / factor])
        rows += [[spec.steps[i].label, steps[i] / factor] for i in asides]
        return rows

    summary = f"Components of {spec.name} as a table (header, one row per component, total); spills in Excel."
    returns = (f"table: component | value in `unit` ({', '.join(labels)}, total"
               + "".join(f"; then {spec.steps[i].label}, not in the total" for i in asides) + ")")
    doc = f"Table of the components of {spec.name}: a header row, one row per component, and the total."
    return _twin(spec, breakdown, summary, returns, doc)


def _steps_table_of(spec: Function) -> Function:
    """The `..._BREAKDOWN` twin of a function whose steps do not add up: every step as a
    row of label, value and unit (the same steps `explain` shows)."""
    assert spec.steps_fn is not None
    steps_fn = spec.steps_fn
    sig = inspect.signature(spec.fn)

    def breakdown(*args: Any, **kwargs: Any) -> list[list[Any]]:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        unit = values.pop("unit", None)
        factor = UNIT_TABLES[spec.unit_kind].get("unit", unit) if spec.unit_kind else 1.0
        rows: list[list[Any]] = [["step", "value", "unit"]]
        for step, value in zip(spec.steps, steps_fn(**values), strict=True):
            in_result = step.part or step.in_result_unit
            rows.append([step.label, value / factor if in_result else value,
                         spec.unit_of(unit) if in_result else step.unit])
        return rows

    summary = f"The steps of {spec.name} as a table (header, then step | value | unit); spills in Excel."
    returns = "table: step | value | unit (" + ", ".join(s.label for s in spec.steps) + ")"
    doc = f"Table of the steps of {spec.name}: a header row, then one row per step (label, value, unit)."
    return _twin(spec, breakdown, summary, returns, doc)


def _twin(spec: Function, table_fn: Callable[..., list[list[Any]]], summary: str, returns: str, doc: str) -> Function:
    """The `..._BREAKDOWN` catalog entry around `table_fn`: the arguments, formula, source and
    assumptions of `spec`, a table for a result, and no decision or computed unit of its own."""
    table_fn.__name__ = table_fn.__qualname__ = spec.fn.__name__ + "_breakdown"
    table_fn.__module__ = spec.fn.__module__
    table_fn.__signature__ = inspect.signature(spec.fn).replace(return_annotation=list)  # type: ignore[attr-defined]
    table_fn.__doc__ = f"{doc}\n\nTakes the same arguments as `{spec.fn.__name__}`."
    return replace(spec, name=spec.name + "_BREAKDOWN", fn=table_fn, summary=summary, returns=returns, table=True,
                   decision=None, unit_from=None)
