"""Benchmarks of dense attention on the harness: the roofline's compute-bound exercise.

For each length on a ladder, the adapter's `attention` runs on (B, H, n, D) inputs with a
fixed number of tokens per batch (B * n), so every row does comparable work and the achieved
FLOP/s can be read against the measured matmul ceiling of the same dtype. FLOPs are the
spec's `4 * B * H * n^2 * D`; the fewest bytes are reading Q, K, V and writing the output.

After timing, the output is checked once against the float32 reference on the first batch
element and the first two heads (enough to catch a wrong answer, small enough to fit).
"""

from __future__ import annotations

from typing import Any

import torch

from specformer.conformance.bench.observe import starting
from specformer.conformance.bench.roofline import ceiling_for, measured_result_for
from specformer.conformance.bench.timer import POLICIES, time_on_device
from specformer.conformance.results import BenchmarkResult
from specformer.reference.attention import scaled_dot_product_attention

# (heads, head dim, tokens per batch, lengths, dtype) per device kind. The CUDA shape is the
# one behind the published H200 anchor (bf16, 16 heads of 128, 16k tokens per batch).
SHAPES = {
    "cuda": (16, 128, 16384, (512, 1024, 2048, 4096, 8192, 16384), torch.bfloat16),
    "cpu": (2, 64, 2048, (256, 512, 1024, 2048), torch.float32),
}


def attention_benchmarks(
    adapter: Any, profile: str = "ci", *, device: str = "cpu", ceilings: dict[str, dict[str, Any]] | None = None
) -> list[BenchmarkResult]:
    """Time the adapter's dense `attention` over the ladder for `device`; [] if it has none."""
    op = adapter.operation("attention")
    if op is None:
        return []
    kind = "cuda" if device.startswith("cuda") else "cpu"
    heads, dim, tokens, lengths, dtype = SHAPES[kind]
    if dtype not in adapter.capabilities.dtypes:
        dtype = torch.float32
    policy = POLICIES.get(profile, POLICIES["ci"])
    results = []
    for length in lengths:
        batch = max(1, tokens // length)
        generator = torch.Generator().manual_seed(length)
        query, key, value = (
            torch.randn(batch, heads, length, dim, generator=generator).to(device=device, dtype=dtype) for _ in range(3)
        )
        call = lambda q=query, k=key, v=value: op(q, k, v)  # noqa: E731
        starting("attention.dense", {"batch": batch, "heads": heads, "length": length, "dtype": str(dtype)[6:]})
        timing = time_on_device(call, device, policy)
        element = torch.finfo(dtype).bits // 8
        results.append(
            measured_result_for("attention", device, ceilings)(
                timing,
                call,
                name="attention.dense",
                params={"batch": batch, "heads": heads, "head_dim": dim, "length": length, "dtype": str(dtype)[6:]},
                size=length,
                flops=4.0 * batch * heads * length * length * dim,
                bytes_moved=float(element * batch * heads * 4 * length * dim),
                ceiling=ceiling_for(dtype, compute_bound=True),
                correct=_matches_reference(call(), query, key, value),
            )
        )
        del query, key, value
    return results


def _matches_reference(output: torch.Tensor, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> bool:
    part = (slice(0, 1), slice(0, 2))
    expected = scaled_dot_product_attention(*(t[part].float() for t in (query, key, value)))
    tolerance = 2e-2 if query.dtype in (torch.bfloat16, torch.float16) else 1e-4
    return bool(torch.allclose(output[part].float(), expected, atol=tolerance, rtol=tolerance))
