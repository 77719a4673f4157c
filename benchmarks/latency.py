"""Added latency per request: contenders interleaved round by round, ratios to the same round.

Each contender runs in its own process (:mod:`benchmarks.worker`); in every round each endpoint is
timed in every contender, in an order that rotates between rounds, and each contender's median is
divided by the no-profiler median of the same round and endpoint. The summary is the median over
rounds of those ratios (and of the added microseconds).

Every few rounds each contender gets a fresh process (see :data:`ROUNDS_PER_PROCESS`).
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

from benchmarks.contenders import BARE, Contender, child_env, env_python

ENDPOINTS = {
    "/api/items": "JSON + a little SQLite work",
    "/page": "template-heavy page",
    "/compute": "call-heavy pure Python",
}
REPLY_TIMEOUT_S = 120.0
#: Each contender's process is replaced after this many rounds. A process keeps a bias of its own
#: for its whole life (where its memory landed, which CPU it ran on): the same level-1 app measured
#: 1.02x in one run and 1.075x in the next on call-heavy code, where it adds ~15 us (0.9 ms).
#: Fresh processes every few rounds let the median over rounds average those biases out.
ROUNDS_PER_PROCESS = 4


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
    # contender -> endpoint -> list of per-round medians (µs)
    medians: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def ratio(self, contender: str, endpoint: str) -> float | None:
        base = self.medians.get(BARE.name, {}).get(endpoint, [])
        mine = self.medians.get(contender, {}).get(endpoint, [])
        pairs = list(zip(mine, base, strict=False))
        return statistics.median(m / b for m, b in pairs) if pairs else None

    def added_us(self, contender: str, endpoint: str) -> float | None:
        base = self.medians.get(BARE.name, {}).get(endpoint, [])
        mine = self.medians.get(contender, {}).get(endpoint, [])
        pairs = list(zip(mine, base, strict=False))
        return statistics.median(m - b for m, b in pairs) if pairs else None

    def baseline_us(self, endpoint: str) -> float | None:
        base = self.medians.get(BARE.name, {}).get(endpoint, [])
        return statistics.median(base) if base else None


def start_worker(contender: Contender, root: Path, work: Path) -> Worker:
    folder = work / "latency" / contender.name.replace(" ", "_").replace("/", "_")
    shutil.rmtree(folder, ignore_errors=True)
    process = subprocess.Popen(
        [env_python(contender.env, work), "-m", "benchmarks.worker", contender.name, str(folder)],
        cwd=root, env=child_env(root), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    worker = Worker(contender, process)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], REPLY_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if not line:
        worker.failure = f"did not start: {worker._stderr_tail()}"
    return worker


def measure(contenders: list[Contender], root: Path, work: Path, *, rounds: int,
            requests: int, warmup: int = 300, endpoints: dict[str, str] = ENDPOINTS,
            rounds_per_process: int = ROUNDS_PER_PROCESS) -> LatencyResult:
    result = LatencyResult(rounds, requests, rounds_per_process)
    for first in range(0, rounds, rounds_per_process):
        running = [c for c in contenders if c.name not in result.failures]
        workers = [start_worker(c, root, work) for c in running]
        try:
            for worker in workers:
                for path in endpoints:
                    worker.ask({"op": "round", "path": path, "n": warmup})
            for r in range(first, min(rounds, first + rounds_per_process)):
                order = workers[r % len(workers):] + workers[:r % len(workers)]
                for path in endpoints:
                    for worker in order:
                        reply = worker.ask({"op": "round", "path": path, "n": requests})
                        if reply is not None:
                            result.medians.setdefault(worker.contender.name, {}).setdefault(
                                path, []).append(reply["median_us"])
        finally:
            for worker in workers:
                worker.stop()
                if worker.failure:
                    result.failures[worker.contender.name] = worker.failure
    return result
