"""The generation benchmarks say what they measured: GPT-2 (the course's model), each row labelled with
its model and cache kind, hf's static cache beside its dynamic one, the static cache's bytes against
KV-SIZE-01 at its capacity (bench/generation.py).

Cheap by construction: a one-layer GPT-2 of width 32 stands in for the small GPT-2 width, a short
context ladder, and only generate() and cache_after_prefill (no decode-step timing ladder).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from specformer.conformance.adapters import load_adapter
from specformer.conformance.bench import generation
from specformer.conformance.bench.timer import torch_threads
from specformer.conformance.report.measurements import generation_tables
from specformer.conformance.results import AdapterResult, RunResult

TINY_GPT2 = dict(
    architecture="gpt2", vocab_size=64, hidden_size=32, num_layers=1, num_heads=4, num_kv_heads=4, intermediate_size=64
)


class Only:
    """An adapter limited to the named operations (the decode-step ladder is left out)."""

    def __init__(self, adapter: Any, *names: str) -> None:
        self.adapter, self.names, self.spec, self.impl = adapter, names, adapter.spec, adapter.impl
        self.capabilities = adapter.capabilities

    def operation(self, name: str) -> Any:
        return self.adapter.operation(name) if name in self.names else None


@pytest.fixture(scope="module")
def rows() -> dict[str, list[Any]]:
    """Each built-in adapter's generation rows on the tiny GPT-2 under quick (context 8, batch 1), with a made-up
    bandwidth."""
    patch = pytest.MonkeyPatch()
    patch.setitem(generation.BENCH_MODELS, "gpt2", TINY_GPT2)
    patch.setitem(generation.CONTEXTS, "quick", [8])
    patch.setitem(generation.BATCHES, "quick", [1])
    try:
        out = {}
        with torch_threads(1):  # a tiny model: threads only add contention
            for name in ("reference", "hf", "torch"):
                adapter = Only(load_adapter(name), "generate", "cache_after_prefill")
                out[name] = generation.generation_benchmarks(adapter, "quick", ceilings={"copy": {"value": 1e10}})
        return out
    finally:
        patch.undo()


def test_profiles_time_gpt2_first_and_the_124m_shape_under_thorough() -> None:
    for profile in ("quick", "ci", "thorough"):
        assert generation.bench_config(generation.MODELS[profile][0], profile).architecture == "gpt2"
    assert generation.MODELS["thorough"] == ["gpt2", "llama", "gpt2-124m"]
    big = generation.bench_config("gpt2-124m", "thorough")  # GPT2Config()'s defaults: 124M
    assert (big.vocab_size, big.hidden_size, big.num_layers, big.num_heads, big.max_positions) == (
        50257, 768, 12, 12, 1024
    )  # fmt: skip
    assert big.intermediate_size == 4 * big.hidden_size
    # a small GPT-2's position table holds the longest context timed plus the new tokens
    assert generation.bench_config("gpt2", "ci").max_positions == 1024 + generation.NEW_TOKENS


def test_every_row_names_its_model_and_cache(rows) -> None:
    for adapter, benches in rows.items():
        assert benches, adapter
        for bench in benches:
            assert bench.params["model"] == "gpt2", (adapter, bench.name)
            assert bench.params["cache"] in ("dynamic", "static"), (adapter, bench.name)
            assert bench.correct is True, (adapter, bench.name, bench.params)
    kinds = {a: {b.params["cache"] for b in benches if b.name == "generation.tpot"} for a, benches in rows.items()}
    assert kinds == {"reference": {"dynamic"}, "hf": {"dynamic", "static"}, "torch": {"static"}}


def test_static_cache_memory_is_the_formula_at_capacity(rows) -> None:
    memory = [b for b in rows["hf"] if b.name == "kv_cache.memory"]
    by_kind = {(b.params["cache"], b.params["context"]): b.params for b in memory}
    assert set(by_kind) == {("dynamic", 8), ("static", 8)}
    per_position = by_kind[("dynamic", 8)]["cache_bytes"] // 8  # 2 x layers x heads x head_dim x 4 bytes
    assert per_position == 2 * 1 * 4 * 8 * 4
    for (kind, context), params in by_kind.items():
        positions = context + generation.NEW_TOKENS if kind == "static" else context
        assert params["positions"] == positions
        assert params["cache_bytes"] == params["formula_bytes"] == per_position * positions


def test_tpot_floor_leaves_out_both_embedding_tables(rows) -> None:
    """A decode step gathers rows of GPT-2's token and position tables; it streams every other weight."""
    from specformer.reference import kv_cache

    tiny = kv_cache.random_decoder(
        kv_cache.DecoderConfig(**TINY_GPT2, max_positions=64 + generation.NEW_TOKENS), seed=0
    )
    streamed = sum(t.numel() * 4 for k, t in tiny.params.items() if k not in generation.EMBEDDINGS)
    assert {"transformer.wte.weight", "transformer.wpe.weight"} <= set(tiny.params)
    for bench in (b for b in rows["reference"] if b.name == "generation.tpot"):
        cache = 2 * 1 * 4 * 8 * 4 * bench.params["context"]
        assert bench.params["bytes_per_step"] == streamed + cache
        assert bench.params["floor_s"] == pytest.approx((streamed + cache) / 1e10)


def test_report_tables_keep_the_labelled_rows_apart(rows) -> None:
    run = RunResult(
        environment={}, profile="quick", adapters=[AdapterResult(name=a, benchmarks=b) for a, b in rows.items()]
    )
    tables = {t.title.split(" ")[0]: t for t in generation_tables(run)}
    assert all(t.title.endswith(" · model gpt2") for t in tables.values())  # one model: named once, in the titles
    latency = {(r[0], r[1]) for r in tables["Latency"].rows}
    assert latency == {("reference", "8"), ("hf", "8"), ("hf static", "8"), ("torch static", "8")}
    assert {r[0] for r in tables["Memory:"].rows} == {"reference", "hf", "hf static", "torch static"}
    # several models: each row names its own
    other = [replace(b, params={**b.params, "model": "llama"}) for b in rows["torch"]]
    run.adapters.append(AdapterResult(name="torch", benchmarks=other))
    latency = {r[0] for r in next(t for t in generation_tables(run) if t.title.startswith("Latency")).rows}
    assert {"torch gpt2 static", "torch llama static", "hf gpt2"} <= latency
