"""Serving metrics of a generation run, timed (the definitions: reference/generation.py, GEN-MET-01 .. GEN-MET-04).

A run is timed by the adapter's `on_token` callback: the harness notes `perf_counter()` at the
start of the request and at each step's tokens. From those instants:

    TTFT        = t_first - t_start                           (prefill + first token)
    E2E         = t_last - t_start
    TPOT        = (E2E - TTFT) / (N - 1), undefined for N <= 1 (vLLM's benchmarks/serve.py)
    throughput  = B * N / E2E generated tokens per second, batch size B reported with it

Memory: the weights' bytes (sum of the parameters' storage) and the cache's bytes (the
kv_cache family's measured buffers, against KV-SIZE-01's formula), reported separately.

The weight-bandwidth floor: a decode step must read every weight once (all but the embedding
table, of which it gathers B rows) and the whole KV cache of its context, so with the copy
bandwidth measured at the start of the run (roofline.measure_ceilings, bytes read + written per
second) no step can take less than

    floor_s = (weight bytes - embedding bytes + KV-SIZE-01 bytes at the context) / bandwidth

TPOT rows carry it (`floor_s`, `bytes_per_step`, `bandwidth_bytes_per_s`), throughput rows the
decode-only bound `floor_tokens_per_s` = batch / floor_s; the report shows TPOT against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from specformer.reference.generation import serving_metrics, weight_bytes


def timed_run(run: Callable[[Callable[[], None]], Any]) -> tuple[Any, float, list[float]]:
    """Call run(on_token); return its result, the start instant and each on_token instant."""
    instants: list[float] = []
    start = time.perf_counter()
    result = run(lambda: instants.append(time.perf_counter()))
    return result, start, instants


# ---------------------------------------------------------------------------------------
# Benchmarks: TTFT and TPOT against context, throughput against batch, cache memory


# A small GPT-2-like shape for CPU runs (the 124M shape is for a GPU run: pass `config`).
BENCH_CONFIG_KW = dict(
    vocab_size=4096, hidden_size=256, num_layers=4, num_heads=4, num_kv_heads=4, intermediate_size=1024
)
CONTEXTS = {"quick": [64, 128, 256], "ci": [128, 256, 512, 1024], "thorough": [128, 256, 512, 1024, 2048]}
BATCHES = {"quick": [1, 4], "ci": [1, 4, 16], "thorough": [1, 4, 16, 64]}
NEW_TOKENS = 8


def generation_benchmarks(
    adapter: Any,
    profile: str = "ci",
    *,
    device: str = "cpu",
    ceilings: dict[str, dict[str, Any]] | None = None,
    config: Any = None,
) -> list[Any]:
    """TTFT, TPOT, throughput and cache memory of the adapter's generate() and cache (GEN-MET-01..04).

    Each row's tokens are checked once against the reference's greedy tokens (`correct`); the
    cache's measured bytes against KV-SIZE-01's formula (in params). Decode steps with and
    without a cache are timed over the context ladder with their fitted exponents (KV-COST-01,
    CPLX-DECODE-01/02 end to end). CPU only for now: a GPU run times the same calls.
    """
    import torch

    from specformer.conformance.bench.observe import row_done, starting
    from specformer.conformance.bench.scaling import fit_exponent, time_ladder
    from specformer.conformance.bench.timer import POLICIES
    from specformer.conformance.results import BenchmarkResult
    from specformer.reference import generation, kv_cache

    generate = adapter.operation("generate")
    cache_state = adapter.operation("cache_after_prefill")
    runner = adapter.operation("decode_step_runner")
    # An adapter of the kv_cache family alone (the torch one) has no generate(): its cache rows still run.
    if (generate is None and cache_state is None and runner is None) or device != "cpu":
        return []
    policy = POLICIES.get(profile, POLICIES["ci"])
    rounds = max(3, policy.min_samples)
    config = config or kv_cache.DecoderConfig(**BENCH_CONFIG_KW)
    weights = kv_cache.random_decoder(config, seed=0)
    results: list[BenchmarkResult] = []

    def row(name: str, samples: list[float], params: dict[str, Any], *, size: int | None, correct: bool | None):
        ordered = sorted(samples)
        median = ordered[len(ordered) // 2]
        iqr = ordered[(3 * len(ordered)) // 4] - ordered[len(ordered) // 4]
        results.append(
            BenchmarkResult(
                name=name,
                family="generation",
                device=device,
                params=params,
                samples_s=samples,
                median_s=median,
                iqr_s=iqr,
                calls_per_sample=1,
                size=size,
                correct=correct,
                note="seconds per request (TTFT, TPOT) or per run",
            )
        )
        row_done(results[-1])

    bandwidth = ((ceilings or {}).get("copy") or {}).get("value")
    embedding = weights.params["model.embed_tokens.weight"]
    streamed = weight_bytes(weights.params) - embedding.numel() * embedding.element_size()

    def floor(batch: int, context: int) -> dict[str, Any]:
        """The weight-bandwidth floor of one decode step (module docstring); {} without a measured bandwidth."""
        if not bandwidth:
            return {}
        cache = kv_cache.expected_cache_bytes(
            layers=config.num_layers,
            batch=batch,
            kv_heads=config.num_kv_heads,
            positions=context,
            head_dim=config.head_dim,
            dtype=weights.dtype,
        )
        step = streamed + cache
        return {"bytes_per_step": step, "bandwidth_bytes_per_s": bandwidth, "floor_s": step / bandwidth}

    greedy = generation.GenerationConfig(max_new_tokens=NEW_TOKENS)
    for n in CONTEXTS.get(profile, CONTEXTS["ci"]) if generate is not None else []:
        prompt = torch.randint(0, config.vocab_size, (1, n), generator=torch.Generator().manual_seed(n))
        expected = generation.generate(weights, prompt, greedy).sequences
        starting("generation.ttft+tpot", {"context": n, "batch": 1, "new_tokens": NEW_TOKENS})
        ttft, tpot, correct = [], [], True
        for _ in range(rounds):
            out, start, instants = timed_run(lambda on_token, p=prompt: generate(weights, p, greedy, on_token=on_token))
            metrics = serving_metrics(start, instants, batch=1)
            ttft.append(metrics.ttft_s)
            tpot.append(metrics.tpot_s or 0.0)
            correct = correct and torch.equal(out.sequences, expected)
        params = {"context": n, "batch": 1, "new_tokens": NEW_TOKENS, "dtype": "float32", **BENCH_CONFIG_KW}
        row("generation.ttft", ttft, params, size=n, correct=correct)
        row("generation.tpot", tpot, {**params, **floor(1, n)}, size=n, correct=correct)

    for batch in BATCHES.get(profile, BATCHES["ci"]) if generate is not None else []:
        prompt = torch.randint(0, config.vocab_size, (batch, 64), generator=torch.Generator().manual_seed(batch))
        expected = generation.generate(weights, prompt, greedy).sequences
        starting("generation.throughput", {"batch": batch, "context": 64, "new_tokens": NEW_TOKENS})
        walls, correct = [], True
        for _ in range(rounds):
            out, start, instants = timed_run(lambda on_token, p=prompt: generate(weights, p, greedy, on_token=on_token))
            walls.append(instants[-1] - start)
            correct = correct and torch.equal(out.sequences, expected)
        median = sorted(walls)[len(walls) // 2]
        bound = floor(batch, 64)
        if bound:
            bound = {"floor_tokens_per_s": batch / bound["floor_s"], **bound}
        row(
            "generation.throughput",
            walls,
            {
                "batch": batch,
                "context": 64,
                "new_tokens": NEW_TOKENS,
                "tokens_per_s": batch * NEW_TOKENS / median,
                **bound,
            },
            size=batch,
            correct=correct,
        )

    if cache_state is not None:
        for n in CONTEXTS.get(profile, CONTEXTS["ci"]):
            prompt = torch.randint(0, config.vocab_size, (1, n), generator=torch.Generator().manual_seed(n))
            starting("kv_cache.memory", {"context": n})
            measured = cache_state(weights, prompt).nbytes
            formula = kv_cache.expected_cache_bytes(
                layers=config.num_layers,
                batch=1,
                kv_heads=config.num_kv_heads,
                positions=n,
                head_dim=config.head_dim,
                dtype=torch.float32,
            )
            row(
                "kv_cache.memory",
                [0.0],
                {
                    "context": n,
                    "cache_bytes": measured,
                    "formula_bytes": formula,
                    "weight_bytes": weight_bytes(weights.params),
                },
                size=n,
                correct=measured == formula,
            )
    if runner is not None:
        sizes = CONTEXTS.get(profile, CONTEXTS["ci"])
        contexts = {
            n: torch.randint(0, config.vocab_size, (1, n), generator=torch.Generator().manual_seed(n)) for n in sizes
        }
        for use_cache in (True, False):
            starting("kv_cache.decode_step" + ("" if use_cache else "_no_cache"), {"contexts": sizes})
            samples = time_ladder({n: runner(weights, ids, use_cache=use_cache) for n, ids in contexts.items()}, policy)
            fit = fit_exponent(sizes, samples, statistic="min")
            for n, values in zip(sizes, samples, strict=True):
                row(
                    "kv_cache.decode_step" + ("" if use_cache else "_no_cache"),
                    values,
                    {"context": n, "exponent": round(fit.exponent, 3), "exponent_ci": [round(v, 3) for v in fit.ci]},
                    size=n,
                    correct=None,
                )
    return results
