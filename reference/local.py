"""Reference sliding-window (local) attention in O(n * window) time and memory.

Each query i attends the keys j with |i - j| <= window: `window` is one-sided, as Longformer's
w = attention_window / 2. Instead of masking an (n, n) score matrix, the sequence is cut into
blocks of `window` queries, and each block scores only the 3 * window keys of the previous,
same and next block, so cost grows linearly in n for a fixed window.

`local_global_attention` adds Longformer's global tokens. It is written as full attention
under the Longformer mask, the definition the spec states (ATTN-LOCAL-01/02), and costs
O(n^2): it is the oracle, not the fast path.

Shapes: B batch, H heads, N sequence length (self-attention: queries and keys alike), D head
dim, W window, C blocks. Left out: dilation, padding masks (pass them through `attention`),
Longformer's separate projections for global rows (the caller projects).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from specformer.reference.attention import check_qkv, scaled_dot_product_attention


def sliding_window_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int, scale: float | None = None
) -> torch.Tensor:
    """Attention restricted to |i - j| <= window; (B, H, N, D) x3 -> (B, H, N, D).

    With window >= N - 1 this is full attention (a property the tests check).
    """
    _check_local(query, key, value, window)
    batch, heads, length, _ = query.shape
    blocks = math.ceil(length / window)
    padded = blocks * window
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale

    queries = F.pad(query, (0, 0, 0, padded - length)).view(batch, heads, blocks, window, -1)  # (B, H, C, W, D)
    key_windows = _neighbour_blocks(key, window, padded)  # (B, H, C, 3W, D)
    value_windows = _neighbour_blocks(value, window, padded)  # (B, H, C, 3W, Dv)
    scores = (queries @ key_windows.transpose(-2, -1)) * scale  # (B, H, C, W, 3W)

    # Absolute positions: query r of block c is c*W + r; key t of its window is (c-1)*W + t.
    block_start = torch.arange(blocks, device=query.device).view(blocks, 1, 1) * window  # (C, 1, 1)
    query_position = block_start + torch.arange(window, device=query.device).view(1, window, 1)  # (C, W, 1)
    key_position = block_start - window + torch.arange(3 * window, device=query.device).view(1, 1, 3 * window)
    allowed = ((query_position - key_position).abs() <= window) & (key_position >= 0) & (key_position < length)
    scores = scores.masked_fill(~allowed, -math.inf)  # (C, W, 3W) broadcast over B, H

    out = torch.softmax(scores, dim=-1) @ value_windows  # (B, H, C, W, Dv)
    return out.reshape(batch, heads, padded, -1)[:, :, :length]  # (B, H, N, Dv)


def _neighbour_blocks(tensor: torch.Tensor, window: int, padded: int) -> torch.Tensor:
    """For each block of `window` positions, the 3 * window rows around it (previous, same, next)."""
    length = tensor.shape[-2]
    extended = F.pad(tensor, (0, 0, window, padded - length + window))  # (B, H, padded + 2W, D)
    # unfold over the sequence: windows of 3W rows every W rows -> (B, H, C, D, 3W)
    return extended.unfold(dimension=-2, size=3 * window, step=window).transpose(-2, -1)


def local_global_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    window: int,
    global_mask: torch.Tensor,
    scale: float | None = None,
) -> torch.Tensor:
    """Longformer attention: query i attends |i - j| <= window or global keys; global queries
    attend everything. global_mask (B, N) bool. (B, H, N, D) x3 -> (B, H, N, Dv)."""
    _check_local(query, key, value, window)
    batch, _, length, _ = query.shape
    if global_mask.shape != (batch, length) or global_mask.dtype != torch.bool:
        raise ValueError(f"global_mask must be a (B, N) = ({batch}, {length}) bool tensor, got {global_mask.shape}")
    positions = torch.arange(length, device=query.device)
    band = (positions.view(-1, 1) - positions.view(1, -1)).abs() <= window  # (N, N)
    allowed = band | global_mask.view(batch, 1, length) | global_mask.view(batch, length, 1)  # (B, N, N)
    return scaled_dot_product_attention(query, key, value, mask=allowed.unsqueeze(1), scale=scale)


def _check_local(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, window: int) -> None:
    check_qkv(query, key, value)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    if key.shape[-2] != query.shape[-2]:
        raise ValueError(f"local attention is self-attention: L={query.shape[-2]} != S={key.shape[-2]}")
