"""Traffic and fleets: peak QPS from daily users, CPU time per request, servers for a load,
network throughput, and shards and replicas for data that outgrows one node.

The classic steps of a system design answer: users to requests per second, requests to
busy cores, cores to servers with headroom and spares.
"""

from __future__ import annotations

import math
from typing import Any

from envelope_xl.checks import at_least_one, fraction, non_negative, positive, whole
from envelope_xl.errors import InputError
from envelope_xl.planning import DEFAULTS, default
from envelope_xl.registry import Step, register
from envelope_xl.units import RATE_UNITS, SECONDS_PER_HOUR

_SRE = (
    "beyer2016 chapter 22, section 'Preventing Server Overload' (plan below full utilisation); beyer2016 "
    "chapter 18 (Auxon: N+2 redundancy per cluster)"
)


def _ceil(x: float) -> int:
    """Round up, forgiving float noise at whole numbers (45.0000000001 servers is 45)."""
    return math.ceil(x * (1 - 1e-12))


# Peak QPS ------------------------------------------------------------------------------------

def _hours(value: object) -> float:
    h = positive("active_hours", value)
    if h > 24:
        raise InputError("active_hours", value, "expected hours of a day in which the requests arrive, at most 24")
    return h


def _peak_steps(
    dau: float, requests_per_user_per_day: float, peak_factor: float, active_hours: float
) -> tuple[float, float, float]:
    per_day = positive("dau", dau) * positive("requests_per_user_per_day", requests_per_user_per_day)
    average = per_day / (_hours(active_hours) * SECONDS_PER_HOUR)
    return per_day, average, average * at_least_one("peak_factor", peak_factor)


def _peak_decision(a: dict[str, Any], peak: float) -> str:
    average = peak / a["peak_factor"]
    return f"size the fleet for {peak:,.0f} requests/s at peak, not the {average:,.0f} average"


@register(
    "PEAK_QPS",
    example=(150e6, 2, 2),
    pillar="Traffic and fleets",
    summary="Peak requests per second from daily active users: requests per day over the active hours, "
    "times a peak-to-average factor.",
    returns="requests/s at peak",
    result_unit="requests/s",
    formula="dau x requests_per_user_per_day / (active_hours x 3600) x peak_factor",
    source=f"{DEFAULTS['peak_factor'].source}; "
    "xu2020 chapter 2 (Twitter: 150M DAU x 2 tweets / 86,400 s = about 3,500 QPS, peak 2x)",
    assumptions=(
        "requests spread evenly over the active hours before the peak factor",
        DEFAULTS["peak_factor"].assumption(),
    ),
    steps=(
        Step("requests per day", "dau x requests_per_user_per_day", part=False, unit="requests/day"),
        Step("average rate", "requests per day / (active_hours x 3600)", part=False, unit="requests/s"),
        Step("peak rate", "average rate x peak_factor", part=False, unit="requests/s"),
    ),
    steps_fn=_peak_steps,
    decision=_peak_decision,
    arg_docs={"peak_factor": "peak over average request rate (>= 1; default 3; 1.72 is the busy hour of "
              "aggregate Internet traffic)"},
)
def peak_qps(
    dau: float,
    requests_per_user_per_day: float,
    peak_factor: float = default("peak_factor"),
    active_hours: float = 24,
) -> float:
    """Peak requests per second.

    Formula: dau * requests_per_user_per_day / (active_hours * 3600) * peak_factor.

    Assumptions: requests spread evenly over the active hours, then scaled by the
    peak-to-average factor (default 3, above the 1.72 busy-hour ratio that Cisco measured
    for aggregate Internet traffic in 2010).

    Source: Xu 2020, "System Design Interview", ch. 2 (the Twitter example).

    Examples:
        Xu's Twitter example: 150M daily users posting 2 tweets a day, peak twice the average.

        >>> round(peak_qps(150e6, 2, 2))
        6944
    """
    return _peak_steps(dau, requests_per_user_per_day, peak_factor, active_hours)[2]


