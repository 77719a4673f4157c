"""``python -m fmd_profiler.benchmark``: run the suite N times, store, compare, upload, gate.

Exit status: 0 fine; 1 a regression beyond ``--fail-on-regression``; 2 a usage or setup problem
(one line on stderr, no traceback); 3 tests failed (the run is stored all the same). A failed
upload never changes the status and never loses the run: it stays in the local store and in a
file the message names.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fmd_profiler.benchmark import benchmark_queries as queries
from fmd_profiler.benchmark.collect import SideSummary, build_payload
from fmd_profiler.benchmark.provenance import Provenance, read_provenance
from fmd_profiler.benchmark.regressions import DEFAULT_EXTRA_ROUNDS, DEFAULT_SETTINGS, Settings
from fmd_profiler.benchmark.runner import Outcome, Plan, Side, SideResult, run_sides
from fmd_profiler.benchmark.storage import StoreResult, store_payload
from fmd_profiler.benchmark.submit import UploadError, is_insecure, submit_url, upload
from fmd_profiler.config import Config, load_config
from fmd_profiler.errors import ProfilerError
from fmd_profiler.schema import BENCH_VERDICTS
from fmd_profiler.store.control import write_atomic
from fmd_profiler.store.factory import Store, open_store

PROG = "python -m fmd_profiler.benchmark"
TOKEN_ENV = "FMD_PROFILER_SUBMIT_TOKEN"
EXIT_REGRESSION, EXIT_USAGE, EXIT_TESTS_FAILED = 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, usage=f"{PROG} [options] [-- pytest arguments]",
        description="Run the test suite N times, record per-test and per-endpoint timings with "
                    "the commit, flag regressions against a baseline, upload the run.")
    parser.add_argument("--config", help="config file (default: $DASHBOARD_CONFIG, ./config.cfg)")
    parser.add_argument("--tests", action="append", metavar="DIR",
                        help="tests to run (repeatable; default: TEST_DIR, else pytest's own "
                             "discovery)")
    parser.add_argument("-n", type=int, metavar="N", help="rounds over the suite, the first one "
                                                          "a warm-up (default: N, 10)")
    parser.add_argument("--app", metavar="MODULE:NAME",
                        help="profile only this Flask app (default: every app the tests build)")
    parser.add_argument("--db", help="store for the results (default: DATABASE)")
    parser.add_argument("--against", metavar="REV",
                        help="compare with commit REV, run interleaved in a temporary worktree")
    parser.add_argument("--threshold", type=float, default=(DEFAULT_SETTINGS.threshold - 1) * 100,
                        metavar="PCT", help="flag only slow-downs above PCT %% (default 10)")
    parser.add_argument("--min-change-ms", type=float, default=DEFAULT_SETTINGS.min_change_ms,
                        metavar="MS", help="flag only medians that moved by more than MS "
                                           "milliseconds (default 0.1)")
    parser.add_argument("--alpha", type=float, default=DEFAULT_SETTINGS.alpha,
                        help="chance of any false alarm in a run (default 0.005)")
    parser.add_argument("--max-extra-rounds", type=int, default=DEFAULT_EXTRA_ROUNDS,
                        metavar="K",
                        help="with --against: when after the -n rounds a comparison is flagged "
                             "or inconclusive, run K more rounds of both commits and decide once "
                             f"on all of them (default {DEFAULT_EXTRA_ROUNDS}; 0: never)")
    parser.add_argument("--fail-on-regression", type=float, metavar="PCT",
                        help="exit 1 when a test or endpoint is flagged slower by more than PCT %%")
    parser.add_argument("--exact", action="store_true",
                        help="also count every call of the project's functions per test (yappi)")
    parser.add_argument("--json", metavar="FILE", help="write the whole run as JSON")
    parser.add_argument("--upload", metavar="URL",
                        help="dashboard to send the run to (default: SUBMIT_RESULTS_URL)")
    parser.add_argument("--no-upload", action="store_true", help="do not upload")
    parser.add_argument("--token", help=f"upload token (default: ${TOKEN_ENV}, SUBMIT_TOKEN)")
    return parser


@dataclass(frozen=True)
class Options:
    config: Config
    rounds: int
    extra_rounds: int
    tests: tuple[str, ...]
    app: str | None
    against: str | None
    settings: Settings
    fail_above: float | None  # ratio
    exact: bool
    json: Path | None
    upload_url: str | None
    token: str | None
    pytest_args: tuple[str, ...]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(parse_options(args, pytest_args))
    except ProfilerError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was stored", file=sys.stderr)
        return 130


def parse_options(args: argparse.Namespace, pytest_args: Sequence[str]) -> Options:
    config = load_config(args.config, **({"DATABASE": args.db} if args.db else {}))
    rounds = args.n if args.n is not None else config.n
    if not 1 <= rounds <= 1000:
        raise ProfilerError(f"-n {rounds}: give 1 to 1000 rounds (10 or more to detect changes)")
    if not 0 <= args.max_extra_rounds <= 1000:
        raise ProfilerError(f"--max-extra-rounds {args.max_extra_rounds}: give 0 (never) to "
                            "1000 rounds")
    if not 0 < args.alpha < 0.5:
        raise ProfilerError(f"--alpha {args.alpha}: give a probability such as 0.01")
    if args.min_change_ms < 0:
        raise ProfilerError(f"--min-change-ms {args.min_change_ms}: give milliseconds, 0 or more")
    if args.threshold < 0:
        raise ProfilerError(f"--threshold {args.threshold}: give a percentage such as 10")
    tests = tuple(args.tests or ([str(config.test_dir)] if config.test_dir else []))
    for path in tests:
        if not Path(path.split("::")[0]).exists():
            raise ProfilerError(f"tests {path!r} do not exist (looked in {Path.cwd()}); pass "
                                "--tests DIR or set TEST_DIR")
    if args.app:
        from fmd_profiler.benchmark.autoprofile import split_app_spec

        split_app_spec(args.app)  # the form now; the import in the test process
    url = None if args.no_upload else (args.upload or config.submit_results_url)
    token = args.token or os.environ.get(TOKEN_ENV) or config.submit_token
    if url and not token and not args.upload:
        # The early README's config names SUBMIT_RESULTS_URL alone: run, say once why not sent.
        print(f"{PROG}: warning: SUBMIT_RESULTS_URL is set but there is no SUBMIT_TOKEN, so "
              f"results are not uploaded; set SUBMIT_TOKEN (the dashboard's) or ${TOKEN_ENV}",
              file=sys.stderr)
        url = None
    if url and not token:
        raise ProfilerError(f"uploading to {url} needs the dashboard's SUBMIT_TOKEN: set "
                            f"${TOKEN_ENV} (a CI secret) or pass --token")
    return Options(
        config=config, rounds=rounds, extra_rounds=args.max_extra_rounds, tests=tests,
        app=args.app, against=args.against,
        settings=Settings(threshold=1 + args.threshold / 100, alpha=args.alpha,
                          min_change_ms=args.min_change_ms),
        fail_above=None if args.fail_on_regression is None else 1 + args.fail_on_regression / 100,
        exact=args.exact, json=Path(args.json) if args.json else None, upload_url=url,
        token=token, pytest_args=tuple(pytest_args))


def require_pytest() -> None:
    """The harness runs the suite with pytest, which the package does not require by itself."""
    try:
        import pytest  # noqa: F401
    except ImportError:
        # fmd_profiler is not on the package index: the extra is installed from a checkout.
        raise ProfilerError("the harness runs your tests with pytest, which is not installed: "
                            "install fmd_profiler with its harness extra, pip install "
                            "'/path/to/fmd_profiler[harness]' (or pip install pytest)") from None


def run(options: Options) -> int:
    require_pytest()
    cwd = Path.cwd().resolve()
    config = options.config
    repo = config.git or cwd
    plan = Plan(rounds=options.rounds, app=options.app, exact=options.exact,
                pytest_args=options.pytest_args, extra_rounds=options.extra_rounds)
    with _sides(options, cwd, repo) as sides, \
            tempfile.TemporaryDirectory(prefix="fmd-bench-") as workdir:
        print(f"fmd_profiler benchmark: {options.rounds} rounds of "
              f"{' '.join(options.tests) or 'the test suite'}"
              + (f", interleaved with {options.against}" if options.against else ""),
              file=sys.stderr, flush=True)
        provenances = [provenance for _, provenance in sides]

        def check(interim: list[SideResult]) -> str | None:
            from fmd_profiler.benchmark.interim import why_extra_rounds

            why = why_extra_rounds(interim, provenances, options.settings,
                                   Path(workdir) / "interim")
            if why is not None:
                print(f"fmd_profiler benchmark: up to {options.extra_rounds} extra rounds, "
                      f"because after {options.rounds} rounds {why}", file=sys.stderr,
                      flush=True)
            return why

        outcome = run_sides([side for side, _ in sides], plan, Path(workdir),
                            check if options.against else None)
        if options.against:
            again = _why_again(outcome, provenances, options, Path(workdir))
            if again is not None:
                print(f"fmd_profiler benchmark: {again}. One process can run slower than "
                      "another as a whole (the core it ran on, where its memory lies), so both "
                      "commits run again in new processes, once, and that run decides",
                      file=sys.stderr, flush=True)
                outcome = run_sides([side for side, _ in sides], plan,
                                    Path(workdir) / "again", check)
                outcome = dataclasses.replace(outcome, again=again)
        results = outcome.results
        payload, summaries = build_payload(
            [(result, provenance) for result, (_, provenance) in zip(results, sides,
                                                                     strict=True)],
            exact=options.exact)
    database = open_store(config)  # the lake in fleet mode
    stored = store_payload(database, payload, options.settings)
    print(_report(database, stored, summaries, options, outcome), end="", flush=True)
    if options.json is not None:
        write_atomic(options.json, _json_document(stored, options, outcome))
        print(f"run written to {options.json}", file=sys.stderr)
    if options.upload_url and options.token:
        _upload(stored, options, Path(config.database))
    return _exit_status(stored, results, options)


@contextlib.contextmanager
def _sides(options: Options, cwd: Path, repo: Path) -> Iterator[list[tuple[Side, Provenance]]]:
    config = options.config
    head = read_provenance(repo, config.app_version)
    if options.against is None:
        yield [(Side("run", cwd, options.tests, head.app_version), head)]
        return
    from fmd_profiler.benchmark.worktree import checkout

    with checkout(repo, options.against) as co:
        base_cwd = co.translate(cwd)
        base_tests = tuple(str(co.translate(Path(t).resolve())) if _inside(t, co.repo_root)
                           else t for t in options.tests)
        imports = tuple(p for p in (base_cwd, base_cwd / "src") if p.is_dir())
        base = read_provenance(co.base_root, None, ci=False)
        yield [(Side("base", base_cwd, base_tests, base.app_version, imports, co.repo_root),
                base),
               (Side("head", cwd, options.tests, head.app_version), head)]


def _inside(path: str, root: Path) -> bool:
    return Path(path.split("::")[0]).resolve().is_relative_to(root)


def _why_again(outcome: Outcome, provenances: list[Provenance], options: Options,
               workdir: Path) -> str | None:
    from fmd_profiler.benchmark.interim import why_again

    if any(result.returncode not in (0, 1) for result in outcome.results):
        return None  # a side that did not run through is reported as it is
    return why_again(outcome.results, provenances, options.settings, workdir / "whole")


def _json_document(stored: StoreResult, options: Options, outcome: Outcome) -> bytes:
    """The payload, and beside its tables how the rounds came about (receivers ignore it)."""
    document = stored.payload.to_document()
    document["rounds"] = {"planned": options.rounds, "max_extra": outcome.extra.allowed,
                          "extra": outcome.extra.run, "why_extra": outcome.extra.why,
                          "run_again": outcome.again}
    return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()


def _report(database: Store, stored: StoreResult, summaries: list[SideSummary],
            options: Options, outcome: Outcome) -> str:
    from fmd_profiler.benchmark.summary import render_run

    head = next(s for s in summaries if s.label != "base")
    with database.read() as con:
        runs = {r["run_id"]: r for r in queries.runs(con, limit=10_000)}
        verdicts = queries.verdicts(con, head.run_id)
        run = runs[head.run_id]
        baseline = runs.get(verdicts[0]["baseline_run_id"]) if verdicts else None
        tests = queries.test_medians(con, head.run_id)
        endpoints = queries.endpoint_medians(con, head.run_id)
    if options.against:
        how = f"--against {options.against}, interleaved"
    elif baseline is not None:
        how = "the last run of this branch on this machine"
    elif not run["sha"]:
        how = "not in a git repository: set GIT to the project's repository"
    elif run["branch"] or run["ci_ref"]:
        how = f"first run of branch {run['branch'] or run['ci_ref']} on this machine"
    else:
        how = "HEAD is detached and no CI branch is known"
    return render_run(run, baseline, summaries, tests, endpoints, verdicts, options.settings,
                      how, machine_load=_machine_load(), extra=outcome.extra,
                      again=outcome.again)


def _machine_load() -> tuple[float, int] | None:
    try:
        return os.getloadavg()[0], os.cpu_count() or 1
    except OSError:  # not available on this platform
        return None


def _upload(stored: StoreResult, options: Options, database_path: Path) -> None:
    url = options.upload_url or ""
    if is_insecure(url):
        print(f"{PROG}: warning: {url} is plain http to another host: the token travels in "
              "clear text; use https", file=sys.stderr)
    body = stored.payload.to_json()
    try:
        result = upload(url, options.token or "", body)
    except UploadError as exc:
        keep = database_path.with_name(database_path.name + ".uploads") / \
            f"{stored.payload.run_ids[-1]}.json"
        write_atomic(keep, body)
        print(f"{PROG}: warning: upload failed: {exc}. The run is stored locally and saved in "
              f"{keep}; send it later with: curl --fail -H \"Authorization: Bearer $"
              f"{TOKEN_ENV}\" -H 'Content-Type: application/json' --data-binary @{keep} "
              f"{submit_url(url)}", file=sys.stderr)
        return
    state = "stored" if result.status == 201 else "already stored"
    print(f"uploaded to {submit_url(url)} ({state})", file=sys.stderr)


def _exit_status(stored: StoreResult, results: Sequence[object], options: Options) -> int:
    if options.fail_above is not None:
        columns = BENCH_VERDICTS.column_names
        verdict, ratio, name = (columns.index(c) for c in ("verdict", "ratio", "name"))
        rows = stored.payload.rows(BENCH_VERDICTS.name)
        above = [row for row in rows if row[ratio] is not None and row[ratio] > options.fail_above]
        worst = [row for row in above if row[verdict] == "regression"]
        unsure = [row for row in above if row[verdict] == "inconclusive"]
        if unsure and not worst:
            print(f"{PROG}: warning: {len(unsure)} comparison(s) ran slower than "
                  f"x{options.fail_above:.2f} but too noisily to tell "
                  f"({', '.join(row[name] for row in unsure[:3])}): not failing; raise -n or "
                  "run again to decide", file=sys.stderr)
        if worst:
            print(f"{PROG}: {len(worst)} significant slow-down(s) above "
                  f"x{options.fail_above:.2f} ({', '.join(row[name] for row in worst)}): "
                  "failing (--fail-on-regression)", file=sys.stderr)
            return EXIT_REGRESSION
    failed = [r for r in results if getattr(r, "returncode", 0) not in (0,)]
    if failed:
        print(f"{PROG}: some tests failed (pytest exit status "
              f"{', '.join(str(getattr(r, 'returncode', '?')) for r in failed)}); the run is "
              "stored with their outcomes", file=sys.stderr)
        return EXIT_TESTS_FAILED
    return 0
