"""Unit conversion and human-readable sizes and counts."""

from __future__ import annotations

from envelope_xl.checks import flag, non_negative
from envelope_xl.registry import register
from envelope_xl.units import BYTE_UNITS

_DECIMAL = (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3))
_BINARY = (("PiB", 2.0**50), ("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10))
_COUNT = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3))


def _three_digits(x: float) -> str:
    """Up to three significant digits, no exponent, no trailing zeros: 112, 1.5, 6.74."""
    return f"{float(f'{x:.3g}'):g}"


def _scaled(x: float, scales: tuple[tuple[str, float], ...], base: str, sep: str) -> str:
    for suffix, size in scales:
        if x >= size * 0.9995:  # 999.6 MB rounds to 1 GB, not "1e+03 MB"
            return f"{_three_digits(x / size)}{sep}{suffix}"
    return f"{_three_digits(x)}{sep}{base}".rstrip()


@register(
    "CONVERT_BYTES",
    example=(112, "GB", "GiB"),
    pillar="Units",
    summary="Convert a size between byte units: B, KB, MB, GB, TB, PB (decimal) and KiB ... PiB (binary).",
    returns="the size in `to_unit`",
    formula="value x bytes per from_unit / bytes per to_unit",
    source="bipm2019 section 3 (SI prefixes); iec80000-13 (binary prefixes)",
    unit_from=lambda a: BYTE_UNITS.name(a["to_unit"]),
)
def convert_bytes(value: float, from_unit: str, to_unit: str) -> float:
    """Convert `value` from one byte unit to another.

    Examples:
        >>> convert_bytes(1, "GiB", "GB")
        1.073741824
    """
    return non_negative("value", value) * BYTE_UNITS.get("from_unit", from_unit) / BYTE_UNITS.get("to_unit", to_unit)


@register(
    "HUMAN_BYTES",
    example=(112e9,),
    pillar="Units",
    summary='A byte count as readable text with three significant digits: "112 GB" (or "104 GiB" with '
    "binary = TRUE).",
    returns="text",
    formula="largest unit the size reaches, three significant digits",
    source="bipm2019 section 3 (SI prefixes); iec80000-13 (binary prefixes)",
)
def human_bytes(bytes: float, binary: bool = False) -> str:
    """Format a byte count.

    Examples:
        >>> human_bytes(112e9), human_bytes(112e9, True), human_bytes(512)
        ('112 GB', '104 GiB', '512 B')
    """
    return _scaled(non_negative("bytes", bytes), _BINARY if flag("binary", binary) else _DECIMAL, "B", " ")


@register(
    "HUMAN_COUNT",
    example=(6738415616,),
    pillar="Units",
    summary='A count as short text with three significant digits: "7B", "6.74B", "124M", "1.5K".',
    returns="text",
    formula="largest of K (1e3), M (1e6), B (1e9), T (1e12) the count reaches",
    source="touvron2023 Table 1 (model sizes written 7B, 13B, 70B: B = 1e9 parameters)",
)
def human_count(n: float) -> str:
    """Format a count.

    Examples:
        >>> human_count(7e9), human_count(6738415616), human_count(124e6), human_count(1500)
        ('7B', '6.74B', '124M', '1.5K')
    """
    return _scaled(non_negative("n", n), _COUNT, "", "")
