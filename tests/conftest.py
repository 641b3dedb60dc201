"""What several test files share: needing a tool that CI installs."""

from __future__ import annotations

import os

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
