"""The runner survives what an adapter does to its process, and keeps out of the user's environment.

Each probe is an adapter in tests/fixtures/hostile_adapters.py that misbehaves on purpose: it
exits, segfaults, hangs past every timer, raises KeyboardInterrupt or prints terminal escapes,
in the suite or in the benchmarks. The runner must name the test or benchmark it hit, keep every
other result, and exit 1, never 0 and never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from specformer.conformance import runner
from specformer.conformance.adapters import LoadedAdapter, load_adapter
from specformer.conformance.results import ERROR, PASS, AdapterResult, ClauseResult, RunResult, TestResult
from specformer.conformance.sharing import BUILTIN_FAMILY_SECONDS

FIXTURES = Path(__file__).parent / "fixtures"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FIXTURES), env.get("PYTHONPATH", "")) if p)
    return env


SAFE_CLI = "import sys; del sys.path[0]; from specformer.conformance.cli import main; sys.exit(main())"


def _cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as the installed `specformer` script runs it: the current directory not on sys.path."""
    return subprocess.run(
        [sys.executable, "-c", SAFE_CLI, *args],
        capture_output=True,
        text=True,
        env={**_env(), **(env or {})},
        cwd=cwd,
        check=False,
    )


# ---------------------------------------------------------------------------------------
# The suite phase: crashes and hangs are errors at their test; the run resumes.


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    """One run of the Hostile adapter: every sampling operation misbehaves once, each in its own way."""
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "state").mkdir()
    done = _cli(
        "run",
        "--adapter",
        "hostile_adapters:Hostile",
        "--family",
        "sampling",
        "--profile",
        "quick",
        "--no-bench",
        "--timeout",
        "5",
        "--out",
        str(tmp / "out"),
        env={"SPECFORMER_FIXTURE_STATE": str(tmp / "state")},
    )
    results = json.loads((tmp / "out" / "results.json").read_text()) if (tmp / "out" / "results.json").exists() else {}
    return done, results


def _tests_with(results: dict, text: str) -> list[dict]:
    (adapter,) = results["adapters"]
    return [t for c in adapter["clauses"] for t in c["tests"] if text in t["message"]]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("operation", "cause"),
    [
        ("top_k", "crash: the suite process killed by SIGSEGV during this test"),
        ("min_p", "crash: the suite process exited with code 0 during this test"),
        ("temperature", "crash: the suite process exited with code 2 during this test"),  # KeyboardInterrupt
        ("top_p", "the watchdog ended the suite process"),
        ("greedy", "no answer within 5 s (--specformer-timeout)"),  # `except Exception` cannot swallow it
        ("sample", "SystemExit: 3"),
    ],
)
def test_a_crash_or_hang_is_an_error_at_its_test_and_the_run_resumes(hostile_run, operation: str, cause: str) -> None:
    done, results = hostile_run
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    hits = _tests_with(results, cause)
    assert hits and {t["status"] for t in hits} == {ERROR}, (cause, done.stdout)
    if "timeout" not in cause:  # a slow test on a loaded machine may meet the in-process timer too
        # one test, recorded under each clause it cites (a generic test cites several)
        assert len({t["nodeid"] for t in hits}) == 1, hits
    assert "Flaky" not in json.dumps(results)


@pytest.mark.slow
def test_every_clause_is_reported_and_those_after_a_crash_still_pass(hostile_run) -> None:
    from specformer.conformance.registry import registry

    _, results = hostile_run
    (adapter,) = results["adapters"]
    statuses = {c["id"]: c["status"] for c in adapter["clauses"]}
    sampling = {c.id for c in registry().values() if c.family == "sampling"}
    assert set(statuses) == sampling
    assert adapter["load_error"] is None
    # Clauses none of whose tests met a misbehaving call still pass.
    assert PASS in statuses.values()
    assert adapter["wall_s"]["suite"] > 0 and "sampling" in adapter["wall_s"]


@pytest.mark.slow
def test_adapter_text_is_never_markup_nor_a_terminal_escape(hostile_run) -> None:
    done, results = hostile_run
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "[/yellow][bold]markup[/bold]" in done.stdout  # shown as the adapter wrote it
    (hit,) = _tests_with(results, "markup")
    assert "\\x1b[31mred" in hit["message"]


