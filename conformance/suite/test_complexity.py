"""Conformance tests for spec/complexity.md: scaling exponents measured on the harness.

Each test runs one adapter operation over a geometric ladder of sequence lengths, measures time
(seconds per call, sampled in interleaved rounds, fitted on each length's fastest sample) or
peak memory, fits the exponent with a bootstrap interval
(conformance/bench/scaling.py) and checks that the interval overlaps the clause's band. The
series goes into the evidence under "scaling", which the HTML report plots.

Sizes are fixed per clause and chosen so that the smallest is out of the overhead-bound regime
on a 2-core CPU; the timing policy follows the profile (quick: few samples).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from specformer.conformance.bench import POLICIES, fit_exponent, geometric_ladder, peak_memory
from specformer.conformance.bench.scaling import time_ladder
from specformer.conformance.evidence import note
from specformer.conformance.numerics import fail
from specformer.conformance.plugin import clause, require

# Bands from spec/complexity.md (tests/test_registry.py checks they match the text).
BANDS: dict[str, tuple[float, float]] = {
    "CPLX-ATTN-01": (1.5, 3.0),
    "CPLX-ATTN-02/materialised": (1.7, 2.3),
    "CPLX-ATTN-02/memory-efficient": (0.8, 1.2),
    "CPLX-LOCAL-01": (0.6, 1.6),
    "CPLX-LOCAL-02": (0.8, 1.2),
    "CPLX-LSH-01": (0.8, 1.5),
    "CPLX-LSH-02": (0.8, 1.2),
    "CPLX-GLOBAL-01": (0.6, 1.6),
    "CPLX-GLOBAL-02": (0.8, 1.2),
    "CPLX-DECODE-01": (0.6, 1.4),
    "CPLX-DECODE-02": (1.5, 3.0),
}
# Below this median a CPU timing is overhead-bound and left out of the fit (the spec's rule).
MIN_CPU_TIME_S = 1e-4
HEADS, HEAD_DIM, WINDOW, CHUNK, BUCKET_PAIRS = 2, 64, 64, 64, 8
# Each ladder spans the factor of eight over five lengths that the spec asks for, under every profile.
# Under quick (a developer's loop) only the decode step's timing starts at half the length: the
# built-in adapters' verdicts and the complexity mutant's failure measured the same there. Other
# timings keep ci's lengths: shorter, fixed costs flatten a quadratic time (torch's eager FlexAttention
# measured linear over 256..2048; LinearAttentionPassedOffAsFull passed CPLX-ATTN-01 over 128..1024)
# and steepen hf's LSH time out of its band. The memory ladders keep them too: halved, the 8 memory
# tests of reference, hf and torch took the same CPU time (155 s against 160 s; the profiler's
# timeline, not the lengths, is their cost).
_CI_LADDERS = {
    "quadratic": geometric_ladder(256, 2048, 5),
    "memory": geometric_ladder(512, 4096, 5),
    "linear": geometric_ladder(1024, 8192, 5, multiple_of=64),  # LSH chunks of 64 must divide n
    "decode": geometric_ladder(2048, 16384, 5),
    # Local + global: shorter, because a quadratic implementation (a dense or eager-FlexAttention
    # mask) must still finish.
    "global": geometric_ladder(512, 4096, 5, multiple_of=64),
}
_CI_LADDERS["linear memory"] = _CI_LADDERS["linear"]
_CI_LADDERS["global memory"] = _CI_LADDERS["global"]
LADDERS: dict[str, dict[str, list[int]]] = {
    "ci": _CI_LADDERS,
    "thorough": _CI_LADDERS,
    "quick": {
        **_CI_LADDERS,
        "decode": geometric_ladder(1024, 8192, 5),
    },
}
GLOBAL_TOKENS = 4
DECODE_BATCH, DECODE_HEADS = 4, 8
# The exponent each claim names (the band's centre of gravity), drawn as the reference slope.
EXPECTED = {
    "CPLX-ATTN-01": 2.0,
    "CPLX-ATTN-02/materialised": 2.0,
    "CPLX-ATTN-02/memory-efficient": 1.0,
    "CPLX-LOCAL-01": 1.0,
    "CPLX-LOCAL-02": 1.0,
    "CPLX-LSH-01": 1.1,
    "CPLX-LSH-02": 1.0,
    "CPLX-GLOBAL-01": 1.0,
    "CPLX-GLOBAL-02": 1.0,
    "CPLX-DECODE-01": 1.0,
    "CPLX-DECODE-02": 2.0,
}


def _random(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _qkv(length: int, heads: int = HEADS) -> list[torch.Tensor]:
    return [_random(1, heads, length, HEAD_DIM, seed=length + i) for i in range(3)]


def on_qkv(op: Callable[..., object], **kwargs: object) -> Callable[[int], Callable[[], object]]:
    """For each length n, a call of `op` on fresh (1, H, n, D) query, key and value."""

    def make(n: int) -> Callable[[], object]:
        query, key, value = _qkv(n)
        return lambda: op(query, key, value, **kwargs)

    return make


def on_lsh(op: Callable[..., object]) -> Callable[[int], Callable[[], object]]:
    """For each length n, a call of LSH attention on fresh (1, H, n, D) shared query-keys and values,
    with one fixed set of random rotations (BUCKET_PAIRS of them) and chunks of CHUNK."""
    rotations = _random(HEAD_DIM, BUCKET_PAIRS, seed=7)

    def make(n: int) -> Callable[[], object]:
        query_key, value, _ = _qkv(n)
        return lambda: op(query_key, value, rotations=rotations, chunk_length=CHUNK)

    return make


def _ladder(request: pytest.FixtureRequest, name: str) -> list[int]:
    """The lengths of ladder `name` under the run's profile."""
    return LADDERS[request.config.getoption("--specformer-profile")][name]


