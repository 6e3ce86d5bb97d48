"""specformer's benchmarks in pytest-benchmark's format: a JSON file, and the `benchmark` fixture.

The timing stays on specformer's harness (timer.py: batched CPU calls, CUDA events with a cold
L2, CUDA-graph replay); this module only speaks pytest-benchmark's language, so that
`pytest-benchmark compare FILE` and dashboards that read its JSON work unchanged.

- `pytest_benchmark_json(run)` / `write_pytest_benchmark_json(run, path)`: a results run as the
  JSON pytest-benchmark 5.x writes with `--benchmark-json` (`specformer bench --benchmark-json`).
- `run_in(benchmark, call, ...)`: inside a user's own pytest session, time `call` with the harness
  and record its samples as the `benchmark` fixture's result (the harness is the timer).

How the harness's numbers map onto pytest-benchmark's fields (nothing is invented):

    measured   stats.data        the harness's samples: seconds per call, one per sample (CPU: the mean
                                 of `iterations` back-to-back calls; cold CUDA: one call between events;
                                 hot CUDA: the mean of a graph replay of `iterations` calls)
               stats.iterations  calls per sample (pytest-benchmark: iterations per round)
               stats.rounds      the number of samples
    derived    min max mean stddev median q1 q3 iqr iqr_outliers stddev_outliers outliers ld15iqr
               hd15iqr ops total: from stats.data by pytest-benchmark's own Stats class (reproduced in
                                 `_own_stats` for when it is not installed), so they equal what
                                 pytest-benchmark computes from the same samples. Its q1/q3 differ from the harness's
                                 inclusive quartiles: the harness's own median and IQR are kept in
                                 extra_info (specformer_median_s, specformer_iqr_s). `total` is, as in
                                 pytest-benchmark, the sum of the per-call sample means, not a wall time.
    kept       extra_info        everything else a row measured: adapter, device, mode, threads, peak
                                 memory, FLOP and bytes, achieved rates, ceiling fraction, SM clock,
                                 stop reason, correctness, flags, note
    absent     options.min_rounds, max_time, min_time, calibration precision (the row does not record
               the timing policy; its stop reason says why sampling ended); machine_info.node,
               python_compiler, python_build and the cpuinfo fields other than brand_raw; commit_info
               (specformer records no git state): written empty rather than guessed.

A row whose output disagreed with the reference (`correct` is False) is not a result: it is left
out, as pytest-benchmark leaves out a benchmark that raised, and listed under
`specformer_excluded`; so is a row without a positive sample, which records a measurement other
than time (kv_cache.memory's samples are [0.0]; its bytes are in results.json).
"""

from __future__ import annotations

import json
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specformer.conformance.bench.timer import POLICIES, Timing, TimingPolicy, time_cpu, time_cuda
from specformer.conformance.results import BenchmarkResult, RunResult

# The pytest-benchmark release whose JSON layout is written when it is not installed (the layout has
# been stable since 3.x); where it is installed, its own version, as its --benchmark-json writes.
FORMAT_VERSION = "5.3.1"

TIMERS = {
    "cpu": "specformer harness: time.perf_counter around a batch of `iterations` calls (timer.time_cpu)",
    "cold": "specformer harness: CUDA events around one call, L2 flushed before it (time_cuda mode=cold)",
    "hot": "specformer harness: CUDA events around a CUDA-graph replay of `iterations` calls (time_cuda mode=hot)",
}


