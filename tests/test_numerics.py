"""The numerical policy and the statistics every clause test relies on."""

from __future__ import annotations

import math

import pytest
import torch

from specformer.conformance import numerics
from specformer.conformance.numerics import ConformanceFailure, assert_close, chi_square_p_value, tolerance_for


def test_tolerance_is_twice_the_reference_error_above_the_floor() -> None:
    assert tolerance_for(torch.float32, 0.0) == numerics.FLOORS[torch.float32]
    assert tolerance_for(torch.float32, 1e-3) == 2e-3
    with pytest.raises(ValueError, match="dtype"):
        tolerance_for(torch.int64, 0.0)


def test_assert_close_passes_within_and_fails_beyond_tolerance() -> None:
    oracle = torch.tensor([[1.0, 2.0, -math.inf]], dtype=torch.float64)
    reference_f32 = (oracle + torch.tensor([[1e-4, 0.0, 0.0]])).float()  # reference error 1e-4
    ok = assert_close((oracle + torch.tensor([[1.9e-4, 0.0, 0.0]])).float(), oracle, reference_f32, what="x")
    assert ok.ratio == pytest.approx(0.95, rel=0.05)
    with pytest.raises(ConformanceFailure) as failure:
        assert_close((oracle + torch.tensor([[3e-4, 0.0, 0.0]])).float(), oracle, reference_f32, what="x")
    assert failure.value.evidence["ratio"] > 1.0


def test_removed_tokens_must_match_exactly() -> None:
    oracle = torch.tensor([[1.0, -math.inf]], dtype=torch.float64)
    with pytest.raises(ConformanceFailure, match="wrongly kept"):
        assert_close(torch.tensor([[1.0, -1e30]]), oracle, oracle.float(), what="x")
    with pytest.raises(ConformanceFailure, match="dtype"):
        assert_close(torch.tensor([[1.0, -math.inf]], dtype=torch.float64), oracle, oracle.float(), what="x")


def test_chi_square_accepts_a_fair_sample_and_rejects_a_biased_one() -> None:
    generator = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    counts = torch.bincount(torch.multinomial(probs, 20_000, replacement=True, generator=generator), minlength=4)
    assert chi_square_p_value(counts, probs) > 1e-3
    biased = counts.clone()
    biased[0] -= 400
    biased[1] += 400
    assert chi_square_p_value(biased, probs) < 1e-6
    assert chi_square_p_value(torch.tensor([10, 0, 5]), torch.tensor([0.5, 0.5, 0.0])) == 0.0


def test_chi_square_matches_a_known_value() -> None:
    # Statistic 4 with 1 degree of freedom: p = erfc(sqrt(2)) = 0.0455.
    assert chi_square_p_value(torch.tensor([60, 40]), torch.tensor([0.5, 0.5])) == pytest.approx(0.0455, abs=1e-4)
