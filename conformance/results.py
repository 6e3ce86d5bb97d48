"""The results model: what a conformance or benchmark run found, as data.

One model serves every output. The pytest plugin fills it, `results.json` is its
serialisation (schema: conformance/results.schema.json, versioned by SCHEMA_VERSION),
and the terminal, Markdown and HTML renderers and `specformer compare` read it.

Statuses, per (adapter, clause):

    pass         every applicable test of the clause passed
    fail         a check of the suite rejected the adapter's answer
    deviates     it fails, and the adapter's expectations file documents each failing test
                 (a failure no entry covers keeps the clause at fail)
    unsupported  the adapter does not implement what the clause's tests call
    error        the adapter raised (its own asserts included) or hung where the clause
                 required an answer
    custom       it fails, and the adapter declares the clause "custom" (Capabilities.custom):
                 behaviour matching none of the clause's named variants, described in one line
                 (results files before it have no such status; readers treat it like deviates)

This module does no I/O beyond (de)serialisation and knows nothing about pytest.
"""

from __future__ import annotations

import gc
import json
import re
import signal
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
# Exit codes of `specformer run`, `bench` and `compare`: part of the interface (README, DESIGN).
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_REGRESSION = 0, 1, 2, 3
# Versions `from_dict` reads. Version 1 came before benchmarks had modes, sizes, rates and ceilings:
# every field it has, version 2 has, so it reads as version 2 with those at their defaults (and
# `specformer compare` or `--baseline` can hold a new run against an old one).
READABLE_SCHEMA_VERSIONS = (1, SCHEMA_VERSION)


class Interrupted(Exception):
    """The run was stopped by Ctrl-C or SIGTERM; the children are stopped, nothing is written."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def settle_before_exit() -> None:
    """Put every live object out of the cyclic collector's reach (gc.freeze) in a process that has
    nothing left to do but exit: the interpreter's shutdown then does not traverse a heap holding
    torch and transformers (measured here: 0.96 s -> 0.14 s for a process that imported both).
    Garbage in reference cycles then goes without its finalisers: call it only once everything the
    process writes is written and closed. Here, with the exit codes, and not where the adapters are
    loaded: the command's one-line usage errors exit without importing torch."""
    gc.freeze()


class Status:
    """The statuses of the module docstring, as the plain strings results.json stores: `Status.PASS == "pass"`."""

    PASS = "pass"
    FAIL = "fail"
    DEVIATES = "deviates"
    UNSUPPORTED = "unsupported"
    ERROR = "error"
    CUSTOM = "custom"
    # A test that does not apply to this adapter (a dtype it does not declare, a variant it
    # did not choose) is recorded as "n/a" and never decides a clause's status.
    NOT_APPLICABLE = "n/a"
    # Every status a clause can have, in report order (n/a is a test's, never a clause's).
    ALL = (PASS, FAIL, DEVIATES, UNSUPPORTED, ERROR, CUSTOM)


# The same constants by their old module-level names, which tests and outside code import.
PASS, FAIL, DEVIATES, UNSUPPORTED = Status.PASS, Status.FAIL, Status.DEVIATES, Status.UNSUPPORTED
ERROR, CUSTOM, NOT_APPLICABLE, STATUSES = Status.ERROR, Status.CUSTOM, Status.NOT_APPLICABLE, Status.ALL

# Which test outcome decides a clause when its tests disagree: the first present wins.
_CLAUSE_PRECEDENCE = (Status.FAIL, Status.ERROR, Status.DEVIATES, Status.CUSTOM, Status.PASS, Status.UNSUPPORTED)


@dataclass
class TestResult:
    """One executed test (one pytest item) for one adapter."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    status: str
    message: str = ""
    # Numbers and inputs behind the verdict: error, tolerance, ratio, seed, dtype, inputs...
    evidence: dict[str, Any] = field(default_factory=dict)
    reproduce: str = ""
    duration_s: float = 0.0


@dataclass
class Expectation:
    """A documented deviation, from an adapter's expectations file."""

    clause: str
    reason: str
    link: str = ""
    # Which failures it documents (conformance/expectations.py): test-id patterns and a message
    # regex; an entry without tests documents every failure of its clause (the old format).
    tests: list[str] = field(default_factory=list)
    message: str = ""


