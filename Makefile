# Praxis Hub: `make run` serves the app, `make test` runs every test. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# One gunicorn worker: on SQLite (make run's database) it is the right setting, not a limit to raise. SQLite
# lets one writer in at a time, so a second worker only adds lock waits between the processes: measured under
# wrk (issue 16), it gave x0.97 the events/s and pushed the webhooks' p99 to 0.4-1.1 s. One
# worker also keeps the memory:// rate limits exact. More throughput comes from PostgreSQL (README, Production).
WEB_WORKERS ?= 1
# Threads per worker: a request waiting on a slow provider holds its thread for at most
# PROVIDER_REQUEST_BUDGET_SECONDS, so 16 leave room for webhooks and pages beside ten such requests.
WEB_THREADS ?= 16
export FLASK_APP := wsgi.py

.PHONY: run test lint translations messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

# Compiled gettext catalogues (.mo) are built from the committed .po files, never committed themselves.
translations: $(VENV)/.runtime-installed
	$(BIN)/pybabel -q compile -d translations

# Re-extract the English source strings and merge them into the catalogues (then translate the new entries).
# Babel skips folders starting with "_" unless told otherwise, hence --ignore-dirs (templates/_partials).
messages: $(VENV)/.runtime-installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs '.* __pycache__' \
		--project "Praxis Hub" --copyright-holder "Praxis Hub" -o translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i translations/messages.pot -d translations

# The demo runs with the Integration Hub's sandbox: Cal.com and Retell fakes (tests/fakes, real HTTP servers that
# speak the providers' contracts) on SANDBOX_CALCOM_PORT and SANDBOX_RETELL_PORT. `make run HUB_SANDBOX=0` turns
# it off; production never runs `make run`.
# Only `make run` gets these (target-specific): the tests point the hub at fakes of their own.
HUB_SANDBOX ?= 1
SANDBOX_CALCOM_PORT ?= 8701
SANDBOX_RETELL_PORT ?= 8702
# The access providers' fakes (Fitpass, Friction, Wellhub) for the check-in desk's sandbox.
SANDBOX_FITPASS_PORT ?= 8703
SANDBOX_FRICTION_PORT ?= 8704
SANDBOX_WELLHUB_PORT ?= 8705
run: export HUB_SANDBOX := $(HUB_SANDBOX)
# The app's own address (SERVED_BASE_URL in config.py): webhook URLs default to it when PUBLIC_BASE_URL is unset.
run: export HOST := $(HOST)
run: export PORT := $(PORT)
run: export SANDBOX_CALCOM_URL := http://127.0.0.1:$(SANDBOX_CALCOM_PORT)
run: export SANDBOX_RETELL_URL := http://127.0.0.1:$(SANDBOX_RETELL_PORT)
run: export SANDBOX_FITPASS_URL := http://127.0.0.1:$(SANDBOX_FITPASS_PORT)
run: export SANDBOX_FRICTION_URL := http://127.0.0.1:$(SANDBOX_FRICTION_PORT)
run: export SANDBOX_WELLHUB_URL := http://127.0.0.1:$(SANDBOX_WELLHUB_PORT)

# The job worker (and the sandbox fakes) run beside gunicorn in one shell: whichever way that shell ends (Ctrl-C,
# `kill` of make or of its process group, gunicorn exiting), its EXIT trap stops them all and waits for the worker
# to finish its job. gunicorn runs in the background too, because only `wait` lets a trap run before the awaited
# process has ended.
run: $(VENV)/.runtime-installed translations
	$(BIN)/flask db upgrade
	$(BIN)/flask demo
	@set -e; worker=; web=; fakes=; \
	trap 'kill $$web $$worker $$fakes 2>/dev/null || :; wait' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	if [ "$(HUB_SANDBOX)" = 1 ]; then \
		$(BIN)/python -m tests.fakes --seed-demo --calcom-port $(SANDBOX_CALCOM_PORT) \
			--retell-port $(SANDBOX_RETELL_PORT) --fitpass-port $(SANDBOX_FITPASS_PORT) \
			--friction-port $(SANDBOX_FRICTION_PORT) --wellhub-port $(SANDBOX_WELLHUB_PORT) & fakes=$$!; \
	fi; \
	$(BIN)/flask hub worker & worker=$$!; \
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $(WEB_WORKERS) --threads $(WEB_THREADS) --timeout 120 \
		--access-logfile - \
		wsgi:app & web=$$!; \
	wait $$web

# The suite runs in parallel, one pytest-xdist worker per core (TEST_WORKERS=0 runs it in one process).
TEST_WORKERS ?= auto
test: $(VENV)/.dev-installed translations
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# ruff, then the import rules of DESIGN.md §2 (import-linter contracts in pyproject.toml).
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
