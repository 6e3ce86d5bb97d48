"""The kv_cache and generation mutants fail the suite exactly at the clauses they break.

Each mutant runs its whole family under the quick profile. CI runs a few per family, chosen to
span the topics (caches, padding, rolling windows; penalties, stopping, beams); the thorough
profile runs all of them (15 + 36, a few minutes). The decode-cost test (KV-COST-01, a timing
ladder) runs only for the mutant that targets it.
"""

from __future__ import annotations

import pytest

from specformer.conformance.mutants import generation, kv_cache
from specformer.conformance.results import ERROR, FAIL

KV_CACHE_IN_CI = ("StaticAttendsUnwrittenSlots", "RollingKeepsOldest")
GENERATION_IN_CI = ("RepetitionMultipliesPositive", "BeamScoresNotNormalised")


def thorough(request: pytest.FixtureRequest) -> bool:
    return request.config.getoption("--specformer-profile") == "thorough"


def check(run_suite, module, chosen: list[str], family: str, *extra: str) -> None:
    mutants = {
        f"specformer.conformance.mutants.{module.__name__.rsplit('.', 1)[1]}:{n}": getattr(module, n) for n in chosen
    }
    code, run, output = run_suite(list(mutants), *extra, families=(family,), profile="quick")
    assert run is not None, output
    assert code == 1, output
    for adapter in run.adapters:
        failed = sorted(c.id for c in adapter.clauses if c.status in (FAIL, ERROR))
        expected = sorted(
            c for c in mutants[adapter.name].breaks if c.startswith("KV-" if family == "kv_cache" else "GEN-")
        )
        if "-k" in extra:
            expected = [c for c in expected if c != "KV-COST-01"]
        assert failed == expected, adapter.name


def test_there_are_enough_mutants() -> None:
    assert len(kv_cache.ALL) >= 12 and len(generation.ALL) >= 12
    assert all(m.breaks for m in (*kv_cache.ALL, *generation.ALL))


@pytest.mark.slow
def test_each_kv_cache_mutant_fails_exactly_its_clauses(run_suite, request) -> None:
    chosen = [m.__name__ for m in kv_cache.ALL if thorough(request) or m.__name__ in KV_CACHE_IN_CI]
    timed = [n for n in chosen if "KV-COST-01" in getattr(kv_cache, n).breaks]
    check(run_suite, kv_cache, [n for n in chosen if n not in timed], "kv_cache", "-k", "not decode_step_cost")
    if timed:
        check(run_suite, kv_cache, timed, "kv_cache")


@pytest.mark.slow
def test_each_generation_mutant_fails_exactly_its_clauses(run_suite, request) -> None:
    chosen = [m.__name__ for m in generation.ALL if thorough(request) or m.__name__ in GENERATION_IN_CI]
    check(run_suite, generation, chosen, "generation")
