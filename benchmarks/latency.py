"""Added latency per request: contenders interleaved within each round, ratios to the same round.

Each contender runs in its own process (:mod:`benchmarks.worker`), a fresh one every round (see
:data:`ROUNDS_PER_PROCESS`). In a round each endpoint is timed in every contender in short
sub-blocks taken in turn, in an order that rotates (see :data:`SUB_BLOCKS`); each contender's
median over its sub-blocks is divided by the no-profiler median of the same round and endpoint.
The summary is the median over rounds of those ratios (and of the added microseconds).

The same is done with each round's mean (its slowest 1 % left out). A median cannot see how large
a cost is that lands in fewer than half of the requests, and the sampler's passes land in 8-18 %
of them (level 3's detailed profiles in 1 %): halving what a pass costs leaves the median where
it was. The mean counts it.
"""

from __future__ import annotations

import json
import select
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import BARE, Contender, child_env, env_python, folder_for

ENDPOINTS = {
    "/api/items": "JSON + a little SQLite work",
    "/page": "template-heavy page",
    "/compute": "call-heavy pure Python",
}
REPLY_TIMEOUT_S = 120.0
#: Each contender's process is replaced after this many rounds. A process keeps a bias of its own
#: for its whole life (where its memory landed): the same level-1 app measured 1.02x in one run
#: and 1.075x in the next on call-heavy code, where it adds ~15 us (0.9 ms), while in one process
#: level 2 against level 1 (switched per block) differs by under 1 %. The median over rounds
#: averages those biases out only when each round has processes of its own.
ROUNDS_PER_PROCESS = 1
#: A round's requests per endpoint are taken in this many sub-blocks per contender, in turn. This
#: host has slow spells of a few seconds (every process, the bare app too, runs ~1.5x slower);
#: with one block per contender a spell lands on some contenders of a round and not on others.
SUB_BLOCKS = 5
#: The share of each round's slowest requests its mean leaves out (a garbage collection, a moment
#: the host gave the CPU away), so that one hiccup does not decide a round.
TRIM = 0.01


def trimmed_mean(values: list[float], trim: float = TRIM) -> float:
    ordered = sorted(values)
    return statistics.fmean(ordered[:max(1, len(ordered) - int(len(ordered) * trim))])


def middle_half(ratios: list[float]) -> tuple[float, float] | None:
    """The first and third quartiles of per-round ratios: how much the rounds agree."""
    if len(ratios) < 4:
        return None
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return q1, q3


@dataclass
class Worker:
    contender: Contender
    process: subprocess.Popen[str]
    failure: str | None = None

    def ask(self, command: dict[str, Any]) -> dict[str, Any] | None:
        if self.failure:
            return None
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            self.failure = f"crashed: {self._stderr_tail()}"
            return None
        ready, _, _ = select.select([self.process.stdout], [], [], REPLY_TIMEOUT_S)
        if not ready:
            self.failure = f"stalled: no answer within {REPLY_TIMEOUT_S:.0f} s"
            self.process.kill()
            return None
        line = self.process.stdout.readline()
        if not line:
            self.failure = f"crashed: {self._stderr_tail()}"
            return None
        return json.loads(line)  # type: ignore[no-any-return]

    def _stderr_tail(self) -> str:
        try:
            self.process.wait(timeout=10)
            err = self.process.stderr.read() if self.process.stderr else ""
        except subprocess.TimeoutExpired:
            err = ""
        return " / ".join(err.strip().splitlines()[-2:]) or f"exit {self.process.returncode}"

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=60)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()


