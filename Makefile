# sciml developer entry points.
#
#   make demo   - the main job: `sciml demo` (every method on small problems, ~2 min)
#   make test   - lint (ruff), format check, type check (mypy), unit tests (pytest)
#   make docs   - build the HTML documentation (warnings are errors)
#   make bench  - `sciml bench`: every benchmark, then benchmarks/README.md's targets table
#   make bench-operators - the operator-learning benchmark only
#   make clean  - remove build / docs / cache outputs (keeps .venv)
#
# Every target first makes sure .venv exists and holds an editable install of
# sciml with the fem, dev and docs extras. The install is redone whenever
# pyproject.toml changes. Set PYTHON=/path/to/python3.x to pick the interpreter
# used to create .venv.

SHELL := /bin/bash

VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS := fem,dev,docs

# Interpreters tried, in order, when creating .venv (first one >= 3.12 wins);
# then, if pyenv is installed, any $(pyenv root)/versions/3.*/bin/python3.
PYTHON_CANDIDATES := python3.12 python3.13 python3.14 python3
PYTHON ?=

PY_OK := import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)

.PHONY: all demo test lint docs bench bench-operators bench-peers clean distclean venv

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@set -e; \
	if [ -x "$(VPY)" ] && "$(VPY)" -c '$(PY_OK)' >/dev/null 2>&1; then \
	  echo "Using existing $(VENV) ($$("$(VPY)" --version 2>&1))"; \
	else \
	  py=""; \
	  for c in $(if $(PYTHON),$(PYTHON),$(PYTHON_CANDIDATES)); do \
	    if command -v "$$c" >/dev/null 2>&1 && "$$c" -c '$(PY_OK)' >/dev/null 2>&1; then \
	      py="$$c"; break; \
	    fi; \
	  done; \
	  if [ -z "$$py" ] && [ -z "$(PYTHON)" ] && command -v pyenv >/dev/null 2>&1; then \
	    for c in "$$(pyenv root)"/versions/3.*/bin/python3; do \
	      if [ -x "$$c" ] && "$$c" -c '$(PY_OK)' >/dev/null 2>&1; then py="$$c"; break; fi; \
	    done; \
	  fi; \
	  if [ -z "$$py" ]; then \
	    echo "error: sciml needs Python >= 3.12; install it (e.g. pyenv install 3.12) and retry" >&2; \
	    echo "       (tried: $(if $(PYTHON),$(PYTHON),$(PYTHON_CANDIDATES)))" >&2; \
	    exit 1; \
	  fi; \
	  echo "Creating $(VENV) with $$py ($$("$$py" --version 2>&1))"; \
	  rm -rf "$(VENV)"; \
	  "$$py" -m venv "$(VENV)"; \
	fi
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -e '.[$(EXTRAS)]'
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/sciml demo

lint: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	$(VPY) -m mypy

test: lint
	$(VPY) -m pytest

docs: $(STAMP)
	$(VPY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP) bench-peers
	$(VENV)/bin/sciml bench

bench-operators: $(STAMP) bench-peers
	$(VPY) benchmarks/operators.py

# DeepXDE and neuraloperator: benchmark peers only, never imported by sciml
bench-peers: $(STAMP)
	$(VPY) -m pip install --quiet -e ".[bench]"

clean:
	rm -rf build dist *.egg-info
	rm -rf docs/_build docs/auto_examples docs/generated docs/sg_execution_times.rst
	rm -rf .mypy_cache .ruff_cache .pytest_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