# CPU time per request -------------------------------------------------------------------------

def _core_steps(
    flops_per_request: float, core_gflops: float, efficiency: float
) -> tuple[float, float]:
    achieved = positive("core_gflops", core_gflops) * 1e9 * fraction("efficiency", efficiency)
    return achieved, positive("flops_per_request", flops_per_request) / achieved


def _core_decision(a: dict[str, Any], seconds: float) -> str:
    return f"one core serves {1 / seconds:,.4g} requests/s; pass {seconds:.4g} core-seconds to SERVERS_FOR_QPS"


@register(
    "REQUEST_CORE_SECONDS",
    example=(20e6,),
    pillar="Traffic and fleets",
    summary="CPU time of one request on one server core: the model's FLOPs per request over the core's peak "
    "FLOP/s times an efficiency.",
    returns="core-seconds per request",
    result_unit="core-seconds",
    formula="flops_per_request / (core_gflops x 1e9 x efficiency)",
    source="williams2009 (time = work over the achieved rate); " + DEFAULTS["core_gflops"].source,
    assumptions=(
        "the model's compute dominates: feature fetching, parsing and networking are not counted",
        DEFAULTS["core_gflops"].assumption(),
        DEFAULTS["efficiency"].assumption(),
    ),
    steps=(
        Step("achieved FLOP/s per core", "core_gflops x 1e9 x efficiency", part=False, unit="FLOP/s"),
        Step("time per request", "flops_per_request / achieved FLOP/s", part=False, unit="core-seconds"),
    ),
    steps_fn=_core_steps,
    decision=_core_decision,
)
def request_core_seconds(
    flops_per_request: float,
    core_gflops: float = default("core_gflops"),
    efficiency: float = default("efficiency"),
) -> float:
    """Core-seconds of CPU time per request.

    Formula: flops_per_request / (core_gflops * 1e9 * efficiency).

    Assumptions: compute-bound model work only; the default core is a Xeon Platinum 8480+
    core at base clock (2.0 GHz x 64 fp32 FLOP/cycle = 128 GFLOP/s) at 30% of peak.

    Examples:
        A ranking model of 20 MFLOP per request: 20e6 / (128e9 x 0.3) s.

        >>> round(request_core_seconds(20e6) * 1e3, 4)  # milliseconds of one core
        0.5208
    """
    return _core_steps(flops_per_request, core_gflops, efficiency)[1]


# Servers for a load ---------------------------------------------------------------------------

def _servers_steps(
    qps: float, core_seconds_per_request: float, cores_per_server: int, target_utilization: float, spare: int
) -> tuple[float, float, int, int]:
    busy = positive("qps", qps) * positive("core_seconds_per_request", core_seconds_per_request)
    usable = whole("cores_per_server", cores_per_server) * fraction("target_utilization", target_utilization)
    return busy, usable, _ceil(busy / usable), whole("spare", spare, 0)


def _servers_decision(a: dict[str, Any], servers: int) -> str:
    busy, usable, load, spare = _servers_steps(**a)
    if spare >= load:
        return (f"needs {servers} servers: {load} carry the load and {spare} are spare; redundancy dominates, "
                f"so smaller servers would cost less")
    saved = load - _ceil(busy / 2 / usable)
    return (f"needs {servers} servers: {load} carry the load and {spare} spare; the load dominates: halving the "
            f"core-seconds per request saves {saved}")


