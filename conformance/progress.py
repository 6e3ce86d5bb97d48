"""What a run is doing while it runs: tests done per adapter and family, and the benchmark being timed.

The runner feeds this from the stream files its child processes write (plugin._Stream for the
suite, bench/worker.py for benchmarks), as it polls them for its watchdog; nothing here talks to
an adapter. Two displays, chosen by the console:

- a terminal: a rich progress bar per adapter (the family it is in, tests done out of the total
  the suite process collected, elapsed time and an estimate) and one per adapter's benchmarks
  (the benchmark timing now, with its parameters and the seconds it has been timing, from
  bench/observe.py's "timing" events; how many of the family's benchmarks are done, from its
  "row" events); each (adapter, family) that finishes also leaves a line above.
- anything else (a CI log, a pipe): only those lines, one per finished (adapter, family) and one
  per finished benchmark family, in a fixed form that greps well:

      done hf attention: 120 tests (115 pass, 2 fail, 3 unsupported) in 12.3 s
      bench hf attention: 14 rows in 8.1 s

Adapters are shown by their `name` (a module:attribute adapter's import string is its spec, not
its name), with the spec beside it only where two adapters share a name.

A test is counted in the family of the first clause it cites (`family_of_test`); the seconds are
the sum of its tests' durations, as results.json's wall_s counts them. The stream of a process
that was resumed after a crash is read again from its start, so each test is counted once by
its node id.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from specformer.conformance.results import neutralise

# Tests whose clauses are all unknown to the registry (there should be none) are counted here.
OTHER_FAMILY = "other"


def family_of_test(clauses: Iterable[str], families_of: dict[str, str]) -> str:
    """The family a test is counted in: that of the first clause it cites that the registry knows.

    >>> family_of_test(["SAMP-TOPK-01", "ATTN-SDPA-01"], {"SAMP-TOPK-01": "sampling"})
    'sampling'
    >>> family_of_test([], {})
    'other'
    """
    for clause in clauses:
        if clause in families_of:
            return families_of[clause]
    return OTHER_FAMILY


def clause_families() -> dict[str, str]:
    """clause id -> family, from the registry (the spec files)."""
    from specformer.conformance.registry import registry

    return {clause.id: clause.family for clause in registry().values()}


def adapter_labels(names: dict[str, str]) -> dict[str, str]:
    """spec -> what the display calls the adapter: its name, and the spec too where names collide.

    >>> adapter_labels({"hf": "hf", "pkg.mod:Mine": "mine", "a:X": "x", "b:X": "x"})
    {'hf': 'hf', 'pkg.mod:Mine': 'mine', 'a:X': 'x (a:X)', 'b:X': 'x (b:X)'}
    """
    counts = Counter(names.values())
    return {spec: name if counts[name] == 1 else f"{name} ({spec})" for spec, name in names.items()}


def brief_params(params: dict[str, Any], limit: int = 4) -> str:
    """The first few scalar parameters as k=v, for a progress line.

    >>> brief_params({"batch": 64, "vocab": 128256, "dtype": "float32", "contexts": [1, 2]})
    'batch=64 vocab=128256 dtype=float32'
    """
    scalars = [f"{k}={v}" for k, v in params.items() if isinstance(v, int | float | str) and len(str(v)) <= 24]
    return " ".join(scalars[:limit])


class _TimingFor(ProgressColumn):
    """Seconds the benchmark named in the task's description has been timing (blank between benchmarks)."""

    def __init__(self, clock: Any) -> None:
        super().__init__()
        self.clock = clock

    def render(self, task: Task) -> Text:
        since = task.fields.get("timing_since")
        if since is None:
            return Text("")
        return Text(f"for {max(0.0, self.clock() - since):.0f} s", style="cyan")


@dataclass
class _Pair:
    """One (adapter, family) of the suite: how many tests, how many ended, with which statuses."""

    total: int
    done: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    announced: bool = False


