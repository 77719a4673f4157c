"""The shipped config.cfg is valid and documents every key fmd_profiler knows."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from fmd_profiler.config import KEYS, load_config

SAMPLE = Path(__file__).resolve().parent.parent / "config.cfg"
README = SAMPLE.with_name("README.md")


def test_sample_config_loads_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load_config(SAMPLE, environ={})
    assert config.monitor_level == 2


def test_sample_config_and_readme_document_every_key() -> None:
    sample = SAMPLE.read_text()
    readme = README.read_text()
    for key in KEYS:
        assert re.search(rf"^#? ?{key} = ", sample, re.MULTILINE), f"{key} missing in config.cfg"
        assert f"`{key}`" in readme, f"{key} missing in README's table"
