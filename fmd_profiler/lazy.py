"""Names a package imports on first use (PEP 562), so importing the package stays cheap.

A recording process imports ``fmd_profiler`` and ``fmd_profiler.store`` but must not load
DuckDB and numpy; their ``__getattr__`` hands the names that would bring them in to
:func:`attribute`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def attribute(namespace: dict[str, Any], lazy: Mapping[str, str], package: str,
              name: str) -> Any:
    """``name`` from its module in ``lazy``, kept in ``namespace`` so this runs once per name."""
    module = lazy.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value
