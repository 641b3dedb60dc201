"""The pure-Python engine: `formulas` parses and computes, shape by shape.

`formulas.ExcelModel` builds one dispatcher node per cell, which costs about 1.6 ms
and 60 KB per formula cell, and even one compiled formula called per cell spends
about 270 microseconds in the dispatcher for a few microseconds of arithmetic. This
engine uses `formulas` for what it is good at, its parser and its implementation of
every spreadsheet function and operator, and does the rest itself:

- each distinct formula *shape* (the text with its references replaced by
  placeholders, see `formula.template`) is parsed once by `formulas`; rows that
  differ only in their row numbers are recognised without parsing again;
- the parsed expression is turned into nested Python calls of the very functions
  `formulas` would call (`_Compiler`), with no dispatcher in between;
- a reference is handed to a function as the value `formulas` would give it, or as
  a `Ranges` object where the function needs the reference itself (`A1:B2`, ROW).

Cells are visited in dependency order, so each input is final when it is read. The
catalog's functions are registered alongside the library's own.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import schedula as sh
from formulas.cell import CELL
from formulas.functions import Array, wrap_ranges_func
from formulas.ranges import Ranges
from formulas.tokens.operand import XlError, range2parts

from envelope_xl.recalc import functions, names
from envelope_xl.recalc.engine import CellError, CellValue, Results
from envelope_xl.recalc.formula import Area, Name, Omitted, Template, cell_name, parse_area, template
from envelope_xl.recalc.safety import DEFAULT_LIMITS, Inventory, Limits
from envelope_xl.recalc.sheetxml import INPUTS
from envelope_xl.recalc.workbook import Book, Cell, Sheet, book_from, read_book

#: Why each error value usually appears, for errors that carry no reason of their own.
ERROR_MEANINGS = {
    "#DIV/0!": "division by zero",
    "#N/A": "no value available (a lookup found no match, or NA())",
    "#NAME?": "unknown function or name",
    "#NULL!": "ranges that do not intersect",
    "#NUM!": "a number out of range",
    "#REF!": "a reference that does not exist",
    "#VALUE!": "an argument of the wrong type",
}

#: Functions `formulas` only supports inside its own ExcelModel (references made at run
#: time, or a look at the model itself).
NOT_SUPPORTED = frozenset({"OFFSET", "INDIRECT", "ISFORMULA", "_XLFN.ISFORMULA", "FORMULATEXT", "_XLFN.FORMULATEXT"})

#: Why an Excel data table (What-If Analysis) is an error cell with every engine.
DATA_TABLE_REASON = (
    "an Excel data table (What-If Analysis, range {}) is not recalculated by envelope-xl: "
    "neither engine computes data tables; Excel fills it when the file is opened"
)

Key = tuple[int, int, int]  # (sheet index, row, column)


class PythonEngine:
    """Evaluates workbooks with `formulas`; works right after `pip install`."""

    name = "python"
    keep = INPUTS

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def compute(self, path: Path, inventory: Inventory | None = None) -> Results:
        """Every formula cell of the workbook at `path`, computed (from `inventory` if it holds the inputs)."""
        if inventory is not None and inventory.inputs:
            book = book_from(Path(path), inventory)
        else:
            book = read_book(Path(path), self.limits)
        return Evaluation(book).run()


class _FailureError(Exception):
    """A formula shape that cannot be evaluated; every cell of that shape gets this error."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


#: How a reference is handed to the function that reads it: the cell's value itself (catalog
#: functions), the array of values `formulas` would extract, or the `Ranges` object.
SCALAR, GRID, RANGES = range(3)


@dataclass
class _Compiled:
    function: Callable[[list[Any]], Any] | None  # takes the inputs, one per placeholder, in order
    modes: tuple[int, ...]  # per placeholder: SCALAR, GRID or RANGES
    failure: CellError | None = None


# --- references of a formula shape ------------------------------------------------------------
_DIGITS = re.compile(r"\d+")
_FIXED, _CELL_REF, _RANGE = range(3)


