"""The plugin's mapping from test outcomes to statuses, and the documented-deviation rules."""

from __future__ import annotations

import pytest

from specformer.conformance.results import DEVIATES, ERROR, PASS, UNSUPPORTED

ADAPTERS = ["Partial", "Undeclared", "Raising", "Documented", "Stale"]


@pytest.fixture(scope="module")
def shared_run(module_run_suite):
    """One suite run over the fake adapters, shared by the tests below."""
    # The generic properties add nothing to the status mapping checked here (test_verdicts.py runs them).
    code, run, output = module_run_suite([f"fake_adapters:{name}" for name in ADAPTERS], "-k", "not test_generic")
    assert run is not None, output
    return code, run, output


@pytest.mark.slow
def test_missing_operations_are_unsupported_never_pass(shared_run, statuses) -> None:
    _, run, _ = shared_run
    partial = statuses(run, "fake_adapters:Partial")
    assert partial["SAMP-GREEDY-01"] == PASS
    assert partial["SAMP-TOPK-01"] == UNSUPPORTED
    assert PASS not in {s for c, s in partial.items() if c != "SAMP-GREEDY-01" and "EDGE" not in c}
    assert set(statuses(run, "fake_adapters:Undeclared").values()) == {UNSUPPORTED}


@pytest.mark.slow
def test_a_declared_operation_that_raises_is_an_error(shared_run, statuses) -> None:
    code, run, _ = shared_run
    result = statuses(run, "fake_adapters:Raising")
    assert result["SAMP-TOPK-01"] == ERROR
    assert result["SAMP-TOPP-01"] == PASS  # the rest of the adapter is still judged
    (adapter,) = [a for a in run.adapters if a.name == "fake_adapters:Raising"]
    (topk,) = [c for c in adapter.clauses if c.id == "SAMP-TOPK-01"]
    assert any("backend exploded" in t.message for t in topk.tests)
    assert code == 1  # an error fails the run; unsupported and documented deviations do not
    assert {a.name for a in run.adapters if a.failures()} == {"fake_adapters:Raising"}


@pytest.mark.slow
def test_documented_deviation_deviates_and_stale_entries_are_flagged(shared_run, statuses) -> None:
    _, run, _ = shared_run
    documented = statuses(run, "fake_adapters:Documented")
    assert documented["SAMP-TOPK-01"] == DEVIATES
    assert documented["SAMP-TOPK-05"] == DEVIATES
    stale = {a.name: a for a in run.adapters}["fake_adapters:Stale"]
    (greedy,) = [c for c in stale.clauses if c.id == "SAMP-GREEDY-01"]
    assert greedy.status == PASS and greedy.stale_expectation


@pytest.mark.slow
def test_a_hanging_operation_times_out_as_an_error(run_suite, statuses) -> None:
    code, run, output = run_suite(["fake_adapters:Hanging"], "--specformer-timeout=0.5", "-k", "top_k_ties")
    assert run is not None, output
    assert statuses(run, "fake_adapters:Hanging") == {"SAMP-TOPK-02": ERROR}
    assert code == 1
