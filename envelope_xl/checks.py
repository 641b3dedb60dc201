"""Argument validation shared by every core function.

Each check returns the cleaned value or raises InputError; all the wording of bad-input
messages lives here. Spreadsheets pass whole numbers as floats (64.0), so `whole`
accepts an integral float and refuses 64.5 rather than rounding it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from envelope_xl.errors import InputError

T = TypeVar("T")
_INF = math.inf


def _number(arg: str, value: object, allowed: str) -> float:
    # bool is an int subclass: TRUE must not pass as 1.
    if type(value) is float or (type(value) is int):
        return value  # type: ignore[return-value]
    raise InputError(arg, value, f"expected {allowed}")


#: Magnitudes outside [TINY, HUGE] describe no real system, and products of them would
#: overflow to infinity: they are refused rather than returned as inf or nan.
TINY, HUGE = 1e-30, 1e30
#: Whole numbers stay exact in a float up to 2**53; no count we take comes near this.
MAX_WHOLE = 10**15


def _out_of_range(arg: str, value: object, low: str) -> InputError:
    return InputError(arg, value, f"expected a number from {low} to 1e30 (beyond that no estimate is meaningful)")


def positive(arg: str, value: object) -> float:
    """A finite number > 0 (within [1e-30, 1e30])."""
    x = _number(arg, value, "a number > 0")
    if TINY <= x <= HUGE:
        return x
    if 0 < x < _INF:
        raise _out_of_range(arg, value, "1e-30")
    raise InputError(arg, value, "expected a finite number > 0")


def non_negative(arg: str, value: object) -> float:
    """A finite number in [0, 1e30] (never a divisor, so no lower bound above 0)."""
    x = _number(arg, value, "a number >= 0")
    if 0 <= x <= HUGE:
        return x
    if 0 < x < _INF:
        raise _out_of_range(arg, value, "0")
    raise InputError(arg, value, "expected a finite number >= 0")


def at_least_one(arg: str, value: object) -> float:
    """A finite number >= 1 (replication factors)."""
    x = _number(arg, value, "a number >= 1")
    if 1 <= x <= HUGE:
        return x
    if 1 <= x < _INF:
        raise _out_of_range(arg, value, "1")
    raise InputError(arg, value, "expected a finite number >= 1")


def fraction(arg: str, value: object) -> float:
    """A number in (0, 1]: utilisation, MFU."""
    x = _number(arg, value, "a fraction in (0, 1]")
    if TINY <= x <= 1:
        return x
    raise InputError(arg, value, "expected a fraction in (0, 1], e.g. 0.4 for 40%")


def whole(arg: str, value: object, low: int = 1, high: int = MAX_WHOLE) -> int:
    """A whole number in [low, high]; 64.0 is accepted as 64, 64.5 is refused."""
    bounds = f">= {low}" if high == MAX_WHOLE else f"from {low} to {high}"
    x = _number(arg, value, f"a whole number {bounds}")
    if low <= x <= high and x == int(x):
        return int(x)
    if high == MAX_WHOLE and MAX_WHOLE < x < _INF:
        raise InputError(arg, value, f"expected a whole number from {low} to 1e15")
    raise InputError(arg, value, f"expected a whole number {bounds}")


def flag(arg: str, value: object) -> bool:
    """TRUE/FALSE; 1 and 0 are accepted as spreadsheets often store them."""
    if value is True or value is False:
        return value
    if type(value) in (int, float) and value in (0, 1):
        return bool(value)
    raise InputError(arg, value, "expected TRUE or FALSE")


def normalise(name: str) -> str:
    """The key a name is matched by: case, spaces, '_' and '-' do not matter."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


class Names(Generic[T]):
    """Entries looked up by canonical name or alias, case-insensitively.

    A miss raises InputError naming the argument, listing the allowed names and
    suggesting the closest one.
    """

    def __init__(self, kind: str, entries: Mapping[str, T], aliases: Mapping[str, Iterable[str]]):
        self.kind = kind
        self.canonical = list(entries)
        self._by_key: dict[str, T] = {}
        self._name_of: dict[str, str] = {}
        for name, entry in entries.items():
            for key in (name, *aliases.get(name, ())):
                self._by_key[normalise(key)] = entry
                self._name_of[normalise(key)] = name
        # Exact canonical spellings skip normalisation on the hot path.
        self._exact = dict(entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalise(name) in self._by_key

    def __iter__(self):
        return iter(self.canonical)

    def __len__(self) -> int:
        return len(self.canonical)

    def values(self) -> list[T]:
        """The entries, in the order they were given."""
        return list(self._exact.values())

    def get(self, arg: str, name: object) -> T:
        """The entry for `name`; `arg` is the argument name used in errors."""
        entry = self._exact.get(name) if type(name) is str else None  # type: ignore[arg-type]
        if entry is not None:
            return entry
        if type(name) is str:
            entry = self._by_key.get(normalise(name))
            if entry is not None:
                return entry
        raise self.error(arg, name)

    def name(self, name: str) -> str:
        """The canonical spelling of a known name."""
        return self._name_of[normalise(name)]

    def error(self, arg: str, name: object) -> InputError:
        allowed = f"expected a known {self.kind}: {', '.join(self.canonical)}"
        hint = ""
        if isinstance(name, str):
            import difflib  # only when a name is wrong: keeps it off the start-up path

            close = difflib.get_close_matches(normalise(name), list(self._by_key), n=1, cutoff=0.6)
            if close:
                hint = f"Did you mean {self._name_of[close[0]]!r}?"
        return InputError(arg, name, allowed, hint)
