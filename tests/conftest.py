"""What several test files share: needing a tool that CI installs, the built wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check values, not speed: no per-example deadline, which a busy CI machine
# could exceed and turn into a spurious failure.
settings.register_profile("envelope-xl", deadline=None)
settings.load_profile("envelope-xl")


def require(tool: str, missing_reason: str | None) -> None:
    """Skip with a one-line reason when `tool` is missing (`missing_reason` set), but fail in
    CI: `.ci/run` installs every tool the tests need, so a skip there would hide a gap."""
    if missing_reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{tool} must be installed in CI (.ci/run): {missing_reason}")
    pytest.skip(f"{tool} is not installed: {missing_reason}")


@pytest.fixture(scope="module")
def private_libreoffice_cache(tmp_path_factory):
    """A fresh cache for the profile holding the extension, so these tests build and install it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENVELOPE_XL_CACHE", str(tmp_path_factory.mktemp("lo-cache")))
        yield


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """envelope-xl's wheel, built from a copy of this checkout (the checkout stays clean)."""
    root = Path(__file__).resolve().parent.parent
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "envelope_xl", source / "envelope_xl", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
             "--wheel-dir", str(out), str(source)]
    subprocess.run(build, check=True, capture_output=True)
    (wheel,) = out.glob("envelope_xl-*.whl")
    return wheel
