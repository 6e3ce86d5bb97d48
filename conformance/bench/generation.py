"""Serving metrics of a generation run (spec/generation.md GEN-MET-01 .. GEN-MET-04).

A run is timed by the adapter's `on_token` callback: the harness notes `perf_counter()` at the
start of the request and at each step's tokens. From those instants:

    TTFT        = t_first - t_start                           (prefill + first token)
    E2E         = t_last - t_start
    TPOT        = (E2E - TTFT) / (N - 1), undefined for N <= 1 (vLLM's benchmarks/serve.py)
    throughput  = B * N / E2E generated tokens per second, batch size B reported with it

Memory: the weights' bytes (sum of the parameters' storage) and the cache's bytes (the
kv_cache family's measured buffers, against KV-SIZE-01's formula), reported separately.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServingMetrics:
    batch: int
    generated_per_row: int  # N: generation steps that produced tokens
    ttft_s: float
    tpot_s: float | None
    e2e_s: float
    throughput_tokens_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def serving_metrics(start: float, token_times: list[float], batch: int) -> ServingMetrics:
    """Metrics from the request start and the instant of each step's tokens.

    >>> m = serving_metrics(0.0, [0.5, 0.6, 0.7], batch=2)
    >>> m.ttft_s, round(m.tpot_s, 3), round(m.throughput_tokens_per_s, 3)
    (0.5, 0.1, 8.571)
    """
    if not token_times:
        raise ValueError("token_times must hold at least one instant (the first token)")
    if any(b < a for a, b in zip([start, *token_times], token_times, strict=False)):
        raise ValueError("token_times must be non-decreasing and not before start")
    n = len(token_times)
    ttft, e2e = token_times[0] - start, token_times[-1] - start
    tpot = (e2e - ttft) / (n - 1) if n > 1 else None
    return ServingMetrics(batch, n, ttft, tpot, e2e, batch * n / e2e if e2e > 0 else float("inf"))


def timed_run(run: Callable[[Callable[[], None]], Any]) -> tuple[Any, float, list[float]]:
    """Call run(on_token); return its result, the start instant and each on_token instant."""
    instants: list[float] = []
    start = time.perf_counter()
    result = run(lambda: instants.append(time.perf_counter()))
    return result, start, instants


def weight_bytes(params: dict[str, Any]) -> int:
    """Bytes of a state dict's tensors (tied tensors counted once)."""
    seen, total = set(), 0
    for tensor in params.values():
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
    return total
