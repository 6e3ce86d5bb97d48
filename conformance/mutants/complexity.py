"""Mutants of the complexity family: right answers at the wrong cost.

Each computes what the reference computes, so every correctness clause would pass; only the
scaling clauses can catch them. tests/test_mutants.py checks each fails exactly `breaks`.
"""

from __future__ import annotations

import math

import torch

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import attention


class _Mutant(Mutant):
    capabilities = reference_capabilities("attention", "CPLX-")


class SlidingWindowByMaskingFullScores(_Mutant):
    """Builds the full (n, n) score matrix and masks it to the band: same output, quadratic cost."""

    breaks = ("CPLX-LOCAL-01", "CPLX-LOCAL-02")

    def sliding_window_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int
    ) -> torch.Tensor:
        positions = torch.arange(query.shape[-2])
        far = (positions[:, None] - positions[None, :]).abs() > window  # (N, N)
        scores = (query @ key.transpose(-2, -1)) / math.sqrt(query.shape[-1])
        return torch.softmax(scores.masked_fill(far, -math.inf), dim=-1) @ value


class LSHFallsBackToFullAttention(_Mutant):
    """Ignores the buckets and attends every position (with the self-mask): quadratic."""

    breaks = ("CPLX-LSH-01", "CPLX-LSH-02")

    def lsh_attention(
        self, query_key: torch.Tensor, value: torch.Tensor, *, rotations: torch.Tensor, chunk_length: int
    ) -> torch.Tensor:
        keys = torch.nn.functional.normalize(query_key, dim=-1)
        scores = query_key @ keys.transpose(-2, -1)
        eye = torch.eye(query_key.shape[-2], dtype=torch.bool)
        return torch.softmax(scores.masked_fill(eye, -1e5), dim=-1) @ value


class LocalGlobalByDenseMask(_Mutant):
    """Longformer's pattern as a dense (n, n) mask over full attention: exact, quadratic."""

    breaks = ("CPLX-GLOBAL-01", "CPLX-GLOBAL-02")

    def local_global_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int, global_mask: torch.Tensor
    ) -> torch.Tensor:
        batch, length = global_mask.shape
        positions = torch.arange(length)
        band = (positions[:, None] - positions[None, :]).abs() <= window  # (N, N)
        allowed = band | global_mask.view(batch, 1, length) | global_mask.view(batch, length, 1)
        return attention.scaled_dot_product_attention(query, key, value, mask=allowed.unsqueeze(1))


class DecodeBuildsTheFullCausalMask(_Mutant):
    """Builds an (n, n) causal mask at every decode step and uses its last row: right answer,
    quadratic cost per step."""

    breaks = ("CPLX-DECODE-01",)

    def attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, causal: bool = False, **masks: object
    ) -> torch.Tensor:
        if query.shape[-2] == 1 and key.shape[-2] > 1:
            keys = key.shape[-2]
            allowed = torch.ones(keys, keys, dtype=torch.bool).tril()[-1:]  # (1, S): the last query's row
            scores = (query @ key.transpose(-2, -1)) / math.sqrt(query.shape[-1])
            return torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1) @ value
        return super().attention(query, key, value, causal=causal, **masks)


class ChunkedAttentionDeclaringMaterialised(_Mutant):
    """Computes attention in query chunks (linear memory) while declaring the materialised variant."""

    breaks = ("CPLX-ATTN-02",)

    def attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, causal: bool = False, **masks: object
    ) -> torch.Tensor:
        if causal:
            return super().attention(query, key, value, causal=causal, **masks)
        chunks = [attention.scaled_dot_product_attention(q, key, value) for q in query.split(64, dim=2)]
        return torch.cat(chunks, dim=2)


class LinearAttentionPassedOffAsFull(_Mutant):
    """Answers `attention` with kernelised linear attention, phi(Q) (phi(K)^T V): a different
    (approximate, and blind to the causal mask) result at linear cost and memory, where the
    clauses expect full attention's."""

    breaks = ("CPLX-ATTN-01", "CPLX-ATTN-02", "CPLX-DECODE-02")

    def attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, causal: bool = False, **masks: object
    ) -> torch.Tensor:
        phi_q, phi_k = torch.nn.functional.elu(query) + 1, torch.nn.functional.elu(key) + 1
        context = phi_k.transpose(-2, -1) @ value  # (B, H, D, Dv): no (n, n) matrix, and no causal mask
        return (phi_q @ context) / (phi_q @ phi_k.sum(dim=2, keepdim=True).transpose(-2, -1))


ALL: tuple[type[_Mutant], ...] = (
    SlidingWindowByMaskingFullScores,
    LSHFallsBackToFullAttention,
    LocalGlobalByDenseMask,
    DecodeBuildsTheFullCausalMask,
    ChunkedAttentionDeclaringMaterialised,
    LinearAttentionPassedOffAsFull,
)
