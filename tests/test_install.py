"""What installing the wheel brings on each route, and what a route without its extra says.

The wheel is built from this checkout. What an install pulls is resolved from metadata, as
pip and micropip do it: the wheel's Requires-Dist evaluated for the target platform, then
the requirements of each distribution that brings, read from the copies installed here. The
xlwings Lite route (Pyodide, whose micropip takes only pure-Python wheels or Pyodide's own
builds) must bring only pure-Python wheels, and only distributions the functions import.
tests/test_lite_pyodide.py then installs that wheel in Pyodide for real.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import click
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: Marker environments of the routes (PEP 508 names). Pyodide's are what micropip evaluates:
#: sys.platform is "emscripten" there.
PYODIDE = {"sys_platform": "emscripten", "platform_system": "Emscripten", "platform_machine": "wasm32",
           "os_name": "posix", "python_version": "3.12", "python_full_version": "3.12.7"}
LINUX = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
WINDOWS = {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"}

#: Distributions known to publish a py3-none-any wheel on PyPI, which micropip can install.
#: xlwings: tests/test_lite_pyodide.py installs xlwings-0.33.15-py3-none-any.whl and 0.37.8's.
PURE_ON_PYPI = {"xlwings"}


def wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(z.read(name))
    return [Requirement(line) for line in meta.get_all("Requires-Dist") or []]


def pulled(requirements: list[Requirement], environment: dict[str, str]) -> set[str]:
    """The distributions installing these requirements brings on `environment`, with no extra:
    the transitive closure, using the metadata of the copies installed here."""
    found: set[str] = set()
    todo = [r for r in requirements if r.marker is None or r.marker.evaluate({**environment, "extra": ""})]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            pytest.fail(f"cannot resolve {requirement.name} offline: it is not installed here")
        todo += [r for r in map(Requirement, requires) if r.marker is None
                 or r.marker.evaluate({**environment, "extra": ""})]
    return found


def top_level_modules(distribution: str) -> set[str]:
    files = metadata.distribution(distribution).files or []
    return {
        f.parts[0].removesuffix(".py")
        for f in files
        if f.parts[0] != ".." and not f.parts[0].endswith((".dist-info", ".data", ".pth")) and f.suffix != ".pyc"
    }


def test_the_wheel_is_pure_python(built_wheel):
    assert built_wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(built_wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/WHEEL")]
        wheel_file = email.message_from_bytes(z.read(name))
        compiled = [n for n in z.namelist() if n.endswith((".so", ".pyd", ".dll", ".dylib"))]
    assert wheel_file["Root-Is-Purelib"] == "true"
    assert wheel_file.get_all("Tag") == ["py3-none-any"]
    assert compiled == []


def test_pip_install_brings_click_alone(built_wheel):
    requirements = wheel_requirements(built_wheel)
    assert pulled(requirements, LINUX) == {"click"}
    assert pulled(requirements, WINDOWS) <= {"click", "colorama"}  # click < 8.2 used colorama on Windows


def test_each_extra_brings_its_route(built_wheel):
    requirements = wheel_requirements(built_wheel)
    extras = {m for r in requirements if r.marker for m in ("excel", "recalc", "templates", "libreoffice", "all")
              if r.marker.evaluate({**LINUX, "extra": m})}
    assert extras == {"excel", "recalc", "templates", "libreoffice", "all"}
    direct = {extra: {canonicalize_name(r.name) for r in requirements
                      if r.marker and "extra" in str(r.marker) and r.marker.evaluate({**LINUX, "extra": extra})}
              for extra in extras}
    assert direct["recalc"] == {"formulas", "openpyxl", "rich"}
    assert direct["templates"] == {"openpyxl", "formulas"}  # building computes every value
    assert direct["libreoffice"] == {"openpyxl"}
    assert direct["excel"] == {"xlwings"}
    assert direct["all"] == {"envelope-xl"}  # envelope-xl[excel,libreoffice,recalc,templates]


def test_the_xlwings_lite_route_brings_only_pure_wheels_the_functions_import(built_wheel):
    lite = pulled(wheel_requirements(built_wheel), PYODIDE)
    compiled_or_unknown = lite - PURE_ON_PYPI
    assert not compiled_or_unknown, f"the xlwings Lite route would install {sorted(compiled_or_unknown)}"
    # What `from envelope_xl.udfs import *` (Lite's main.py) imports beyond the standard library:
    # the top-level modules envelope_xl's own code asks for (xlwings' optional imports, such as
    # numpy where it is installed, are xlwings' business and fail quietly in Lite).
    code = """
