"""The function catalog: every spreadsheet function, by its Excel name.

This is what the surfaces use. `call` evaluates a function the way a spreadsheet
passes arguments: positionally, with `None` (an empty cell) meaning "use the default".
"""

from __future__ import annotations

from typing import Any

import envelope_xl.core  # noqa: F401  (registers the functions)
from envelope_xl.checks import Names
from envelope_xl.errors import InputError
from envelope_xl.registry import FUNCTIONS, Function

#: Every catalog function, in documentation order, looked up case-insensitively.
CATALOG: Names[Function] = Names("function", FUNCTIONS, {})


def get(name: str) -> Function:
    """The catalog entry for an Excel function name (any case)."""
    return CATALOG.get("function", name)


def bind(spec: Function, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> list[Any]:
    """Spreadsheet-style arguments as the full positional list the core function takes.

    Empty optional arguments (None, or blank text as a formula's "" gives) take their
    default; extra arguments and unknown names are refused.
    """
    if len(args) > len(spec.args):
        raise InputError(
            spec.name, f"{len(args)} arguments", f"expected at most {len(spec.args)}: {spec.signature}"
        )
    values = list(args) + [None] * (len(spec.args) - len(args))
    by_name = {a.name: i for i, a in enumerate(spec.args)}
    for key, value in (kwargs or {}).items():
        if key not in by_name:
            allowed = ", ".join(by_name)
            raise InputError(spec.name, key, f"expected an argument name of {spec.name}: {allowed}")
        values[by_name[key]] = value
    for i, arg in enumerate(spec.args):
        if arg.optional and (values[i] is None or (type(values[i]) is str and not values[i].strip())):
            values[i] = arg.default
    return values


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Evaluate a catalog function: `call("TRAIN_MEM", 7e9, "bf16", "adam")` -> 112.0."""
    spec = get(name)
    return spec.fn(*bind(spec, args, kwargs))
