"""Conformance tests for spec/generation.md's serving metrics: TTFT, TPOT, throughput and memory (GEN-MET).

The adapter's generate() reports each generated step through on_token; the metrics are computed from
those instants by the spec's formulas, and the cache's size from the state the adapter returns.
"""

from __future__ import annotations

import pytest
import torch

from specformer.conformance.bench.generation import cache_bytes, timed_run
from specformer.conformance.bench.timer import torch_threads
from specformer.conformance.numerics import fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite import generation_inputs as inputs
from specformer.conformance.suite.generation_inputs import BASE
from specformer.reference.generation import GenerationConfig, serving_metrics, weight_bytes


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared CPU: a thread pool only adds contention (seconds instead of milliseconds)."""
    with torch_threads(1):
        yield


def timed_greedy(adapter, batch: int = 2, max_new_tokens: int = 5):
    op = require(adapter, "generate")
    prompt = inputs.token_ids(batch, 6, seed=27)
    config = GenerationConfig(max_new_tokens=max_new_tokens)
    out, start, instants = timed_run(lambda on_token: op(inputs.model(), prompt, config, on_token=on_token))
    steps = out.sequences.shape[1] - 6
    if len(instants) != steps:
        fail(f"on_token was called {len(instants)} times for {steps} generation steps")
    return out, start, instants


@clause("GEN-MET-01")
def test_ttft_includes_prefill(adapter) -> None:
    _, start, instants = timed_greedy(adapter)
    metrics = serving_metrics(start, instants, batch=2)
    if not 0 < metrics.ttft_s <= metrics.e2e_s or metrics.ttft_s != instants[0] - start:
        fail(f"TTFT {metrics.ttft_s} from start {start} and first token at {instants[0]}")


@clause("GEN-MET-02")
def test_tpot_is_mean_gap(adapter) -> None:
    _, start, instants = timed_greedy(adapter)
    metrics = serving_metrics(start, instants, batch=2)
    expected = (instants[-1] - instants[0]) / (len(instants) - 1)
    if metrics.tpot_s is None or abs(metrics.tpot_s - expected) > 1e-12:
        fail(f"TPOT {metrics.tpot_s}, expected (E2E - TTFT) / (N - 1) = {expected}")
    _, start, single = timed_greedy(adapter, max_new_tokens=1)
    if serving_metrics(start, single, batch=2).tpot_s is not None:
        fail("TPOT defined for a single generated token")


@clause("GEN-MET-03")
@pytest.mark.parametrize("batch", [1, 3])
def test_throughput_counts_generated_tokens(adapter, batch) -> None:
    _, start, instants = timed_greedy(adapter, batch=batch)
    metrics = serving_metrics(start, instants, batch=batch)
    expected = batch * len(instants) / (instants[-1] - start)
    if abs(metrics.throughput_tokens_per_s - expected) > 1e-9 * expected:
        fail(f"throughput {metrics.throughput_tokens_per_s}, expected {expected} tokens/s at batch {batch}")


@clause("GEN-MET-04")
def test_memory_split_weights_and_cache(adapter) -> None:
    op = require(adapter, "cache_after_prefill")
    weights = inputs.model()
    state = op(weights, inputs.token_ids(2, 10, seed=28))
    cache = cache_bytes(BASE, 2, 10, torch.float32)
    parameters = sum(p.numel() for p in weights.params.values()) * 4
    if weight_bytes(weights.params) != parameters or state.nbytes != cache:
        fail(
            f"weights {weight_bytes(weights.params)} B (expected {parameters}), cache {state.nbytes} B "
            f"(expected {cache})"
        )
