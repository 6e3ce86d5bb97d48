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
tables, token and (GPT-2) position, of which it gathers B rows) and the whole KV cache of its
context, so with the copy bandwidth measured at the start of the run (roofline.measure_ceilings,
bytes read + written per second) no step can take less than

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


# The models timed, each row labelled with its name (params "model") and cache kind (params "cache").
# GPT-2 is the course's model: GPT2LMHeadModel's layout (learned positions, LayerNorm, GELU MLP, tied
# widths), at a small width under quick and ci, because GPT-2 124M's shape costs this project's 2-core
# CPU about 1 s of prefill per 512 tokens and 0.5 GB of float32 weights per adapter, per round: the
# CI budget cannot hold its ladder. Its position table holds the longest context timed plus the new
# tokens (GPT-2's 1024 would not hold ci's 1024-token context + 8). The Llama shape (RoPE, RMSNorm,
# SwiGLU) at the same width, and GPT-2 124M's real shape (batch 1, two contexts) run under thorough.
SMALL = dict(vocab_size=4096, hidden_size=256, num_layers=4, num_heads=4, num_kv_heads=4, intermediate_size=1024)
BENCH_MODELS: dict[str, dict[str, Any]] = {
    "gpt2": dict(architecture="gpt2", **SMALL),
    "llama": dict(SMALL),
    "gpt2-124m": dict(
        architecture="gpt2",
        vocab_size=50257,
        hidden_size=768,
        num_layers=12,
        num_heads=12,
        num_kv_heads=12,
        intermediate_size=3072,
        max_positions=1024,
    ),
}
MODELS = {"quick": ["gpt2"], "ci": ["gpt2"], "thorough": ["gpt2", "llama", "gpt2-124m"]}
BENCH_CONFIG_KW = BENCH_MODELS["gpt2"]  # the first model of every profile (the cache and decode-step rows)
CONTEXTS = {"quick": [64, 128, 256], "ci": [128, 256, 512, 1024], "thorough": [128, 256, 512, 1024, 2048]}
BATCHES = {"quick": [1, 4], "ci": [1, 4, 16], "thorough": [1, 4, 16, 64]}
# Ladders of a model too large for the profile's: GPT-2 124M at batch 1, two contexts, three rounds.
LARGE_LADDERS = {"gpt2-124m": dict(contexts=[128, 512], batches=[1], rounds=3)}
NEW_TOKENS = 8
THROUGHPUT_CONTEXT = 64  # the prompt length of the throughput rows
# Embedding tables: a decode step gathers B rows of each, it does not stream them (the floor below).
EMBEDDINGS = ("model.embed_tokens.weight", "transformer.wte.weight", "transformer.wpe.weight")


def cache_kinds(adapter: Any) -> tuple[str, ...]:
    """The cache kinds an adapter's generate() implements as different caches (its `generation_cache_kinds`):
    hf's DynamicCache and StaticCache; the torch loop's one static cache (gpt-fast's); else dynamic."""
    impl = getattr(adapter, "impl", adapter)
    return tuple(getattr(impl, "generation_cache_kinds", ("dynamic",)))


def bench_config(name: str, profile: str) -> Any:
    """The DecoderConfig of a benchmark model; a small GPT-2's position table fits the profile's ladder."""
    from specformer.reference import kv_cache

    keywords = dict(BENCH_MODELS[name])
    if keywords.get("architecture") == "gpt2" and "max_positions" not in keywords:
        keywords["max_positions"] = max(*CONTEXTS.get(profile, CONTEXTS["ci"]), THROUGHPUT_CONTEXT) + NEW_TOKENS
    return kv_cache.DecoderConfig(**keywords)


def cache_bytes(config: Any, batch: int, positions: int, dtype: Any) -> int:
    """KV-SIZE-01's bytes of a cache of `config` (a DecoderConfig: its layers, KV heads and head dim)."""
    from specformer.reference import kv_cache

    return kv_cache.expected_cache_bytes(
        layers=config.num_layers,
        batch=batch,
        kv_heads=config.num_kv_heads,
        positions=positions,
        head_dim=config.head_dim,
        dtype=dtype,
    )


