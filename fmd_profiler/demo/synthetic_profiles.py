"""Profiler data for a synthetic store, derived from its generated requests.

Each endpoint gets a small call tree of plausible functions (its view calling a query, a
serializer, a template, ...) with fixed shares of its time. The measured time of the generated
requests is divided over those stacks and summed per (endpoint, version, hour), as the sampler sums
per minute; in the versions where an endpoint got slower, the extra time is spent in one function
of its own, so the versions page has something to find. The slowest requests of each endpoint
become outliers (with redacted request data and their own stacks) and a few others get detailed
profiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fmd_profiler.demo.profile_rows import DISPATCH, Outlier, ProfileRows, Stack, make_frame
from fmd_profiler.profiling.redact import REDACTED
from fmd_profiler.profiling.stacks import FrameInfo
from fmd_profiler.store import SegmentWriter

HOUR = 3600.0
#: (name, leaf frames under the view): the building blocks of every endpoint's call tree.
CALLEES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("query", (("app.db:fetch_rows", "app/db.py"),
               ("sqlalchemy.orm.query:Query.all", "sqlalchemy/orm/query.py"),
               ("sqlite3:Cursor.execute", "<sqlite3>"))),
    ("serialize", (("app.serialize:to_json", "app/serialize.py"),
                   ("json.encoder:JSONEncoder.encode", "json/encoder.py"))),
    ("template", (("jinja2.environment:Template.render", "jinja2/environment.py"),
                  ("<template>:root", "templates/page.html"),
                  ("markupsafe:escape", "markupsafe/__init__.py"))),
    ("auth", (("app.auth:check_token", "app/auth.py"),
              ("hmac:compare_digest", "hmac.py"))),
    ("cache", (("app.cache:lookup", "app/cache.py"),
               ("redis.client:Redis.get", "redis/client.py"))),
)


@dataclass
class _Tree:
    """One endpoint's stacks and the share of its time each takes (shares add up to 1)."""

    stacks: list[list[FrameInfo]]
    shares: np.ndarray
    slow: list[FrameInfo]  # the stack the extra time of a slower version goes to


def endpoint_tree(endpoint: str, index: int, rng: np.random.Generator) -> _Tree:
    area, _, view = endpoint.partition(".")
    module = f"app.{area}"
    root = [DISPATCH, make_frame(f"{module}:{view}", f"app/{area}.py", 10 + index)]
    stacks = [root]  # the view's own code
    for name, chain in CALLEES:
        if name != "query" and rng.random() < 0.35:
            continue  # not every endpoint renders a template or checks a token
        frames = [make_frame(function, file, 20 + i) for i, (function, file) in enumerate(chain)]
        stacks += [root + frames[:depth] for depth in range(1, len(frames) + 1)]
    slow = [*root, make_frame(f"{module}:{view}_rebuild", f"app/{area}.py", 200 + index),
            make_frame("app.util:normalise", "app/util.py", 7)]
    stacks.append(slow)
    shares = rng.dirichlet(np.full(len(stacks), 0.8))
    shares[-1] = 0.02  # before it gets slower, the rebuild is a small part
    return _Tree(stacks, shares / shares.sum(), slow)


