"""Ceilings measured on the machine at hand, and where a benchmark stands against them.

At the start of a run, `measure_ceilings` times a large matmul per dtype (FLOP/s) and a large
device-to-device copy (bytes/s, read plus written) with the same harness as every benchmark.
A benchmark declares the FLOPs and the fewest bytes its operation must do (formulas in
spec/complexity.md); `place_on_roofline` divides them by the median time and compares the
rate with the matching ceiling. A rate above the ceiling is a measurement error (a call that
did not run, a missing synchronisation) and is flagged, never celebrated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from specformer.conformance.bench.observe import row_done
from specformer.conformance.bench.timer import POLICIES, Timing, TimingPolicy, peak_memory, time_on_device
from specformer.conformance.results import BenchmarkResult

# Sizes: large enough to reach the device's peak, small enough for the CPU gate to stay fast.
MATMUL_SIZE = {"cuda": 8192, "cpu": 1024}
COPY_BYTES = {"cuda": 1 << 30, "cpu": 1 << 27}
MATMUL_DTYPES = {"cuda": (torch.bfloat16, torch.float16, torch.float32), "cpu": (torch.float32,)}


def measure_ceilings(device: str = "cpu", policy: TimingPolicy = POLICIES["ci"]) -> dict[str, dict[str, Any]]:
    """{"matmul-<dtype>": {"value": FLOP/s, ...}, "copy": {"value": B/s, ...}} for `device`."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    ceilings: dict[str, dict[str, Any]] = {}
    n = MATMUL_SIZE[kind]
    for dtype in MATMUL_DTYPES[kind]:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        timing = time_on_device(lambda a=a, b=b: torch.mm(a, b), device, policy)
        name = f"matmul-{str(dtype).removeprefix('torch.')}"
        ceilings[name] = {
            "value": 2 * n**3 / timing.median_s,
            "unit": "FLOP/s",
            "params": {"m": n, "n": n, "k": n, "tf32": bool(torch.backends.cuda.matmul.allow_tf32)},
            "median_s": timing.median_s,
            "iqr_s": timing.iqr_s,
        }
        del a, b
    source = torch.empty(COPY_BYTES[kind] // 4, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    timing = time_on_device(lambda: target.copy_(source), device, policy)
    ceilings["copy"] = {
        "value": 2 * COPY_BYTES[kind] / timing.median_s,
        "unit": "B/s",
        "params": {"bytes": COPY_BYTES[kind], "counted": "read + written"},
        "median_s": timing.median_s,
        "iqr_s": timing.iqr_s,
    }
    return ceilings


def ceiling_for(dtype: torch.dtype | str, *, compute_bound: bool) -> str:
    """The name of the ceiling a benchmark is compared with."""
    if not compute_bound:
        return "copy"
    name = dtype if isinstance(dtype, str) else str(dtype).removeprefix("torch.")
    return f"matmul-{name}"


def place_on_roofline(result: BenchmarkResult, ceilings: dict[str, dict[str, Any]]) -> BenchmarkResult:
    """Fill in achieved rates and the fraction of the matching ceiling; flag impossible ones."""
    if result.median_s <= 0:
        result.flags.append("median time is not positive: measurement error")
        return result
    if result.flops:
        result.achieved_flops_per_s = result.flops / result.median_s
    if result.bytes_moved:
        result.achieved_bytes_per_s = result.bytes_moved / result.median_s
    ceiling = ceilings.get(result.ceiling)
    if ceiling is None:
        return result
    achieved = result.achieved_bytes_per_s if ceiling["unit"] == "B/s" else result.achieved_flops_per_s
    if achieved is not None:
        result.ceiling_fraction = achieved / ceiling["value"]
        if result.ceiling_fraction > 1.0:
            why = "a measurement error"
            if result.device == "cpu" and ceiling["unit"] == "B/s":
                # Batched CPU calls reuse their inputs, so a working set that fits the caches
                # is served faster than the DRAM-sized copy the ceiling measures.
                why += " (on the CPU: a working set served from cache, not a bandwidth result)"
            result.flags.append(f"above the measured {result.ceiling} ceiling ({result.ceiling_fraction:.0%}): {why}")
    return result


def measured_result(
    timing: Timing,
    call: Any,
    *,
    device: str,
    ceilings: dict[str, dict[str, Any]] | None,
    **fields: Any,
) -> BenchmarkResult:
    """A BenchmarkResult from a timing: peak memory of one more call, and its place on the roofline.

    `fields` are the benchmark's own: name, family, params, flops, bytes_moved, ceiling, correct...
    """
    memory, source = peak_memory(call, device)
    result = BenchmarkResult(
        device=device, **timing.result_fields(), peak_memory_bytes=memory, peak_memory_source=source, **fields
    )
    return row_done(place_on_roofline(result, ceilings or {}))


def measured_result_for(
    family: str, device: str, ceilings: dict[str, dict[str, Any]] | None
) -> Callable[..., BenchmarkResult]:
    """measured_result with what every row of one family's run shares bound: `(timing, call, name=..., ...)`."""
    return functools.partial(measured_result, family=family, device=device, ceilings=ceilings)