# ---------------------------------------------------------------------------------------
# Benchmarks: each adapter in a worker process under a watchdog.


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hostile", "cause"),
    [
        ("BenchSysExit", "sampling: the adapter raised SystemExit(0)"),
        ("BenchKeyboardInterrupt", "sampling: the adapter raised KeyboardInterrupt()"),
        ("BenchOsExit", "sampling: crash: the benchmark process exited with code 0"),
        ("BenchSegfault", "sampling: crash: the benchmark process killed by SIGSEGV"),
        ("BenchHang", "sampling: no answer within 3 s: the watchdog ended the benchmark process"),
        ("BenchRaises", "sampling: RuntimeError: the adapter broke while timed"),
    ],
)
def test_a_benchmark_that_exits_crashes_or_hangs_is_an_error_at_its_family(
    hostile: str, cause: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    monkeypatch.setattr(runner.RunOptions, "bench_watchdog_s", property(lambda self: 3.0))
    sys.path.insert(0, str(FIXTURES))
    try:
        loaded = load_adapter(f"hostile_adapters:{hostile}")
    finally:
        sys.path.remove(str(FIXTURES))
    options = runner.RunOptions(adapters=[loaded.spec], families=["sampling"], profile="quick")
    result = AdapterResult(name=loaded.spec)
    # After a hang the run goes on: a new worker takes the next family (BenchHang has no loss to time).
    families = ["sampling", "losses"] if hostile == "BenchHang" else ["sampling"]
    output = io.StringIO()
    console = Console(file=output, width=200)
    runner._benchmark_one(loaded.spec, families, options, {}, result, runner.Children(), console)
    assert len(result.benchmark_errors) == 1 and result.benchmark_errors[0].startswith(cause), result.benchmark_errors
    assert result.benchmarks == []
    assert f"bench {loaded.spec} sampling: error: {cause.removeprefix('sampling: ')}" in output.getvalue()
    if hostile == "BenchHang":
        assert f"bench {loaded.spec} losses: 0 rows in " in output.getvalue(), output.getvalue()


@pytest.mark.slow
def test_run_exits_1_with_a_report_when_an_adapter_exits_during_benchmarks(tmp_path: Path) -> None:
    done = _cli("bench", "--adapter", "hostile_adapters:BenchSysExit", "--profile", "quick", "--out", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the adapter raised SystemExit(0)" in done.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    (adapter,) = results["adapters"]
    assert adapter["benchmark_errors"] == ["sampling: the adapter raised SystemExit(0)"]
    _validate(results)


def test_peak_memory_lets_the_adapters_exception_through() -> None:
    from specformer.conformance.bench import peak_memory

    def crashing() -> None:
        raise RuntimeError("adapter bug")

    with pytest.raises(RuntimeError, match="adapter bug"):
        peak_memory(crashing)


def test_cpu_peak_memory_is_the_most_live_at_once_above_the_level_before() -> None:
    """1 MB, then 2 MB beside it, then the first freed and 0.5 MB more: 3 MB at the peak (not the 3.5 MB
    allocated in all, nor the largest single tensor); a tensor made before the call is not counted,
    and repeated calls give the same figure."""
    import torch

    from specformer.conformance.bench import peak_memory

    given = torch.empty(2_000_000)  # 8 MB, allocated before the call

    def call() -> tuple[torch.Tensor, torch.Tensor]:
        first = torch.empty(250_000)
        second = torch.empty(500_000)
        del first
        third = torch.empty(125_000)
        second.copy_(given[:500_000])  # reads the given tensor, allocates nothing
        return second, third

    measured, source = peak_memory(call)
    assert measured == 3_000_000 and "allocation events" in source
    assert [peak_memory(call)[0] for _ in range(2)] == [3_000_000, 3_000_000]


# ---------------------------------------------------------------------------------------
# The caller's environment stays out of the suite process.


@pytest.mark.slow
def test_pytest_configuration_and_modules_in_the_current_folder_do_not_reach_the_suite(tmp_path: Path) -> None:
    for name in ("regex", "hypothesis", "numpy"):
        (tmp_path / f"{name}.py").write_text("raise ImportError('a stray module from the current folder')\n")
    out = tmp_path / "[/bold]out"  # rich markup in a path is a path
    done = _cli(
        "run",
        *("--adapter", "reference", "--family", "sampling", "--profile", "quick", "--no-bench", "--out", str(out)),
        cwd=tmp_path,
        env={"PYTEST_ADDOPTS": "--collect-only -x --deselect nothing", "PYTEST_PLUGINS": "no_such_plugin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    (adapter,) = results["adapters"]
    assert len(adapter["clauses"]) == 32 and {c["status"] for c in adapter["clauses"]} == {PASS}
    assert adapter["wall_s"]["sampling"] > 0
    _validate(results)


def _validate(results: dict) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1] / "conformance" / "results.schema.json").read_text())
    jsonschema.validate(results, schema)


def test_child_environment_drops_pytest_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_ADDOPTS", "--collect-only")
    monkeypatch.setenv("PYTEST_PLUGINS", "xdist")
    env = runner.child_environment()
    assert "PYTEST_ADDOPTS" not in env and "PYTEST_PLUGINS" not in env
    assert env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    assert "del sys.path[0]" in runner.python_command("pytest")[2]


def test_side_by_side_suite_processes_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two suite processes of all the cores' threads each spin against each other (the quick profile
    took 214 s instead of 90 s on two cores): each gets its share, unless the caller chose a count."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    assert [runner.suite_threads(n) for n in (1, 2, 3)] == [2, 1, 1]
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 16)
    assert [runner.suite_threads(n) for n in (1, 2, 3)] == [16, 8, 5]
    env = runner.child_environment(1)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in runner.child_environment()  # the benchmarks' processes keep every core
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert runner.child_environment(1)["OMP_NUM_THREADS"] == "3"  # the caller's own choice stands


