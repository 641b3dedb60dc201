"""`envelope-xl libreoffice`: the envelope functions in LibreOffice Calc.

    envelope-xl libreoffice install     # build the extension and add it to your LibreOffice
    envelope-xl libreoffice uninstall   # remove it
    envelope-xl libreoffice build       # only write envelope-xl.oxt (to install by hand or ship)

Errors are one line on stderr: exit status 2 for bad usage, 1 when LibreOffice fails.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import click

from envelope_xl import __version__
from envelope_xl.cli import fail
from envelope_xl.libreoffice import extension, headless, profile
from envelope_xl.libreoffice.headless import LibreOfficeError

_TIMEOUT_S = 300.0  # unopkg registers Python components by starting a UNO runtime; give it time


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _unopkg() -> Path:
    found = profile.unopkg()
    if found is None:
        fail(profile.missing_message(), 1)
    return found


def _scope(shared: bool) -> list[str]:
    if shared:
        return ["--shared"]
    if _is_root():
        fail(
            "LibreOffice installs extensions per user and refuses to do so as root: run this command as the user "
            "who uses LibreOffice, or add --shared to install for every user of this machine"
        )
    return []


def _run_unopkg(args: list[str]) -> None:
    try:
        headless.run([str(_unopkg()), *args], _TIMEOUT_S, headless.clean_environment())
    except LibreOfficeError as error:
        lock = re.search(r"delete the lock file at:\s*(\S+)", str(error))
        if lock:
            raise LibreOfficeError(
                "LibreOffice is running for this user: close it and try again "
                f"(if it is not running, its lock file was left behind: delete {lock.group(1)})"
            ) from None
        raise


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def libreoffice() -> None:
    """The envelope functions in LibreOffice Calc (an extension built from the catalog)."""


@libreoffice.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("envelope-xl.oxt"),
              show_default=True, help="Where to write the extension.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--refresh-types", is_flag=True,
              help="Developers: recompile the shipped type library from the catalog (needs libreoffice-dev).")
def build(output: Path, force: bool, refresh_types: bool) -> None:
    """Write the extension file, to install with LibreOffice's Extension Manager or unopkg."""
    if output.suffix.lower() != ".oxt":
        fail(f"--output: got {str(output)!r}; expected a file name ending in .oxt")
    if output.exists() and not force:
        fail(f"--output: {output} exists; pass --force to overwrite it")
    try:
        if refresh_types:
            click.echo(f"type library refreshed in {extension.refresh_shipped_types()}")
        extension.build(output)
    except extension.ExtensionError as error:
        fail(str(error), 1)
    click.echo(f"wrote {output} ({len(extension.functions())} functions)")


@libreoffice.command()
@click.option("--shared", is_flag=True, help="Install for every user of this machine (needs root).")
def install(shared: bool) -> None:
    """Build the extension and install it into LibreOffice (your own profile unless --shared)."""
    scope = _scope(shared)
    with tempfile.TemporaryDirectory(prefix="envelope-xl-oxt-") as scratch:
        try:
            oxt = extension.build(Path(scratch) / "envelope-xl.oxt")
            # --force replaces an installed earlier version.
            _run_unopkg(["add", "--force", "--suppress-license", *scope, str(oxt)])
        except (extension.ExtensionError, LibreOfficeError) as error:
            fail(str(error), 1)
    who = "every user of this machine" if shared else "you"
    click.echo(
        f"installed envelope-xl {__version__} ({len(extension.functions())} functions) in LibreOffice for {who}.\n"
        'Restart LibreOffice, then type in Calc: =TRAIN_MEM(7e9;"bf16";"adam")'
    )


@libreoffice.command()
@click.option("--shared", is_flag=True, help="Remove the installation made for every user (needs root).")
def uninstall(shared: bool) -> None:
    """Remove the extension from LibreOffice."""
    scope = _scope(shared)
    try:
        _run_unopkg(["remove", *scope, extension.EXTENSION_ID])
    except LibreOfficeError as error:
        if "no such extension" in str(error).lower():
            click.echo("envelope-xl is not installed in LibreOffice; nothing to remove.")
            return
        fail(str(error), 1)
    click.echo("removed envelope-xl from LibreOffice. Restart LibreOffice to drop the functions.")
