# Two commands: `make demo` and `make test`. Both install what is missing first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install sysdeps demo test lint imports typecheck unit bench bench-ray down clean

sysdeps:
	@bash .ci/sysdeps

$(STAMP): setup.cfg setup.py pyproject.toml transport/_spin.c
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@bash .ci/http-parser $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: sysdeps $(STAMP)

# The import contracts are in pyproject.toml ([tool.importlinter]); the custom private-modules
# contract lives in .ci/import_contracts.py, hence the PYTHONPATH.
LINT_IMPORTS := PYTHONPATH=.ci $(VENV)/bin/lint-imports --no-logo --no-cache

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(LINT_IMPORTS)

imports: install
	$(LINT_IMPORTS)

typecheck: install
	$(VENV)/bin/mypy

# The suite runs on TEST_WORKERS processes (pytest-xdist; a module stays on one worker,
# so its shared cluster is started once), then the `serial` tests (growth exponents: a
# ratio of two timings must not see the other worker's load change in between) alone.
# Exit status 5 is "no test selected" (a PYTEST_ARGS without serial tests).
TEST_WORKERS ?= 2

test: install lint typecheck
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" $(PYTEST_ARGS)
	$(PY) -m pytest -p no:xdist -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

demo: install
	$(PY) -m console.cli cluster up --masters 3 --agents 2
	$(PY) examples/demo_setup.py
	$(PY) -m console.cli dashboard
	@echo "The cluster is still running: 'make down' (or '.venv/bin/pydcos cluster down') stops it."

down:
	@if [ -x $(PY) ]; then $(PY) -m console.cli cluster down; else echo "nothing to stop (no $(VENV))"; fi

bench: install
	@for b in bench/[a-z]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Issue 27: bench/cluster_actors.py measures Ray beside pydcos when ray is installed.
bench-ray: install
	@$(PY) -c 'import ray' 2>/dev/null || $(PY) -m pip install -q 'ray>=2.9'
	$(PY) bench/cluster_actors.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info build transport/_spin*.so
