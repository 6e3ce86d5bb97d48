"""Benchmarks of the sampling family on the harness: each processor and the full pipeline.

The size is the issue's reference: a batch of 64 rows over a 128,256-entry vocabulary (Llama 3)
in float32. A processor must at least read the logits and write its result, so its fewest
bytes are 2 x B x V x 4 and its ceiling is the measured copy bandwidth. After timing, each
operation's output is checked once against the reference: a fast wrong answer is not a result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from specformer.conformance.bench.observe import starting
from specformer.conformance.bench.roofline import ceiling_for, measured_result_for
from specformer.conformance.bench.timer import POLICIES, Timing, time_cpu, time_cuda
from specformer.conformance.results import BenchmarkResult
from specformer.reference import sampling as reference
from specformer.reference.sampling import SamplingParams

SAMPLING_BATCH, SAMPLING_VOCAB = 64, 128_256
PIPELINE = SamplingParams(temperature=0.7, top_k=50, top_p=0.9, min_p=0.05)


def _cases(adapter: Any) -> dict[str, tuple[tuple[Any, ...], dict[str, Any], Callable[..., torch.Tensor]]]:
    """operation -> (arguments, params for the report, the reference run with the same variants)."""
    variants = reference.variant_arguments(adapter.variant)
    return {
        "temperature": ((0.7,), {"temperature": 0.7}, lambda x: reference.apply_temperature(x, 0.7)),
        "top_k": ((50,), {"top_k": 50}, lambda x: reference.top_k_filter(x, 50, top_k_ties=variants["top_k_ties"])),
        "top_p": (
            (0.9,),
            {"top_p": 0.9},
            lambda x: reference.top_p_filter(x, 0.9, top_p_boundary=variants["top_p_boundary"]),
        ),
        "min_p": ((0.05,), {"min_p": 0.05}, lambda x: reference.min_p_filter(x, 0.05)),
        "process": (
            (PIPELINE,),
            {"temperature": 0.7, "top_k": 50, "top_p": 0.9, "min_p": 0.05},
            lambda x: reference.process(x, PIPELINE, **variants),
        ),
    }


def sampling_benchmarks(
    adapter: Any,
    profile: str = "ci",
    *,
    device: str = "cpu",
    batch: int = SAMPLING_BATCH,
    vocab: int = SAMPLING_VOCAB,
    ceilings: dict[str, dict[str, Any]] | None = None,
) -> list[BenchmarkResult]:
    """Time each sampling operation the adapter implements (a LoadedAdapter) on (batch, vocab)."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, vocab, generator=generator).to(device)
    policy = POLICIES.get(profile, POLICIES["ci"])
    results = []
    for name, (args, params, expected) in _cases(adapter).items():
        op = adapter.operation(name)
        if op is None:
            continue
        call = lambda op=op, args=args: op(logits, *args)  # noqa: E731
        starting(f"sampling.{name}", {"batch": batch, "vocab": vocab, **params})
        for timing, note in _timings(call, device, policy):
            results.append(
                measured_result_for("sampling", device, ceilings)(
                    timing,
                    call,
                    name=f"sampling.{name}",
                    params={"batch": batch, "vocab": vocab, "dtype": "float32", **params},
                    note=note,
                    bytes_moved=2.0 * batch * vocab * 4,
                    ceiling=ceiling_for(torch.float32, compute_bound=False),
                    correct=_matches_reference(call(), expected(logits), boundary_slack=name in ("top_p", "process")),
                )
            )
    return results


def _timings(call: Callable[[], Any], device: str, policy: Any) -> list[tuple[Timing, str]]:
    if not device.startswith("cuda"):
        return [(time_cpu(call, policy), "")]
    timings = [(time_cuda(call, policy, mode="cold"), "")]
    try:
        timings.append((time_cuda(call, policy, mode="hot"), ""))
    except Exception as exc:  # e.g. an operation that synchronises with the host cannot be captured
        timings[0] = (timings[0][0], f"hot mode unavailable: {type(exc).__name__}: {str(exc)[:120]}")
    return timings


def _matches_reference(actual: torch.Tensor, expected: torch.Tensor, *, boundary_slack: bool) -> bool:
    """Kept values equal within float32 rounding, and the removed sets equal; with
    `boundary_slack` (top-p) they may differ by one token per row: over 128k tokens, float32
    cumulative sums summed in different orders may legitimately put the boundary one token
    apart (the suite's clauses judge exact boundaries; this check refuses a wrong answer)."""
    actual, expected = actual.detach().cpu(), expected.detach().cpu()
    if actual.shape != expected.shape:
        return False
    differing = (torch.isneginf(actual) != torch.isneginf(expected)).sum(dim=-1)  # (B,)
    if int(differing.max()) > (1 if boundary_slack else 0):
        return False
    both_kept = torch.isfinite(actual) & torch.isfinite(expected)
    return bool(torch.allclose(actual[both_kept], expected[both_kept], rtol=1e-5, atol=1e-6))