@register(
    "SERVERS_FOR_QPS",
    example=(7000, 0.01),
    pillar="Traffic and fleets",
    summary="Whole servers for a request rate on CPUs: busy cores (QPS x core-seconds per request) over the "
    "cores of a server planned at a target utilisation, plus spares for N+k redundancy.",
    returns="servers (whole number)",
    result_unit="servers",
    formula="ceiling(qps x core_seconds_per_request / (cores_per_server x target_utilization)) + spare",
    source="little1961 (busy cores = arrival rate x service time); " + _SRE,
    assumptions=(
        "load is spread evenly over the servers; a request's CPU time does not grow with the load",
        DEFAULTS["cores_per_server"].assumption(),
        DEFAULTS["target_utilization"].assumption(),
        DEFAULTS["spare"].assumption(),
    ),
    steps=(
        Step("busy cores", "qps x core_seconds_per_request", part=False, unit="cores"),
        Step("usable cores per server", "cores_per_server x target_utilization", part=False, unit="cores"),
        Step("servers for the load", "ceiling(busy cores / usable cores per server)", part=False, unit="servers"),
        Step("spare servers", "spare (N+k)", part=False, unit="servers"),
    ),
    steps_fn=_servers_steps,
    decision=_servers_decision,
)
def servers_for_qps(
    qps: float,
    core_seconds_per_request: float,
    cores_per_server: int = int(default("cores_per_server")),
    target_utilization: float = default("target_utilization"),
    spare: int = int(default("spare")),
) -> int:
    """Servers needed, rounded up, plus spares.

    Formula: ceil(qps * core_seconds_per_request / (cores_per_server * target_utilization)) + spare.

    Examples:
        7,000 requests/s of 10 ms of CPU each: 70 busy cores over 32 x 0.7 per server.

        >>> servers_for_qps(7000, 0.01)
        5
    """
    _, _, load, spare_servers = _servers_steps(qps, core_seconds_per_request, cores_per_server, target_utilization,
                                               spare)
    return load + spare_servers


# Network and disk throughput ------------------------------------------------------------------

#: Ethernet line rates, Gbit/s (IEEE 802.3: 1000BASE-T, 10GBASE, 25GBASE, 100GBASE, 400GBASE).
ETHERNET_GBPS = (1, 10, 25, 100, 400)


def _rate_unit(unit: object) -> float:
    """Bytes per second of a rate unit. Names match case-insensitively, but "GBps" or "Gb/s"
    would then mean what they do not say (bits or bytes): a short form in mixed case must
    write b for bits and B for bytes as the canonical names do."""
    factor = RATE_UNITS.get("unit", unit)
    name = RATE_UNITS.name(unit)  # type: ignore[arg-type]
    text = str(unit).strip()
    mixed = text not in (text.lower(), text.upper())
    if mixed and text.lower() == name.lower() and text[-3] != name[-3]:
        raise InputError("unit", unit, f"expected {name} with {name[-3]} ({'bits' if name.endswith('bps') else 'bytes'}"
                         "): write Gbps for gigabits and GB/s for gigabytes per second")
    return factor


def _bandwidth_decision(a: dict[str, Any], value: float) -> str:
    gbps = value * RATE_UNITS.get("unit", a["unit"]) * 8 / 1e9
    cap = default("target_utilization")
    for link in ETHERNET_GBPS:
        if gbps <= link * cap:
            return f"fits one {link} Gbps link at {gbps / link:.0%} load"
    links = _ceil(gbps / (ETHERNET_GBPS[-1] * cap))
    return f"needs {links} x {ETHERNET_GBPS[-1]} Gbps links at up to {cap:.0%} load each"


@register(
    "BANDWIDTH",
    example=(7000, 2000),
    pillar="Traffic and fleets",
    summary="Network or disk throughput of a stream of items: items per second x bytes each, in bits or bytes "
    "per second.",
    returns="throughput, in `unit` (default Gbps)",
    unit_kind="rate",
    formula="rate_per_s x bytes_each (x 8 for bits)",
    source="iec80000-13 (1 byte = 8 bits); bipm2019 section 3 (SI prefixes); ieee802.3ba (100 Gb/s Ethernet); "
    "ieee802.3by (25 Gb/s Ethernet)",
    assumptions=(
        "payload only: protocol headers and retransmissions are not counted",
        "the links of the decision are planned at 70% load, like servers",
    ),
    decision=_bandwidth_decision,
)
def bandwidth(rate_per_s: float, bytes_each: float, unit: str = "Gbps") -> float:
    """Throughput of `rate_per_s` items of `bytes_each` bytes, in `unit`.

    Examples:
        7,000 requests/s of 2 KB: 14 MB/s = 0.112 Gbps.

        >>> round(bandwidth(7000, 2000), 6), bandwidth(7000, 2000, "MB/s")
        (0.112, 14.0)
    """
    per_second = positive("rate_per_s", rate_per_s) * positive("bytes_each", bytes_each)
    return per_second / _rate_unit(unit)