def generation_benchmarks(
    adapter: Any,
    profile: str = "ci",
    *,
    device: str = "cpu",
    ceilings: dict[str, dict[str, Any]] | None = None,
    config: Any = None,
) -> list[Any]:
    """TTFT, TPOT, throughput and cache memory of the adapter's generate() and cache (GEN-MET-01..04).

    Per model (MODELS[profile]; `config` replaces them with one model labelled "custom") and per
    cache kind the adapter implements (cache_kinds: hf's dynamic and static caches side by side):
    TTFT and TPOT against context, and the cache's measured bytes against KV-SIZE-01's formula
    (positions = the tokens written for a dynamic cache, the capacity prompt + new tokens for a
    static one). Throughput against batch size with the adapter's first cache kind. Each row's tokens
    are checked once against the reference's greedy tokens (`correct`), each memory row against the
    formula. Decode steps with and without a cache are timed over the context ladder on the first
    model, with their fitted exponents (KV-COST-01, CPLX-DECODE-01/02 end to end). CPU only for now:
    a GPU run times the same calls.
    """
    from specformer.conformance.bench.timer import POLICIES

    generate = adapter.operation("generate")
    cache_state = adapter.operation("cache_after_prefill")
    runner = adapter.operation("decode_step_runner")
    # An adapter of the kv_cache family alone (the torch one) has no generate(): its cache rows still run.
    if (generate is None and cache_state is None and runner is None) or device != "cpu":
        return []
    policy = POLICIES.get(profile, POLICIES["ci"])
    models = {"custom": config} if config is not None else {m: bench_config(m, profile) for m in MODELS[profile]}
    results: list[Any] = []
    for index, (name, model_config) in enumerate(models.items()):
        ladder = LARGE_LADDERS.get(name, {})
        results += _model_benchmarks(
            adapter,
            name,
            model_config,
            contexts=ladder.get("contexts", CONTEXTS.get(profile, CONTEXTS["ci"])),
            batches=ladder.get("batches", BATCHES.get(profile, BATCHES["ci"])),
            rounds=ladder.get("rounds", max(3, policy.min_samples)),
            policy=policy if index == 0 else None,
            device=device,
            ceilings=ceilings,
        )
    return results