class _Variant:
    """A formula shape with its constants fixed: everything but the row numbers of its references."""

    __slots__ = ("builders", "calls", "text", "unsupported")

    def __init__(self, tpl: Template, runs: dict[int, int]) -> None:
        self.text, self.calls, self.unsupported = tpl.text, tpl.calls, tpl.unsupported
        builders: list[tuple] = []
        for ref, rows_at in zip(tpl.refs, tpl.rows_at, strict=True):
            if not isinstance(ref, Area) or not rows_at:
                builders.append((_FIXED, ref))
            elif len(rows_at) == 1:
                builders.append((_CELL_REF, ref.sheet, ref.col1, runs[rows_at[0]]))
            else:
                builders.append((_RANGE, ref.sheet, ref.col1, ref.col2, runs[rows_at[0]], runs[rows_at[1]]))
        self.builders = tuple(builders)

    def refs(self, digits: list[str]) -> tuple:
        out = []
        for b in self.builders:
            kind = b[0]
            if kind == _CELL_REF:
                r = int(digits[b[3]])
                out.append(Area(b[1], r, b[2], r, b[2]))
            elif kind == _RANGE:
                r1, r2 = int(digits[b[4]]), int(digits[b[5]])
                out.append(Area(b[1], min(r1, r2), b[2], max(r1, r2), b[3]))
            else:
                out.append(b[1])
        return tuple(out)


class _Shape:
    """Formulas that read the same once their digits are blanked out (one sweep column)."""

    __slots__ = ("constant_runs", "variants")

    def __init__(self, constant_runs: tuple[int, ...]) -> None:
        self.constant_runs = constant_runs  # digit runs that are not row numbers: numbers, names, sheet names
        self.variants: dict[tuple[str, ...], _Variant] = {}


# --- compiling a shape into plain calls -----------------------------------------------------------
_VALUE_WRAPPER = wrap_ranges_func(lambda: None).__code__  # functions that reduce a Ranges to its value first
_PLACEHOLDER = re.compile(r"_R(\d+)")


class _NoValueError(Exception):
    """A function gave no value (formulas' sh.NONE): the cell is an error, as with the dispatcher."""


def _takes_values(function: Any) -> bool:
    return getattr(function, "__code__", None) is _VALUE_WRAPPER


def _direct_call(direct: Callable[..., Any], root: bool) -> Callable[..., Any]:
    """A catalog function called as `formulas.functions.wrap_func` would call it (a reference read
    as its value, a failure as #VALUE!), its result an array unless it is the formula's own value."""

    def call(*args: Any) -> Any:
        try:
            result = direct(*[a.value if isinstance(a, Ranges) else a for a in args])
        except Exception:
            result = functions.error("#VALUE!", f"{direct.__name__}: evaluation failed")
        return result if root and not isinstance(result, list) else functions.as_array(result)

    return call


class _Compiler:
    """Nested Python calls equivalent to `formulas`' compiled dispatcher for one formula."""

    def __init__(self, builder, cell_ranges: Ranges | None) -> None:
        self.dsp = builder.dsp
        self.cell_ranges = cell_ranges
        self.modes: dict[int, int] = {}
        root = builder.get_node_id(builder[-1])
        self.function = self.node(root, SCALAR, root=True)

    def node(self, data_id: Any, mode: int, root: bool = False) -> Callable[[list[Any]], Any]:
        dsp = self.dsp
        if data_id is CELL:
            if self.cell_ranges is None:
                raise _FailureError("#NAME?", "ROW()/COLUMN() without a cell")
            value = self.cell_ranges
            return lambda args: value
        producers = dsp.dmap.pred[data_id]
        if not producers:
            if data_id in dsp.default_values:
                value = dsp.default_values[data_id]["value"]
                return lambda args: value
            if isinstance(data_id, sh.Token):
                raise _FailureError("#NAME?", f"{data_id} is not supported by the python engine; "
                                    "use --engine libreoffice")
            name = str(data_id).rsplit("!", 1)[-1]
            m = _PLACEHOLDER.fullmatch(name)
            if m is None:  # an identifier that is neither a reference nor a defined name
                raise _FailureError("#NAME?", f"unknown name {name}")
            index = int(m.group(1))
            self.modes[index] = mode
            return lambda args: args[index]
        (function_id,) = producers
        node = dsp.nodes[function_id]
        function, inputs = node["function"], node["inputs"]
        direct = getattr(function, "direct", None)
        if direct is not None:  # a catalog function: its own body, with what the library's wrappers do
            function, mode = _direct_call(direct, root), SCALAR
        else:
            mode = GRID if _takes_values(function) else RANGES
        parts = [self.node(i, mode) for i in inputs]
        if len(parts) == 1:
            (a,) = parts

            def call(args):
                result = function(a(args))
                if result is sh.NONE:
                    raise _NoValueError
                return result
        elif len(parts) == 2:
            a, b = parts

            def call(args):
                result = function(a(args), b(args))
                if result is sh.NONE:
                    raise _NoValueError
                return result
        else:

            def call(args):
                result = function(*[part(args) for part in parts])
                if result is sh.NONE:
                    raise _NoValueError
                return result

        return call


