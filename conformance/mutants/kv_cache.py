"""Mutants of the kv_cache family: the reference adapter with one plausible cache bug each.

Each mutant brings a broken KVCache subclass through the reference adapter's public seam
(`cache_class`, which every cache its operations make is built from) or overrides one
operation, and lists in `breaks` exactly the clauses the suite then fails;
tests/test_mutants_generation.py checks that.

    specformer run --adapter specformer.conformance.mutants.kv_cache:RollingKeepsOldest --family kv_cache
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from specformer.conformance.adapters.protocols import CacheState
from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import kv_cache
from specformer.reference.kv_cache import DecoderWeights, KVCache


class _Mutant(Mutant):
    capabilities = reference_capabilities("kv_cache", "KV-")
    # a mutant with a broken cache sets cache_class (the reference adapter's seam) to a KVCache subclass


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


def _window_one_short(weights: DecoderWeights) -> DecoderWeights:
    window = weights.config.sliding_window
    if window is None or window <= 1:
        return weights
    return DecoderWeights(dataclasses.replace(weights.config, sliding_window=window - 1), weights.params)


class _WindowOneLonger(KVCache):
    # the cache keeps the declared window: the model it is made for attends one key fewer
    def __init__(self, kind: str = "dynamic", *, max_cache_len: int | None = None, window: int | None = None) -> None:
        super().__init__(kind, max_cache_len=max_cache_len, window=None if window is None else window + 1)

    def copy(self) -> KVCache:
        other = super().copy()  # made through __init__ again, which added one more
        other.window = self.window
        return other


class WindowOneShort(_Mutant):
    """Query i sees keys i - W + 1 < j <= i: one key fewer than the window (the cache still holds W)."""

    # EQ-01, EQ-03, PREFIX-01: the generic harness draws the sliding-window decoder for their operations too
    breaks = ("KV-EQ-01", "KV-EQ-03", "KV-MODEL-01", "KV-PREFIX-01", "KV-SLIDE-01", "KV-SLIDE-03")
    cache_class = _WindowOneLonger

    def decoder_logits(self, weights, token_ids, **kwargs):
        return super().decoder_logits(_window_one_short(weights), token_ids, **kwargs)

    def cached_logits(self, weights, token_ids, **kwargs):
        return super().cached_logits(_window_one_short(weights), token_ids, **kwargs)

    def cache_after_prefill(self, weights, token_ids, **kwargs):
        return super().cache_after_prefill(_window_one_short(weights), token_ids, **kwargs)

    def prefix_reuse_logits(self, weights, prefix_ids, suffixes):
        return super().prefix_reuse_logits(_window_one_short(weights), prefix_ids, suffixes)

    def decode_step_runner(self, weights, context_ids, **kwargs):
        return super().decode_step_runner(_window_one_short(weights), context_ids, **kwargs)


# ---------------------------------------------------------------------------------------
# Layout


class _QueryHeadsCached(KVCache):
    def update(self, layer, key, value):
        key, value = key.repeat_interleave(2, dim=1), value.repeat_interleave(2, dim=1)  # bug: one per query head
        return super().update(layer, key, value)


class CachesQueryHeads(_Mutant):
    """Keys and values are repeated to the query heads before caching (GQA's saving lost)."""

    cache_class = _QueryHeadsCached
    breaks = (
        "KV-EQ-01",
        "KV-EQ-02",
        "KV-MODEL-01",
        "KV-PAD-01",
        "KV-PAD-02",
        "KV-SHAPE-01",
        "KV-SHAPE-02",
        "KV-SIZE-01",
    )


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

    def decoder_logits(self, weights, token_ids, *, attention_mask=None):
        cache = _SeesTheFuture("dynamic")  # bug: the cache of the full forward loses the key positions
        return kv_cache.decoder_forward(weights, token_ids, cache=cache, attention_mask=attention_mask)


class PrefixCacheShared(_Mutant):
    """The prefix's cache is continued in place, so the second request sees the first one's tokens."""

    breaks = ("KV-PREFIX-01",)

    def prefix_reuse_logits(self, weights, prefix_ids, suffixes):
        cache = kv_cache.new_cache(weights)
        kv_cache.decoder_forward(weights, prefix_ids, cache=cache)
        return [kv_cache.decoder_forward(weights, suffix, cache=cache) for suffix in suffixes]  # bug: no copy


class CacheKeptBetweenCalls(_Mutant):
    """A dynamic cache is kept on the adapter and reused by the next call of the same batch size."""

    breaks = ("KV-EQ-01", "KV-EQ-03", "KV-PAD-01", "KV-PAD-02", "KV-STATE-01")

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
