# The two quick-start commands: `make demo` and `make test`. Each creates its own
# virtual environment in .venv with the Python 3.11+ found on PATH, with every extra
# (`.[all,test]`): the recalculation engines, the workbook builder, the LibreOffice
# tooling, xlwings and the test tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench lite clean

$(BIN)/envelope-xl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[all,test]"
	touch $@

demo: $(BIN)/envelope-xl
	$(BIN)/envelope-xl example

# xlwings Lite's Python (Pyodide, from npm) and the wheels it loads, for tests/test_lite_pyodide.py.
lite: $(BIN)/envelope-xl
	$(BIN)/python tests/lite/fetch.py

test: $(BIN)/envelope-xl lite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(BIN)/envelope-xl
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .cache
