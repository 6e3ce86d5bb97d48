"""Mutants of the kv_cache family: the reference adapter with one plausible cache bug each.

Each mutant swaps one piece of specformer.reference.kv_cache (the cache class, or one
operation) for a broken copy while its operations run, and lists in `breaks` exactly the
clauses the suite then fails; tests/test_mutants_generation.py checks that.

    specformer run --adapter specformer.conformance.mutants.kv_cache:RollingKeepsOldest --family kv_cache
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from unittest import mock

import torch

from specformer.conformance.adapters.protocols import CacheState
from specformer.conformance.mutants import Mutant, reference_capabilities, run_broken
from specformer.reference import kv_cache
from specformer.reference.kv_cache import DecoderWeights, KVCache


class _Mutant(Mutant):
    capabilities = reference_capabilities("kv_cache", "KV-")
    cache_class: type[KVCache] | None = None  # replaces kv_cache.KVCache while an operation runs

    @contextlib.contextmanager
    def broken(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            if self.cache_class is not None:
                stack.enter_context(mock.patch.object(kv_cache, "KVCache", self.cache_class))
            yield


run_broken(
    _Mutant, "decoder_logits", "cached_logits", "cache_after_prefill", "prefix_reuse_logits", "decode_step_runner"
)


# ---------------------------------------------------------------------------------------
# Positions


class _PositionsRestart(KVCache):
    def begin(self, real):
        self.positions_seen = None  # bug: every call starts its position ids at 0
        return super().begin(real)


class PositionsRestartEachCall(_Mutant):
    """Cached keys are appended but the RoPE positions of each new call start again at 0."""

    cache_class = _PositionsRestart
    breaks = (
        "KV-EQ-01",
        "KV-EQ-02",
        "KV-EQ-03",
        "KV-PAD-01",
        "KV-STATIC-02",
        "KV-SLIDE-01",
        "KV-SLIDE-03",
        "KV-PREFIX-01",
    )


class _PositionsCountPadding(KVCache):
    def begin(self, real):
        index, _ = super().begin(real)
        return index, index[None, :].expand(real.shape[0], -1)  # bug: the padded index is the position id


class PositionsCountPadding(_Mutant):
    """Position ids are indices in the padded row, not counts of real tokens: the classic
    left-padding bug. RoPE only sees relative positions, so a Llama row shifted as a whole is
    unchanged; GPT-2's learned absolute positions read the wrong rows of the table."""

    cache_class = _PositionsCountPadding
    breaks = ("KV-PAD-01",)


class _PaddingAttended(KVCache):
    def update(self, layer, key, value):
        keys, values, index, real = super().update(layer, key, value)
        return keys, values, index, torch.ones_like(real)  # bug: padding keys look real


class PaddingKeysAttended(_Mutant):
    """Left-padding keys are not masked."""

    cache_class = _PaddingAttended
    breaks = ("KV-PAD-01", "KV-PAD-02")


# ---------------------------------------------------------------------------------------
# Static caches


class _StaticSeesEmptySlots(KVCache):
    def update(self, layer, key, value):
        keys, values, index, real = super().update(layer, key, value)
        if self.kind == "static":
            index = index.clamp(min=0)  # bug: unwritten slots look like position 0
            real = torch.ones_like(real)
        return keys, values, index, real


class StaticAttendsUnwrittenSlots(_Mutant):
    """The static buffer is attended in full: zeros in the unwritten slots enter the softmax."""

    cache_class = _StaticSeesEmptySlots
    breaks = ("KV-EQ-02", "KV-EQ-03", "KV-PAD-01", "KV-STATIC-02")


class _StaticClamps(KVCache):
    def begin(self, real):
        if self.kind != "static":
            return super().begin(real)
        capacity, self.max_cache_len = self.max_cache_len, 10**9  # bug: no capacity check
        try:
            return super().begin(real)
        finally:
            self.max_cache_len = capacity

    def write_slots(self):
        return super().write_slots().clamp(max=self.max_cache_len - 1)  # overwrite the last slot


