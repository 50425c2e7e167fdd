# Two commands on a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

export CC_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export CC_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-fast fuzz install install-dev lint audit translations voices

run: install
	$(BIN)/callcenter run

# Two workers on 2 cores. Three finished in 12-14 minutes instead of 18-20
# (with two, the cores idle a third of the time while tests wait on timers,
# browsers and processes), but two of three fresh-clone runs each failed two
# tests that time real media or SIP against a starved CPU (audio through
# TURN, an agent's wait before an abandon), different ones each run. A
# file's tests stay in one worker (--dist loadfile): module fixtures
# (browsers, servers) start once, and each file that makes network
# namespaces owns its subnet (10.231.x). (pytest-xdist 3.8's --dist
# loadgroup groups nothing under pytest 9.)
test: install-dev
	$(BIN)/python -m pytest -n 2 --dist loadfile -p no:randomly

# A longer hunt by hand: the fuzz tests with random seeds and more examples.
fuzz: install-dev
	CC_FUZZ_EXAMPLES=$${CC_FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -p no:randomly tests/fuzz

# The tests that need no PostgreSQL, Redis, sipp, browser, namespace or process
# of their own (tests/lanes.py marks them), in a random order each run.
test-fast: install-dev
	$(BIN)/python -m pytest -n 2 -m fast

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Known vulnerabilities in every installed package (the project itself is
# editable, so skipped). --strict: a package the vulnerability service cannot
# look up fails the audit; it is never passed over in silence.
audit: install-dev
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off || { \
	  echo "pip-audit FAILED: a known vulnerability, or a package it could not look up"; \
	  echo "(it looks up each installed release in the PyPI JSON API, one request each)"; \
	  exit 1; }

translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o callcenter/translations/messages.pot .
	$(BIN)/pybabel update -i callcenter/translations/messages.pot -d callcenter/translations
	$(BIN)/pybabel compile -d callcenter/translations

# The simulated customers' recorded lines (needs espeak-ng and sox; the WAVs are committed).
voices:
	sh dialer/voices/make_voices.sh