# Shards and replicas --------------------------------------------------------------------------

def _shards_steps(
    total_bytes: float, node_bytes: float, fill: float, replicas: int, qps: float, qps_per_replica: float
) -> tuple[int, int, int, int]:
    shards = _ceil(positive("total_bytes", total_bytes) / (positive("node_bytes", node_bytes) * fraction("fill", fill)))
    copies = whole("replicas", replicas)
    load, per_replica = non_negative("qps", qps), non_negative("qps_per_replica", qps_per_replica)
    if load > 0 and per_replica == 0:
        raise InputError("qps_per_replica", qps_per_replica,
                         "expected the requests/s one replica of a shard serves (> 0) when qps is given")
    for_load = _ceil(load / per_replica) if load > 0 else 0
    used = max(copies, for_load)
    return shards, for_load, used, shards * used


def _shards_decision(a: dict[str, Any], nodes: int) -> str:
    shards, for_load, used, _ = _shards_steps(**a)
    why = " (the query load sets the replicas)" if for_load > a["replicas"] else ""
    return f"{shards} shard{'s' * (shards != 1)} of {used} replica{'s' * (used != 1)}: {nodes} nodes{why}"


@register(
    "SHARDS",
    example=(10e12, 1e12, 0.7, 3, 20000, 5000),
    pillar="Traffic and fleets",
    summary="Nodes for data that outgrows one node: shards to hold it at a fill ratio, times replicas, with more "
    "replicas when the query load needs them.",
    returns="nodes (whole number): shards x replicas",
    result_unit="nodes",
    formula="ceiling(total_bytes / (node_bytes x fill)) x max(replicas, ceiling(qps / qps_per_replica))",
    source=DEFAULTS["replicas"].source + "; dean2013 (every query fans out to all shards, replicas share the load)",
    assumptions=(
        "every query fans out to all shards, so each shard's replicas serve the whole query rate",
        "data spreads evenly over the shards",
        DEFAULTS["fill"].assumption(),
        DEFAULTS["replicas"].assumption(),
    ),
    steps=(
        Step("shards", "ceiling(total_bytes / (node_bytes x fill))", part=False, unit="shards"),
        Step("replicas for the query load", "ceiling(qps / qps_per_replica), 0 without a load", part=False,
             unit="replicas"),
        Step("replicas per shard", "max(replicas, replicas for the query load)", part=False, unit="replicas"),
        Step("nodes", "shards x replicas per shard", part=False, unit="nodes"),
    ),
    steps_fn=_shards_steps,
    decision=_shards_decision,
    arg_docs={"total_bytes": "data to hold, bytes (any size unit works if node_bytes uses the same)",
              "node_bytes": "capacity of one node, in the unit of total_bytes"},
)
def shards(
    total_bytes: float,
    node_bytes: float,
    fill: float = default("fill"),
    replicas: int = int(default("replicas")),
    qps: float = 0,
    qps_per_replica: float = 0,
) -> int:
    """Nodes: shards x replicas.

    Formula: ceil(total / (node * fill)) * max(replicas, ceil(qps / qps_per_replica)).

    Examples:
        10 TB on 1 TB nodes filled to 70%: 15 shards; 20,000 QPS at 5,000 per replica: 4 replicas.

        >>> shards(10e12, 1e12), shards(10e12, 1e12, 0.7, 3, 20000, 5000)
        (45, 60)
    """
    return _shards_steps(total_bytes, node_bytes, fill, replicas, qps, qps_per_replica)[3]