@dataclass
class ClauseResult:
    id: str
    family: str
    title: str
    status: str
    tests: list[TestResult] = field(default_factory=list)
    expectation: Expectation | None = None
    # True when the expectations file lists this clause but every test now passes:
    # the entry is stale and should be removed.
    stale_expectation: bool = False
    # Where the clause is written: "spec/sampling.md:156" (empty in files written before it was kept).
    source: str = ""


@dataclass
class BenchmarkResult:
    """Repeated timings of one operation at one size. Samples are seconds per call.

    mode says how it was timed: "cpu" (batched calls, wall clock), "cold" (CUDA events, L2
    flushed before each call) or "hot" (CUDA-graph replay). flops and bytes_moved are what the
    operation must do at least (formulas in spec/complexity.md); achieved rates divide them
    by the median, and ceiling_fraction compares the rate with the ceiling measured on the
    same machine in the same run (`RunResult.ceilings[ceiling]`). A fraction above 1 is a
    measurement error and is listed in flags, never reported as a result.
    """

    name: str
    family: str
    device: str
    params: dict[str, Any]
    samples_s: list[float]
    median_s: float
    iqr_s: float
    calls_per_sample: int
    threads: int | None = None
    peak_memory_bytes: int | None = None
    peak_memory_source: str = ""
    note: str = ""
    mode: str = "cpu"
    size: int | None = None  # the ladder coordinate (e.g. sequence length) for scaling series
    flops: float | None = None
    bytes_moved: float | None = None
    achieved_flops_per_s: float | None = None
    achieved_bytes_per_s: float | None = None
    ceiling: str = ""
    ceiling_fraction: float | None = None
    sm_clock_mhz: float | None = None
    stop_reason: str = ""
    # Checked against the reference once after timing: a fast wrong answer is not a result.
    correct: bool | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class AdapterResult:
    name: str
    description: str = ""
    capabilities: dict[str, Any] = field(default_factory=dict)
    # Set when the adapter could not be loaded or its run crashed; clauses may then be empty.
    load_error: str | None = None
    clauses: list[ClauseResult] = field(default_factory=list)
    benchmarks: list[BenchmarkResult] = field(default_factory=list)
    # A benchmark family whose process crashed, exited or hung: "family: what happened". Fails the run.
    benchmark_errors: list[str] = field(default_factory=list)
    # Wall-clock seconds: "suite" (its processes, start to end), each spec family (its tests, setup to
    # teardown) and "bench" (the benchmark process).
    wall_s: dict[str, float] = field(default_factory=dict)
    # The import string the user named it by (mypkg.adapters:Mine) where `name` is the adapter's own
    # `name` attribute; empty for built-ins and entry points, whose name is what the user typed.
    spec: str = ""

    def counts(self, family: str | None = None) -> dict[str, int]:
        """Clause counts per status, optionally for one family."""
        counts = dict.fromkeys(Status.ALL, 0)
        for clause in self.clauses:
            if family is None or clause.family == family:
                counts[clause.status] += 1
        return counts

    def failures(self) -> list[ClauseResult]:
        return [c for c in self.clauses if c.status in (Status.FAIL, Status.ERROR)]


