"""The envelope-xl Calc add-in: the Python UNO component inside the LibreOffice extension.

`extension.py` copies this file into the `.oxt` as its component and ships the core under
`pythonpath/`, so LibreOffice's own Python runs it with nothing else installed. It holds
no list of functions: one method per catalog function is made here from the catalog,
under the camelCase name the generated IDL declares (`TRAIN_MEM` -> `trainMem`).

Calc passes every argument as `any`: a number, a text, None for an omitted optional
argument, or a tuple of rows for a range. `cell_args` turns them into what
`envelope_xl.catalog.bind` expects; bad input raises IllegalArgumentException, which
Calc shows as Err:502 and writes to `.xlsx` as #VALUE!.

Outside LibreOffice (tests, docs) the `uno` modules are missing: the conversions below
still work, only the UNO class is not defined.
"""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.catalog import CATALOG, bind, get
from envelope_xl.errors import InputError
from envelope_xl.registry import MODEL, Function

#: The implementation name Calc files the functions under (also the AddInInfo node of CalcAddIns.xcu).
IMPLEMENTATION_NAME = "org.envelopexl.EnvelopeAddIn"
SERVICE_NAMES = ("com.sun.star.sheet.AddIn",)


def camel(name: str) -> str:
    """A catalog or argument name as a UNO identifier, which may not contain '_'.

    >>> camel("TRAIN_MEM_BREAKDOWN"), camel("zero_stage"), camel("n")
    ('trainMemBreakdown', 'zeroStage', 'n')
    """
    first, *rest = name.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def cell_args(spec: Function, values: tuple[Any, ...]) -> list[Any]:
    """Calc's argument values as the positional list the core function takes.

    A single-cell range counts as its value; a larger range is refused, as the
    functions take one value per argument, except for a model, which may be a range of
    field/value rows.

    >>> cell_args(get("TRAIN_MEM"), (7e9, "bf16", None, ((8.0,),), None, None))
    [7000000000.0, 'bf16', 'adam', 8.0, 0, 'GB']
    """
    plain = []
    for arg, value in zip(spec.args, values, strict=True):
        if isinstance(value, tuple):
            if arg.kind == MODEL and (len(value) != 1 or len(value[0]) != 1):
                plain.append(value)  # a model described by a range of field/value rows
                continue
            if len(value) != 1 or len(value[0]) != 1:
                rows, cols = len(value), len(value[0]) if value else 0
                raise InputError(arg.name, f"a {rows}x{cols} range", "expected a single value or cell")
            value = value[0][0]
        plain.append(value)
    return bind(spec, tuple(plain))


def cell_result(value: Any) -> Any:
    """A core result as Calc takes it: a number, a text, or rows of them for a table.

    >>> cell_result([["component", "GB"], ["weights", 14]])
    (('component', 'GB'), ('weights', 14.0))
    """
    if isinstance(value, list | tuple):
        return tuple(tuple(cell_result(v) for v in row) for row in value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) and math.isfinite(value):
        return float(value)
    raise ValueError(f"result: got {value!r}; expected a finite number or a text")


def evaluate(spec: Function, values: tuple[Any, ...]) -> Any:
    """Call a catalog function with Calc's arguments and return what Calc shows."""
    return cell_result(spec.fn(*cell_args(spec, values)))


try:
    import unohelper
    from com.sun.star.lang import IllegalArgumentException, XServiceInfo
except ImportError:  # not inside LibreOffice
    unohelper = None

if unohelper is not None:
    try:
        from org.envelopexl import XEnvelope

        _INTERFACES: tuple[type, ...] = (XEnvelope, XServiceInfo)
    except ImportError:
        # unopkg imports this module to register it before the extension's type library is
        # live; the interface only matters once Calc instantiates the add-in.
        _INTERFACES = (XServiceInfo,)

    def _position(spec: Function, error: InputError) -> int:
        return next((i for i, a in enumerate(spec.args) if a.name == error.arg), -1)

    def _method(spec: Function):
        def method(self, *values):
            try:
                return evaluate(spec, values)
            except InputError as error:
                raise IllegalArgumentException(f"{spec.name}: {error}", self, _position(spec, error)) from None

        method.__name__ = camel(spec.name)
        return method

    class EnvelopeAddIn(unohelper.Base, *_INTERFACES):
        """The Calc add-in object; one method per catalog function is attached below."""

        def __init__(self, context: Any) -> None:
            self.context = context

        def getImplementationName(self) -> str:
            return IMPLEMENTATION_NAME

        def supportsService(self, name: str) -> bool:
            return name in SERVICE_NAMES

        def getSupportedServiceNames(self) -> tuple[str, ...]:
            return SERVICE_NAMES

    for _name in CATALOG:
        setattr(EnvelopeAddIn, camel(_name), _method(get(_name)))

    g_ImplementationHelper = unohelper.ImplementationHelper()  # noqa: N816  (the name pyuno looks for)
    g_ImplementationHelper.addImplementation(EnvelopeAddIn, IMPLEMENTATION_NAME, SERVICE_NAMES)
