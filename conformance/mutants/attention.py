"""Mutants of the attention family: the reference adapter with one plausible bug each.

tests/test_mutants.py runs the attention suite on every mutant and checks that exactly the
clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import attention, lsh
from specformer.reference.attention import multi_head_attention, split_heads


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

    breaks = ("ATTN-SDPA-03", "ATTN-PAD-01", "ATTN-PAD-02")  # ATTN-CAUSAL-01 is checked with causal=True

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


# ---------------------------------------------------------------------------------------
# Attention blocks


class MergeHeadsWithoutTranspose(_Mutant):
    """Merges (B, H, L, D) into (B, L, H * D) with a bare reshape, mixing heads and positions."""

    breaks = (
        "ATTN-MHA-01",
        "ATTN-MHA-02",
        "ATTN-MHA-03",
        "ATTN-MHA-04",
        "ATTN-MHA-05",
        "ATTN-CROSS-02",
        "ATTN-CROSS-03",
    )

    def multi_head_attention(self, hidden, weights, *, context=None, causal=False, key_padding_mask=None):
        source = hidden if context is None else context
        query = split_heads(F.linear(hidden, weights.query, weights.query_bias), weights.heads)
        key = split_heads(F.linear(source, weights.key, weights.key_bias), weights.heads)
        value = split_heads(F.linear(source, weights.value, weights.value_bias), weights.heads)
        mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
        attended = attention.scaled_dot_product_attention(query, key, value, causal=causal, mask=mask)
        merged = attended.reshape(hidden.shape[0], hidden.shape[1], -1)  # bug: no transpose(1, 2) first
        return F.linear(merged, weights.output, weights.output_bias)


class DropoutInEvaluation(_Mutant):
    """Drops attention weights with the configured p although the block is in evaluation mode."""

    breaks = ("ATTN-MHA-03",)

    def multi_head_attention(self, hidden, weights, *, context=None, causal=False, key_padding_mask=None):
        if weights.dropout == 0.0:
            return super().multi_head_attention(
                hidden, weights, context=context, causal=causal, key_padding_mask=key_padding_mask
            )
        # Dropout on the values is dropout on the weights' contributions, without a generator.
        dropped = dataclasses.replace(
            weights,
            value=F.dropout(weights.value, p=weights.dropout, training=True),  # bug: training=True
        )
        return multi_head_attention(hidden, dropped, context=context, causal=causal, key_padding_mask=key_padding_mask)


class EncoderIgnoresKeyPadding(_Mutant):
    """A bidirectional block that drops the key padding mask."""

    breaks = ("ATTN-MHA-04",)

    def multi_head_attention(self, hidden, weights, *, context=None, causal=False, key_padding_mask=None):
        if context is None and not causal:
            key_padding_mask = None  # bug
        return super().multi_head_attention(
            hidden, weights, context=context, causal=causal, key_padding_mask=key_padding_mask
        )


class DecoderForgetsPaddingUnderCausalMask(_Mutant):
    """Assumes the causal mask already hides padding, which holds for right padding only."""

    breaks = ("ATTN-MHA-05",)

    def multi_head_attention(self, hidden, weights, *, context=None, causal=False, key_padding_mask=None):
        if causal:
            key_padding_mask = None  # bug
        return super().multi_head_attention(
            hidden, weights, context=context, causal=causal, key_padding_mask=key_padding_mask
        )


class CrossAttentionKeysFromDecoder(_Mutant):
    """Projects keys from the decoder stream (values still from the encoder), as if self-attention."""

    breaks = ("ATTN-CROSS-02", "ATTN-CROSS-03")

    def multi_head_attention(self, hidden, weights, *, context=None, causal=False, key_padding_mask=None):
        if context is None:
            return super().multi_head_attention(hidden, weights, causal=causal, key_padding_mask=key_padding_mask)
        query = split_heads(F.linear(hidden, weights.query, weights.query_bias), weights.heads)
        key = split_heads(F.linear(hidden, weights.query, weights.key_bias), weights.heads)  # bug
        value = split_heads(F.linear(context, weights.value, weights.value_bias), weights.heads)
        key = (
            key[:, :, : value.shape[2]]
            if key.shape[2] >= value.shape[2]
            else F.pad(key, (0, 0, 0, value.shape[2] - key.shape[2]))
        )
        mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
        attended = attention.scaled_dot_product_attention(query, key, value, mask=mask)
        return F.linear(attention.merge_heads(attended), weights.output, weights.output_bias)


class CausalCrossAttention(_Mutant):
    """Applies a causal mask to cross-attention, aligned as in decoding (bottom-right)."""

    breaks = ("ATTN-CROSS-02",)

    def multi_head_attention(self, hidden, weights, *, context=None, causal=False, key_padding_mask=None):
        if context is None:
            return super().multi_head_attention(hidden, weights, causal=causal, key_padding_mask=key_padding_mask)
        length, keys = hidden.shape[1], context.shape[1]
        allowed = attention.causal_mask(length, keys).unsqueeze(0)  # bug: (1, L, S) over the encoder
        if key_padding_mask is not None:
            allowed = allowed & key_padding_mask[:, None, :]
        query = split_heads(F.linear(hidden, weights.query, weights.query_bias), weights.heads)
        key = split_heads(F.linear(context, weights.key, weights.key_bias), weights.heads)
        value = split_heads(F.linear(context, weights.value, weights.value_bias), weights.heads)
        attended = attention.scaled_dot_product_attention(query, key, value, mask=allowed.unsqueeze(1))
        return F.linear(attention.merge_heads(attended), weights.output, weights.output_bias)


# ---------------------------------------------------------------------------------------
# Longformer blocks


class LongformerGlobalKeysThroughGlobalProjections(_Mutant):
    """Local rows see the global keys through the global projections (Longformer uses the local ones)."""

    breaks = ("ATTN-LOCAL-04",)

    def longformer_attention(self, hidden, weights, *, window, global_mask, padding_mask=None):
        projections = dataclasses.replace(
            weights.local,
            key=weights.global_key,  # bug
            value=weights.global_value,  # bug
            key_bias=weights.global_key_bias,
            value_bias=weights.global_value_bias,
        )
        swapped = dataclasses.replace(weights, local=projections)
        return super().longformer_attention(
            hidden, swapped, window=window, global_mask=global_mask, padding_mask=padding_mask
        )


class LongformerGlobalRowsSharedDeclaringSeparate(_Mutant):
    """Computes global rows with the local projections while declaring Longformer's separate ones."""

    breaks = ("ATTN-LOCAL-05",)

    def longformer_attention(self, hidden, weights, *, window, global_mask, padding_mask=None):
        projections = weights.local  # bug: the declaration says separate global projections
        shared = dataclasses.replace(
            weights,
            global_query=projections.query,
            global_key=projections.key,
            global_value=projections.value,
            global_query_bias=projections.query_bias,
            global_key_bias=projections.key_bias,
            global_value_bias=projections.value_bias,
        )
        return super().longformer_attention(
            hidden, shared, window=window, global_mask=global_mask, padding_mask=padding_mask
        )


