"""What each install route of envelope-xl brings: distributions, megabytes downloaded and on disk.

    python benchmarks/install_sizes.py [SOURCE]      # SOURCE: a checkout (default: this one)

Needs PyPI. Builds the wheel from SOURCE, then for each pip route (`pip install envelope-xl`
and each extra) downloads what pip resolves on this machine and installs it into an empty
virtual environment. For the xlwings Lite route it resolves what micropip would install in
Pyodide (markers evaluated with sys_platform "emscripten"): distributions that Pyodide
builds itself (compiled ones among them) come from Pyodide's own repository, whose sizes are
not measured here; the others come from PyPI, and must have a pure-Python wheel.
Pyodide's package list is read from the pyodide npm package that tests/lite/fetch.py puts
in .cache/lite.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
ROUTES = ["", "excel", "recalc", "templates", "libreoffice", "all"]
PYODIDE = {"sys_platform": "emscripten", "platform_system": "Emscripten", "platform_machine": "wasm32",
           "os_name": "posix", "python_version": "3.12", "python_full_version": "3.12.7", "extra": ""}
PYODIDE_LOCK = ROOT / ".cache" / "lite" / "node_modules" / "pyodide" / "pyodide-lock.json"
MB = 1e6


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check", *args], check=True,
                   stderr=subprocess.DEVNULL)


def build_wheel(source: Path, work: Path) -> Path:
    """The wheel of `source`, built from a copy so that the checkout gets no build/ folder."""
    copy = work / "source"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(source / name, copy / name)
    shutil.copytree(source / "envelope_xl", copy / "envelope_xl", ignore=shutil.ignore_patterns("__pycache__"))
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(work / "dist"), str(copy))
    return next((work / "dist").glob("envelope_xl-*.whl"))


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pip_route(wheel: Path, extra: str, work: Path) -> tuple[int, float, float]:
    """(distributions, MB downloaded, MB installed) of `pip install envelope-xl[extra]` here."""
    requirement = f"envelope-xl{f'[{extra}]' if extra else ''} @ {wheel.as_uri()}"
    downloads = work / f"dl-{extra or 'core'}"
    pip("download", "--dest", str(downloads), requirement)
    env = work / f"venv-{extra or 'core'}"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    pip("--python", str(python), "install", "--no-index", "--find-links", str(downloads), requirement)
    files = list(downloads.iterdir())
    (site,) = (env / "lib").glob("python*/site-packages")
    return len(files), sum(f.stat().st_size for f in files) / MB, tree_size(site) / MB


def metadata_of(requirement: str, work: Path) -> dict[str, dict]:
    """name -> metadata of every distribution pip resolves for `requirement` on this machine."""
    report = work / "report.json"
    pip("install", "--dry-run", "--ignore-installed", "--report", str(report), requirement)
    items = json.loads(report.read_text())["install"]
    return {canonicalize_name(i["metadata"]["name"]): i["metadata"] for i in items}


def lite_route(wheel: Path, work: Path) -> list[tuple[str, str, str, float | None]]:
    """(distribution, version, where micropip takes it, MB from PyPI) for the Lite requirement line."""
    pyodide = {canonicalize_name(k): v for k, v in json.loads(PYODIDE_LOCK.read_text())["packages"].items()}
    known = metadata_of(f"envelope-xl @ {wheel.as_uri()}", work)
    rows, seen, todo = [], set(), [Requirement(f"envelope-xl @ {wheel.as_uri()}")]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        if name not in known:  # required in Pyodide only: resolve it without its marker
            known.update(metadata_of(f"{requirement.name}{requirement.specifier}", work))
        meta = known[name]
        requires = map(Requirement, meta.get("requires_dist") or [])
        todo += [r for r in requires if not r.marker or r.marker.evaluate(PYODIDE)]
        if name in pyodide:
            compiled = not pyodide[name]["file_name"].endswith("-none-any.whl")
            rows.append((name, pyodide[name]["version"], "Pyodide build" + (", compiled" if compiled else ""), None))
        elif name == "envelope-xl":
            rows.append((name, meta["version"], "the wheel", wheel.stat().st_size / MB))
        else:
            dest = work / f"pure-{name}"
            try:
                pip("download", "--no-deps", "--only-binary=:all:", "--platform", "any", "--python-version", "3.12",
                    "--implementation", "py", "--abi", "none", "--dest", str(dest), f"{name}=={meta['version']}")
                rows.append((name, meta["version"], "PyPI, pure wheel", tree_size(dest) / MB))
            except subprocess.CalledProcessError:
                rows.append((name, meta["version"], "PyPI, NO pure wheel: Lite cannot install it", None))
    return sorted(rows)


def main() -> None:
    source = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheel = build_wheel(source, work)
        print(f"{wheel.name}, built from {source}\n")
        print("| route | distributions | downloaded MB | installed MB |\n|---|---|---|---|")
        for extra in ROUTES:
            count, downloaded, installed = pip_route(wheel, extra, work)
            route = f"pip install envelope-xl{f'[{extra}]' if extra else ''}"
            print(f"| `{route}` | {count} | {downloaded:.1f} | {installed:.1f} |")
        if not PYODIDE_LOCK.exists():
            print("\n(xlwings Lite route skipped: run `python tests/lite/fetch.py` for Pyodide's package list)")
            return
        rows = lite_route(wheel, work)
        print("\nxlwings Lite, the requirement line `envelope-xl` (xlwings is already in Lite's requirements.txt):\n")
        print("| distribution | version | where micropip takes it | MB |\n|---|---|---|---|")
        for name, version, where, size in rows:
            print(f"| {name} | {version} | {where} | {'' if size is None else f'{size:.2f}'} |")
        pure = sum(size or 0 for name, _, _, size in rows if name != "xlwings")
        builds = sum(1 for row in rows if row[2].startswith("Pyodide"))
        print(f"\n{len(rows)} distributions; beyond xlwings, {pure:.1f} MB of wheels from PyPI"
              f" and {builds} Pyodide builds.")


if __name__ == "__main__":
    main()
