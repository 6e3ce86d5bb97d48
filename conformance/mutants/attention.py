"""Mutants of the attention family: the reference adapter with one plausible bug each.

tests/test_mutants.py runs the attention suite on every mutant and checks that exactly the
clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import math

import torch

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import attention


class _Mutant(Mutant):
    capabilities = reference_capabilities("attention", "ATTN-", "CPLX-")


class CausalMaskOffByOne(_Mutant):
    """Lets each causal query see one position into the future."""

    breaks = ("ATTN-CAUSAL-01", "ATTN-CAUSAL-02")

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        if not causal:
            return super().attention(query, key, value, mask=mask, scale=scale)
        length, keys = query.shape[-2], key.shape[-2]
        allowed = torch.ones(length, keys, dtype=torch.bool).tril(diagonal=keys - length + 1)  # bug: +1
        return super().attention(query, key, value, mask=allowed, scale=scale)


class MissingScale(_Mutant):
    """Forgets the default 1/sqrt(D)."""

    breaks = (
        "ATTN-SDPA-02",
        "ATTN-SDPA-01",
        "ATTN-SDPA-03",
        "ATTN-CAUSAL-01",
        "ATTN-CAUSAL-02",
        "ATTN-GQA-01",
        "ATTN-CROSS-01",
    )

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        return super().attention(query, key, value, causal=causal, mask=mask, scale=1.0 if scale is None else scale)


class SoftmaxOverQueries(_Mutant):
    """Normalises the weights over the query axis instead of the keys."""

    breaks = (
        "ATTN-SDPA-05",
        "ATTN-SDPA-01",
        "ATTN-SDPA-02",
        "ATTN-SDPA-03",
        "ATTN-SDPA-04",
        "ATTN-CAUSAL-01",
        "ATTN-CAUSAL-02",
        "ATTN-PAD-01",
        "ATTN-GQA-01",
        "ATTN-CROSS-01",
    )

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
        scores = (query @ key.transpose(-2, -1)) * scale
        allowed = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask.expand_as(scores)
        return torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-2) @ value  # bug: dim=-2


class BooleanMaskIgnored(_Mutant):
    """Drops boolean masks (a float mask still works)."""

    breaks = ("ATTN-SDPA-03", "ATTN-PAD-01", "ATTN-PAD-02", "ATTN-CAUSAL-01")

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        if mask is not None and mask.dtype == torch.bool:
            mask = None
        return super().attention(query, key, value, causal=causal, mask=mask, scale=scale)


class FloatMaskAddedBeforeScaling(_Mutant):
    """Adds the float mask to the raw scores, so the scale shrinks the bias too."""

    breaks = ("ATTN-SDPA-04",)

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        if mask is None or mask.dtype == torch.bool or causal:
            return super().attention(query, key, value, causal=causal, mask=mask, scale=scale)
        scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
        scores = (query @ key.transpose(-2, -1) + mask) * scale  # bug: bias inside the scaling
        return torch.softmax(scores, dim=-1) @ value


class KeyValueHeadsRepeatedAsABlock(_Mutant):
    """Maps query head h to key/value head h % Hkv (repeat) instead of h // (H / Hkv)."""

    breaks = ("ATTN-GQA-01",)

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        groups = query.shape[1] // key.shape[1]
        if groups > 1 and query.shape[1] % key.shape[1] == 0:
            key, value = key.repeat(1, groups, 1, 1), value.repeat(1, groups, 1, 1)  # bug: repeat
        return super().attention(query, key, value, causal=causal, mask=mask, scale=scale)


class EmptyRowsNaNDeclaringZeros(_Mutant):
    """A plain softmax: a query with no allowed key yields NaN while the declaration says zeros."""

    breaks = ("ATTN-PAD-02",)

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        return attention.scaled_dot_product_attention(
            query, key, value, causal=causal, mask=mask, scale=scale, empty_rows="nan"
        )


