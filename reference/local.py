"""Reference local (sliding-window) and Longformer local + global attention, in O(n) for a
fixed window and a fixed number of global tokens.

Each local query i attends the keys j with |i - j| <= window: `window` is one-sided, as
Longformer's w = attention_window / 2 (2w + 1 keys including itself). Instead of masking an
(n, n) score matrix, the sequence is cut into blocks of `window` queries, and each block scores
only the 3 * window keys of the previous, same and next block.

Longformer adds global tokens: a local query also attends every global key, and a global query
attends every key. `local_global_attention` appends the global keys' columns to each block's
band (a global key inside the band is counted once) and computes the global rows as ordinary
attention over all keys: O(n * (window + G)) for G global tokens. The definition the spec
states, full attention under the Longformer mask, is what the tests compare it with.

`longformer_self_attention` is the whole block: projections, the global rows' separate
projections (query_global, key_global, value_global in Longformer), padding, output projection.

Shapes: B batch, H heads, N sequence length (self-attention: queries and keys alike), D head
dim, Dv value dim, W window, C blocks, G global tokens per row (the most in the batch), E width.
Left out: dilation, Longformer's padding of N to a multiple of attention_window (the blocks
pad internally), causal local attention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from specformer.reference.attention import (
    MultiHeadWeights,
    check_qkv,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)

GLOBAL_PROJECTIONS = ("separate", "shared")


def sliding_window_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int, scale: float | None = None
) -> torch.Tensor:
    """Attention restricted to |i - j| <= window; (B, H, N, D) x3 -> (B, H, N, Dv).

    With window >= N - 1 this is full attention (a property the tests check).

    Clauses: ATTN-LOCAL-01, ATTN-LOCAL-03, CPLX-LOCAL-01..02.
    """
    _check_local(query, key, value, window)
    # subtle: a window past the sequence allows every key; clamp it, or the blocks are window-sized.
    window = min(window, max(query.shape[-2], 1))
    scores, allowed, value_windows = _banded_scores(query, key, value, window, scale)
    out = torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1) @ value_windows  # (B, H, C, W, Dv)
    return _unblock(out, query.shape[-2])


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
    attend everything. global_mask (B, N) bool. (B, H, N, D) x3 -> (B, H, N, Dv).

    Clauses: ATTN-LOCAL-01, ATTN-LOCAL-02, CPLX-GLOBAL-01..02.
    """
    _check_local(query, key, value, window)
    window = min(window, max(query.shape[-2], 1))  # as in sliding_window_attention
    batch, heads, length, dim = query.shape
    if global_mask.shape != (batch, length) or global_mask.dtype != torch.bool:
        raise ValueError(f"global_mask must be a (B, N) = ({batch}, {length}) bool tensor, got {global_mask.shape}")
    scale = 1.0 / math.sqrt(dim) if scale is None else scale
    global_index, global_valid = _global_positions(global_mask)  # (B, G), (B, G)
    blocks = math.ceil(length / window)

    # Local rows: the band's scores, with global keys taken out of it, then the global keys' columns.
    band_scores, allowed, band_values = _banded_scores(query, key, value, window, scale)  # (B, H, C, W, 3W)
    key_is_global = _neighbour_blocks(global_mask.view(batch, 1, length, 1).to(query.dtype), window, blocks * window)
    allowed = allowed & ~(key_is_global > 0).squeeze(-1).unsqueeze(3)  # (B, 1, C, W, 3W)
    global_keys = _gather_positions(key, global_index)  # (B, H, G, D)
    global_values = _gather_positions(value, global_index)  # (B, H, G, Dv)
    global_scores = (_blocks(query, window) @ global_keys.unsqueeze(2).transpose(-2, -1)) * scale  # (B, H, C, W, G)
    global_allowed = global_valid.view(batch, 1, 1, 1, -1).expand_as(global_scores)  # (B, H, C, W, G)
    scores = torch.cat([band_scores, global_scores], dim=-1)  # (B, H, C, W, 3W + G)
    scores = scores.masked_fill(~torch.cat([allowed.expand_as(band_scores), global_allowed], dim=-1), -math.inf)
    values = torch.cat([band_values, global_values.unsqueeze(2).expand(-1, -1, blocks, -1, -1)], dim=-2)
    out = _unblock(torch.softmax(scores, dim=-1) @ values, length)  # (B, H, N, Dv)

    # Global rows: full attention over every key, written over the local result.
    global_queries = _gather_positions(query, global_index)  # (B, H, G, D)
    global_out = scaled_dot_product_attention(global_queries, key, value, scale=scale)  # (B, H, G, Dv)
    rows = torch.where(global_valid, global_index, length)  # invalid slots go to a scratch row N
    out = torch.cat([out, out.new_zeros(batch, heads, 1, out.shape[-1])], dim=2)
    out = out.scatter(2, rows.view(batch, 1, -1, 1).expand(-1, heads, -1, out.shape[-1]), global_out)
    return out[:, :, :length]


