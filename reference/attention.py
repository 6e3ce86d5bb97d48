"""Reference scaled dot-product attention: materialised, float64 capable, the oracle.

Shapes: B batch, H heads, L query length, S key length, D head dim (Dv for values).

    attention(Q, K, V) = softmax(Q K^T * scale) V,   scale = 1 / sqrt(D) by default

The score matrix (B, H, L, S) is built in full, so time and memory grow as L x S: this is the
"materialised" attention whose cost the complexity clauses measure. Left out for now (the
attention family adds them): boolean and additive masks, padding, dropout, grouped heads and
the alignment of a causal mask when L != S.
"""

from __future__ import annotations

import math

import torch


def check_qkv(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        raise ValueError(
            f"query, key and value must be (B, H, L|S, D); got {tuple(query.shape)}, {tuple(key.shape)}, "
            f"{tuple(value.shape)}"
        )
    if key.shape[:2] != query.shape[:2] or key.shape[-1] != query.shape[-1] or value.shape[:3] != key.shape[:3]:
        raise ValueError(
            f"shapes do not match: query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        )


def scaled_dot_product_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, causal: bool = False, scale: float | None = None
) -> torch.Tensor:
    """softmax(Q K^T * scale [+ causal mask]) V; (B, H, L, D), (B, H, S, D), (B, H, S, Dv) -> (B, H, L, Dv).

    causal: query i attends keys j <= i; only defined here for L == S.
    """
    check_qkv(query, key, value)
    length, keys = query.shape[-2], key.shape[-2]
    if causal and length != keys:
        raise ValueError(f"causal needs query length == key length here, got L={length}, S={keys}")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale  # (B, H, L, S)
    if causal:
        future = torch.ones(length, keys, dtype=torch.bool, device=query.device).triu(diagonal=1)  # (L, S)
        scores = scores.masked_fill(future, -math.inf)
    return torch.softmax(scores, dim=-1) @ value  # (B, H, L, Dv)
