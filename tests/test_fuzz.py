"""Any input to any catalog function gives a finite result or an InputError: never a crash,
never inf or nan."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from envelope_xl import InputError
from envelope_xl.catalog import CATALOG, call
from envelope_xl.registry import FLAG, NUMBER, TEXT, WHOLE

SPECS = CATALOG.values()

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e-300, 5e-324, 1e-30, 1e30, 1e308, 1.7e308, 0.5, 64.5]),
    st.integers(-(10**20), 10**20),
)
anything = st.one_of(numbers, st.booleans(), st.none(), st.text(max_size=8))


def argument(arg):
    """Mostly well-typed values (extreme ones included), sometimes anything at all."""
    if arg.kind == TEXT and arg.choices is not None:
        typed = st.sampled_from(list(arg.choices))
    elif arg.kind == FLAG:
        typed = st.booleans()
    elif arg.kind in (NUMBER, WHOLE):
        typed = numbers
    else:
        typed = anything
    return st.one_of(typed, typed, typed, anything)


@st.composite
def calls(draw):
    spec = draw(st.sampled_from(SPECS))
    return spec.name, [draw(argument(a)) for a in spec.args]


def finite(value) -> bool:
    if isinstance(value, list):
        return all(finite(cell) for row in value for cell in row)
    return not isinstance(value, float) or math.isfinite(value)


@settings(max_examples=3000, deadline=None)
@given(calls())
def test_every_input_gives_a_finite_value_or_an_input_error(case):
    name, args = case
    try:
        value = call(name, *args)
    except InputError:
        return
    assert finite(value), (name, args, value)