@dataclass
class SyntheticProfiles:
    """Collects what the generated requests would have recorded at level 3."""

    endpoints: list[str]
    rng: np.random.Generator
    outliers_per_endpoint: int = 3
    details_per_endpoint: int = 2
    trees: list[_Tree] = field(init=False)
    _sums: dict[tuple[int, int, int, bool], list[float]] = field(default_factory=dict)
    _slowest: list[list[tuple[float, int, float, float, int]]] = field(init=False)
    _detail: list[list[tuple[float, float, int]]] = field(init=False)

    def __post_init__(self) -> None:
        self.trees = [endpoint_tree(e, i, self.rng) for i, e in enumerate(self.endpoints)]
        self._slowest = [[] for _ in self.endpoints]
        self._detail = [[] for _ in self.endpoints]

    def add(self, which: np.ndarray, version: np.ndarray, started: np.ndarray,
            duration: np.ndarray, base_ms: np.ndarray, slower: np.ndarray) -> None:
        """One batch of requests (endpoint index, version index, epoch, ms, ...)."""
        hour = (started // HOUR).astype(np.int64)
        keys = np.stack([which, version, hour, slower > 1.0], axis=1)
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), minlength=len(unique))
        sums = np.bincount(inverse.ravel(), weights=duration, minlength=len(unique))
        for (e, v, h, slow), n, total in zip(unique.tolist(), counts.tolist(), sums.tolist(),
                                            strict=True):
            entry = self._sums.setdefault((e, v, h, bool(slow)), [0.0, 0.0])
            entry[0] += n
            entry[1] += total
        ratio = duration / base_ms[which]
        for e in range(len(self.endpoints)):
            mine = np.flatnonzero(which == e)
            if not len(mine):
                continue
            top = mine[np.argsort(ratio[mine])[-self.outliers_per_endpoint:]]
            self._slowest[e] += [(float(duration[i]), int(version[i]), float(started[i]),
                                  float(base_ms[e] * slower[i]), i) for i in top]
            picked = self.rng.choice(mine, size=min(self.details_per_endpoint, len(mine)),
                                     replace=False)
            self._detail[e] += [(float(duration[i]), float(started[i]), int(version[i]))
                                for i in picked]

    def rows(self, versions: list[str]) -> ProfileRows:
        out = ProfileRows()
        for (e, v, h, slow), (n, total) in sorted(self._sums.items()):
            endpoint, tree = self.endpoints[e], self.trees[e]
            bucket = h * HOUR
            out.add_requests(endpoint, versions[v], bucket, int(n), total)
            noise = self.rng.lognormal(0.0, 0.1, size=len(tree.stacks))
            weights = tree.shares * noise / (tree.shares * noise).sum()
            # Of a 40 % slower request, 0.4 / 1.4 of its time is the rebuild.
            extra = 0.4 / 1.4 if slow else 0.0
            stacks: list[Stack] = [(frames, total * (1 - extra) * w)
                                   for frames, w in zip(tree.stacks, weights, strict=True)]
            stacks[-1] = (tree.slow, stacks[-1][1] + total * extra)
            out.add_samples(endpoint, versions[v], bucket, stacks)
        for e, endpoint in enumerate(self.endpoints):
            self._add_outliers(out, e, endpoint, versions)
        return out

    def _add_outliers(self, out: ProfileRows, e: int, endpoint: str,
                      versions: list[str]) -> None:
        tree = self.trees[e]
        slowest = sorted(self._slowest[e], reverse=True)[: self.outliers_per_endpoint]
        query = max(tree.stacks, key=len) if len(tree.stacks) > 1 else tree.stacks[0]
        for n, (duration, v, started, baseline, i) in enumerate(slowest):
            request_id = self.rng.bytes(16).hex()
            path = "/" + endpoint.replace(".", "/") + f"/{i % 997}"
            outlier = Outlier(
                request_id, endpoint, versions[v], started, duration, duration * 0.4, baseline,
                baseline * 2.5, "GET", f"{path}?page={n + 1}&access_token={REDACTED}",
                {"page": str(n + 1), "access_token": REDACTED},
                {"Authorization": REDACTED, "User-Agent": "Mozilla/5.0",
                 "Accept": "application/json", "X-Request-Id": request_id[:8]},
                memory_rss_bytes=int(150e6 + 1e6 * n), load_1m=1.5 + n / 10)
            # An outlier waits on one slow query: most of its time sits in that stack.
            out.add_outlier(outlier, [(query, duration * 0.8), (tree.stacks[0], duration * 0.2)])
        for duration, started, v in self._detail[e][: self.details_per_endpoint]:
            stacks = [(frames, duration * share)
                      for frames, share in zip(tree.stacks, tree.shares, strict=True)]
            out.add_request_profile(self.rng.bytes(16).hex(), "detail", endpoint, versions[v],
                                    started, duration, stacks)

    def write(self, writer: SegmentWriter, versions: list[str]) -> None:
        self.rows(versions).write(writer)
