"""The progress display of `specformer run` and `specformer bench`, fed with stream events as the runner feeds it.

No process runs here: the events are those plugin._Stream and bench/worker.py write (the CLI
tests in test_cli.py check the same lines come out of a real run).
"""

from __future__ import annotations

import gc
import io
import json
import time

from rich.console import Console

from specformer.conformance.progress import RunProgress, family_of_test

FAMILIES = {"SAMP-TOPK-01": "sampling", "SAMP-TOPP-01": "sampling", "ATTN-SDPA-01": "attention"}


def _start(nodeid: str, adapter: str, clause: str, time: float) -> dict:
    return {"event": "start", "nodeid": nodeid, "adapter": adapter, "clauses": [clause], "time": time}


def _end(nodeid: str, adapter: str, clause: str, status: str, time: float) -> dict:
    result = {"nodeid": nodeid, "status": status, "message": ""}
    return {
        "event": "end",
        "nodeid": nodeid,
        "results": [{"adapter": adapter, "clauses": [clause], "result": result}],
        "time": time,
    }


def _suite_events() -> list[dict]:
    """Two families of adapter 'a': sampling ends first (3 tests, one failing), attention after (1 test)."""
    events: list[dict] = [{"event": "collected", "counts": {"a": {"sampling": 3, "attention": 1}}, "time": 0.0}]
    for index, (clause, status) in enumerate(
        [("SAMP-TOPK-01", "pass"), ("SAMP-TOPP-01", "fail"), ("SAMP-TOPK-01", "pass"), ("ATTN-SDPA-01", "unsupported")]
    ):
        events += [
            _start(f"t{index}[a]", "a", clause, 10.0 * index),
            _end(f"t{index}[a]", "a", clause, status, 10.0 * index + 1.5),
        ]
    return events


def _plain(events: list[dict], width: int = 80) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False)
    assert not console.is_terminal
    with RunProgress(console, families_of=FAMILIES) as progress:
        for event in events:
            progress.suite_event(event)
        progress.suite_done(["a"])
    return buffer.getvalue().splitlines()


def test_without_a_terminal_one_line_per_finished_adapter_and_family() -> None:
    lines = _plain(_suite_events())
    assert lines == [
        "done a sampling: 3 tests (2 pass, 1 fail) in 4.5 s",
        "done a attention: 1 tests (1 unsupported) in 1.5 s",
    ]


def test_a_resumed_stream_is_counted_once_and_a_crash_still_gets_its_line() -> None:
    events = _suite_events()
    # The process died after the second test; its replacement re-reads the stream from the start and
    # collects only what is left; the last test never ends (the run was cut short).
    resumed = events[:5] + events[:5] + [{"event": "collected", "counts": {"a": {"sampling": 1}}}] + events[5:8]
    assert _plain(resumed) == ["done a sampling: 3 tests (2 pass, 1 fail) in 4.5 s"]


def test_adapter_names_are_neither_markup_nor_escapes() -> None:
    name = "evil[/bold]\x1b[31m"
    events = [{"event": "collected", "counts": {name: {"sampling": 1}}}, _start("t", name, "SAMP-TOPK-01", 0.0)]
    events.append(_end("t", name, "SAMP-TOPK-01", "pass", 1.0))
    (line,) = _plain(events)
    assert line == "done evil[/bold]\\x1b[31m sampling: 1 tests (1 pass) in 1.0 s"
    buffer = io.StringIO()
    with RunProgress(Console(file=buffer, force_terminal=True, width=100), families_of=FAMILIES) as progress:
        for event in events:
            progress.suite_event(event)
    assert "\x1b[31m" not in buffer.getvalue().replace("\x1b[31mdone", "")  # only rich's own colours


def test_benchmark_lines_name_the_family_its_rows_and_errors() -> None:
    buffer = io.StringIO()
    with RunProgress(Console(file=buffer, width=120)) as progress:
        progress.bench_planned("a", ["sampling", "losses"])
        progress.bench_event("a", {"event": "start", "family": "sampling", "time": 1.0})
        progress.bench_event("a", {"event": "end", "family": "sampling", "benchmarks": [{}, {}], "time": 3.5})
        progress.bench_event("a", {"event": "end", "family": "sampling", "benchmarks": [{}, {}], "time": 3.5})
        progress.bench_event("a", {"event": "start", "family": "losses", "time": 4.0})
        progress.bench_family_ended("a", "losses", 0, "no answer within 3 s")
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "bench a sampling: 2 rows in 2.5 s"
    assert lines[1].startswith("bench a losses: error: no answer within 3 s in ") and len(lines) == 2


