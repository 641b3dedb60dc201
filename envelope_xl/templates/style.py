"""The shared look of the workbooks, and the writer of a plan sheet.

A plan sheet reads top to bottom as the argument a senior engineer makes aloud: the
inputs (one consistent fill, a drop-down or a validation rule, a note with meaning and
unit), then numbered steps, each with the formula in words, the value, its unit and the
assumption behind it. `PlanSheet` writes those rows and gives every input and key output
a defined name (`in_...`, `out_...`), so formulas read `=out_params*out_bytes/1e9`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
from openpyxl.workbook import Workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

AUTHOR = "envelope-xl"

# Colours: inputs are pale yellow with blue text (the spreadsheet modeller's convention).
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
FONT_NAME = "Calibri"  # LibreOffice substitutes the metric-compatible Carlito
INPUT_FONT = Font(name=FONT_NAME, color="1F4E79", bold=True)
UNUSED_FILL = PatternFill("solid", fgColor="E7E6E6")
UNUSED_FONT = Font(name=FONT_NAME, color="808080")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(name=FONT_NAME, color="FFFFFF", bold=True)
SECTION_FONT = Font(name=FONT_NAME, bold=True, size=12, color="1F4E79")
TITLE_FONT = Font(name=FONT_NAME, bold=True, size=16, color="1F4E79")
SUBTITLE_FONT = Font(name=FONT_NAME, italic=True, size=11, color="404040")
KEY_FILL = PatternFill("solid", fgColor="E2EFDA")
KEY_FONT = Font(name=FONT_NAME, bold=True)
MUTED_FONT = Font(name=FONT_NAME, italic=True, color="595959")
THIN = Side(style="thin", color="BFBFBF")
BOTTOM_RULE = Border(bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")  # numbers right, text left, as spreadsheets do

# Number formats that read naturally.
COUNT = "#,##0"
DECIMAL = "#,##0.00"
ONE_DECIMAL = "#,##0.0"
BYTES_EACH = "0.0##"
SCIENTIFIC = "0.00E+00"
PERCENT = "0%"
USD = '"$"#,##0'
USD_CENTS = '"$"#,##0.00'
THREE_DECIMALS = "#,##0.000"
TEXT = "@"

#: Column layout of a plan sheet: (header, width in characters).
PLAN_COLUMNS = (
    ("#", 5),
    ("Quantity", 30),
    ("Formula in words / meaning", 52),
    ("Value", 17),
    ("Unit", 11),
    ("Assumption, source or allowed values", 58),
)
LABEL, WORDS, VALUE, UNIT, NOTE = 2, 3, 4, 5, 6  # column numbers
#: Width of each plan column, by column number.
WIDTHS = {i: width for i, (_header, width) in enumerate(PLAN_COLUMNS, start=1)}
_WRAPPED = {WORDS: WIDTHS[WORDS], NOTE: WIDTHS[NOTE]}  # wrapped columns, for row heights
LINE_HEIGHT = 15.0
_CHARS_PER_WIDTH = 1.2


@dataclass(frozen=True)
class Rule:
    """What a cell accepts: an Excel data validation and the words that explain it."""

    kind: str  # "list", "whole", "decimal" or "custom"
    allowed: str  # shown to the user when an entry is refused
    formula1: str | None = None
    formula2: str | None = None
    operator: str | None = None


def choice(list_name: str, what: str) -> Rule:
    return Rule("list", f"{what} from the list", list_name)  # OOXML stores formulas without "="


def whole_between(low: int, high: int) -> Rule:
    return Rule("whole", f"a whole number from {low:,} to {high:,}", str(low), str(high), "between")


def whole_at_least(low: int) -> Rule:
    return Rule("whole", f"a whole number >= {low:,}", str(low), operator="greaterThanOrEqual")


def positive() -> Rule:
    return Rule("decimal", "a number > 0", "0", operator="greaterThan")


def at_least(low: float) -> Rule:
    return Rule("decimal", f"a number >= {low:g}", f"{low:g}", operator="greaterThanOrEqual")


def fraction() -> Rule:
    # (0, 1]: Excel's "between" includes 0, so the rule is a formula on the cell itself.
    return Rule("custom", "a fraction above 0 and at most 1 (0.4 = 40%)", "AND(ISNUMBER({cell}),{cell}>0,{cell}<=1)")


def non_negative_up_to(high: float) -> Rule:
    return Rule("decimal", f"a number from 0 to {high:g}", "0", f"{high:g}", "between")


def set_columns(ws: Worksheet, columns: Sequence[tuple[str, float]]) -> None:
    for i, (_header, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


def header_row(ws: Worksheet, row: int, headers: Sequence[str], first_column: int = 1) -> None:
    for i, text in enumerate(headers):
        cell = ws.cell(row, first_column + i, text)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(vertical="center", wrap_text=True)


def print_one_page_wide(ws: Worksheet, landscape: bool = True) -> None:
    """Fit the sheet to one page wide (as many pages tall as needed), header rows repeated."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5


