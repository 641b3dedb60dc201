"""A model described in a spreadsheet: a two-column range of field names and values.

The field names are MODEL_CONFIG's (`layers`, `hidden`, `heads`, ...); blank rows and a
header row ("field", "value") are skipped, and an optional `name` row labels the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from envelope_xl.errors import InputError
from envelope_xl.models.architecture import Architecture
from envelope_xl.models.fields import FIELD_BY_NAME, FIELD_NAMES

_HEADER = ("field", "value")


def from_rows(arg: str, rows: Sequence[Sequence[Any]]) -> Architecture:
    """The architecture a range of (field, value) rows describes."""
    return _cached(arg, tuple(tuple(_blank_to_none(c) for c in row) for row in rows))


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value.upper() in ("TRUE", "FALSE"):
            return value.upper() == "TRUE"
        return value or None
    return value


@lru_cache(maxsize=512)  # a sheet calls many functions on the same few cells
def _cached(arg: str, rows: tuple[tuple[Any, ...], ...]) -> Architecture:
    values: dict[str, Any] = {}
    name = "model from a range"
    for number, row in enumerate(rows, 1):
        if len(row) != 2:
            raise InputError(arg, f"a range {len(row)} cells wide", "expected two columns: field name, value")
        key, value = row
        if key is None and value is None:
            continue
        if not isinstance(key, str):
            raise InputError(f"{arg} row {number}", key, "expected a field name in the first column")
        if (key.lower(), str(value).lower()) == _HEADER:
            continue
        if key.lower() == "name":
            name = str(value)
            continue
        field = FIELD_NAMES.get(f"{arg} row {number}", key)
        if field in values:
            raise InputError(f"{arg} row {number}", key, "expected each field once")
        if value is None:
            continue
        if isinstance(value, float) and FIELD_BY_NAME[field].kind is bool and value in (0.0, 1.0):
            value = bool(value)
        values[field] = value
    if not values:
        raise InputError(arg, "an empty range", "expected rows of field name and value (layers, hidden, heads, ...)")
    return Architecture.build(values, name, f"a range of {len(values)} fields", arg=arg)
