"""Every catalog function as an Excel function, through xlwings.

Windows desktop Excel (classic xlwings UDFs): put `envelope_xl.udfs` in xlwings' "UDF
Modules" setting (`envelope-xl excel setup` does it) and click "Import Functions".
Excel on macOS and the web (xlwings Lite): `from envelope_xl.udfs import *` in Lite's
`main.py` (`envelope-xl excel lite` writes it).

This module is generated from the catalog when it is imported: one function per
catalog entry, named exactly as Excel shows it (`TRAIN_MEM`), whose signature is the
catalog's argument list, so xlwings registers the right names, optional arguments,
descriptions and category. The arithmetic stays in the core.

How cell values reach the core:

- an empty cell, or "" from a formula, in an optional argument means its default;
- numbers arrive as floats: a whole-number argument takes 64.0 and refuses 64.5;
- text is matched case-insensitively, surrounding spaces ignored;
- an error cell (#N/A...) arrives as its text and is refused, never read as empty.

Bad input returns one line of text, "#VALUE! " followed by the argument, the value and
what is allowed: classic xlwings cannot return a real error value, and text in a cell
makes every formula that computes with it fail visibly as well.

    >>> TRAIN_MEM(7e9, "bf16", "adam")
    112.0
    >>> KV_CACHE(32.0, 8.0, 128.0, 4096.0, None, " BF16 ")
    0.536870912
    >>> TRAIN_MEM(7e9, "bf16", "adma")  # doctest: +ELLIPSIS
    "#VALUE! optimizer: got 'adma'; expected a known optimizer: ... Did you mean 'adam'?"
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import xlwings as xw

from envelope_xl.catalog import CATALOG, bind, get
from envelope_xl.errors import InputError
from envelope_xl.registry import MODEL, Arg, Function, show_value
from envelope_xl.sources import authors_years

#: The function category in Excel's Insert Function dialog (classic xlwings only).
CATEGORY = "envelope-xl"

#: Start of the cell text that reports bad input.
ERROR_PREFIX = "#VALUE! "

#: Excel's limit for a function's or an argument's description (Application.MacroOptions).
DESCRIPTION_LIMIT = 255

def description(spec: Function) -> str:
    """The function's description in Excel: its summary, then what it returns and who it rests on
    ("Source: Kaplan et al. 2020"), each only when it fits in Excel's limit."""
    summary = _plain(spec.summary)
    result = f" Result: {_plain(spec.returns)}."
    source = f" Source: {authors_years(spec.source)}."
    fitting = (summary + result + source, summary + source, summary + result)
    return next((text for text in fitting if len(text) <= DESCRIPTION_LIMIT), summary)


def arg_description(arg: Arg) -> str:
    """An argument's description in Excel: its meaning and unit, and its default if it has one."""
    text = _plain(arg.doc)
    if not arg.optional:
        return text
    with_default = f"{text} (optional; default {show_value(arg.default)})"
    return with_default if len(with_default) <= DESCRIPTION_LIMIT else text


def _plain(text: str) -> str:
    # The catalog marks argument names with backticks (Markdown); Excel shows text as is.
    return text.replace("`", "")


class _Range:
    """Stands for a multi-cell range in an error message instead of its values."""

    def __init__(self, cells: int) -> None:
        self.cells = cells

    def __repr__(self) -> str:
        return f"a range of {self.cells} cells"


def _from_cell(arg: Arg, value: Any) -> Any:
    """A cell's value as the core takes it: blank text is empty, text is trimmed, ranges refused
    except for a model, which may be a range of field/value rows."""
    if arg.kind == MODEL and isinstance(value, (list, tuple)):
        rows = [row if isinstance(row, (list, tuple)) else [row] for row in value]
        if len(rows) == 1 and len(rows[0]) == 1:
            return _from_cell(arg, rows[0][0])
        return tuple(tuple(row) for row in rows)
    if isinstance(value, (list, tuple)):
        cells = sum(len(row) if isinstance(row, (list, tuple)) else 1 for row in value)
        raise InputError(arg.name, _Range(cells), "expected a single value or cell")
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def make_udf(spec: Function) -> Callable[..., Any]:
    """The Excel function for a catalog entry, decorated for xlwings.

    Its name is the Excel name and its signature the catalog's arguments (with their
    defaults), since xlwings reads both from the Python function. Bad input, and only
    that, becomes "#VALUE! <message>"; any other exception is a bug and propagates.
    """
    names = [a.name for a in spec.args]
    signature = inspect.Signature(
        [
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=a.default if a.optional else inspect.Parameter.empty,
            )
            for name, a in zip(names, spec.args, strict=True)
        ]
    )

    # No annotations on purpose: xlwings reads them as value converters.
    def udf(*args, **kwargs):  # type: ignore[no-untyped-def]
        given = signature.bind(*args, **kwargs).arguments
        try:
            values = tuple(_from_cell(a, given.get(name)) for name, a in zip(names, spec.args, strict=True))
            return spec.fn(*bind(spec, values))
        except InputError as error:
            return ERROR_PREFIX + " ".join(str(error).splitlines())

    udf.__name__ = udf.__qualname__ = spec.name
    udf.__module__ = __name__
    udf.__doc__ = description(spec)
    udf.__signature__ = signature  # type: ignore[attr-defined]
    # err_to_str: an error cell arrives as "#N/A" (and is refused) rather than as None,
    # which would silently mean "use the default".
    for name, a in zip(names, spec.args, strict=True):
        # A model may be a range of rows: ndim=2 keeps a one-row range two-dimensional.
        shape = {"ndim": 2} if a.kind == MODEL else {}
        udf = xw.arg(name, doc=arg_description(a), err_to_str=True, **shape)(udf)
    # Last, because xlwings resets the category to its default whenever `arg` is applied.
    return xw.func(category=CATEGORY)(udf)


def _export_catalog() -> list[str]:
    specs = [get(name) for name in CATALOG]
    for spec in specs:
        globals()[spec.name] = make_udf(spec)
    return [spec.name for spec in specs]


#: The Excel functions, in catalog order; `from envelope_xl.udfs import *` imports exactly these.
__all__ = _export_catalog()
