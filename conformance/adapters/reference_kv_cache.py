"""The reference adapter's kv_cache family (spec/kv_cache.md): specformer.reference.kv_cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from specformer.conformance.adapters.protocols import CacheState
from specformer.reference import kv_cache
from specformer.reference.kv_cache import DecoderWeights, KVCache


class ReferenceKVCache:
    """Mixin of ReferenceAdapter: the reference decoder and its caches."""

    # every cache an operation makes is one of these (public: a subclass or mutant brings its own)
    cache_class: type[KVCache] = KVCache

    def decoder_logits(
        self, weights: DecoderWeights, token_ids: torch.Tensor, *, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        # the fresh dynamic cache decoder_forward makes when given none
        cache = self.cache_class("dynamic")
        return kv_cache.decoder_forward(weights, token_ids, cache=cache, attention_mask=attention_mask)

    def cached_logits(self, weights: DecoderWeights, token_ids: torch.Tensor, **options: Any) -> torch.Tensor:
        # the reference function itself (steps, cache_kind, max_cache_len, attention_mask), on this cache class
        return kv_cache.cached_logits(weights, token_ids, cache_class=self.cache_class, **options)

    def cache_after_prefill(
        self,
        weights: DecoderWeights,
        token_ids: torch.Tensor,
        *,
        cache_kind: str = "dynamic",
        max_cache_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> CacheState:
        cache = kv_cache.new_cache(weights, cache_kind, max_cache_len=max_cache_len, cache_class=self.cache_class)
        kv_cache.decoder_forward(weights, token_ids, cache=cache, attention_mask=attention_mask)
        layers = range(weights.config.num_layers)
        return CacheState(
            keys=[cache.keys(i) for i in layers],
            values=[cache.values(i) for i in layers],
            seq_length=cache.seq_length,
            nbytes=cache.nbytes(),
        )

    def prefix_reuse_logits(
        self, weights: DecoderWeights, prefix_ids: torch.Tensor, suffixes: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        prefix_cache = kv_cache.new_cache(weights, cache_class=self.cache_class)
        kv_cache.decoder_forward(weights, prefix_ids, cache=prefix_cache)
        return [kv_cache.decoder_forward(weights, suffix, cache=prefix_cache.copy()) for suffix in suffixes]

    def decode_step_runner(
        self, weights: DecoderWeights, context_ids: torch.Tensor, *, use_cache: bool = True
    ) -> Callable[[], torch.Tensor]:
        next_token = context_ids[:, -1:]
        if not use_cache:
            sequence = torch.cat([context_ids, next_token], dim=1)
            return lambda: kv_cache.decoder_forward(weights, sequence, cache=self.cache_class("dynamic"))[:, -1]
        cache = self.cache_class("dynamic")
        kv_cache.decoder_forward(weights, context_ids, cache=cache)

        def step() -> torch.Tensor:
            logits = kv_cache.decoder_forward(weights, next_token, cache=cache)[:, -1]
            cache.crop(1)  # leave the cache as it was, so the step can be timed again
            return logits

        return step
