"""Units of results: bytes (decimal and binary), time and rates (bits or bytes per second)."""

from __future__ import annotations

from envelope_xl.checks import Names

#: Bytes per unit. Decimal units follow SI (GB = 1e9 bytes), binary ones IEC 80000-13
#: (GiB = 2**30 bytes).
BYTE_UNITS: Names[float] = Names(
    "byte unit",
    {
        "B": 1.0,
        "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
        "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40, "PiB": 2.0**50,
    },
    {
        "B": ["bytes", "byte"],
        "KB": ["kilobytes"], "MB": ["megabytes"], "GB": ["gigabytes"], "TB": ["terabytes"], "PB": ["petabytes"],
        "KiB": ["kibibytes"], "MiB": ["mebibytes"], "GiB": ["gibibytes"], "TiB": ["tebibytes"], "PiB": ["pebibytes"],
    },
)

#: Seconds per unit.
TIME_UNITS: Names[float] = Names(
    "time unit",
    {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "days": 86400.0},
    {
        "ms": ["msec", "millisecond", "milliseconds"],
        "s": ["sec", "secs", "second", "seconds"],
        "min": ["mins", "minute", "minutes"],
        "h": ["hr", "hrs", "hour", "hours"],
        "days": ["d", "day"],
    },
)

#: Bytes per second per unit: bits per second (network links, as vendors quote them) and
#: bytes per second (disks, memory). Names differ by more than case (Gbps, GB/s), since
#: names are matched case-insensitively.
RATE_UNITS: Names[float] = Names(
    "rate unit",
    {
        "bps": 0.125, "Kbps": 125.0, "Mbps": 125e3, "Gbps": 125e6, "Tbps": 125e9,
        "B/s": 1.0, "KB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9, "TB/s": 1e12,
    },
    {
        "bps": ["bit/s", "bits/s"], "Kbps": ["kbit/s"], "Mbps": ["mbit/s"], "Gbps": ["gbit/s"], "Tbps": ["tbit/s"],
        "B/s": ["bytes/s"], "KB/s": ["kbytes/s"], "MB/s": ["mbytes/s"], "GB/s": ["gbytes/s"], "TB/s": ["tbytes/s"],
    },
)

#: The unit table of each kind of result that takes a `unit` argument.
UNIT_TABLES: dict[str, Names[float]] = {"bytes": BYTE_UNITS, "time": TIME_UNITS, "rate": RATE_UNITS}

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
