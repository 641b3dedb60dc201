"""The LibreOffice extension as built from the catalog (no LibreOffice needed, except to compile IDL)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from conftest import require

from envelope_xl.catalog import CATALOG, get
from envelope_xl.errors import InputError
from envelope_xl.libreoffice import addin, extension
from envelope_xl.libreoffice import cli as lo_cli

OOR = "{http://openoffice.org/2001/registry}"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture(scope="module")
def oxt(tmp_path_factory) -> Path:
    return extension.build(tmp_path_factory.mktemp("oxt") / "envelope-xl.oxt")


def _idl_methods(idl: str) -> dict[str, tuple[str, list[str]]]:
    methods = {}
    for line in idl.splitlines():
        line = line.strip()
        if "(" in line and line.endswith(");"):
            head, params = line[:-2].split("(", 1)
            result, name = head.rsplit(" ", 1)
            methods[name] = (result.strip(), [p.split()[-1] for p in params.split(",") if p.strip()])
    return methods


def test_idl_declares_one_method_per_catalog_function_with_its_arguments():
    methods = _idl_methods(extension.idl_source(extension.functions()))
    assert len(methods) == len(CATALOG)
    for name in CATALOG:
        spec = get(name)
        result, params = methods[addin.camel(name)]
        assert params == [addin.camel(a.name) for a in spec.args]
        assert result == ("sequence< sequence< any > >" if spec.table else "any")
        assert "_" not in addin.camel(name) and all("_" not in p for p in params)  # unoidl-write refuses '_'


def test_shipped_type_library_matches_the_catalog():
    shipped = (extension.SHIPPED_TYPES / "XEnvelope.idl").read_text(encoding="utf-8")
    assert shipped == extension.idl_source(extension.functions()), (
        "the catalog changed: run `envelope-xl libreoffice build --refresh-types` "
        "and commit envelope_xl/libreoffice/types"
    )


def test_shipped_type_library_is_what_unoidl_write_compiles():
    require("unoidl-write", None if extension.sdk_tool() else "Debian: apt-get install libreoffice-dev")
    idl = extension.idl_source(extension.functions())
    assert extension.compile_idl(idl) == (extension.SHIPPED_TYPES / "XEnvelope.rdb").read_bytes()


def test_configuration_gives_the_wizard_every_name_description_and_argument():
    root = ET.fromstring(extension.addins_xcu(extension.functions()))
    functions = root.find(f"node[@{OOR}name='AddInInfo']/node[@{OOR}name='{addin.IMPLEMENTATION_NAME}']"
                          f"/node[@{OOR}name='AddInFunctions']")
    nodes = {n.get(f"{OOR}name"): n for n in functions}
    assert set(nodes) == {addin.camel(n) for n in CATALOG}
    for name in CATALOG:
        spec, node = get(name), nodes[addin.camel(name)]
        props = {p.get(f"{OOR}name"): p.find("value") for p in node.findall("prop")}
        assert props["DisplayName"].text == spec.name and props["DisplayName"].get(LANG) == "en-US"
        assert props["Description"].text == spec.summary
        assert props["Category"].text == "Add-In"
        params = node.find(f"node[@{OOR}name='Parameters']")
        assert [p.get(f"{OOR}name") for p in params] == [addin.camel(a.name) for a in spec.args]
        for param, arg in zip(params, spec.args, strict=True):
            shown = {p.get(f"{OOR}name"): p.find("value").text for p in param.findall("prop")}
            assert shown["DisplayName"] == arg.name
            assert shown["Description"].startswith(arg.doc)
            assert ("optional; default" in shown["Description"]) == arg.optional


def test_archive_lists_what_it_holds_and_is_reproducible(oxt, tmp_path):
    with zipfile.ZipFile(oxt) as archive:
        names = set(archive.namelist())
        manifest = ET.fromstring(archive.read("META-INF/manifest.xml"))
    listed = {e.get("{http://openoffice.org/2001/manifest}full-path") for e in manifest}
    assert listed == {"XEnvelope.rdb", "CalcAddIns.xcu", extension.COMPONENT}
    assert listed <= names and "description.xml" in names
    assert {"pythonpath/envelope_xl/catalog.py", "pythonpath/envelope_xl/data/gpus.toml"} <= names
    assert not any("/libreoffice/" in n or "/recalc/" in n or n.endswith("cli.py") for n in names)
    assert extension.build(tmp_path / "again.oxt").read_bytes() == oxt.read_bytes()


def test_shipped_core_imports_with_the_standard_library_alone(oxt, tmp_path):
    """LibreOffice's Python has none of our dependencies: the core must not need them."""
    with zipfile.ZipFile(oxt) as archive:
        archive.extractall(tmp_path)
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]]\n"
        "import envelope_xl.catalog as c\n"
        "print(c.call('TRAIN_MEM', 7e9, 'bf16', 'adam'))\n"
        "print(sorted(m for m in ('click', 'openpyxl', 'numpy', 'formulas') if m in sys.modules))\n"
    )
    # -I -S: no site-packages, no user paths, no PYTHON* variables.
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(tmp_path / "pythonpath")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["112.0", "[]"]


