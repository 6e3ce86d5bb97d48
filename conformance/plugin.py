"""The specformer pytest plugin: adapters as parameters, clauses as marks, results as data.

Installed as a pytest11 entry point, so `pytest --specformer-adapter=hf` works anywhere the
package is installed. It

- adds the options --specformer-adapter (repeatable), --specformer-family (repeatable),
  --specformer-profile (quick, ci, thorough: Hypothesis settings), --specformer-results
  (where to write results JSON) and --specformer-timeout (seconds per test);
- parametrises every test that takes the `adapter` fixture over the named adapters
  (default: reference), and deselects tests outside the chosen families;
- turns each test outcome into a specformer status: a missing operation is "unsupported"
  (see `require`); a check of the suite rejecting the answer (an AssertionError raised by the
  test itself) is "fail"; anything the adapter raises, its own asserts included (they reach the
  test as AdapterRaised, see LoadedAdapter.operation), or a timeout is "error";
- a failure that the adapter's expectations file documents (the entry names the test and its
  message matches, see conformance/expectations.py) is recorded as "deviates" and becomes an
  xfail, so it does not fail the pytest run; any other failure of the same clause still does;
- aggregates per (adapter, clause) and writes the results file at the end of the session.

Inert elsewhere: installing specformer must not change another project's pytest session. At
load the plugin imports only pytest and the standard library; it parametrises only tests that
cite a clause, and it registers and loads its Hypothesis profiles (a process-wide setting) only
when a --specformer-* option is given or the conformance suite is being collected.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from specformer.conformance.results import AdapterResult, ClauseResult, RunResult, Status, TestResult, clause_status

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


class AdapterTimeout(BaseException):
    """The adapter did not answer within --specformer-timeout seconds.

    A BaseException, like KeyboardInterrupt: an adapter's `except Exception` cannot swallow it, and
    Hypothesis does not take it for a failing example to replay (without a timer) and shrink.
    """


def clause(*clause_ids: str) -> pytest.MarkDecorator:
    """Mark a conformance test as checking these clauses: `@clause("SAMP-TOPK-01")`."""
    return pytest.mark.specformer_clause(*clause_ids)


def require(adapter: Any, operation: str, *parameters: str) -> Callable[..., Any]:
    """The adapter's operation, or skip the test as "unsupported" when it has none, or when it
    lacks one of the optional `parameters` the test needs (Capabilities.parameters).

    `specformer clauses --id X` reads these calls to list what each test of a clause needs, so a
    test names its parameters here literally (or through `sampling_parameters_used`)."""
    family = _operation_families().get(operation)
    if family is not None and not adapter.declares(family):
        pytest.skip(f"{_UNSUPPORTED_PREFIX}{adapter.name} does not declare the {family} family")
    bound = adapter.operation(operation)
    if bound is None:
        pytest.skip(f"{_UNSUPPORTED_PREFIX}{adapter.name} does not implement {family}.{operation}")
    missing = [p for p in parameters if not adapter.capabilities.supports(operation, p)]
    if missing:
        pytest.skip(f"{_UNSUPPORTED_PREFIX}{adapter.name}'s {operation} does not support {', '.join(missing)}")
    if operation in _DECODERS:
        return _with_text_repair(bound)
    return _with_return_check(operation, bound) if operation in _tensor_results() else bound


# Decoders may answer with bytes; the suite applies the UTF-8 repair (protocols.repaired_text).
_DECODERS = frozenset({"bpe_decode", "sentencepiece_decode"})


def _with_text_repair(bound: Callable[..., Any]) -> Callable[..., Any]:
    from specformer.conformance.adapters.protocols import repaired_text

    @functools.wraps(bound)
    def repaired(*args: Any, **kwargs: Any) -> Any:
        return repaired_text(bound(*args, **kwargs))

    return repaired


def supports(adapter: Any, operation: str, parameter: str) -> bool:
    """Whether the adapter's `operation` takes the optional `parameter`: tests of other clauses
    leave out of their inputs what this says is missing."""
    return adapter.capabilities.supports(operation, parameter)


def _with_return_check(operation: str, bound: Callable[..., Any]) -> Callable[..., Any]:
    """The operation, failing plainly when it answers with the wrong kind of value: not a tensor
    (a numpy array, a list), a tensor on another device than its input, token ids not int64."""
    import functools

    import torch

    @functools.wraps(bound)
    def checked(*args: Any, **kwargs: Any) -> Any:
        result = bound(*args, **kwargs)
        kind = f"{type(result).__module__}.{type(result).__qualname__}"
        if not isinstance(result, torch.Tensor):
            raise AssertionError(f"{operation} returned a {kind}; the protocol specifies a torch.Tensor")
        inputs = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        if inputs and result.device != inputs[0].device:
            raise AssertionError(
                f"{operation} returned a tensor on {result.device}; its input is on {inputs[0].device}"
            )
        if operation in _TOKEN_ID_RESULTS and result.dtype != torch.int64:
            raise AssertionError(f"{operation} returned token ids as {result.dtype}; the protocol specifies int64")
        return result

    return checked


@functools.cache
def _tensor_results() -> frozenset[str]:
    """Operations whose protocol method is annotated `-> torch.Tensor` (computed on first use: the
    protocols import torch, and the plugin must stay cheap to load in other projects)."""
    import inspect

    from specformer.conformance.adapters import protocols

    names = set()
    for protocol in (protocols.SamplingAdapter, protocols.AttentionAdapter, protocols.EmbeddingsAdapter):
        for name, member in vars(protocol).items():
            if callable(member) and inspect.get_annotations(member).get("return") == "torch.Tensor":
                names.add(name)
    return frozenset(names)


# Token ids are int64 (SamplingAdapter: "token ids (B,) int64").
_TOKEN_ID_RESULTS = frozenset({"greedy", "sample"})


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
        type=_positive_seconds,
        metavar="SECONDS",
        help="per-test timeout; a test over it is an adapter error (default 120)",
    )
    group.addoption(
        "--specformer-split",
        action="append",
        default=[],
        metavar="ADAPTER:only=F,... | ADAPTER:except=F,...",
        help="run only (or all but) these families' tests of this adapter: how `specformer run` shares one "
        "adapter between two suite processes (repeatable)",
    )
    group.addoption(
        "--specformer-stream",
        default=None,
        metavar="PATH",
        help="append a JSON line as each test starts and ends (the runner's watchdog reads it); "
        "tests whose end is already there are not run again, their results are kept",
    )


def _positive_seconds(text: str) -> float:
    import argparse

    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return seconds


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "specformer_clause(*ids): the spec clauses a conformance test checks")
    if config.getoption("--specformer-results") or config.getoption("--specformer-stream"):
        # One results file (and stream) per session: xdist workers would each write a part of it
        # over the others. Runs in this process whatever -n a project's addopts give (xdist's own
        # pytest_configure, trylast, reads this).
        if getattr(config.option, "dist", "no") != "no":
            config.option.dist, config.option.numprocesses = "no", None
    config.stash[_STATE] = _SessionState()
    stream = config.getoption("--specformer-stream")
    if stream:
        config.stash[_STATE].stream = _Stream(Path(stream), config.stash[_STATE])
        _STREAMS.append(config.stash[_STATE].stream)
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
        self.stream: _Stream | None = None
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
    if "adapter" in metafunc.fixturenames and _cites_a_clause(metafunc):
        adapters = loaded_adapters(metafunc.config)
        metafunc.parametrize("adapter", adapters, ids=[a.spec for a in adapters])


def _cites_a_clause(metafunc: pytest.Metafunc) -> bool:
    """The test cites a clause itself, or through the marks of its parametrized cases (the generic
    tests of conformance/suite/test_generic.py cite each operation's clauses per case)."""
    if metafunc.definition.get_closest_marker("specformer_clause"):
        return True
    for mark in metafunc.definition.iter_markers("parametrize"):
        cases = mark.args[1] if len(mark.args) > 1 else mark.kwargs.get("argvalues", [])
        if any(m.name == "specformer_clause" for case in cases for m in getattr(case, "marks", ())):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    stream = config.stash[_STATE].stream
    if stream is not None:
        stream.deselect_finished(config, items)
    _apply_splits(config, items)
    if config.getoption("tbstyle", "auto") == "no":
        # --tb=no (how the runner calls the suite): pytest still formats a long traceback for each
        # failing test, 0.1 to 0.2 s apiece through an adapter's frames (hf's documented deviations
        # cost its suite process about 15 s). Nothing shows it and the results take the exception
        # itself, so a failing test's report carries the exception's one line instead.
        for item in items:
            if isinstance(item, pytest.Function):
                item.repr_failure = _exception_only  # type: ignore[method-assign]
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


def _apply_splits(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--specformer-split: deselect the tests of a shared adapter that its other process runs. A test
    belongs to the family progress counts it in (family_of_test), so it runs in exactly one process."""
    splits: dict[str, tuple[bool, set[str]]] = {}
    for text in config.getoption("--specformer-split"):
        spec, sep, rule = text.rpartition(":")
        kind, _, families = rule.partition("=")
        if not sep or kind not in ("only", "except"):
            raise pytest.UsageError(f"specformer: --specformer-split {text!r}: expected ADAPTER:only=F,... or :except=")
        splits[spec] = (kind == "only", set(filter(None, families.split(","))))
    if not splits:
        return
    from specformer.conformance.progress import clause_families, family_of_test

    families_of = clause_families()

    def runs_here(item: pytest.Item) -> bool:
        adapter = _adapter_of(item)
        if adapter is None or adapter.spec not in splits:
            return True
        only, families = splits[adapter.spec]
        return (family_of_test(_clause_ids(item), families_of) in families) == only

    deselected = [item for item in items if not runs_here(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if runs_here(item)]


def _exception_only(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return excinfo.exconly()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tell the runner how many tests each (adapter, family) has, for its progress display."""
    stream = session.config.stash[_STATE].stream
    if stream is not None:
        stream.collected(session.items)
        # A suite process of `specformer run`: what is loaded by now (torch, transformers, the suite,
        # parsed vocabularies) lives to the end, so the collector need not scan it again after each test.
        gc.freeze()


# ---------------------------------------------------------------------------------------
# Running one test: timeout, status, documented deviations


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    stream = item.config.stash[_STATE].stream
    if stream is None:
        return (yield)
    adapter = _adapter_of(item)
    stream.start(item.nodeid, adapter.spec if adapter is not None else None, _clause_ids(item))
    outcome = yield  # subtle: no `finally`: a test that raised KeyboardInterrupt has not ended
    stream.end(item.nodeid)
    return outcome


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
        if status == Status.PASS:
            evidence = measured
        documented = _documented(adapter, item, status, message)
        _record(item, adapter, status, message, evidence, report.duration, documented)
        # The pytest outcome agrees with the results: xfail only when an entry documents this
        # failure (or the adapter declares its own behaviour) for every clause the test cites.
        custom = _custom(adapter, item, status)
        if (documented or custom) and set(documented) | set(custom) == set(_clause_ids(item)):
            report.outcome = "skipped"
            reasons = [e.reason for e in documented.values()] + [f"custom: {d}" for d in custom.values()]
            report.wasxfail = f"deviates (documented): {'; '.join(reasons)}"
    return report


def _documented(adapter: Any, item: pytest.Item, status: str, message: str) -> dict[str, Any]:
    """Clause ID -> the expectations entry documenting this failure (none for a pass)."""
    from specformer.conformance.expectations import covers

    if status not in (Status.FAIL, Status.ERROR):
        return {}
    found = ((c, adapter.expectations.get(c)) for c in _clause_ids(item))
    return {c: e for c, e in found if e is not None and covers(e, item.nodeid, message)}


def _custom(adapter: Any, item: pytest.Item, status: str) -> dict[str, str]:
    """Clause ID -> the adapter's one-line description, for a failure at a clause it declares custom."""
    if status != Status.FAIL:
        return {}
    declared = getattr(adapter.capabilities, "custom", {})
    return {c: declared[c] for c in _clause_ids(item) if c in declared}


def _classify(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str, str, dict[str, Any]]:
    if report.passed:
        return Status.PASS, "", {}
    excinfo = call.excinfo
    if report.skipped:
        reason = str(excinfo.value) if excinfo is not None else ""
        if reason.startswith(_UNSUPPORTED_PREFIX):
            return Status.UNSUPPORTED, reason.removeprefix(_UNSUPPORTED_PREFIX), {}
        return Status.NOT_APPLICABLE, reason.removeprefix(_NOT_APPLICABLE_PREFIX), {}
    if excinfo is None:
        return Status.ERROR, str(report.longreprtext)[-2000:], {}
    exc = excinfo.value
    message = _message_of(exc)
    evidence = dict(getattr(exc, "evidence", {}) or {})
    if isinstance(exc, AssertionError):
        return Status.FAIL, message, evidence
    if isinstance(exc, AdapterTimeout):
        return Status.ERROR, message, evidence
    return Status.ERROR, f"{type(exc).__name__}: {message}", evidence


def _message_of(exc: BaseException) -> str:
    """The exception's text plus Hypothesis' notes (the falsifying example)."""
    parts = [str(exc).strip()]
    parts += [str(note) for note in getattr(exc, "__notes__", []) if str(note).startswith("Falsifying")]
    return "\n".join(p for p in parts if p)[:4000]


def _record(
    item: pytest.Item,
    adapter: Any,
    status: str,
    message: str,
    evidence: dict[str, Any],
    duration: float,
    documented: dict[str, Any] | None = None,
) -> None:
    """One TestResult per cited clause: "deviates" where that clause's entry documents the failure."""
    config = item.config
    from specformer.conformance.adapters import reproduce_prefix

    reproduce = (
        f"{reproduce_prefix(adapter.spec)}python -m pytest {shlex.quote(f'{item.path}::{item.name}')} "
        f"--specformer-adapter={shlex.quote(adapter.spec)} "
        f"--specformer-profile={config.getoption('--specformer-profile')} -p no:cacheprovider"
    )
    state = config.stash[_STATE]
    custom = _custom(adapter, item, status)
    for clause_id in _clause_ids(item):
        deviates = clause_id in (documented or {})
        recorded = Status.DEVIATES if deviates else Status.CUSTOM if clause_id in custom else status
        result = TestResult(
            nodeid=item.nodeid,
            status=recorded,
            message=f"custom: {custom[clause_id]}; {message}" if recorded == Status.CUSTOM else message,
            evidence=_jsonable({**evidence, "documented_as": status} if deviates else evidence),
            reproduce=reproduce if status in (Status.FAIL, Status.ERROR) else "",
            duration_s=round(duration, 6),
        )
        state.results[(adapter.spec, clause_id)].append(result)
    if state.stream is not None:
        state.stream.record(item.nodeid, result)


def _adapter_of(item: pytest.Item) -> Any | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("adapter") if callspec is not None else None


def _clause_ids(item: pytest.Item) -> list[str]:
    return [i for mark in item.iter_markers("specformer_clause") for i in mark.args]


class _Stream:
    """The runner's view into this process: one JSON line as each test starts and as it ends.

    The runner (conformance/runner.py) watches the file from outside: a test that started and
    never ended was running when the process hung or died, so it can name that test, keep every
    result that ended before it, and start a new process for the rest. The new process reads the
    same file first: tests that ended (or that the runner closed as hung or crashed) are
    deselected and their results kept, so the run's results are the same as one process would give.
    """

    def __init__(self, path: Path, state: _SessionState) -> None:
        self.path = path
        self.finished: set[str] = set()
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in read_stream(path):
            if event.get("event") != "end":
                continue
            self.finished.add(event["nodeid"])
            for entry in event.get("results", []):
                result = TestResult(**entry["result"])
                for clause_id in entry["clauses"]:
                    state.results[(entry["adapter"], clause_id)].append(result)
        self.clauses: dict[str, tuple[str | None, list[str]]] = {}

    def deselect_finished(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        done = [item for item in items if item.nodeid in self.finished]
        if done:
            config.hook.pytest_deselected(items=done)
            items[:] = [item for item in items if item.nodeid not in self.finished]

    def collected(self, items: list[pytest.Item]) -> None:
        from specformer.conformance.progress import clause_families, family_of_test

        families_of = clause_families()
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for item in items:
            adapter = _adapter_of(item)
            if adapter is not None:
                counts[adapter.spec][family_of_test(_clause_ids(item), families_of)] += 1
        self._write({"event": "collected", "counts": {a: dict(c) for a, c in counts.items()}, "time": time.time()})

    def start(self, nodeid: str, adapter: str | None, clauses: list[str]) -> None:
        self.clauses[nodeid] = (adapter, clauses)
        self._write({"event": "start", "nodeid": nodeid, "adapter": adapter, "clauses": clauses, "time": time.time()})

    def record(self, nodeid: str, result: TestResult) -> None:
        self.pending[nodeid].append(asdict(result))

    def end(self, nodeid: str) -> None:
        adapter, clauses = self.clauses.pop(nodeid, (None, []))
        results = [{"adapter": adapter, "clauses": clauses, "result": r} for r in self.pending.pop(nodeid, [])]
        self._write({"event": "end", "nodeid": nodeid, "results": results, "time": time.time()})

    def finish(self) -> None:
        self._write({"event": "finished", "time": time.time()})

    def interrupted(self) -> None:
        self._write({"event": "interrupted", "time": time.time()})

    def _write(self, event: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(event) + "\n")


# The streams of this process, for hooks that get no config (pytest_keyboard_interrupt).
_STREAMS: list[_Stream] = []


def read_stream(path: Path) -> list[dict[str, Any]]:
    """The events of a stream file; a last line cut short by a crash is ignored."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


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
            # A failure the expectations entry does not document keeps the clause at fail/error.
            status = clause_status([t.status for t in tests])
            expectation = adapter.expectations.get(clause_id)
            stale = expectation is not None and _stale(expectation, tests)
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


def _stale(expectation: Any, tests: list[TestResult]) -> bool:
    """The entry documented nothing this run although a test it names ran and passed."""
    from specformer.conformance.expectations import names_test

    if any(t.status == Status.DEVIATES for t in tests):
        return False
    return any(t.status == Status.PASS and names_test(expectation, t.nodeid) for t in tests)


def _operations(adapter: Any) -> dict[str, list[str]]:
    return {family: adapter.implemented(family) for family in sorted(adapter.capabilities.families)}


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's stream is closed: a later session in this process (pytest.main again) is not the runner's."""
    state = config.stash.get(_STATE, None)
    if state is not None and state.stream in _STREAMS:
        _STREAMS.remove(state.stream)
        # A suite process of `specformer run`: its results and stream are written, and it exits next.
        from specformer.conformance.results import settle_before_exit

        settle_before_exit()


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Tell the runner the process is on its way out (an adapter raised KeyboardInterrupt), and go.

    Under the runner (a stream is written) the process ends here, with pytest's exit code for an
    interruption: the stream already holds every finished test's results, and the runner resumes
    with the rest. Without this, the session's teardown and the interpreter's shutdown (torch's
    among them) raced the runner's watchdog on a loaded machine, and the test read as a hang.
    """
    if not _STREAMS:
        return
    for stream in _STREAMS:
        stream.interrupted()
    for output in (sys.stdout, sys.stderr):
        output.flush()
    os._exit(int(pytest.ExitCode.INTERRUPTED))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("--specformer-results")
    state = session.config.stash.get(_STATE, None)
    if path and state is not None and state.adapters is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        build_run(session.config).write_json(Path(path))
    completed = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)
    if state is not None and state.stream is not None and completed and not session.shouldstop:
        state.stream.finish()


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
