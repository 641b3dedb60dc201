"""`envelope-xl excel`: put the envelope-xl functions into Excel.

`setup` does what can be automated on this machine and prints the steps left to do in
Excel; it refuses, with the reason, where a step cannot work (the classic add-in
anywhere but Windows). `lite` writes the two files an xlwings Lite workbook needs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from envelope_xl.cli import fail, require_extra
from envelope_xl.excel import TESTED_XLWINGS, UDF_MODULE, conf, lite

FIRST_FORMULA = '=TRAIN_MEM(7e9,"bf16","adam")'
_HOSTS = {"win32": "Windows", "darwin": "macOS"}


def host() -> str:
    """This machine's operating system, as users call it."""
    return _HOSTS.get(sys.platform, "Linux" if sys.platform.startswith("linux") else sys.platform)


def _wheel_url(value: str | None) -> str | None:
    """A wheel address Lite can install: https (Excel's webview refuses plain http), ending in .whl."""
    if value is not None and not re.fullmatch(r"https://[^\s\"'<>]+\.whl", value):
        raise click.BadParameter(f"got {value!r}; expected the https:// address of a .whl file")
    return value


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group()
def excel() -> None:
    """Use the envelope-xl functions in Excel: =TRAIN_MEM(7e9,"bf16","adam").

    \b
    Windows desktop Excel: classic xlwings UDFs   envelope-xl excel setup
    Excel on macOS and the web: xlwings Lite       envelope-xl excel setup --platform web
    """


@excel.command()
@click.option(
    "--platform",
    "target",
    type=click.Choice(["auto", "windows", "macos", "web"]),
    default="auto",
    show_default=True,
    help="Where Excel runs. auto: this machine (Windows: classic add-in; macOS, Linux: xlwings Lite).",
)
@click.option(
    "--config-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="xlwings configuration to update (Windows)  [default: ~/.xlwings/xlwings.conf]",
)
@click.option(
    "--lite-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("envelope-xl-lite"),
    show_default=True,
    help="Where to write main.py and requirements.txt for xlwings Lite (macOS, web).",
)
@click.option("--wheel-url", callback=lambda ctx, param, value: _wheel_url(value),
              help="xlwings Lite: install envelope-xl from this wheel URL (https://...whl) instead of PyPI.")
@click.option("--force", is_flag=True, help="Replace a different INTERPRETER_WIN setting, or existing Lite files.")
@click.option("--dry-run", is_flag=True, help="Show what would be written, and write nothing.")
def setup(
    target: str, config_file: Path | None, lite_dir: Path, wheel_url: str | None, force: bool, dry_run: bool
) -> None:
    """Configure this machine for the envelope-xl functions; print the steps left in Excel.

    \b
    Windows: adds envelope_xl.udfs to xlwings' "UDF Modules" and this Python as its
    interpreter, in ~/.xlwings/xlwings.conf (merged; the old file is kept as .bak).
    macOS and the web: writes main.py and requirements.txt for xlwings Lite.
    """
    if target == "auto":
        target = {"Windows": "windows", "macOS": "macos"}.get(host(), "web")
        if host() not in ("Windows", "macOS"):
            click.echo(f"{host()} has no desktop Excel: setting up xlwings Lite for Excel on the web.\n")
    if target == "windows":
        _setup_classic(config_file, force, dry_run)
    else:
        _setup_lite(target, lite_dir, wheel_url, force, dry_run)


@excel.command(name="lite")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("envelope-xl-lite"))
@click.option("--wheel-url", callback=lambda ctx, param, value: _wheel_url(value),
              help="Install envelope-xl from this wheel URL (https://...whl) instead of PyPI.")
@click.option("--force", is_flag=True, help="Replace main.py and requirements.txt if they exist.")
def lite_files(directory: Path, wheel_url: str | None, force: bool) -> None:
    """Write main.py and requirements.txt for an xlwings Lite workbook into DIRECTORY."""
    try:
        written = lite.write(directory, force=force, wheel_url=wheel_url)
    except FileExistsError as exc:
        fail(str(exc))
    click.echo("Wrote " + " and ".join(str(path) for path in written))


