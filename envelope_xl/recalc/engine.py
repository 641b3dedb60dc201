"""What a recalculation engine is: it computes every formula cell of a workbook.

Engines only compute. Reading the package safely happens before them and writing the
values back into the untouched original happens after them, so every engine gets the
same safety limits, write-back, report and exit statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class CellError:
    """A formula cell that evaluates to a spreadsheet error.

    `code` is the error value as a spreadsheet shows it ("#VALUE!", "#NAME?", "#DIV/0!",
    "#REF!", "#N/A", "#NUM!", "#NULL!"); `reason` says why when the engine knows (for an
    envelope function, the InputError message).
    """

    code: str
    reason: str = ""


#: A computed cell value: a number, text, a boolean, or an error.
CellValue = float | str | bool | CellError

#: (sheet name, cell reference such as "B2") -> computed value, for every formula cell.
Results = dict[tuple[str, str], CellValue]


class Engine(Protocol):
    """A spreadsheet engine able to evaluate envelope functions."""

    #: "python" or "libreoffice", as `--engine` names it.
    name: str
    #: What the checks should keep for this engine (`sheetxml.SCAN` or `INPUTS`), so it
    #: need not read the file again.
    keep: str

    def compute(self, path: Path, inventory=None) -> Results:
        """Evaluate every formula cell of the workbook at `path` (never modified).

        Cells of an array result (a `..._BREAKDOWN` spill or array formula) are all
        reported, each under its own reference. `inventory` is what `safety.check_package`
        found in this file, if the caller has it.
        """
        ...
