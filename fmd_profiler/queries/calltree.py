"""Call-tree arithmetic over weighted stacks: function times, flame-graph layout, folded lines.

Input is a list of :class:`WeightedStack` (frame ids from the root to the leaf, a weight, a sample
count), as the profile queries read them. A function's *self* weight is the weight of the stacks
it is the leaf of; its *total* weight that of the stacks it appears in (once per stack, so
recursion does not count twice). Pure functions, no I/O: the queries scale the results to
milliseconds per request, the exports and the flame graph draw them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WeightedStack:
    frames: tuple[int, ...]  # frame ids, root first
    weight: float
    samples: int = 0


@dataclass(frozen=True)
class FunctionWeight:
    frame_id: int
    self_weight: float
    total_weight: float
    samples: int  # samples that had this function anywhere on the stack


@dataclass(frozen=True)
class FlameBox:
    """One box of a flame graph; positions and widths are fractions of the root's weight."""

    frame_id: int
    depth: int
    start: float
    width: float
    self_width: float


def function_weights(stacks: Iterable[WeightedStack]) -> dict[int, FunctionWeight]:
    self_w: dict[int, float] = {}
    total_w: dict[int, float] = {}
    samples: dict[int, int] = {}
    for stack in stacks:
        if not stack.frames:
            continue
        leaf = stack.frames[-1]
        self_w[leaf] = self_w.get(leaf, 0.0) + stack.weight
        for frame in set(stack.frames):
            total_w[frame] = total_w.get(frame, 0.0) + stack.weight
            samples[frame] = samples.get(frame, 0) + stack.samples
    return {f: FunctionWeight(f, self_w.get(f, 0.0), total_w[f], samples[f]) for f in total_w}


class _Node:
    __slots__ = ("children", "self_weight", "weight")

    def __init__(self) -> None:
        self.weight = 0.0
        self.self_weight = 0.0
        self.children: dict[int, _Node] = {}


def flame_layout(stacks: Iterable[WeightedStack], order: Callable[[int], str]
                 ) -> list[FlameBox]:
    """Merge ``stacks`` into a tree and lay it out; children sorted by ``order(frame_id)``
    (flamegraph.pl sorts alphabetically, which makes graphs of two runs comparable)."""
    roots: dict[int, _Node] = {}
    total = 0.0
    for stack in stacks:
        if not stack.frames:
            continue
        total += stack.weight
        level = roots
        node = None
        for frame in stack.frames:
            node = level.get(frame)
            if node is None:
                node = level[frame] = _Node()
            node.weight += stack.weight
            level = node.children
        assert node is not None
        node.self_weight += stack.weight
    boxes: list[FlameBox] = []
    if total <= 0:
        return boxes

    def place(level: dict[int, _Node], depth: int, start: float) -> None:
        for frame in sorted(level, key=lambda f: (order(f), f)):
            node = level[frame]
            boxes.append(FlameBox(frame, depth, start / total, node.weight / total,
                                  node.self_weight / total))
            place(node.children, depth + 1, start)
            start += node.weight

    place(roots, 0, 0.0)
    return boxes


def folded_lines(stacks: Iterable[WeightedStack], name: Callable[[int], str],
                 scale: float = 1.0) -> list[str]:
    """Brendan Gregg's folded format: ``root;child;leaf <integer weight × scale>``, sorted.

    Identical names merge; stacks whose scaled weight rounds to 0 are left out.
    """
    merged: dict[str, float] = {}
    for stack in stacks:
        key = ";".join(name(f).replace(";", ":") for f in stack.frames)
        merged[key] = merged.get(key, 0.0) + stack.weight * scale
    return [f"{key} {round(value)}" for key, value in sorted(merged.items())
            if round(value) > 0]


def total_weight(stacks: Sequence[WeightedStack]) -> float:
    return sum(s.weight for s in stacks)
