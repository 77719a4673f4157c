"""MkDocs hooks (mkdocs.yml ``hooks:``): pages generated from the code and the repository.

The configuration page's key tables come from ``fmd_profiler.config.KEYS``, ``KEY_DOCS`` and the
``Config`` defaults, so the page cannot drift from the code; a key without a description fails
the build. ``benchmarks/RESULTS.md``, ``benchmarks/README.md`` and ``SECURITY.md`` live outside
docs/ (``make bench`` rewrites the first), so they are added to the site as pages, and links to
them are pointed there. After the build, a page that would load anything from another site (a
CDN, web fonts, analytics) fails it: the site must work offline.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- configuration keys -->"
#: A script, stylesheet, image or frame fetched from another host when a page is viewed.
EXTERNAL_ASSET = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)="
                            r"[\"'](?:https?:)?//", re.IGNORECASE)
#: Files outside docs/ shown as pages: repository path -> page path in the site.
OUTSIDE = {"benchmarks/RESULTS.md": "results.md", "benchmarks/README.md": "benchmark-method.md",
           "SECURITY.md": "security-policy.md"}


def on_files(files: Files, config: Any) -> Files:
    for source, page in OUTSIDE.items():
        # Their links into docs/ are relative to the repository's root; the site's to docs/.
        text = (ROOT / source).read_text(encoding="utf-8").replace("](docs/", "](")
        files.append(File.generated(config, page, content=text))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    markdown = _point_outside_links(markdown, page.file.src_uri)
    if page.file.src_uri == "configuration.md":
        if MARKER not in markdown:
            raise PluginError(f"configuration.md lacks the line {MARKER}, where the key "
                              "tables go")
        markdown = markdown.replace(MARKER, key_tables())
    return markdown


def on_post_build(config: Any) -> None:
    site = Path(config["site_dir"])
    loading = sorted(str(page.relative_to(site)) for page in site.rglob("*.html")
                     if EXTERNAL_ASSET.search(page.read_text(encoding="utf-8")))
    if loading:
        raise PluginError(f"pages load assets from other sites: {', '.join(loading)}; the "
                          "site must work offline (theme font: false, no CDN, no analytics)")


def _point_outside_links(markdown: str, src_uri: str) -> str:
    """``](../benchmarks/RESULTS.md#x)`` (right on GitHub) -> the page the site has for it."""
    depth = src_uri.count("/")
    for source, page in OUTSIDE.items():
        outside = "../" * (depth + 1) + source
        inside = "../" * depth + page
        markdown = re.sub(rf"\]\({re.escape(outside)}(#[^)]*)?\)",
                          lambda m, inside=inside: f"]({inside}{m.group(1) or ''})", markdown)
    return markdown


def key_tables() -> str:
    """One table per topic: every key of ``config.KEYS`` with its default and description."""
    from fmd_profiler import config

    missing = [key for key in config.KEYS if key not in config.KEY_DOCS]
    if missing:
        raise PluginError("configuration keys without a description in "
                          f"fmd_profiler.config.KEY_DOCS: {', '.join(missing)}; add one "
                          "(topic, what the key does) for each")
    stale = [key for key in config.KEY_DOCS if key not in config.KEYS]
    if stale:
        raise PluginError(f"fmd_profiler.config.KEY_DOCS describes unknown keys: "
                          f"{', '.join(stale)}; remove them")
    topics = {key: topic for key, (topic, _) in config.KEY_DOCS.items()}
    unknown = sorted({t for t in topics.values() if t not in config.KEY_TOPICS})
    if unknown:
        raise PluginError(f"KEY_DOCS uses topics missing from config.KEY_TOPICS: {unknown}")
    defaults = _defaults(config.Config)
    parts = []
    for topic in config.KEY_TOPICS:
        keys = [key for key in config.KEYS if topics[key] == topic]
        if not keys:
            continue
        rows = ["| key | default | what it does |", "| --- | --- | --- |"]
        for key in keys:
            name = config.KEYS[key][0]
            text = config.KEY_DOCS[key][1].replace("|", "\\|")
            rows.append(f"| `{key}` | {_shown(defaults[name])} | {text} |")
        parts.append(f"## {topic}\n\n" + "\n".join(rows))
    return "\n\n".join(parts)


def _defaults(config_class: type) -> dict[str, object]:
    values: dict[str, object] = {}
    for field in dataclasses.fields(config_class):
        if field.default is not dataclasses.MISSING:
            values[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            values[field.name] = field.default_factory()
    return values


def _shown(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, (tuple, list)):
        return f"`{list(value)!r}`".replace('"', "'")
    if isinstance(value, dict) or hasattr(value, "items"):
        return f"`{dict(value)!r}`"  # type: ignore[call-overload]
    return f"`{value}`"