def pytest_benchmark_json(run: RunResult) -> dict[str, Any]:
    """The run's benchmark rows as a pytest-benchmark JSON document (see the module docstring)."""
    benchmarks, excluded = [], []
    for adapter in run.adapters:
        for row in adapter.benchmarks:
            if row.correct is False:
                excluded.append(f"{adapter.name} {row.name} {row.params}: its output disagreed with the reference")
            elif not any(sample > 0 for sample in row.samples_s):
                excluded.append(f"{adapter.name} {row.name} {row.params}: no timed samples (not a timing)")
            else:
                benchmarks.append(_benchmark(adapter.name, row))
    environment = run.environment
    return {
        "machine_info": {
            "machine": environment.get("machine", ""),
            "processor": environment.get("processor", ""),
            "python_implementation": "CPython" if environment.get("python") else "",
            "python_version": environment.get("python", ""),
            "system": str(environment.get("platform", "")).split("-", 1)[0],
            "cpu": {"brand_raw": environment.get("processor", "")},
            "specformer_environment": environment,
        },
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": run.created,
        "version": _installed_version(),
        "specformer_version": run.specformer_version,
        "specformer_profile": run.profile,
        "specformer_ceilings": run.ceilings,
        "specformer_excluded": excluded,
    }


def _installed_version() -> str:
    try:
        from pytest_benchmark import __version__
    except ImportError:
        return FORMAT_VERSION
    return str(__version__)


def write_pytest_benchmark_json(run: RunResult, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(pytest_benchmark_json(run), indent=2, default=str) + "\n", encoding="utf-8")
    return path


def param_id(params: dict[str, Any]) -> str:
    """A pytest-style parameter id: values joined by '-'.

    >>> param_id({"vocab": 50257, "dtype": "float32"})
    '50257-float32'
    """
    return "-".join(str(value) for value in params.values()).replace(" ", "_") or "default"


def _benchmark(adapter: str, row: BenchmarkResult) -> dict[str, Any]:
    param = f"{adapter}-{param_id(row.params)}"
    stats = _stats(row.samples_s)
    stats["data"] = list(row.samples_s)
    stats["iterations"] = row.calls_per_sample
    return {
        "group": row.name,
        "name": f"{row.name}[{param}]",
        "fullname": f"specformer::{row.family}::{row.name}[{param}]",
        "params": {"adapter": adapter, **row.params},
        "param": param,
        "extra_info": _extra_info(adapter, row),
        "options": {"timer": TIMERS.get(row.mode, row.mode), "warmup": True, "disable_gc": False},
        "stats": stats,
    }


def _extra_info(adapter: str, row: BenchmarkResult) -> dict[str, Any]:
    kept = (
        "family", "device", "mode", "size", "threads", "peak_memory_bytes", "peak_memory_source", "flops",
        "bytes_moved", "achieved_flops_per_s", "achieved_bytes_per_s", "ceiling", "ceiling_fraction",
        "sm_clock_mhz", "stop_reason", "correct", "flags", "note",
    )  # fmt: skip
    info: dict[str, Any] = {"adapter": adapter}
    info.update({name: getattr(row, name) for name in kept})
    info["specformer_median_s"] = row.median_s
    info["specformer_iqr_s"] = row.iqr_s
    return info


def _stats(data: list[float]) -> dict[str, Any]:
    """pytest-benchmark's Stats fields of `data`: by the installed pytest-benchmark's own Stats class
    where it is importable (so `compare` shows what pytest-benchmark itself would compute), else by
    its formulas as of 5.3.1 (which corrected hd15iqr: the highest datum within the fence)."""
    try:
        from pytest_benchmark.stats import Stats
    except ImportError:
        return _own_stats(data)
    stats = Stats()
    for value in data:
        stats.update(value)
    return {name: getattr(stats, name) for name in Stats.fields}