import importlib.abc, sys
asked = set()
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        frame = sys._getframe(1)
        while frame and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
            frame = frame.f_back
        if frame and frame.f_globals.get("__name__", "").startswith("envelope_xl"):
            asked.add(name.split(".")[0])
sys.meta_path.insert(0, Spy())
import envelope_xl.udfs
print(" ".join(sorted(asked - set(sys.stdlib_module_names) - {"envelope_xl"})))
"""
    imported = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                   .stdout.split())
    provided = set().union(*(top_level_modules(name) for name in lite))
    assert imported - provided == set(), "the functions import these, which Lite would not install"
    assert provided - imported == set(), "Lite would install these, which the functions never import"


# --- A route without its extra ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def core_only(built_wheel, tmp_path_factory) -> Path:
    """`pip install envelope-xl` and nothing else: the wheel and click, on a path of their own."""
    target = tmp_path_factory.mktemp("core")
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target),
               str(built_wheel)]
    subprocess.run(install, check=True, capture_output=True)
    shutil.copytree(Path(click.__file__).parent, target / "click")
    return target


def envelope_xl(core_only: Path, *args: str, platform: str | None = None) -> subprocess.CompletedProcess:
    """The envelope-xl command with only the standard library, the wheel and click importable (-S),
    on this machine or, for what it checks, on `platform` (a sys.platform value)."""
    # Pretend only once the modules are imported: the standard library picks its own by platform.
    pretend = f"import envelope_xl.excel.cli, envelope_xl.extras; sys.platform = {platform!r}; " if platform else ""
    code = f"import sys; sys.path.insert(0, {str(core_only)!r}); from envelope_xl.cli import run; {pretend}run()"
    return subprocess.run([sys.executable, "-S", "-c", code, *args], capture_output=True, text=True)


def test_the_core_commands_need_no_extra(core_only):
    assert envelope_xl(core_only, "call", "TRAIN_MEM", "7e9", "bf16", "adam").stdout == "112.0\n"
    assert "Answer: 112 GB" in envelope_xl(core_only, "explain", "TRAIN_MEM", "7e9").stdout
    assert "TRAIN_MEM(params" in envelope_xl(core_only, "functions").stdout
    lite = envelope_xl(core_only, "excel", "lite", str(core_only / "book"))
    assert lite.returncode == 0 and (core_only / "book" / "main.py").exists()


@pytest.mark.parametrize(
    ("args", "extra", "absent"),
    [
        (("recalc", "plan.xlsx", "-o", "out.xlsx"), "recalc", "formulas, openpyxl, rich, which are"),
        (("templates", "build"), "templates", "openpyxl, formulas, which are"),
        (("libreoffice", "install"), "libreoffice", "openpyxl, which is"),
        (("recalc", "--help"), "recalc", "formulas, openpyxl, rich, which are"),
    ],
)
def test_a_command_without_its_extra_names_the_install_command(core_only, args, extra, absent):
    result = envelope_xl(core_only, *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: envelope-xl {args[0]} needs {absent} not installed: pip install 'envelope-xl[{extra}]'\n"
    )


def test_classic_excel_setup_without_xlwings_names_the_install_command(core_only):
    result = envelope_xl(core_only, "excel", "setup", "--platform", "windows", platform="win32")
    assert (result.returncode, result.stderr) == (2, (
        "error: envelope-xl excel setup --platform windows needs xlwings, which is not installed: "
        "pip install 'envelope-xl[excel]'\n"
    ))


def test_help_lists_the_commands_to_install(core_only):
    listing = envelope_xl(core_only, "--help").stdout
    assert "recalc       (not installed: pip install 'envelope-xl[recalc]')" in listing
    assert "call         Evaluate one catalog FUNCTION" in listing


def test_the_example_answers_then_names_the_extra_for_its_workbook(core_only):
    result = envelope_xl(core_only, "example")
    assert result.returncode == 2
    assert "Answer: 112 GB" in result.stdout and "Bound by " in result.stdout and "needs 82 servers" in result.stdout
    assert result.stderr.endswith("not installed: pip install 'envelope-xl[recalc]'\n")
    assert result.stderr.count("\n") == 1
