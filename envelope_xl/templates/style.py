"""The shared look of the workbooks, and the writer of a plan sheet.

A plan sheet reads top to bottom as the argument a senior engineer makes aloud: the
inputs (one consistent fill, a drop-down or a validation rule, a note with meaning and
unit), then numbered steps, each with the formula in words, the value, its unit and the
assumption behind it. `PlanSheet` writes those rows and gives every input and key output
a defined name (`in_...`, `out_...`), so formulas read `=out_params*out_bytes/1e9`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.comments import Comment
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
from openpyxl.workbook import Workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.pagebreak import Break
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
# Counts and dollars switch to scientific notation where digits would no longer fit the
# column (a cell showing ### hides the number); those quantities are never negative.
COUNT = "[>=1E+15]0.00E+00;#,##0"
DECIMAL = "#,##0.00"
ONE_DECIMAL = "#,##0.0"
BYTES_EACH = "0.0"  # 4.0, 2.0, 0.5: one decimal for every format
SCIENTIFIC = "0.00E+00"
PERCENT = "0%"
USD = '[>=1E+12]"$"0.00E+00;"$"#,##0'
USD_CENTS = '[>=1E+12]"$"0.00E+00;"$"#,##0.00'
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
_WRAPPED = {LABEL: WIDTHS[LABEL], WORDS: WIDTHS[WORDS], NOTE: WIDTHS[NOTE]}  # wrapped columns, for row heights
LINE_HEIGHT = 15.0
_CHARS_PER_WIDTH = 1.22


@dataclass(frozen=True)
class Rule:
    """What a cell accepts: an Excel data validation, the words that explain it, and a test.

    `test` is a formula template that is TRUE exactly for the values allowed, `{cell}`
    standing for the cell: the check rows use it, since Delete and pasting bypass a
    validation. A "custom" validation is the test itself.
    """

    kind: str  # "list", "whole", "decimal" or "custom"
    allowed: str  # shown to the user when an entry is refused
    test: str
    formula1: str | None = None
    formula2: str | None = None
    operator: str | None = None

    def holds(self, cell: str) -> str:
        """The test for `cell` (a reference or a defined name)."""
        return self.test.format(cell=cell)


def _number_test(condition: str) -> str:
    # IF first: a text in a number cell makes INT() an error, and AND evaluates every argument.
    return f"IF(ISNUMBER({{cell}}),{condition},FALSE)"


def _number(value: float) -> str:
    """A bound as a formula writes it: 1000000 stays whole, 1e16 becomes 1E+16."""
    return f"{value:g}".upper() if value >= 1e6 else f"{value:g}"


def _shown(value: float) -> str:
    """A bound as the messages show it: 0.5, 1,000,000 or 1e16 (as it may be typed)."""
    if value >= 1e7:
        return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def choice(list_name: str, what: str) -> Rule:
    # OOXML stores formulas without "="; an empty cell or a misspelt entry finds no match.
    return Rule("list", f"{what} from the list", f"ISNUMBER(MATCH({{cell}},{list_name},0))", list_name)


def whole_between(low: int, high: int) -> Rule:
    test = _number_test(f"AND({{cell}}>={low},{{cell}}<={_number(high)},{{cell}}=INT({{cell}}))")
    return Rule("whole", f"a whole number from {_shown(low)} to {_shown(high)}", test, str(low), _number(high),
                "between")


#: Upper bounds where an input names none: far beyond any real plan, low enough to keep every
#: result readable (a number too long for its cell shows ###).
LARGEST_NUMBER = 1e16
LARGEST_WHOLE = 10_000_000


def whole_at_least(low: int, high: int = LARGEST_WHOLE) -> Rule:
    return whole_between(low, high)


def at_least(low: float, high: float = 1e6) -> Rule:
    return between(low, high)


def non_negative_up_to(high: float) -> Rule:
    return between(0, high)


def positive(high: float = LARGEST_NUMBER) -> Rule:
    # Above 0, so not Excel's "between" (which includes the low end): a custom rule.
    test = _number_test(f"AND({{cell}}>0,{{cell}}<={_number(high)})")
    return Rule("custom", f"a number above 0 and at most {_shown(high)}", test, test)


def between(low: float, high: float) -> Rule:
    test = _number_test(f"AND({{cell}}>={_number(low)},{{cell}}<={_number(high)})")
    return Rule("decimal", f"a number from {_shown(low)} to {_shown(high)}", test, _number(low), _number(high),
                "between")


def fraction() -> Rule:
    test = _number_test("AND({cell}>0,{cell}<=1)")
    return Rule("custom", "a fraction above 0 and at most 1 (0.4 = 40%)", test, test)


def set_columns(ws: Worksheet, columns: Sequence[tuple[str, float]]) -> None:
    for i, (_header, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


def header_row(ws: Worksheet, row: int, headers: Sequence[str], first_column: int = 1) -> None:
    for i, text in enumerate(headers):
        cell = ws.cell(row, first_column + i, text)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(vertical="center", wrap_text=True)


#: The widest sheet (in characters of column width) printed one page wide: a landscape A4 page
#: holds about 109 at full size, so this prints at about 60%, as the plan sheets (173) do.
ONE_PAGE_CHARS = 180


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


def validate(ws: Worksheet, cells: str, rule: Rule, title: str) -> None:
    """Attach `rule` to `cells` (a cell or range): refused entries get a message saying what is allowed.

    A custom rule's formula is written for the range's top-left cell with relative
    references, as Excel and LibreOffice apply it to every other cell by offset.
    """
    top_left = cells.split(":")[0].replace("$", "")
    formula1 = rule.holds(top_left) if rule.kind == "custom" else rule.formula1
    dv = DataValidation(
        type=rule.kind, formula1=formula1, formula2=rule.formula2, operator=rule.operator,
        allow_blank=False, showErrorMessage=True, showInputMessage=True,
        errorTitle=dialog_title(f"{title}: not allowed", title), error=f"{title}: expected {rule.allowed}."[:255],
        promptTitle=dialog_title(title, "Allowed entries"), prompt=f"Expected {rule.allowed}."[:255],
    )
    dv.add(cells)
    ws.add_data_validation(dv)


#: The longest title a validation dialog may have (the OOXML schema's limit).
DIALOG_TITLE_LIMIT = 32


def dialog_title(*choices: str) -> str:
    """The first of `choices` that fits a dialog title whole (the message says the rest)."""
    return next((c for c in choices if len(c) <= DIALOG_TITLE_LIMIT), "Entry not allowed")


def rows_for(*texts: tuple[str, float]) -> float:
    """Row height fitting wrapped texts, given (text, column width) pairs.

    Word-wraps each paragraph of a text at about 1.22 characters per unit of column width
    (the unit is one digit of the default font; average text is narrower), as Calibri and
    its metric twin Carlito set the workbooks' texts.
    """
    def lines(text: str, width: float) -> int:
        return sum(max(1, len(textwrap.wrap(p, int(width * _CHARS_PER_WIDTH)))) for p in text.split("\n"))

    return max((lines(text, width) for text, width in texts if text), default=1) * LINE_HEIGHT


#: What the third line of a plan sheet says: where the inputs are and what the rest is.
HOW_TO = (
    "Fill in the yellow cells ({}). Every other number is computed below, step by step, with the assumption "
    "behind it."
)
HOW_TO_WITH_LISTS = HOW_TO.format("drop-downs offer the catalog; each has a note")

# How a check looks: failed checks are unmistakable, passed ones quiet.
FAIL_FILL = PatternFill("solid", fgColor="FFC7CE")
FAIL_FONT = Font(name=FONT_NAME, color="9C0006", bold=True)
PASS_FILL = PatternFill("solid", fgColor="C6EFCE")
PASS_FONT = Font(name=FONT_NAME, color="006100", bold=True)
SUMMARY_ROW = 4
PASSED = "OK"
ALL_PASS_PREFIX = "All "
FAILED_PREFIX = "ATTENTION: "
#: What a result shows while an input it needs is empty or out of range (its check row says which).
BLANK = '""'
NOT_CHECKED = "not checked: an input it needs is empty or out of range (see the input checks)"
_NAME = re.compile(r"\b(?:in|out)_\w+\b")


@dataclass(frozen=True)
class _Input:
    name: str
    label: str
    rule: Rule
    unused_when: str | None


class PlanSheet:
    """Writes a plan sheet row by row: title, inputs, numbered steps, checks.

    Every formula written through it is guarded: it shows a blank while an input it
    depends on (directly or through earlier steps) fails its check, or while a
    condition given with `when` (e.g. "a batch fits") is false, so an empty or
    out-of-range input never produces a silent number. `checks()` closes the sheet with
    a check row per input and a summary line at the top.
    """

    @classmethod
    def in_new_workbook(cls, sheet_title: str, title: str, question: str, how_to: str,
                        repeat_header: bool = True) -> PlanSheet:
        """A plan sheet as the first sheet of a new workbook (`plan.wb`)."""
        wb = Workbook()
        wb.active.title = sheet_title
        return cls(wb, wb.active, title, question, how_to, repeat_header)

    def __init__(self, wb: Workbook, ws: Worksheet, title: str, question: str, how_to: str,
                 repeat_header: bool = True):
        """`repeat_header`: print the column header on every page (not where tables with headers
        of their own follow the steps, as it would print over them)."""
        self.wb, self.ws = wb, ws
        self.row = 1
        self.step_number = 0
        self.inputs: list[_Input] = []
        self.conditions: dict[str, frozenset[str]] = {}  # defined name -> what must hold for it to show
        self.check_rows: list[int] = []
        set_columns(ws, PLAN_COLUMNS)
        ws.sheet_view.showGridLines = False
        ws.cell(1, 1, title).font = TITLE_FONT
        ws.cell(2, 1, question).font = SUBTITLE_FONT
        legend = ws.cell(3, 1, how_to)
        legend.font = MUTED_FONT
        self.row = 5
        header_row(ws, self.row, [h for h, _ in PLAN_COLUMNS])
        ws.freeze_panes = ws.cell(self.row + 1, 1)
        if repeat_header:
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
        self.inputs.append(_Input(name, label, rule, unused_when))
        self.conditions[defined] = frozenset({f'{_input_check(name)}="{PASSED}"'})
        self.row += 1
        return defined

    def guarded(self, formula: str, also: Sequence[str] = (), when: str | None = None, otherwise: str = BLANK,
                otherwise_when: str | None = None) -> tuple[str, frozenset[str]]:
        """`formula` (no "=") shown only while what it needs holds, else `otherwise`; and those conditions.

        The conditions are those of every input and step the formula names, plus those of
        the names in `also` (for references by cell address) and `when`. With
        `otherwise_when`, a failed `when`-type condition (one not about an input) shows
        that instead.
        """
        needed = set(_NAME.findall(formula)) | set(also)
        conditions = set().union(*(self.conditions.get(n, frozenset()) for n in needed))
        if when:
            conditions.add(when)
        inputs = sorted(c for c in conditions if c.startswith(_INPUT_CHECK))
        others = sorted(conditions - set(inputs))
        if otherwise_when is not None and others:
            formula = f"IF({_all(others)},{formula},{otherwise_when})"
            others = []
        if inputs or others:
            formula = f"IF({_all(inputs + others)},{formula},{otherwise})"
        return formula, frozenset(conditions)

    def step(self, name: str, label: str, words: str, formula: str, unit: str, assumption: str = "",
             number_format: str = DECIMAL, key: bool = False, when: str | None = None,
             otherwise: str = BLANK) -> str:
        """A reasoning step: number, quantity, formula in words, value (formula), unit, assumption.

        The value cell is named `out_<name>`; key results are highlighted. It is blank (or
        `otherwise`) while an input it needs fails its check or `when` is false.
        """
        ws, r = self.ws, self.row
        self.step_number += 1
        defined = f"out_{name}"
        self._texts(r, self.step_number, label, words, unit, assumption)
        guarded, conditions = self.guarded(formula.removeprefix("="), when=when, otherwise=otherwise)
        cell = ws.cell(r, VALUE, f"={guarded}")
        cell.number_format = number_format
        if key:
            for col in (LABEL, VALUE):
                ws.cell(r, col).fill = KEY_FILL
                ws.cell(r, col).font = KEY_FONT
        define(self.wb, defined, ws, cell.coordinate)
        self.conditions[defined] = conditions
        self.row += 1
        return defined

    def check(self, name: str, label: str, words: str, formula: str, assumption: str = "",
              not_run: str | None = None) -> str:
        """A check row: "OK", or a message saying what is wrong and what to do.

        It says "not checked" while an input it needs fails, or `not_run` while a `when`
        condition of a step it reads is false.
        """
        self._start_checks()
        self.check_rows.append(self.row)
        ws, r = self.ws, self.row
        self.step_number += 1
        # Unit and note left empty: a message longer than the value cell reads on across them.
        self._texts(r, self.step_number, label, f"{words} ({assumption})" if assumption else words, "", "")
        guarded, _ = self.guarded(formula, otherwise=_text(NOT_CHECKED),
                                  otherwise_when=None if not_run is None else _text(not_run))
        cell = ws.cell(r, VALUE, f"={guarded}")
        cell.number_format = TEXT
        define(self.wb, f"out_{name}", ws, cell.coordinate)
        self.row += 1
        return f"out_{name}"

    def checks(self) -> None:
        """A check row for every input (empty, a choice not in its list, out of range), then the
        summary line at the top saying whether every check of the sheet passes.

        Call it right after the sheet's own checks, so all check rows are one block.
        """
        self._start_checks()
        for spec in self.inputs:
            self.check_rows.append(self.row)
            self.step_number += 1
            r = self.row
            where = next(iter(self.wb.defined_names[f"in_{spec.name}"].destinations))[1].replace("$", "")
            used = "" if spec.unused_when is None else " (checked only when used)"
            self._texts(r, self.step_number, spec.label, f"input in {where}: {spec.rule.allowed}{used}", "", "")
            ref = f"in_{spec.name}"
            allowed = spec.rule.allowed
            formula = (f"IF(ISBLANK({ref}),{_text(f'empty: enter {allowed}')},IF({spec.rule.holds(ref)},"
                       f'"{PASSED}","got "&{ref}&{_text(f"; expected {allowed}")}))')
            if spec.unused_when:
                formula = f'IF({spec.unused_when},"{PASSED}",{formula})'
            cell = self.ws.cell(r, VALUE, f"={formula}")
            cell.number_format = TEXT
            define(self.wb, _input_check(spec.name), self.ws, cell.coordinate)
            self.row += 1
        first, last = self.check_rows[0], self.check_rows[-1]
        if self.check_rows != list(range(first, last + 1)):
            raise ValueError("check rows must be one block: call checks() right after the sheet's own checks")
        area = f"{get_column_letter(VALUE)}{first}:{get_column_letter(VALUE)}{last}"
        define(self.wb, "out_all_checks", self.ws, area)
        top = f"{get_column_letter(VALUE)}{first}"
        self.ws.conditional_formatting.add(area, FormulaRule(formula=[f'{top}<>"{PASSED}"'], fill=FAIL_FILL,
                                                             font=FAIL_FONT))
        self.ws.conditional_formatting.add(area, FormulaRule(formula=[f'{top}="{PASSED}"'], font=PASS_FONT))
        self._summary()

    def _start_checks(self) -> None:
        if not self.check_rows:
            self.text("A failed check turns red and says what to do. Results that need an input that is empty or "
                      "out of range stay blank.")

    def _summary(self) -> None:
        ws, r = self.ws, SUMMARY_ROW
        failed = f'(ROWS(out_all_checks)-COUNTIF(out_all_checks,"{PASSED}"))'
        steps = f"{ws.cell(self.check_rows[0], 1).value} to {ws.cell(self.check_rows[-1], 1).value}"
        cell = ws.cell(r, 1, f'=IF({failed}=0,"{ALL_PASS_PREFIX}"&ROWS(out_all_checks)&" checks pass.",'
                             f'"{FAILED_PREFIX}"&{failed}&" of "&ROWS(out_all_checks)&" checks fail: see the red '
                             f'rows among the checks, steps {steps}.")')
        cell.alignment = Alignment(vertical="center")
        cell.number_format = TEXT
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(PLAN_COLUMNS))
        ws.row_dimensions[r].height = 1.4 * LINE_HEIGHT
        span = f"A{r}:{get_column_letter(len(PLAN_COLUMNS))}{r}"
        ws.conditional_formatting.add(span, FormulaRule(formula=[f"{failed}>0"], fill=FAIL_FILL, font=FAIL_FONT))
        ws.conditional_formatting.add(span, FormulaRule(formula=[f"{failed}=0"], fill=PASS_FILL, font=PASS_FONT))
        define(self.wb, "out_summary", ws, f"A{r}")

    def bar_chart(self, heading: str, title: str, rows: Sequence[tuple[str, str]], unit: str) -> None:
        """A small table of `rows` (label, formula or output name) and a horizontal bar chart of it.

        Every bar is labelled with its value, so a bar too short to see still reads.
        """
        ws = self.ws
        ws.row_breaks.append(Break(id=self.row))  # on a page of its own: a chart never splits across two
        self.section(heading)
        first = self.row
        for label, formula in rows:
            ws.cell(self.row, LABEL, label)
            ws.cell(self.row, VALUE, f"={self.guarded(formula)[0]}").number_format = DECIMAL
            ws.cell(self.row, UNIT, unit)
            self.row += 1
        chart = BarChart()
        chart.type = "bar"
        chart.title = title
        chart.legend = None
        chart.y_axis.title = unit
        chart.y_axis.majorGridlines = None
        chart.y_axis.number_format = "#,##0"
        chart.add_data(Reference(ws, min_col=VALUE, min_row=first, max_row=self.row - 1), titles_from_data=False)
        chart.set_categories(Reference(ws, min_col=LABEL, min_row=first, max_row=self.row - 1))
        chart.dataLabels = DataLabelList(showVal=True, showSerName=False, showCatName=False, showLegendKey=False)
        chart.dataLabels.numFmt = "#,##0.0"
        chart.dataLabels.position = "outEnd"
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
        ws.row_dimensions[r].height = rows_for((label, WIDTHS[LABEL]), (words, WIDTHS[WORDS]),
                                               (note_text.replace("`", ""), WIDTHS[NOTE]))


_INPUT_CHECK = "out_input_"


def _input_check(name: str) -> str:
    """The defined name of an input's check row."""
    return f"{_INPUT_CHECK}{name}"


def _all(conditions: Sequence[str]) -> str:
    return conditions[0] if len(conditions) == 1 else f"AND({','.join(conditions)})"


def _text(text: str) -> str:
    """`text` as a string literal of a formula."""
    return '"' + text.replace('"', '""') + '"'



def value_column_ref(row: int) -> str:
    """The value cell of a plan row, e.g. 'D12'."""
    return f"{get_column_letter(VALUE)}{row}"