def note(text: str, width: int = 320, height: int = 110) -> Comment:
    comment = Comment(text, AUTHOR)
    comment.width, comment.height = width, height
    return comment


def define(wb: Workbook, name: str, ws: Worksheet, ref: str) -> None:
    """A workbook-scoped name for a cell or range of `ws` (absolute reference)."""
    if name in wb.defined_names:
        raise ValueError(f"defined name {name} is used twice")
    target = f"{quote_sheetname(ws.title)}!{absolute_coordinate(ref)}"
    wb.defined_names[name] = DefinedName(name, attr_text=target)


def validate(ws: Worksheet, cell: str, rule: Rule, title: str) -> None:
    """Attach `rule` to `cell`: refused entries get a message saying what is allowed."""
    formula1 = rule.formula1.format(cell=cell) if rule.formula1 else None
    dv = DataValidation(
        type=rule.kind, formula1=formula1, formula2=rule.formula2, operator=rule.operator,
        allow_blank=False, showErrorMessage=True, showInputMessage=True,
        errorTitle=f"{title}: not allowed"[:32], error=f"{title}: expected {rule.allowed}."[:255],
        promptTitle=title[:32], prompt=f"Expected {rule.allowed}."[:255],
    )
    dv.add(cell)
    ws.add_data_validation(dv)


def rows_for(*texts: tuple[str, float]) -> float:
    """Row height fitting wrapped texts, given (text, column width) pairs.

    Word-wraps each text at about 1.2 characters per unit of column width (the width unit
    is one digit of the default font; average text is narrower).
    """
    lines = max((len(textwrap.wrap(text, int(width * _CHARS_PER_WIDTH))) for text, width in texts if text), default=1)
    slack = 1 if lines >= 4 else 0  # long citations wrap less evenly than the estimate
    return (max(1, lines) + slack) * LINE_HEIGHT


#: What the third line of a plan sheet says: where the inputs are and what the rest is.
HOW_TO = (
    "Fill in the yellow cells ({}). Every other number is computed below, step by step, with the assumption "
    "behind it."
)
HOW_TO_WITH_LISTS = HOW_TO.format("drop-downs offer the catalog; each has a note")


