"""The specformer pytest plugin: adapters as parameters, clauses as marks, results as data.

Installed as a pytest11 entry point, so `pytest --specformer-adapter=hf` works anywhere the
package is installed. It

- adds the options --specformer-adapter (repeatable), --specformer-family (repeatable),
  --specformer-profile (quick, ci, thorough: Hypothesis settings), --specformer-results
  (where to write results JSON) and --specformer-timeout (seconds per test);
- parametrises every test that takes the `adapter` fixture over the named adapters
  (default: reference), and deselects tests outside the chosen families;
- turns each test outcome into a specformer status: a missing operation is "unsupported"
  (see `require`), an AssertionError is "fail", any other exception or a timeout is "error";
  a failing test of a clause the adapter's expectations file lists becomes an xfail, so a
  documented deviation does not fail the pytest run;
- aggregates per (adapter, clause) and writes the results file at the end of the session.

Inert elsewhere: installing specformer must not change another project's pytest session. At
load the plugin imports only pytest and the standard library; it parametrises only tests that
cite a clause, and it registers and loads its Hypothesis profiles (a process-wide setting) only
when a --specformer-* option is given or the conformance suite is being collected.
"""

from __future__ import annotations

import functools
import os
import shlex
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from specformer.conformance.results import (
    DEVIATES,
    ERROR,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNSUPPORTED,
    AdapterResult,
    ClauseResult,
    RunResult,
    TestResult,
    clause_status,
)

_UNSUPPORTED_PREFIX = "unsupported: "
_NOT_APPLICABLE_PREFIX = "n/a: "

# Hypothesis profiles: examples per property, and whether the examples are fixed. quick: a
# developer's loop; ci: the gate, derandomised so a failure reproduces exactly; thorough:
# many random examples for a nightly run (a failure prints the blob that reproduces it).
_PROFILE_SETTINGS = {"quick": (10, True), "ci": (40, True), "thorough": (500, False)}
PROFILES = tuple(_PROFILE_SETTINGS)
_SUITE_DIRECTORY = Path(__file__).resolve().parent / "suite"