def _setup_classic(config_file: Path | None, force: bool, dry_run: bool) -> None:
    if host() != "Windows":
        fail(
            f"the classic xlwings add-in runs only in Windows desktop Excel, and this machine runs {host()}: "
            "run `envelope-xl excel setup` on the Windows PC that has Excel, "
            "or use xlwings Lite: `envelope-xl excel setup --platform web`"
        )
    require_extra("excel", "envelope-xl excel setup --platform windows")
    import xlwings

    if xlwings.__version__ not in TESTED_XLWINGS:
        _warn(f"xlwings {xlwings.__version__} is untested with envelope-xl (tested: {', '.join(TESTED_XLWINGS)})")
    path = config_file or Path(xlwings.USER_CONFIG_FILE)
    try:
        plan = conf.plan(conf.read(path), UDF_MODULE, sys.executable, force=force)
    except ValueError as exc:
        fail(f"{path}: {exc}")
    for conflict in plan.conflicts:
        _warn(conflict)
    if not plan.changes:
        click.echo(f"{path} already has the settings envelope-xl needs.")
    elif dry_run:
        click.echo(f"Would update {path} (nothing written):")
        click.echo("".join(f"  {change}\n" for change in plan.changes), nl=False)
    else:
        backup = conf.apply(path, plan.text)
        click.echo(f"Updated {path}:")
        click.echo("".join(f"  {change}\n" for change in plan.changes), nl=False)
        if backup:
            click.echo(f"  (previous file kept as {backup})")
    click.echo(
        "\nNext, once per machine:\n"
        "  1. Run: xlwings addin install\n"
        "     (installs the xlwings add-in into Excel; restart Excel afterwards)\n"
        "  2. In Excel: File > Options > Trust Center > Trust Center Settings > Macro Settings,\n"
        '     tick "Trust access to the VBA project object model".\n'
        "Then in each workbook that uses the functions:\n"
        "  3. Save it as a macro-enabled workbook (.xlsm).\n"
        '  4. On the xlwings tab, click "Import Functions" (Import Python UDFs). Repeat after\n'
        "     upgrading envelope-xl.\n"
        f"  5. Type {FIRST_FORMULA} in a cell: it shows 112 (GB).\n"
        "Bad input shows as text starting with #VALUE! that names the argument."
    )


def _setup_lite(target: str, lite_dir: Path, wheel_url: str | None, force: bool, dry_run: bool) -> None:
    where = {
        "macos": "Excel for Mac (Microsoft 365, or Office 2021 and later)",
        "web": "Excel on the web (a recent browser; the free Excel for the web works too)",
    }[target]
    main_py, requirements = lite_dir / lite.MAIN_PY, lite_dir / lite.REQUIREMENTS_TXT
    if dry_run:
        click.echo(f"Would write {main_py} and {requirements} (nothing written).")
    else:
        try:
            lite.write(lite_dir, force=force, wheel_url=wheel_url)
        except FileExistsError as exc:
            fail(str(exc))
        click.echo(f"Wrote {main_py} and {requirements} for xlwings Lite.")
    click.echo(
        f"\nNext, in {where}:\n"
        '  1. Home > Add-ins: search for "xlwings Lite" and click Add (free, also for commercial use).\n'
        "  2. Open the xlwings Lite pane (Home > xlwings Lite). Add the envelope-xl line of\n"
        f"     {requirements} to its requirements.txt; then restart xlwings Lite.\n"
        f"  3. Replace the content of main.py with {main_py} (or add its import line to yours).\n"
        f"  4. Type {FIRST_FORMULA} in a cell: it shows 112 (GB).\n"
        "The functions are stored with the workbook's code: anyone opening it with xlwings Lite can use them."
    )