class StaticOverflowOverwritesLastSlot(_Mutant):
    """Past its capacity a static cache keeps writing into its last slot instead of raising."""

    cache_class = _StaticClamps
    breaks = ("KV-STATIC-01",)


class _StaticOneShort(KVCache):
    def begin(self, real):
        if self.kind == "static" and self.seq_length + real.shape[1] >= self.max_cache_len:  # bug: >= for >
            raise ValueError(f"max_cache_len is {self.max_cache_len}: the cache is full")
        return super().begin(real)


class StaticRefusesLastSlot(_Mutant):
    """An off-by-one capacity check refuses the last slot."""

    cache_class = _StaticOneShort
    breaks = ("KV-EQ-03", "KV-STATIC-02")


class LengthReportsCapacity(_Mutant):
    """A static cache reports its capacity as its length."""

    breaks = ("KV-LEN-01",)

    def cache_after_prefill(
        self, weights, token_ids, *, cache_kind="dynamic", max_cache_len=None, attention_mask=None
    ) -> CacheState:
        state = super().cache_after_prefill(
            weights, token_ids, cache_kind=cache_kind, max_cache_len=max_cache_len, attention_mask=attention_mask
        )
        if cache_kind == "static":
            state.seq_length = max_cache_len
        return state


# ---------------------------------------------------------------------------------------
# Rolling caches


class _RollingKeepsOldest(KVCache):
    def kept_slots(self, total):
        if self.kind == "rolling" and self.window > 1:
            return slice(0, self.window - 1)  # bug: the oldest positions, not the newest
        return super().kept_slots(total)


class RollingKeepsOldest(_Mutant):
    """The rolling cache keeps the first W - 1 positions instead of the last."""

    cache_class = _RollingKeepsOldest
    # KV-EQ-01/03 and KV-PREFIX-01 through the generic and state-machine checks of a rolling cache
    breaks = ("KV-EQ-01", "KV-EQ-03", "KV-PREFIX-01", "KV-SLIDE-01")


class _RollingNeverTrims(KVCache):
    def update(self, layer, key, value):
        window, self.kind = self.window, "dynamic" if self.kind == "rolling" else self.kind  # bug: grows forever
        try:
            return super().update(layer, key, value)
        finally:
            self.kind = "rolling" if window is not None and self.kind == "dynamic" else self.kind


class RollingCacheNeverTrims(_Mutant):
    """The rolling cache masks correctly but never drops a position: unbounded memory."""

    cache_class = _RollingNeverTrims
    breaks = ("KV-SIZE-01", "KV-SLIDE-02")


class WindowOneShort(_Mutant):
    """Query i sees keys i - W + 1 < j <= i: one key fewer than the window."""

    breaks = ("KV-MODEL-01", "KV-SLIDE-01", "KV-SLIDE-03")

    @contextlib.contextmanager
    def broken(self) -> Iterator[None]:
        forward = kv_cache.decoder_forward

        def narrow(weights: DecoderWeights, token_ids, **kwargs):
            window = weights.config.sliding_window
            if window is not None and window > 1:
                weights = DecoderWeights(dataclasses.replace(weights.config, sliding_window=window - 1), weights.params)
            return forward(weights, token_ids, **kwargs)

        with mock.patch.object(kv_cache, "decoder_forward", narrow):
            yield


# ---------------------------------------------------------------------------------------
# Layout


class _QueryHeadsCached(KVCache):
    def update(self, layer, key, value):
        key, value = key.repeat_interleave(2, dim=1), value.repeat_interleave(2, dim=1)  # bug: one per query head
        return super().update(layer, key, value)


class CachesQueryHeads(_Mutant):
    """Keys and values are repeated to the query heads before caching (GQA's saving lost)."""

    cache_class = _QueryHeadsCached
    breaks = ("KV-MODEL-01", "KV-SHAPE-01", "KV-SHAPE-02", "KV-SIZE-01")


