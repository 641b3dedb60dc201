"""Run `soffice --headless --convert-to` safely.

Each call gets its own throw-away user profile, so calls never share state with a
desktop LibreOffice or with each other, and so the profile can force what we need:

- spreadsheets are recalculated on load (`OOXMLRecalcMode` = 0, "always"): by default
  LibreOffice keeps the cached values of an `.xlsx`, which are stale once an input changed;
- no network: external links are never updated, the update check is off, macros never run;
- a time limit: on timeout or error the whole process group is killed, and the profile
  and temporary files are always removed.

One call converts many files (start-up dominates the cost of small files), e.g.

    convert_many([a, b, c], out_dir, fmt="xlsx")
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

#: Where LibreOffice lives when `soffice` is not on PATH.
_KNOWN_LOCATIONS = (
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/usr/local/lib/libreoffice/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    "C:/Program Files/LibreOffice/program/soffice.exe",
)

#: `--convert-to` targets by format name: the filter LibreOffice should use.
FILTERS = {
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "pdf": "pdf:calc_pdf_Export",
    "ods": "ods:calc8",
    "csv": "csv:Text - txt - csv (StarCalc)",
}

DEFAULT_TIMEOUT_S = 120.0

# Configuration written into the throw-away profile (registrymodifications.xcu).
_PROFILE_SETTINGS = (
    # Recalculate every formula on load: 0 = always, 1 = never, 2 = ask.
    ("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "int", "0"),
    ("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "int", "0"),
    # Never fetch external links on load (1 = never).
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "int", "1"),
    # Highest macro security: no document macro ever runs.
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "int", "3"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "boolean", "true"),
    # No online update check, no first-start wizard.
    ("/org.openoffice.Office.Jobs/Jobs/org.openoffice.Office.Jobs:Job['UpdateCheck']/Arguments",
     "AutoCheckEnabled", "boolean", "false"),
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "boolean", "false"),
)


class LibreOfficeError(RuntimeError):
    """LibreOffice is missing, failed, timed out or did not produce the expected file."""


def find_soffice() -> Path | None:
    """The LibreOffice executable: $ENVELOPE_XL_SOFFICE, then `soffice`/`libreoffice` on PATH, then known places."""
    configured = os.environ.get("ENVELOPE_XL_SOFFICE")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return next((Path(p) for p in _KNOWN_LOCATIONS if Path(p).is_file()), None)


def convert(src: str | os.PathLike, out_dir: str | os.PathLike, fmt: str = "xlsx",
            timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """Convert one file with LibreOffice (recalculating it) and return the written file."""
    return convert_many([src], out_dir, fmt, timeout)[0]


def convert_many(sources: Sequence[str | os.PathLike], out_dir: str | os.PathLike, fmt: str = "xlsx",
                 timeout: float = DEFAULT_TIMEOUT_S) -> list[Path]:
    """Convert several files in one LibreOffice run; returns the written files in the order given.

    `fmt` is one of xlsx, pdf, ods, csv. Output files take the source's stem with the new
    extension in `out_dir`, which must not be a source's own folder (LibreOffice would
    overwrite the source) and must not receive two sources with the same stem.
    """
    if fmt not in FILTERS:
        raise ValueError(f"fmt: got {fmt!r}; expected one of {', '.join(FILTERS)}")
    if not sources:
        return []
    if not timeout > 0:
        raise ValueError(f"timeout: got {timeout!r}; expected a number of seconds > 0")
    srcs = [Path(s).resolve() for s in sources]
    out = Path(out_dir).resolve()
    _check_paths(srcs, out, fmt)
    soffice = find_soffice()
    if soffice is None:
        raise LibreOfficeError(
            "LibreOffice (soffice) was not found: install it (Debian: apt-get install libreoffice-calc-nogui) "
            "or set ENVELOPE_XL_SOFFICE to its path"
        )
    out.mkdir(parents=True, exist_ok=True)
    targets = [out / f"{s.stem}.{fmt}" for s in srcs]
    for target in targets:  # a stale file must not pass for a fresh result
        target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="envelope-xl-lo-") as scratch:
        profile = Path(scratch) / "profile"
        write_profile(profile)
        command = [
            str(soffice), f"-env:UserInstallation={profile.as_uri()}",
            "--headless", "--invisible", "--nologo", "--norestore", "--nolockcheck", "--nodefault",
            "--convert-to", FILTERS[fmt], "--outdir", str(out), *map(str, srcs),
        ]
        stdout, stderr = run(command, timeout, environment(Path(scratch)))
    missing = [str(s) for s, t in zip(srcs, targets, strict=True) if not t.is_file()]
    if missing:
        detail = (stderr or stdout).strip().splitlines()[-3:]
        raise LibreOfficeError(f"LibreOffice did not convert {', '.join(missing)} to {fmt}: {' | '.join(detail)}")
    return targets


def _check_paths(srcs: list[Path], out: Path, fmt: str) -> None:
    for src in srcs:
        if not src.is_file():
            raise FileNotFoundError(f"source: no such file {src}")
        if src.parent == out and src.suffix.lower() == f".{fmt}":
            raise ValueError(f"out_dir: {out} holds the source {src.name}; converting would overwrite it")
    stems = [s.stem for s in srcs]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise ValueError(f"sources: several files named {', '.join(clashes)} would write the same output")


def write_profile(profile: Path) -> None:
    """Create a LibreOffice user profile at `profile` with the settings above (recalculate on load...)."""
    user = profile / "user"
    user.mkdir(parents=True)
    items = "\n".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>'
        for path, name, _type, value in _PROFILE_SETTINGS
    )
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f"{items}\n</oor:items>\n",
        encoding="utf-8",
    )


def clean_environment() -> dict[str, str]:
    """This process's environment, without what would mislead LibreOffice's own Python.

    LibreOffice's embedded Python finds its home from the first `python3` on PATH: a
    virtual environment's (an activated venv, or the one envelope-xl runs from) makes it
    load that environment's packages and standard library, and the add-in then fails to
    load, so every envelope function would break. Proxies are dropped: no network use.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(
        d for d in env.get("PATH", "").split(os.pathsep) if d and not (Path(d).parent / "pyvenv.cfg").is_file()
    )
    for name in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "http_proxy", "https_proxy",
                 "HTTP_PROXY", "HTTPS_PROXY", "ftp_proxy", "all_proxy"):
        env.pop(name, None)
    return env