class LongformerAttendsPaddedKeys(_Mutant):
    """Ignores the padding mask for the keys (padded rows are still zeroed)."""

    breaks = ("ATTN-LOCAL-06", "ATTN-LOCAL-04", "ATTN-LOCAL-05")

    def longformer_attention(self, hidden, weights, *, window, global_mask, padding_mask=None):
        output = super().longformer_attention(hidden, weights, window=window, global_mask=global_mask)  # bug
        return output


# ---------------------------------------------------------------------------------------
# Reformer LSH


def _reference_lsh(query_key, value, rotations, chunk_length, **bug):
    """The reference's LSH attention with one of its public seams (buckets=, self_score=,
    chunks_before=) set to the mutant's bug."""
    return lsh.lsh_attention(query_key, value, rotations=rotations, chunk_length=chunk_length, **bug)


class HashesWithArgmaxOverRotationOnly(_Mutant):
    """bucket = argmax(xR): half the buckets, and opposite vectors share one."""

    breaks = ("ATTN-LSH-01", "ATTN-LSH-04", "ATTN-LSH-05")

    def lsh_buckets(self, vectors, rotations):
        rotations = lsh.per_head_rotations(rotations, vectors.shape[1], vectors.shape[-1]).to(vectors.dtype)
        return torch.einsum("bhnd,hdrk->bhrnk", vectors, rotations).argmax(dim=-1)  # bug: no -xR

    def lsh_attention(self, query_key, value, *, rotations, chunk_length):
        buckets = self.lsh_buckets(query_key, rotations)
        return _reference_lsh(query_key, value, rotations, chunk_length, buckets=buckets)


