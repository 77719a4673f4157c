# The two commands of README: `make demo` and `make test`. Both install what they need into a
# virtual environment (.venv) first; `make test` also installs the Debian packages the browser
# and load tests use (chromium, wrk) when they are missing, and builds the docs site strictly.

# `make test PYTHON=python3.12` gets its own .venv-3.12, so the venvs of different
# interpreters never overwrite each other; `make test` alone keeps using .venv.
# An explicit VENV=... wins over both.
PYTHON ?= python3
ifndef VENV
ifeq ($(origin PYTHON),file)
VENV := .venv
else
PYTHON_XY := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYTHON_XY),)
$(error PYTHON=$(PYTHON) does not run; give an interpreter that does, e.g. PYTHON=$$(pyenv root)/versions/3.12.1/bin/python3.12)
endif
VENV := .venv-$(PYTHON_XY)
endif
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test

.PHONY: demo fleet-demo test docs bench bench-fleet bench-quick bench-versions lint system-deps clean

# --no-compile: pip byte-compiles every module of every package (pandas' and matplotlib's own
# tests included), half of the install's time; Python compiles only what is imported, once.
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -e '.[test]'
	touch $@

system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP)
	$(PY) -m fmd_profiler.demo --out reports/demo

# Fleet mode on one machine: PostgreSQL (Debian's package) and SeaweedFS (the test extra) are
# started on 127.0.0.1, three gunicorn hosts upload, a committer registers, a report is written.
fleet-demo: $(STAMP) system-deps
	$(PY) -m fmd_profiler.demo.fleet --out reports/fleet-demo

# The documentation site (mkdocs.yml, docs/) into site/; --strict: a warning, a broken link or a
# page missing from the nav fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

# PYTEST_ARGS: more pytest arguments (.ci/run deselects once_in_ci after its first Python).
test: $(STAMP) system-deps docs
	$(PY) -m pytest --durations=20 $(PYTEST_ARGS)

bench: $(STAMP) system-deps
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks.run

# Only the fleet section, written into the existing RESULTS.md (the other sections are kept).
bench-fleet: $(STAMP) system-deps
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks.run --only fleet --into benchmarks/RESULTS.md

bench-quick: $(STAMP) system-deps
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks.run --quick --out benchmarks/.work/RESULTS-quick.md
	@echo "quick figures (too noisy to quote): benchmarks/.work/RESULTS-quick.md"

# Level 1's and level 2's paired latency on each Python version, into benchmarks/RESULTS.md
# (uses the venvs that `make test PYTHON=...` made: .venv, .venv-3.12, .venv-3.13).
bench-versions: $(STAMP)
	$(PY) -m benchmarks.paired_versions

lint: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ruff check fmd_profiler tests benchmarks
	$(PY) -m mypy fmd_profiler

clean:
	rm -rf $(VENV) .pytest_cache site reports/demo reports/.demo-data reports/fleet-demo \
	  reports/.fleet-demo-data

# The pictures of the demo report in README and docs/ (headless Chromium; runs the demo first if needed).
.PHONY: screenshots
screenshots: $(STAMP) system-deps
	$(PY) docs/screenshots.py
