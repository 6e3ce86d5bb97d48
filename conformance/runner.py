"""`specformer run` and `specformer bench`: every adapter call in a child process, under a watchdog.

The parent never calls an adapter's operations. It starts

- suite processes (pytest with the specformer plugin), one per CPU core with the adapters dealt
  among them (`adapter_groups`, then conformance/sharing.py, which may share one adapter's families
  between two processes to even them out); each appends one JSON line to a stream
  file as each test starts and ends (plugin._Stream). The parent watches that file: a test that
  runs past its budget (--timeout plus a grace) has its process group killed, whatever the
  adapter did to signals or exceptions; a process that dies (segfault, os._exit, an adapter's
  KeyboardInterrupt) leaves a test that started and never ended. Either way that test is recorded
  as an error naming the cause, and a new process resumes with the tests that have not run; the
  results of those that ended are kept.
- for each adapter, a benchmark process (conformance/bench/worker.py), one family at a time, under the same kind
  of watchdog: a crash, exit or hang is an error at the benchmark family with its reason.

Child processes get a clean environment: no pytest configuration from the caller (PYTEST_ADDOPTS,
PYTEST_PLUGINS, plugins auto-loaded from entry points), and no current directory on sys.path.
Suite processes that run side by side share the cores between them (OMP_NUM_THREADS and
MKL_NUM_THREADS, unless the caller set them): two processes of two threads each on two cores spin
against each other, and the quick profile took 214 s instead of 90 s with the same verdicts.
They run in their own process group, so an interruption of the parent (Ctrl-C, SIGTERM) stops
them all (`Children.stop_all`), and temporary folders are removed as the `with` blocks unwind.

The parent loads each adapter once first, so a loading error is one clear line and exit code 2
before anything runs; every adapter, built-in ones too, is loaded in a forked child first
(conformance/isolation.py), so a crash or hang in its import or constructor is that error too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from specformer import __version__
from specformer.conformance.adapters import AdapterLoadError, LoadedAdapter, load_adapter, reproduce_prefix
from specformer.conformance.bench.verdicts import fail_wrong_benchmarks
from specformer.conformance.environment import environment, load_average
from specformer.conformance.isolation import probe_loads
from specformer.conformance.progress import RunProgress
from specformer.conformance.results import (
    AdapterResult,
    BenchmarkResult,
    ClauseResult,
    Interrupted,
    RunResult,
    Status,
    TestResult,
    neutralise,
)
from specformer.conformance.sharing import BUILTIN_FAMILY_SECONDS, Share, join_results, share_families

# A suite process that keeps dying is given up after this many new starts.
MAX_RESTARTS = 50
# How often the parent looks at a child's stream file.
POLL_S = 0.1


@dataclass
class RunOptions:
    adapters: list[str]
    families: list[str]
    profile: str = "ci"
    timeout_s: float = 120.0
    bench: bool = True
    verbose: bool = False
    device: str = "cpu"
    # Suite processes run at once, the adapters dealt among them; None: one per CPU core.
    workers: int | None = None
    # Seconds per (adapter, family) of an earlier run (the results.json in --out), to deal the adapters
    # to the processes and share an adapter's families between them.
    previous_family_s: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.timeout_s < float("inf"):
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout_s}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")

    @property
    def watchdog_s(self) -> float:
        """A test's budget before the parent kills its process: the in-process timer fires first."""
        return self.timeout_s + 2.0 + 0.25 * self.timeout_s

    @property
    def bench_watchdog_s(self) -> float:
        """One benchmark family's budget: a ladder of timed calls, each far under --timeout."""
        return 5 * self.timeout_s + 10.0


def suite_directory() -> Path:
    from specformer.conformance import suite

    return Path(suite.__file__).parent