class Evaluation:
    """One workbook evaluated once."""

    def __init__(self, book: Book) -> None:
        functions.register()
        import formulas

        self.known_functions = formulas.get_functions()
        self.cell_functions = {
            k for k, v in self.known_functions.items() if isinstance(v, dict) and CELL in v.get("extra_inputs", {})
        }
        self.parser = formulas.Parser()
        self.book = book
        self.sheets = book.sheets
        self.sheet_index = {s.name.casefold(): i for i, s in enumerate(self.sheets)}
        # A name's scope counts every sheet of the workbook (chart sheets too): map it to ours.
        position = {s.index: i for i, s in enumerate(self.sheets)}
        self.names = {
            (position.get(n.scope, -1) if n.scope is not None else None, n.name.casefold()): n for n in book.names
        }
        self.values: list[dict[Cell, Any]] = [dict(s.values) for s in self.sheets]
        self.templates: dict[Key, Template] = {}
        self.shapes: dict[tuple[int, str], _Shape] = {}
        self.compiled: dict[Any, _Compiled] = {}
        self.owner: dict[Key, Key] = {}  # cell of an array formula's range -> its anchor
        self.area_cache: dict[tuple[int, Area], tuple[Ranges | None, np.ndarray]] = {}
        self.name_values: dict[tuple[int | None, str], Any] = {}
        self.resolved_names: dict[tuple[int, Name], Any] = {}
        self.results: dict[Key, CellValue] = {}
        self._index_formula_cells()

    # --- structure -------------------------------------------------------------------

    def _index_formula_cells(self) -> None:
        """Where formula cells are, so a range finds the ones it covers quickly."""
        self.columns: list[dict[int, list[int]]] = []
        self.formula_cells: list[set[Cell]] = []  # per sheet: formula cells and array formula ranges
        for i, sheet in enumerate(self.sheets):
            by_col: dict[int, list[int]] = defaultdict(list)
            for (row, col) in sheet.formulas:
                by_col[col].append(row)
            for anchor, area in sheet.arrays.items():
                for row in range(area.row1, area.row2 + 1):
                    for col in range(area.col1, area.col2 + 1):
                        if (row, col) != anchor:
                            self.owner[(i, row, col)] = (i, *anchor)
                            self.values[i].pop((row, col), None)
                            by_col[col].append(row)
            for anchor, area in sheet.data_tables.items():
                err = functions.error("#N/A", DATA_TABLE_REASON.format(
                    f"{cell_name(*anchor)}:{cell_name(area.row2, area.col2)}"))
                for row in range(area.row1, area.row2 + 1):
                    for col in range(area.col1, area.col2 + 1):
                        self._store(i, row, col, err)
            self.columns.append({c: sorted(set(rows)) for c, rows in by_col.items()})
            self.formula_cells.append({(r, c) for c, rows in by_col.items() for r in rows})

    def _is_name(self, sheet: int):
        def known(scope_sheet: str | None, name: str) -> bool:
            folded = name.casefold()
            if scope_sheet is not None:
                idx = self.sheet_index.get(scope_sheet.casefold())
                return idx is not None and (idx, folded) in self.names
            return (sheet, folded) in self.names or (None, folded) in self.names

        return known

    def _template(self, key: Key) -> Template:
        tpl = self.templates.get(key)
        if tpl is None:
            i, row, col = key
            tpl = self.templates[key] = self._shape_template(i, self.sheets[i].formulas[(row, col)])
        return tpl

    def _shape_template(self, sheet: int, text: str) -> Template:
        """The template of a formula, parsing only the first formula of each shape and constants."""
        shape_key = (sheet, _DIGITS.sub("#", text))
        shape = self.shapes.get(shape_key)
        digits = _DIGITS.findall(text)
        if shape is not None:
            variant = shape.variants.get(tuple(digits[k] for k in shape.constant_runs))
            if variant is not None:
                return Template(variant.text, variant.refs(digits), variant.calls, variant.unsupported)
        tpl = template(text, self._is_name(sheet), names.catalog_name)
        runs = {m.start(): k for k, m in enumerate(_DIGITS.finditer(text))}
        row_runs = {runs[at] for rows_at in tpl.rows_at for at in rows_at}
        if shape is None:
            shape = self.shapes[shape_key] = _Shape(tuple(k for k in range(len(digits)) if k not in row_runs))
        elif set(shape.constant_runs) | row_runs != set(range(len(digits))):
            return tpl  # read differently from its shape's first formula: no shortcut for it
        shape.variants[tuple(digits[k] for k in shape.constant_runs)] = _Variant(tpl, runs)
        return tpl

    def _resolve(self, sheet: int, ref: Area | Name) -> Any:
        """An area reference as (sheet index, area); a name as what it refers to."""
        if isinstance(ref, Area):
            if ref.sheet is None:
                return sheet, ref
            idx = self.sheet_index.get(ref.sheet.casefold())
            return None if idx is None else (idx, ref)
        found = self.resolved_names.get((sheet, ref))
        if found is None:
            found = self.resolved_names[(sheet, ref)] = self._name(sheet, ref)
        return found

    def _name(self, sheet: int, ref: Name) -> Any:
        scope = sheet if ref.sheet is None else self.sheet_index.get(ref.sheet.casefold())
        folded = ref.name.casefold()
        key = (scope, folded) if (scope, folded) in self.names else (None, folded)
        if key in self.name_values:
            return self.name_values[key]
        self.name_values[key] = functions.error("#REF!", f"circular definition of the name {ref.name}")
        defined = self.names[key]
        home = key[0] if key[0] is not None else 0
        tpl = template("=" + defined.text, self._is_name(home), names.catalog_name)
        if len(tpl.refs) == 1 and tpl.text == "=_R0" and isinstance(tpl.refs[0], Area):
            target = self._resolve(home, tpl.refs[0])
            value = target if target is not None else functions.error("#REF!", f"the name {ref.name} points nowhere")
        else:
            value = _Formula(self, home, tpl, f"name {ref.name}")
        self.name_values[key] = value
        return value

    def _dependencies(self, key: Key) -> list[Key]:
        owner = self.owner.get(key)
        if owner is not None:
            return [owner]
        i = key[0]
        found: list[Key] = []
        formula_cells = self.formula_cells[i]
        for ref in self._template(key).refs:
            if type(ref) is Area and ref.sheet is None and ref.row1 == ref.row2 and ref.col1 == ref.col2:
                if (ref.row1, ref.col1) in formula_cells:  # the common case: one cell of the same sheet
                    found.append((i, ref.row1, ref.col1))
            else:
                found.extend(self._ref_dependencies(i, ref))
        return found

    def _ref_dependencies(self, sheet: int, ref, names_seen: frozenset = frozenset()):
        if isinstance(ref, Omitted):
            return
        target = self._resolve(sheet, ref)
        if isinstance(target, _Formula):
            if id(target) in names_seen:
                return  # a name defined through itself: its value is the circular-definition error
            for r in target.template.refs:
                yield from self._ref_dependencies(target.sheet, r, names_seen | {id(target)})
            return
        if not isinstance(target, tuple):
            return
        idx, area = target
        columns = self.columns[idx]
        if area.col1 == area.col2 and area.row1 == area.row2:
            rows = columns.get(area.col1)
            if rows:
                at = bisect.bisect_left(rows, area.row1)
                if at < len(rows) and rows[at] == area.row1:
                    yield (idx, area.row1, area.col1)
            return
        for col in columns if len(columns) < area.col2 - area.col1 + 1 else range(area.col1, area.col2 + 1):
            if area.col1 <= col <= area.col2 and col in columns:
                for row in _rows_in(columns[col], area.row1, area.row2):
                    yield (idx, row, col)

    # --- evaluation ------------------------------------------------------------------

    def run(self) -> Results:
        """Evaluate every formula cell in dependency order."""
        state: dict[Key, int] = {}  # 1: being evaluated, 2: done
        for i, sheet in enumerate(self.sheets):
            for row, col in sorted(sheet.formulas):
                start = (i, row, col)
                if start in state:
                    continue
                state[start] = 1
                stack = [(start, iter(self._dependencies(start)))]
                while stack:
                    key, deps = stack[-1]
                    for dep in deps:
                        seen = state.get(dep)
                        if seen is None:
                            state[dep] = 1
                            stack.append((dep, iter(self._dependencies(dep))))
                            break
                        if seen == 1:
                            self._circular(dep, [k for k, _ in stack])
                    else:
                        stack.pop()
                        if state[key] == 1:
                            self._evaluate(key)
                        state[key] = 2
        names_of = [s.name for s in self.sheets]
        return {(names_of[i], cell_name(r, c)): value for (i, r, c), value in self.results.items()}

    def _circular(self, dep: Key, path: list[Key]) -> None:
        cycle = [*path[path.index(dep) :], dep]
        shown = " -> ".join(f"{self.sheets[i].name}!{cell_name(r, c)}" for i, r, c in cycle)
        err = functions.error("#REF!", f"circular reference: {shown}")
        for i, r, c in cycle[:-1]:
            self._store(i, r, c, err)

    def _evaluate(self, key: Key) -> None:
        if key in self.owner or key in self.results:
            return  # filled by its array formula, or part of a circular reference
        i, row, col = key
        tpl = self._template(key)
        compiled = self.compiled_for(i, tpl, (row, col))
        if compiled.failure is not None:
            value = functions.error(compiled.failure.code, compiled.failure.reason)
        else:
            value = self.call(i, tpl, compiled, f"{self.sheets[i].name}!{cell_name(row, col)}")
        area = self.sheets[i].arrays.get((row, col))
        if area is None:
            self._store(i, row, col, _top_left(value))
            return
        grid = np.asarray(value.value if isinstance(value, Ranges) else value, object)
        if grid.ndim < 2:
            grid = grid.reshape(1, -1)
        for r in range(area.row1, area.row2 + 1):
            for c in range(area.col1, area.col2 + 1):
                y, x = r - area.row1, c - area.col1
                if y < grid.shape[0] and x < grid.shape[1]:
                    cell = grid[y, x]
                elif grid.shape == (1, 1):
                    cell = grid[0, 0]  # a single value fills the whole range, as in Excel
                else:
                    cell = functions.error("#N/A", "outside the array the formula returned")
                self._store(i, r, c, cell)

    def call(self, sheet: int, tpl: Template, compiled: _Compiled, where: str) -> Any:
        """The value of a compiled formula on `sheet` with the references of `tpl`."""
        input_value = self.input_value
        args = [input_value(sheet, ref, mode) for ref, mode in zip(tpl.refs, compiled.modes, strict=True)]
        try:
            result = compiled.function(args)
        except Exception as exc:  # a library failure on one cell must not stop the workbook
            return functions.error("#VALUE!", f"{where}: evaluation failed ({type(exc).__name__})")
        return result.value if isinstance(result, Ranges) else result

    def _store(self, i: int, row: int, col: int, value: Any) -> None:
        value = _scalar(value)
        self.values[i][(row, col)] = value
        self.results[(i, row, col)] = _to_cell_value(value)

    # --- inputs ----------------------------------------------------------------------

    def compiled_for(self, sheet: int, tpl: Template, cell: Cell | None) -> _Compiled:
        """The compiled function of a formula shape (per cell only for ROW()/COLUMN()-like calls)."""
        entry = self.compiled.get(tpl.text)
        if entry is not None:
            return entry
        uses_cell = any(c.upper() in self.cell_functions for c in tpl.calls)
        cache_key = (tpl.text, sheet, cell) if uses_cell else tpl.text
        entry = self.compiled.get(cache_key)
        if entry is None:
            entry = self._compile(sheet, tpl, cell if uses_cell else None)
            self.compiled[cache_key] = entry
        return entry

    def _compile(self, sheet: int, tpl: Template, cell: Cell | None) -> _Compiled:
        if tpl.unsupported:
            return _Compiled(None, (), CellError("#REF!", tpl.unsupported))
        missing = {c.upper() for c in tpl.calls} & NOT_SUPPORTED
        if missing:
            return _Compiled(None, (), CellError(
                "#NAME?", f"{', '.join(sorted(missing))} is not supported by the python engine; "
                "use --engine libreoffice"))
        unknown = sorted({c for c in tpl.calls if (names.catalog_name(c) or c).upper() not in self.known_functions})
        if unknown:
            return _Compiled(None, (), CellError("#NAME?", f"unknown function {', '.join(unknown)}"))
        context = {"sheet": self.sheets[sheet].name, "filename": "", "directory": ""}
        try:
            builder = self.parser.ast(tpl.text, context=context)[1]
            cell_ranges = None
            if cell is not None:
                cell_ranges = Ranges().push(cell_name(*cell), context={"sheet": self.sheets[sheet].name})
            compiler = _Compiler(builder, cell_ranges)
        except _FailureError as failure:
            return _Compiled(None, (), CellError(failure.code, failure.reason))
        except Exception as exc:  # the library's parse errors have no common base class
            return _Compiled(None, (), CellError("#NAME?", f"formula not understood ({type(exc).__name__})"))
        modes = tuple(compiler.modes.get(i, RANGES) for i in range(len(tpl.refs)))
        return _Compiled(compiler.function, modes)

    def input_value(self, sheet: int, ref: Area | Name | Omitted, mode: int = RANGES) -> Any:
        """What a compiled formula receives for one reference (see SCALAR, GRID, RANGES)."""
        if type(ref) is Area and ref.sheet is None and ref.row1 == ref.row2 and ref.col1 == ref.col2:
            value = self.values[sheet].get((ref.row1, ref.col1), sh.EMPTY)
            if mode == SCALAR:
                return value
            grid = np.array([[value]], object)
            return _ranges(self.sheets[sheet], ref, grid) if mode == RANGES else grid
        if isinstance(ref, Omitted):
            return _OMITTED
        target = self._resolve(sheet, ref)
        if target is None:
            return _error_input(functions.error("#REF!", f"no sheet named {ref.sheet!r}"))
        if isinstance(target, _Formula):
            return target.value()
        if not isinstance(target, tuple):
            return _error_input(target)
        idx, area = target
        if area.single:
            value = self.values[idx].get((area.row1, area.col1), sh.EMPTY)
            if mode == SCALAR:
                return value
            grid = np.array([[value]], object)
            return _ranges(self.sheets[idx], area, grid) if mode == RANGES else grid
        cached = self.area_cache.get(target)
        if cached is None:
            cached = self.area_cache[target] = (None, self._area_grid(idx, area))
        if mode != RANGES:
            return cached[1]
        if cached[0] is None:
            cached = self.area_cache[target] = (_ranges(self.sheets[idx], self._trimmed(idx, area), cached[1]),
                                                cached[1])
        return cached[0]

    def _trimmed(self, idx: int, area: Area) -> Area:
        # Whole rows and columns stop at the used part of the sheet.
        sheet = self.sheets[idx]
        return Area(area.sheet, area.row1, area.col1, max(area.row1, min(area.row2, sheet.max_row)),
                    max(area.col1, min(area.col2, sheet.max_col)))

    def _area_grid(self, idx: int, area: Area) -> np.ndarray:
        trimmed = self._trimmed(idx, area)
        grid = np.full((trimmed.row2 - trimmed.row1 + 1, trimmed.col2 - trimmed.col1 + 1), sh.EMPTY, object)
        values = self.values[idx]
        if grid.size > len(values):
            for (r, c), v in values.items():
                if trimmed.row1 <= r <= trimmed.row2 and trimmed.col1 <= c <= trimmed.col2:
                    grid[r - trimmed.row1, c - trimmed.col1] = v
        else:
            for r in range(trimmed.row1, trimmed.row2 + 1):
                for c in range(trimmed.col1, trimmed.col2 + 1):
                    v = values.get((r, c))
                    if v is not None:
                        grid[r - trimmed.row1, c - trimmed.col1] = v
        return grid


