"""The one timing harness: CPU wall clock, CUDA events (cold L2) and CUDA-graph replay (hot).

Every timer returns raw per-call samples in seconds and a stop reason; summaries (median,
interquartile range) are computed here once. Sampling stops when the robust noise (IQR /
median) settles under `TimingPolicy.target_noise` after `min_samples`, or at the time cap,
and the result says which.

- CPU: calls are batched so one sample lasts at least `min_sample_s` (dwarfing the clock's
  resolution and Python's call overhead); a warm-up call runs first. The torch thread count
  is recorded, and settable with `threads`.
- CUDA cold: before each timed call a buffer of twice the L2 size the device reports is
  written, so every call starts with a cold L2; CUDA events bracket the call alone.
- CUDA hot: a CUDA graph of `calls_per_replay` back-to-back calls is captured once and
  replayed between events, so launch overhead (which dominates small kernels) is amortised.

Peak memory: CUDA's allocator peak (max_memory_allocated above the level before the call);
on CPU, the peak of the running sum of the allocations and frees the torch profiler records
during one call. Both count tensors the call allocates, not the inputs it was given.

Nothing here asserts a time: benchmarks measure, and only correctness gates.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class TimingPolicy:
    min_samples: int = 5
    max_samples: int = 100
    target_noise: float = 0.03  # IQR / median at which sampling may stop
    time_cap_s: float = 2.0  # total time spent sampling, warm-up excluded
    min_sample_s: float = 0.02  # CPU: the shortest a sample (a batch of calls) may last

    def __post_init__(self) -> None:
        if self.min_samples < 1 or self.max_samples < self.min_samples:
            raise ValueError(
                f"min_samples must be >= 1 and max_samples >= min_samples, got {self.min_samples}, {self.max_samples}"
            )
        if not self.target_noise > 0 or not self.time_cap_s > 0:
            raise ValueError(f"target_noise and time_cap_s must be > 0, got {self.target_noise}, {self.time_cap_s}")


# Profiles trade precision for time: quick for a developer's loop, thorough for nightly runs.
POLICIES = {
    "quick": TimingPolicy(min_samples=3, max_samples=10, target_noise=0.1, time_cap_s=0.5),
    "ci": TimingPolicy(),
    "thorough": TimingPolicy(min_samples=10, max_samples=400, target_noise=0.01, time_cap_s=10.0),
}


@dataclass(frozen=True)
class Timing:
    samples_s: list[float]  # seconds per call, one entry per sample
    calls_per_sample: int
    mode: str  # "cpu", "cold" or "hot"
    stop_reason: str
    threads: int | None = None
    sm_clock_mhz: float | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def iqr_s(self) -> float:
        return interquartile_range(self.samples_s)

    def result_fields(self) -> dict[str, Any]:
        """The fields of a BenchmarkResult a timing fills: all of its own, and the median and IQR."""
        return {**asdict(self), "median_s": self.median_s, "iqr_s": self.iqr_s}


def interquartile_range(values: list[float]) -> float:
    """Q3 - Q1 (inclusive quartiles); 0 for a single value.

    >>> interquartile_range([1.0, 2.0, 3.0, 4.0, 5.0])
    2.0
    """
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q3 - q1


def robust_noise(values: list[float]) -> float:
    """IQR / median, the spread measure nvbench calls robust noise."""
    median = statistics.median(values)
    return interquartile_range(values) / median if median > 0 else float("inf")


def _should_stop(samples: list[float], spent_s: float, policy: TimingPolicy) -> str:
    """The reason to stop sampling now, or "" to go on."""
    if len(samples) >= policy.max_samples:
        return f"max samples ({policy.max_samples})"
    if len(samples) >= policy.min_samples:
        noise = robust_noise(samples)
        if noise <= policy.target_noise:
            return f"noise {noise:.1%} <= {policy.target_noise:.1%} after {len(samples)} samples"
        if spent_s >= policy.time_cap_s:
            return f"time cap {policy.time_cap_s:g} s with noise {noise:.1%} after {len(samples)} samples"
    return ""


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run with `threads` torch threads (None: as set), restoring the setting after."""
    previous = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def time_cpu(call: Callable[[], Any], policy: TimingPolicy = POLICIES["ci"], *, threads: int | None = None) -> Timing:
    """Seconds per call of `call` on the CPU."""
    with torch_threads(threads) as used_threads:
        call()  # warm-up: lazy initialisation and allocator growth stay out of the numbers
        calls = 1
        while True:  # calibrate: enough calls that one sample lasts min_sample_s
            elapsed = _run_batch(call, calls)
            if elapsed >= policy.min_sample_s or calls >= 1 << 20:
                break
            calls *= 2
        samples, spent = [elapsed / calls], elapsed
        while not (reason := _should_stop(samples, spent, policy)):
            elapsed = _run_batch(call, calls)
            samples.append(elapsed / calls)
            spent += elapsed
    return Timing(samples, calls, "cpu", reason, threads=used_threads)