class LSHLogitsScaledBySqrtD(_Mutant):
    """Divides the LSH logits by sqrt(D) on top of the unit-normalised keys."""

    breaks = ("ATTN-LSH-02", "ATTN-LSH-04", "ATTN-LSH-05", "ATTN-LSH-06")

    def lsh_attention(self, query_key, value, *, rotations, chunk_length):
        # bug: scales the shared query-keys; the keys are normalised again, so only the queries change
        scaled = query_key / math.sqrt(query_key.shape[-1])
        return _reference_lsh(scaled, value, rotations, chunk_length)


class LSHSelfMaskedOut(_Mutant):
    """Masks a position's own key with -inf: a position with nothing else gets no output."""

    breaks = ("ATTN-LSH-03",)

    def lsh_attention(self, query_key, value, *, rotations, chunk_length):
        return _reference_lsh(query_key, value, rotations, chunk_length, self_score=-math.inf)  # bug


class LSHChunkSeesOnlyItself(_Mutant):
    """Attends within each chunk only, without looking one chunk back."""

    breaks = ("ATTN-LSH-04", "ATTN-LSH-05")

    def lsh_attention(self, query_key, value, *, rotations, chunk_length):
        return _reference_lsh(query_key, value, rotations, chunk_length, chunks_before=0)  # bug


class LSHRoundsAveraged(_Mutant):
    """Averages the rounds' outputs instead of weighting them by their logsumexp."""

    breaks = ("ATTN-LSH-05",)

    def lsh_attention(self, query_key, value, *, rotations, chunk_length):
        rotations = lsh.per_head_rotations(rotations, query_key.shape[1], query_key.shape[-1])
        rounds = [
            super(LSHRoundsAveraged, self).lsh_attention(
                query_key, value, rotations=rotations[:, :, r : r + 1], chunk_length=chunk_length
            )
            for r in range(rotations.shape[2])
        ]
        return torch.stack(rounds).mean(dim=0)  # bug: equal weights


class LSHPadsRaggedChunks(_Mutant):
    """Accepts a chunk length that does not divide the sequence by shrinking it to one that does."""

    breaks = ("ATTN-LSH-07",)

    def lsh_attention(self, query_key, value, *, rotations, chunk_length):
        length = query_key.shape[-2]
        if isinstance(chunk_length, int) and chunk_length >= 1:
            while length % chunk_length:
                chunk_length -= 1  # bug: silently changes the problem
        elif isinstance(chunk_length, int):
            chunk_length = length
        return super().lsh_attention(query_key, value, rotations=rotations, chunk_length=chunk_length)


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
    MergeHeadsWithoutTranspose,
    DropoutInEvaluation,
    EncoderIgnoresKeyPadding,
    DecoderForgetsPaddingUnderCausalMask,
    CrossAttentionKeysFromDecoder,
    CausalCrossAttention,
    LongformerGlobalKeysThroughGlobalProjections,
    LongformerGlobalRowsSharedDeclaringSeparate,
    LongformerAttendsPaddedKeys,
    HashesWithArgmaxOverRotationOnly,
    LSHLogitsScaledBySqrtD,
    LSHSelfMaskedOut,
    LSHChunkSeesOnlyItself,
    LSHRoundsAveraged,
    LSHPadsRaggedChunks,
)
