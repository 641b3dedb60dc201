"""Throw-away LibreOffice profiles with the envelope-xl extension installed.

`headless.convert_many` gives every call a fresh profile with nothing installed; the
LibreOffice engine also needs the extension. Installing it takes a `unopkg` run and
the first start of a new profile costs more than a conversion, so it is done once:
a *template* profile is built, checked and cached per extension build and LibreOffice
installation, and each run copies it (about 1 MB, a few milliseconds).

unopkg refuses per-user installs when run as root, so the extension is installed with
`--shared` into a private folder of the template (`UNO_SHARED_PACKAGES_CACHE`, passed
to unopkg and to every soffice run with `-env:`): the same steps work for root, for
users and in containers, and nothing outside the template is written.

A template is code LibreOffice runs (the add-in), so it is only taken from a folder
that no one else can write (`cache_root`): owned by this user, not writable by group
or others, under folders no one else could swap. A cache folder that others could
write is emptied and rebuilt; one that belongs to someone else is never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from envelope_xl.libreoffice import extension, headless
from envelope_xl.libreoffice.headless import LibreOfficeError, find_soffice
from envelope_xl.libreoffice.readback import formula_values

#: The formula the template check evaluates, and what it must give.
_CHECK_FORMULA = f"={extension.programmatic_name('TRAIN_MEM')}(7E9)"
_CHECK_VALUE = 112.0


def _cache_candidates() -> list[Path]:
    configured = os.environ.get("ENVELOPE_XL_CACHE")
    if configured:
        first = Path(configured) / "libreoffice"
    else:
        first = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "envelope-xl" / "libreoffice"
    user = os.getuid() if hasattr(os, "getuid") else "user"
    temp = Path(tempfile.gettempdir())
    # For a read-only home (containers): the temporary folder, under a few names in case one is taken.
    return [first, temp / f"envelope-xl-{user}", *(temp / f"envelope-xl-{user}.{n}" for n in range(1, 4))]


def _safe_ancestors(path: Path) -> bool:
    """No one else can replace `path`: every folder above it belongs to this user or root, and is
    not writable by others unless sticky (as /tmp is)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    parent = Path(os.path.realpath(path.parent))
    for folder in (parent, *parent.parents):
        info = os.stat(folder)
        if uid is not None and info.st_uid not in (uid, 0):
            return False
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            return False
    return True


def _private_folder(path: Path) -> bool:
    """Make `path` a folder only this user can write; False if it cannot be trusted."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or not _safe_ancestors(path):
            return False
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            return False  # someone else's folder: never run what is in it
        if info.st_mode & 0o022:  # others could have planted a profile: take the folder back, empty it
            os.chmod(path, 0o700)
            for entry in path.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            return not any(path.iterdir())
    except OSError:
        return False
    return True


def cache_root() -> Path:
    """Where template profiles are kept: a folder only this user can write, made if need be.

    $ENVELOPE_XL_CACHE, else the user's cache folder, else the temporary folder.
    """
    candidates = _cache_candidates()
    for folder in candidates:
        if _private_folder(folder):
            return folder
    raise LibreOfficeError(
        f"no private folder for LibreOffice's profile: {candidates[0]} and the temporary folder cannot be made "
        "writable by you alone; set ENVELOPE_XL_CACHE to a folder only you can write"
    )


def unopkg() -> Path | None:
    """LibreOffice's extension manager command, next to soffice."""
    soffice = find_soffice()
    beside = soffice.resolve().with_name("unopkg") if soffice else None
    if beside is not None and beside.is_file():
        return beside
    found = shutil.which("unopkg")
    return Path(found) if found else None


def _env_args(folder: Path) -> list[str]:
    """The -env: options that point LibreOffice at a profile folder built here."""
    return [
        f"-env:UserInstallation={(folder / 'profile').as_uri()}",
        f"-env:UNO_SHARED_PACKAGES_CACHE={(folder / 'extensions').as_uri()}",
    ]


def _stamp(paths: list[Path]) -> dict[str, list[int]]:
    stamps = {}
    for path in paths:
        info = path.stat()
        stamps[str(path)] = [info.st_size, info.st_mtime_ns]
    return stamps


def _current(root: Path, soffice: Path) -> Path | None:
    """The cached template, if it was built from the files and LibreOffice installed now.

    Checking the recorded sizes and times of its sources costs a few system calls per run.
    """
    try:
        folder = root / (root / "current").read_text(encoding="utf-8").strip()
        recorded = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
        paths = [Path(p) for p in recorded["files"]]
        if recorded["files"] == _stamp(paths) and recorded["soffice"] == _stamp([soffice.resolve()]):
            return folder
    except (OSError, ValueError, KeyError):
        pass
    return None


