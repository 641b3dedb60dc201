"""Feature stores: the bytes of one feature row, and the online and offline stores that hold them.

The online store serves the latest row of every entity at low latency (a key-value store,
replicated, with a per-row index); the offline store keeps the history for training (a row
per entity per update, over a retention window, compressed on object storage).
"""

from __future__ import annotations

from typing import Any

from envelope_xl.checks import at_least_one, non_negative, positive, whole
from envelope_xl.planning import DEFAULTS, default
from envelope_xl.registry import Step, register
from envelope_xl.units import BYTE_UNITS


def _row_steps(features: int, bytes_per_feature: float, key_bytes: float, timestamp_bytes: float
               ) -> tuple[float, float, float]:
    return (
        whole("features", features) * positive("bytes_per_feature", bytes_per_feature),
        non_negative("key_bytes", key_bytes),
        non_negative("timestamp_bytes", timestamp_bytes),
    )


@register(
    "ROW_BYTES",
    example=(200,),
    pillar="Storage",
    summary="Bytes of one feature row: features x bytes per feature, plus the entity key and the event timestamp.",
    returns="bytes per row",
    result_unit="bytes",
    formula="features x bytes_per_feature + key_bytes + timestamp_bytes",
    source=f"{DEFAULTS['bytes_per_feature'].source}; {DEFAULTS['key_bytes'].source}; "
    f"{DEFAULTS['timestamp_bytes'].source}",
    assumptions=(
        "fixed-width values, before compression; strings and lists need their own byte counts",
        DEFAULTS["bytes_per_feature"].assumption(),
        DEFAULTS["key_bytes"].assumption(),
        DEFAULTS["timestamp_bytes"].assumption(),
    ),
    steps=(
        Step("feature values", "features x bytes_per_feature"),
        Step("entity key", "key_bytes"),
        Step("timestamp", "timestamp_bytes"),
    ),
    steps_fn=_row_steps,
    decision=lambda a, size: f"{size:,.0f} bytes a row: {size / 1e3:,.4g} GB per million entities per copy, "
    f"{size:,.0f} GB per billion",
)
def row_bytes(
    features: int,
    bytes_per_feature: float = default("bytes_per_feature"),
    key_bytes: float = default("key_bytes"),
    timestamp_bytes: float = default("timestamp_bytes"),
) -> float:
    """Bytes of one feature row.

    Examples:
        200 features of 8 bytes, a 16-byte key and an 8-byte timestamp:

        >>> row_bytes(200)
        1624.0
    """
    return sum(_row_steps(features, bytes_per_feature, key_bytes, timestamp_bytes))


def _store_steps(
    entities: float, row_bytes: float, retention_days: int, updates_per_day: float, compression: float,
    online_replication: float, offline_replication: float, index_bytes_per_row: float,
) -> tuple[float, float, float, float, float]:
    n = positive("entities", entities)
    row = positive("row_bytes", row_bytes)
    rows = n * row
    index = n * non_negative("index_bytes_per_row", index_bytes_per_row)
    online_copies = (rows + index) * (at_least_one("online_replication", online_replication) - 1)
    history = (n * positive("updates_per_day", updates_per_day) * whole("retention_days", retention_days, 1, 100_000)
               * row / at_least_one("compression", compression))
    offline_copies = history * (at_least_one("offline_replication", offline_replication) - 1)
    return rows, index, online_copies, history, offline_copies


def _store_table(parts: tuple[float, ...], unit: str) -> list[list[Any]]:
    factor = BYTE_UNITS.get("unit", unit)
    online, offline = sum(parts[:3]) / factor, sum(parts[3:]) / factor
    return [["component", BYTE_UNITS.name(unit)], ["online store", online], ["offline store", offline],
            ["total", (sum(parts[:3]) + sum(parts[3:])) / factor]]


def _store_decision(a: dict[str, Any], table: list[list[Any]]) -> str:
    from envelope_xl.core.formatting import human_bytes  # at call time: keeps the catalog's order

    factor = BYTE_UNITS.get("unit", a["unit"])
    online, offline = table[1][1] * factor, table[2][1] * factor
    return (f"serve {human_bytes(online)} from the online store (memory or SSD, {a['online_replication']:g} copies); "
            f"keep {human_bytes(offline)} of history offline, {offline / online:.3g}x the online store")


@register(
    "FEATURE_STORE",
    example=(100e6, 1624),
    pillar="Storage",
    summary="A feature store as a table: the online store (latest row per entity, replicated, with a per-row "
    "index) and the offline store (a row per entity per update over the retention window, compressed), and "
    "their total.",
    returns="table: component | bytes in `unit` (online store, offline store, total)",
    unit_kind="bytes",
    formula="online: entities x (row_bytes + index_bytes_per_row) x online_replication; offline: entities x "
    "updates_per_day x retention_days x row_bytes / compression x offline_replication",
    source=f"{DEFAULTS['index_bytes_per_row'].source}; {DEFAULTS['compression'].source}; "
    f"{DEFAULTS['online_replication'].source}",
    assumptions=(
        "online: only the latest row of each entity; offline: every update kept for retention_days",
        DEFAULTS["index_bytes_per_row"].assumption(),
        DEFAULTS["online_replication"].assumption(),
        DEFAULTS["offline_replication"].assumption(),
        DEFAULTS["compression"].assumption(),
        DEFAULTS["updates_per_day"].assumption(),
        DEFAULTS["retention_days"].assumption(),
    ),
    steps=(
        Step("online: latest rows", "entities x row_bytes"),
        Step("online: index", "entities x index_bytes_per_row"),
        Step("online: replicas", "(latest rows + index) x (online_replication - 1)"),
        Step("offline: history", "entities x updates_per_day x retention_days x row_bytes / compression"),
        Step("offline: replicas", "history x (offline_replication - 1)"),
    ),
    steps_fn=_store_steps,
    decision=_store_decision,
    table=True,
    arg_docs={"compression": "compression ratio of the offline history, >= 1 (default 2.9: zstd level 1)",
              "retention_days": "days of history the offline store keeps"},
)
def feature_store(
    entities: float,
    row_bytes: float,
    retention_days: int = int(default("retention_days")),
    updates_per_day: float = default("updates_per_day"),
    compression: float = default("compression"),
    online_replication: float = default("online_replication"),
    offline_replication: float = default("offline_replication"),
    index_bytes_per_row: float = default("index_bytes_per_row"),
    unit: str = "GB",
) -> list[list[Any]]:
    """Online and offline store sizes, as a table in `unit`.

    Formula: online = entities x (row_bytes + index_bytes_per_row) x online_replication;
    offline = entities x updates_per_day x retention_days x row_bytes / compression x offline_replication.

    Examples:
        100M users with 1,624-byte rows: 3 x 172.4 GB online; 90 daily snapshots at 2.896:1 offline.

        >>> [[name, round(v, 3)] for name, v in feature_store(100e6, 1624)[1:]]
        [['online store', 517.2], ['offline store', 5046.961], ['total', 5564.161]]
    """
    parts = _store_steps(entities, row_bytes, retention_days, updates_per_day, compression, online_replication,
                         offline_replication, index_bytes_per_row)
    return _store_table(parts, unit)
