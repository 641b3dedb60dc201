"""Choosing the engine `--engine auto|python|libreoffice` names.

The LibreOffice engine lives in `envelope_xl.libreoffice.engine` and is imported only
when asked for, so the pure-Python engine never depends on it.
"""

from __future__ import annotations

from envelope_xl.recalc.engine import Engine
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Limits

ENGINE_NAMES = ("auto", "python", "libreoffice")


class EngineUnavailableError(RuntimeError):
    """The engine asked for cannot run here; the message says what to install."""


def resolve(name: str) -> str:
    """The engine `name` stands for here: "python" or "libreoffice" ("auto": LibreOffice where installed)."""
    if name not in ENGINE_NAMES:
        raise ValueError(f"engine: got {name!r}; expected one of {', '.join(ENGINE_NAMES)}")
    if name == "python":
        return name
    from envelope_xl.libreoffice.engine import unavailable_reason

    reason = unavailable_reason()
    if reason is None:
        return "libreoffice"
    if name == "libreoffice":
        raise EngineUnavailableError(f"the libreoffice engine cannot run: {reason} (or use --engine python)")
    return "python"


def select(name: str, limits: Limits = DEFAULT_LIMITS) -> Engine:
    """The engine called `name`, ready to compute."""
    if resolve(name) == "libreoffice":
        from envelope_xl.libreoffice.engine import LibreOfficeEngine

        return LibreOfficeEngine(timeout=limits.timeout, limits=limits)
    from envelope_xl.recalc.python_engine import PythonEngine

    return PythonEngine(limits)