def _model_benchmarks(
    adapter: Any,
    model: str,
    config: Any,
    *,
    contexts: list[int],
    batches: list[int],
    rounds: int,
    policy: Any,
    device: str,
    ceilings: dict[str, dict[str, Any]] | None,
) -> list[Any]:
    """One model's rows (generation_benchmarks); the decode-step ladders only when `policy` is given."""
    import torch

    from specformer.conformance.bench.observe import row_done, starting
    from specformer.conformance.bench.scaling import fit_exponent, time_ladder
    from specformer.conformance.results import BenchmarkResult
    from specformer.reference import generation, kv_cache

    generate = adapter.operation("generate")
    cache_state = adapter.operation("cache_after_prefill")
    runner = adapter.operation("decode_step_runner")
    weights = kv_cache.random_decoder(config, seed=0)
    shape = {k: getattr(config, k) for k in SMALL} | {"architecture": config.architecture}
    kinds = cache_kinds(adapter)
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
                params={"model": model, **params},
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
    gathered = sum(t.numel() * t.element_size() for k, t in weights.params.items() if k in EMBEDDINGS)
    streamed = weight_bytes(weights.params) - gathered

    def floor(batch: int, context: int) -> dict[str, Any]:
        """The weight-bandwidth floor of one decode step (module docstring); {} without a measured bandwidth."""
        if not bandwidth:
            return {}
        step = streamed + cache_bytes(config, batch, context, weights.dtype)
        return {"bytes_per_step": step, "bandwidth_bytes_per_s": bandwidth, "floor_s": step / bandwidth}

    def prompt_of(batch: int, length: int, seed: int) -> torch.Tensor:
        return torch.randint(0, config.vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))

    expected_at: dict[int, torch.Tensor] = {}  # the reference's greedy tokens per context, for every cache kind
    for kind in kinds if generate is not None else ():
        greedy = generation.GenerationConfig(max_new_tokens=NEW_TOKENS, cache_kind=kind)
        for n in contexts:
            prompt = prompt_of(1, n, n)
            if n not in expected_at:
                reference = generation.generate(weights, prompt, generation.GenerationConfig(max_new_tokens=NEW_TOKENS))
                expected_at[n] = reference.sequences
            expected = expected_at[n]
            starting("generation.ttft+tpot", {"cache": kind, "context": n, "batch": 1, "new_tokens": NEW_TOKENS})
            ttft, tpot, correct = [], [], True
            for _ in range(rounds):
                out, start, instants = timed_run(
                    lambda on_token, p=prompt, c=greedy: generate(weights, p, c, on_token=on_token)
                )
                metrics = serving_metrics(start, instants, batch=1)
                ttft.append(metrics.ttft_s)
                tpot.append(metrics.tpot_s or 0.0)
                correct = correct and torch.equal(out.sequences, expected)
            params = {"cache": kind, "context": n, "batch": 1, "new_tokens": NEW_TOKENS, "dtype": "float32", **shape}
            row("generation.ttft", ttft, params, size=n, correct=correct)
            row("generation.tpot", tpot, {**params, **floor(1, n)}, size=n, correct=correct)

    greedy = generation.GenerationConfig(max_new_tokens=NEW_TOKENS, cache_kind=kinds[0])
    for batch in batches if generate is not None else []:
        prompt = prompt_of(batch, THROUGHPUT_CONTEXT, batch)
        expected = generation.generate(
            weights, prompt, generation.GenerationConfig(max_new_tokens=NEW_TOKENS)
        ).sequences
        starting("generation.throughput", {"batch": batch, "context": THROUGHPUT_CONTEXT, "new_tokens": NEW_TOKENS})
        walls, correct = [], True
        for _ in range(rounds):
            out, start, instants = timed_run(lambda on_token, p=prompt: generate(weights, p, greedy, on_token=on_token))
            walls.append(instants[-1] - start)
            correct = correct and torch.equal(out.sequences, expected)
        median = sorted(walls)[len(walls) // 2]
        bound = floor(batch, THROUGHPUT_CONTEXT)
        if bound:
            bound = {"floor_tokens_per_s": batch / bound["floor_s"], **bound}
        params = {"cache": kinds[0], "batch": batch, "context": THROUGHPUT_CONTEXT, "new_tokens": NEW_TOKENS}
        row(
            "generation.throughput",
            walls,
            {**params, "tokens_per_s": batch * NEW_TOKENS / median, **bound},
            size=batch,
            correct=correct,
        )

    for kind in kinds if cache_state is not None else ():
        for n in contexts:
            capacity = n + NEW_TOKENS if kind == "static" else n  # a static cache sized for the request
            starting("kv_cache.memory", {"cache": kind, "context": n})
            measured = cache_state(weights, prompt_of(1, n, n), cache_kind=kind, max_cache_len=capacity).nbytes
            formula = cache_bytes(config, 1, capacity, weights.dtype)
            params = {"cache": kind, "context": n, "positions": capacity, "cache_bytes": measured}
            params |= {"formula_bytes": formula, "weight_bytes": weight_bytes(weights.params)}
            row("kv_cache.memory", [0.0], params, size=n, correct=measured == formula)
    if runner is not None and policy is not None:
        prompts = {n: prompt_of(1, n, n) for n in contexts}
        for use_cache in (True, False):
            starting("kv_cache.decode_step" + ("" if use_cache else "_no_cache"), {"contexts": contexts})
            samples = time_ladder({n: runner(weights, ids, use_cache=use_cache) for n, ids in prompts.items()}, policy)
            fit = fit_exponent(contexts, samples, statistic="min")
            for n, values in zip(contexts, samples, strict=True):
                row(
                    "kv_cache.decode_step" + ("" if use_cache else "_no_cache"),
                    values,
                    {"context": n, "exponent": round(fit.exponent, 3), "exponent_ci": [round(v, 3) for v in fit.ci]},
                    size=n,
                    correct=None,
                )
    return results
