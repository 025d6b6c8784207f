# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test test-sqlite test-postgresql test-browser install clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/portal db upgrade
	$(BIN)/portal demo-data
	$(BIN)/portal serve

test: install
	$(PY) -m tests.run_all

test-sqlite: install
	$(PY) -m pytest tests --ignore=tests/browser

test-postgresql: install
	PORTAL_TEST_BACKEND=postgresql $(PY) -m pytest tests --ignore=tests/browser

test-browser: install
	$(PY) -m pytest tests/browser

clean:
	rm -rf $(VENV) var .pytest_cache
