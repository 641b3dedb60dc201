"""How a core function becomes a catalog entry.

`@register` attaches to a plain Python function everything the surfaces need: its
Excel name, what each argument means (with unit and allowed values), what it returns,
the formula in words, the assumptions and the published source. The command line, the
spreadsheet adapters, the templates and the recalculation engines all read this one
description, so a formula exists in exactly one place.

A function registered with `steps` also gets a `..._BREAKDOWN` twin: the same
arguments, returning a table of its components and their total.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from envelope_xl.checks import Names
from envelope_xl.sources import Citation, check_form, parse
from envelope_xl.units import BYTE_UNITS, TIME_UNITS

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
    steps_fn: Callable[..., tuple[float, ...]] | None = None
    table: bool = False  # returns a 2-D table (spills in Excel)
    pillar: str = ""
    example: tuple[Any, ...] = ()  # arguments of a typical call, for docs, tests and benchmarks

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
        if self.unit_kind == "bytes":
            return BYTE_UNITS.name(unit or "GB")
        if self.unit_kind == "time":
            return TIME_UNITS.name(unit or self.default_of("unit"))
        return self.result_unit

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
    steps_fn: Callable[..., tuple[float, ...]] | None = None,
    arg_docs: dict[str, str] | None = None,
    arg_choices: dict[str, Names] | None = None,
    example: Sequence[Any] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the decorated function to the catalog under its Excel `name`.

    `source` cites works of `data/bibliography.toml` ("korthikanti2022 section 4.1, Table 2;
    rajbhandari2020 section 3.1"; the form is in `envelope_xl.sources`). A citation that breaks
    the form stops the import; free text is still accepted and listed by the bibliography tests.
    """
    check_form(source)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        args = []
        for p in inspect.signature(fn).parameters.values():
            kind, doc = ARG_DOCS[p.name]
            choices = (arg_choices or {}).get(p.name, ARG_CHOICES.get(p.name))
            if p.name == "unit":
                choices = BYTE_UNITS if unit_kind == "bytes" else TIME_UNITS
                doc = _UNIT_DOCS[unit_kind]
            doc = (arg_docs or {}).get(p.name, doc)
            args.append(Arg(p.name, kind, doc, p.default, choices))
        spec = Function(
            name, fn, tuple(args), summary, returns, formula, source, tuple(assumptions),
            unit_kind, result_unit, tuple(steps), steps_fn, False, pillar, tuple(example),
        )
        _add(spec)
        if steps_fn is not None and unit_kind:
            _add(_breakdown_of(spec))
        return fn

    return decorate


_UNIT_DOCS = {
    "bytes": "unit of the result: B, KB, MB, GB, TB, PB (decimal) or KiB, MiB, GiB, TiB, PiB (binary)",
    "time": "unit of the result: s, min, h or days",
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
    table_of = BYTE_UNITS if spec.unit_kind == "bytes" else TIME_UNITS

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
        return rows

    breakdown.__name__ = spec.fn.__name__ + "_breakdown"
    breakdown.__qualname__ = breakdown.__name__
    breakdown.__module__ = spec.fn.__module__
    breakdown.__signature__ = sig.replace(return_annotation=list)  # type: ignore[attr-defined]
    breakdown.__doc__ = (
        f"Table of the components of {spec.name}: a header row, one row per component, and the total.\n\n"
        f"Takes the same arguments as `{spec.fn.__name__}`."
    )
    return Function(
        name=spec.name + "_BREAKDOWN",
        fn=breakdown,
        args=spec.args,
        summary=f"Components of {spec.name} as a table (header, one row per component, total); spills in Excel.",
        returns=f"table: component | value in `unit` ({', '.join(labels)}, total)",
        formula=spec.formula,
        source=spec.source,
        assumptions=spec.assumptions,
        unit_kind=spec.unit_kind,
        steps=spec.steps,
        steps_fn=spec.steps_fn,
        table=True,
        pillar=spec.pillar,
        example=spec.example,
    )
