# Two commands on a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

export CC_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export CC_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test install install-dev lint translations

run: install
	$(BIN)/callcenter run

test: install-dev
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o callcenter/translations/messages.pot .
	$(BIN)/pybabel update -i callcenter/translations/messages.pot -d callcenter/translations
	$(BIN)/pybabel compile -d callcenter/translations