@dataclass(frozen=True)
class LongformerWeights:
    """Longformer self-attention's weights, nn.Linear layout (out_features, in_features).

    `local` projects queries, keys and values for the local rows (and the global keys they
    see) and holds the output projection; the global rows use their own projections.

    Clauses: ATTN-LOCAL-04, ATTN-LOCAL-05.
    """

    local: MultiHeadWeights
    global_query: torch.Tensor  # (E, E)
    global_key: torch.Tensor  # (E, E)
    global_value: torch.Tensor  # (E, E)
    global_query_bias: torch.Tensor  # (E,)
    global_key_bias: torch.Tensor  # (E,)
    global_value_bias: torch.Tensor  # (E,)

    @classmethod
    def random(
        cls, embed_dim: int, heads: int, generator: torch.Generator, *, dtype: torch.dtype = torch.float64
    ) -> LongformerWeights:
        local = MultiHeadWeights.random(embed_dim, heads, generator, dtype=dtype)
        other = MultiHeadWeights.random(embed_dim, heads, generator, dtype=dtype)
        return cls(local, other.query, other.key, other.value, other.query_bias, other.key_bias, other.value_bias)

    def to(self, dtype: torch.dtype) -> LongformerWeights:
        tensors = {name: getattr(self, name).to(dtype) for name in self.__dataclass_fields__ if name != "local"}
        return LongformerWeights(local=self.local.to(dtype), **tensors)