def use_profile(name: str) -> None:
    """Register specformer's Hypothesis profiles and load `name`, for the whole process.

    Called only where specformer's tests run (see the module docstring): a host project's own
    profile stays in effect in every other session.
    """
    from hypothesis import HealthCheck, settings

    for profile, (examples, fixed) in _PROFILE_SETTINGS.items():
        settings.register_profile(
            profile,
            max_examples=examples,
            derandomize=fixed,
            database=None if fixed else settings.default.database,
            deadline=None,  # adapters may be slow; hangs are caught by --specformer-timeout
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
    settings.load_profile(name)


class AdapterTimeout(Exception):
    """The adapter did not answer within --specformer-timeout seconds."""


def clause(*clause_ids: str) -> pytest.MarkDecorator:
    """Mark a conformance test as checking these clauses: `@clause("SAMP-TOPK-01")`."""
    return pytest.mark.specformer_clause(*clause_ids)


def require(adapter: Any, operation: str) -> Callable[..., Any]:
    """The adapter's operation, or skip the test as "unsupported" when it has none."""
    family = _operation_families().get(operation)
    if family is not None and not adapter.declares(family):
        pytest.skip(f"{_UNSUPPORTED_PREFIX}{adapter.name} does not declare the {family} family")
    bound = adapter.operation(operation)
    if bound is None:
        pytest.skip(f"{_UNSUPPORTED_PREFIX}{adapter.name} does not implement {family}.{operation}")
    return bound


def not_applicable(reason: str) -> None:
    """Skip a test that does not apply to this adapter (a dtype or variant it did not declare)."""
    pytest.skip(f"{_NOT_APPLICABLE_PREFIX}{reason}")


@functools.cache
def _operation_families() -> dict[str, str]:
    from specformer.conformance.adapters.protocols import FAMILY_OPERATIONS

    return {op: family for family, ops in FAMILY_OPERATIONS.items() for op in ops}


# ---------------------------------------------------------------------------------------
# Options and configuration


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("specformer", "specformer conformance suite")
    group.addoption(
        "--specformer-adapter",
        action="append",
        default=[],
        metavar="ADAPTER",
        help="adapter to test: a built-in name, module:attribute, or entry point (repeatable)",
    )
    group.addoption(
        "--specformer-family", action="append", default=[], metavar="FAMILY", help="only this spec family (repeatable)"
    )
    group.addoption(
        "--specformer-profile",
        default="ci",
        choices=PROFILES,
        help="Hypothesis profile: quick, ci (default) or thorough",
    )
    group.addoption("--specformer-results", default=None, metavar="PATH", help="write results JSON here")
    group.addoption(
        "--specformer-timeout",
        default=120.0,
        type=float,
        metavar="SECONDS",
        help="per-test timeout; a test over it is an adapter error (default 120)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "specformer_clause(*ids): the spec clauses a conformance test checks")
    config.stash[_STATE] = _SessionState()
    if _option_given(config):
        _activate(config)


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Collecting a module of the conformance suite activates specformer's profiles."""
    path = getattr(collector, "path", None)
    if isinstance(collector, pytest.Module) and path is not None and _SUITE_DIRECTORY in path.resolve().parents:
        _activate(collector.config)


def _option_given(config: pytest.Config) -> bool:
    """Whether the command line (or PYTEST_ADDOPTS) names any --specformer-* option."""
    given = [str(arg) for arg in config.invocation_params.args]
    given += os.environ.get("PYTEST_ADDOPTS", "").split()
    return any(arg.startswith("--specformer-") for arg in given)


def _activate(config: pytest.Config) -> None:
    state = config.stash[_STATE]
    if not state.active:
        state.active = True
        use_profile(config.getoption("--specformer-profile"))


class _SessionState:
    def __init__(self) -> None:
        self.adapters: list[Any] | None = None
        # (adapter spec, clause id) -> test results
        self.results: dict[tuple[str, str], list[TestResult]] = defaultdict(list)
        self.started = time.monotonic()
        self.active = False  # specformer's Hypothesis profile loaded (see _activate)


_STATE = pytest.StashKey[_SessionState]()


def loaded_adapters(config: pytest.Config) -> list[Any]:
    """Load the adapters named on the command line once per session; a failure is a usage error."""
    from specformer.conformance.adapters import AdapterLoadError, load_adapter

    state = config.stash[_STATE]
    if state.adapters is None:
        specs = config.getoption("--specformer-adapter") or ["reference"]
        try:
            state.adapters = [load_adapter(spec) for spec in specs]
        except (AdapterLoadError, ValueError) as exc:
            raise pytest.UsageError(f"specformer: {exc}") from exc
    return state.adapters


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only tests that cite a clause: another project's `adapter` fixture is its own business.
    if "adapter" in metafunc.fixturenames and metafunc.definition.get_closest_marker("specformer_clause"):
        adapters = loaded_adapters(metafunc.config)
        metafunc.parametrize("adapter", adapters, ids=[a.spec for a in adapters])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    families = config.getoption("--specformer-family")
    if not families:
        return
    from specformer.conformance.registry import registry

    clauses = registry()
    unknown = sorted(set(families) - {c.family for c in clauses.values()})
    if unknown:
        known = sorted({c.family for c in clauses.values()})
        raise pytest.UsageError(f"specformer: unknown family {unknown}; known: {', '.join(known)}")
    selected, deselected = [], []
    for item in items:
        ids = _clause_ids(item)
        keep = not ids or any(clauses[i].family in families for i in ids if i in clauses)
        (selected if keep else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


# ---------------------------------------------------------------------------------------
# Running one test: timeout, status, documented deviations


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if _adapter_of(item) is None:
        return (yield)
    with _timeout(item.config.getoption("--specformer-timeout")):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    adapter = _adapter_of(item)
    if adapter is None or not _clause_ids(item):
        return report
    from specformer.conformance import evidence as noted

    if report.when == "setup" and report.outcome == "passed":
        noted.start()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        status, message, evidence = _classify(report, call)
        # A passing test leaves what it measured (comparisons, agreement, a fitted exponent).
        measured = noted.finish()
        if status == PASS:
            evidence = measured
        _record(item, adapter, status, message, evidence, report.duration)
        if status in (FAIL, ERROR) and any(i in adapter.expectations for i in _clause_ids(item)):
            reasons = "; ".join(adapter.expectations[i].reason for i in _clause_ids(item) if i in adapter.expectations)
            report.outcome = "skipped"
            report.wasxfail = f"deviates (documented): {reasons}"
    return report


def _classify(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str, str, dict[str, Any]]:
    if report.passed:
        return PASS, "", {}
    excinfo = call.excinfo
    if report.skipped:
        reason = str(excinfo.value) if excinfo is not None else ""
        if reason.startswith(_UNSUPPORTED_PREFIX):
            return UNSUPPORTED, reason.removeprefix(_UNSUPPORTED_PREFIX), {}
        return NOT_APPLICABLE, reason.removeprefix(_NOT_APPLICABLE_PREFIX), {}
    if excinfo is None:
        return ERROR, str(report.longreprtext)[-2000:], {}
    exc = excinfo.value
    message = _message_of(exc)
    evidence = dict(getattr(exc, "evidence", {}) or {})
    if isinstance(exc, AssertionError):
        return FAIL, message, evidence
    if isinstance(exc, AdapterTimeout):
        return ERROR, message, evidence
    return ERROR, f"{type(exc).__name__}: {message}", evidence


def _message_of(exc: BaseException) -> str:
    """The exception's text plus Hypothesis' notes (the falsifying example)."""
    parts = [str(exc).strip()]
    parts += [str(note) for note in getattr(exc, "__notes__", []) if str(note).startswith("Falsifying")]
    return "\n".join(p for p in parts if p)[:4000]


def _record(
    item: pytest.Item, adapter: Any, status: str, message: str, evidence: dict[str, Any], duration: float
) -> None:
    config = item.config
    reproduce = (
        f"python -m pytest {shlex.quote(f'{item.path}::{item.name}')} "
        f"--specformer-adapter={shlex.quote(adapter.spec)} "
        f"--specformer-profile={config.getoption('--specformer-profile')} -p no:cacheprovider"
    )
    result = TestResult(
        nodeid=item.nodeid,
        status=status,
        message=message,
        evidence=_jsonable(evidence),
        reproduce=reproduce if status in (FAIL, ERROR) else "",
        duration_s=round(duration, 6),
    )
    state = config.stash[_STATE]
    for clause_id in _clause_ids(item):
        state.results[(adapter.spec, clause_id)].append(result)


def _adapter_of(item: pytest.Item) -> Any | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("adapter") if callspec is not None else None


def _clause_ids(item: pytest.Item) -> list[str]:
    return [i for mark in item.iter_markers("specformer_clause") for i in mark.args]


class _timeout:
    """Raise AdapterTimeout in the main thread after `seconds` (POSIX); a no-op elsewhere."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = (
            seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )

    def _expired(self, signum: int, frame: object) -> None:
        raise AdapterTimeout(f"no answer within {self.seconds:g} s (--specformer-timeout)")

    def __enter__(self) -> None:
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expired)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


# ---------------------------------------------------------------------------------------
# Results


def build_run(config: pytest.Config) -> RunResult:
    """Aggregate the recorded test results into a RunResult (one AdapterResult per adapter)."""
    from specformer import __version__
    from specformer.conformance.environment import environment
    from specformer.conformance.registry import registry

    state = config.stash[_STATE]
    clauses = registry()
    adapters = []
    for adapter in state.adapters or []:
        clause_results = []
        for clause_id in sorted({cid for spec, cid in state.results if spec == adapter.spec}):
            tests = state.results[(adapter.spec, clause_id)]
            status = clause_status([t.status for t in tests])
            expectation = adapter.expectations.get(clause_id)
            stale = expectation is not None and status == PASS
            if expectation is not None and status in (FAIL, ERROR):
                status = DEVIATES
            known = clauses.get(clause_id)
            clause_results.append(
                ClauseResult(
                    id=clause_id,
                    family=known.family if known else "unknown",
                    title=known.title if known else "",
                    status=status,
                    tests=tests,
                    expectation=expectation,
                    stale_expectation=stale,
                    source=f"spec/{known.source}" if known else "",
                )
            )
        adapters.append(
            AdapterResult(
                name=adapter.spec,
                description=adapter.description,
                capabilities={**adapter.capabilities.to_dict(), "operations": _operations(adapter)},
                clauses=clause_results,
            )
        )
    return RunResult(
        environment=environment(),
        profile=config.getoption("--specformer-profile"),
        adapters=adapters,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        specformer_version=__version__,
    )


def _operations(adapter: Any) -> dict[str, list[str]]:
    return {family: adapter.implemented(family) for family in sorted(adapter.capabilities.families)}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("--specformer-results")
    state = session.config.stash.get(_STATE, None)
    if path and state is not None and state.adapters is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        build_run(session.config).write_json(Path(path))


def _jsonable(value: Any) -> Any:
    """Evidence as plain JSON: tensors become lists, everything else falls back to str."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return str(value)
