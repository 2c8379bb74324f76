# Commands for learners and maintainers; each first creates or refreshes .venv.
#   make lab                                     open the course in JupyterLab, at notebooks/
#   make lab ARGS="--no-browser --port 8890"     options pass through to `jupyter lab`
#   make progress                                which exercises of notebooks/ are done
#   make progress DIR=solutions                  the same for the solutions (all done)
#   make test                                    lint, unit tests and both editions (strict nbval)
#   make site                                    the course as a website: _build/site/index.html
#   make site-check                              open every page of it in Chromium and check it
#   make translations                            update locales/zh_CN/ from the English pages
#   make zh                                      write the Chinese notebooks into zh_CN/
#   make lab-zh                                  open the Chinese learner's edition in JupyterLab

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=
DIR    ?= notebooks

# One BLAS thread per process: the course's matrices are small, and on two cores two kernels
# (or a kernel and a test worker) with two BLAS threads each slowed convolutions tenfold.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

# jupyter lab refuses to run as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab lab-zh test lint venv clean bench notebooks workbook progress site site-check \
	translations zh

venv: $(STAMP)

# Reinstall whenever the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Serve the whole repository, so that solutions/ is one folder up, and open notebooks/.
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=. --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG) $(ARGS)

# The same at zh_CN/notebooks, the Chinese learner's edition that `make zh` writes.
lab-zh: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=. --LabApp.default_url=/lab/tree/zh_CN/notebooks $(ROOT_FLAG) $(ARGS)

# Run a copy of each notebook of $(DIR) and list the exercises done; nothing is written back.
progress: $(STAMP)
	$(BIN)/python tools/progress.py $(DIR)

lint: $(STAMP)
	$(BIN)/ruff check .

# Two workers or more, a file each (nbval runs one notebook's cells in order in one kernel).
test: lint
	$(BIN)/python -m pytest -n auto --dist loadfile

# For maintainers: solutions/ is the source. Re-run every notebook there in place and store what
# nbval will compare (streams are merged afterwards, since how a print is split into pieces
# varies from run to run), write the learner's edition, notebooks/, from it, and run that too:
# its cells after a blank use the package's piece and say so, so their outputs are its own.
# The tracebacks of its check cells then name the package's files relative to the repository.
#   make notebooks NB=06          only the notebooks whose names start with 06
NB     ?=
NB_SOLUTIONS := $(if $(NB),$(foreach n,$(NB),solutions/$(n)*.ipynb),solutions/*.ipynb)
NB_LEARNERS  := $(subst solutions/,notebooks/,$(NB_SOLUTIONS))
EXECUTE := $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False
COALESCE := $(BIN)/jupyter nbconvert --to notebook --inplace --coalesce-streams
notebooks: $(STAMP)
	$(EXECUTE) $(NB_SOLUTIONS)
	$(COALESCE) $(NB_SOLUTIONS)
	$(BIN)/python tools/workbook.py $(NB)
	$(EXECUTE) $(NB_LEARNERS)
	$(COALESCE) $(NB_LEARNERS)
	$(BIN)/python tools/tidy_tracebacks.py $(NB_LEARNERS)

# Write notebooks/ (the learner's edition) from solutions/ again, without running anything.
workbook: $(STAMP)
	$(BIN)/python tools/workbook.py

# The course as a static website (Jupyter Book 1), in _build/site/: open _build/site/index.html
# (English) or _build/site/zh_CN/index.html (Chinese, from the catalogues in locales/zh_CN/).
# One page per notebook, built from solutions/ with each exercise's solution folded under its
# blank (tools/website.py says how), from the stored outputs: nothing is run, nothing fetched,
# and a warning is an error.
site: $(STAMP)
	$(BIN)/python tools/website.py
	$(BIN)/python tools/website.py --language zh_CN

# Build the site, then open every page in headless Chromium through Playwright: no request to
# another host, none failed, every image loaded, the math rendered, no console error.
# Needs a Chromium (not installed by .venv): as root on Debian or Ubuntu,
# `apt-get install -y chromium`; elsewhere `.venv/bin/playwright install chromium`; or
# CHROMIUM=/path/to/chrome. Also `make site-check ARGS="--screenshots /tmp/shots"`.
site-check: site
	$(BIN)/python tools/check_website.py $(ARGS)

# After an English change: extract the pages' messages (one per paragraph, heading, list item)
# and merge them into the Chinese catalogues, locales/zh_CN/LC_MESSAGES/<notebook>.po. A changed
# paragraph comes back fuzzy and a new one empty; translate them (tests/test_translations.py
# names each one until it is done). The home page is README_zh.md itself, so it has none.
translations: $(STAMP)
	$(BIN)/python tools/website.py --builder gettext
	rm -f _build/gettext/en/index.pot
	$(BIN)/sphinx-intl update -p _build/gettext/en -l zh_CN -d locales

# The Chinese notebooks, zh_CN/solutions/ and zh_CN/notebooks/ (committed), from the English
# ones and the catalogues: the same code cells and outputs, each markdown paragraph translated
# (tools/zh_notebooks.py says how). An untranslated paragraph is an error that names it.
zh: $(STAMP)
	$(BIN)/python tools/zh_notebooks.py

clean:
	rm -rf $(VENV) build dist *.egg-info _build

# Speed against hand-written NumPy (and PyTorch, if installed); not a test. See benchmarks/README.md.
#   make bench ARGS=--quick
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)
