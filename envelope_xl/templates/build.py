"""Building the workbooks into a folder, without overwriting a file somebody changed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from types import ModuleType

from envelope_xl.templates import cheatsheet, package, recsys, serving, storage, sweep, training

#: The workbooks in the order of the docs; each module has FILENAME, TITLE, DESCRIPTION, build().
WORKBOOKS: tuple[ModuleType, ...] = (training, serving, storage, cheatsheet, sweep, recsys)
#: The workbooks that compute with standard spreadsheet functions only (no add-in needed).
STANDARD_FUNCTIONS_ONLY: tuple[ModuleType, ...] = (training, serving, storage, cheatsheet, recsys)


class ChangedFileError(Exception):
    """A file in the output folder was changed after it was built; it is left alone."""


def default_out_dir() -> Path:
    """The repository's templates/ folder in a source checkout, else ./templates."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "envelope_xl" / "templates").is_dir():
        return root / "templates"
    return Path.cwd() / "templates"


def build_bytes(workbook: ModuleType) -> bytes:
    """The .xlsx file of one workbook module, byte-identical from build to build."""
    wb = workbook.build()
    package.set_properties(wb, workbook.TITLE, workbook.DESCRIPTION)
    return package.workbook_bytes(wb)


def build_all(out_dir: Path, force: bool = False) -> list[Path]:
    """Write every workbook into `out_dir`; returns the paths written.

    A file already there is replaced only when it is one of our builds (its document
    properties are still the fixed ones); one changed since, e.g. saved from Excel with
    a user's numbers, raises ChangedFileError unless `force`.
    """
    built = {w.FILENAME: build_bytes(w) for w in WORKBOOKS}
    targets = [out_dir / name for name in built]
    changed = [t for t in targets if t.exists() and not force and not _is_our_build(t)]
    if changed:
        names = ", ".join(str(t) for t in changed)
        raise ChangedFileError(
            f"{names}: changed since it was built (saved by another program); "
            "use --force to overwrite, or --out to build elsewhere"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for target in targets:
        data = built[target.name]
        if not (target.exists() and target.read_bytes() == data):
            target.write_bytes(data)
    return targets


def _is_our_build(path: Path) -> bool:
    """True when `path` still carries the fixed properties of a build (any version of it)."""
    try:
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as existing:
            core = existing.read("docProps/core.xml").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return False
    stamp = package.BUILD_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f">{stamp}</dcterms:modified>" in core and f">{package.AUTHOR}</dc:creator>" in core
