# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := --generate-hashes --no-emit-index-url --allow-unsafe --strip-extras --quiet

.PHONY: run test lint check bench bench-scaling lock graphs clean system-packages

# The Debian packages of system-packages.txt (WeasyPrint's libraries, fonts, Graphviz, poppler,
# Chromium): installed when missing as root, otherwise the exact apt-get line is printed.
system-packages:
	PYTHON=$(PYTHON) ./scripts/system-packages

$(PY):
	PYTHON=$(PYTHON) ./scripts/system-packages
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements-dev.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The local, embedded mode: DEBUG on, SQLite file, tasks in-process, mail to the console.
run: export DEBUG := 1
run: system-packages $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_dispositifs
	$(PY) manage.py seed_demo
	$(PY) manage.py portal_demo_users
	$(PY) manage.py signing_demo_links
	$(PY) manage.py runserver 127.0.0.1:8000

test: system-packages $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py asp_schemas --check

lock: $(PY)
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile $(LOCK) -o requirements.txt pyproject.toml
	$(VENV)/bin/pip-compile $(LOCK) --extra dev -o requirements-dev.txt pyproject.toml

BENCH_DB ?= sons_bench
BENCH_ORDERS ?= 300000
BENCH_URL := postgres://postgres@127.0.0.1:5432/$(BENCH_DB)
# Production-like: DEBUG off, the Redis cache, INFO logging (set BENCH_CACHE_URL to use another).
# No HTTPS redirect: the in-process requests are plain HTTP (TLS ends at the proxy in production).
BENCH_CACHE_URL ?= redis://127.0.0.1:6379/15
BENCH_ENV := DEBUG=0 SECRET_KEY=bench-only-not-a-secret LOG_LEVEL=INFO SECURE_SSL_REDIRECT=0 \
	CACHE_URL=$(BENCH_CACHE_URL) DATABASE_URL=$(BENCH_URL)

bench: $(STAMP)
	psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $(BENCH_DB)" -c "CREATE DATABASE $(BENCH_DB)" \
		-c "ALTER DATABASE $(BENCH_DB) SET random_page_cost = 1.1"
	$(BENCH_ENV) $(PY) manage.py migrate -v0
	$(BENCH_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(BENCH_ENV) $(PY) manage.py load_dispositifs
	$(BENCH_ENV) $(PY) manage.py seed_national --orders $(BENCH_ORDERS)
	# Every benchmark runs (each on its own data or cleaning up after itself); the target fails
	# at the end if any missed its figures. The sweep runs first: it judges the national set alone.
	$(BENCH_ENV) $(PY) bench/sweep.py; c=$$?; \
	$(BENCH_ENV) $(PY) bench/lifecycle.py; a=$$?; \
	$(BENCH_ENV) $(PY) bench/payments.py; b=$$?; \
	$(BENCH_ENV) $(PY) bench/dashboard.py; d=$$?; \
	$(BENCH_ENV) $(PY) bench/api.py; e=$$?; \
	$(PY) bench/pages.py || a=1; \
	exit $$(( a || b || c || d || e ))

# The sweep and the filing at 30k, 100k and 300k orders (BENCH_SCALING_SIZES), each size on its
# own database, dropped afterwards; prints the slopes.
bench-scaling: $(STAMP)
	$(BENCH_ENV) $(PY) bench/scaling.py

FSM_MODELS := catalogue.Referencing sons.PurchaseOrder sons.Deployment \
	sons.VerificationAptitude sons.OnPreseries sons.PilotPerimeter sons.ClientConflict \
	payments.PaymentClaim payments.AspFiling payments.Recovery

graphs: $(STAMP)
	for model in $(FSM_MODELS); do \
		name=$$(echo $$model | cut -d. -f2 | tr A-Z a-z); \
		DEBUG=1 $(PY) manage.py graph_transitions -o docs/$$name.png $$model && rm -f docs/$$name; \
	done

clean:
	rm -rf $(VENV) .pytest_cache
