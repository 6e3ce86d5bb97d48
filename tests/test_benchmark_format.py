"""Benchmarks in pytest-benchmark's format, inside a user's pytest session, and with the machine's load.

- the JSON that `specformer bench --benchmark-json` writes is read back by `pytest-benchmark compare`
  (the real CLI, in a subprocess), and its statistics are the ones pytest-benchmark's own Stats
  class computes from the harness's samples;
- `run_in(benchmark, call)` records the harness's samples as the `benchmark` fixture's result in a
  scratch project's pytest session (a subprocess), and that session's --benchmark-json shows them;
- the load average at the benchmarks' start and end is recorded and shown in the reports.

No test here times an adapter: synthetic rows stand in for measurements, so the file costs a few
seconds (two subprocesses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from specformer.conformance import cli, runner
from specformer.conformance.bench.pytest_format import TIMERS, pytest_benchmark_json, write_pytest_benchmark_json
from specformer.conformance.report.markdown import render_markdown
from specformer.conformance.results import AdapterResult, BenchmarkResult, RunResult

pytest_benchmark = pytest.importorskip("pytest_benchmark", reason="pytest-benchmark is in the dev extra")


def _row(name: str, samples: list[float], calls: int, **extra: object) -> BenchmarkResult:
    ordered = sorted(samples)
    return BenchmarkResult(
        name=name,
        family="sampling",
        device="cpu",
        params={"vocab": 50_257, "batch": 8},
        samples_s=samples,
        median_s=ordered[len(ordered) // 2],
        iqr_s=0.0,
        calls_per_sample=calls,
        threads=2,
        **extra,  # type: ignore[arg-type]
    )


def _run() -> RunResult:
    rows = [
        _row("sampling.top_p", [1.2e-3, 1.1e-3, 1.3e-3, 1.15e-3, 4.0e-3], 16, correct=True),
        _row("sampling.top_k", [2e-4, 2.1e-4, 1.9e-4], 64, correct=True, flags=["a flag"]),
    ]
    wrong = _row("sampling.top_p", [1e-4, 1e-4, 1e-4], 100, correct=False)
    memory = _row("kv_cache.memory", [0.0], 1, correct=True)
    return RunResult(
        environment={
            "python": "3.11.7",
            "platform": "Linux-6.1-x86_64",
            "machine": "x86_64",
            "processor": "a CPU",
            "load_average": {"cpus": 2, "start": [1.5, 1.2, 1.0], "end": [2.25, 1.4, 1.1]},
        },
        profile="quick",
        adapters=[
            AdapterResult(name="reference", benchmarks=rows),
            AdapterResult(name="mine", benchmarks=[wrong, memory]),
        ],
        created="2026-12-03T17:00:00+00:00",
        specformer_version="0.1.0",
    )


def _pytest_benchmark_cli() -> list[str]:
    """pytest-benchmark's own command, run by this interpreter (its console script where it has one)."""
    script = Path(sys.executable).with_name("pytest-benchmark")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest_benchmark"]


def test_json_has_pytest_benchmarks_statistics_of_the_harness_samples() -> None:
    from pytest_benchmark.stats import Stats

    document = pytest_benchmark_json(_run())
    assert [b["name"] for b in document["benchmarks"]] == [
        "sampling.top_p[reference-50257-8]",
        "sampling.top_k[reference-50257-8]",
    ]
    for written, row in zip(document["benchmarks"], _run().adapters[0].benchmarks, strict=True):
        stats = Stats()
        for sample in row.samples_s:
            stats.update(sample)
        for name in Stats.fields:  # numbers to rounding; "outliers" is a string ("1;0")
            expected = getattr(stats, name)
            assert written["stats"][name] == (expected if isinstance(expected, str) else pytest.approx(expected)), name
        assert written["stats"]["data"] == row.samples_s  # measured: seconds per call, one per sample
        assert written["stats"]["iterations"] == row.calls_per_sample
        assert written["extra_info"]["specformer_median_s"] == row.median_s
        assert written["options"]["timer"] == TIMERS["cpu"]
    # A wrong answer is not a result: left out, and said so.
    assert document["specformer_excluded"] == [
        "mine sampling.top_p {'vocab': 50257, 'batch': 8}: its output disagreed with the reference",
        "mine kv_cache.memory {'vocab': 50257, 'batch': 8}: no timed samples (not a timing)",
    ]
    assert document["machine_info"]["specformer_environment"]["load_average"]["end"] == [2.25, 1.4, 1.1]
    assert document["commit_info"] == {}  # not recorded by specformer: empty, never guessed


