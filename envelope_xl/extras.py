"""Optional dependencies: which extra a route needs, and the one line that says how to add it.

`pip install envelope-xl` brings only what the core, the catalog, `explain`, the Excel
functions and the CLI's `call`/`explain`/`functions` use. The heavier routes declare their
dependencies as extras in pyproject.toml (`recalc`, `templates`, `libreoffice`, `excel`,
`all`). This module reads them back from the installed package's metadata, so the lists
live in one place, and checks them without importing anything.
"""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "envelope-xl"

#: A Requires-Dist line: the distribution name, any extras it asks for, and its marker.
_REQUIREMENT = re.compile(
    r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?[^;]*(?:;(?P<marker>.*))?"
)
_EXTRA = re.compile(r"""extra\s*==\s*["'](?P<extra>[^"']+)["']""")


class MissingExtraError(Exception):
    """A route's optional dependencies are not installed; the message says how to add them."""


def needed(extra: str) -> list[str]:
    """The distributions `extra` adds, as the installed package declares them ([] if it is not installed).

    An extra made of other extras (`all`) lists theirs.
    """
    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    names: list[str] = []
    for line in lines:
        m = _REQUIREMENT.match(line)
        marker = _EXTRA.search(m.group("marker") or "") if m else None
        if m is None or marker is None or marker.group("extra") != extra:
            continue
        if _normalize(m.group("name")) == DISTRIBUTION:
            for inner in (m.group("extras") or "").split(","):
                names += [n for n in needed(inner.strip()) if n not in names]
        elif m.group("name") not in names:
            names.append(m.group("name"))
    return names


def missing(extra: str) -> list[str]:
    """The distributions of `extra` that are not installed."""
    absent = []
    for name in needed(extra):
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            absent.append(name)
    return absent


def require(extra: str, what: str) -> None:
    """Raise MissingExtraError, naming the install command, unless `extra` is installed.

    `what` names the route for the message, e.g. "envelope-xl recalc".
    """
    absent = missing(extra)
    if absent:
        raise MissingExtraError(
            f"{what} needs {', '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} not installed: "
            f"pip install 'envelope-xl[{extra}]'"
        )


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
