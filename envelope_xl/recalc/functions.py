"""The catalog's functions as `formulas` spreadsheet functions.

Each catalog entry is wrapped, never rewritten: arguments arrive as spreadsheet values
and are handed to `catalog.bind` (an empty cell or an omitted argument takes the
default), the core function computes, and bad input becomes a `#VALUE!` that carries
the core's message. The `..._BREAKDOWN` functions return their table.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import schedula as sh
from formulas.functions import Array, get_error, wrap_func
from formulas.tokens.operand import XlError

from envelope_xl import catalog
from envelope_xl.errors import InputError
from envelope_xl.registry import MODEL, Function


class ReasonedError(XlError):
    """A spreadsheet error value that also says why (for the report)."""

    reason: str = ""


def error(code: str, reason: str) -> ReasonedError:
    """The error value `code` (e.g. "#VALUE!") carrying `reason`."""
    err = ReasonedError(code)
    err.reason = reason
    return err


def _plain(value: Any) -> Any:
    """A spreadsheet value as the core expects it: Python numbers, None for empty."""
    if value is sh.EMPTY or value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return value


def _call(spec: Function, *args: Any) -> Any:
    try:
        result = spec.fn(*catalog.bind(spec, tuple(_plain(a) for a in args)))
    except InputError as exc:
        return error("#VALUE!", f"{spec.name}: {exc}")
    if isinstance(result, float) and result != result:  # NaN
        return error("#NUM!", f"{spec.name}: the result is not a number")
    return result


def _function(spec: Function):
    """One value per argument, as the Excel add-in takes them: a range of several cells is
    refused (not applied element-wise), so a workbook computes the same here and in Excel."""

    def evaluate(*args: Any) -> Any:
        values = []
        for arg, value in zip(spec.args, args, strict=False):
            cells = np.asarray(value, object).ravel()
            if arg.kind == MODEL and cells.size > 1:  # a model described by a range of field/value rows
                rows = np.asarray(value, object)
                values.append(tuple(tuple(_plain(c) for c in row) for row in rows.reshape(rows.shape[0], -1)))
                continue
            if cells.size != 1:
                reason = f"{spec.name}: {arg.name}: got a range of {cells.size} cells; expected a single value or cell"
                return _as_array(error("#VALUE!", reason))
            values.append(cells[0])
        return _as_array(get_error(*values) or _call(spec, *values))

    evaluate.__name__ = spec.name
    return wrap_func(evaluate)


def _as_array(result: Any) -> Array:
    if isinstance(result, list):
        return np.asarray(result, object).view(Array)
    return np.asarray([[result]], object).view(Array)


@functools.cache
def formulas_functions() -> dict[str, Any]:
    """Every catalog function, by upper-case name, ready for `formulas`."""
    return {
        spec.name.upper(): _function(spec)
        for spec in (catalog.get(name) for name in catalog.CATALOG)
    }


def register() -> None:
    """Add the catalog functions to `formulas`' function table (idempotent)."""
    import formulas

    formulas.get_functions().update(formulas_functions())
