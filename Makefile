# The two commands of the README: `make quickstart` and `make test`.
# Each creates the virtual environment when it is absent. torch is installed
# first, pinned to TORCH_VERSION, so that no dependency pulls another build.
# Which build pip picks is up to the index: from PyPI, on Linux, that is the
# CUDA build. TORCH_INDEX is passed to that one pip install, e.g.
#   make test TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu
# for the CPU-only build. Empty by default: pip's own configuration decides.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_INDEX) torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

quickstart: venv
	$(VENV)/bin/vlseq quickstart

test: venv
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check src tests bench experiments
	$(PY) -m pytest -n 2 tests

.PHONY: venv quickstart test
