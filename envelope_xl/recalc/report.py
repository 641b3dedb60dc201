"""What a recalculation run reports: a summary table, and a JSON or CSV file for CI."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from envelope_xl.recalc.runner import ERRORS, FAILED, OK, REFUSED, FileResult

#: Exit statuses of `envelope-xl recalc`.
EXIT_OK, EXIT_ERROR_CELLS, EXIT_BAD_INPUT = 0, 1, 2

CSV_COLUMNS = (
    "file", "output", "status", "engine", "formula_cells", "error_cells", "seconds", "message",
    "sheet", "cell", "formula", "error", "reason",
)


def exit_status(results: Sequence[FileResult], allow_errors: bool = False) -> int:
    """2 if a file could not be read or was refused, else 1 if a formula cell is an error
    (unless allowed), else 0."""
    if any(r.status in (FAILED, REFUSED) for r in results):
        return EXIT_BAD_INPUT
    if not allow_errors and any(r.status == ERRORS for r in results):
        return EXIT_ERROR_CELLS
    return EXIT_OK


def summary(results: Sequence[FileResult]) -> dict[str, int]:
    return {
        "files": len(results),
        "ok": sum(r.status == OK for r in results),
        "with_error_cells": sum(r.status == ERRORS for r in results),
        "refused": sum(r.status == REFUSED for r in results),
        "failed": sum(r.status == FAILED for r in results),
        "formula_cells": sum(r.formula_cells for r in results),
        "error_cells": sum(len(r.errors) for r in results),
    }


def write_report(path: Path, results: Sequence[FileResult], status: int) -> None:
    """The report as JSON (`.json`) or CSV (`.csv`): every file, and every error cell."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            for r in results:
                head = [r.source, r.output, r.status, r.engine, r.formula_cells, len(r.errors), f"{r.seconds:.3f}",
                        r.message]
                for e in r.errors or [None]:
                    tail = [e.sheet, e.cell, e.formula, e.error, e.reason] if e else [""] * 5
                    writer.writerow(head + tail)
        return
    files = [
        {
            "file": r.source, "output": r.output, "status": r.status, "engine": r.engine,
            "formula_cells": r.formula_cells, "error_cells": len(r.errors), "seconds": round(r.seconds, 3),
            "message": r.message, "errors": [asdict(e) for e in r.errors],
        }
        for r in results
    ]
    document = {"exit_status": status, "summary": summary(results), "files": files}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def print_summary(results: Sequence[FileResult], console: Console, max_errors: int = 20) -> None:
    """A table of files (formula cells, errors, seconds), then the first error cells and failures."""
    table = Table(title="envelope-xl recalc", title_justify="left")
    for column, justify in (("file", "left"), ("status", "left"), ("engine", "left"), ("formula cells", "right"),
                            ("errors", "right"), ("seconds", "right")):
        table.add_column(column, justify=justify)
    for r in results:
        table.add_row(r.source, r.status, r.engine or "-", str(r.formula_cells), str(len(r.errors)), f"{r.seconds:.2f}")
    console.print(table)
    shown = 0
    for r in results:
        if r.message:
            console.print(f"{r.source}: {r.message}", markup=False, highlight=False)
        for e in r.errors:
            shown += 1
            if shown <= max_errors:
                reason = f" ({e.reason})" if e.reason else ""
                console.print(f"{r.source}: {e.sheet}!{e.cell} {e.formula} -> {e.error}{reason}",
                              markup=False, highlight=False)
    if shown > max_errors:
        console.print(f"... and {shown - max_errors} more error cells: see --report FILE.json", highlight=False)