def environment(scratch: Path) -> dict[str, str]:
    """The environment soffice runs in: `clean_environment`, temporary files under `scratch`, no display."""
    env = clean_environment()
    env.update({"TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch), "SAL_USE_VCLPLUGIN": "svp"})
    return env


#: Told (process group, True) when a LibreOffice process group starts and (group, False) once it is
#: gone, so a supervisor that has to stop this process can stop LibreOffice too (see recalc.runner).
on_process_group: Callable[[int, bool], object] | None = None


def run(command: list[str], timeout: float, env: dict[str, str]) -> tuple[str, str]:
    """Run soffice in its own process group; kill the whole group on timeout or interruption."""
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, text=True, start_new_session=True,
    )
    try:
        if on_process_group is not None:
            on_process_group(process.pid, True)
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise LibreOfficeError(f"LibreOffice took longer than {timeout:g} s and was stopped") from None
    except BaseException:
        _kill_group(process)
        raise
    finally:
        _kill_group(process, only_leftovers=True)
        if on_process_group is not None:
            on_process_group(process.pid, False)
    if process.returncode != 0:
        raise LibreOfficeError(f"LibreOffice failed (exit status {process.returncode}): {stderr.strip()[-500:]}")
    return stdout, stderr


def _kill_group(process: subprocess.Popen, only_leftovers: bool = False) -> None:
    """Kill the process group soffice started (oosplash and soffice.bin included)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        elif process.poll() is None:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    if not only_leftovers:
        process.communicate()
