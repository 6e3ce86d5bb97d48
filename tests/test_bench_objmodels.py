"""The objectives and models benchmarks time what they should and refuse a wrong answer."""

from __future__ import annotations

import pytest

from specformer.conformance.adapters import load_adapter
from specformer.conformance.bench import models_benchmarks, objectives_benchmarks
from specformer.conformance.bench.models import layer_benchmarks, seq2seq_benchmarks


@pytest.mark.slow  # a subprocess (or a whole benchmark family): out of the developer loop, in CI
def test_collator_and_layer_benchmarks_time_and_check_each_operation() -> None:
    reference = load_adapter("reference")
    rows = objectives_benchmarks(reference, "quick") + models_benchmarks(reference, "quick")
    assert [r.name for r in rows] == [
        "objectives.mlm_mask",
        "models.encoder_layer",
        "models.decoder_block",
        "models.bart_for_conditional_generation",
        "models.t5_for_conditional_generation",
    ]
    assert all(r.correct and r.median_s > 0 for r in rows)
    assert rows[0].params["sequences_per_s"] > 0
    assert all(r.flops and r.ceiling == "matmul-float32" for r in rows[1:])


@pytest.mark.slow  # a subprocess (or a whole benchmark family): out of the developer loop, in CI
def test_a_wrong_masking_or_layer_is_refused() -> None:
    masks_specials = load_adapter("specformer.conformance.mutants.objectives:MasksSpecialTokens")
    pre_ln = load_adapter("specformer.conformance.mutants.models:PreLNEncoder")
    no_offset = load_adapter("specformer.conformance.mutants.models:BartPositionsWithoutOffset")
    assert [r.correct for r in objectives_benchmarks(masks_specials, "quick")] == [False]
    assert [(r.name, r.correct) for r in layer_benchmarks(pre_ln, "quick")] == [
        ("models.encoder_layer", False),
        ("models.decoder_block", True),
    ]
    assert [(r.name, r.correct) for r in seq2seq_benchmarks(no_offset, "quick")] == [
        ("models.bart_for_conditional_generation", False),
        ("models.t5_for_conditional_generation", True),
    ]
