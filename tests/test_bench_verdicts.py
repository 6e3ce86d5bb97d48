"""A benchmark's wrong timed output fails its clause and the run, and the report says which clause."""

from __future__ import annotations

import re
from pathlib import Path

from specformer.conformance.adapters import load_adapter
from specformer.conformance.bench import sampling_benchmarks
from specformer.conformance.bench.verdicts import BENCHMARK_CLAUSES, fail_wrong_benchmarks
from specformer.conformance.registry import registry
from specformer.conformance.results import DEVIATES, FAIL, PASS, AdapterResult, ClauseResult, Expectation, RunResult

BENCH = Path(__file__).parents[1] / "conformance" / "bench"


def _run(adapter: AdapterResult) -> RunResult:
    return RunResult(environment={}, profile="quick", adapters=[adapter])


def test_every_benchmark_names_a_known_clause() -> None:
    names = set()
    for path in BENCH.glob("*.py"):
        names |= set(re.findall(r'"((?:tokenizers|attention)\.[a-z_]+)"', path.read_text()))
    names |= {f"sampling.{op}" for op in ("temperature", "top_k", "top_p", "min_p", "process")}
    assert names <= set(BENCHMARK_CLAUSES), names - set(BENCHMARK_CLAUSES)
    assert set(BENCHMARK_CLAUSES.values()) <= set(registry())


def test_a_wrong_timed_output_fails_its_clause_and_the_run() -> None:
    mutant = load_adapter("specformer.conformance.mutants.sampling:TopKOffByOne")
    passing = ClauseResult(id="SAMP-TOPK-01", family="sampling", title="t", status=PASS)
    adapter = AdapterResult(name="mutant", clauses=[passing])
    adapter.benchmarks = sampling_benchmarks(mutant, "quick", batch=4, vocab=64)
    run = _run(adapter)
    assert run.exit_code() == 0
    fail_wrong_benchmarks(run)
    assert run.exit_code() == 1
    assert [c.id for c in adapter.failures()] == ["SAMP-TOPK-01"]
    (test,) = [t for t in passing.tests if t.nodeid.startswith("bench::")]
    assert test.status == FAIL and "breaks SAMP-TOPK-01" in test.message
    (top_k,) = [b for b in adapter.benchmarks if b.name == "sampling.top_k"]
    assert "breaks SAMP-TOPK-01" in top_k.flags


def test_a_wrong_output_adds_its_clause_when_the_suite_did_not_run_it() -> None:
    adapter = AdapterResult(name="a")
    adapter.benchmarks = sampling_benchmarks(load_adapter("reference"), "quick", batch=2, vocab=16)
    adapter.benchmarks[0].correct = False
    fail_wrong_benchmarks(_run(adapter))
    assert [(c.id, c.status) for c in adapter.clauses] == [("SAMP-TEMP-01", FAIL)]


def test_a_documented_wrong_output_deviates() -> None:
    entry = Expectation("SAMP-TEMP-01", "known", tests=["bench::sampling.temperature*"], message="disagrees")
    clause = ClauseResult(id="SAMP-TEMP-01", family="sampling", title="t", status=PASS, expectation=entry)
    adapter = AdapterResult(name="a", clauses=[clause])
    adapter.benchmarks = sampling_benchmarks(load_adapter("reference"), "quick", batch=2, vocab=16)[:1]
    adapter.benchmarks[0].correct = False
    run = _run(adapter)
    fail_wrong_benchmarks(run)
    assert clause.status == DEVIATES and run.exit_code() == 0
