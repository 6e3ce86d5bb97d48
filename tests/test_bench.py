"""The CPU timer and the sampling timings that `specformer run` records."""

from __future__ import annotations

import time

import pytest

from specformer.conformance.adapters.reference import ReferenceAdapter
from specformer.conformance.bench import sampling_benchmarks, time_cpu


def test_timer_reports_seconds_per_call_with_batched_calls() -> None:
    result = time_cpu(lambda: time.sleep(0.002), name="sleep", family="demo", params={}, samples=3, min_sample_s=0.01)
    assert len(result.samples_s) == 3 and result.calls_per_sample >= 4
    assert 0.002 <= result.median_s < 0.02
    assert result.iqr_s >= 0 and result.threads >= 1


def test_timer_rejects_zero_samples() -> None:
    with pytest.raises(ValueError, match="samples"):
        time_cpu(lambda: None, name="x", family="demo", params={}, samples=0)


def test_sampling_benchmarks_time_each_implemented_operation() -> None:
    results = sampling_benchmarks(ReferenceAdapter(), "quick", batch=4, vocab=64)
    assert [r.name for r in results] == [
        f"sampling.{op}" for op in ("temperature", "top_k", "top_p", "min_p", "process")
    ]
    assert all(r.params["vocab"] == 64 and r.median_s > 0 for r in results)