@pytest.mark.slow  # a subprocess (or a whole benchmark family): out of the developer loop, in CI
def test_pytest_benchmark_compare_reads_the_file(tmp_path: Path) -> None:
    path = write_pytest_benchmark_json(_run(), tmp_path / "0001_specformer.json")
    compared = subprocess.run(
        [*_pytest_benchmark_cli(), "compare", str(path), "--columns=min,median,mean,rounds,iterations"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    output = compared.stdout + compared.stderr
    assert compared.returncode == 0, output
    assert "Failed to load" not in output, output
    assert "sampling.top_p[reference-50257-8]" in output and "sampling.top_k[reference-50257-8]" in output, output
    assert "mine" not in output


def test_cli_writes_the_json_and_checks_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(cli, "_load_defaults", lambda specs, *_: ([], []))
    monkeypatch.setattr(runner, "run_benchmarks", lambda options, adapters, console, *_: _run())
    path = tmp_path / "made" / "bench.json"
    cli.main(["bench", "--benchmark-json", str(path)])
    assert [b["param"] for b in json.loads(path.read_text())["benchmarks"]] == ["reference-50257-8"] * 2
    assert cli.main(["run", "--no-bench", "--benchmark-json", str(path)]) == cli.EXIT_USAGE
    assert cli.main(["bench", "--benchmark-json", str(tmp_path)]) == cli.EXIT_USAGE
    assert "--benchmark-json" in capsys.readouterr().err


def test_load_average_is_recorded_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from specformer.conformance import bench

    monkeypatch.setattr(bench, "measure_ceilings", lambda device, policy: {})
    options = runner.RunOptions(adapters=[], families=[], profile="quick")
    run = runner.run_benchmarks(options, [], Console(file=open(os.devnull, "w")))
    load = run.environment["load_average"]
    assert load["cpus"] == os.cpu_count()
    assert len(load["start"]) == 3 and len(load["end"]) == 3
    assert "Load average (1 min) 1.5 at the benchmarks' start, 2.25 at their end, on 2 CPUs" in render_markdown(_run())


USER_TEST = """
from specformer.conformance.bench.pytest_format import run_in
from specformer.conformance.bench.timer import TimingPolicy

SHORT = TimingPolicy(min_samples=3, max_samples=3, min_sample_s=0.002)


def test_sum(benchmark):
    timing = run_in(benchmark, lambda: sum(range(1000)), policy=SHORT, extra_info={"what": "sum"})
    assert timing is not None and benchmark.stats.stats.data


def test_once_only(benchmark):
    benchmark.pedantic(lambda: None, rounds=1)
    try:
        run_in(benchmark, lambda: None, profile="quick")
    except RuntimeError as exc:
        assert "used already" in str(exc)
    else:
        raise AssertionError("a second use of the fixture was accepted")
"""


@pytest.mark.slow  # a subprocess (or a whole benchmark family): out of the developer loop, in CI
def test_run_in_records_the_harness_in_a_users_pytest_session(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    out = tmp_path / "bench.json"
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--benchmark-json={out}", "test_user.py"],
        # the user's session is not an xdist worker, though this test may run in one: pytest-benchmark reads
        # PYTEST_XDIST_WORKER and would disable itself
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    summed = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}["test_sum"]
    assert summed["options"]["timer"] == TIMERS["cpu"]
    assert summed["extra_info"]["what"] == "sum" and summed["extra_info"]["stop_reason"]
    # The harness's samples, one round each: calls per sample became the iterations.
    assert summed["stats"]["iterations"] > 1 and summed["stats"]["rounds"] == len(summed["stats"]["data"]) == 3
    assert summed["stats"]["median"] == pytest.approx(summed["extra_info"]["specformer_median_s"], rel=1e-9)


def _generation_run() -> RunResult:
    def row(name: str, size: int, samples: list[float], **params: object) -> BenchmarkResult:
        ordered = sorted(samples)
        return BenchmarkResult(
            name=name, family="generation", device="cpu", params=dict(params), samples_s=samples,
            median_s=ordered[len(ordered) // 2], iqr_s=ordered[-1] - ordered[0], calls_per_sample=1, size=size,
            correct=True,
        )  # fmt: skip

    rows = []
    for context in (64, 128):
        rows.append(row("generation.ttft", context, [0.01 * context / 64] * 3, context=context, batch=1, new_tokens=8))
        floor = dict(floor_s=1e-4, bytes_per_step=10**6, bandwidth_bytes_per_s=1e10)
        rows.append(row("generation.tpot", context, [0.002] * 3, context=context, batch=1, new_tokens=8, **floor))
        memory = dict(context=context, cache_bytes=context * 8192, formula_bytes=context * 8192, weight_bytes=2**22)
        rows.append(row("kv_cache.memory", context, [0.0], **memory))
        rows.append(row("kv_cache.decode_step", context, [1e-3 * context / 64] * 3, context=context, exponent=1.02))
    rows.append(row("generation.throughput", 4, [0.5] * 3, batch=4, context=64, new_tokens=8, floor_tokens_per_s=4e4))
    return RunResult(environment={}, profile="quick", adapters=[AdapterResult(name="torch", benchmarks=rows)])


def test_generation_serving_metrics_are_tables_and_plots() -> None:
    from specformer.conformance.report import plots
    from specformer.conformance.report.measurements import generation_tables

    tables = {t.title.split(":")[0].split(" ")[0]: t for t in generation_tables(_generation_run())}
    assert set(tables) == {"Latency", "Throughput", "Memory", "One"}
    assert tables["Latency"].rows[1][:6] == ["torch", "128", "8", "20.0 ms ± 0 s", "2.00 ms ± 0 s", "500 tok/s"]
    assert tables["Latency"].rows[1][6:8] == ["100 µs", "20.0×"]  # the weight-bandwidth floor and TPOT's gap to it
    assert tables["Throughput"].rows == [["torch", "4", "64", "8", "500 ms ± 0 s", "64.0 tok/s", "40000 tok/s", "✓"]]
    assert tables["Memory"].rows[0] == ["torch", "64", "4.00 MiB", "512 KiB", "512 KiB", "✓", "11.1%"]
    markdown = render_markdown(_generation_run())
    assert "### Latency against context (batch 1): TTFT and TPOT" in markdown and "| torch | 4 | 64 |" in markdown
    if plots.matplotlib_available():
        titles = [plot.title for plot in plots.generation_plots(_generation_run())]
        assert titles == [
            "generation: TTFT and TPOT against context",
            "generation: throughput against batch size",
            "generation: weights and KV cache bytes",
        ]