class _Formula:
    """A formula (of a cell or a defined name) bound to the sheet it is evaluated on."""

    def __init__(self, evaluation: Evaluation, sheet: int, tpl: Template, where: str | None, cell: Cell | None = None):
        self.evaluation, self.sheet, self.template, self.where, self.cell = evaluation, sheet, tpl, where, cell
        self._value: Any = sh.NONE

    def value(self) -> Any:
        if self._value is sh.NONE:
            self._value = functions.error("#REF!", f"circular definition of the {self.where}")
            self._value = self()
        return self._value

    def __call__(self) -> Any:
        ev = self.evaluation
        compiled = ev.compiled_for(self.sheet, self.template, self.cell)
        if compiled.failure is not None:
            return functions.error(compiled.failure.code, compiled.failure.reason)
        return ev.call(self.sheet, self.template, compiled, self.where or "")


#: What an omitted argument passes: an empty cell, which the catalog wrappers read as "use the default".
_OMITTED = np.asarray([[sh.EMPTY]], object).view(Array)


def _rows_in(rows: list[int] | None, low: int, high: int) -> list[int]:
    if not rows:
        return []
    return rows[bisect.bisect_left(rows, low) : bisect.bisect_right(rows, high)]


def _sheet_id(sheet: Sheet) -> str:
    return "'" + sheet.name.upper().replace("'", "''") + "'"


