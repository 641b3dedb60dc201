# The two quick-start commands: `make demo` and `make test`. Each creates its own
# virtual environment in .venv with the Python 3.11+ found on PATH.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/envelope-xl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/envelope-xl
	$(BIN)/envelope-xl example

test: $(BIN)/envelope-xl
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(BIN)/envelope-xl
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
