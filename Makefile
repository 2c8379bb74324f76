# Two commands for learners and maintainers; both first create or refresh .venv.
#   make lab                                     open the course in JupyterLab
#   make lab ARGS="--no-browser --port 8890"     options pass through to `jupyter lab`
#   make test                                    lint, unit tests and every notebook (strict nbval)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

# jupyter lab refuses to run as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test lint venv clean bench notebooks

venv: $(STAMP)

# Reinstall whenever the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

# For maintainers: re-run every notebook in place and store what nbval will compare. Streams
# are merged afterwards, since how a print is split into pieces varies from run to run.
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False notebooks/*.ipynb
	$(BIN)/jupyter nbconvert --to notebook --inplace --coalesce-streams notebooks/*.ipynb

clean:
	rm -rf $(VENV) build dist *.egg-info

# Speed against hand-written NumPy (and PyTorch, if installed); not a test. See benchmarks/README.md.
#   make bench ARGS=--quick
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)
