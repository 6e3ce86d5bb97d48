"""Reference LSH attention (Reformer), rotations passed in explicitly.

Shared query-key vectors x are hashed by random rotations R: bucket = argmax([xR; -xR]), so
n_buckets = 2 * R.shape[-1]. With several hash rounds, round r's buckets are offset by
r * n_buckets; all rounds' (bucket, position) entries are sorted together, cut into chunks of
`chunk_length`, and each chunk attends itself and the previous chunk (cyclically: the first
chunk's previous is the last), as Reformer does. Queries are the raw x, keys the unit-normalised
x (up to Reformer's epsilon), and the logits q . k_hat are not scaled further. A position
attends itself only when nothing else is available: its self-score is a large finite negative.
Each round gives an output o_r and the logsumexp lse_r of the query's logits; the rounds
combine as sum_r softmax_r(lse_r) o_r.

Cost: the sort, O(n log n), plus the chunked attention, O(n * chunk_length), per round.

Shapes: B batch, H heads, N length, D head dim, Dv value dim, K chunk length, C chunks,
T = n_rounds * N sorted entries, R rotations per round (n_buckets / 2).
Rotations are (H, D, n_rounds, R) as Reformer draws them, or (D, R): one round shared by
every head. Left out: causal and padding masks, the full-attention fallback for N <= K
(one chunk covering the sequence gives the same answer), factorised bucket counts.
"""

from __future__ import annotations

import math

import torch

from specformer.reference.attention import check_qkv

# Reformer's score for a position attending itself (float32 value); finite, so a position
# with nothing else to attend still attends itself.
SELF_SCORE = -1e5
# Reformer's epsilon in the key normalisation (`_len_norm`).
KEY_EPS = 1e-6


def per_head_rotations(rotations: torch.Tensor, heads: int, dim: int) -> torch.Tensor:
    """(D, R) or (H, D, n_rounds, R) -> (H, D, n_rounds, R), checked against H and D.

    Clauses: ATTN-LSH-07.
    """
    if rotations.dim() == 2 and rotations.shape[0] == dim:
        return rotations.view(1, dim, 1, -1).expand(heads, -1, -1, -1)
    if rotations.dim() == 4 and rotations.shape[:2] == (heads, dim):
        return rotations
    raise ValueError(
        f"rotations must be (D, R) = ({dim}, R) or (H, D, n_rounds, R) = ({heads}, {dim}, n_rounds, R), "
        f"got {tuple(rotations.shape)}"
    )


