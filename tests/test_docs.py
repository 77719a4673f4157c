"""The documents: README stays a short page for users, every docs page is reachable from the
site's nav, and every configuration key is described (the configuration page is generated from
those descriptions). `make docs` / `make test` build the site strictly, which checks links."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

from fmd_profiler import config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _nav_pages(entries: list[object]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            if isinstance(value, list):
                pages += _nav_pages(value)
            else:
                pages.append(str(value))
    return pages


def _site_hooks() -> object:
    spec = importlib.util.spec_from_file_location("site_pages", DOCS / "hooks" / "site_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_short_and_says_how_to_install() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250, "README.md is for users: move details to docs/"
    installs = re.findall(r"^pip install (\S+)", readme, re.MULTILINE)
    assert installs, "README.md needs a pip install line"
    # The package is not on the index: every install line names a checkout, '.' or a wheel.
    for target in installs:
        assert target.strip("'\"").startswith(("/", ".", "dist/")), target


def test_every_docs_page_is_in_the_nav() -> None:
    mkdocs = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = _nav_pages(mkdocs["nav"])
    generated = set(_site_hooks().OUTSIDE.values())  # type: ignore[attr-defined]
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")} | generated
    assert sorted(pages - set(nav)) == [], "pages missing from mkdocs.yml's nav"
    assert sorted(set(nav) - pages) == [], "nav entries without a page"
    assert len(nav) == len(set(nav)), "a page is listed twice in the nav"


def test_every_configuration_key_is_described() -> None:
    assert sorted(set(config.KEYS) - set(config.KEY_DOCS)) == [], \
        "describe these keys in fmd_profiler.config.KEY_DOCS (the docs' configuration page)"
    assert sorted(set(config.KEY_DOCS) - set(config.KEYS)) == []
    for key, (topic, text) in config.KEY_DOCS.items():
        assert topic in config.KEY_TOPICS, key
        assert len(text) > 10, key


def test_configuration_page_lists_every_key_with_its_default() -> None:
    tables = _site_hooks().key_tables()  # type: ignore[attr-defined]
    for key in config.KEYS:
        assert f"| `{key}` |" in tables, key
    assert "| `MONITOR_LEVEL` | `2` |" in tables
    assert "| `SAMPLING_INTERVAL_MS` | `10` |" in tables
    assert "| `PASSWORD` | – |" in tables
