"""Every objectives and models mutant fails the suite exactly at the clauses it breaks.

Each mutant runs its whole family suite (that is what checks "exactly"). CI runs the mutants
named below, the six bugs of issue 12; the thorough profile runs all 50 of them (the
objectives suite costs about 8 s of CPU per mutant, the models suite about 15 s).
"""

from __future__ import annotations

import pytest

IN_CI = {
    "objectives": ("MasksSpecialTokens", "EightyTwentyZero", "SentinelsInReverseOrder", "NoZeroLengthSpans"),
    "models": ("DecoderSeesTheFuture", "PositionIdsNotShiftedUnderLeftPadding"),
}


def test_there_are_enough_mutants() -> None:
    from specformer.conformance.mutants import models, objectives

    assert len(objectives.ALL) >= 6 and len(models.ALL) >= 6
    assert all(m.breaks for m in (*objectives.ALL, *models.ALL))


@pytest.mark.slow
def test_each_objectives_mutant_fails_exactly_the_clauses_it_breaks(
    run_mutants, mutant_profile, mutants_to_run
) -> None:
    from specformer.conformance.mutants import objectives

    _, wrong = run_mutants(mutants_to_run(objectives, IN_CI["objectives"]), "objectives", mutant_profile)
    assert not wrong, wrong


@pytest.mark.slow
def test_each_models_mutant_fails_exactly_the_clauses_it_breaks(run_mutants, mutant_profile, mutants_to_run) -> None:
    from specformer.conformance.mutants import models

    _, wrong = run_mutants(mutants_to_run(models, IN_CI["models"]), "models", mutant_profile)
    assert not wrong, wrong


def test_every_objectives_and_models_clause_is_broken_by_some_mutant() -> None:
    from specformer.conformance.mutants import models, objectives
    from specformer.conformance.registry import registry

    ours = {c for c, clause in registry().items() if clause.family in ("objectives", "models")}
    broken = {clause for mutant in (*objectives.ALL, *models.ALL) for clause in mutant.breaks}
    assert not sorted(ours - broken), "clauses without a mutant"
    assert not sorted(broken - ours), "mutants naming unknown or foreign clauses"
