"""Every benchmark family's wrong timed output fails its clause and the run (exit 1), not only its row.

tests/test_bench_verdicts.py proves the chain for sampling; here each other family's benchmark runs
once on an adapter whose timed operation is wrong (a mutant, or a small subclass of the reference),
at sizes and a timing policy cut to a fraction of a second, and the run must exit 1 at the clause
BENCHMARK_CLAUSES names for that benchmark. A family added to the benchmark worker without a case
here fails test_every_benchmark_family_has_a_wrong_output_case.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from specformer.conformance.adapters import LoadedAdapter, load_adapter
from specformer.conformance.bench import timer
from specformer.conformance.bench.timer import TimingPolicy
from specformer.conformance.bench.verdicts import BENCHMARK_CLAUSES, fail_wrong_benchmarks
from specformer.conformance.bench.worker import BENCHMARKS
from specformer.conformance.mutants import Mutant
from specformer.conformance.results import FAIL, AdapterResult, RunResult

FAST = TimingPolicy(min_samples=1, max_samples=2, time_cap_s=0.05)


class WrongGreedy(Mutant):
    """generate() returns its sequences reversed: a fast wrong answer (breaks GEN-GREEDY-01)."""

    def generate(self, weights: Any, prompt_ids: torch.Tensor, config: Any, **kwargs: Any) -> Any:
        out = super().generate(weights, prompt_ids, config, **kwargs)
        return dataclasses.replace(out, sequences=out.sequences.flip(-1))


class Only:
    """An adapter limited to the named operations: the benchmark times only the one under test."""

    def __init__(self, adapter: Any, *names: str) -> None:
        self.adapter, self.names, self.spec = adapter, names, adapter.spec
        self.capabilities = adapter.capabilities

    def operation(self, name: str) -> Any:
        return self.adapter.operation(name) if name in self.names else None


def _attention(monkeypatch) -> tuple[Any, list[Any]]:
    from specformer.conformance.bench import attention

    monkeypatch.setitem(attention.SHAPES, "cpu", (2, 16, 64, (32, 64), torch.float32))
    mutant = load_adapter("specformer.conformance.mutants.attention:MissingScale")
    return mutant, attention.attention_benchmarks(mutant, "quick")


def _tokenizers(monkeypatch) -> tuple[Any, list[Any]]:
    pytest.importorskip("faker")
    from specformer.conformance.bench import tokenizers

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fixtures"))
    from fake_adapters import WrongTrainer

    adapter = LoadedAdapter(spec="wrong", impl=WrongTrainer())
    sizes = tokenizers.Sizes(encode_bytes=2_000, train_merges=20, train_bytes=2_000, train_cap_s=10.0)
    return adapter, tokenizers.tokenizer_benchmarks(adapter, "quick", sizes=sizes, policy=FAST)


def _losses(monkeypatch) -> tuple[Any, list[Any]]:
    from specformer.conformance.bench import losses

    mutant = load_adapter("specformer.conformance.mutants.losses:LossInBits")
    return mutant, losses.loss_benchmarks(mutant, "quick", vocabularies=(64,), elements=1024)


def _objectives(monkeypatch) -> tuple[Any, list[Any]]:
    from specformer.conformance.bench import models

    monkeypatch.setitem(models.QUICK, "mlm", (16, 64))  # 32 special tokens: one is selected
    mutant = load_adapter("specformer.conformance.mutants.objectives:MasksSpecialTokens")
    return mutant, models.objectives_benchmarks(mutant, "quick")


def _models(monkeypatch) -> tuple[Any, list[Any]]:
    from specformer.conformance.bench import models

    monkeypatch.setitem(models.QUICK, "layer", (1, 16))
    mutant = load_adapter("specformer.conformance.mutants.models:PreLNEncoder")
    return mutant, models.models_benchmarks(mutant, "quick")


def _vision(monkeypatch) -> tuple[Any, list[Any]]:
    from specformer.conformance.bench import frontends

    monkeypatch.setattr(frontends, "CPU_BATCH", 1)
    mutant = Only(load_adapter("specformer.conformance.mutants.vision:PatchesColumnMajor"), "patch_embedding")
    return mutant, frontends.vision_benchmarks(mutant, "quick")


def _audio(monkeypatch) -> tuple[Any, list[Any]]:
    from specformer.conformance.bench import frontends

    mutant = load_adapter("specformer.conformance.mutants.audio:NaturalLog")
    return mutant, frontends.audio_benchmarks(mutant, "quick")


def _generation(monkeypatch, mutant: Any) -> list[Any]:
    from specformer.conformance.bench import generation
    from specformer.reference import kv_cache

    monkeypatch.setitem(generation.CONTEXTS, "quick", [16])
    monkeypatch.setitem(generation.BATCHES, "quick", [2])
    config = kv_cache.DecoderConfig(
        vocab_size=64, hidden_size=32, num_layers=1, num_heads=4, num_kv_heads=2, intermediate_size=64
    )
    return [r for r in generation.generation_benchmarks(mutant, "quick", config=config) if r.correct is not None]


def _greedy(monkeypatch) -> tuple[Any, list[Any]]:
    mutant = Only(LoadedAdapter(spec="wrong-greedy", impl=WrongGreedy()), "generate")
    return mutant, _generation(monkeypatch, mutant)


def _cache(monkeypatch) -> tuple[Any, list[Any]]:
    mutant = Only(load_adapter("specformer.conformance.mutants.kv_cache:CachesQueryHeads"), "cache_after_prefill")
    return mutant, _generation(monkeypatch, mutant)


# family -> (the clause each wrong row must fail, how to get the rows)
CASES = {
    "attention": ("ATTN-SDPA-01", _attention),
    "tokenizers": ("TOK-TRAIN-01", _tokenizers),
    "losses": ("LOSS-CE-01", _losses),
    "objectives": ("OBJ-MLM-03", _objectives),
    "models": ("MODEL-ENC-01", _models),
    "vision": ("VIS-PATCH-01", _vision),
    "audio": ("AUD-FEAT-01", _audio),
    "generation": ("GEN-GREEDY-01", _greedy),
    "kv_cache": ("KV-SIZE-01", _cache),
}


def test_every_benchmark_family_has_a_wrong_output_case() -> None:
    # sampling's case is tests/test_bench_verdicts.py; kv_cache's rows come from the generation benchmarks;
    # heads and complexity have no benchmark of their own (complexity times attention's operations).
    assert set(BENCHMARKS) - {"sampling"} <= set(CASES)


@pytest.mark.parametrize("family", sorted(CASES))
def test_a_wrong_timed_output_fails_its_clause_and_the_run(monkeypatch, family: str) -> None:
    monkeypatch.setitem(timer.POLICIES, "quick", FAST)
    clause_id, rows_of = CASES[family]
    adapter, rows = rows_of(monkeypatch)
    wrong = [r for r in rows if r.correct is False]
    assert wrong, f"{family}: no benchmark row saw the wrong answer ({[(r.name, r.correct) for r in rows]})"
    assert {BENCHMARK_CLAUSES[r.name] for r in wrong} == {clause_id}
    result = AdapterResult(name=adapter.spec, benchmarks=rows)
    run = RunResult(environment={}, profile="quick", adapters=[result])
    assert run.exit_code() == 0  # the suite's clauses were not run: only the benchmarks speak
    fail_wrong_benchmarks(run)
    assert run.exit_code() == 1
    assert [(c.id, c.status) for c in result.clauses] == [(clause_id, FAIL)]
    assert all(t.nodeid.startswith("bench::") and f"breaks {clause_id}" in t.message for t in result.clauses[0].tests)
