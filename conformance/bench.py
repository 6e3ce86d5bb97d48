"""CPU timing of adapters' operations: the one timing helper, and the sampling benchmarks.

The timer batches calls so that one sample lasts at least `min_sample_s` (dwarfing the
clock's resolution and Python's call overhead), takes `samples` such samples after one
warm-up call, and reports seconds per call: median and interquartile range, raw samples
kept. It measures; it never asserts a time. GPU timing (events, L2 flushing, CUDA graphs)
and scaling fits belong to the benchmark harness, which builds on this.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from specformer.conformance.results import BenchmarkResult
from specformer.reference.sampling import SamplingParams

# The issue's reference size: a batch of 64 rows over Llama 3's vocabulary.
SAMPLING_BATCH, SAMPLING_VOCAB = 64, 128_256
SAMPLES = {"quick": 3, "ci": 5, "thorough": 15}


def time_cpu(
    call: Callable[[], Any],
    *,
    name: str,
    family: str,
    params: dict[str, Any],
    samples: int = 5,
    min_sample_s: float = 0.05,
) -> BenchmarkResult:
    """Median and IQR of seconds per call of `call` on the CPU."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    call()  # warm-up: lazy initialisation and allocator growth stay out of the numbers
    calls = 1
    while True:  # calibrate: enough calls that one sample lasts min_sample_s
        start = time.perf_counter()
        for _ in range(calls):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= min_sample_s or calls >= 1 << 16:
            break
        calls *= 2
    per_call = [elapsed / calls]
    for _ in range(samples - 1):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        per_call.append((time.perf_counter() - start) / calls)
    quartiles = statistics.quantiles(per_call, n=4) if len(per_call) > 1 else [per_call[0]] * 3
    return BenchmarkResult(
        name=name,
        family=family,
        device="cpu",
        params=params,
        samples_s=per_call,
        median_s=statistics.median(per_call),
        iqr_s=quartiles[2] - quartiles[0],
        calls_per_sample=calls,
        threads=torch.get_num_threads(),
    )


def sampling_benchmarks(
    adapter: Any, profile: str = "ci", *, batch: int = SAMPLING_BATCH, vocab: int = SAMPLING_VOCAB
) -> list[BenchmarkResult]:
    """Per-call time of each implemented sampling processor on a (batch, vocab) float32 batch."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, vocab, generator=generator)
    cases: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = {
        "temperature": ("temperature", (0.7,), {"temperature": 0.7}),
        "top_k": ("top_k", (50,), {"top_k": 50}),
        "top_p": ("top_p", (0.9,), {"top_p": 0.9}),
        "min_p": ("min_p", (0.05,), {"min_p": 0.05}),
        "process": (
            "process",
            (SamplingParams(temperature=0.7, top_k=50, top_p=0.9, min_p=0.05),),
            {"temperature": 0.7, "top_k": 50, "top_p": 0.9, "min_p": 0.05},
        ),
    }
    results = []
    for name, (operation, args, params) in cases.items():
        op = getattr(adapter, operation, None)
        if op is None:
            continue
        results.append(
            time_cpu(
                lambda op=op, args=args: op(logits, *args),
                name=f"sampling.{name}",
                family="sampling",
                params={"batch": batch, "vocab": vocab, "dtype": "float32", **params},
                samples=SAMPLES.get(profile, 5),
            )
        )
    return results
