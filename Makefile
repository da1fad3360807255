# Octoo Billing. `make run` sets up and starts everything; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEV_ENV := DEBUG=1

.PHONY: run test install system-deps browser-deps migrate seed web worker bench lint format ci clean screenshots topology loadtest

# requirements.lock: the runtime pins (all a production install needs); requirements-dev.lock adds the test tools.
$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.lock
	touch $(STAMP)

install: $(STAMP) system-deps

# WeasyPrint needs Pango; libharfbuzz-subset0 makes it ~4x faster. Installed when run as root.
system-deps:
	@missing=""; for p in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "Installing Debian packages:$$missing"; \
	    (apt-get install -y -qq $$missing >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq $$missing >/dev/null)); \
	  else echo "NOTE: missing Debian packages:$$missing — run: sudo apt-get install$$missing"; fi; fi

# Browser tests drive Debian's Chromium (never a downloaded browser).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "Installing Debian's chromium for the browser tests"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) \
	    || echo "NOTE: could not install chromium: browser tests will be skipped"; \
	  else echo "NOTE: /usr/bin/chromium missing (sudo apt-get install chromium): browser tests will be skipped"; fi; fi

migrate: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py createcachetable

seed: migrate
	$(DEV_ENV) $(PY) manage.py seed_demo

run: seed
	$(DEV_ENV) $(PY) manage.py setup_schedules
	@echo "Starting the web app on http://$(HOST):$(PORT)/ and the django-q2 worker (Ctrl-C stops both)."
	@$(DEV_ENV) $(PY) manage.py demo_logins
	@trap 'kill 0' INT TERM EXIT; \
	  $(DEV_ENV) $(PY) manage.py qcluster & \
	  $(DEV_ENV) $(PY) manage.py runserver $(HOST):$(PORT) --noreload & \
	  wait

web: migrate
	$(DEV_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

worker: migrate
	$(DEV_ENV) $(PY) manage.py qcluster

test: install browser-deps
	$(PY) -m pytest -n 2 --dist loadgroup -q

bench: install
	$(PY) bench/run.py

# The production topology on this machine, loopback only (docs/deploy.md): PostgreSQL (database octoo_topology),
# Redis, nginx on http://127.0.0.1:8080 in front of two gunicorn nodes, two qcluster workers. Ctrl-C stops it all.
topology: install
	$(PY) deploy/topology.py

# Load that topology for LOADTEST_SECONDS (default 180; LOADTEST_SHORT=1: 75), killing a web node and a worker
# mid-run, then check the invariants; results in bench/results.md. Starts (and stops) the topology if none runs.
loadtest: install
	$(PY) bench/loadtest.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

ci:
	.ci/run

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles .test-media

# Screenshots of the main pages for the README (demo data in a throw-away database, Debian's Chromium).
screenshots: install browser-deps
	@command -v pdftoppm >/dev/null || (apt-get install -y -qq poppler-utils >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq poppler-utils >/dev/null)) || \
	  echo "NOTE: pdftoppm missing (sudo apt-get install poppler-utils): the stamped PDF shot will fail"
	$(PY) docs/screenshots.py
