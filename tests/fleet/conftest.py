"""Fleet mode's shared services for the tests: one PostgreSQL and one SeaweedFS per session.

Each test gets a database of its own in the catalog server and a bucket of its own, so tests
never see each other's lakes. The services are real (Debian's PostgreSQL, SeaweedFS's S3).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from fmd_profiler.demo.services import Postgres, SeaweedFS, postgres, seaweedfs
from fmd_profiler.fleet.settings import LakeSettings, s3_settings

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def lake_env(pg_server: Postgres, s3_server: SeaweedFS) -> dict[str, str]:
    """Config keys (as keyword overrides) of a fresh lake: its own database and bucket."""
    n = next(_names)
    dsn = pg_server.create_database(f"lake{n}")
    bucket = f"fmd-test-{n}"
    s3_server.create_bucket(bucket)
    return {"DATABASE": f"ducklake:postgres:{dsn}", "DATA_PATH": f"s3://{bucket}/lake/",
            "AWS_ACCESS_KEY_ID": "fmd", "AWS_SECRET_ACCESS_KEY": "fmd-secret",
            "AWS_ENDPOINT_URL": s3_server.endpoint_url, "AWS_REGION": "us-east-1"}


@pytest.fixture
def lake_settings(lake_env: dict[str, str], tmp_path: Path) -> LakeSettings:
    return LakeSettings(
        dsn=lake_env["DATABASE"].removeprefix("ducklake:postgres:"),
        data_path=lake_env["DATA_PATH"], host_name="test-host", spool_dir=tmp_path / "spool",
        s3=s3_settings(lake_env))