class PlanSheet:
    """Writes a plan sheet row by row: title, inputs, numbered steps, checks."""

    @classmethod
    def in_new_workbook(cls, sheet_title: str, title: str, question: str, how_to: str) -> PlanSheet:
        """A plan sheet as the first sheet of a new workbook (`plan.wb`)."""
        wb = Workbook()
        wb.active.title = sheet_title
        return cls(wb, wb.active, title, question, how_to)

    def __init__(self, wb: Workbook, ws: Worksheet, title: str, question: str, how_to: str):
        self.wb, self.ws = wb, ws
        self.row = 1
        self.step_number = 0
        self.input_rows: list[int] = []
        set_columns(ws, PLAN_COLUMNS)
        ws.sheet_view.showGridLines = False
        ws.cell(1, 1, title).font = TITLE_FONT
        ws.cell(2, 1, question).font = SUBTITLE_FONT
        legend = ws.cell(3, 1, how_to)
        legend.font = MUTED_FONT
        self.row = 5
        header_row(ws, self.row, [h for h, _ in PLAN_COLUMNS])
        ws.freeze_panes = ws.cell(self.row + 1, 1)
        ws.print_title_rows = f"{self.row}:{self.row}"
        print_one_page_wide(ws)
        self.row += 1

    def section(self, text: str) -> None:
        self.row += 1
        cell = self.ws.cell(self.row, 1, text)
        cell.font = SECTION_FONT
        for col in range(1, len(PLAN_COLUMNS) + 1):
            self.ws.cell(self.row, col).border = BOTTOM_RULE
        self.row += 1

    def input(self, name: str, label: str, value: object, unit: str, meaning: str, rule: Rule,
              number_format: str = COUNT, unused_when: str | None = None) -> str:
        """An input row: the value cell gets the input fill, a note, a validation and the name `in_<name>`.

        `unused_when` is a formula; when TRUE the cell is greyed out (e.g. custom sizes with a preset model).
        """
        ws, r = self.ws, self.row
        defined = f"in_{name}"
        self._texts(r, "", label, meaning, unit, f"Allowed: {rule.allowed}.")
        cell = ws.cell(r, VALUE, value)
        cell.fill, cell.font, cell.number_format = INPUT_FILL, INPUT_FONT, number_format
        cell.comment = note(f"{label}: {meaning}. Unit: {unit or 'none'}. Allowed: {rule.allowed}.")
        validate(ws, cell.coordinate, rule, label)
        define(self.wb, defined, ws, cell.coordinate)
        if unused_when:
            greyed = FormulaRule(formula=[unused_when], fill=UNUSED_FILL, font=UNUSED_FONT)
            ws.conditional_formatting.add(cell.coordinate, greyed)
        self.input_rows.append(r)
        self.row += 1
        return defined

    def step(self, name: str, label: str, words: str, formula: str, unit: str, assumption: str = "",
             number_format: str = DECIMAL, key: bool = False) -> str:
        """A reasoning step: number, quantity, formula in words, value (formula), unit, assumption.

        The value cell is named `out_<name>`; key results are highlighted.
        """
        ws, r = self.ws, self.row
        self.step_number += 1
        defined = f"out_{name}"
        self._texts(r, self.step_number, label, words, unit, assumption)
        cell = ws.cell(r, VALUE, formula if formula.startswith("=") else f"={formula}")
        cell.number_format = number_format
        if key:
            for col in (LABEL, VALUE):
                ws.cell(r, col).fill = KEY_FILL
                ws.cell(r, col).font = KEY_FONT
        define(self.wb, defined, ws, cell.coordinate)
        self.row += 1
        return defined

    def bar_chart(self, heading: str, title: str, rows: Sequence[tuple[str, str]], unit: str) -> None:
        """A small table of `rows` (label, formula or output name) and a horizontal bar chart of it."""
        ws = self.ws
        self.section(heading)
        first = self.row
        for label, formula in rows:
            ws.cell(self.row, LABEL, label)
            ws.cell(self.row, VALUE, f"={formula}").number_format = DECIMAL
            ws.cell(self.row, UNIT, unit)
            self.row += 1
        chart = BarChart()
        chart.type = "bar"
        chart.title = title
        chart.legend = None
        chart.y_axis.title = unit
        chart.y_axis.majorGridlines = None
        chart.add_data(Reference(ws, min_col=VALUE, min_row=first, max_row=self.row - 1), titles_from_data=False)
        chart.set_categories(Reference(ws, min_col=LABEL, min_row=first, max_row=self.row - 1))
        chart.x_axis.scaling.orientation = "maxMin"  # first row at the top
        chart.x_axis.delete = chart.y_axis.delete = False
        chart.width, chart.height = 22, 2 + 0.9 * len(rows)
        ws.add_chart(chart, f"B{self.row + 1}")
        self.row += 2 + round(chart.height * 2)

    def text(self, text: str, font: Font = MUTED_FONT) -> None:
        """A line of explanation under a section."""
        cell = self.ws.cell(self.row, LABEL, text)
        cell.font = font
        self.row += 1

    def _texts(self, r: int, number: object, label: str, words: str, unit: str, note_text: str) -> None:
        ws = self.ws
        for col, value in ((1, number), (LABEL, label), (WORDS, words), (UNIT, unit), (NOTE, note_text)):
            if isinstance(value, str):
                if value.startswith("="):
                    raise ValueError(f"text {value!r} would be read as a formula")
                value = value.replace("`", "")  # catalog texts quote argument names in Markdown
            cell = ws.cell(r, col, value if value != "" else None)
            cell.alignment = WRAP if col in _WRAPPED else TOP
        ws.cell(r, VALUE).alignment = TOP
        ws.row_dimensions[r].height = rows_for((words, WIDTHS[WORDS]), (note_text.replace('`', ''), WIDTHS[NOTE]))


def value_column_ref(row: int) -> str:
    """The value cell of a plan row, e.g. 'D12'."""
    return f"{get_column_letter(VALUE)}{row}"