def load_all(specs: list[str], timeout_s: float = 120.0) -> list[LoadedAdapter]:
    """Load every adapter (each first in a forked child: conformance/isolation.py); the first failure
    propagates as AdapterLoadError."""
    loaded, errors = _load_probed(specs, timeout_s)
    for spec in specs:
        if spec in errors:
            raise errors[spec]
    return [loaded[spec] for spec in specs]


def load_available(specs: list[str], timeout_s: float = 120.0) -> tuple[list[LoadedAdapter], list[AdapterResult]]:
    """Load each adapter on its own: (those that loaded, a result row for each that did not).

    For the built-in adapters run by default, whose libraries are optional extras: one whose
    library is missing is reported with its one-line load error, and the others still run.
    """
    loaded, errors = _load_probed(specs, timeout_s)
    failed = [AdapterResult(name=spec, load_error=neutralise(str(errors[spec]))) for spec in specs if spec in errors]
    return [loaded[spec] for spec in specs if spec not in errors], failed


def _load_probed(specs: list[str], timeout_s: float) -> tuple[dict[str, LoadedAdapter], dict[str, AdapterLoadError]]:
    """Each adapter loaded here once a forked child has loaded it (isolation.probe_loads), as soon as the
    child says so, while it probes the next: (loaded, the error of each that did not load)."""
    loaded: dict[str, LoadedAdapter] = {}
    errors: dict[str, AdapterLoadError] = {}

    def load(spec: str) -> None:
        try:
            loaded[spec] = load_adapter(spec)
        except AdapterLoadError as exc:
            errors[spec] = exc

    problems = probe_loads(specs, timeout_s, on_safe=load)
    for spec in specs:
        if problems[spec] is not None:
            errors[spec] = AdapterLoadError(f"adapter {spec!r}: {problems[spec]}")
        elif spec not in loaded and spec not in errors:  # no fork here (Windows): loaded directly
            load(spec)
    return loaded, errors


def add_load_errors(
    run: RunResult, failed: list[AdapterResult], order: list[str], loaded: list[LoadedAdapter] = ()
) -> RunResult:
    """Put the rows of adapters that did not load into the run, in the order the adapters were asked for,
    and label each loaded module:attribute adapter by its own `name` (its import string kept as `spec`)."""
    position = {spec: index for index, spec in enumerate(order)}
    run.adapters = sorted([*run.adapters, *failed], key=lambda a: position.get(a.name, len(order)))
    taken = {a.name for a in run.adapters}
    for adapter in loaded:
        row = next((a for a in run.adapters if a.name == adapter.spec), None)
        if row is None or ":" not in adapter.spec or not adapter.name or adapter.name in taken:
            continue  # a name two adapters share, or a built-in's, keeps the import string
        row.spec, row.name = adapter.spec, adapter.name
        taken.add(adapter.name)
    return run


# ---------------------------------------------------------------------------------------
# Child processes


