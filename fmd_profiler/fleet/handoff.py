"""LakeSettings as JSON, for handing them to an upload child on its stdin (never in argv, where
every user of the machine could read the secrets with ``ps``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from fmd_profiler.fleet.settings import LakeSettings, S3Settings


def settings_to_json(settings: LakeSettings) -> bytes:
    data = asdict(settings)
    data["spool_dir"] = str(settings.spool_dir)
    return json.dumps(data).encode()


def settings_from_json(text: bytes | str) -> LakeSettings:
    """Raises ValueError for anything that is not what :func:`settings_to_json` wrote."""
    try:
        data = json.loads(text)
        s3 = data["s3"]
        return LakeSettings(dsn=str(data["dsn"]), data_path=str(data["data_path"]),
                            host_name=str(data["host_name"]),
                            spool_dir=Path(data["spool_dir"]),
                            s3=None if s3 is None else S3Settings(**s3))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not fleet settings ({type(exc).__name__})") from None