def test_each_suite_process_runs_with_its_share_of_threads(tmp_path: Path) -> None:
    """End to end: the suite process started for a group sees its share in torch."""
    children = runner.Children()
    out = tmp_path / "threads.txt"
    command = [sys.executable, "-c", f"import torch; open({str(out)!r}, 'w').write(str(torch.get_num_threads()))"]
    process = children.start(command, log=tmp_path / "log", threads=1)
    assert process.wait(timeout=120) == 0
    children.finished(process)
    assert out.read_text() == os.environ.get("OMP_NUM_THREADS", "1")


def test_a_declared_clause_missing_from_the_results_is_an_error() -> None:
    adapter = LoadedAdapter(spec="reference", impl=load_adapter("reference").impl)
    result = AdapterResult(
        name="reference",
        clauses=[ClauseResult("SAMP-TOPK-01", "sampling", "", PASS, [TestResult("t", PASS)])],
    )
    options = runner.RunOptions(adapters=["reference"], families=["sampling"])
    runner._report_missing_clauses(result, adapter, options)
    statuses = {c.id: c.status for c in result.clauses}
    assert statuses["SAMP-TOPK-01"] == PASS and statuses["SAMP-GREEDY-01"] == ERROR
    assert {c.family for c in result.clauses} == {"sampling"}
    (missing,) = [c for c in result.clauses if c.id == "SAMP-GREEDY-01"]
    assert "no test of SAMP-GREEDY-01 reported a result" in missing.tests[0].message


