"""A benchmark's timed output that disagrees with the reference fails a clause, and the run.

Every benchmark checks its output against the reference once after timing (`correct`). A fast
wrong answer is not a result: it is a failure of the clause whose value the benchmark computes
(BENCHMARK_CLAUSES), recorded as a failing test of that clause (node id "bench::NAME[params]"),
so the report lists it with the other failures and `specformer run` exits 1. An expectations
entry can document it like any test (its `tests` naming "bench::NAME*").
"""

from __future__ import annotations

from specformer.conformance.expectations import covers
from specformer.conformance.results import (
    DEVIATES,
    FAIL,
    AdapterResult,
    BenchmarkResult,
    ClauseResult,
    RunResult,
    TestResult,
    clause_status,
)

# benchmark name -> the clause its checked output belongs to.
BENCHMARK_CLAUSES: dict[str, str] = {
    "sampling.temperature": "SAMP-TEMP-01",
    "sampling.top_k": "SAMP-TOPK-01",
    "sampling.top_p": "SAMP-TOPP-01",
    "sampling.min_p": "SAMP-MINP-01",
    "sampling.process": "SAMP-ORDER-01",
    "sampling.greedy": "SAMP-GREEDY-01",
    "attention.dense": "ATTN-SDPA-01",
    "tokenizers.bpe_encode": "TOK-BPE-06",
    "tokenizers.bpe_encode_batch": "TOK-BPE-06",
    "tokenizers.wordpiece_encode": "TOK-WP-05",
    "tokenizers.encode_batch": "TOK-WP-05",
    "tokenizers.sentencepiece_encode": "TOK-SP-10",
    "tokenizers.sentencepiece_encode_batch": "TOK-SP-10",
    "tokenizers.bpe_train": "TOK-TRAIN-01",
    "losses.cross_entropy": "LOSS-CE-01",
    "objectives.mlm_mask": "OBJ-MLM-03",
    "models.encoder_layer": "MODEL-ENC-01",
    "models.decoder_block": "MODEL-DEC-01",
    "models.bart_for_conditional_generation": "MODEL-BART-01",
    "models.t5_for_conditional_generation": "MODEL-T5-01",
    "vision.patch_embedding": "VIS-PATCH-01",
    "vision.vit_classify": "VIS-POOL-01",
    "audio.log_mel": "AUD-FEAT-01",
    "generation.ttft": "GEN-GREEDY-01",
    "generation.tpot": "GEN-GREEDY-01",
    "generation.throughput": "GEN-GREEDY-01",
    "kv_cache.memory": "KV-SIZE-01",
}


def clause_of_benchmark(name: str) -> str:
    """The clause a benchmark's output is checked against; a benchmark without one is a bug here."""
    if name not in BENCHMARK_CLAUSES:
        raise KeyError(f"benchmark {name!r} names no clause; add it to BENCHMARK_CLAUSES")
    return BENCHMARK_CLAUSES[name]


def fail_wrong_benchmarks(run: RunResult) -> None:
    """Record each benchmark whose timed output was wrong as a failing test of its clause."""
    for adapter in run.adapters:
        for benchmark in adapter.benchmarks:
            if benchmark.correct is False:
                _fail(adapter, benchmark)


def _fail(adapter: AdapterResult, benchmark: BenchmarkResult) -> None:
    from specformer.conformance.registry import registry

    clause_id = clause_of_benchmark(benchmark.name)
    params = ", ".join(f"{k}={v}" for k, v in benchmark.params.items())
    nodeid = f"bench::{benchmark.name}[{params}]"
    message = (
        f"{benchmark.name} ({params}, {benchmark.device}): the timed output disagrees with the reference; "
        f"a fast wrong answer breaks {clause_id}"
    )
    if f"breaks {clause_id}" not in benchmark.flags:
        benchmark.flags.append(f"breaks {clause_id}")
    clause = next((c for c in adapter.clauses if c.id == clause_id), None)
    if clause is None:
        known = registry()[clause_id]
        clause = ClauseResult(id=clause_id, family=known.family, title=known.title, status=FAIL)
        adapter.clauses.append(clause)
    documented = clause.expectation is not None and covers(clause.expectation, nodeid, message)
    evidence = {"benchmark": benchmark.name, "params": dict(benchmark.params), "device": benchmark.device}
    clause.tests.append(
        TestResult(nodeid=nodeid, status=DEVIATES if documented else FAIL, message=message, evidence=evidence)
    )
    clause.status = clause_status([t.status for t in clause.tests])
    clause.stale_expectation = clause.stale_expectation and not documented
