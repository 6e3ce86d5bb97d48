"""The cross-entropy benchmark (conformance/bench/losses.py) at tiny sizes: it times, measures and checks."""

from __future__ import annotations

from specformer.conformance.adapters import load_adapter
from specformer.conformance.bench.losses import loss_benchmarks
from specformer.conformance.bench.timer import TimingPolicy
from specformer.conformance.bench.worker import BENCHMARKS
from specformer.conformance.runner import BENCHMARKS_OF_SPEC_FAMILY

TINY = {"vocabularies": (64, 96), "elements": 1024}


def test_loss_benchmarks_time_and_check_each_vocabulary_and_dtype(monkeypatch) -> None:
    from specformer.conformance.bench import losses

    monkeypatch.setitem(losses.POLICIES, "quick", TimingPolicy(min_samples=1, max_samples=2, time_cap_s=0.05))
    rows = loss_benchmarks(load_adapter("reference"), "quick", **TINY)
    assert [(r.params["vocab"], r.params["dtype"]) for r in rows] == [
        (64, "float32"),
        (64, "bfloat16"),
        (96, "float32"),
        (96, "bfloat16"),
    ]
    assert all(
        r.correct
        and r.median_s > 0
        and r.bytes_moved == r.params["tokens"] * r.params["vocab"] * (4 if r.params["dtype"] == "float32" else 2)
        for r in rows
    )
    assert BENCHMARKS["losses"] is loss_benchmarks and BENCHMARKS_OF_SPEC_FAMILY["losses"] == ("losses",)


def test_loss_benchmarks_refuse_a_wrong_answer(monkeypatch) -> None:
    from specformer.conformance.bench import losses

    monkeypatch.setitem(losses.POLICIES, "quick", TimingPolicy(min_samples=1, max_samples=2, time_cap_s=0.05))
    mutant = load_adapter("specformer.conformance.mutants.losses:LossInBits")
    assert not any(r.correct for r in loss_benchmarks(mutant, "quick", **TINY))
