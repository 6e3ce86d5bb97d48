"""Every vision and audio mutant must fail the suite exactly at the clauses its bug breaks.

Each family runs in one pytest process with all its mutants (quick profile, only that family),
as tests/test_mutants.py does for the first five families.
"""

from __future__ import annotations

import pytest

from specformer.conformance.mutants import audio as audio_mutants
from specformer.conformance.mutants import vision as vision_mutants
from specformer.conformance.results import ERROR, FAIL

FAMILIES = {"vision": vision_mutants, "audio": audio_mutants}

# One mutant per topic runs in CI (every mutant runs the whole family's suite, and an audio suite
# featurises about forty 30 s clips); the thorough profile runs all of them. Every mutant's
# `breaks` was measured exact under the quick profile.
IN_CI = {
    "vision": (
        "PatchesColumnMajor",
        "ClsAppended",
        "PositionsResampledAs1D",
        "PoolingReadsLastToken",
        "ConvNextNormBeforePooling",
        "NormaliseBeforeRescale",
    ),
    "audio": ("PaddedAfterTheStft", "SymmetricHann", "ClampOverTheBatch"),
}


def test_there_are_enough_mutants() -> None:
    assert len(vision_mutants.ALL) + len(audio_mutants.ALL) >= 10
    assert all(m.breaks for module in FAMILIES.values() for m in module.ALL)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_mutant_fails_exactly_the_clauses_it_breaks(
    run_mutants, mutant_profile, mutants_to_run, family: str
) -> None:
    mutants = mutants_to_run(FAMILIES[family], IN_CI[family])
    run, wrong = run_mutants(mutants, family, mutant_profile)
    for adapter in run.adapters:
        for clause in adapter.failures():
            failing = [t for t in clause.tests if t.status in (FAIL, ERROR)]
            assert failing and all(t.message and t.reproduce for t in failing), (adapter.name, clause.id)
    assert not wrong, wrong


def test_every_vision_and_audio_clause_is_broken_by_some_mutant() -> None:
    from specformer.conformance.registry import registry

    clauses = {cid for cid, c in registry().items() if c.family in FAMILIES}
    broken = {clause for module in FAMILIES.values() for mutant in module.ALL for clause in mutant.breaks}
    assert not sorted(clauses - broken), "clauses without a mutant"
    assert not sorted(broken - clauses), "mutants naming unknown clauses"