def test_on_a_terminal_a_bar_per_adapter_with_counts_and_the_benchmark_being_timed() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, force_terminal=True, color_system=None)
    progress = RunProgress(console, families_of=FAMILIES)
    assert progress.live
    with progress:
        for event in _suite_events()[:5]:
            progress.suite_event(event)
        progress._progress.refresh()  # what the terminal shows mid-run
        middle = buffer.getvalue()
        for event in _suite_events()[5:]:
            progress.suite_event(event)
        progress.bench_planned("a", ["sampling"])
        progress.bench_event("a", {"event": "start", "family": "sampling", "time": 1.0})
        progress._progress.refresh()
        timing = buffer.getvalue()
        for name in ("sampling.top_k", "sampling.top_p"):
            progress.bench_event("a", {"event": "row", "family": "sampling", "name": name, "params": {}, "time": 1.5})
        progress._progress.refresh()
        rows = buffer.getvalue()[len(timing) :]
        progress.bench_event("a", {"event": "end", "family": "sampling", "benchmarks": [{}], "time": 2.0})
    final = buffer.getvalue()
    assert "a sampling" in middle and "2/4" in middle  # the family it is in, tests done out of all
    assert "bench a: timing sampling" in timing
    assert "bench a: timing sampling · 2 done, last sampling.top_p" in rows  # which benchmark it got to
    assert "4/4" in final and "done a sampling: 3 tests (2 pass, 1 fail) in 4.5 s" in final
    assert "bench a sampling: 1 rows in 1.0 s" in final


def test_a_test_counts_in_the_family_of_its_first_known_clause() -> None:
    assert family_of_test(["UNKNOWN-1", "ATTN-SDPA-01", "SAMP-TOPK-01"], FAMILIES) == "attention"
    assert family_of_test(["UNKNOWN-1"], FAMILIES) == "other"


def test_the_benchmark_worker_streams_a_row_event_per_finished_benchmark(tmp_path, monkeypatch) -> None:
    """bench/worker.py writes one "row" event (name, parameters) as each benchmark of a family ends:
    measured_result (the harness's constructor of rows) tells the observer; outside a worker, nothing."""

    from specformer.conformance import adapters
    from specformer.conformance.bench import observe, worker
    from specformer.conformance.bench.roofline import measured_result
    from specformer.conformance.bench.timer import Timing

    def two_rows(adapter, profile, *, device, ceilings):
        timing = Timing(samples_s=[1e-3, 2e-3, 3e-3], calls_per_sample=1, mode="cpu", stop_reason="test")
        return [
            measured_result(
                timing, lambda: None, device=device, ceilings=ceilings, name=f"fake.{n}", family="fake", params={}
            )
            for n in ("first", "second")
        ]

    monkeypatch.setitem(worker.BENCHMARKS, "sampling", two_rows)
    monkeypatch.setattr(adapters, "load_adapter", lambda spec: spec)  # the fake family needs no adapter
    stream, ceilings = tmp_path / "stream.jsonl", tmp_path / "ceilings.json"
    ceilings.write_text("{}")
    arguments = ["--adapter=reference", "--family=sampling", "--profile=quick", f"--ceilings={ceilings}"]
    frozen = gc.get_freeze_count()
    assert worker.main([*arguments, f"--stream={stream}"]) == 0
    assert gc.get_freeze_count() <= frozen  # only the process entry (process_main) freezes the heap to exit
    events = [json.loads(line) for line in stream.read_text().splitlines()]
    assert [(e["event"], e.get("name")) for e in events] == [
        ("start", None),
        ("row", "fake.first"),
        ("row", "fake.second"),
        ("end", None),
    ]
    assert events[1]["family"] == "sampling" and len(events[3]["benchmarks"]) == 2
    observe.row_done("outside a worker")  # no observer: nothing happens, nothing raised


