"""Mutants of the embeddings family: the reference adapter with one plausible bug each.

tests/test_mutants.py runs the embeddings suite on every mutant and checks that exactly the
clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import embeddings


class _Mutant(Mutant):
    capabilities = reference_capabilities("embeddings", "EMB-")


class PositionsConcatenated(_Mutant):
    """Concatenates token and position embeddings, as the course notes put it."""

    breaks = ("EMB-ABS-01",)

    def absolute_position_embedding(self, token_ids, token_table, position_table):
        super().absolute_position_embedding(token_ids, token_table, position_table)  # keeps the checks
        positions = torch.arange(token_ids.shape[1]).expand_as(token_ids)
        return torch.cat([token_table[token_ids], position_table[positions]], dim=-1)  # bug: cat, not +


class PositionsClampedToTheTable(_Mutant):
    """Clamps positions past the table to its last row instead of raising."""

    breaks = ("EMB-ABS-02",)

    def absolute_position_embedding(self, token_ids, token_table, position_table):
        positions = torch.arange(token_ids.shape[1]).clamp(max=position_table.shape[0] - 1)  # bug
        ids = token_ids.clamp(0, token_table.shape[0] - 1)  # bug
        return token_table[ids] + position_table[positions].expand(*token_ids.shape, -1)


class LayerNormBeforeTokenTypes(_Mutant):
    """Normalises token + position, then adds the token-type embedding after the LayerNorm."""

    breaks = ("EMB-SEG-01", "EMB-SEG-02")

    def bert_embedding(self, token_ids, token_type_ids, weights):
        types = torch.zeros_like(token_ids) if token_type_ids is None else token_type_ids
        summed = embeddings.absolute_position_embedding(token_ids, weights.token, weights.position)
        normed = F.layer_norm(summed, summed.shape[-1:], weights.norm_weight, weights.norm_bias, weights.eps)
        return normed + weights.token_type[types]  # bug: outside the LayerNorm


class TokenTypesSkippedWhenAbsent(_Mutant):
    """Leaves the token-type embedding out of the sum when no token types are given."""

    breaks = ("EMB-SEG-02",)

    def bert_embedding(self, token_ids, token_type_ids, weights):
        if token_type_ids is not None:
            return super().bert_embedding(token_ids, token_type_ids, weights)
        summed = embeddings.absolute_position_embedding(token_ids, weights.token, weights.position)  # bug
        return F.layer_norm(summed, summed.shape[-1:], weights.norm_weight, weights.norm_bias, weights.eps)


class SinusoidCosineFirst(_Mutant):
    """Puts the cosine at even features and the sine at odd ones."""

    breaks = ("EMB-SIN-01",)

    def sinusoidal_position_encoding(self, length, dim):
        table = super().sinusoidal_position_encoding(length, dim)
        return table.view(length, dim // 2, 2).flip(-1).reshape(length, dim)  # bug: cos, sin


class SinusoidAcceptsOddWidth(_Mutant):
    """Builds an odd-width table by dropping the last cosine."""

    breaks = ("EMB-SIN-02",)

    def sinusoidal_position_encoding(self, length, dim):
        if isinstance(dim, int) and dim % 2:
            return super().sinusoidal_position_encoding(length, dim + 1)[:, :dim]  # bug
        return super().sinusoidal_position_encoding(length, dim)


class AxialColumnMajor(_Mutant):
    """Walks the axial grid column-major: position p at row p % n1, column p // n1."""

    breaks = ("EMB-AXIAL-01", "EMB-AXIAL-04")

    def axial_position_encoding(self, first_axis, second_axis, length, hidden_size):
        rows = first_axis.shape[0]
        super().axial_position_encoding(first_axis, second_axis, length, hidden_size)  # keeps the checks
        positions = torch.arange(length)
        return torch.cat([first_axis[positions % rows], second_axis[positions // rows]], dim=-1)  # bug


class AxialCountsAFullTable(_Mutant):
    """Reports the parameters of a full n1*n2 x D table."""

    breaks = ("EMB-AXIAL-02",)

    def axial_parameter_count(self, shape, dims):
        return shape[0] * shape[1] * sum(dims)  # bug


class AxialWidthsNotChecked(_Mutant):
    """Pads the concatenation with zeros up to hidden_size instead of rejecting the widths."""

    breaks = ("EMB-AXIAL-03",)

    def axial_position_encoding(self, first_axis, second_axis, length, hidden_size):
        width = first_axis.shape[1] + second_axis.shape[1]
        table = super().axial_position_encoding(first_axis, second_axis, length, width)
        return F.pad(table, (0, max(hidden_size - width, 0)))  # bug


class AxialWrapsAround(_Mutant):
    """Takes positions modulo the grid size, so a sequence longer than the grid repeats positions."""

    breaks = ("EMB-AXIAL-04",)

    def axial_position_encoding(self, first_axis, second_axis, length, hidden_size):
        grid = first_axis.shape[0] * second_axis.shape[0]
        if isinstance(length, int) and length > grid:
            table = super().axial_position_encoding(first_axis, second_axis, grid, hidden_size)
            return table[torch.arange(length) % grid]  # bug
        return super().axial_position_encoding(first_axis, second_axis, length, hidden_size)


ALL: tuple[type[_Mutant], ...] = (
    PositionsConcatenated,
    PositionsClampedToTheTable,
    LayerNormBeforeTokenTypes,
    TokenTypesSkippedWhenAbsent,
    SinusoidCosineFirst,
    SinusoidAcceptsOddWidth,
    AxialColumnMajor,
    AxialCountsAFullTable,
    AxialWidthsNotChecked,
    AxialWrapsAround,
)