# ---------------------------------------------------------------------------------------
# Interruptions: children stopped, temporary folders removed, one line, the last report kept.


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_stops_its_children_and_keeps_the_last_report(tmp_path: Path, signal_number: int) -> None:
    temp, out = tmp_path / "tmp", tmp_path / "out"
    temp.mkdir()
    out.mkdir()
    (out / "results.json").write_text("previous")
    command = [sys.executable, "-c", SAFE_CLI, "run", "--adapter", "hostile_adapters:Sleeping"]
    command += ["--family", "sampling", "--profile", "quick", "--no-bench", "--out", str(out)]
    process = subprocess.Popen(
        command, env={**_env(), "TMPDIR": str(temp)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not any("top_k" in p.read_text() for p in temp.glob("specformer-*/stream.jsonl")):
        assert time.monotonic() < deadline and process.poll() is None, "the suite never reached top_k"
        time.sleep(0.2)
    listed = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False)
    children = [int(pid) for pid in listed.stdout.split()]
    assert children
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal_number
    name = signal.Signals(signal_number).name
    assert stderr.strip().splitlines() == [
        f"specformer: interrupted by {name}: child processes stopped; {out} is as it was"
    ], stderr
    assert (out / "results.json").read_text() == "previous"
    assert list(temp.iterdir()) == []
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


# ---------------------------------------------------------------------------------------
# Wrong kinds of answer are named plainly.


@pytest.mark.slow
def test_wrong_return_types_are_failures_that_name_the_type(run_suite) -> None:
    adapters = ["hostile_adapters:NumpyGreedy", "hostile_adapters:Int32Greedy", "reference"]
    code, run, output = run_suite(adapters, "-k", "test_greedy_picks_lowest_index_on_ties")
    assert run is not None, output
    messages = {a.name: [t.message for c in a.clauses for t in c.tests if t.status == "fail"] for a in run.adapters}
    assert messages["hostile_adapters:NumpyGreedy"] == [
        "greedy returned a numpy.ndarray; the protocol specifies a torch.Tensor"
    ]
    assert messages["hostile_adapters:Int32Greedy"] == [
        "greedy returned token ids as torch.int32; the protocol specifies int64"
    ]
    assert messages["reference"] == [] and code == 1


def test_a_tensor_on_another_device_is_named() -> None:
    import torch

    from specformer.conformance.plugin import _with_return_check

    moved = _with_return_check("temperature", lambda logits, t: (logits / t).to("meta"))
    with pytest.raises(AssertionError, match="temperature returned a tensor on meta; its input is on cpu"):
        moved(torch.zeros(2, 3), 0.5)


@pytest.mark.slow
def test_a_slow_call_in_a_hypothesis_test_is_a_timeout_not_flaky(run_suite, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SPECFORMER_FIXTURE_STATE", str(tmp_path))
    code, run, output = run_suite(
        ["hostile_adapters:SlowOnce"], "--specformer-timeout=3", "-k", "test_rows_are_processed_independently"
    )
    assert run is not None, output
    (adapter,) = run.adapters
    ((test,),) = [c.tests for c in adapter.clauses]
    assert (test.status, test.message) == (ERROR, "no answer within 3 s (--specformer-timeout)"), test.message
    assert code == 1


@pytest.mark.parametrize("seconds", ["0", "-2", "nan", "inf", "soon"])
def test_the_plugin_rejects_a_timeout_that_is_not_positive(seconds: str) -> None:
    import argparse

    from specformer.conformance.plugin import _positive_seconds

    with pytest.raises(argparse.ArgumentTypeError, match="must be a positive number of seconds"):
        _positive_seconds(seconds)


def test_adapters_are_dealt_to_one_process_per_core_balanced_by_an_earlier_run(tmp_path: Path) -> None:
    adapters = [LoadedAdapter(spec=name, impl=None) for name in ("a", "b", "c", "d", "e")]
    options = runner.RunOptions(adapters=[], families=[], workers=2)
    assert [[x.spec for x in g] for g in runner.adapter_groups(adapters, options)] == [["a", "c", "e"], ["b", "d"]]
    # An earlier run's seconds, summed over each adapter's families; e: unknown, the mean.
    options.previous_family_s = {"a": {"x": 60.0, "y": 40.0}, "b": {"x": 90.0}, "c": {"x": 80.0}, "d": {"x": 5.0}}
    assert [[x.spec for x in g] for g in runner.adapter_groups(adapters, options)] == [["a", "e", "d"], ["b", "c"]]
    options.verbose = True  # pytest's output, one process at a time
    assert len(runner.adapter_groups(adapters, options)) == 1
    # A first run of the built-in adapters: their typical seconds, so reference and torch are apart.
    builtins = [LoadedAdapter(spec=name, impl=None) for name in BUILTIN_FAMILY_SECONDS]
    options = runner.RunOptions(adapters=[], families=[], workers=2)
    groups = [{x.spec for x in g} for g in runner.adapter_groups(builtins, options)]
    assert len(groups) == 2 and not {"reference", "hf"} <= groups[0] and not {"reference", "torch"} <= groups[0]


def test_an_earlier_runs_seconds_per_family_are_read_back(tmp_path: Path) -> None:
    assert runner.previous_family_times(tmp_path / "none.json") == {}
    earlier = RunResult(
        environment={},
        profile="quick",
        adapters=[
            AdapterResult(name="a", wall_s={"suite": 3.0, "x": 1.0, "y": 2.0, "bench": 9.0}),
            AdapterResult(name="b", load_error="did not load"),
        ],
    )
    earlier.write_json(tmp_path / "results.json")
    assert runner.previous_family_times(tmp_path / "results.json") == {"a": {"x": 1.0, "y": 2.0}}


def test_a_keyboard_interrupt_under_the_runner_ends_the_suite_process_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No teardown to race the watchdog: the stream says "interrupted" and the process exits 2 there and then
    (the hostile run's KeyboardInterrupt case, without depending on how loaded the machine is)."""
    from specformer.conformance import plugin

    class Exited(BaseException):
        pass

    def exit_now(code: int) -> None:
        raise Exited(code)

    stream = plugin._Stream(tmp_path / "stream.jsonl", plugin._SessionState())
    stream.start("test_x", "hostile", ["SAMP-TEMP-01"])
    monkeypatch.setattr(plugin, "_STREAMS", [stream])
    monkeypatch.setattr(plugin.os, "_exit", exit_now)
    with pytest.raises(Exited) as exited:
        plugin.pytest_keyboard_interrupt(None)
    assert exited.value.args == (2,)
    events = plugin.read_stream(tmp_path / "stream.jsonl")
    assert [e["event"] for e in events] == ["start", "interrupted"]
    monkeypatch.setattr(plugin, "_STREAMS", [])  # no runner's stream: pytest's own Ctrl-C handling
    plugin.pytest_keyboard_interrupt(None)
