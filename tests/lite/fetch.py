"""Fetch xlwings Lite's Python for tests/test_lite_pyodide.py: `python tests/lite/fetch.py` (make test runs it).

Into `.cache/lite/` (ignored by git): the `pyodide` npm package, and from PyPI the pure-Python
wheels Lite loads into it. Once there, the test runs offline. Without npm this prints why and
does nothing, and the test is skipped (it fails in CI, which must have npm).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "lite"

#: The Pyodide release that xlwings Server's Wasm mode loads (its templates/base.html), which is
#: xlwings Lite's development environment; Python 3.12.
PYODIDE = "0.27.5"
#: What that release bundles (its pyodide-lock.json), taken from PyPI as pure-Python wheels.
MICROPIP = "0.8.0"
PACKAGING = "24.2"
#: The xlwings versions the test runs with: the one new Lite workbooks start with (Lite
#: changelog 1.0.0.0-18) and the one the rest of the suite pins.
XLWINGS = ("0.33.15", "0.37.8")


def pyodide_dir() -> Path:
    return CACHE / "node_modules" / "pyodide"


def wheel(name: str, version: str) -> Path:
    return CACHE / "wheels" / f"{name}-{version}-py3-none-any.whl"


def wheels() -> list[Path]:
    return [wheel("packaging", PACKAGING), wheel("micropip", MICROPIP), *(wheel("xlwings", v) for v in XLWINGS)]


def missing() -> str | None:
    """Why the test cannot run, or None when everything is fetched."""
    absent = [p for p in [pyodide_dir() / "pyodide.mjs", *wheels()] if not p.exists()]
    if shutil.which("node") is None:
        return "node is not on PATH"
    if absent:
        return f"{absent[0]} is missing: run `python tests/lite/fetch.py` (make test does)"
    return None


def fetch() -> None:
    if shutil.which("npm") is None:
        print("npm not found: the xlwings Lite test (tests/test_lite_pyodide.py) will be skipped")
        return
    if not (pyodide_dir() / "package.json").exists() or f'"version": "{PYODIDE}"' not in (
        pyodide_dir() / "package.json"
    ).read_text():
        CACHE.mkdir(parents=True, exist_ok=True)
        npm = ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CACHE), f"pyodide@{PYODIDE}"]
        subprocess.run(npm, check=True)
    pure = ["--no-deps", "--only-binary=:all:", "--platform", "any", "--python-version", "3.12",
            "--implementation", "py", "--abi", "none", "--dest", str(CACHE / "wheels")]
    for name, version in [("micropip", MICROPIP), ("packaging", PACKAGING), *(("xlwings", v) for v in XLWINGS)]:
        if not wheel(name, version).exists():
            pip = [sys.executable, "-m", "pip", "download", "--quiet", *pure, f"{name}=={version}"]
            subprocess.run(pip, check=True)


if __name__ == "__main__":
    fetch()