class RunProgress:
    """The progress of one `specformer run` or `specformer bench`, for the runner to feed.

    Thread-safe: the suite processes are watched from one thread each. Use it as a context
    manager, so that the terminal display starts and stops with the run.
    """

    def __init__(
        self,
        console: Console,
        live: bool | None = None,
        families_of: dict[str, str] | None = None,
        names: dict[str, str] | None = None,
        clock: Any = time.time,
    ) -> None:
        """`names`: spec -> the adapter's name (LoadedAdapter.name); a spec not in it is shown as it is.
        `clock`: seconds since the epoch, as the streams' "time" fields count them."""
        self.console = console
        self._labels = adapter_labels(names or {})
        self._clock = clock
        self.live = console.is_terminal if live is None else live
        self._families_of = families_of
        self._lock = threading.RLock()
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._collected: set[str] = set()  # adapters whose totals are known
        self._starts: dict[str, dict[str, Any]] = {}  # running test -> its start event
        self._ended: set[str] = set()
        self._bench_started: dict[tuple[str, str], float] = {}
        self._bench_ended: set[tuple[str, str]] = set()
        self._bench_rows: Counter[tuple[str, str]] = Counter()  # rows finished per (adapter, family)
        self._bench_timing: dict[tuple[str, str], str] = {}  # the benchmark timing now, per (adapter, family)
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    # -- the display --------------------------------------------------------------------

    def __enter__(self) -> RunProgress:
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),  # adapter names are text, never markup
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                _TimingFor(self._clock),
                console=self.console,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def label(self, spec: str) -> str:
        """What the display calls the adapter `spec`."""
        return self._labels.get(spec, spec)

    def _line(self, text: str, style: str = "dim") -> None:
        self.console.print(Text(neutralise(text), style=style), highlight=False, soft_wrap=True)

    def _task(self, key: str, description: str, total: int) -> TaskID | None:
        if self._progress is None:
            return None
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(neutralise(description), total=total)
        return self._tasks[key]

    def _update(self, key: str, **fields: Any) -> None:
        if self._progress is not None and key in self._tasks:
            if "description" in fields:
                fields["description"] = neutralise(fields["description"])
            self._progress.update(self._tasks[key], **fields)

    # -- the suite ----------------------------------------------------------------------

    def families_of(self) -> dict[str, str]:
        if self._families_of is None:
            self._families_of = clause_families()
        return self._families_of

    def suite_event(self, event: dict[str, Any]) -> None:
        """One event of a suite process's stream (collected, start, end); others are ignored."""
        with self._lock:
            kind = event.get("event")
            if kind == "collected":
                self._suite_collected(event.get("counts", {}))
            elif kind == "start" and event.get("adapter"):
                self._starts[event["nodeid"]] = event
                pair = self._pair_key(event["adapter"], event.get("clauses", []))
                self._update(f"suite {pair[0]}", description=f"{self.label(pair[0])} {pair[1]}")
            elif kind == "end" and event.get("nodeid") not in self._ended:
                self._suite_end(event)

    def _suite_collected(self, counts: dict[str, dict[str, int]]) -> None:
        for adapter, families in counts.items():
            # A resumed process collects only what is left of families already counted; an adapter
            # shared between two processes (conformance/sharing.py) is counted by each for its own.
            new = {family: int(total) for family, total in families.items() if (adapter, family) not in self._pairs}
            if not new:
                continue
            self._collected.add(adapter)
            for family, total in new.items():
                self._pairs[(adapter, family)] = _Pair(total=total)
            total = sum(pair.total for (name, _), pair in self._pairs.items() if name == adapter)
            self._task(f"suite {adapter}", self.label(adapter), total)
            self._update(f"suite {adapter}", total=total)

    def _pair_key(self, adapter: str, clauses: list[str]) -> tuple[str, str]:
        return adapter, family_of_test(clauses, self.families_of())

    def _suite_end(self, event: dict[str, Any]) -> None:
        nodeid = event.get("nodeid", "")
        start = self._starts.pop(nodeid, None)
        results = event.get("results", [])
        adapter = start.get("adapter") if start else (results[0].get("adapter") if results else None)
        if adapter is None:
            return
        self._ended.add(nodeid)
        clauses = start.get("clauses", []) if start else results[0].get("clauses", [])
        key = self._pair_key(adapter, clauses)
        pair = self._pairs.setdefault(key, _Pair(total=0))
        pair.done += 1
        pair.total = max(pair.total, pair.done)
        if start is not None and "time" in event:
            pair.seconds += max(0.0, event["time"] - start.get("time", event["time"]))
        status = results[0].get("result", {}).get("status") if results else None
        pair.statuses[status or "no result"] += 1
        self._update(f"suite {adapter}", advance=1)
        if pair.done >= pair.total:
            self._announce(key, pair)

    def _announce(self, key: tuple[str, str], pair: _Pair) -> None:
        if pair.announced:
            return
        pair.announced = True
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(pair.statuses.items(), key=lambda s: -s[1]))
        style = "red" if pair.statuses.get("fail") or pair.statuses.get("error") else "dim"
        self._line(f"done {self.label(key[0])} {key[1]}: {pair.done} tests ({statuses}) in {pair.seconds:.1f} s", style)

    def suite_done(self, adapters: Iterable[str]) -> None:
        """The adapters' suite processes ended: announce what did not end as counted (a crash, say)."""
        with self._lock:
            for adapter in adapters:
                for key, pair in self._pairs.items():
                    if key[0] == adapter and pair.done and not pair.announced:
                        self._announce(key, pair)
                self._update(f"suite {adapter}", description=f"{self.label(adapter)} done")

    # -- benchmarks ---------------------------------------------------------------------

    def bench_planned(self, adapter: str, families: list[str]) -> None:
        with self._lock:
            self._task(f"bench {adapter}", f"bench {self.label(adapter)}", len(families))

    def bench_event(self, adapter: str, event: dict[str, Any]) -> None:
        """One event of a benchmark worker's stream: a family's start and end, each benchmark's start
        of timing, each row finished."""
        with self._lock:
            family, kind = event.get("family"), event.get("event")
            if family is None:
                return
            key, task, label = (adapter, family), f"bench {adapter}", f"bench {self.label(adapter)}"
            if kind == "start":
                self._bench_started.setdefault(key, event.get("time", self._clock()))
                self._update(task, description=f"{label}: timing {family}", timing_since=None)
            elif kind == "timing" and key not in self._bench_ended:  # a benchmark starts timing: say which
                name = str(event.get("name", "?"))
                what = " ".join(filter(None, [name, brief_params(event.get("params") or {})]))
                done = f" · {self._bench_rows[key]} done" if self._bench_rows[key] else ""
                since = event.get("time", self._clock())
                self._update(task, description=f"{label}: timing {what}{done}", timing_since=since)
            elif kind == "row" and key not in self._bench_ended:  # a benchmark of the family finished
                self._bench_rows[key] += 1
                done = f"{self._bench_rows[key]} done, last {event.get('name', '?')}"
                self._update(task, description=f"{label}: timing {family} · {done}", timing_since=None)
            elif kind == "end" and key not in self._bench_ended:
                self._bench_ended.add(key)
                self.bench_family_ended(adapter, family, len(event.get("benchmarks", [])), event.get("error"), event)

    def bench_family_ended(
        self, adapter: str, family: str, rows: int, error: str | None, event: dict[str, Any] | None = None
    ) -> None:
        """A benchmark family ended (from its worker's stream, or as the runner closed it after a crash)."""
        with self._lock:
            key = (adapter, family)
            self._bench_ended.add(key)
            started = self._bench_started.get(key)
            ended = (event or {}).get("time", self._clock())
            seconds = f" in {max(0.0, ended - started):.1f} s" if started is not None else ""
            if error:
                self._line(f"bench {self.label(adapter)} {family}: error: {error}{seconds}", "red")
            else:
                self._line(f"bench {self.label(adapter)} {family}: {rows} rows{seconds}")
            self._update(f"bench {adapter}", advance=1, timing_since=None)

    def bench_done(self, adapter: str) -> None:
        with self._lock:
            self._update(f"bench {adapter}", description=f"bench {self.label(adapter)} done", timing_since=None)