def template_profile(timeout: float = headless.DEFAULT_TIMEOUT_S) -> Path:
    """The cached template profile for the current extension build, made on first use."""
    soffice, manager = find_soffice(), unopkg()
    if soffice is None or manager is None:
        raise LibreOfficeError(missing_message())
    root = cache_root()
    found = _current(root, soffice)
    if found is not None:
        return found
    with tempfile.TemporaryDirectory(prefix="building-", dir=root) as scratch:
        stamps = {"files": _stamp(extension.sources()), "soffice": _stamp([soffice.resolve()])}
        oxt = extension.build(Path(scratch) / "envelope-xl.oxt")
        folder = Path(scratch) / "template"
        _install(manager, oxt, folder, timeout)
        _check(folder, timeout)
        (folder / "sources.json").write_text(json.dumps(stamps, indent=1), encoding="utf-8")
        final = root / f"{extension.digest(oxt)}-{os.getpid()}-{time.time_ns()}"
        folder.rename(final)
        pointer = Path(scratch) / "current"
        pointer.write_text(final.name + "\n", encoding="utf-8")
        pointer.replace(root / "current")  # atomic: concurrent runs see the old or the new template
    _forget_other_templates(root, keep=final)
    return final


def _install(manager: Path, oxt: Path, folder: Path, timeout: float) -> None:
    headless.write_profile(folder / "profile")
    command = [str(manager), "add", "--shared", "--suppress-license", *_env_args(folder), str(oxt)]
    headless.run(command, timeout, headless.environment(folder.parent))


def _check(folder: Path, timeout: float) -> None:
    """Start LibreOffice once on the template (so copies skip first-start work) and check the add-in."""
    from openpyxl import Workbook  # only needed here, once per template: keep the engine's import light

    with tempfile.TemporaryDirectory(prefix="check-", dir=folder.parent) as scratch:
        book = Workbook()
        book.active["A1"] = _CHECK_FORMULA
        source = Path(scratch) / "check.xlsx"
        book.save(source)
        result = convert_in_profile(folder, [source], Path(scratch) / "out", "xlsx", timeout)[0]
        value = formula_values(result).get(("Sheet", "A1"))
    if value != _CHECK_VALUE:
        raise LibreOfficeError(
            f"LibreOffice did not run the envelope-xl add-in (TRAIN_MEM(7E9) gave {value!r}): "
            "its Python bridge is missing (Debian/Ubuntu: apt-get install python3-uno)"
        )


def _forget_other_templates(root: Path, keep: Path) -> None:
    """Remove templates of earlier builds, once no run started recently could still be copying them."""
    cutoff = time.time() - 3600
    for entry in root.iterdir():
        if entry != keep and entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def profile_copy(template: Path, scratch: Path) -> Iterator[Path]:
    """A private copy of the template under `scratch`, removed afterwards."""
    folder = scratch / "lo"
    shutil.copytree(template, folder, symlinks=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def convert_in_profile(folder: Path, sources: list[Path], out_dir: Path, fmt: str, timeout: float) -> list[Path]:
    """Convert (and so recalculate) `sources` into `out_dir` with LibreOffice running on the profile `folder`.

    The output files take the sources' stems; `fmt` is a format of `headless.convert_many`.
    """
    soffice = find_soffice()
    if soffice is None:
        raise LibreOfficeError(missing_message())
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [out_dir / f"{s.stem}.{fmt}" for s in sources]
    for target in targets:
        target.unlink(missing_ok=True)
    command = [
        str(soffice), *_env_args(folder),
        "--headless", "--invisible", "--nologo", "--norestore", "--nolockcheck", "--nodefault",
        "--convert-to", headless.FILTERS[fmt], "--outdir", str(out_dir), *(str(s.resolve()) for s in sources),
    ]
    stdout, stderr = headless.run(command, timeout, headless.environment(folder))
    missing = [str(s) for s, t in zip(sources, targets, strict=True) if not t.is_file()]
    if missing:
        detail = " | ".join((stderr or stdout).strip().splitlines()[-3:])
        raise LibreOfficeError(f"LibreOffice did not convert {', '.join(missing)} to {fmt}: {detail}")
    return targets


def missing_message() -> str:
    """What to install when LibreOffice or its extension manager is missing."""
    return (
        "LibreOffice was not found: install it with its Python support "
        "(Debian/Ubuntu: apt-get install --no-install-recommends libreoffice-calc-nogui python3-uno) "
        "or set ENVELOPE_XL_SOFFICE to soffice"
    )