def _ranges(sheet: Sheet, area: Area, grid: np.ndarray) -> Ranges:
    rng = range2parts(
        None, r1=str(area.row1), n1=area.col1, r2=str(area.row2), n2=area.col2, sheet_id=_sheet_id(sheet)
    )
    ranges = Ranges((rng,), {rng["name"]: (rng, grid)})
    ranges._value = grid
    return ranges


def _error_input(err: XlError) -> Array:
    return np.asarray([[err]], object).view(Array)


def _top_left(value: Any) -> Any:
    """A formula that is not an array formula shows the first value of an array result."""
    if isinstance(value, Ranges):
        value = value.value
    if isinstance(value, np.ndarray):
        return value.ravel()[0] if value.size else functions.error("#VALUE!", "empty result")
    return value


def _scalar(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else sh.EMPTY
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _to_cell_value(value: Any) -> CellValue:
    if isinstance(value, XlError):
        return CellError(str(value), getattr(value, "reason", "") or ERROR_MEANINGS.get(str(value), ""))
    if value is sh.EMPTY or value is None:
        return 0.0  # a formula pointing at an empty cell shows 0
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            return CellError("#NUM!", "the result is not a finite number")
        return value
    return str(value)


__all__ = ["ERROR_MEANINGS", "PythonEngine", "parse_area"]