def _own_stats(data: list[float]) -> dict[str, Any]:
    ordered = sorted(data)
    rounds = len(data)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if rounds > 1 else 0
    q1, q3 = _quartiles(ordered)
    iqr = q3 - q1
    if rounds == 1:
        low = high = ordered[0]
    else:
        low = ordered[bisect_left(ordered, q1 - 1.5 * iqr)]
        high = ordered[bisect_right(ordered, q3 + 1.5 * iqr) - 1]
    total = sum(data)
    iqr_outliers = sum(1 for v in data if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr)
    stddev_outliers = sum(1 for v in data if v < mean - stddev or v > mean + stddev)
    return {
        "min": ordered[0],
        "max": ordered[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": rounds,
        "median": statistics.median(data),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": low,
        "hd15iqr": high,
        "ops": rounds / total if total else 0,
        "total": total,
    }


def _quartiles(ordered: list[float]) -> tuple[float, float]:
    """pytest-benchmark's q1 and q3 (its 'Method 3' for an odd count, 'Method 2' for an even one)."""
    rounds = len(ordered)
    if rounds == 1:
        return ordered[0], ordered[0]
    if rounds % 2:
        n, q = rounds // 4, rounds % 4
        if q == 1:
            q1 = 0.25 * ordered[n - 1] + 0.75 * ordered[n]
            q3 = 0.75 * ordered[3 * n] + 0.25 * ordered[3 * n + 1]
        else:
            q1 = 0.75 * ordered[n] + 0.25 * ordered[n + 1]
            q3 = 0.25 * ordered[3 * n + 1] + 0.75 * ordered[3 * n + 2]
        return q1, q3
    return statistics.median(ordered[: rounds // 2]), statistics.median(ordered[rounds // 2 :])


# ---------------------------------------------------------------------------------------------
# The `benchmark` fixture


def run_in(
    benchmark: Any,
    call: Callable[[], Any],
    *,
    device: str = "cpu",
    profile: str = "ci",
    mode: str = "cold",
    policy: TimingPolicy | None = None,
    threads: int | None = None,
    extra_info: dict[str, Any] | None = None,
) -> Timing | None:
    """Time `call` with specformer's harness and record it as pytest-benchmark's `benchmark` result.

    In a user's own test (pytest-benchmark installed; specformer's plugin is not involved)::

        from specformer.conformance.bench import run_in

        def test_my_sampler(benchmark):
            logits = torch.randn(8, 50_257)
            run_in(benchmark, lambda: my_top_p(logits, 0.9), profile="quick")

    `--benchmark-json`, `--benchmark-compare` and the terminal table then show the harness's
    samples (mapped as the module docstring says). CPU timing batches calls as time_cpu does;
    device "cuda" times with CUDA events (`mode` "cold": L2 flushed; "hot": CUDA-graph replay).
    With `--benchmark-disable` the call runs once, untimed, and None is returned. The fixture
    can be used once per test, as with `benchmark(...)` and `benchmark.pedantic(...)`.
    """
    if profile not in POLICIES:
        raise ValueError(f"profile must be one of {', '.join(POLICIES)}, got {profile!r}")
    if getattr(benchmark, "_mode", None):
        raise RuntimeError(f"the benchmark fixture was used already, in {benchmark._mode} mode; use it once per test")
    benchmark._mode = "specformer run_in(...)"
    if getattr(benchmark, "disabled", False):
        call()
        return None
    chosen = policy or POLICIES[profile]
    if device.startswith("cuda"):
        timing = time_cuda(call, chosen, mode=mode)
    else:
        timing = time_cpu(call, chosen, threads=threads)
    record_in(benchmark, timing, extra_info=extra_info)
    return timing


def record_in(benchmark: Any, timing: Timing, *, extra_info: dict[str, Any] | None = None) -> None:
    """Record a harness Timing as the `benchmark` fixture's statistics (one round per sample)."""
    stats = benchmark._make_stats(timing.calls_per_sample)
    for seconds_per_call in timing.samples_s:
        stats.update(seconds_per_call * timing.calls_per_sample)  # the fixture divides by iterations
    # The fixture's own timer and calibration were not used: say which timer was.
    stats.options = {"timer": TIMERS[timing.mode], "warmup": True, "disable_gc": False}
    benchmark.extra_info.update(
        {
            "mode": timing.mode,
            "threads": timing.threads,
            "sm_clock_mhz": timing.sm_clock_mhz,
            "stop_reason": timing.stop_reason,
            "specformer_median_s": timing.median_s,
            "specformer_iqr_s": timing.iqr_s,
            **(extra_info or {}),
        }
    )
