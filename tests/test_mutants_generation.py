"""The kv_cache and generation mutants fail the suite exactly at the clauses they break.

Each mutant runs its whole family under the quick profile. CI runs a few per family, chosen to
span the topics (caches, padding, rolling windows; penalties, stopping, beams); the thorough
profile runs all of them (15 + 36, a few minutes). The decode-cost test (KV-COST-01, a timing
ladder) runs only for the mutant that targets it.
"""

from __future__ import annotations

import pytest

from specformer.conformance.mutants import generation, kv_cache

KV_CACHE_IN_CI = ("StaticAttendsUnwrittenSlots", "RollingKeepsOldest")
GENERATION_IN_CI = ("RepetitionMultipliesPositive", "BeamScoresNotNormalised")


def check(run_mutants, mutants: dict[str, type], family: str, *extra: str) -> None:
    prefix = "KV-" if family == "kv_cache" else "GEN-"
    untimed = "-k" in extra  # the decode-cost ladder left out

    def expected(mutant: type) -> list[str]:
        return [c for c in mutant.breaks if c.startswith(prefix) and not (untimed and c == "KV-COST-01")]

    _, wrong = run_mutants(mutants, family, "quick", *extra, expected=expected)
    assert not wrong, wrong


def test_there_are_enough_mutants() -> None:
    assert len(kv_cache.ALL) >= 12 and len(generation.ALL) >= 12
    assert all(m.breaks for m in (*kv_cache.ALL, *generation.ALL))


@pytest.mark.slow
def test_each_kv_cache_mutant_fails_exactly_its_clauses(run_mutants, mutants_to_run) -> None:
    chosen = mutants_to_run(kv_cache, KV_CACHE_IN_CI)
    timed = {name: m for name, m in chosen.items() if "KV-COST-01" in m.breaks}
    untimed = {name: m for name, m in chosen.items() if name not in timed}
    check(run_mutants, untimed, "kv_cache", "-k", "not decode_step_cost")
    if timed:
        check(run_mutants, timed, "kv_cache")


@pytest.mark.slow
def test_each_generation_mutant_fails_exactly_its_clauses(run_mutants, mutants_to_run) -> None:
    check(run_mutants, mutants_to_run(generation, GENERATION_IN_CI), "generation")
