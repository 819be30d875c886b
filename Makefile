# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := --generate-hashes --no-emit-index-url --allow-unsafe --strip-extras --quiet

.PHONY: run test lint check bench lock graphs clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements-dev.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The local, embedded mode: DEBUG on, SQLite file, tasks in-process, mail to the console.
run: export DEBUG := 1
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_dispositifs
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

lock: $(PY)
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile $(LOCK) -o requirements.txt pyproject.toml
	$(VENV)/bin/pip-compile $(LOCK) --extra dev -o requirements-dev.txt pyproject.toml

graphs: $(STAMP)
	$(PY) manage.py graph_transitions -o docs/referencing.png referencing.Referencing && rm -f docs/referencing

clean:
	rm -rf $(VENV) .pytest_cache
