"""Tests of the CI gate (exit code 3): which differences from a baseline are regressions.

Each rule of specformer.conformance.report.compare is checked on two small hand-built runs:
a benchmark regresses only when it is slower beyond the threshold and beyond the noise of
both measurements, and only between runs from the same environment; clause and loading
regressions count whatever the environment.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from rich.console import Console

from specformer.conformance.report import (
    GateResult,
    benchmark_comparability,
    gate,
    regressions,
    render_gate_terminal,
    write_reports,
)
from specformer.conformance.results import AdapterResult, BenchmarkResult, ClauseResult, RunResult

ENVIRONMENT = {
    "python": "3.11.7",
    "device": "cpu",
    "packages": {"torch": "2.13.0+cpu", "numpy": "2.4.6", "transformers": "5.24.0"},
}
BASE_MEDIAN_S = 1.0e-3


def bench(median_s: float = BASE_MEDIAN_S, iqr_s: float = 1e-6, **fields) -> BenchmarkResult:
    return BenchmarkResult(
        name="sampling.top_p",
        family="sampling",
        device="cpu",
        params={"batch": 64, "vocab": 128256, "top_p": 0.9},
        samples_s=[median_s],
        median_s=median_s,
        iqr_s=iqr_s,
        calls_per_sample=1,
        **fields,
    )


def make_run(*benchmarks: BenchmarkResult, status: str = "pass", environment: dict | None = None) -> RunResult:
    clause = ClauseResult("SAMP-TOPP-01", "sampling", "Top-p keeps the crossing token", status)
    adapter = AdapterResult("hf", clauses=[clause], benchmarks=list(benchmarks))
    return RunResult(environment=copy.deepcopy(environment or ENVIRONMENT), profile="ci", adapters=[adapter])


def slower(factor: float, iqr_s: float = 1e-6) -> RunResult:
    return make_run(bench(BASE_MEDIAN_S * factor, iqr_s))


def test_slower_by_15_percent_with_tiny_iqr_is_a_regression() -> None:
    found = regressions(make_run(bench()), slower(1.15))
    assert len(found) == 1
    assert found[0].startswith("hf sampling.top_p (cpu batch=64 vocab=128256 top_p=0.9): median 1.00 ms -> 1.15 ms")
    assert "+15.0%" in found[0] and "threshold 10%" in found[0]


def test_slower_by_15_percent_within_the_spread_is_not() -> None:
    # 0.15 ms slower, but the two interquartile ranges add up to 0.2 ms: noise.
    assert regressions(make_run(bench(iqr_s=1e-4)), slower(1.15, iqr_s=1e-4)) == []


def test_slower_by_5_percent_is_not() -> None:
    assert regressions(make_run(bench()), slower(1.05)) == []


def test_faster_is_not() -> None:
    assert regressions(make_run(bench()), slower(0.5)) == []


def test_threshold_is_settable() -> None:
    baseline, current = make_run(bench()), slower(1.15)
    assert regressions(baseline, current, threshold=0.20) == []
    assert len(regressions(make_run(bench()), slower(1.05), threshold=0.02)) == 1
    with pytest.raises(ValueError, match=r"threshold=-0\.1"):
        regressions(baseline, current, threshold=-0.1)


def test_benchmarks_match_by_mode_params_and_device() -> None:
    baseline = make_run(bench(mode="cold"))
    assert regressions(baseline, make_run(bench(2 * BASE_MEDIAN_S, mode="hot"))) == []
    changed = bench(2 * BASE_MEDIAN_S)
    changed.params = {**changed.params, "top_p": 0.5}
    assert regressions(make_run(bench()), make_run(changed)) == []
    assert len(regressions(baseline, make_run(bench(2 * BASE_MEDIAN_S, mode="cold")))) == 1


def test_different_device_is_not_compared_with_the_reason() -> None:
    other = {**ENVIRONMENT, "device": "NVIDIA H200"}
    current = make_run(bench(2 * BASE_MEDIAN_S), environment=other)
    assert benchmark_comparability(make_run(bench()), current) == "device differs: cpu vs NVIDIA H200"
    result = gate(make_run(bench()), current)
    assert result == GateResult(regressions=[], not_compared="device differs: cpu vs NVIDIA H200")
    assert not result.failed


def test_different_torch_version_is_not_compared() -> None:
    other = copy.deepcopy(ENVIRONMENT)
    other["packages"]["torch"] = "2.12.0+cpu"
    current = make_run(bench(2 * BASE_MEDIAN_S), environment=other)
    assert benchmark_comparability(make_run(bench()), current) == "torch differs: 2.13.0+cpu vs 2.12.0+cpu"
    assert regressions(make_run(bench()), current) == []


def test_other_differences_that_prevent_comparison() -> None:
    baseline = make_run(bench())
    python = make_run(environment={**ENVIRONMENT, "python": "3.12.1"})
    assert benchmark_comparability(baseline, python) == "python differs: 3.11.7 vs 3.12.1"
    numpy = copy.deepcopy(ENVIRONMENT)
    numpy["packages"]["numpy"] = "2.3.0"
    assert benchmark_comparability(baseline, make_run(environment=numpy)) == "numpy differs: 2.4.6 vs 2.3.0"
    threads = make_run(environment={**ENVIRONMENT, "torch_threads": 2})
    assert benchmark_comparability(make_run(environment={**ENVIRONMENT, "torch_threads": 8}), threads) == (
        "torch_threads differs: 8 vs 2"
    )
    assert benchmark_comparability(baseline, threads) is None  # recorded on one side only
    avx512 = make_run(environment={**ENVIRONMENT, "cpu_capability": "AVX512"})
    assert benchmark_comparability(make_run(environment={**ENVIRONMENT, "cpu_capability": "AVX2"}), avx512) == (
        "cpu_capability differs: AVX2 vs AVX512"
    )
    unrecorded = make_run(environment={"python": "3.11.7", "packages": {"torch": "2.13.0+cpu"}})
    assert benchmark_comparability(baseline, unrecorded) == "device not recorded in the current run"


def test_a_package_only_one_run_has_does_not_prevent_comparison() -> None:
    extra = copy.deepcopy(ENVIRONMENT)
    extra["packages"]["tiktoken"] = "0.9.0"
    assert benchmark_comparability(make_run(bench()), make_run(environment=extra)) is None
    assert len(regressions(make_run(bench()), make_run(bench(2 * BASE_MEDIAN_S), environment=extra))) == 1


def test_pass_to_fail_is_reported_when_environments_differ() -> None:
    other = {**ENVIRONMENT, "device": "NVIDIA H200"}
    result = gate(make_run(bench()), make_run(bench(2 * BASE_MEDIAN_S), status="fail", environment=other))
    assert result.regressions == ["hf SAMP-TOPP-01: pass -> fail"]
    assert result.not_compared == "device differs: cpu vs NVIDIA H200"
    assert result.failed


def test_an_adapter_that_stops_loading_is_a_regression() -> None:
    current = make_run(environment={**ENVIRONMENT, "device": "NVIDIA H200"})
    current.adapters[0].clauses = []
    current.adapters[0].load_error = "ModuleNotFoundError: No module named 'transformers'\nTraceback ..."
    assert regressions(make_run(bench()), current) == [
        "hf: loaded in the baseline, fails to load now: ModuleNotFoundError: No module named 'transformers'"
    ]
    # An adapter that did not load in the baseline either is no regression.
    assert regressions(current, current) == []


def gate_text(result: GateResult) -> str:
    console = Console(record=True, width=200)
    render_gate_terminal(result, console)
    return console.export_text()


def test_gate_terminal_says_why_benchmarks_were_not_compared() -> None:
    other = {**ENVIRONMENT, "device": "NVIDIA H200"}
    text = gate_text(gate(make_run(bench()), make_run(bench(), status="fail", environment=other)))
    assert "regression: hf SAMP-TOPP-01: pass -> fail" in text
    assert "benchmarks not compared with the baseline: device differs: cpu vs NVIDIA H200" in text
    clean = gate_text(gate(make_run(bench()), make_run(bench())))
    assert "no regression against the baseline" in clean and "not compared" not in clean


def test_reports_open_with_the_gate(tmp_path: Path) -> None:
    other = {**ENVIRONMENT, "device": "NVIDIA H200"}
    current = make_run(bench(), status="fail", environment=other)
    _, markdown, page = write_reports(current, tmp_path, gate(make_run(bench()), current))
    text = markdown.read_text()
    assert "## Against the baseline" in text and "hf SAMP-TOPP-01: pass -&gt; fail" in text
    assert "Benchmarks not compared: device differs: cpu vs NVIDIA H200" in text
    assert "hf SAMP-TOPP-01: pass -&gt; fail" in page.read_text()
    assert "Against the baseline" not in write_reports(current, tmp_path / "plain")[1].read_text()


def test_gate_gives_no_reason_when_there_is_nothing_to_time() -> None:
    other = {**ENVIRONMENT, "device": "NVIDIA H200"}
    assert gate(make_run(), make_run(environment=other)) == GateResult(regressions=[], not_compared=None)
