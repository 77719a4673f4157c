"""Flask-MonitoringDashboard's configuration names, translated to ours.

:func:`translate_sections` turns the sections of an FMD 1.x-5.x config file (``[dashboard]``,
``[authentication]``, ``[database]``, ``[visualization]``, ``[alerting]``) into our flat keys,
with one note per key that changes meaning or has no effect here; :func:`fmd_level` maps FMD's
monitoring levels onto ours so that nothing an FMD user recorded is lost. No framework here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Sections of FMD 2.x-5.x files; ``dashboard`` is also ours.
FMD_SECTIONS = ("dashboard", "authentication", "database", "visualization", "alerting")

#: FMD's levels: 0 off, 1 timing, 2 = 1 + outliers, 3 = 2 + its per-request profiler.
FMD_LEVEL_NAMES = {0: "off", 1: "timing", 2: "timing + outliers",
                   3: "timing + outliers + profiler"}

#: FMD level -> ours (0 off, 1 timing, 2 + sampled stacks, 3 + outliers and detailed profiles).
#: FMD 2 kept outliers, which only our level 3 does; FMD 3's per-request profiler is our level
#: 3's detailed profiles plus level 2's sampled stacks. So both go to 3: nothing is lost.
_FMD_TO_OURS = {0: 0, 1: 1, 2: 3, 3: 3}


def fmd_level(level: int) -> int:
    """Our level that keeps everything FMD's ``level`` kept (unknown levels are returned as is)."""
    return _FMD_TO_OURS.get(level, level)


def our_level_as_fmd(level: int) -> str:
    """What an FMD user would call our ``level`` (shown beside ours on the settings page)."""
    return {0: "FMD 0 (off)", 1: "FMD 1 (timing)", 2: "no FMD equivalent (FMD 1 + sampled "
            "call stacks)", 3: "FMD 2 and 3 (outliers, profiles)"}.get(level, "")


@dataclass(frozen=True)
class Translation:
    """Our raw key -> value pairs from an FMD file, and one note per key that needs one."""

    values: dict[str, str]
    notes: tuple[str, ...]


#: FMD-only keys whose value becomes one of ours (same meaning, maybe another unit).
_RENAMED = {
    # FMD 2.x-4.x documented SAMPLING_PERIOD, 5.x reads SAMPLING_RATE; both in milliseconds.
    "SAMPLING_PERIOD": "SAMPLING_INTERVAL_MS",
    "SAMPLING_RATE": "SAMPLING_INTERVAL_MS",
}

#: FMD-only keys with no effect here, and why (one warning line each).
_IGNORED = {
    "BLUEPRINT_NAME": "the dashboard's blueprint is always fmd_profiler_dashboard; its URL is "
                      "CUSTOM_LINK",
    "ENABLE_LOGGING": "fmd_profiler logs through the standard 'fmd_profiler' logger; configure "
                      "that logger's level instead",
    "LOG_DIR": "fmd_profiler writes no log files; it logs through the 'fmd_profiler' logger",
    "SECURITY_TOKEN": "the JSON API (/<CUSTOM_LINK>/api/summary) is for signed-in users; "
                      "there is no token-only access",
    "BRAND_NAME": "the dashboard's look is not configurable",
    "TITLE_NAME": "the dashboard's look is not configurable",
    "DESCRIPTION": "the dashboard's look is not configurable",
    "SHOW_LOGIN_BANNER": "the dashboard's look is not configurable",
    "SHOW_LOGIN_FOOTER": "the dashboard's look is not configurable",
}

#: Keys read only by ``python -m fmd_profiler.migrate`` (to find FMD's tables); no note.
MIGRATE_ONLY = ("TABLE_PREFIX",)


def is_fmd_file(sections: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether a file is laid out as FMD 2.x-5.x's (sections besides ``[dashboard]``)."""
    return any(name in sections for name in FMD_SECTIONS[1:])


def translate_sections(sections: Mapping[str, Mapping[str, str]]) -> Translation:
    """Flatten ``sections`` (section -> upper-cased key -> raw value) into our keys.

    Our own keys pass through from any of FMD's sections (unknown ones are the caller's to warn
    about). In a file laid out as FMD's, ``MONITOR_LEVEL`` has FMD's meaning and is translated
    with :func:`fmd_level`.
    """
    values: dict[str, str] = {}
    notes: list[str] = []
    fmd_layout = is_fmd_file(sections)
    for section, items in sections.items():
        if section not in FMD_SECTIONS:
            for key in items:
                notes.append(f"[{section}] {key} is ignored: fmd_profiler reads only the sections "
                             f"[{'], ['.join(FMD_SECTIONS[:4])}]")
            continue
        for key, raw in items.items():
            if section == "alerting":
                notes.append(f"[alerting] {key} is ignored: fmd_profiler does not send alerts; "
                             "watch the JSON summary (python -m fmd_profiler.report --json -) "
                             "from your own monitoring instead")
            elif key in _RENAMED:
                values[_RENAMED[key]] = raw
                notes.append(f"{key} = {raw} (milliseconds) is read as {_RENAMED[key]} = {raw}")
            elif key in _IGNORED:
                notes.append(f"{key} is ignored: {_IGNORED[key]}")
            elif key in MIGRATE_ONLY:
                continue
            elif key == "MONITOR_LEVEL" and fmd_layout:
                values[key] = _translated_level(raw, notes)
            else:
                values[key] = raw  # ours, or unknown: the caller warns about unknown keys
    return Translation(values, tuple(notes))


def _translated_level(raw: str, notes: list[str]) -> str:
    text = raw.strip()
    if not text.isdigit():
        return raw  # the level parser names the problem
    level = int(text)
    ours = fmd_level(level)
    if ours != level:
        notes.append(f"MONITOR_LEVEL = {level} is Flask-MonitoringDashboard's "
                     f"'{FMD_LEVEL_NAMES.get(level, level)}'; it becomes our level {ours} "
                     "(timing + sampled call stacks + outliers and detailed profiles), which "
                     "keeps all of it")
    return str(ours)
