# The two commands of README: `make demo` and `make test`. Both install what they need into a
# virtual environment (.venv) first; `make test` also installs the Debian packages the browser
# and load tests use (chromium, wrk) when they are missing.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test

.PHONY: demo fleet-demo test bench bench-fleet bench-quick lint system-deps clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
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

test: $(STAMP) system-deps
	$(PY) -m pytest

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

lint: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ruff check fmd_profiler tests benchmarks
	$(PY) -m mypy fmd_profiler

clean:
	rm -rf $(VENV) .pytest_cache reports/demo reports/.demo-data reports/fleet-demo \
	  reports/.fleet-demo-data

# README pictures of the demo report (headless Chromium; runs the demo first if needed).
.PHONY: screenshots
screenshots: $(STAMP) system-deps
	$(PY) docs/screenshots.py
