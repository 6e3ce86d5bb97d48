"""The benchmark harness: timing (CPU, CUDA cold and hot), peak memory, ceilings, scaling fits.

- timer.py: the one timing harness and peak-memory measurement;
- roofline.py: ceilings measured on the machine, and each benchmark's fraction of them;
- scaling.py: geometric ladders and fitted exponents with bootstrap intervals;
- pytest_format.py: results as pytest-benchmark JSON, and `run_in(benchmark, call)`, which times a
  call on this harness inside a user's pytest session through pytest-benchmark's fixture;
- FAMILY.py: the benchmarks of one spec family (sampling.py, attention.py, tokenizers.py;
  frontends.py for vision and audio).

Benchmarks measure; they never assert a time. The complexity clauses (spec/complexity.md) are
the only benchmark results the suite judges, through fitted exponents within tolerant bands.
"""

from specformer.conformance.bench.attention import attention_benchmarks
from specformer.conformance.bench.frontends import audio_benchmarks, vision_benchmarks
from specformer.conformance.bench.models import models_benchmarks, objectives_benchmarks
from specformer.conformance.bench.pytest_format import record_in, run_in, write_pytest_benchmark_json
from specformer.conformance.bench.roofline import ceiling_for, measure_ceilings, place_on_roofline
from specformer.conformance.bench.sampling import sampling_benchmarks
from specformer.conformance.bench.scaling import ScalingFit, fit_exponent, geometric_ladder
from specformer.conformance.bench.timer import (
    POLICIES,
    Timing,
    TimingPolicy,
    l2_flush_bytes,
    peak_memory,
    time_cpu,
    time_cuda,
)
from specformer.conformance.bench.tokenizers import tokenizer_benchmarks

__all__ = [
    "POLICIES",
    "ScalingFit",
    "Timing",
    "TimingPolicy",
    "attention_benchmarks",
    "audio_benchmarks",
    "ceiling_for",
    "fit_exponent",
    "geometric_ladder",
    "l2_flush_bytes",
    "measure_ceilings",
    "models_benchmarks",
    "objectives_benchmarks",
    "peak_memory",
    "place_on_roofline",
    "record_in",
    "run_in",
    "sampling_benchmarks",
    "time_cpu",
    "time_cuda",
    "tokenizer_benchmarks",
    "vision_benchmarks",
    "write_pytest_benchmark_json",
]
