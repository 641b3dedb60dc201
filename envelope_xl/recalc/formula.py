"""Reading the text of a stored formula: its function calls and its references.

A formula as a workbook stores it (`TRAIN_MEM(B2,C2,D2)*Sheet2!$A$1`) is split into
tokens by one regular expression. String literals are kept whole, so a name inside
quotes is never mistaken for a call or a reference.

`template()` turns a formula into a *shape*: the same text with every reference
replaced by a numbered placeholder (`TRAIN_MEM(_R0,_R1,_R2)*_R3`). Every row of a
sweep has the same shape, so the engine parses and compiles it once and only looks
up each row's own references.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

MAX_ROW, MAX_COL = 1_048_576, 16_384

_SHEET = r"(?:'(?:[^']|'')+'|[A-Za-z_\\][\w.]*)"
_CELL = r"\$?[A-Za-z]{1,3}\$?\d+"
_AREA = rf"{_CELL}(?::{_CELL})?|\$?[A-Za-z]{{1,3}}:\$?[A-Za-z]{{1,3}}|\$?\d+:\$?\d+"
_IDENT = r"[A-Za-z_\\][\w.]*"

_TOKEN = re.compile(
    rf"""
    (?P<string>"(?:[^"]|"")*")
    |(?P<error>\#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|N/A|NUM!|GETTING_DATA))
    |(?P<call>(?:\[\d+\]!)?{_IDENT})\s*(?=\()
    |(?P<external>\[\d+\])
    |(?:(?P<sheet>{_SHEET})!)?(?P<area>{_AREA})(?![\w.(!\[])
    |(?:(?P<name_sheet>{_SHEET})!)?(?P<name>{_IDENT})(?![\w(!])(?P<table>\[)?
    |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_EXPONENT = re.compile(r"[eE](\d)")
_DIGITS = re.compile(r"\d+")
_CELL_PARTS = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)")


class Area(NamedTuple):
    """A rectangle of cells: rows and columns 1-based, inclusive; `sheet` None = the formula's sheet."""

    sheet: str | None
    row1: int
    col1: int
    row2: int
    col2: int

    @property
    def single(self) -> bool:
        return self.row1 == self.row2 and self.col1 == self.col2


@dataclass(frozen=True)
class Name:
    """A defined name used in a formula; `sheet` is set for `Sheet1!Name`."""

    sheet: str | None
    name: str


@dataclass(frozen=True)
class Omitted:
    """An argument left empty in a call of a renamed function, as in `TRAIN_MEM(7e9,,"sgd")`."""


Reference = Area | Name | Omitted


@dataclass(frozen=True)
class Template:
    """A formula's shape and the references that fill its placeholders, in order."""

    text: str  # "=TRAIN_MEM(_R0,_R1)": what the formula library compiles
    refs: tuple[Reference, ...]
    calls: tuple[str, ...]  # function names called, as written
    unsupported: str = ""  # why the formula cannot be evaluated, if it cannot
    rows_at: tuple[tuple[int, ...], ...] = ()  # per reference: where its row numbers start in the formula


def placeholder(i: int) -> str:
    """The name standing for the i-th reference of a template."""
    return f"_R{i}"


def column_index(letters: str) -> int:
    """`"A"` -> 1, `"AB"` -> 28."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(index: int) -> str:
    """1 -> `"A"`, 28 -> `"AB"`."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_name(row: int, col: int) -> str:
    """(2, 3) -> `"C2"`."""
    return f"{column_letters(col)}{row}"


def parse_cell(ref: str) -> tuple[int, int]:
    """`"C2"` or `"$C$2"` -> (2, 3)."""
    m = _CELL_PARTS.fullmatch(ref)
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    return int(m.group(4)), column_index(m.group(2))


def parse_area(text: str) -> tuple[int, int, int, int]:
    """`"A1:C3"`, `"B:B"`, `"2:4"` or `"C2"` -> (row1, col1, row2, col2), corners ordered."""
    text = text.replace("$", "")
    first, _, last = text.partition(":")
    last = last or first
    if first.isdigit():  # whole rows
        r1, c1, r2, c2 = int(first), 1, int(last), MAX_COL
    elif first.isalpha():  # whole columns
        r1, c1, r2, c2 = 1, column_index(first), MAX_ROW, column_index(last)
    else:
        (r1, c1), (r2, c2) = parse_cell(first), parse_cell(last)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def unquote_sheet(sheet: str) -> str:
    if sheet.startswith("'"):
        return sheet[1:-1].replace("''", "'")
    return sheet


def tokens(formula: str) -> Iterator[re.Match[str]]:
    """The tokens of a formula (without its leading "=")."""
    return _TOKEN.finditer(formula)


def rename_calls(formula: str, rename: Callable[[str], str | None]) -> str:
    """The formula with each called function renamed by `rename` (None keeps the name)."""
    out, last = [], 0
    for m in tokens(formula):
        if m.group("call") is not None:
            new = rename(m.group("call"))
            if new is not None:
                out.append(formula[last : m.start("call")])
                out.append(new)
                last = m.end("call")
    out.append(formula[last:])
    return "".join(out)


def template(formula: str, names: Callable[[str | None, str], bool], rename: Callable[[str], str | None]) -> Template:
    """The shape of `formula` (text starting with "=").

    `names(sheet, name)` says whether an identifier is a defined name of the workbook;
    `rename(call)` gives the name to call a function by (None keeps it). An argument
    left empty in a renamed call becomes an `Omitted` reference, so the function sees
    it as missing (its default applies) rather than as the 0 a built-in would get.
    """
    body = formula[1:] if formula.startswith("=") else formula
    shift = len(formula) - len(body)
    out: list[str] = ["="]
    refs: list[Reference] = []
    rows_at: list[tuple[int, ...]] = []
    calls: list[str] = []
    unsupported = ""
    frames: list[list[bool]] = []  # per open bracket: [renamed call?, waiting for an argument?, comma seen?]
    renamed_call = False
    for m in tokens(body):
        kind = m.lastgroup
        text = m.group()
        if kind == "other" and text in "(,){}":
            frame = frames[-1] if frames else None
            if frame and frame[0] and frame[1] and (text == "," or (text == ")" and frame[2])):
                refs.append(Omitted())
                rows_at.append(())
                out.append(placeholder(len(refs) - 1))
            if text in "({":
                if frame:
                    frame[1] = False  # the bracket starts an argument of the enclosing call
                frames.append([text == "(" and renamed_call, True, False])
            elif text in ")}":
                if frames:
                    frames.pop()
            elif frame:
                frame[1] = frame[2] = True
            renamed_call = False
            out.append(text)
            continue
        if not text.isspace():
            renamed_call = False
            if frames:
                frames[-1][1] = False
        if m.group("call") is not None:
            call = m.group("call")
            calls.append(call)
            new = rename(call)
            renamed_call = new is not None
            out.append(new if new is not None else call)
            out.append(body[m.end("call") : m.end()])
        elif m.group("area") is not None:
            sheet = m.group("sheet")
            refs.append(Area(unquote_sheet(sheet) if sheet else None, *parse_area(m.group("area"))))
            at = shift + m.start("area")
            rows_at.append(tuple(at + d.start() for d in _DIGITS.finditer(m.group("area"))))
            out.append(placeholder(len(refs) - 1))
        elif m.group("name") is not None:
            sheet = m.group("name_sheet")
            sheet = unquote_sheet(sheet) if sheet else None
            name = m.group("name")
            if m.group("table"):
                unsupported = f"structured table reference {name}[...] is not supported"
                out.append(m.group())
            elif names(sheet, name):
                refs.append(Name(sheet, name))
                rows_at.append(())
                out.append(placeholder(len(refs) - 1))
            else:
                out.append(m.group())
        elif kind == "number":
            out.append(_EXPONENT.sub(r"E+\1", m.group()))  # 7e9 -> 7E+9, the form formulas parses
        elif kind == "external":
            unsupported = "references to other workbooks are not supported"
            out.append(m.group())
        else:
            out.append(m.group())
    return Template("".join(out), tuple(refs), tuple(calls), unsupported, tuple(rows_at))
