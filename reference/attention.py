"""Reference scaled dot-product attention: materialised, float64 capable, the oracle.

Shapes: B batch, H query heads, Hkv key/value heads, L query length, S key length, D head dim
(Dv for values).

    attention(Q, K, V) = softmax(Q K^T * scale + bias) V,   scale = 1 / sqrt(D) by default

The score matrix (B, H, L, S) is built in full, so time and memory grow as L x S: this is the
"materialised" attention whose cost the complexity clauses measure. Masks: a boolean mask says
where a query may attend (True = may attend); a float mask is added to the scaled scores. The
variants of spec/attention.md are keyword arguments: `causal_alignment` (ATTN-CAUSAL-02) and
`empty_rows` (ATTN-PAD-02).

`multi_head_attention` is the block around it: project the inputs (E features) to H heads of
D = E / H, attend per head, merge the heads and project back (MultiHeadWeights holds the
weights in nn.Linear layout). Self-attention when `context` is None; cross-attention
(queries from the decoder, keys and values from the encoder's `context`) otherwise.

Left out: dropout (evaluation semantics: weights are never dropped), local, global and LSH
attention (local.py, lsh.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

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

    Clauses: ATTN-CAUSAL-01, ATTN-CAUSAL-02.
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
    """softmax(Q K^T * scale + bias) V; (B, H, L, D), (B, Hkv, S, D), (B, Hkv, S, Dv) -> (B, H, L, Dv).

    Clauses: ATTN-SDPA-01..05, ATTN-CAUSAL-01..02, ATTN-PAD-01..02, ATTN-HEADS-01, ATTN-GQA-01, ATTN-CROSS-01,
    CPLX-ATTN-01..02, CPLX-DECODE-01..02.
    """
    check_qkv(query, key, value)
    if empty_rows not in EMPTY_ROWS:
        raise ValueError(f"empty_rows must be one of {', '.join(EMPTY_ROWS)}, got {empty_rows!r}")
    groups = query.shape[1] // key.shape[1]
    # Grouped-query attention: query head h uses key/value head h // groups (ATTN-GQA-01).
    if groups > 1:  # (repeat_interleave copies even for 1: a decode step would copy the whole cache)
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


# ---------------------------------------------------------------------------------------
# Multi-head attention: projections, head split and merge


@dataclass(frozen=True)
class MultiHeadWeights:
    """One attention block's projections, nn.Linear layout (out_features, in_features).

    E model width (E = H * D), C context width (the encoder's, for cross-attention; C = E for
    self-attention). `dropout` is the attention-weight dropout a module is configured with:
    in evaluation, the only mode the spec covers, it must have no effect (ATTN-MHA-03).

    Clauses: ATTN-MHA-01.
    """

    query: torch.Tensor  # (E, E)
    key: torch.Tensor  # (E, C)
    value: torch.Tensor  # (E, C)
    output: torch.Tensor  # (E, E)
    query_bias: torch.Tensor  # (E,)
    key_bias: torch.Tensor  # (E,)
    value_bias: torch.Tensor  # (E,)
    output_bias: torch.Tensor  # (E,)
    heads: int
    dropout: float = 0.0

    @property
    def embed_dim(self) -> int:
        return self.query.shape[0]

    @property
    def context_dim(self) -> int:
        return self.key.shape[1]

    @classmethod
    def random(
        cls,
        embed_dim: int,
        heads: int,
        generator: torch.Generator,
        *,
        context_dim: int | None = None,
        dropout: float = 0.0,
        dtype: torch.dtype = torch.float64,
    ) -> MultiHeadWeights:
        """Weights drawn from N(0, 1/fan_in), so scores stay O(1) whatever the width."""
        context_dim = embed_dim if context_dim is None else context_dim

        def draw(*shape: int) -> torch.Tensor:
            return (torch.randn(*shape, generator=generator, dtype=torch.float64) / math.sqrt(shape[-1])).to(dtype)

        return cls(
            query=draw(embed_dim, embed_dim),
            key=draw(embed_dim, context_dim),
            value=draw(embed_dim, context_dim),
            output=draw(embed_dim, embed_dim),
            query_bias=draw(1, embed_dim)[0],
            key_bias=draw(1, embed_dim)[0],
            value_bias=draw(1, embed_dim)[0],
            output_bias=draw(1, embed_dim)[0],
            heads=heads,
            dropout=dropout,
        )

    def to(self, dtype: torch.dtype) -> MultiHeadWeights:
        tensors = {name: getattr(self, name).to(dtype) for name in self._TENSORS}
        return MultiHeadWeights(**tensors, heads=self.heads, dropout=self.dropout)

    _TENSORS = ("query", "key", "value", "output", "query_bias", "key_bias", "value_bias", "output_bias")


def split_heads(states: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, E) -> (B, H, L, E / H): head h holds features h*D .. (h+1)*D - 1.

    >>> split_heads(torch.arange(4.).view(1, 1, 4), 2).tolist()
    [[[[0.0, 1.0]], [[2.0, 3.0]]]]

    Clauses: ATTN-MHA-01.
    """
    batch, length, width = states.shape
    if width % heads:
        raise ValueError(f"the width {width} must be a multiple of heads={heads}")
    return states.view(batch, length, heads, width // heads).transpose(1, 2)  # (B, H, L, D)


def merge_heads(states: torch.Tensor) -> torch.Tensor:
    """(B, H, L, D) -> (B, L, H * D), the inverse of split_heads.

    Clauses: ATTN-MHA-01.
    """
    batch, heads, length, dim = states.shape
    return states.transpose(1, 2).reshape(batch, length, heads * dim)  # (B, L, E)


def multi_head_attention(
    hidden: torch.Tensor,
    weights: MultiHeadWeights,
    *,
    context: torch.Tensor | None = None,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Project, split into heads, attend, merge, project: (B, L, E) [, (B, S, C)] -> (B, L, E).

    key_padding_mask (B, S) bool, True on real keys. A query with no real key (all keys
    padded, or a causal query whose allowed keys are all padded) gets zeros before the output
    projection (ATTN-PAD-02's default). Cross-attention is never causal.

    Clauses: ATTN-MHA-01..05, ATTN-CROSS-02, ATTN-CROSS-03.
    """
    if hidden.dim() != 3 or hidden.shape[-1] != weights.embed_dim:
        raise ValueError(f"hidden must be (B, L, E) with E={weights.embed_dim}, got {tuple(hidden.shape)}")
    if context is not None and causal:
        raise ValueError("causal=True with a context: cross-attention is never causal")
    source = hidden if context is None else context  # (B, S, C)
    if source.dim() != 3 or source.shape[0] != hidden.shape[0] or source.shape[-1] != weights.context_dim:
        raise ValueError(f"context must be (B, S, C) with C={weights.context_dim}, got {tuple(source.shape)}")
    query = split_heads(F.linear(hidden, weights.query, weights.query_bias), weights.heads)  # (B, H, L, D)
    key = split_heads(F.linear(source, weights.key, weights.key_bias), weights.heads)  # (B, H, S, D)
    value = split_heads(F.linear(source, weights.value, weights.value_bias), weights.heads)  # (B, H, S, D)
    mask = None
    if key_padding_mask is not None:
        if key_padding_mask.shape != source.shape[:2] or key_padding_mask.dtype != torch.bool:
            raise ValueError(f"key_padding_mask must be a (B, S) bool tensor, got {tuple(key_padding_mask.shape)}")
        mask = key_padding_mask[:, None, None, :]  # (B, 1, 1, S)
    attended = scaled_dot_product_attention(query, key, value, causal=causal, mask=mask)  # (B, H, L, D)
    return F.linear(merge_heads(attended), weights.output, weights.output_bias)  # (B, L, E)
