# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export FLASK_APP := wsgi

.PHONY: install run test lint format bench clean messages

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# The French catalogue, compiled from the .po kept in the repository (the .mo is not).
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))
%.mo: %.po $(STAMP)
	$(BIN)/pybabel --quiet compile -i $< -o $@

install: $(STAMP) $(CATALOGUES)

# After changing person-facing text: extract it, and merge it into each language's catalogue
# (then translate what is new; the catalogue test fails until every message is).
messages: $(STAMP)
	$(BIN)/pybabel --quiet extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 -k N_ \
		--no-location --sort-output --project=Cocréa -o translations/messages.pot .
	$(BIN)/pybabel --quiet update -i translations/messages.pot -d translations --no-fuzzy-matching \
		--ignore-obsolete

# Migrate, load the demo, then start web + worker + localstripe (+ Redis if none) until Ctrl-C.
run: install
	$(BIN)/python -m dev.stack

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Seed 100,000 designs and 1,000,000 votes into PostgreSQL, then measure the pages under gunicorn;
# then settle 1,000 pledges with 4 workers with every Stripe request slowed to Stripe's pace,
# under its test-mode rate limit, next to the ceiling that limit leaves (bench/README.md).
bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.settle

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