class Children:
    """The child processes of one run, so that an interruption can stop every one of them."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: the signal handler may run while the main thread holds it
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._relays: dict[subprocess.Popen[bytes], threading.Thread] = {}
        self.stopping: int | None = None  # the signal that stopped the run

    def start(self, command: list[str], *, log: Path | None, threads: int | None = None) -> subprocess.Popen[bytes]:
        """Start a child; its output goes to `log`, or (log None, --verbose) to our stdout, neutralised.
        `threads`: the child's share of the cores (child_environment)."""
        with self._lock:
            if self.stopping is not None:
                raise Interrupted(self.stopping)
            output = log.open("wb") if log is not None else subprocess.PIPE  # each process's own output
            try:
                process = subprocess.Popen(
                    command,
                    env=child_environment(threads),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: killed as one, deaf to the terminal's Ctrl-C
                )
            finally:
                if log is not None:
                    output.close()  # type: ignore[union-attr]
            self._processes.add(process)
            if log is None:
                self._relays[process] = threading.Thread(target=_relay, args=(process.stdout,), daemon=True)
                self._relays[process].start()
            return process

    def finished(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.discard(process)
            relay = self._relays.pop(process, None)
        if relay is not None:
            relay.join(timeout=5.0)  # the last lines of a process that has ended

    def stop_all(self, signal_number: int) -> None:
        with self._lock:
            self.stopping = signal_number
            for process in self._processes:
                kill_group(process)


def _relay(pipe: Any) -> None:
    """A child's output to our stdout, line by line, with its control characters made visible:
    an adapter's ANSI or OSC escapes (in a warning, a print, a test id) never reach the terminal."""
    for line in iter(pipe.readline, b""):
        sys.stdout.write(neutralise(line.decode("utf-8", errors="replace")))
        sys.stdout.flush()
    pipe.close()


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (it may have started processes of its own)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def child_environment(threads: int | None = None) -> dict[str, str]:
    """The caller's environment without its pytest configuration, and with `threads` intra-op threads
    (OpenMP, MKL) where given and the caller set no count of its own.

    PYTEST_ADDOPTS (say --collect-only or -x) would silently change what the suite runs, and a
    plugin auto-loaded from the caller's environment (random order, xdist, timeouts) would too:
    the suite names the plugins it needs on its command line instead.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, str(threads))
    return env


def python_command(module: str, function: str = "main") -> list[str]:
    """`python -c` calling module.function(argv), with nothing on sys.path that the user did not name.

    `python -m` and `python -c` both put the current directory first on sys.path, so a file such
    as regex.py where the user runs specformer would shadow a library; it is removed first.
    """
    boot = f"import sys; del sys.path[0]; from {module} import {function}; sys.exit({function}(sys.argv[1:]))"
    return [sys.executable, "-c", boot]


def suite_command(
    spec: str, options: RunOptions, results_path: Path, stream_path: Path | None = None, threads: int | None = None
) -> list[str]:
    """The pytest invocation for one adapter, isolated from the caller's pytest configuration."""
    command = [
        *python_command("pytest", "main"),
        str(suite_directory()),
        "-c",
        str(suite_directory() / "pytest.ini"),
        "--rootdir",
        str(suite_directory()),
        "-p",
        "specformer.conformance.plugin",
        "-p",
        "hypothesispytest",  # the entry point name: loads whether or not plugins are auto-loaded
        "-p",
        "no:cacheprovider",
        # Its clean-up runs gc.collect() five times over a heap holding torch and transformers (~2.5
        # CPU-s per suite process); an unraisable exception is a warning there, never a verdict.
        "-p",
        "no:unraisableexception",
        # Log capture: around each test phase pytest attaches its handler to the root logger and to every
        # logger that does not propagate, found by walking logging's whole registry (transformers registers
        # hundreds): 1.2 ms a test, a third of an unsupported test's cost. No verdict reads captured logs;
        # a library's warnings go to the suite process's output (--verbose shows it).
        "-p",
        "no:logging",
        "--import-mode=importlib",
        "-q" if options.verbose else "-qq",
        "--no-header",
        "-rN",
        "--tb=no",
        f"--specformer-adapter={spec}",
        f"--specformer-profile={options.profile}",
        f"--specformer-timeout={options.timeout_s:g}",
        f"--specformer-results={results_path}",
    ]
    if stream_path is not None:
        command.append(f"--specformer-stream={stream_path}")
    command += [f"--specformer-family={family}" for family in options.families]
    return command


class _StreamWatcher:
    """Reads a child's stream file as it grows: which test (or family) is running, since when."""

    def __init__(self, path: Path, key: str, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path, self.key, self.on_event = path, key, on_event
        self.offset = 0
        self.open: dict[str, float] = {}  # running item -> the time it started

    def poll(self) -> tuple[str, float] | None:
        """The item running now and when it started, or None."""
        if self.path.exists():
            with self.path.open("rb") as file:
                file.seek(self.offset)
                chunk = file.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self.offset += len(complete)
            for line in complete.decode("utf-8", errors="replace").splitlines():
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if self.on_event is not None:
                    self.on_event(event)
                if event.get("event") == "start":
                    self.open[event[self.key]] = time.time()
                elif event.get("event") == "end":
                    self.open.pop(event[self.key], None)
                elif event.get("event") == "interrupted":  # the process is ending: a new budget to do so
                    self.open = dict.fromkeys(self.open, time.time())
        if not self.open:
            return None
        item = next(iter(self.open))
        return item, self.open[item]


@dataclass
class _ChildOutcome:
    returncode: int
    hung: str | None = None  # the item the watchdog ended the process in


def _watch(
    children: Children,
    command: list[str],
    stream: Path,
    key: str,
    budget_s: float,
    log: Path | None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    threads: int | None = None,
) -> _ChildOutcome:
    """Run one child to its end, killing its process group when an item runs past budget_s.

    on_event sees each event of the stream as it is read (the progress display); threads is the
    child's share of the cores (child_environment).
    """
    watcher = _StreamWatcher(stream, key, on_event)
    process = children.start(command, log=log, threads=threads)
    try:
        while process.poll() is None:
            time.sleep(POLL_S)
            running = watcher.poll()
            if running is not None and time.time() - running[1] > budget_s:
                kill_group(process)
                process.wait()
                return _ChildOutcome(process.returncode, hung=running[0])
        watcher.poll()  # the events written since the last look, for on_event
        return _ChildOutcome(process.returncode)
    finally:
        if process.poll() is None:
            kill_group(process)
            process.wait()
        children.finished(process)
        if children.stopping is not None:
            raise Interrupted(children.stopping)


def _death(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"


def _tail(log: Path, lines: int = 3) -> str:
    if not log.exists():
        return "(none)"
    text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:]) or "(none)"


# ---------------------------------------------------------------------------------------
# The suite


def run_suite(options: RunOptions, adapters: list[LoadedAdapter], console: Console) -> RunResult:
    """The conformance suite on the adapters (in parallel processes), then their benchmarks."""
    children = Children()
    names = {a.spec: a.name for a in adapters}  # the display shows names, not module:attribute strings
    progress = RunProgress(console, live=console.is_terminal and not options.verbose, names=names)
    with _interruptible(children), progress:
        groups = share_families(adapter_groups(adapters, options), family_seconds(adapters, options))
        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            threads = suite_threads(len(groups))
            futures = [
                pool.submit(_run_group, group, options, children, console, progress, threads) for group in groups
            ]
            try:
                parts = defaultdict(list)
                for future in futures:
                    for result in future.result():
                        parts[result.name].append(result)
            except BaseException:
                children.stop_all(children.stopping or signal.SIGINT)
                raise
        shared = [spec for spec, results in parts.items() if len(results) > 1]
        if shared:
            progress.suite_done(shared)
        by_spec = {spec: join_results(results) for spec, results in parts.items()}
        for adapter in adapters:
            _report_missing_clauses(by_spec[adapter.spec], adapter, options)
        run = _new_run(options, [by_spec[a.spec] for a in adapters])
        if options.bench:
            _add_benchmarks(run, options, adapters, children, console, progress)
    for adapter in run.adapters:
        _neutralise(adapter)
    return run


def suite_threads(processes: int) -> int:
    """Each of `processes` side-by-side suite processes' share of the cores: at least one thread."""
    return max(1, (os.cpu_count() or 1) // max(1, processes))


def adapter_groups(adapters: list[LoadedAdapter], options: RunOptions) -> list[list[LoadedAdapter]]:
    """The adapters dealt to one suite process per CPU core (--verbose: one process): longest first to
    the least loaded process, by an earlier run's seconds or the built-in adapters' typical ones;
    round-robin when neither knows them.

    Adapters that share a process share its start-up (importing torch and the suite) and the
    suite's per-process caches (parsed vocabularies, trained tokenizer models); a crash or hang
    still costs only the test it happened in, as the process is resumed past it.
    """
    workers = 1 if options.verbose else options.workers or os.cpu_count() or 1
    workers = max(1, min(workers, len(adapters)))
    # An earlier run's seconds; without one, the typical share of the built-in adapters.
    seconds = {spec: sum(families.values()) for spec, families in family_seconds(adapters, options).items()}
    if not seconds:
        return [adapters[i::workers] for i in range(workers) if adapters[i::workers]]
    # Longest first, each to the least loaded process.
    known = list(seconds.values())
    default = sum(known) / len(known)
    groups: list[list[LoadedAdapter]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for adapter in sorted(adapters, key=lambda a: -seconds.get(a.spec, default)):
        least = loads.index(min(loads))
        groups[least].append(adapter)
        loads[least] += seconds.get(adapter.spec, default)
    return [group for group in groups if group]


def previous_family_times(path: Path) -> dict[str, dict[str, float]]:
    """Each adapter's seconds per family in an earlier results.json ({} when there is none)."""
    try:
        run = RunResult.read_json(path)
    except ValueError:
        return {}
    return {
        a.spec or a.name: {k: v for k, v in a.wall_s.items() if k not in ("suite", "bench")}
        for a in run.adapters
        if "suite" in a.wall_s
    }


def run_benchmarks(options: RunOptions, adapters: list[LoadedAdapter], console: Console) -> RunResult:
    """Benchmarks only (`specformer bench`): ceilings first, then each adapter's families."""
    run = _new_run(options, [AdapterResult(name=a.spec, description=a.description) for a in adapters])
    children = Children()
    with _interruptible(children), RunProgress(console, names={a.spec: a.name for a in adapters}) as progress:
        _add_benchmarks(run, options, adapters, children, console, progress)
    for adapter in run.adapters:
        _neutralise(adapter)
    return run


class _interruptible:
    """SIGTERM behaves as Ctrl-C does: every child is stopped, and Interrupted reaches the CLI."""

    def __init__(self, children: Children) -> None:
        self.children = children
        self.previous: dict[int, Any] = {}

    def _handler(self, signal_number: int, frame: object) -> None:
        self.children.stop_all(signal_number)
        raise Interrupted(signal_number)

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self.previous[number] = signal.signal(number, self._handler)

    def __exit__(self, *exc: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _new_run(options: RunOptions, adapters: list[AdapterResult]) -> RunResult:
    return RunResult(
        environment=environment(),
        profile=options.profile,
        adapters=adapters,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        specformer_version=__version__,
    )


def _say(console: Console, text: str, style: str = "dim") -> None:
    """One progress line; adapter names and messages are plain text, never rich markup."""
    console.print(Text(neutralise(text), style=style), highlight=False)


def _run_group(
    group: list[Share],
    options: RunOptions,
    children: Children,
    console: Console,
    progress: RunProgress | None = None,
    threads: int | None = None,
) -> list[AdapterResult]:
    """The suite on some adapters (or shares of their families) in one process: restarted past each
    test that hangs or kills it. Clauses missing from the results are reported by the caller, once
    the shares of an adapter are joined."""
    specs = [share.spec for share in group]
    labels = [progress.label(spec) if progress is not None else spec for spec in specs]
    labels = [
        f"{label} ({_share_text(share)})" if share.families else label
        for label, share in zip(labels, group, strict=True)
    ]
    _say(console, f"running the suite on {', '.join(labels)} ...")
    with tempfile.TemporaryDirectory(prefix="specformer-") as tmp:
        results_path, stream, log = Path(tmp) / "results.json", Path(tmp) / "stream.jsonl", Path(tmp) / "output.log"
        command = suite_command(specs[0], options, results_path, stream)
        command += [f"--specformer-adapter={spec}" for spec in specs[1:]]
        command += [option for option in (share.option() for share in group) if option is not None]
        for _ in range(MAX_RESTARTS * len(specs) + 1):
            outcome = _watch(
                children,
                command,
                stream,
                "nodeid",
                options.watchdog_s,
                None if options.verbose else log,
                progress.suite_event if progress is not None else None,
                threads,
            )
            events = _read_stream(stream)
            if any(e.get("event") == "finished" for e in events):
                results = _read_adapter_results(results_path, specs)
                if results is not None:
                    break
            running = _unfinished_test(events)
            if running is None:
                reason = f"the suite process {_death(outcome.returncode)} outside any test; last output: {_tail(log)}"
                return [AdapterResult(name=spec, load_error=reason) for spec in specs]
            if outcome.hung is not None:
                cause = (
                    f"no answer within {options.timeout_s:g} s (--timeout): the watchdog ended the suite process "
                    f"after {options.watchdog_s:g} s, as the test did not stop at the in-process timer"
                )
            else:
                cause = f"crash: the suite process {_death(outcome.returncode)} during this test"
                cause += f"; last output: {_tail(log)}"
            brief = cause.split(":")[0]
            _say(console, f"{running['nodeid']}: {brief}; resuming with the remaining tests", "yellow")
            _close_test(stream, running, cause, options)
        else:
            reason = f"the suite process died {MAX_RESTARTS * len(specs)} times; last output: {_tail(log)}"
            return [AdapterResult(name=spec, load_error=reason) for spec in specs]
        events = _read_stream(stream)
    if progress is not None:
        progress.suite_done([share.spec for share in group if share.families is None])
    for share, result in zip(group, results, strict=True):
        families = _family_wall_times(events, share.spec)
        result.wall_s = {"suite": round(sum(families.values()), 3), **families}
    return results


def _share_text(share: Share) -> str:
    return f"{'all but ' if share.excluded else ''}{', '.join(share.families or ())}"


def family_seconds(adapters: list[LoadedAdapter], options: RunOptions) -> dict[str, dict[str, float]]:
    """Seconds per family of each adapter (of the families the run selects), to deal the adapters and
    share families between processes: an earlier run's (the results.json in --out), else the built-in
    adapters' typical ones (sharing.BUILTIN_FAMILY_SECONDS); adapters known to neither are left out."""
    table = options.previous_family_s or BUILTIN_FAMILY_SECONDS
    selected = set(options.families)
    return {
        a.spec: {f: s for f, s in table[a.spec].items() if not selected or f in selected}
        for a in adapters
        if a.spec in table
    }


def _read_stream(path: Path) -> list[dict[str, Any]]:
    from specformer.conformance.plugin import read_stream

    return read_stream(path)


def _read_adapter_results(path: Path, specs: list[str]) -> list[AdapterResult] | None:
    """Each adapter's row of the results file, in the order of specs; None if any is missing."""
    try:
        by_name = {a.name: a for a in RunResult.read_json(path).adapters}
    except ValueError:
        return None
    if not all(spec in by_name for spec in specs):
        return None
    return [by_name[spec] for spec in specs]


def _unfinished_test(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The start event of the test that was running when the process ended, if any."""
    running: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("event") == "start":
            running[event["nodeid"]] = event
        elif event.get("event") == "end":
            running.pop(event["nodeid"], None)
    return next(iter(running.values()), None)


def _close_test(stream: Path, start: dict[str, Any], cause: str, options: RunOptions) -> None:
    """Record the test the process died or hung in as an error, so the next process skips it."""
    result = TestResult(
        nodeid=start["nodeid"],
        status=Status.ERROR,
        message=cause,
        reproduce=(
            f"{reproduce_prefix(str(start.get('adapter')))}"
            f"python -m pytest '{start['nodeid']}' --specformer-adapter={start.get('adapter')} "
            f"--specformer-profile={options.profile} -p no:cacheprovider"
        ),
        duration_s=round(max(0.0, time.time() - start.get("time", time.time())), 6),
    )
    entry = {"adapter": start.get("adapter"), "clauses": start.get("clauses", []), "result": asdict(result)}
    event = {
        "event": "end",
        "nodeid": start["nodeid"],
        "results": [entry] if start.get("adapter") else [],
        "time": time.time(),
    }
    with stream.open("a", encoding="utf-8") as file:
        file.write(json.dumps(event) + "\n")


def _family_wall_times(events: list[dict[str, Any]], adapter: str) -> dict[str, float]:
    """Seconds from start to end of each test of the adapter, summed per spec family (setup and teardown
    included, process start-up not)."""
    from specformer.conformance.registry import registry

    clauses = registry()
    starts: dict[str, dict[str, Any]] = {}
    totals: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("event") == "start" and event.get("adapter") == adapter:
            starts[event["nodeid"]] = event
        elif event.get("event") == "end" and event["nodeid"] in starts:
            start = starts.pop(event["nodeid"])
            families = {clauses[c].family for c in start.get("clauses", []) if c in clauses}
            for family in families:
                totals[family] += (event["time"] - start["time"]) / len(families)
    return {family: round(seconds, 3) for family, seconds in sorted(totals.items())}


def _report_missing_clauses(result: AdapterResult, adapter: LoadedAdapter, options: RunOptions) -> None:
    """A clause of a family the adapter declares (and the run selected) with no result is an error.

    Every clause has tests, and each test reports a status for every adapter (unsupported and
    n/a included); a clause absent from the results did not run, and silence is never a pass.
    """
    from specformer.conformance.registry import registry

    present = {c.id for c in result.clauses}
    for clause in registry().values():
        if clause.id in present or clause.family not in adapter.capabilities.families:
            continue
        if options.families and clause.family not in options.families:
            continue
        message = (
            f"no test of {clause.id} reported a result, although {adapter.spec} declares the {clause.family} "
            "family: the suite did not run its tests"
        )
        result.clauses.append(
            ClauseResult(
                id=clause.id,
                family=clause.family,
                title=clause.title,
                status=Status.ERROR,
                tests=[TestResult(nodeid=f"(no test ran for {clause.id})", status=Status.ERROR, message=message)],
            )
        )


def _neutralise(result: AdapterResult) -> None:
    """Control characters from an adapter (ANSI and OSC escapes) shown, never sent to the terminal."""
    result.description = neutralise(result.description)
    if result.load_error is not None:
        result.load_error = neutralise(result.load_error)
    result.benchmark_errors = [neutralise(e) for e in result.benchmark_errors]
    for clause in result.clauses:
        for test in clause.tests:
            test.message = neutralise(test.message)
    for benchmark in result.benchmarks:
        benchmark.note = neutralise(benchmark.note)


# ---------------------------------------------------------------------------------------
# Benchmarks


# Which benchmark families a spec family selected with --family runs.
BENCHMARKS_OF_SPEC_FAMILY = {
    "sampling": ("sampling",),
    "attention": ("attention",),
    "complexity": ("attention",),
    "tokenizers": ("tokenizers",),
    "losses": ("losses",),
    "objectives": ("objectives",),
    "models": ("models",),
    "vision": ("vision",),
    "audio": ("audio",),
    "generation": ("generation",),
    "kv_cache": ("generation",),
}


def _add_benchmarks(
    run: RunResult,
    options: RunOptions,
    adapters: list[LoadedAdapter],
    children: Children,
    console: Console,
    progress: RunProgress | None = None,
) -> None:
    from specformer.conformance import bench
    from specformer.conformance.bench.worker import BENCHMARKS

    # Machine load while timing (backward compatible: environment is a free object).
    load = run.environment["load_average"] = {"cpus": os.cpu_count(), "start": load_average(), "end": None}
    _say(console, f"measuring the ceilings of {options.device} ...")
    run.ceilings = bench.measure_ceilings(options.device, bench.POLICIES[options.profile])
    wanted = _benchmark_families(options.families, list(BENCHMARKS))
    for adapter, result in zip(adapters, run.adapters, strict=True):
        if result.load_error is not None:
            continue
        # A benchmark family runs for an adapter declaring it or a spec family it serves (kv_cache: generation).
        declared = set(adapter.capabilities.families)
        served = {f for spec in declared for f in BENCHMARKS_OF_SPEC_FAMILY.get(spec, ())}
        families = [f for f in wanted if f in declared | served]
        if families:
            started = time.monotonic()
            _benchmark_one(adapter.spec, families, options, run.ceilings, result, children, console, progress)
            result.wall_s["bench"] = round(time.monotonic() - started, 3)
    load["end"] = load_average()
    # A timed output that disagrees with the reference fails its clause and the run (exit 1).
    fail_wrong_benchmarks(run)


def _benchmark_families(spec_families: list[str], known: list[str]) -> list[str]:
    if not spec_families:
        return known
    return [f for family in spec_families for f in BENCHMARKS_OF_SPEC_FAMILY.get(family, ())]


def _benchmark_one(
    spec: str,
    families: list[str],
    options: RunOptions,
    ceilings: dict[str, dict[str, Any]],
    result: AdapterResult,
    children: Children,
    console: Console,
    progress: RunProgress | None = None,
) -> None:
    """One adapter's benchmark families in a worker process; a crash or hang there is an error at its family."""
    progress = progress if progress is not None else RunProgress(console, live=False)
    progress.bench_planned(spec, families)
    with tempfile.TemporaryDirectory(prefix="specformer-bench-") as tmp:
        stream, log, ceilings_path = Path(tmp) / "stream.jsonl", Path(tmp) / "output.log", Path(tmp) / "ceilings.json"
        ceilings_path.write_text(json.dumps(ceilings))
        remaining = list(families)
        while remaining:
            _say(console, f"benchmarking {progress.label(spec)}: {', '.join(remaining)} ...")
            command = [
                *python_command("specformer.conformance.bench.worker", "process_main"),
                f"--adapter={spec}",
                f"--profile={options.profile}",
                f"--device={options.device}",
                f"--ceilings={ceilings_path}",
                f"--stream={stream}",
                *(f"--family={f}" for f in remaining),
            ]
            outcome = _watch(
                children,
                command,
                stream,
                "family",
                options.bench_watchdog_s,
                log,
                lambda event: progress.bench_event(spec, event),
            )
            ended = _collect_benchmarks(stream, result)
            remaining = [f for f in remaining if f not in ended]
            if not remaining:
                break
            family = remaining.pop(0)  # the family the worker was in (or never reached) when it stopped
            if outcome.hung is not None:
                cause = f"no answer within {options.bench_watchdog_s:g} s: the watchdog ended the benchmark process"
            else:
                cause = f"crash: the benchmark process {_death(outcome.returncode)}; last output: {_tail(log)}"
            result.benchmark_errors.append(f"{family}: {cause}")
            progress.bench_family_ended(spec, family, 0, cause)
            stream.unlink(missing_ok=True)
            log.unlink(missing_ok=True)
    progress.bench_done(spec)


def _collect_benchmarks(stream: Path, result: AdapterResult) -> set[str]:
    """Add the rows of each family the worker finished, and its error if it raised; return those families.

    An error (the adapter raised, whatever the exception) fails the run at that benchmark family:
    a benchmark the adapter could not run is never a silent skip. The progress display has
    printed each one as it was read.
    """
    ended = set()
    for event in _read_stream(stream):
        if event.get("event") != "end":
            continue
        ended.add(event["family"])
        result.benchmarks += [BenchmarkResult(**row) for row in event.get("benchmarks", [])]
        if event.get("error"):
            result.benchmark_errors.append(f"{event['family']}: {event['error']}")
    return ended
