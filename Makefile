# gdl: two commands (see README.md).
#   make site   set everything up (Debian packages, Python venv, offline MathJax) and build the site
#   make test   run the test suite (unit, maths, doctests, and browser tests of the built site)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := dataset-fashion-mnist chromium
MATHJAX_VERSION := 3.2.2
MATHJAX_DIR := docs/_static/mathjax
DATATABLES_VERSION := 10.3.0
DATATABLES_DIR := docs/_static/simple-datatables
# -j auto: pages are read and written on every core too (the gallery's scripts always are).
SPHINXOPTS ?= -W --keep-going -j auto
BUILD := docs/_build
# Small models train ~10x faster on one thread than on two here.
export OMP_NUM_THREADS := 1
export PYTHONHASHSEED := 0

.PHONY: site install system-deps python-deps mathjax datatables html html-noplot times test seeds bench-build clean

site: install html

install: system-deps python-deps mathjax datatables

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y -q $$missing || { $$sudo apt-get update -q && $$sudo apt-get install -y -q $$missing; }; \
	fi

python-deps: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[docs,test]"
	touch $@

mathjax: $(MATHJAX_DIR)/tex-chtml.js

# MathJax 3 from npm, served from the site itself: no CDN is needed to read the maths.
$(MATHJAX_DIR)/tex-chtml.js:
	tmp=$$(mktemp -d); \
	(cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar xzf mathjax-$(MATHJAX_VERSION).tgz); \
	rm -rf $(MATHJAX_DIR); mkdir -p $(MATHJAX_DIR); \
	cp -r $$tmp/package/es5/. $(MATHJAX_DIR)/; cp $$tmp/package/LICENSE $(MATHJAX_DIR)/; \
	rm -rf $$tmp

datatables: $(DATATABLES_DIR)/simple-datatables.js

# simple-datatables from npm (no dependencies, no jQuery): the leaderboard's sorting and
# filtering, served from the site itself.
$(DATATABLES_DIR)/simple-datatables.js:
	tmp=$$(mktemp -d); \
	(cd $$tmp && npm pack --silent simple-datatables@$(DATATABLES_VERSION) >/dev/null && tar xzf simple-datatables-$(DATATABLES_VERSION).tgz); \
	rm -rf $(DATATABLES_DIR); mkdir -p $(DATATABLES_DIR); \
	cp $$tmp/package/dist/umd/simple-datatables.js $$tmp/package/dist/style.css $$tmp/package/LICENSE $(DATATABLES_DIR)/; \
	rm -rf $$tmp

# Build the site, executing every gallery script (reruns only scripts that changed).
html: install
	$(BIN)/sphinx-build $(SPHINXOPTS) -b html docs $(BUILD)/html
	@$(MAKE) --no-print-directory times
	@echo "The site is in $(BUILD)/html/index.html"

# Build without running the gallery: for writing prose.
html-noplot: install
	$(BIN)/sphinx-build $(SPHINXOPTS) -D plot_gallery=0 -b html docs $(BUILD)/html-noplot
	@echo "The site (gallery not executed) is in $(BUILD)/html-noplot/index.html"

# Per-script times of the last build, in seconds and in units of the reference workload, with
# the scripts over their budgets flagged.
times:
	@$(BIN)/python docs/_ext/gallery_times.py docs

# The digits scripts with targets, rerun under seeds 0, 1, 2: mean and spread of each result.
seeds: python-deps
	$(BIN)/python tests/benchmarks/seeds.py

# Clean gallery builds, one script at a time and in parallel, side by side (45-60 minutes).
bench-build: python-deps
	$(BIN)/python tests/benchmarks/build.py

test: $(BUILD)/html/index.html
	$(BIN)/python -m pytest

$(BUILD)/html/index.html:
	$(MAKE) --no-print-directory site

clean:
	rm -rf $(BUILD) docs/auto_examples docs/generated docs/sg_execution_times.rst .jupyter_cache