def check_scaling(
    request: pytest.FixtureRequest,
    operation: str,
    quantity: str,
    sizes: list[int],
    make_call: Callable[[int], Callable[[], object]],
    claim: str,
) -> None:
    """Measure `quantity` over `sizes`, fit the exponent, and fail unless its interval meets the
    claim's band."""
    band = BANDS[claim]
    profile = request.config.getoption("--specformer-profile")
    if quantity == "time":
        samples = time_ladder({size: make_call(size) for size in sizes}, POLICIES[profile])
        fit = fit_exponent(sizes, samples, min_value=MIN_CPU_TIME_S, statistic="min")
    else:
        samples = []
        for size in sizes:
            # The inputs are built inside the measured call, so the peak counts them (spec: "its
            # inputs included"); a call's fixed workspace then cannot pass for sub-linear growth.
            measured, _source = peak_memory(lambda size=size: make_call(size)())
            if measured is None:
                pytest.skip("n/a: this torch build's profiler records no CPU allocation events")
            samples.append([float(measured)])
        fit = fit_exponent(sizes, samples)
    scaling = {
        "operation": operation,
        "quantity": quantity,
        "unit": "s" if quantity == "time" else "B",
        "sizes": sizes,
        "values": [sorted(s)[len(s) // 2] for s in samples],
        **fit.evidence(),
        "expected": EXPECTED[claim],
        "band": list(band),
    }
    low, high = fit.ci
    if high < band[0] or low > band[1]:
        fail(
            f"{operation} {quantity} grows as n^{fit.exponent:.2f} (95% interval [{low:.2f}, {high:.2f}]), "
            f"outside the band [{band[0]}, {band[1]}] over n = {sizes}",
            scaling=scaling,
        )
    note("scaling", scaling)


@clause("CPLX-ATTN-01")
def test_full_attention_time_is_quadratic(adapter, request) -> None:
    op = require(adapter, "attention")
    check_scaling(request, "attention", "time", _ladder(request, "quadratic"), on_qkv(op), "CPLX-ATTN-01")


@clause("CPLX-ATTN-02")
def test_full_attention_memory_matches_the_declared_variant(adapter, request) -> None:
    op = require(adapter, "attention")
    variant = adapter.variant("CPLX-ATTN-02")
    check_scaling(request, "attention", "memory", _ladder(request, "memory"), on_qkv(op), f"CPLX-ATTN-02/{variant}")


@clause("CPLX-LOCAL-01")
def test_sliding_window_time_is_linear(adapter, request) -> None:
    make = on_qkv(require(adapter, "sliding_window_attention"), window=WINDOW)
    check_scaling(request, "sliding_window_attention", "time", _ladder(request, "linear"), make, "CPLX-LOCAL-01")


@clause("CPLX-LOCAL-02")
def test_sliding_window_memory_is_linear(adapter, request) -> None:
    make = on_qkv(require(adapter, "sliding_window_attention"), window=WINDOW)
    check_scaling(
        request, "sliding_window_attention", "memory", _ladder(request, "linear memory"), make, "CPLX-LOCAL-02"
    )


@clause("CPLX-LSH-01")
def test_lsh_attention_time_is_n_log_n(adapter, request) -> None:
    make = on_lsh(require(adapter, "lsh_attention"))
    check_scaling(request, "lsh_attention", "time", _ladder(request, "linear"), make, "CPLX-LSH-01")


@clause("CPLX-LSH-02")
def test_lsh_attention_memory_is_linear(adapter, request) -> None:
    make = on_lsh(require(adapter, "lsh_attention"))
    check_scaling(request, "lsh_attention", "memory", _ladder(request, "linear memory"), make, "CPLX-LSH-02")


def on_local_global(op: Callable[..., object]) -> Callable[[int], Callable[[], object]]:
    """Local + global attention with GLOBAL_TOKENS global positions spread over the sequence."""

    def make(n: int) -> Callable[[], object]:
        query, key, value = _qkv(n)
        global_mask = torch.zeros(1, n, dtype=torch.bool)
        global_mask[0, torch.arange(GLOBAL_TOKENS) * (n // GLOBAL_TOKENS)] = True
        return lambda: op(query, key, value, window=WINDOW, global_mask=global_mask)

    return make


@clause("CPLX-GLOBAL-01")
def test_local_global_time_is_linear(adapter, request) -> None:
    op = require(adapter, "local_global_attention")
    check_scaling(
        request, "local_global_attention", "time", _ladder(request, "global"), on_local_global(op), "CPLX-GLOBAL-01"
    )


@clause("CPLX-GLOBAL-02")
def test_local_global_memory_is_linear(adapter, request) -> None:
    op = require(adapter, "local_global_attention")
    check_scaling(
        request,
        "local_global_attention",
        "memory",
        _ladder(request, "global memory"),
        on_local_global(op),
        "CPLX-GLOBAL-02",
    )


@clause("CPLX-DECODE-01")
def test_decode_step_with_cache_is_linear_in_context(adapter, request) -> None:
    op = require(adapter, "attention")

    def make(n: int) -> Callable[[], object]:
        query = _random(DECODE_BATCH, DECODE_HEADS, 1, HEAD_DIM, seed=n)  # the one new position
        key_cache = _random(DECODE_BATCH, DECODE_HEADS, n, HEAD_DIM, seed=n + 1)
        value_cache = _random(DECODE_BATCH, DECODE_HEADS, n, HEAD_DIM, seed=n + 2)
        return lambda: op(query, key_cache, value_cache)

    check_scaling(
        request, "attention (1 query, n cached keys)", "time", _ladder(request, "decode"), make, "CPLX-DECODE-01"
    )


@clause("CPLX-DECODE-02")
def test_decode_step_without_cache_is_quadratic(adapter, request) -> None:
    op = require(adapter, "attention")
    check_scaling(
        request,
        "causal attention over the prefix",
        "time",
        _ladder(request, "quadratic"),
        on_qkv(op, causal=True),
        "CPLX-DECODE-02",
    )