class KeysRotatedOnePositionAhead(_Mutant):
    """The cache holds keys rotated by their position + 1 (and rotates queries to match)."""

    breaks = ("KV-SHAPE-02",)

    def cache_after_prefill(self, weights, token_ids, **kwargs) -> CacheState:
        state = super().cache_after_prefill(weights, token_ids, **kwargs)
        ones = torch.ones(token_ids.shape[0], state.keys[0].shape[-2], dtype=torch.long)
        state.keys = [kv_cache.rotary(k, ones, weights.config.rope_theta) for k in state.keys]
        return state


# ---------------------------------------------------------------------------------------
# Causality, reuse and state


class _SeesTheFuture(KVCache):
    def update(self, layer, key, value):
        keys, values, index, real = super().update(layer, key, value)
        return keys, values, torch.zeros_like(index), real  # bug: every key looks like position 0


class RecomputeNotCausal(_Mutant):
    """The full forward has no causal mask (the cached path is right)."""

    breaks = ("KV-MODEL-01", "KV-MODEL-02")

    def decoder_logits(self, *args, **kwargs):
        with mock.patch.object(kv_cache, "KVCache", _SeesTheFuture):
            return super().decoder_logits(*args, **kwargs)


class PrefixCacheShared(_Mutant):
    """The prefix's cache is continued in place, so the second request sees the first one's tokens."""

    breaks = ("KV-PREFIX-01",)

    def prefix_reuse_logits(self, weights, prefix_ids, suffixes):
        cache = kv_cache.new_cache(weights)
        kv_cache.decoder_forward(weights, prefix_ids, cache=cache)
        return [kv_cache.decoder_forward(weights, suffix, cache=cache) for suffix in suffixes]  # bug: no copy


class CacheKeptBetweenCalls(_Mutant):
    """A dynamic cache is kept on the adapter and reused by the next call of the same batch size."""

    breaks = ("KV-EQ-01", "KV-EQ-03", "KV-PAD-02", "KV-STATE-01")

    def cached_logits(
        self, weights, token_ids, *, steps, cache_kind="dynamic", max_cache_len=None, attention_mask=None
    ):
        if cache_kind != "dynamic" or weights.config.sliding_window is not None:
            return super().cached_logits(
                weights,
                token_ids,
                steps=steps,
                cache_kind=cache_kind,
                max_cache_len=max_cache_len,
                attention_mask=attention_mask,
            )
        kept = self.__dict__.setdefault("_kept", {})
        cache = kept.setdefault(token_ids.shape[0], kv_cache.KVCache("dynamic"))
        logits, start = [], 0
        for step in steps:
            mask = None if attention_mask is None else attention_mask[:, start : start + step]
            logits.append(
                kv_cache.decoder_forward(weights, token_ids[:, start : start + step], cache=cache, attention_mask=mask)
            )
            start += step
        if cache.seq_length > 64:
            kept.clear()
        return torch.cat(logits, dim=1)


class DecodeRecomputesPrefix(_Mutant):
    """ "Cached" decode steps recompute the whole prefix."""

    breaks = ("KV-COST-01",)

    def decode_step_runner(self, weights, context_ids, *, use_cache=True) -> Callable[[], torch.Tensor]:
        return super().decode_step_runner(weights, context_ids, use_cache=False)


ALL: tuple[type[_Mutant], ...] = (
    PositionsRestartEachCall,
    PositionsCountPadding,
    PaddingKeysAttended,
    StaticAttendsUnwrittenSlots,
    StaticOverflowOverwritesLastSlot,
    StaticRefusesLastSlot,
    LengthReportsCapacity,
    RollingKeepsOldest,
    RollingCacheNeverTrims,
    WindowOneShort,
    CachesQueryHeads,
    KeysRotatedOnePositionAhead,
    RecomputeNotCausal,
    PrefixCacheShared,
    CacheKeptBetweenCalls,
    DecodeRecomputesPrefix,
)
