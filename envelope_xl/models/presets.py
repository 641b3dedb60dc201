"""The model presets: published architectures from `data/models.toml`, one source each."""

from __future__ import annotations

import tomllib

from envelope_xl.checks import Names
from envelope_xl.models.architecture import Architecture
from envelope_xl.reference import DATA


def _presets() -> Names[Architecture]:
    raw = tomllib.loads((DATA / "models.toml").read_text(encoding="utf-8"))
    entries = {}
    for name, entry in raw.items():
        values = {k: v for k, v in entry.items() if k not in ("aliases", "source")}
        entries[name] = Architecture.build(values, name, entry["source"], arg=name)
    return Names("model", entries, {name: entry.get("aliases", []) for name, entry in raw.items()})


PRESETS = _presets()
