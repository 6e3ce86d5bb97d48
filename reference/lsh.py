"""Reference LSH attention (Reformer), one hash round, rotations passed in explicitly.

Shared query-key vectors x are hashed by random rotations R: bucket = argmax([xR; -xR]).
Positions are sorted by (bucket, position), cut into chunks of `chunk_length`, and each chunk
attends itself and the previous chunk (the first chunk's previous is the last, as in
Reformer). Keys are the unit-normalised x; a position attends itself only when nothing else
is available (its self-score is a large finite negative). Cost: the sort, O(n log n), plus
the chunked attention, O(n * chunk_length).

Shapes: B batch, H heads, N length, D head dim, K chunk length, C chunks, R rotations (D, n_buckets / 2).
Left out (the attention family adds them): several hash rounds combined with logsumexp
weights, causal and padding masks.
"""

from __future__ import annotations

import math

import torch

from specformer.reference.attention import check_qkv

# Reformer's score for a position attending itself (float32 value); finite, so a position
# with nothing else to attend still attends itself.
SELF_SCORE = -1e5


def lsh_buckets(vectors: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """argmax([xR; -xR]) over the last dimension; (B, H, N, D) x (D, R) -> (B, H, N) in [0, 2R)."""
    rotated = vectors @ rotations  # (B, H, N, R)
    return torch.cat([rotated, -rotated], dim=-1).argmax(dim=-1)


def lsh_attention(
    query_key: torch.Tensor,
    value: torch.Tensor,
    *,
    rotations: torch.Tensor,
    chunk_length: int,
    scale: float | None = None,
) -> torch.Tensor:
    """Reformer-style LSH self-attention; (B, H, N, D), (B, H, N, Dv) -> (B, H, N, Dv)."""
    check_qkv(query_key, query_key, value)
    batch, heads, length, dim = query_key.shape
    if isinstance(chunk_length, bool) or not isinstance(chunk_length, int) or chunk_length < 1:
        raise ValueError(f"chunk_length must be an integer >= 1, got {chunk_length!r}")
    if length % chunk_length:
        raise ValueError(f"sequence length {length} must be a multiple of chunk_length {chunk_length}")
    if rotations.dim() != 2 or rotations.shape[0] != dim:
        raise ValueError(f"rotations must be (D, R) with D={dim}, got {tuple(rotations.shape)}")
    scale = 1.0 / math.sqrt(dim) if scale is None else scale
    chunks = length // chunk_length

    positions = torch.arange(length, device=query_key.device)
    buckets = lsh_buckets(query_key, rotations)  # (B, H, N)
    order = (buckets * length + positions).argsort(dim=-1)  # sort by bucket, then position
    sorted_positions = positions[order]  # (B, H, N)
    sorted_x = query_key.gather(2, order.unsqueeze(-1).expand(-1, -1, -1, dim))  # (B, H, N, D)
    sorted_v = value.gather(2, order.unsqueeze(-1).expand(-1, -1, -1, value.shape[-1]))  # (B, H, N, Dv)

    queries = sorted_x.view(batch, heads, chunks, chunk_length, dim)  # (B, H, C, K, D)
    keys = _with_previous_chunk(torch.nn.functional.normalize(sorted_x, dim=-1), chunks)  # (B, H, C, 2K, D)
    values = _with_previous_chunk(sorted_v, chunks)  # (B, H, C, 2K, Dv)
    query_pos = sorted_positions.view(batch, heads, chunks, chunk_length, 1)  # (B, H, C, K, 1)
    key_pos = _with_previous_chunk(sorted_positions.unsqueeze(-1), chunks).transpose(-2, -1)  # (B, H, C, 1, 2K)

    scores = (queries @ keys.transpose(-2, -1)) * scale  # (B, H, C, K, 2K)
    scores = scores.masked_fill(query_pos == key_pos, SELF_SCORE)
    out_sorted = (torch.softmax(scores, dim=-1) @ values).reshape(batch, heads, length, -1)  # (B, H, N, Dv)
    # Undo the sort: position order[i] receives sorted row i.
    return torch.empty_like(out_sorted).scatter(2, order.unsqueeze(-1).expand_as(out_sorted), out_sorted)


def _with_previous_chunk(sorted_rows: torch.Tensor, chunks: int) -> torch.Tensor:
    """(B, H, N, F) -> (B, H, C, 2K, F): each chunk's rows after the previous chunk's (wrapping)."""
    batch, heads, length, features = sorted_rows.shape
    chunked = sorted_rows.reshape(batch, heads, chunks, length // chunks, features)  # (B, H, C, K, F)
    return torch.cat([chunked.roll(1, dims=2), chunked], dim=3)
