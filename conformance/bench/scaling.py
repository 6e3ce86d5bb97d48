"""Measured scaling: a geometric ladder of sizes and the fitted exponent of cost against size.

The fit is ordinary least squares of log(median) on log(size), so cost ~ c * size**k gives
k directly. Its uncertainty comes from a bootstrap: the repeated samples at each size are
resampled with replacement, the medians and the fit recomputed, and the 2.5 and 97.5
percentiles of k form the 95% interval. The seed is fixed, so the interval is reproducible.

Exclusion rule: a size whose median is below `min_value` (for time: launch-bound or too
close to the timer's resolution) is kept in the data but left out of the fit, and marked
`used = False`; at least three sizes must remain.

Timing a ladder on a shared machine: `time_ladder` takes its samples in rounds, one sample of
every size per round, so a burst of other work lands on all sizes alike instead of bending
the curve at one of them; and the fit of times uses each size's fastest sample (`statistic=
"min"`), the one least disturbed, as big_O does.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from specformer.conformance.bench.timer import TimingPolicy, torch_threads

STATISTICS: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "min": min}


@dataclass(frozen=True)
class ScalingFit:
    exponent: float
    ci: tuple[float, float]
    r_squared: float
    used: list[bool]

    def evidence(self) -> dict[str, object]:
        return {"exponent": self.exponent, "ci": list(self.ci), "r_squared": self.r_squared, "used": self.used}


def geometric_ladder(start: int, stop: int, points: int, *, multiple_of: int = 1) -> list[int]:
    """`points` sizes from start to stop, evenly spaced in log, rounded to `multiple_of`.

    >>> geometric_ladder(512, 4096, 4)
    [512, 1024, 2048, 4096]
    """
    if not (0 < start < stop) or points < 2:
        raise ValueError(f"need 0 < start < stop and points >= 2, got start={start}, stop={stop}, points={points}")
    ratio = (stop / start) ** (1 / (points - 1))
    sizes = [max(multiple_of, round(start * ratio**i / multiple_of) * multiple_of) for i in range(points)]
    return sorted(set(sizes))


def log_log_slope(sizes: list[float], values: list[float]) -> tuple[float, float]:
    """(slope, R^2) of the least-squares line through (log size, log value)."""
    x = torch.tensor([math.log(s) for s in sizes], dtype=torch.float64)
    y = torch.tensor([math.log(v) for v in values], dtype=torch.float64)
    x_centred, y_centred = x - x.mean(), y - y.mean()
    slope = float((x_centred * y_centred).sum() / (x_centred**2).sum())
    residual = y_centred - slope * x_centred
    total = float((y_centred**2).sum())
    r_squared = 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0
    return slope, r_squared


def fit_exponent(
    sizes: list[int],
    samples: list[list[float]],
    *,
    min_value: float = 0.0,
    resamples: int = 1000,
    seed: int = 0,
    statistic: str = "median",
) -> ScalingFit:
    """Fit cost ~ size**k from repeated samples per size, with a bootstrap 95% interval.

    `statistic` summarises each size's samples: "median", or "min" for timings on a machine
    that other work may disturb.
    """
    if len(sizes) != len(samples) or any(not s for s in samples):
        raise ValueError("samples must hold a non-empty list of values for every size")
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    summarise = STATISTICS[statistic]
    medians = [statistics.median(s) for s in samples]
    used = [m >= min_value and m > 0 for m in medians]
    if sum(used) < 3:
        raise ValueError(f"need at least 3 sizes with median >= {min_value:g} to fit an exponent, got {sum(used)}")
    kept_sizes = [s for s, u in zip(sizes, used, strict=True) if u]
    kept_samples = [s for s, u in zip(samples, used, strict=True) if u]
    exponent, r_squared = log_log_slope(kept_sizes, [summarise(s) for s in kept_samples])
    generator = torch.Generator().manual_seed(seed)
    slopes = []
    for _ in range(resamples):
        medians_resampled = []
        for values in kept_samples:
            picks = torch.randint(len(values), (len(values),), generator=generator).tolist()
            medians_resampled.append(summarise([values[i] for i in picks]))
        slopes.append(log_log_slope(kept_sizes, medians_resampled)[0])
    slopes.sort()
    low, high = slopes[int(0.025 * (resamples - 1))], slopes[math.ceil(0.975 * (resamples - 1))]
    return ScalingFit(exponent=exponent, ci=(low, high), r_squared=r_squared, used=used)


def time_ladder(
    calls: dict[int, Callable[[], Any]], policy: TimingPolicy, *, rounds: int | None = None, threads: int | None = 1
) -> list[list[float]]:
    """Seconds per call for each size's call, sampled in interleaved rounds (CPU wall clock).

    Each call runs once as warm-up and is batched so a sample lasts at least
    `policy.min_sample_s`; then `rounds` rounds take one sample of every size in turn
    (default: policy.min_samples, at least 3). One torch thread by default: a scaling claim is
    about the work, and a thread pool's scheduling bends the curve.
    """
    with torch_threads(threads):
        return _time_ladder(calls, policy, rounds)


def _time_ladder(calls: dict[int, Callable[[], Any]], policy: TimingPolicy, rounds: int | None) -> list[list[float]]:
    batch: dict[int, int] = {}
    for size, call in calls.items():
        count, elapsed = 1, _batch_seconds(call, 1)  # the warm-up call also calibrates
        while elapsed < policy.min_sample_s and count < 1 << 16:
            count *= 2
            elapsed = _batch_seconds(call, count)
        batch[size] = count
    samples: dict[int, list[float]] = {size: [] for size in calls}
    for _ in range(rounds or max(3, policy.min_samples)):
        for size, call in calls.items():
            samples[size].append(_batch_seconds(call, batch[size]) / batch[size])
    return [samples[size] for size in calls]


def _batch_seconds(call: Callable[[], Any], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        call()
    return time.perf_counter() - start
