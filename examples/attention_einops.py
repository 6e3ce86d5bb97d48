"""Scaled dot-product attention written with the third-party `einops` package, as many research
codebases write it (x-transformers, lucidrains' repositories).

pip install einops   (0.8.2; not built into specformer)
Run it:  PYTHONPATH=examples specformer run --adapter attention_einops:EinopsAttention --family attention \
             --profile quick --no-bench
Only `attention` is implemented: the other attention operations are "unsupported".
"""

from __future__ import annotations

import math

import torch
from einops import einsum, repeat

from specformer.conformance.adapters.protocols import Capabilities


class EinopsAttention:
    name = "einops-attention"
    description = "softmax(q k^T * scale + mask) v with einops.einsum; grouped heads by einops.repeat"
    capabilities = Capabilities(
        families=frozenset({"attention"}),
        dtypes=(torch.float32, torch.float64),
        # Causal alignment when L != S: the last query sees every key (transformers' convention).
        variants={"ATTN-CAUSAL-02": "bottom-right"},
    )

    def attention(
        self,
        query: torch.Tensor,  # (B, H, L, D)
        key: torch.Tensor,  # (B, Hkv, S, D)
        value: torch.Tensor,  # (B, Hkv, S, Dv)
        *,
        causal: bool = False,
        mask: torch.Tensor | None = None,
        scale: float | None = None,
    ) -> torch.Tensor:
        heads, kv_heads = query.shape[1], key.shape[1]
        if heads % kv_heads:
            raise ValueError(f"key heads ({kv_heads}) must divide query heads ({heads})")
        key = repeat(key, "b h s d -> b (h g) s d", g=heads // kv_heads)
        value = repeat(value, "b h s d -> b (h g) s d", g=heads // kv_heads)
        scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
        scores = einsum(query, key, "b h l d, b h s d -> b h l s") * scale  # (B, H, L, S)
        if causal:
            length, keys = scores.shape[-2:]
            allowed = torch.ones(length, keys, dtype=torch.bool).tril(diagonal=keys - length)
            scores = scores.masked_fill(~allowed, float("-inf"))
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        weights = scores.softmax(dim=-1)
        return einsum(weights, value, "b h l s, b h s d -> b h l d")  # (B, H, L, Dv)
