"""The `envelope-xl` command line: a thin adapter over the catalog.

Subcommands that need heavy libraries (openpyxl, formulas, rich) live in their own
modules, are imported only when used, so `envelope-xl call` starts fast, and come with
an extra of the package: without it, the subcommand says which install command adds it.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from typing import Any, NoReturn

import click

from envelope_xl.errors import InputError

#: Subcommands loaded on first use: name -> "module:attribute".
LAZY_COMMANDS = {
    "excel": "envelope_xl.excel.cli:excel",
    "templates": "envelope_xl.templates.cli:templates",
    "recalc": "envelope_xl.recalc.cli:recalc",
    "libreoffice": "envelope_xl.libreoffice.cli:libreoffice",
}

#: The package extra each subcommand needs (`excel` checks its own, on Windows only).
COMMAND_EXTRAS = {"templates": "templates", "recalc": "recalc", "libreoffice": "libreoffice"}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            if name in COMMAND_EXTRAS:
                from envelope_xl.extras import MissingExtraError, require

                try:
                    require(COMMAND_EXTRAS[name], f"envelope-xl {name}")
                except MissingExtraError as exc:
                    return _not_installed(name, str(exc))
            module, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


def _not_installed(name: str, message: str) -> click.Command:
    """Stands for a subcommand whose extra is missing: listed in --help, and says how to install it."""

    def refuse() -> None:
        fail(message)

    return click.Command(
        name,
        callback=refuse,
        help=message,
        short_help="(not installed: " + message.rpartition(": ")[2] + ")",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def require_extra(extra: str, what: str) -> None:
    """Stop with one line naming the install command when `extra` is not installed."""
    from envelope_xl.extras import MissingExtraError, require

    try:
        require(extra, what)
    except MissingExtraError as exc:
        fail(str(exc))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="envelope-xl")
def main() -> None:
    """Back-of-the-envelope estimates for ML systems: memory, storage, throughput, training time."""


def run() -> None:
    """The console command: like `main`, but a usage error is one line on stderr (status 2)."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        fail(exc.format_message() + hint)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)


def fail(message: str, status: int = 2) -> NoReturn:
    """Bad usage or input: one line on stderr and exit status 2 (every subcommand uses this)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _literal(text: str) -> Any:
    """An argument as a spreadsheet would read it: TRUE/FALSE, a number, "" for empty, or text."""
    upper = text.strip().upper()
    if upper in ("TRUE", "FALSE"):
        return upper == "TRUE"
    if text.strip() == "":
        return None
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    try:
        return float(text) if text.isascii() else text
    except ValueError:
        return text


def _parse(function: str, raw: tuple[str, ...]) -> tuple[str, list[Any], dict[str, Any]]:
    """Split ARG... into positional values and `name=value` options of `function`."""
    from envelope_xl.catalog import get

    spec = get(function)
    names = [a.name for a in spec.args]
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for item in raw:
        key, eq, value = item.partition("=")
        if eq and _NAMED.fullmatch(key.strip()):
            name = key.strip().lower()
            if name not in names:
                raise InputError(spec.name, key, f"expected an argument name of {spec.name}: {', '.join(names)}")
            if name in kwargs or names.index(name) < len(args):
                raise InputError(spec.name, item, f"{name} is already given")
            kwargs[name] = _literal(value)
        elif kwargs:
            raise InputError(spec.name, item, "expected name=value after a named argument")
        else:
            args.append(_literal(item))
    return spec.name, args, kwargs


#: `name=value` on the command line: an argument given by name.
_NAMED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain(value: Any) -> str:
    """A value for scripts: numbers in full precision, tables as tab-separated rows."""
    if isinstance(value, list):
        return "\n".join("\t".join(_plain(cell) for cell in row) for row in value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return repr(value) if isinstance(value, float) else str(value)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("function")
@click.argument("args", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object: function, arguments, value, unit.")
def call(function: str, args: tuple[str, ...], as_json: bool) -> None:
    """Evaluate one catalog FUNCTION with spreadsheet-style ARGS.

    \b
    Arguments are numbers (7e9), TRUE/FALSE, text, "" for an empty optional argument,
    or name=value for an optional argument by name:
      envelope-xl call TRAIN_MEM 7e9 bf16 adam          -> 112.0
      envelope-xl call train_mem 7e9 gpus=64 zero_stage=3
    """
    from envelope_xl.catalog import bind, get

    try:
        name, values, options = _parse(function, args)
        spec = get(name)
        bound = bind(spec, tuple(values), options)
        value = spec.fn(*bound)
    except InputError as exc:
        fail(str(exc))
    if as_json:
        given = dict(zip((a.name for a in spec.args), bound, strict=True))
        unit = spec.unit_for(given)
        click.echo(json.dumps({"function": spec.name, "args": given, "value": value, "unit": unit}))
    else:
        click.echo(_plain(value))


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("function")
@click.argument("args", nargs=-1)
def explain(function: str, args: tuple[str, ...]) -> None:
    """Print the reasoning chain of FUNCTION for ARGS: assumptions, steps, answer, source.

    \b
      envelope-xl explain TRAIN_MEM 7e9 bf16 adam
    """
    from envelope_xl.explain import explain as explain_call

    try:
        name, values, options = _parse(function, args)
        click.echo(explain_call(name, *values, **options).text())
    except InputError as exc:
        fail(str(exc))


@main.command()
@click.argument("function", required=False)
def sources(function: str | None) -> None:
    """Print the full references of FUNCTION (its formula and the reference data it reads),
    or of every work in the bibliography.

    \b
      envelope-xl sources TRAIN_MEM
      envelope-xl sources
    """
    from envelope_xl import bibliography

    if function is None:
        click.echo(bibliography.everything())
        return
    from envelope_xl.catalog import get

    try:
        spec = get(function)
    except InputError as exc:
        fail(str(exc))
    click.echo(bibliography.references(spec))


@main.command()
def functions() -> None:
    """List the catalog: each function's signature and what it answers."""
    from envelope_xl.catalog import CATALOG

    current = ""
    for spec in CATALOG.values():
        if spec.pillar != current:
            current = spec.pillar
            click.echo(f"\n{current}")
        click.echo(f"  {spec.signature}\n      {spec.summary}")


@main.command()
def example() -> None:
    """Run the built-in worked example: questions answered with their reasoning chains."""
    from envelope_xl.example import run

    run(click.echo, lambda: require_extra("recalc", "the workbook part of `envelope-xl example`"))
