"""Benchmarks of the losses family: cross-entropy over (tokens x vocabulary), 32k to 256k classes.

A cross-entropy must read every logit once, so its fewest bytes are N x V x itemsize and its
ceiling is the measured copy bandwidth; an implementation that materialises float32
log-probabilities (or a float32 copy of bfloat16 logits) shows it in the peak memory, which is
measured for every row. The token count shrinks as the vocabulary grows so each row reads about
the same bytes (32 MiB of float32), a CI-sized slice of a real batch. After timing, each result
is checked once against the float64 reference on the same (rounded) logits: a fast wrong answer
is not a result.
"""

from __future__ import annotations

from typing import Any

import torch

from specformer.conformance.bench.observe import starting
from specformer.conformance.bench.roofline import ceiling_for, measured_result_for
from specformer.conformance.bench.sampling import _timings
from specformer.conformance.bench.timer import POLICIES
from specformer.conformance.results import BenchmarkResult
from specformer.reference import losses as reference

VOCABULARIES = (32_000, 128_256, 256_000)  # Llama 2, Llama 3, Gemma
ELEMENTS = 1 << 23  # logits per row: tokens = ELEMENTS // vocab
DTYPES = (torch.float32, torch.bfloat16)


def loss_benchmarks(
    adapter: Any,
    profile: str = "ci",
    *,
    device: str = "cpu",
    vocabularies: tuple[int, ...] | None = None,
    elements: int = ELEMENTS,
    ceilings: dict[str, dict[str, Any]] | None = None,
) -> list[BenchmarkResult]:
    """Time the adapter's cross_entropy (a LoadedAdapter) at each vocabulary and dtype."""
    op = adapter.operation("cross_entropy")
    if op is None:
        return []
    if vocabularies is None:
        vocabularies = VOCABULARIES[:1] if profile == "quick" else VOCABULARIES
    policy = POLICIES.get(profile, POLICIES["ci"])
    results = []
    for vocab in vocabularies:
        tokens = max(1, elements // vocab)
        generator = torch.Generator().manual_seed(vocab)
        logits64 = torch.randn(tokens, vocab, generator=generator, dtype=torch.float64) * 3
        labels = torch.randint(0, vocab, (tokens,), generator=generator)
        labels[::7] = reference.IGNORE_INDEX  # some prompt / padding positions
        for dtype in DTYPES:
            logits = logits64.to(dtype).to(device)
            targets = labels.to(device)
            call = lambda op=op, logits=logits, targets=targets: op(logits, targets)  # noqa: E731
            expected = reference.cross_entropy(logits.double().cpu(), labels)
            dtype_name = str(dtype).removeprefix("torch.")
            starting("losses.cross_entropy", {"tokens": tokens, "vocab": vocab, "dtype": dtype_name})
            for timing, note in _timings(call, device, policy):
                results.append(
                    measured_result_for("losses", device, ceilings)(
                        timing,
                        call,
                        name="losses.cross_entropy",
                        params={"tokens": tokens, "vocab": vocab, "dtype": str(dtype).removeprefix("torch.")},
                        note=note,
                        bytes_moved=float(tokens * vocab * logits.element_size()),
                        ceiling=ceiling_for(dtype, compute_bound=False),
                        correct=_matches_reference(call(), expected, dtype),
                    )
                )
    return results


def _matches_reference(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> bool:
    """Within 1e-4 relative of the float64 loss (1e-2 for a result left in bfloat16, LOSS-CE-03 `native`)."""
    actual = actual.detach().cpu()
    if actual.dim() != 0 or not torch.isfinite(actual):
        return False
    tolerance = 1e-2 if actual.dtype == torch.bfloat16 else 1e-4
    return abs(float(actual) - float(expected)) <= tolerance * abs(float(expected))