class CausalWhenLengthsDiffer(_Mutant):
    """Applies a top-left causal mask whenever L != S, as if every such call were decoding."""

    breaks = ("ATTN-CROSS-01", "ATTN-SDPA-01", "ATTN-SDPA-02", "ATTN-GQA-01", "ATTN-CAUSAL-02", "ATTN-PAD-01")

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        if query.shape[-2] != key.shape[-2] and mask is None:
            allowed = torch.ones(query.shape[-2], key.shape[-2], dtype=torch.bool).tril()
            return super().attention(query, key, value, mask=allowed, scale=scale)
        return super().attention(query, key, value, causal=causal, mask=mask, scale=scale)


class SoftmaxAcrossHeads(_Mutant):
    """Normalises each query's weights jointly over all heads' keys, so heads leak into each other."""

    breaks = (
        "ATTN-HEADS-01",
        "ATTN-SDPA-01",
        "ATTN-SDPA-02",
        "ATTN-SDPA-05",
        "ATTN-GQA-01",
        "ATTN-CROSS-01",
        "ATTN-PAD-01",
    )

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):
        if causal or mask is not None or query.shape[1] == 1:
            return super().attention(query, key, value, causal=causal, mask=mask, scale=scale)
        groups = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
        scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
        scores = (query @ key.transpose(-2, -1)) * scale  # (B, H, L, S)
        batch, heads, length, keys = scores.shape
        joint = scores.transpose(1, 2).reshape(batch, length, heads * keys).softmax(dim=-1)  # bug
        weights = joint.reshape(batch, length, heads, keys).transpose(1, 2) * heads
        return weights @ value


class LocalWindowOffByOne(_Mutant):
    """Uses |i - j| < w: each local query loses the two keys at its window's edges."""

    breaks = ("ATTN-LOCAL-01",)

    def local_global_attention(self, query, key, value, *, window, global_mask):
        batch, _, length, _ = query.shape
        positions = torch.arange(length)
        band = (positions.view(-1, 1) - positions.view(1, -1)).abs() < window  # bug: < instead of <=
        allowed = band | global_mask.view(batch, 1, length) | global_mask.view(batch, length, 1)
        return attention.scaled_dot_product_attention(query, key, value, mask=allowed.unsqueeze(1))


class GlobalQueryStaysLocal(_Mutant):
    """Gives global tokens' keys to every query but lets global queries see only their window."""

    breaks = ("ATTN-LOCAL-02", "ATTN-LOCAL-01")

    def local_global_attention(self, query, key, value, *, window, global_mask):
        batch, _, length, _ = query.shape
        positions = torch.arange(length)
        band = (positions.view(-1, 1) - positions.view(1, -1)).abs() <= window
        allowed = band | global_mask.view(batch, 1, length)  # bug: no row for global queries
        return attention.scaled_dot_product_attention(query, key, value, mask=allowed.unsqueeze(1))


class SlidingWindowReadAsTwoSided(_Mutant):
    """Takes `window` as Hugging Face's two-sided attention_window and halves it."""

    breaks = ("ATTN-LOCAL-03",)

    def sliding_window_attention(self, query, key, value, *, window):
        if isinstance(window, int) and not isinstance(window, bool) and window >= 2:
            window //= 2
        return super().sliding_window_attention(query, key, value, window=window)


ALL: tuple[type[_Mutant], ...] = (
    CausalMaskOffByOne,
    MissingScale,
    SoftmaxOverQueries,
    BooleanMaskIgnored,
    FloatMaskAddedBeforeScaling,
    KeyValueHeadsRepeatedAsABlock,
    EmptyRowsNaNDeclaringZeros,
    CausalWhenLengthsDiffer,
    SoftmaxAcrossHeads,
    LocalWindowOffByOne,
    GlobalQueryStaysLocal,
    SlidingWindowReadAsTwoSided,
)
