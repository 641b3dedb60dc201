"""Merging envelope-xl's settings into an xlwings configuration file.

The xlwings add-in reads `%USERPROFILE%\\.xlwings\\xlwings.conf`: one setting a line,
written by VBA's `Write #` as `"KEY","VALUE"` and matched case-insensitively. We change
only the two settings the functions need and keep every other line byte for byte:

- "UDF MODULES": envelope_xl.udfs is appended to the modules already listed (`;`-separated);
- "INTERPRETER_WIN": the Python that has envelope-xl, when neither it nor conda settings
  choose one. A different interpreter is a conflict, replaced only when the user forces it.
"""

from __future__ import annotations

import csv
import locale
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

UDF_MODULES = "UDF MODULES"
INTERPRETER = "INTERPRETER_WIN"
CONDA_KEYS = ("CONDA PATH", "CONDA ENV")


@dataclass
class Plan:
    """What merging would do to a configuration file."""

    lines: list[str]  # the new file, line by line (with line endings)
    changes: list[str] = field(default_factory=list)  # "KEY: old -> new", for the user
    conflicts: list[str] = field(default_factory=list)  # settings left alone, and why

    @property
    def text(self) -> str:
        return "".join(self.lines)


def _key_value(line: str) -> tuple[str, str] | None:
    """The (key, value) of a setting line, or None for anything else (kept as is)."""
    fields = next(csv.reader([line.strip()]), [])
    if len(fields) != 2:
        return None
    return fields[0].strip(), fields[1].strip()


def _setting(key: str, value: str, newline: str) -> str:
    return f'"{key}","{value}"{newline}'


def plan(existing: str, module: str, interpreter: str, force: bool = False, newline: str = "\r\n") -> Plan:
    """The merged configuration, given the current file's text ("" when there is none).

    Line endings follow the existing file; a new file gets `newline` (VBA writes CRLF).

    >>> p = plan('"UDF MODULES","my_udfs"\\n', "envelope_xl.udfs", r"C:\\py\\python.exe")
    >>> print(p.text, end="")
    "UDF MODULES","my_udfs;envelope_xl.udfs"
    "INTERPRETER_WIN","C:\\py\\python.exe"
    """
    if any(c in value for value in (module, interpreter) for c in '"\r\n'):
        raise ValueError('settings cannot contain quotes or line breaks: xlwings reads them with VBA "Input #"')
    lines = existing.splitlines(keepends=True)
    if lines:
        newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    result = Plan(lines)
    # Setting -> (line number, key as spelled there, value); VBA reads the first match.
    settings: dict[str, tuple[int, str, str]] = {}
    for i, line in enumerate(lines):
        if kv := _key_value(line):
            settings.setdefault(kv[0].upper(), (i, *kv))

    if UDF_MODULES in settings:
        i, key, current = settings[UDF_MODULES]
        listed = [m.strip() for m in current.split(";") if m.strip()]
        if module not in listed:
            merged = current.rstrip("; ") + ";" + module if listed else module
            lines[i] = _setting(key, merged, newline)
            result.changes.append(f"{UDF_MODULES}: {current} -> {merged}")
    else:
        lines.append(_setting(UDF_MODULES, module, newline))
        result.changes.append(f"{UDF_MODULES}: (not set) -> {module}")

    if INTERPRETER in settings:
        i, key, current = settings[INTERPRETER]
        if current.lower() != interpreter.lower():  # Windows paths ignore case
            if force:
                lines[i] = _setting(key, interpreter, newline)
                result.changes.append(f"{INTERPRETER}: {current} -> {interpreter}")
            else:
                result.conflicts.append(
                    f"{INTERPRETER} is {current}, not this Python ({interpreter}): Excel will run that one, "
                    "which needs envelope-xl installed; rerun with --force to switch to this Python"
                )
    elif any(settings.get(key, (0, "", ""))[2] for key in CONDA_KEYS):
        # The add-in uses the conda settings only while INTERPRETER_WIN is unset.
        result.conflicts.append(
            f"{INTERPRETER} not set: the conda settings choose Python; that environment needs envelope-xl"
        )
    else:
        lines.append(_setting(INTERPRETER, interpreter, newline))
        result.changes.append(f"{INTERPRETER}: (not set) -> {interpreter}")
    return result


def encoding() -> str:
    """The encoding of xlwings.conf: the system's ANSI code page, which VBA reads and writes."""
    return locale.getpreferredencoding(False)


def read(path: Path) -> str:
    """The configuration's text, "" when there is none; unknown bytes survive a rewrite."""
    if not path.exists():
        return ""
    with open(path, encoding=encoding(), errors="surrogateescape", newline="") as file:
        return file.read()


def backup_path(path: Path) -> Path:
    """A free name next to `path` for its backup: xlwings.conf.bak, then .bak1, .bak2..."""
    candidate, n = path.with_name(path.name + ".bak"), 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.bak{n}")
    return candidate


def apply(path: Path, new_text: str) -> Path | None:
    """Write `new_text` to `path`, keeping a backup of a file it replaces; returns the backup."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if path.exists():
        backup = backup_path(path)
        shutil.copy2(path, backup)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(new_text, encoding=encoding(), errors="surrogateescape", newline="")
    os.replace(temporary, path)
    return backup
