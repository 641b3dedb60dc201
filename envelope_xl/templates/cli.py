"""`envelope-xl templates`: build the workbooks, and render pictures of them."""

from __future__ import annotations

from pathlib import Path

import click

from envelope_xl.cli import fail
from envelope_xl.libreoffice import LibreOfficeError
from envelope_xl.templates import ods, sweep
from envelope_xl.templates.build import WORKBOOKS, ChangedFileError, build_all, default_out_dir
from envelope_xl.templates.render import DEFAULT_DPI, render_pngs

_OUT_HELP = "folder to write to [default: the repository's templates/ in a source checkout, else ./templates]"


@click.group()
def templates() -> None:
    """Prebuilt capacity-planning workbooks (training, serving, storage, cheat sheet, scenario sweep)."""


@templates.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help=_OUT_HELP)
@click.option("--force", is_flag=True, help="overwrite workbooks that were changed since they were built")
@click.option("--no-ods", is_flag=True,
              help=f"skip {ods.FILENAME}, the sweep for LibreOffice Calc (building it needs LibreOffice)")
def build(out_dir: Path | None, force: bool, no_ods: bool) -> None:
    """Generate the workbooks from the catalog, every value computed; building twice gives identical files.

    Also writes scenario_sweep.ods, whose function calls LibreOffice binds to the envelope-xl
    extension, where LibreOffice and its Python bridge are installed.

    Example: envelope-xl templates build --out ./my-templates
    """
    folder = out_dir or default_out_dir()
    target = folder / ods.FILENAME
    if not no_ods and target.exists() and not force and not ods.is_our_build(target):
        fail(f"{target}: changed since it was built (saved by another program); use --force to overwrite, "
             "or --out to build elsewhere")
    try:
        paths = build_all(folder, force=force)
    except ChangedFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"--out: {exc}")
    for path in paths:
        click.echo(str(path))
    if no_ods:
        return
    reason = ods.unavailable_reason()
    if reason is not None:
        click.echo(f"{target}: not rebuilt: {reason}", err=True)
        return
    try:
        click.echo(str(ods.build_ods(folder / sweep.FILENAME, target)))
    except LibreOfficeError as exc:
        fail(f"{target}: {exc}", 1)


@templates.command()
@click.option("--templates", "source_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="folder holding the built workbooks [default: as for build]")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder for the PNG files, e.g. docs/images")
@click.option("--dpi", type=click.IntRange(20, 300), default=DEFAULT_DPI, show_default=True,
              help="resolution of the PNGs")
def render(source_dir: Path | None, out_dir: Path, dpi: int) -> None:
    """Render the first printed pages of each workbook to a PNG, as LibreOffice shows them recalculated
    (the scenario sweep with the envelope-xl extension); needs LibreOffice and pdftoppm."""
    folder = source_dir or default_out_dir()
    sources = [folder / w.FILENAME for w in WORKBOOKS]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        fail(f"--templates: {', '.join(missing)} not found; run `envelope-xl templates build` first")
    try:
        pngs = render_pngs(sources, out_dir, dpi)
    except LibreOfficeError as exc:
        fail(str(exc))
    for png in pngs:
        click.echo(str(png))