def longformer_self_attention(
    hidden: torch.Tensor,
    weights: LongformerWeights,
    *,
    window: int,
    global_mask: torch.Tensor,
    padding_mask: torch.Tensor | None = None,
    global_projections: str = "separate",
) -> torch.Tensor:
    """Longformer's self-attention block; (B, N, E) -> (B, N, E).

    Local rows attend |i - j| <= window and the global keys through the local projections;
    global rows attend every key through the global projections ("separate", Longformer) or
    the local ones ("shared", as a single-mask implementation computes them). Padded keys
    (padding_mask False) are never attended; padded rows are zeros before the output projection.

    Clauses: ATTN-LOCAL-04..06.
    """
    if global_projections not in GLOBAL_PROJECTIONS:
        raise ValueError(
            f"global_projections must be one of {', '.join(GLOBAL_PROJECTIONS)}, got {global_projections!r}"
        )
    local = weights.local
    batch, length, _ = hidden.shape
    real = torch.ones(batch, length, dtype=torch.bool) if padding_mask is None else padding_mask
    if real.shape != (batch, length) or real.dtype != torch.bool:
        raise ValueError(f"padding_mask must be a (B, N) = ({batch}, {length}) bool tensor, got {tuple(real.shape)}")
    global_mask = global_mask & real  # a padded position is not global

    def project(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return split_heads(F.linear(hidden, weight, bias), local.heads)  # (B, H, N, D)

    query, key, value = (
        project(local.query, local.query_bias),
        project(local.key, local.key_bias),
        project(local.value, local.value_bias),
    )
    _check_local(query, key, value, window)
    positions = torch.arange(length)
    band = (positions.view(-1, 1) - positions.view(1, -1)).abs() <= window  # (N, N)
    local_allowed = (band | global_mask.view(batch, 1, length)) & real.view(batch, 1, length)  # (B, N, N)
    out = scaled_dot_product_attention(query, key, value, mask=local_allowed.unsqueeze(1))  # (B, H, N, D)
    if global_projections == "separate":
        query = project(weights.global_query, weights.global_query_bias)
        key = project(weights.global_key, weights.global_key_bias)
        value = project(weights.global_value, weights.global_value_bias)
    global_out = scaled_dot_product_attention(query, key, value, mask=real.view(batch, 1, 1, length))
    out = torch.where(global_mask.view(batch, 1, length, 1), global_out, out)
    out = out.masked_fill(~real.view(batch, 1, length, 1), 0.0)
    return F.linear(merge_heads(out), local.output, local.output_bias)  # (B, N, E)


def _banded_scores(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, window: int, scale: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each block of `window` queries against the 3 * window keys around it.

    Returns scores (B, H, C, W, 3W), allowed (C, W, 3W) where |i - j| <= window and j is a real
    position, and the value windows (B, H, C, 3W, Dv).
    """
    length = query.shape[-2]
    blocks = math.ceil(length / window)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    key_windows = _neighbour_blocks(key, window, blocks * window)  # (B, H, C, 3W, D)
    scores = (_blocks(query, window) @ key_windows.transpose(-2, -1)) * scale  # (B, H, C, W, 3W)

    # Absolute positions: query r of block c is c*W + r; key t of its window is (c-1)*W + t.
    block_start = torch.arange(blocks, device=query.device).view(blocks, 1, 1) * window  # (C, 1, 1)
    query_position = block_start + torch.arange(window, device=query.device).view(1, window, 1)  # (C, W, 1)
    key_position = block_start - window + torch.arange(3 * window, device=query.device).view(1, 1, 3 * window)
    allowed = ((query_position - key_position).abs() <= window) & (key_position >= 0) & (key_position < length)
    return scores, allowed, _neighbour_blocks(value, window, blocks * window)


def _blocks(tensor: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, N, F) -> (B, H, C, W, F), zero-padded to C * W rows."""
    batch, heads, length, features = tensor.shape
    blocks = math.ceil(length / window)
    return F.pad(tensor, (0, 0, 0, blocks * window - length)).view(batch, heads, blocks, window, features)


def _unblock(blocked: torch.Tensor, length: int) -> torch.Tensor:
    """(B, H, C, W, F) -> (B, H, N, F), dropping the padding rows."""
    batch, heads, blocks, window, features = blocked.shape
    return blocked.reshape(batch, heads, blocks * window, features)[:, :, :length]


def _neighbour_blocks(tensor: torch.Tensor, window: int, padded: int) -> torch.Tensor:
    """For each block of `window` positions, the 3 * window rows around it (previous, same, next)."""
    length = tensor.shape[-2]
    extended = F.pad(tensor, (0, 0, window, padded - length + window))  # (B, H, padded + 2W, F)
    # unfold over the sequence: windows of 3W rows every W rows -> (B, H, C, F, 3W)
    return extended.unfold(dimension=-2, size=3 * window, step=window).transpose(-2, -1)


def _global_positions(global_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N) bool -> the global positions per row (B, G) and which of them are real (B, G).

    >>> _global_positions(torch.tensor([[True, False, True], [False, True, False]]))
    (tensor([[0, 2], [1, 0]]), tensor([[ True,  True], [ True, False]]))
    """
    most = max(int(global_mask.sum(dim=-1).max()), 1) if global_mask.numel() else 1
    # subtle: a stable sort of "not global" puts each row's global positions first, in order.
    index = (~global_mask).to(torch.int8).argsort(dim=-1, stable=True)[:, :most]
    return index, global_mask.gather(1, index)


def _gather_positions(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(B, H, N, F) at positions (B, G) -> (B, H, G, F)."""
    heads, features = tensor.shape[1], tensor.shape[-1]
    return tensor.gather(2, index.view(index.shape[0], 1, -1, 1).expand(-1, heads, -1, features))


def _check_local(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, window: int) -> None:
    check_qkv(query, key, value)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    if key.shape[-2] != query.shape[-2]:
        raise ValueError(f"local attention is self-attention: L={query.shape[-2]} != S={key.shape[-2]}")
