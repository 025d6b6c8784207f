# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test test-sqlite test-postgresql test-browser lint install clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/activate
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/portal db upgrade
	$(BIN)/portal demo-data
	$(BIN)/portal serve

test: install
	$(PY) -m tests.run_all

lint: install
	$(BIN)/ruff check portal tests bench
	$(BIN)/ruff format --check portal tests bench
	$(BIN)/mypy

test-sqlite: install
	$(PY) -m pytest tests --ignore=tests/browser

test-postgresql: install
	PORTAL_TEST_BACKEND=postgresql $(PY) -m pytest tests --ignore=tests/browser

test-browser: install
	$(PY) -m pytest tests/browser

clean:
	rm -rf $(VENV) var .pytest_cache
