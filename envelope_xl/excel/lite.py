"""The two files an xlwings Lite workbook needs to offer the envelope-xl functions.

xlwings Lite (free for personal and commercial use) runs Python inside Excel on
Windows, macOS and the web, with Pyodide. A workbook keeps its code in `main.py` and its
packages in `requirements.txt`; Lite installs them with micropip, which takes pure-Python
wheels from PyPI or Pyodide's own builds. In Pyodide, envelope-xl (a pure-Python wheel)
requires nothing but xlwings, which Lite's requirements.txt lists already (xlwings has a
pure-Python wheel too): the line below downloads envelope-xl's wheel alone.

Lite registers the decorated functions `main.py` holds, imported ones included, without
a namespace: a cell calls `=TRAIN_MEM(...)`. The generated `main.py` only imports them
from `envelope_xl.udfs`, so the functions, their descriptions and their arithmetic all
come from the installed package, never from a copy kept in the workbook.
"""

from __future__ import annotations

from pathlib import Path

from envelope_xl import __version__

MAIN_PY = "main.py"
REQUIREMENTS_TXT = "requirements.txt"


def requirements(wheel_url: str | None = None) -> str:
    """The lines to add to the workbook's requirements.txt.

    `wheel_url` installs envelope-xl from a wheel served over HTTPS (with CORS allowed)
    instead of from PyPI.
    """
    package = wheel_url or f"envelope-xl=={__version__}"
    return (
        f"# envelope-xl {__version__} for xlwings Lite (written by `envelope-xl excel lite`).\n"
        "# Add this line to the workbook's requirements.txt, below the lines Lite put there\n"
        "# (keep its xlwings line: envelope-xl works with the xlwings 0.33+ Lite installs).\n"
        f"{package}\n"
    )


def main_py() -> str:
    """The workbook's main.py: the catalog's Excel functions, imported from the package."""
    return (
        f'"""Excel functions from envelope-xl {__version__}: type =TRAIN_MEM(7e9,"bf16","adam") in a cell.\n'
        "\n"
        "Written by `envelope-xl excel lite`. The functions, their descriptions and their\n"
        "arithmetic live in the envelope-xl package (requirements.txt); importing them here\n"
        "is what makes xlwings Lite register them under their Excel names.\n"
        '"""\n'
        "\n"
        "from envelope_xl.udfs import *  # noqa: F403\n"
    )


def write(directory: Path, force: bool = False, wheel_url: str | None = None) -> list[Path]:
    """Write main.py and requirements.txt into `directory`; existing files only with `force`.

    Raises FileExistsError naming the files that would be replaced.
    """
    files = {directory / MAIN_PY: main_py(), directory / REQUIREMENTS_TXT: requirements(wheel_url)}
    existing = [str(path) for path in files if path.exists()]
    if existing and not force:
        raise FileExistsError(f"{', '.join(existing)} already exist; use --force to replace them")
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)
