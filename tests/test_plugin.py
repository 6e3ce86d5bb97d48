"""The plugin's mapping from test outcomes to statuses, and the documented-deviation rules."""

from __future__ import annotations

from specformer.conformance.results import DEVIATES, ERROR, PASS, UNSUPPORTED


def test_missing_operations_are_unsupported_never_pass(run_suite, statuses) -> None:
    code, run, output = run_suite(["fake_adapters:Partial", "fake_adapters:Undeclared"])
    assert run is not None, output
    partial = statuses(run, "fake_adapters:Partial")
    assert partial["SAMP-GREEDY-01"] == PASS
    assert partial["SAMP-TOPK-01"] == UNSUPPORTED
    assert PASS not in {s for c, s in partial.items() if c != "SAMP-GREEDY-01" and "EDGE" not in c}
    assert set(statuses(run, "fake_adapters:Undeclared").values()) == {UNSUPPORTED}
    assert code == 0, output  # unsupported is not a failure


def test_a_declared_operation_that_raises_is_an_error(run_suite, statuses) -> None:
    code, run, output = run_suite(["fake_adapters:Raising"])
    assert run is not None, output
    result = statuses(run, "fake_adapters:Raising")
    assert result["SAMP-TOPK-01"] == ERROR
    assert result["SAMP-TOPP-01"] == PASS  # the rest of the adapter is still judged
    (adapter,) = run.adapters
    (topk,) = [c for c in adapter.clauses if c.id == "SAMP-TOPK-01"]
    assert any("backend exploded" in t.message for t in topk.tests)
    assert code == 1


def test_a_hanging_operation_times_out_as_an_error(run_suite, statuses) -> None:
    code, run, output = run_suite(["fake_adapters:Hanging"], "--specformer-timeout=0.5", "-k", "top_k_ties")
    assert run is not None, output
    assert statuses(run, "fake_adapters:Hanging") == {"SAMP-TOPK-02": ERROR}
    assert code == 1


def test_documented_deviation_passes_the_run_and_stale_entries_are_flagged(run_suite, statuses) -> None:
    code, run, output = run_suite(["fake_adapters:Documented", "fake_adapters:Stale"])
    assert run is not None, output
    documented = statuses(run, "fake_adapters:Documented")
    assert documented["SAMP-TOPK-01"] == DEVIATES
    assert documented["SAMP-TOPK-05"] == DEVIATES
    stale = {a.name: a for a in run.adapters}["fake_adapters:Stale"]
    (greedy,) = [c for c in stale.clauses if c.id == "SAMP-GREEDY-01"]
    assert greedy.status == PASS and greedy.stale_expectation
    assert code == 0, output
    assert run.exit_code() == 0
