"""The benchmark harness: timing rules, flush sizing, ceilings, scaling fits, sampling timings.

Everything that does not need a device is tested on the CPU with synthetic data whose answer
is known; the CUDA paths have a smoke test that runs only where CUDA exists.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from specformer.conformance.adapters import LoadedAdapter, load_adapter
from specformer.conformance.bench import (
    TimingPolicy,
    fit_exponent,
    geometric_ladder,
    l2_flush_bytes,
    measure_ceilings,
    place_on_roofline,
    sampling_benchmarks,
    time_cpu,
    time_cuda,
)
from specformer.conformance.bench import tokenizers as tokenizer_bench
from specformer.conformance.bench.timer import _should_stop, interquartile_range, robust_noise, torch_threads
from specformer.conformance.results import BenchmarkResult

FIXTURES = Path(__file__).parent / "fixtures"

QUICK = TimingPolicy(min_samples=3, max_samples=10, target_noise=0.5, time_cap_s=0.5, min_sample_s=0.005)


def test_cpu_timer_batches_calls_and_reports_seconds_per_call() -> None:
    timing = time_cpu(lambda: time.sleep(0.002), QUICK)
    assert timing.mode == "cpu" and timing.calls_per_sample >= 2 and len(timing.samples_s) >= 3
    assert 0.002 <= timing.median_s < 0.02
    assert timing.threads == torch.get_num_threads() and timing.stop_reason


def test_thread_count_is_settable_and_restored() -> None:
    before = torch.get_num_threads()
    with torch_threads(1) as used:
        assert used == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"), torch_threads(0):
        pass


def test_sampling_stops_when_noise_settles_or_at_the_cap() -> None:
    policy = TimingPolicy(min_samples=5, max_samples=50, target_noise=0.05, time_cap_s=1.0)
    assert _should_stop([1.0] * 4, 0.1, policy) == ""  # too few samples
    assert _should_stop([1.0] * 5, 0.1, policy).startswith("noise 0.0%")
    noisy = [1.0, 2.0, 1.0, 2.0, 1.5]
    assert _should_stop(noisy, 0.1, policy) == ""  # noisy and under the cap: go on
    assert _should_stop(noisy, 1.5, policy).startswith("time cap 1 s")
    assert _should_stop([1.0, 2.0] * 25, 0.1, policy) == "max samples (50)"
    with pytest.raises(ValueError, match="min_samples"):
        TimingPolicy(min_samples=0)


def test_spread_statistics() -> None:
    assert interquartile_range([1.0, 2.0, 3.0, 4.0, 5.0]) == 2.0
    assert interquartile_range([3.0]) == 0.0
    assert robust_noise([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0 / 3.0)


def test_l2_flush_is_twice_the_reported_l2() -> None:
    h100_like = SimpleNamespace(L2_cache_size=50 * 2**20)
    assert l2_flush_bytes(h100_like) == 100 * 2**20
    assert l2_flush_bytes(SimpleNamespace(L2_cache_size=256 * 1024)) == 1 << 20  # at least 1 MiB
    with pytest.raises(ValueError, match="L2_cache_size"):
        l2_flush_bytes(SimpleNamespace())


def test_exact_power_law_fits_its_exponent() -> None:
    sizes = geometric_ladder(256, 4096, 5)
    samples = [[3e-9 * n**2] * 5 for n in sizes]
    fit = fit_exponent(sizes, samples, resamples=200)
    assert fit.exponent == pytest.approx(2.0, abs=1e-9)
    assert fit.ci[0] == pytest.approx(2.0, abs=1e-9) and fit.ci[1] == pytest.approx(2.0, abs=1e-9)
    assert fit.r_squared == pytest.approx(1.0)


def test_noisy_power_law_interval_covers_the_exponent() -> None:
    generator = torch.Generator().manual_seed(1)
    sizes = geometric_ladder(1024, 16384, 6)
    samples = [
        [1e-7 * n * math.log(n) * (1 + 0.05 * float(torch.randn(1, generator=generator))) for _ in range(9)]
        for n in sizes
    ]
    fit = fit_exponent(sizes, samples)
    assert 1.0 < fit.exponent < 1.2  # n log n over this ladder
    assert fit.ci[0] < fit.exponent < fit.ci[1]


def test_sizes_below_the_floor_are_kept_but_not_fitted() -> None:
    sizes = [100, 200, 400, 800, 1600]
    samples = [[5e-6], [6e-6], [4e-4], [1.6e-3], [6.4e-3]]  # the first two are overhead-bound
    fit = fit_exponent(sizes, samples, min_value=1e-4, resamples=10)
    assert fit.used == [False, False, True, True, True]
    assert fit.exponent == pytest.approx(2.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 3 sizes"):
        fit_exponent(sizes, samples, min_value=1e-3)


def test_geometric_ladder() -> None:
    assert geometric_ladder(512, 4096, 4) == [512, 1024, 2048, 4096]
    assert all(n % 64 == 0 for n in geometric_ladder(1000, 9000, 5, multiple_of=64))
    with pytest.raises(ValueError, match="start < stop"):
        geometric_ladder(10, 5, 3)


def _result(median_s: float, **kwargs: object) -> BenchmarkResult:
    return BenchmarkResult(
        name="x",
        family="demo",
        device="cpu",
        params={},
        samples_s=[median_s],
        median_s=median_s,
        iqr_s=0.0,
        calls_per_sample=1,
        **kwargs,
    )


def test_roofline_fraction_and_impossible_rates_are_flagged() -> None:
    ceilings = {"matmul-float32": {"value": 1e12, "unit": "FLOP/s"}, "copy": {"value": 1e11, "unit": "B/s"}}
    compute = place_on_roofline(_result(1e-3, flops=5e8, ceiling="matmul-float32"), ceilings)
    assert compute.achieved_flops_per_s == pytest.approx(5e11) and compute.ceiling_fraction == pytest.approx(0.5)
    assert compute.flags == []
    memory = place_on_roofline(_result(1e-3, bytes_moved=2e8, ceiling="copy"), ceilings)
    assert memory.ceiling_fraction == pytest.approx(2.0)
    assert memory.flags and "measurement error" in memory.flags[0]


def test_cpu_ceilings_are_measured() -> None:
    ceilings = measure_ceilings("cpu", QUICK)
    assert set(ceilings) == {"matmul-float32", "copy"}
    assert ceilings["matmul-float32"]["unit"] == "FLOP/s" and ceilings["matmul-float32"]["value"] > 1e8
    assert ceilings["copy"]["unit"] == "B/s" and ceilings["copy"]["value"] > 1e8


def test_sampling_benchmarks_time_and_check_each_operation() -> None:
    ceilings = {"copy": {"value": 1e15, "unit": "B/s"}}
    results = sampling_benchmarks(load_adapter("reference"), "quick", batch=4, vocab=64, ceilings=ceilings)
    operations = ("temperature", "top_k", "top_p", "min_p", "process")
    assert [r.name for r in results] == [f"sampling.{op}" for op in operations]
    assert all(r.correct and r.ceiling == "copy" and r.ceiling_fraction is not None for r in results)
    assert all(r.bytes_moved == 2 * 4 * 64 * 4 for r in results)


def test_sampling_benchmarks_refuse_a_wrong_answer() -> None:
    mutant = load_adapter("specformer.conformance.mutants.sampling:TopKOffByOne")
    results = {r.name: r.correct for r in sampling_benchmarks(mutant, "quick", batch=4, vocab=64)}
    assert results["sampling.top_k"] is False and results["sampling.top_p"] is True


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_cuda_timing_without_a_device_says_so() -> None:
    with pytest.raises(RuntimeError, match="needs a CUDA device"):
        time_cuda(lambda: None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_cold_and_hot_timing_smoke() -> None:
    a = torch.randn(1024, 1024, device="cuda")
    cold = time_cuda(lambda: a @ a, QUICK, mode="cold")
    hot = time_cuda(lambda: a @ a, QUICK, mode="hot", calls_per_replay=8)
    assert cold.mode == "cold" and hot.mode == "hot" and hot.calls_per_sample == 8
    assert cold.median_s > 0 and hot.median_s > 0


def test_ladder_is_sampled_in_rounds_and_min_resists_disturbance() -> None:
    from specformer.conformance.bench.scaling import time_ladder

    order: list[int] = []
    calls = {n: (lambda n=n: order.append(n)) for n in (1, 2, 3)}
    samples = time_ladder(calls, TimingPolicy(min_sample_s=0.0), rounds=4)
    assert [len(s) for s in samples] == [4, 4, 4]
    assert order[-6:] == [1, 2, 3, 1, 2, 3]  # interleaved, not size by size
    # One disturbed sample per size barely moves a fit on the fastest samples.
    sizes = [1000, 2000, 4000, 8000]
    disturbed = [[1e-6 * n, 1e-6 * n * (5 if i == 1 else 1), 1e-6 * n] for i, n in enumerate(sizes)]
    assert fit_exponent(sizes, disturbed, statistic="min", resamples=50).exponent == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="statistic"):
        fit_exponent(sizes, disturbed, statistic="mean")


# ---------------------------------------------------------------------------------------
# Tokenizer benchmarks (conformance/bench/tokenizers.py), at tiny sizes

TINY_TOKENIZER_SIZES = tokenizer_bench.Sizes(encode_bytes=3_000, train_merges=20, train_bytes=4_000, train_cap_s=60.0)


def _tokenizer_rows(adapter: object, sizes: tokenizer_bench.Sizes = TINY_TOKENIZER_SIZES) -> dict[str, BenchmarkResult]:
    rows = tokenizer_bench.tokenizer_benchmarks(adapter, "quick", sizes=sizes, policy=QUICK)
    return {row.name: row for row in rows}


def test_tokenizer_benchmarks_time_and_check_each_operation() -> None:
    pytest.importorskip("faker")  # the corpus
    rows = _tokenizer_rows(load_adapter("reference"))
    expected = {"tokenizers.bpe_train", "tokenizers.wordpiece_encode", "tokenizers.encode_batch"}
    if tokenizer_bench.tekken() is not None:
        expected.add("tokenizers.bpe_encode")
    if tokenizer_bench.sentencepiece_model() is not None:
        expected.add("tokenizers.sentencepiece_encode")
    if tokenizer_bench.minilm_vocab() is None:
        expected -= {"tokenizers.wordpiece_encode", "tokenizers.encode_batch"}
    assert set(rows) == expected
    for name, row in rows.items():
        assert row.correct is True, name
        assert row.ceiling == "" and row.ceiling_fraction is None and row.family == "tokenizers" and row.threads == 1
        if name != "tokenizers.bpe_train":  # throughput: MB/s of UTF-8 input
            assert row.bytes_moved == row.params["text_bytes"] > 0
            assert row.achieved_bytes_per_s == pytest.approx(row.bytes_moved / row.median_s)
    train = rows["tokenizers.bpe_train"]
    assert train.params["merges"] == 20 and train.params["tie_break"] == "first-occurrence"
    assert 0 < train.params["text_bytes"] <= 4_000


def test_tokenizer_benchmarks_refuse_a_wrong_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("faker")
    monkeypatch.syspath_prepend(str(FIXTURES))
    from fake_adapters import WrongTrainer

    rows = _tokenizer_rows(LoadedAdapter(spec="wrong", impl=WrongTrainer()))
    assert list(rows) == ["tokenizers.bpe_train"] and rows["tokenizers.bpe_train"].correct is False


def test_a_slow_trainer_is_timed_at_a_smaller_size_and_says_so() -> None:
    pytest.importorskip("faker")
    calls: list[tuple[int, int]] = []

    class SlowTrainer:
        name = "slow"
        capabilities = load_adapter("reference").capabilities

        def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
            calls.append((num_merges, len(text.encode("utf-8"))))
            # merges x bytes, as a trainer that rescans its text per merge: 0.05 s at the probe, 0.2 s at the
            # calibration size, so the quick size would take ~2.5 s and the asked-for size ~hours.
            time.sleep(0.05 * num_merges * len(text) / (probe_merges * probe_bytes))
            return []

    probe_merges, probe_bytes = tokenizer_bench.TRAIN_PROBE
    sizes = tokenizer_bench.Sizes(encode_bytes=1_000, train_merges=4_000, train_bytes=1_000_000, train_cap_s=1.0)
    row = _tokenizer_rows(LoadedAdapter(spec="slow", impl=SlowTrainer()), sizes)["tokenizers.bpe_train"]
    merges, n_bytes = tokenizer_bench.TRAIN_CALIBRATION
    assert (row.params["merges"], row.params["text_bytes"] <= n_bytes) == (merges, True)
    assert f"timed at {merges:,} merges on {n_bytes:,} bytes: 500 merges on 100,000 bytes" in row.note
    assert {merges for merges, _ in calls} == {probe_merges, merges}  # the quick size was estimated, never run
    assert "checked" not in row.note  # a wrong answer: the note never says it was checked and held


def test_the_training_estimate_is_calibrated_by_two_measured_runs() -> None:
    """CPU seconds measured here (2 cores, loaded) for HF tokenizers' heap-based BpeTrainer and for the
    reference trainer, which rescans its words per merge: scaling merges x bytes overstated HF's 1 MB
    run 7-fold; the calibrated estimate is within 30 % for both."""
    heap = {(50, 20_000): 0.033, (100, 40_000): 0.044, (500, 100_000): 0.201, (4_000, 1_000_000): 2.333}
    rescans = {(50, 20_000): 0.475, (100, 40_000): 1.659, (500, 100_000): 20.397}
    quick, wanted = (500, 100_000), (4_000, 1_000_000)
    estimate = tokenizer_bench.estimate_seconds(((100, 40_000), heap[100, 40_000]), (quick, heap[quick]), wanted)
    assert estimate == pytest.approx(heap[wanted], rel=0.3)
    assert heap[quick] * 80 > 6 * heap[wanted]  # the old estimate: (4,000 x 1 MB) / (500 x 100 kB) = 80
    probes = [((50, 20_000), rescans[50, 20_000]), ((100, 40_000), rescans[100, 40_000])]
    assert tokenizer_bench.estimate_seconds(*probes, quick) == pytest.approx(rescans[quick], rel=0.3)
    # The whole choice, on the heap trainer's numbers: ci's full size fits its 20 s cap, and is chosen.
    ran: list[tuple[int, int]] = []
    seconds_of = lambda train, size: ran.append(size) or heap[size]  # noqa: E731
    chosen = tokenizer_bench._training_size(None, tokenizer_bench.SIZES["ci"], seconds_of)
    assert chosen == (*wanted, "seconds per training run") and ran == [*heap]  # each size run once, in order


def test_library_adapters_add_batched_rows_with_their_thread_counts() -> None:
    pytest.importorskip("faker")
    pytest.importorskip("tiktoken")
    if tokenizer_bench.tekken() is None:
        pytest.skip("mistral_common's tekken file is not installed")
    rows = _tokenizer_rows(load_adapter("tiktoken"))
    batched = rows["tokenizers.bpe_encode_batch"]
    assert batched.correct is True and batched.threads == batched.params["threads"] >= 1
    assert batched.params["strings"] > 1 and rows["tokenizers.bpe_encode"].threads == 1


def test_a_fast_trainer_is_timed_at_the_size_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("faker")
    monkeypatch.setattr(tokenizer_bench, "TRAIN_CHECKED_MERGES", 20)
    sizes_run: list[int] = []

    class FastTrainer:
        name = "fast"
        capabilities = load_adapter("reference").capabilities

        def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
            sizes_run.append(num_merges)
            return []  # wrong, but instant: this test is about the size chosen

    sizes = tokenizer_bench.Sizes(encode_bytes=1_000, train_merges=150, train_bytes=50_000, train_cap_s=60.0)
    row = _tokenizer_rows(LoadedAdapter(spec="fast", impl=FastTrainer()), sizes)["tokenizers.bpe_train"]
    assert row.params["merges"] == 150 and "timed at" not in row.note and row.correct is False
    assert "checked: its first 20 merges differ from the reference trainer's" in row.note  # never "equal"
    # The two calibration runs, then the size asked for (the quick size is larger, so it is skipped), the timing.
    calibration = [tokenizer_bench.TRAIN_PROBE[0], tokenizer_bench.TRAIN_CALIBRATION[0]]
    assert sizes_run[:3] == [*calibration, 150] and set(sizes_run[3:]) == {150}
