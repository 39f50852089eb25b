# OneSlot: `make run` to use it, `make test` to test it. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/oneslot_test
# pytest-xdist workers per run (`-n`); tests/README.md has the figures behind the default.
WORKERS ?= 2

.PHONY: run dev test test-fast test-pg test-setup browser nginx screenshots lint format bench clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

# Links in mail and the printed sign-in address follow HOST and PORT unless BASE_URL is set.
run: export BASE_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.installed-run  ## set up, migrate, create the first admin, serve at http://127.0.0.1:5000 (gunicorn + worker)
	$(FLASK) db upgrade
	$(FLASK) bootstrap
	$(FLASK) serve --host $(HOST) --port $(PORT)

# For editing the code: the reloading development server with the debugger, and a worker thread.
dev: export BASE_URL ?= http://$(HOST):$(PORT)
dev: $(VENV)/.installed-run  ## like run, on Flask's development server that reloads when code changes
	$(FLASK) db upgrade
	$(FLASK) bootstrap
	$(FLASK) --debug dev --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev browser nginx  ## install what the tests need and run them all (SQLite)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(WORKERS)

test-fast: $(VENV)/.installed-dev  ## the edit loop: every test but the browser and slow ones (SQLite)
	$(BIN)/pytest -q -n $(WORKERS) -m "not slow and not browser"

test-pg: $(VENV)/.installed-dev browser nginx  ## the same suite on a fresh PostgreSQL database
	scripts/ensure-postgres.sh "$(PG_TEST_URL)"
	TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -n $(WORKERS)

browser:
	@scripts/ensure-chromium.sh

# Debian's nginx binary for the test behind a proxy and bench/scale_out.py (never started as a service).
nginx:
	@scripts/ensure-nginx.sh

# Everything both test runs need, done once before .ci/run starts them side by side.
test-setup: $(VENV)/.installed-dev browser nginx
	scripts/ensure-postgres.sh "$(PG_TEST_URL)"

screenshots: $(VENV)/.installed-dev browser  ## the main pages as PNGs in docs/screenshots/ (demo data, temporary database)
	$(BIN)/python scripts/screenshots.py

# Invitee pages and mail: extract the strings, merge them into each language's catalog, compile.
# The compiled .mo files are committed (a fresh clone works); tests/unit/test_catalogs.py fails on
# a string missing, untranslated or fuzzy in any catalog, and on a .mo that is older than its .po.
translations: $(VENV)/.installed-dev  ## extract, update and compile the catalogs in translations/
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l --no-location --sort-output \
		--project OneSlot --copyright-holder OneSlot -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d translations --statistics

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/availability.py
	$(BIN)/python bench/contacts_import.py
	$(BIN)/python bench/booking_page.py
	$(BIN)/python bench/workflow_throughput.py
	$(BIN)/python bench/worker_stops.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/scale_out.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
