"""The catalog's functions as `formulas` spreadsheet functions.

Each catalog entry is wrapped, never rewritten: arguments arrive as spreadsheet values
and are handed to `catalog.bind` (an empty cell or an omitted argument takes the
default), the core function computes, and bad input becomes a `#VALUE!` that carries
the core's message. The `..._BREAKDOWN` functions return their table.

Where `formulas` reads text as a number differently from Excel and LibreOffice, that
reading is corrected, and only that: `VALUE` (the library reads "1,234.5" as a date and
"12:00" as today at noon) and the arithmetic operators (which refuse "1,234.5" and
"2024-01-02" that Excel converts). Text that is a number as Excel writes one
(thousands separators, a currency sign, a percent sign, a negative in parentheses) or a
time of day alone is read here; everything else (dates) is still read by the library.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
import schedula as sh
from formulas.functions import Array, text2num, wrap_func, wrap_ufunc
from formulas.functions.text import xvalue
from formulas.tokens.operand import Error, XlError

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
    kind = type(value)
    if kind is float or kind is str:  # what cells hold, first
        return value
    if value is sh.EMPTY or value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return value


def _call(spec: Function, *args: Any) -> Any:
    try:
        result = spec.fn(*catalog.bind(spec, tuple([_plain(a) for a in args])))
    except InputError as exc:
        return error("#VALUE!", f"{spec.name}: {exc}")
    if isinstance(result, float) and result != result:  # NaN
        return error("#NUM!", f"{spec.name}: the result is not a number")
    return result


def _function(spec: Function):
    """One value per argument, as the Excel add-in takes them: a range of several cells is
    refused (not applied element-wise), so a workbook computes the same here and in Excel."""

    def direct(*args: Any) -> Any:
        """The result itself (a value, an error, or the rows of a table); arguments are values or arrays."""
        values = []
        for arg, value in zip(spec.args, args, strict=False):
            if isinstance(value, np.ndarray):
                if value.size != 1:
                    if arg.kind == MODEL:  # a model described by a range of field/value rows
                        rows = value.reshape(value.shape[0] if value.ndim else 1, -1)
                        values.append(tuple(tuple(_plain(c) for c in row) for row in rows))
                        continue
                    reason = (f"{spec.name}: {arg.name}: got a range of {value.size} cells; "
                              "expected a single value or cell")
                    return error("#VALUE!", reason)
                value = value.flat[0]
            values.append(value)
        for value in values:
            if isinstance(value, XlError):
                return value
            if isinstance(value, tuple):  # the cells of a model's range
                found = next((c for row in value for c in row if isinstance(c, XlError)), None)
                if found is not None:
                    return found
        return _call(spec, *values)

    def evaluate(*args: Any) -> Any:
        return as_array(direct(*args))

    evaluate.__name__ = direct.__name__ = spec.name
    wrapped = wrap_func(evaluate)
    wrapped.direct = direct  # what the python engine calls, without the library's wrappers
    return wrapped


def as_array(result: Any) -> Array:
    """A result as `formulas` passes values on: a 2-D object array (a table's rows, or 1x1)."""
    if isinstance(result, list):
        return np.asarray(result, object).view(Array)
    return np.asarray([[result]], object).view(Array)


# A number as Excel's VALUE reads it (en-US): sign or parentheses, currency, thousands
# separators in groups of three, decimals, exponent, percent signs.
_NUMBER = re.compile(r"""
    (?P<open>\()?\s*(?P<sign>[+-])?\s*\$?\s*(?P<sign2>[+-])?\s*
    (?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)(?P<exponent>[eE][+-]?\d+)?
    \s*(?P<percent>%*)\s*(?(open)\)|)
""", re.VERBOSE)
# Text made only of what numbers are made of: if it is not a number, it is an error (never a date).
_NUMBER_LIKE = re.compile(r"[\s(+\-$]*[\d,.\s]*\d[\d,.\s]*(?:[eE][+-]?\d+)?[%)\s]*")
_TIME = re.compile(r"(\d{1,4}):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?\s*([AaPp][Mm])?")


def text_number(text: str) -> float | None:
    """The number a text stands for, as Excel's VALUE reads it; None for text that is not one.

    >>> text_number("1,234.5"), text_number("(5)"), text_number("-$1,000"), text_number("50%")
    (1234.5, -5.0, -1000.0, 0.5)
    >>> text_number("12:30"), text_number("6:00 PM"), text_number("2024-01-02") is None
    (0.5208333333333334, 0.75, True)
    """
    stripped = text.strip()
    m = _NUMBER.fullmatch(stripped)
    if m is not None and not (m.group("sign") and m.group("sign2")) and not (m.group("open") and m.group("sign")):
        value = float(m.group("digits").replace(",", "") + (m.group("exponent") or ""))
        value /= 100 ** len(m.group("percent"))
        return -value if m.group("open") or "-" in (m.group("sign") or "") + (m.group("sign2") or "") else value
    m = _TIME.fullmatch(stripped)
    if m is not None:
        hours, minutes, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3) or 0)
        if m.group(4):
            if not 1 <= hours <= 12:
                raise ValueError(text)
            hours = hours % 12 + (12 if m.group(4).upper() == "PM" else 0)
        if minutes > 59 or seconds >= 60:
            raise ValueError(text)
        return (hours * 3600 + minutes * 60 + seconds) / 86400
    if _NUMBER_LIKE.fullmatch(stripped):
        raise ValueError(text)  # "1,23", "1 234": not a number, and not a date either
    return None


def _value(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, XlError):
        number = text_number(value)
        if number is not None:
            return number
    return xvalue(value)


def _operand(value: Any) -> float:
    """An operand of arithmetic as Excel converts it: numbers, TRUE/FALSE, and text that reads as a number."""
    if isinstance(value, str) and not isinstance(value, XlError):
        number = text_number(value)
        if number is None:
            number = np.asarray(text2num(value)).item()  # a date or a time, or the text itself
        if isinstance(number, str):
            raise ValueError(value)  # #VALUE!, as the library gives for any text
        return float(number)
    return float(value)


def _arithmetic() -> dict[str, Any]:
    """The library's numeric operators, converting text operands as Excel does."""
    from formulas.functions.operators import OPERATORS

    operations = {
        "+": lambda x, y: x + y, "-": lambda x, y: x - y, "U-": lambda x: -x, "*": lambda x, y: x * y,
        "/": lambda x, y: (x / y) if y else Error.errors["#DIV/0!"], "^": lambda x, y: x ** y, "%": lambda x: x / 100.0,
    }
    assert set(operations) <= set(OPERATORS), "the formula library's operators changed"
    return {name: wrap_ufunc(op, input_parser=lambda *a: map(_operand, a)) for name, op in operations.items()}


@functools.cache
def formulas_functions() -> dict[str, Any]:
    """Every catalog function, by upper-case name, ready for `formulas`, and the corrected VALUE."""
    table = {
        spec.name.upper(): _function(spec)
        for spec in (catalog.get(name) for name in catalog.CATALOG)
    }
    table["VALUE"] = wrap_ufunc(_value, input_parser=lambda *a: a)
    return table


def register() -> None:
    """Add the catalog functions to `formulas`' function table, and its corrected readings of
    text as numbers (idempotent)."""
    import formulas
    from formulas.functions.operators import OPERATORS

    formulas.get_functions().update(formulas_functions())
    OPERATORS.update(_operators())


@functools.cache
def _operators() -> dict[str, Any]:
    return _arithmetic()
