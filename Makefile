# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test test-sqlite test-postgresql test-browser lint install clean messages compile-messages

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

# Translations: `make messages` extracts every text into portal/locale/messages.pot and merges it
# into the Polish catalog (portal/locale/pl/LC_MESSAGES/messages.po); translate the new entries,
# then `make compile-messages` builds the .mo file the portal reads (committed with the .po).
# `--ignore-dirs ".*"`: without it Babel also skips folders starting with "_" (templates/*/_partials).
LOCALE_DIR := portal/locale
KEYWORDS := -k _ -k gettext -k ngettext:1,2 -k N_ -k lazy_gettext

messages: install
	$(BIN)/pybabel extract -F $(LOCALE_DIR)/babel.cfg $(KEYWORDS) --ignore-dirs ".*" --no-location --sort-output \
		--project=portal --copyright-holder="portal" -o $(LOCALE_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -D messages -l pl --no-fuzzy-matching --ignore-obsolete

compile-messages: install
	$(BIN)/pybabel compile -d $(LOCALE_DIR) -D messages --statistics

clean:
	rm -rf $(VENV) var .pytest_cache
