"""Verdicts that are right: documented deviations cover only what they document, and an adapter's
own assert is an error, not a fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specformer.conformance.adapters import AdapterRaised, load_adapter
from specformer.conformance.expectations import ExpectationsError, covers, load_expectations, names_test
from specformer.conformance.plugin import _stale
from specformer.conformance.results import DEVIATES, ERROR, FAIL, PASS, Expectation, TestResult

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTATIONS = Path(__file__).parents[1] / "conformance" / "adapters" / "expectations"
SUITE = Path(__file__).parents[1] / "conformance" / "suite"


def test_a_scoped_entry_covers_its_test_and_message_only() -> None:
    entry = load_expectations(FIXTURES / "scoped.toml")["SAMP-TOPK-01"]
    nodeid = "conformance/suite/test_sampling.py::test_top_k_keeps_the_k_largest[hf-float32]"
    documented = "top_k=1: removed tokens differ from the reference; wrongly removed (row, token): [], wrongly kept"
    assert covers(entry, nodeid, documented + " [[0, 1]]")
    # The same test with another failure, and another test with the same failure, are not covered.
    assert not covers(entry, nodeid, "top_k=1: max abs error 0.23 exceeds tolerance 1e-06 (ratio 2.3e5)")
    assert not covers(entry, "test_sampling.py::test_top_k_ties[hf]", documented)


def test_an_entry_without_tests_covers_its_whole_clause() -> None:
    entry = load_expectations(FIXTURES / "documented.toml")["SAMP-TOPK-01"]
    assert entry.tests == [] and covers(entry, "test_sampling.py::anything[x]", "any message")


def test_brackets_in_test_patterns_are_literal() -> None:
    entry = Expectation("X-Y-01", "r", tests=["test_a.py::test_b[*-0.0]"])
    assert names_test(entry, "test_a.py::test_b[hf-0.0]")
    assert not names_test(entry, "test_a.py::test_b[hf-1.0]")
    assert not names_test(entry, "test_a.py::test_b0")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('tests = "test_x"\n', r"bad\.toml:1: `tests` must be a list"),
        ('tests = [""]\n', r"bad\.toml:1: `tests` must be a list"),
        ('tests = ["test_x"]\nmessage = "("\n', r"bad\.toml:1: `message` is not a regular expression"),
        ("message = 3\n", r"bad\.toml:1: `message` must be a string"),
    ],
)
def test_malformed_scopes_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[deviation]]\nclause = "SAMP-TOPK-01"\nreason = "r"\n' + body)
    with pytest.raises(ExpectationsError, match=message):
        load_expectations(path)


@pytest.mark.parametrize("path", sorted(EXPECTATIONS.glob("*.toml")), ids=lambda p: p.stem)
def test_builtin_entries_name_tests_that_exist_and_a_message(path: Path) -> None:
    """Every built-in entry is scoped, and each test it names is a test of the suite."""
    sources = {p.name: p.read_text(encoding="utf-8") for p in SUITE.glob("test_*.py")}
    for clause, entry in load_expectations(path).items():
        assert entry.tests and entry.message, f"{path.name}: {clause} names no tests or no message"
        for pattern in entry.tests:
            file, _, test = pattern.rpartition("::")
            name = test.split("[")[0]
            texts = [sources[file]] if file else list(sources.values())
            assert any(re.search(rf"^def {re.escape(name)}\(", t, re.M) for t in texts), (path.name, pattern)


def _result(nodeid: str, status: str) -> TestResult:
    return TestResult(nodeid=nodeid, status=status)


def test_an_entry_is_stale_only_when_a_test_it_names_passes() -> None:
    entry = Expectation("SAMP-TOPK-01", "r", tests=["test_s.py::test_a[*]"])
    assert _stale(entry, [_result("test_s.py::test_a[hf]", PASS)])
    assert not _stale(entry, [_result("test_s.py::test_a[hf]", DEVIATES), _result("test_s.py::test_a[x]", PASS)])
    assert not _stale(entry, [_result("test_s.py::test_b[hf]", PASS)])  # its test did not run


def test_an_adapters_own_assert_reaches_the_suite_as_adapter_raised() -> None:
    adapter = load_adapter("reference")
    adapter.impl = type("Asserting", (), {"greedy": staticmethod(lambda logits: _assert_false())})()
    with pytest.raises(AdapterRaised, match=r"reference\.greedy raised AssertionError: invariant") as raised:
        adapter.operation("greedy")(None)
    assert not isinstance(raised.value, AssertionError)


def _assert_false() -> None:
    raise AssertionError("invariant")


@pytest.mark.slow
def test_verdicts_by_what_happened(run_suite, statuses) -> None:
    code, run, output = run_suite(
        ["fake_adapters:DocumentedScoped", "fake_adapters:DocumentedElsewhere", "fake_adapters:Asserting"],
        "-k",
        "top_k_keeps",
    )
    assert run is not None, output
    scoped = statuses(run, "fake_adapters:DocumentedScoped")
    assert scoped["SAMP-TOPK-01"] == DEVIATES and scoped["SAMP-TOPK-05"] == DEVIATES
    # A deviation documented for another failure of the clause does not hide this one.
    assert statuses(run, "fake_adapters:DocumentedElsewhere")["SAMP-TOPK-01"] == FAIL
    asserting = statuses(run, "fake_adapters:Asserting")
    assert asserting["SAMP-TOPK-01"] == ERROR and FAIL not in asserting.values()
    (adapter,) = [a for a in run.adapters if a.name == "fake_adapters:Asserting"]
    messages = [t.message for c in adapter.clauses for t in c.tests if t.status == ERROR]
    assert messages and all("AdapterRaised" in m and "internal invariant broken" in m for m in messages)
    assert code == 1


@pytest.mark.slow
def test_generic_properties_catch_bugs_no_clause_test_was_written_against(run_suite, statuses) -> None:
    from specformer.conformance.mutants import state

    adapters = ["fake_adapters:CachesOutputs", "fake_adapters:StrideBlind", "fake_adapters:GlobalRandomness"]
    # The state mutants (conformance/mutants/state.py) share the run: the generic tests of the operations
    # they break, each mutant failing exactly its `breaks` (their whole families give the same; measured).
    mutants = {f"{state.__name__}:{m.__name__}": m for m in state.ALL}
    selected = "test_generic and (sampling or lm_logits or mlm_mask or bpe_encode)"
    families = ("sampling", "heads", "objectives", "tokenizers")
    code, run, output = run_suite(adapters + list(mutants), "-k", selected, families=families)
    assert run is not None, output
    assert statuses(run, "fake_adapters:CachesOutputs")["SAMP-TEMP-01"] == FAIL
    assert statuses(run, "fake_adapters:StrideBlind")["SAMP-TOPK-01"] == FAIL
    assert statuses(run, "fake_adapters:GlobalRandomness")["SAMP-DRAW-03"] == FAIL
    for spec, mutant in mutants.items():
        found = statuses(run, spec)
        failed = sorted(clause_id for clause_id, status in found.items() if status in (FAIL, ERROR))
        assert failed == sorted(mutant.breaks), spec
    assert code == 1
