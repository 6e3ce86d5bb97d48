"""Reference scaled dot-product attention: materialised, float64 capable, the oracle.

Shapes: B batch, H query heads, Hkv key/value heads, L query length, S key length, D head dim
(Dv for values).

    attention(Q, K, V) = softmax(Q K^T * scale + bias) V,   scale = 1 / sqrt(D) by default

The score matrix (B, H, L, S) is built in full, so time and memory grow as L x S: this is the
"materialised" attention whose cost the complexity clauses measure. Masks: a boolean mask says
where a query may attend (True = may attend); a float mask is added to the scaled scores. The
variants of spec/attention.md are keyword arguments: `causal_alignment` (ATTN-CAUSAL-02) and
`empty_rows` (ATTN-PAD-02). Left out: dropout (evaluation semantics only), local, global and
LSH attention (local.py, lsh.py).
"""

from __future__ import annotations

import math

import torch

CAUSAL_ALIGNMENTS = ("bottom-right", "top-left")
EMPTY_ROWS = ("zeros", "nan", "uniform")


def check_qkv(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        raise ValueError(
            f"query, key and value must be (B, H, L|S, D); got {tuple(query.shape)}, {tuple(key.shape)}, "
            f"{tuple(value.shape)}"
        )
    if key.shape[0] != query.shape[0] or key.shape[-1] != query.shape[-1] or value.shape[:3] != key.shape[:3]:
        raise ValueError(
            f"shapes do not match: query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        )
    if query.shape[1] % key.shape[1]:
        raise ValueError(f"query heads ({query.shape[1]}) must be a multiple of key/value heads ({key.shape[1]})")


def causal_mask(
    length: int, keys: int, *, alignment: str = "bottom-right", device: torch.device | None = None
) -> torch.Tensor:
    """(L, S) boolean mask, True where query i may attend key j.

    >>> causal_mask(2, 4).int().tolist()
    [[1, 1, 1, 0], [1, 1, 1, 1]]
    >>> causal_mask(2, 4, alignment="top-left").int().tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0]]
    """
    if alignment not in CAUSAL_ALIGNMENTS:
        raise ValueError(f"alignment must be one of {', '.join(CAUSAL_ALIGNMENTS)}, got {alignment!r}")
    offset = keys - length if alignment == "bottom-right" else 0
    return torch.ones(length, keys, dtype=torch.bool, device=device).tril(diagonal=offset)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    causal: bool = False,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal_alignment: str = "bottom-right",
    empty_rows: str = "zeros",
) -> torch.Tensor:
    """softmax(Q K^T * scale + bias) V; (B, H, L, D), (B, Hkv, S, D), (B, Hkv, S, Dv) -> (B, H, L, Dv)."""
    check_qkv(query, key, value)
    if empty_rows not in EMPTY_ROWS:
        raise ValueError(f"empty_rows must be one of {', '.join(EMPTY_ROWS)}, got {empty_rows!r}")
    groups = query.shape[1] // key.shape[1]
    # Grouped-query attention: query head h uses key/value head h // groups (ATTN-GQA-01).
    key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)  # (B, H, S, *)
    length, keys = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale  # (B, H, L, S)
    allowed = torch.ones_like(scores, dtype=torch.bool)
    if causal:
        allowed = allowed & causal_mask(length, keys, alignment=causal_alignment, device=query.device)
    if mask is not None and mask.dtype == torch.bool:
        allowed = allowed & mask
    elif mask is not None:
        scores = scores + mask
    if empty_rows == "uniform":
        # subtle: a finite "minus infinity" keeps masked keys in the softmax; an all-masked row
        # then averages every value, which is what finite-mask implementations do.
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1) @ value
    weights = torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1)  # NaN on empty rows
    if empty_rows == "zeros":
        weights = weights.masked_fill(~allowed.any(dim=-1, keepdim=True), 0.0)
    return weights @ value  # (B, H, L, Dv)
