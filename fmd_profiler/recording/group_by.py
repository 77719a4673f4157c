"""Flask-MonitoringDashboard's ``config.group_by`` forms, turned into the text stored per request.

A primitive (str, int, float, bool, bytes) is its ``str``; a callable is called and its result
turned into text the same way; a list or tuple becomes ``(a,b,...)`` of its items, nested as deep
as given, so ``(get_user, get_team)`` is stored as ``(alice,red)`` exactly as FMD stored it.
"""

from __future__ import annotations

_PRIMITIVES = (bool, bytes, float, int, str)
#: Guards against a structure that contains itself.
MAX_DEPTH = 16


def group_by_text(argument: object, depth: int = 0) -> str:
    """The text FMD 2.x-5.x would store for ``argument`` (may raise what a callable raises)."""
    if type(argument) in _PRIMITIVES:
        return str(argument)
    if depth >= MAX_DEPTH:
        return str(argument)
    if callable(argument):
        return group_by_text(argument(), depth + 1)
    if isinstance(argument, (list, tuple)):
        return "(" + ",".join(group_by_text(item, depth + 1) for item in argument) + ")"
    return str(argument)


class FmdGroupBy:
    """A ``get_group_by`` callable over an FMD ``group_by`` value."""

    __slots__ = ("argument",)

    def __init__(self, argument: object) -> None:
        self.argument = argument

    def __call__(self) -> str:
        return group_by_text(self.argument)
