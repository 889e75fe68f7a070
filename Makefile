# The two commands of the README: `make quickstart` and `make test`.
# Each creates the virtual environment when it is absent. torch is installed
# first from the pinned CPU wheel so that no dependency pulls a CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
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