def test_calc_arguments_become_core_arguments():
    spec = get("TRAIN_MEM")
    assert addin.cell_args(spec, (7e9, None, None, None, None, None)) == [7e9, "bf16", "adam", 1, 0, "GB"]
    # A one-cell range counts as its value (gpus=8 without ZeRO sharding leaves 112 GB).
    assert addin.evaluate(spec, (7e9, "bf16", "adam", ((8.0,),), 3.0, None)) == 14.0
    assert addin.evaluate(spec, (7e9, "bf16", "adam", None, None, "MB")) == 112000.0
    with pytest.raises(InputError, match="gpus: got 'a 2x1 range'"):
        addin.evaluate(spec, (7e9, "bf16", "adam", ((1.0,), (2.0,)), None, None))
    with pytest.raises(InputError, match="optimizer: got 'adma'"):
        addin.evaluate(spec, (7e9, "bf16", "adma", None, None, None))


def test_tables_and_texts_come_back_as_calc_takes_them():
    table = addin.evaluate(get("TRAIN_MEM_BREAKDOWN"), (7e9, None, None, None, None, None))
    assert table[0] == ("component", "GB") and table[-1] == ("total", 112.0)
    assert all(isinstance(row, tuple) for row in table)
    assert addin.evaluate(get("HUMAN_BYTES"), (112e9, None)) == "112 GB"
    assert addin.cell_result(3) == 3.0 and type(addin.cell_result(3)) is float
    with pytest.raises(ValueError, match="finite"):
        addin.cell_result(float("nan"))


def test_programmatic_names_are_distinct():
    names = [extension.programmatic_name(n) for n in CATALOG]
    assert len(set(names)) == len(names)
    assert extension.programmatic_name("TRAIN_MEM") == "ORG.ENVELOPEXL.ENVELOPEADDIN.TRAINMEM"


def test_build_command_writes_the_extension_and_never_overwrites_silently(tmp_path):
    target = tmp_path / "out.oxt"
    first = CliRunner().invoke(lo_cli.libreoffice, ["build", "-o", str(target)])
    assert first.exit_code == 0 and target.is_file(), first.output
    again = CliRunner().invoke(lo_cli.libreoffice, ["build", "-o", str(target)])
    assert again.exit_code == 2 and "exists; pass --force" in again.output
    wrong = CliRunner().invoke(lo_cli.libreoffice, ["build", "-o", str(tmp_path / "out.zip")])
    assert wrong.exit_code == 2 and "ending in .oxt" in wrong.output


def test_install_as_root_needs_shared(monkeypatch):
    monkeypatch.setattr(lo_cli, "_is_root", lambda: True)
    result = CliRunner().invoke(lo_cli.libreoffice, ["install"])
    assert result.exit_code == 2
    assert "refuses to do so as root" in result.output and "--shared" in result.output


@pytest.fixture
def fake_unopkg(tmp_path, monkeypatch):
    """A stand-in unopkg that records its arguments (and whether the .oxt it got exists)."""
    log = tmp_path / "calls.txt"
    script = tmp_path / "unopkg"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'for a in "$@"; do case "$a" in *.oxt) test -f "$a" && echo present >> ' f"{log};; esac; done\n"
        'case "$1" in remove) echo "ERROR: There is no such extension deployed: $2" >&2; exit 1;; esac\n'
        'if [ -n "$LOCKED" ]; then echo "ERROR: unopkg cannot be started. The lock file indicates it is already '
        'running. If this does not apply, delete the lock file at:" >&2; echo "/home/u/.lock" >&2; exit 1; fi\n'
    )
    script.chmod(0o755)
    monkeypatch.setattr(lo_cli.profile, "unopkg", lambda: script)
    monkeypatch.setattr(lo_cli, "_is_root", lambda: False)
    return log


def test_install_adds_the_built_extension_to_the_users_profile(fake_unopkg):
    result = CliRunner().invoke(lo_cli.libreoffice, ["install"])
    assert result.exit_code == 0, result.output
    call, present = fake_unopkg.read_text().splitlines()
    assert call.startswith("add --force --suppress-license /") and call.endswith("envelope-xl.oxt")
    assert present == "present" and "TRAIN_MEM" in result.output
    CliRunner().invoke(lo_cli.libreoffice, ["install", "--shared"])
    assert fake_unopkg.read_text().splitlines()[2].startswith("add --force --suppress-license --shared /")


def test_uninstall_of_a_missing_extension_says_so(fake_unopkg):
    result = CliRunner().invoke(lo_cli.libreoffice, ["uninstall"])
    assert result.exit_code == 0 and "not installed" in result.output
    assert fake_unopkg.read_text().strip() == f"remove {extension.EXTENSION_ID}"


def test_install_while_libreoffice_runs_says_to_close_it(fake_unopkg, monkeypatch):
    monkeypatch.setenv("LOCKED", "1")
    result = CliRunner().invoke(lo_cli.libreoffice, ["install"])
    assert result.exit_code == 1
    assert "LibreOffice is running for this user: close it" in result.output and "/home/u/.lock" in result.output
