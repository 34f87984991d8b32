# The two commands of the README, and the steps they are made of.
#   make book   set everything up, execute every chapter, render the HTML book (_build/html)
#   make test   set everything up, run the unit tests, every notebook under nbval, the book
#               build with warnings as errors, and the browser checks of the built book
# Both create a virtual environment in $(VENV) on first use; nothing else needs installing.

PYTHON ?= python3
VENV ?= .venv
# Exact pins for CI and tests only (the package itself has lower bounds). Use CONSTRAINTS= to
# keep whatever torch your machine already has.
CONSTRAINTS ?= constraints.txt
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
JB_FLAGS := -W -n --keep-going --builder html

.PHONY: book test install notebooks html unit nbval browser student clean help

help:
	@echo "make book   # execute the chapters and build the HTML book in _build/html"
	@echo "make test   # every test: unit, notebooks (nbval), book build (-W), browser"

$(STAMP): pyproject.toml requirements.txt $(wildcard $(CONSTRAINTS))
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed, this is " + sys.version'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
	touch $@

install: $(STAMP)

# Re-execute every chapter in place (outputs, provenance stamp), regenerate the student versions
# from them, then render.
book: notebooks html

notebooks: $(STAMP)
	$(PY) scripts/execute_notebooks.py $(NOTEBOOKS)
	$(PY) -m stylegan_tutorial student $(NOTEBOOKS) --out notebooks/student

html: $(STAMP)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)

test: $(STAMP)
	bash scripts/ensure_chromium.sh
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	$(PY) -m pytest --nbval-lax --nbval-sanitize-with ci/nbval_sanitize.cfg -p no:cacheprovider -ra

unit: $(STAMP)
	$(PY) -m pytest tests -ra

nbval: $(STAMP)
	$(PY) -m pytest notebooks --nbval-lax --nbval-sanitize-with ci/nbval_sanitize.cfg -ra

# The student versions (solutions stubbed) beside the chapters, committed so that Colab can open
# them; tests/test_student.py fails when they no longer match their chapters.
student: $(STAMP)
	$(PY) -m stylegan_tutorial student $(NOTEBOOKS) --out notebooks/student

clean:
	rm -rf _build .pytest_cache