def _run_batch(call: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return time.perf_counter() - start


def l2_flush_bytes(properties: Any) -> int:
    """Bytes to write to evict the L2: twice the L2 size the device reports (at least 1 MiB).

    `properties` is what torch.cuda.get_device_properties returns, or any object with an
    `L2_cache_size` attribute in bytes.
    """
    l2 = int(getattr(properties, "L2_cache_size", 0) or 0)
    if l2 <= 0:
        raise ValueError(f"device properties report no L2_cache_size (got {l2!r}); cannot size the flush")
    return max(2 * l2, 1 << 20)


def sm_clock_mhz(device: int = 0) -> float | None:
    """The current SM clock in MHz where NVML is readable, else None."""
    try:
        return float(torch.cuda.clock_rate(device))
    except Exception:  # NVML missing or not permitted: the clock is simply not recorded
        return None


def time_cuda(
    call: Callable[[], Any], policy: TimingPolicy = POLICIES["ci"], *, mode: str = "cold", calls_per_replay: int = 20
) -> Timing:
    """Seconds per call of `call` on the current CUDA device, cold (L2 flushed) or hot (graph replay)."""
    if mode not in ("cold", "hot"):
        raise ValueError(f"mode must be 'cold' or 'hot', got {mode!r}")
    if not torch.cuda.is_available():
        raise RuntimeError("CUDA timing needs a CUDA device; none is available")
    call()  # warm-up: compilation, autotuning and lazy initialisation
    torch.cuda.synchronize()
    timed = _cold_sample(call) if mode == "cold" else _hot_sampler(call, calls_per_replay)
    samples: list[float] = []
    started = time.perf_counter()
    while not (reason := _should_stop(samples, time.perf_counter() - started, policy)):
        samples.append(timed())
    per_sample = 1 if mode == "cold" else calls_per_replay
    return Timing(samples, per_sample, mode, reason, sm_clock_mhz=sm_clock_mhz())


def time_on_device(call: Callable[[], Any], device: str, policy: TimingPolicy = POLICIES["ci"]) -> Timing:
    """Seconds per call of `call` on `device`: time_cpu on "cpu", time_cuda cold on "cuda" or "cuda:N"
    (the benchmarks' default; hot replay is for the few that try it on purpose)."""
    return time_cuda(call, policy, mode="cold") if device.startswith("cuda") else time_cpu(call, policy)


def _cold_sample(call: Callable[[], Any]) -> Callable[[], float]:
    flush = torch.empty(l2_flush_bytes(torch.cuda.get_device_properties(0)) // 4, dtype=torch.int32, device="cuda")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def sample() -> float:
        flush.zero_()  # enqueued before the start event: evicts L2 without being timed
        start.record()
        call()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3

    return sample


def _hot_sampler(call: Callable[[], Any], calls_per_replay: int) -> Callable[[], float]:
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # capture must not happen on the default stream
        for _ in range(2):
            call()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(calls_per_replay):
                call()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def sample() -> float:
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / calls_per_replay

    return sample


def peak_memory(call: Callable[[], Any], device: str = "cpu") -> tuple[int | None, str]:
    """Bytes of tensors allocated at the peak of one call, and how that was measured."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before, "torch.cuda.max_memory_allocated above the level before"
    return _cpu_peak_memory(call), "torch profiler allocation events (CPU tensors allocated during the call)"


def _cpu_peak_memory(call: Callable[[], Any]) -> int | None:
    """The peak, above the level before the call, of the bytes of CPU tensors live during it: the
    running sum of the profiler's allocation (+) and free (-) events in time order.

    Only `profile_memory` is on. The profiler's memory timeline (`_memory_profile()`) needs
    `record_shapes` and `with_stack` as well, and counts the call's inputs as live memory (their
    shapes are recorded), which is not what is measured here; starting its Python tracer took
    23 to 67 s inside a pytest process holding transformers, against 0.25 s for this.
    """
    from torch.profiler import ProfilerActivity, profile

    # subtle: only the profiler's API is guarded. An exception from `call` is the adapter's and
    # propagates: a crashing adapter is never reported as "this torch build offers no timeline".
    try:
        from torch.autograd import DeviceType

        profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    except Exception:
        return None
    with _quiet_stderr():
        try:
            profiler.__enter__()
        except Exception:
            return None
        try:
            call()
        finally:
            profiler.__exit__(None, None, None)
    try:
        events = sorted(
            (event.start_ns(), event.nbytes())
            for event in profiler.profiler.kineto_results.events()  # type: ignore[union-attr]
            if event.name() == "[memory]" and event.device_type() == DeviceType.CPU
        )
    except Exception:  # the events' accessors are not a stable torch API; without them there is no figure
        return None
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: the profiler's native layer logs every start and stop there."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