def lsh_buckets(vectors: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """argmax([xR; -xR]) per head and round: (B, H, N, D) -> (B, H, n_rounds, N) in [0, 2R).

    With R = [[1], [0]] (one rotation, D = 2) the two buckets are "x_0 > 0" (0) and "x_0 < 0" (1).

    Clauses: ATTN-LSH-01.
    """
    if vectors.dim() != 4:
        raise ValueError(f"vectors must be (B, H, N, D), got {tuple(vectors.shape)}")
    rotations = per_head_rotations(rotations, vectors.shape[1], vectors.shape[-1]).to(vectors.dtype)
    rotated = torch.einsum("bhnd,hdrk->bhrnk", vectors, rotations)  # (B, H, n_rounds, N, R)
    return torch.cat([rotated, -rotated], dim=-1).argmax(dim=-1)


def unit_keys(vectors: torch.Tensor) -> torch.Tensor:
    """x * rsqrt(mean(x^2) + 1e-6) / sqrt(D): x / |x| up to the 1e-6, as Reformer normalises keys.

    Clauses: ATTN-LSH-02.
    """
    mean_square = vectors.pow(2).mean(dim=-1, keepdim=True)
    return vectors * torch.rsqrt(mean_square + KEY_EPS) / math.sqrt(vectors.shape[-1])


def lsh_attention(
    query_key: torch.Tensor,
    value: torch.Tensor,
    *,
    rotations: torch.Tensor,
    chunk_length: int,
    buckets: torch.Tensor | None = None,
    self_score: float = SELF_SCORE,
    chunks_before: int = 1,
) -> torch.Tensor:
    """Reformer-style LSH self-attention; (B, H, N, D), (B, H, N, Dv) -> (B, H, N, Dv).

    The spec's attention needs only `rotations` and `chunk_length`. The other arguments are seams
    for an implementation that differs in one step (and for the mutants that prove the tests can
    fail): `buckets` (B, H, n_rounds, N) replaces `lsh_buckets(query_key, rotations)`, `self_score`
    is the score of a position's own key (ATTN-LSH-03), `chunks_before` how many chunks back each
    chunk also attends (Reformer's `lsh_num_chunks_before`; ATTN-LSH-04 says 1).

    Clauses: ATTN-LSH-01..07, CPLX-LSH-01..02.
    """
    check_qkv(query_key, query_key, value)
    batch, heads, length, dim = query_key.shape
    if isinstance(chunk_length, bool) or not isinstance(chunk_length, int) or chunk_length < 1:
        raise ValueError(f"chunk_length must be an integer >= 1, got {chunk_length!r}")
    if length % chunk_length:
        raise ValueError(f"sequence length {length} must be a multiple of chunk_length {chunk_length}")
    if isinstance(chunks_before, bool) or not isinstance(chunks_before, int) or chunks_before < 0:
        raise ValueError(f"chunks_before must be an integer >= 0, got {chunks_before!r}")
    if buckets is None:
        buckets = lsh_buckets(query_key, rotations)  # (B, H, n_rounds, N)
    rounds, n_buckets = buckets.shape[2], 2 * rotations.shape[-1]

    # Sort every round's entries together by (round, bucket, position): round r's buckets are
    # offset by r * n_buckets, so the rounds stay in order and each is sorted within itself.
    positions = torch.arange(length, device=query_key.device)
    offsets = torch.arange(rounds, device=query_key.device).view(1, 1, rounds, 1) * n_buckets
    sort_keys = ((buckets + offsets) * length + positions).flatten(2)  # (B, H, T)
    order = sort_keys.argsort(dim=-1)  # (B, H, T): entry t of the sorted sequence is order[t]
    sorted_positions = order % length  # (B, H, T)
    sorted_x = _gather_rows(query_key, sorted_positions)  # (B, H, T, D)
    sorted_v = _gather_rows(value, sorted_positions)  # (B, H, T, Dv)

    chunks = rounds * length // chunk_length
    queries = sorted_x.view(batch, heads, chunks, chunk_length, dim)  # (B, H, C, K, D)
    keys = _with_previous_chunks(unit_keys(sorted_x), chunks, chunks_before)  # (B, H, C, 2K, D)
    values = _with_previous_chunks(sorted_v, chunks, chunks_before)  # (B, H, C, 2K, Dv)
    query_pos = sorted_positions.view(batch, heads, chunks, chunk_length, 1)  # (B, H, C, K, 1)
    key_pos = _with_previous_chunks(sorted_positions.unsqueeze(-1), chunks, chunks_before)  # (B, H, C, 2K, 1)
    key_pos = key_pos.transpose(-2, -1)  # (B, H, C, 1, 2K)

    scores = queries @ keys.transpose(-2, -1)  # (B, H, C, K, 2K); no 1/sqrt(D): the keys are unit
    scores = scores.masked_fill(query_pos == key_pos, self_score)
    log_normaliser = scores.logsumexp(dim=-1, keepdim=True)  # (B, H, C, K, 1)
    out_sorted = torch.exp(scores - log_normaliser) @ values  # (B, H, C, K, Dv)

    # Undo the sort: entry order[t] receives sorted row t; then split the rounds apart.
    out = _scatter_rows(out_sorted.reshape(batch, heads, -1, value.shape[-1]), order)  # (B, H, T, Dv)
    lse = _scatter_rows(log_normaliser.reshape(batch, heads, -1, 1), order)  # (B, H, T, 1)
    out = out.view(batch, heads, rounds, length, -1)  # (B, H, n_rounds, N, Dv)
    round_weights = torch.softmax(lse.view(batch, heads, rounds, length, 1), dim=2)  # over rounds
    return (round_weights * out).sum(dim=2)  # (B, H, N, Dv)


def _gather_rows(rows: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """rows (B, H, N, F), indices (B, H, T) -> (B, H, T, F)."""
    return rows.gather(2, indices.unsqueeze(-1).expand(-1, -1, -1, rows.shape[-1]))


def _scatter_rows(sorted_rows: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """The inverse of sorting by `order`: row t of (B, H, T, F) goes to entry order[t]."""
    return torch.empty_like(sorted_rows).scatter(2, order.unsqueeze(-1).expand_as(sorted_rows), sorted_rows)


def _with_previous_chunks(sorted_rows: torch.Tensor, chunks: int, before: int = 1) -> torch.Tensor:
    """(B, H, T, F) -> (B, H, C, (before + 1) K, F): each chunk's rows after those of the `before`
    chunks preceding it (wrapping); with the spec's before = 1, (B, H, C, 2K, F)."""
    batch, heads, total, features = sorted_rows.shape
    chunked = sorted_rows.reshape(batch, heads, chunks, total // chunks, features)  # (B, H, C, K, F)
    return torch.cat([*(chunked.roll(k, dims=2) for k in range(before, 0, -1)), chunked], dim=3)