def test_a_benchmark_is_named_while_it_times_and_for_how_long(tmp_path, monkeypatch) -> None:
    """The worker announces each benchmark as it starts timing ("timing" event); a terminal shows its name,
    parameters and seconds so far while it runs, not the last one that finished. A fake benchmark that
    sleeps stands in for a slow one; the display is looked at during the sleep."""
    import threading

    from specformer.conformance import adapters
    from specformer.conformance.bench import worker
    from specformer.conformance.bench.observe import starting
    from specformer.conformance.bench.roofline import measured_result
    from specformer.conformance.bench.timer import Timing

    timing_now, looked = threading.Event(), threading.Event()

    def slow(adapter, profile, *, device, ceilings):
        starting("fake.slow", {"length": 512, "dtype": "float32", "contexts": [1, 2]})
        timing_now.set()
        looked.wait(10)
        time.sleep(0.05)
        timing = Timing(samples_s=[1e-3], calls_per_sample=1, mode="cpu", stop_reason="test")
        row = measured_result(
            timing, lambda: None, device=device, ceilings=ceilings, name="fake.slow", family="f", params={}
        )
        return [row]

    monkeypatch.setitem(worker.BENCHMARKS, "sampling", slow)
    monkeypatch.setattr(adapters, "load_adapter", lambda spec: spec)
    stream, ceilings = tmp_path / "stream.jsonl", tmp_path / "ceilings.json"
    ceilings.write_text("{}")
    spec = "pkg.adapters:Mine"
    arguments = [f"--adapter={spec}", "--family=sampling", "--profile=quick", f"--ceilings={ceilings}"]
    thread = threading.Thread(target=worker.main, args=([*arguments, f"--stream={stream}"],))
    thread.start()
    try:
        assert timing_now.wait(10)
        events = [json.loads(line) for line in stream.read_text().splitlines()]
        buffer = io.StringIO()
        console = Console(file=buffer, width=120, force_terminal=True, color_system=None)
        since = events[-1]["time"]
        with RunProgress(console, names={spec: "mine"}, clock=lambda: since + 42.4) as progress:
            progress.bench_planned(spec, ["sampling"])
            for event in events:
                progress.bench_event(spec, event)
            progress._progress.refresh()
            during = buffer.getvalue()
            looked.set()
            thread.join(10)
            events = [json.loads(line) for line in stream.read_text().splitlines()]
            for event in events[2:]:
                progress.bench_event(spec, event)
            progress._progress.refresh()
        after = buffer.getvalue()[len(during) :]
    finally:
        looked.set()
        thread.join(10)
    assert [e["event"] for e in events] == ["start", "timing", "row", "end"], events[-1].get("error")
    assert events[2]["time"] - events[1]["time"] >= 0.05  # the row ends after the sleep the timing event announced
    assert "bench mine: timing fake.slow length=512 dtype=float32" in during and "for 42 s" in during
    assert spec not in during + after  # the adapter's name, never its import string
    assert "fake.slow length" not in after.splitlines()[-1] and "bench mine sampling: 1 rows in " in after


def test_without_a_terminal_the_adapter_is_named_and_timing_events_print_nothing() -> None:
    buffer = io.StringIO()
    spec = "pkg.adapters:Mine"
    with RunProgress(Console(file=buffer, width=80), families_of=FAMILIES, names={spec: "mine"}) as progress:
        for event in _suite_events():  # adapter "a" renamed to a module:attribute spec
            progress.suite_event(json.loads(json.dumps(event).replace('"a"', json.dumps(spec))))
        progress.suite_done([spec])
        progress.bench_planned(spec, ["sampling"])
        progress.bench_event(spec, {"event": "start", "family": "sampling", "time": 1.0})
        progress.bench_event(spec, {"event": "timing", "family": "sampling", "name": "x", "params": {}, "time": 1.0})
        progress.bench_event(spec, {"event": "row", "family": "sampling", "name": "x", "params": {}, "time": 2.0})
        progress.bench_event(spec, {"event": "end", "family": "sampling", "benchmarks": [{}], "time": 2.0})
    assert buffer.getvalue().splitlines() == [
        "done mine sampling: 3 tests (2 pass, 1 fail) in 4.5 s",
        "done mine attention: 1 tests (1 unsupported) in 1.5 s",
        "bench mine sampling: 1 rows in 1.0 s",
    ]
