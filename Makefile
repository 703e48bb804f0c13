# Amiable — two commands: `make run` (the demo on SQLite) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Test processes (pytest-xdist): `auto` is one per CPU core, TEST_WORKERS=0 runs the suite in a single process.
TEST_WORKERS ?= auto
# The suite, with its ten slowest tests; scripts/timed.sh then prints its total time.
PYTEST := $(VENV)/bin/pytest -q --ds=config.settings.test -n $(TEST_WORKERS) --durations=10

BACKUP_DIR ?= var/backups

.PHONY: backup restore loadtest bench-intake bench-letters bench-remittances bench-quarterly bench-scenarios install system-packages run test test-sqlite test-pg test-browser lint format check-migrations check-deploy bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 est requis ($(PYTHON) introuvable)."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	PORT=$(PORT) ./scripts/run.sh

test: install system-packages test-sqlite

system-packages:
	./scripts/system-packages.sh

test-sqlite: install
	./scripts/timed.sh "Suite sur SQLite" $(PYTEST)

test-pg: install system-packages
	./scripts/with-postgres.sh ./scripts/timed.sh "Suite sur PostgreSQL" $(PYTEST)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check-migrations: install
	DATABASE_URL=sqlite://:memory: DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run

check-deploy: install
	DJANGO_SETTINGS_MODULE=config.settings.prod DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$(head -c 48 /dev/urandom | base64)} \
	AMIABLE_AUDIT_KEY=$${AMIABLE_AUDIT_KEY:-$$(head -c 48 /dev/urandom | base64)} \
	DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-amiable.example} $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var

# The database (pg_dump -Fc, or SQLite's online backup), the stored documents and their SHA-256 manifest, in a
# timestamped folder under BACKUP_DIR; `make restore BACKUP=<folder>` checks it and restores it into an empty
# database and media folder (docs/operations.md, « Sauvegarde et restauration »).
backup: install
	BACKUP_DIR=$(BACKUP_DIR) ./scripts/backup.sh

restore: install
	@test -n "$(BACKUP)" || { echo "Indiquez la sauvegarde : make restore BACKUP=var/backups/amiable-…"; exit 1; }
	BACKUP=$(BACKUP) ./scripts/restore.sh

bench-intake: install system-packages
	./scripts/bench-intake.sh

bench-letters: install
	./scripts/bench-letters.sh

bench-remittances: install
	./scripts/bench-remittances.sh

bench-quarterly: install
	./scripts/bench-quarterly.sh

bench-scenarios: install
	./scripts/bench-scenarios.sh

# Every measure on a throw-away PostgreSQL with 1,000,000 cases (CASES=100000 make bench for a quick run).
bench: install system-packages
	./scripts/bench.sh

# Fifty people at once on the production settings (gunicorn, PostgreSQL, 100,000 cases), while a batch imports and
# the daily run runs: requests per second, p50/p95/p99 and errors (CASES, USERS, DURATION, WORKERS to change them).
loadtest: install system-packages $(VENV)/.installed-load
	./scripts/loadtest.sh

$(VENV)/.installed-load: requirements-load.txt requirements-dev.txt requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-load.txt
	touch $@