@dataclass
class RunResult:
    environment: dict[str, Any]
    profile: str
    adapters: list[AdapterResult] = field(default_factory=list)
    created: str = ""
    specformer_version: str = ""
    # Ceilings measured on this machine at the start of the run, by name, e.g.
    # {"matmul-bf16": {"value": 7.7e14, "unit": "FLOP/s", "params": {...}}, "copy": {...}}.
    ceilings: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def families(self) -> list[str]:
        return sorted({c.family for a in self.adapters for c in a.clauses})

    def exit_code(self) -> int:
        """0 when every applicable clause holds or deviates as documented, else 1."""
        if any(a.load_error or a.failures() or a.benchmark_errors for a in self.adapters):
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object (a specformer results file), got a {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"not a specformer results file: unknown field(s) {', '.join(map(repr, unknown))}")
        version = data.get("schema_version")
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ValueError(
                f"results schema_version={version!r} is not supported; this specformer "
                f"reads schema_version {' and '.join(map(str, READABLE_SCHEMA_VERSIONS))}"
            )
        try:
            adapters = [_adapter_from_dict(a) for a in data["adapters"]]
            run = cls(
                environment=data["environment"],
                profile=data["profile"],
                adapters=adapters,
                created=data.get("created", ""),
                specformer_version=data.get("specformer_version", ""),
                ceilings=data.get("ceilings", {}),
            )
        except KeyError as exc:
            raise ValueError(f"not a specformer results file: missing key {exc}") from exc
        except (TypeError, AttributeError) as exc:  # a list where an object belongs, an unknown field
            raise ValueError(f"not a specformer results file: {exc}") from exc
        if not isinstance(run.environment, dict) or not isinstance(run.profile, str):
            raise ValueError("not a specformer results file: `environment` must be an object, `profile` a string")
        return run

    @classmethod
    def read_json(cls, path: Path) -> RunResult:
        """The results file at path; every problem is a ValueError naming the file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: JSON syntax, and text that is not UTF-8
            raise ValueError(f"cannot read results file {path}: {exc}") from exc
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"results file {path}: {exc}") from exc


def neutralise(text: str) -> str:
    """Text with control characters made visible: no ANSI or OSC escape reaches a terminal.

    >>> neutralise("\\x1b[31mred\\x1b[0m\\tok\\n")
    '\\\\x1b[31mred\\\\x1b[0m\\tok\\n'
    """
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


# C0 controls but tab and newline, DEL, and C1 controls (0x9b is a one-byte CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clause_status(test_statuses: list[str]) -> str:
    """The status of a clause from the statuses of its tests.

    >>> clause_status(["pass", "unsupported"])
    'pass'
    >>> clause_status(["pass", "fail"])
    'fail'
    >>> clause_status(["n/a"])
    'unsupported'
    """
    for status in _CLAUSE_PRECEDENCE:
        if status in test_statuses:
            return status
    return Status.UNSUPPORTED


def _known_keys(kind: type, data: dict[str, Any]) -> dict[str, Any]:
    """data, after checking it is an object with only the fields of `kind` (a results dataclass)."""
    if not isinstance(data, dict):
        raise TypeError(f"a {kind.__name__} must be an object, got a {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(kind)})
    if unknown:
        raise TypeError(f"unknown field(s) {', '.join(map(repr, unknown))} in a {kind.__name__}")
    return data


def _adapter_from_dict(data: dict[str, Any]) -> AdapterResult:
    data = _known_keys(AdapterResult, data)
    clauses = []
    for c in data.get("clauses", []):
        c = _known_keys(ClauseResult, c)
        expectation = Expectation(**c["expectation"]) if c.get("expectation") else None
        clauses.append(
            ClauseResult(
                id=c["id"],
                family=c["family"],
                title=c["title"],
                status=c["status"],
                tests=[TestResult(**t) for t in c.get("tests", [])],
                expectation=expectation,
                stale_expectation=c.get("stale_expectation", False),
                source=c.get("source", ""),
            )
        )
    return AdapterResult(
        name=data["name"],
        description=data.get("description", ""),
        capabilities=data.get("capabilities", {}),
        load_error=data.get("load_error"),
        clauses=clauses,
        benchmarks=[BenchmarkResult(**b) for b in data.get("benchmarks", [])],
        benchmark_errors=list(data.get("benchmark_errors", [])),
        wall_s=dict(data.get("wall_s", {})),
        spec=data.get("spec", ""),
    )