@dataclass
class LatencyResult:
    rounds: int
    requests_per_round: int
    rounds_per_process: int = ROUNDS_PER_PROCESS
    sub_blocks: int = SUB_BLOCKS
    # contender -> endpoint -> list of per-round medians (µs)
    medians: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # the same with per-round trimmed means (µs)
    means: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def _rounds(self, stat: str) -> dict[str, dict[str, list[float]]]:
        return self.means if stat == "mean" else self.medians

    def _pairs(self, contender: str, endpoint: str, stat: str) -> list[tuple[float, float]]:
        """(contender, no profiler) per-round figures of the same rounds."""
        rounds = self._rounds(stat)
        base = rounds.get(BARE.name, {}).get(endpoint, [])
        mine = rounds.get(contender, {}).get(endpoint, [])
        return list(zip(mine, base, strict=False))

    def ratio(self, contender: str, endpoint: str, stat: str = "median") -> float | None:
        pairs = self._pairs(contender, endpoint, stat)
        return statistics.median(m / b for m, b in pairs) if pairs else None

    def ratio_quartiles(self, contender: str, endpoint: str, stat: str = "median"
                        ) -> tuple[float, float] | None:
        return middle_half([m / b for m, b in self._pairs(contender, endpoint, stat)])

    def added_us(self, contender: str, endpoint: str, stat: str = "median") -> float | None:
        pairs = self._pairs(contender, endpoint, stat)
        return statistics.median(m - b for m, b in pairs) if pairs else None

    def baseline_us(self, endpoint: str, stat: str = "median") -> float | None:
        base = self._rounds(stat).get(BARE.name, {}).get(endpoint, [])
        return statistics.median(base) if base else None


def start_workers(contenders: list[Contender], root: Path, work: Path) -> list[Worker]:
    """Start every contender's process at once (imports overlap), then wait until each is ready."""
    workers = []
    for contender in contenders:
        folder = folder_for(work, "latency", contender)
        shutil.rmtree(folder, ignore_errors=True)
        process = subprocess.Popen(
            [env_python(contender.env, work), "-m", "benchmarks.worker", contender.name,
             str(folder)],
            cwd=root, env=child_env(root), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        workers.append(Worker(contender, process))
    for worker in workers:
        assert worker.process.stdout is not None
        ready, _, _ = select.select([worker.process.stdout], [], [], REPLY_TIMEOUT_S)
        line = worker.process.stdout.readline() if ready else ""
        if not line:
            worker.failure = f"did not start: {worker._stderr_tail()}"
    return workers


def measure(contenders: list[Contender], root: Path, work: Path, *, rounds: int,
            requests: int, warmup: int = 300, endpoints: dict[str, str] = ENDPOINTS,
            rounds_per_process: int = ROUNDS_PER_PROCESS,
            sub_blocks: int = SUB_BLOCKS) -> LatencyResult:
    result = LatencyResult(rounds, requests, rounds_per_process, sub_blocks)
    per_block = max(1, requests // sub_blocks)
    last = list(endpoints)[-1]
    for first in range(0, rounds, rounds_per_process):
        running = [c for c in contenders if c.name not in result.failures]
        workers = start_workers(running, root, work)
        try:
            for worker in workers:
                for path in endpoints:
                    # Ingest once, after the last warm-up: the writer's first ingestion then
                    # happens untimed (see benchmarks.worker.settle).
                    worker.ask({"op": "round", "path": path, "n": warmup,
                                "ingest": path == last})
            for r in range(first, min(rounds, first + rounds_per_process)):
                for path in endpoints:
                    times: dict[str, list[float]] = {}
                    for block in range(sub_blocks):
                        turn = (r * sub_blocks + block) % len(workers)
                        for worker in workers[turn:] + workers[:turn]:
                            reply = worker.ask({"op": "round", "path": path, "n": per_block})
                            if reply is not None:
                                times.setdefault(worker.contender.name, []).extend(
                                    reply["times_us"])
                    for name, mine in times.items():
                        if not any(w.failure for w in workers if w.contender.name == name):
                            result.medians.setdefault(name, {}).setdefault(path, []).append(
                                statistics.median(mine))
                            result.means.setdefault(name, {}).setdefault(path, []).append(
                                trimmed_mean(mine))
        finally:
            for worker in workers:
                worker.stop()
                if worker.failure:
                    result.failures[worker.contender.name] = worker.failure
    return result
