"""An adapter's families shared between two suite processes (conformance/sharing.py): every test runs
in exactly one of them, and the joined result is the one a single process gives."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from specformer.conformance import runner
from specformer.conformance.adapters import load_adapter
from specformer.conformance.results import AdapterResult, ClauseResult, TestResult
from specformer.conformance.sharing import MIN_GAIN_S, join_results, share_families


class _Adapter:
    def __init__(self, spec: str) -> None:
        self.spec = spec


def test_families_move_only_where_the_gap_is_worth_a_second_load() -> None:
    a, b = _Adapter("a"), _Adapter("b")
    close = share_families([[a], [b]], {"a": {"x": 1.0, "y": 1.0}, "b": {"x": 2.0 - MIN_GAIN_S / 2}})
    assert [[s.option() for s in g] for g in close] == [[None], [None]]
    apart = share_families([[a], [b]], {"a": {"x": 30.0, "y": 20.0, "z": 1.0}, "b": {"x": 1.0}})
    assert [[s.option() or s.spec for s in g] for g in apart] == [
        ["--specformer-split=a:except=x"],
        ["b", "--specformer-split=a:only=x"],
    ]
    # An adapter without seconds per family (a third-party adapter's first run) stays whole.
    assert [[s.option() for s in g] for g in share_families([[a], [b]], {"b": {"x": 1.0}})] == [[None], [None]]
    # One family (a tokenizer library) cannot be shared.
    alone = share_families([[a], [b]], {"a": {"x": 50.0}, "b": {"x": 1.0}})
    assert [[s.option() for s in g] for g in alone] == [[None], [None]]


def _test(nodeid: str, status: str) -> TestResult:
    return TestResult(nodeid=nodeid, status=status, message="")


def test_joined_results_keep_every_test_and_decide_each_clause_again() -> None:
    one = AdapterResult(
        name="a",
        clauses=[ClauseResult(id="B-01", family="b", title="", status="pass", tests=[_test("t1", "pass")])],
        wall_s={"suite": 3.0, "b": 3.0},
    )
    two = AdapterResult(
        name="a",
        clauses=[
            ClauseResult(id="A-01", family="a", title="", status="pass", tests=[_test("t2", "pass")]),
            ClauseResult(id="B-01", family="b", title="", status="fail", tests=[_test("t3", "fail")]),
        ],
        wall_s={"suite": 2.0, "a": 2.0},
        load_error=None,
    )
    joined = join_results([one, two])
    assert [c.id for c in joined.clauses] == ["A-01", "B-01"]
    assert joined.clauses[1].status == "fail" and [t.nodeid for t in joined.clauses[1].tests] == ["t1", "t3"]
    assert joined.wall_s == {"suite": 5.0, "a": 2.0, "b": 3.0}


@pytest.mark.slow  # two suite processes
def test_a_shared_adapter_gives_the_results_of_one_process() -> None:
    adapters = [load_adapter(s) for s in ("reference", "sentencepiece")]

    def run(**balance: object) -> dict[str, list[tuple[str, str]]]:
        options = runner.RunOptions(
            adapters=[a.spec for a in adapters],
            families=["embeddings", "sampling"],
            profile="quick",
            bench=False,
            workers=2,
            **balance,  # type: ignore[arg-type]
        )
        console = Console(file=io.StringIO(), width=120)
        result = runner.run_suite(options, adapters, console)
        return {
            a.name: sorted((t.nodeid, t.status) for c in a.clauses for t in c.tests) for a in result.adapters
        }, console.file.getvalue()  # type: ignore[attr-defined]

    whole, _ = run()
    shared, output = run(
        previous_family_s={"reference": {"embeddings": 50.0, "sampling": 40.0}, "sentencepiece": {"sampling": 1.0}},
    )
    assert "reference (embeddings)" in output and "reference (all but embeddings)" in output
    assert shared == whole and len(whole["reference"]) > 100
