"""Conformance tests for spec/attention.md, local and global attention (reference/local.py):
Longformer's sliding window with global tokens, and its attention block.
"""

from __future__ import annotations

import pytest
import torch

from specformer.conformance.numerics import annotate, assert_close
from specformer.conformance.plugin import clause, require, supports
from specformer.conformance.suite.attention_inputs import (
    AttentionCase,
    assert_same,
    reference,
    working_dtype,
)
from specformer.conformance.suite.checks import expect_value_error
from specformer.reference import local as ref_local
from specformer.reference.local import LongformerWeights

# ---------------------------------------------------------------------------------------
# Local and global attention (Longformer)


def _band_and_global(length: int, window: int, global_mask: torch.Tensor) -> torch.Tensor:
    """The Longformer mask M (B, 1, N, N): |i - j| <= window, or j global, or i global."""
    positions = torch.arange(length)
    band = (positions.view(-1, 1) - positions.view(1, -1)).abs() <= window
    batch = global_mask.shape[0]
    return (band | global_mask.view(batch, 1, length) | global_mask.view(batch, length, 1)).unsqueeze(1)


LOCAL_CASE = AttentionCase(seed=21, batch=2, heads=2, kv_heads=2, length=13, keys=13, dim=8, value_dim=4)


def _global_flags() -> torch.Tensor:
    flags = torch.zeros(2, 13, dtype=torch.bool)
    flags[0, 0] = True  # a CLS-like first token
    flags[1, [4, 9]] = True
    return flags


@clause("ATTN-LOCAL-01")
@pytest.mark.parametrize("window", [1, 2, 4])
def test_local_query_sees_its_window_and_the_global_keys(adapter, window: int) -> None:
    op = require(adapter, "local_global_attention")
    flags = _global_flags()
    dtype = working_dtype(adapter)
    query, key, value = LOCAL_CASE.tensors(dtype)
    actual = op(query, key, value, window=window, global_mask=flags)
    mask = _band_and_global(13, window, flags)
    expected = reference(adapter, *(t.double() for t in (query, key, value)), mask=mask)
    with annotate(window=window, global_positions=flags.nonzero().tolist()):
        assert_close(
            actual, expected, reference(adapter, query, key, value, mask=mask), what="local + global attention"
        )
    # A key outside every window and not global must not matter to a local query.
    far_key, far_value = key.clone(), value.clone()
    far_key[1, :, 12], far_value[1, :, 12] = 50.0, -50.0  # position 12 of batch row 1
    changed = op(query, far_key, far_value, window=window, global_mask=flags)
    untouched = [i for i in range(13) if abs(i - 12) > window and not flags[1, i]]
    assert_same(
        changed[1, :, untouched], actual[1, :, untouched], "local queries after changing a key outside their windows"
    )


@clause("ATTN-LOCAL-02")
def test_global_query_attends_every_key(adapter) -> None:
    op = require(adapter, "local_global_attention")
    flags = _global_flags()
    query, key, value = LOCAL_CASE.tensors(working_dtype(adapter))
    actual = op(query, key, value, window=1, global_mask=flags)
    full = op(query, key, value, window=20, global_mask=flags)  # a window covering everything
    for row, position in flags.nonzero().tolist():
        got, expected = actual[row, :, position], full[row, :, position]
        with annotate(batch_row=row, global_position=position):
            assert_close(got, expected.double(), expected, what="a global query with window 1 vs a covering window")


@clause("ATTN-LOCAL-03")
@pytest.mark.parametrize("window", [1, 3, 12, 30])
def test_sliding_window_is_banded_attention(adapter, window: int) -> None:
    op = require(adapter, "sliding_window_attention")
    dtype = working_dtype(adapter)
    query, key, value = LOCAL_CASE.tensors(dtype)
    band = _band_and_global(13, window, torch.zeros(2, 13, dtype=torch.bool))
    with annotate(window=window):
        assert_close(
            op(query, key, value, window=window),
            reference(adapter, *(t.double() for t in (query, key, value)), mask=band),
            reference(adapter, query, key, value, mask=band),
            what=f"sliding-window attention, window {window}",
        )


@clause("ATTN-LOCAL-03")
@pytest.mark.parametrize("window", [0, -2, 1.5])
def test_window_must_be_a_positive_integer(adapter, window) -> None:
    op = require(adapter, "sliding_window_attention")
    query, key, value = LOCAL_CASE.tensors(working_dtype(adapter))
    expect_value_error(lambda: op(query, key, value, window=window), "window", what=f"window={window!r}")


# ---------------------------------------------------------------------------------------
# Longformer blocks

LONGFORMER_WIDTH, LONGFORMER_HEADS = 16, 2


def _longformer_inputs(seed: int = 23) -> tuple[LongformerWeights, torch.Tensor, torch.Tensor]:
    """float64 weights, hidden states (2, 13, 16) and a padding mask (row 1 has 11 real positions)."""
    generator = torch.Generator().manual_seed(seed)
    weights = LongformerWeights.random(LONGFORMER_WIDTH, LONGFORMER_HEADS, generator)
    hidden = torch.randn(2, 13, LONGFORMER_WIDTH, generator=generator, dtype=torch.float64)
    real = torch.ones(2, 13, dtype=torch.bool)
    real[1, 11:] = False
    return weights, hidden, real


def _check_longformer_rows(adapter, global_rows: bool, what: str, **kwargs: object) -> torch.Tensor:
    """Compare the adapter's Longformer block with the reference at its global (or local) rows.

    A block without `padding_mask` is checked on the same inputs with every position real."""
    op = require(adapter, "longformer_attention")
    weights, hidden, real = _longformer_inputs()
    padding = {"padding_mask": real} if supports(adapter, "longformer_attention", "padding_mask") else {}
    real = real if padding else torch.ones_like(real)
    rows = real & (_global_flags() if global_rows else ~_global_flags())
    dtype = working_dtype(adapter)
    variant = adapter.variant("ATTN-LOCAL-05")
    actual = op(hidden.to(dtype), weights.to(dtype), global_mask=_global_flags(), **padding, **kwargs)

    def expected(in_dtype: torch.dtype) -> torch.Tensor:
        return ref_local.longformer_self_attention(
            hidden.to(in_dtype),
            weights.to(in_dtype),
            global_mask=_global_flags(),
            global_projections=variant,
            **padding,
            **kwargs,
        )

    lengths = real.sum(dim=1).tolist()
    with annotate(global_positions=_global_flags().nonzero().tolist(), real_lengths=lengths, **kwargs):
        assert_close(actual[rows], expected(torch.float64)[rows], expected(dtype)[rows], what=what)
    return actual


@clause("ATTN-LOCAL-04")
@pytest.mark.parametrize("window", [1, 2, 3])
def test_longformer_local_rows_use_the_local_projections(adapter, window: int) -> None:
    _check_longformer_rows(adapter, False, f"Longformer block, local rows, window {window}", window=window)


@clause("ATTN-LOCAL-05")
@pytest.mark.parametrize("window", [1, 3])
def test_longformer_global_rows(adapter, window: int) -> None:
    variant = adapter.variant("ATTN-LOCAL-05")
    _check_longformer_rows(adapter, True, f"Longformer block, global rows ({variant})", window=window)


@clause("ATTN-LOCAL-06")
def test_longformer_real_positions_do_not_depend_on_padding(adapter) -> None:
    op = require(adapter, "longformer_attention", "padding_mask")
    weights, hidden, real = _longformer_inputs()
    dtype = working_dtype(adapter)
    weights, hidden = weights.to(dtype), hidden.to(dtype)
    flags = _global_flags()
    before = op(hidden, weights, window=2, global_mask=flags, padding_mask=real)
    changed = hidden.clone()
    changed[~real] = changed[~real] * -4.0 + 3.0
    after = op(changed, weights, window=2, global_mask=flags, padding_mask=real)
    assert_same(after[real], before[real], "real positions after changing the padded positions' hidden states")
    # Five more padded positions: the real positions must still give the reference's answer.
    longer = torch.cat([hidden, torch.randn(2, 5, LONGFORMER_WIDTH, dtype=torch.float64).to(dtype)], dim=1)
    longer_real = torch.cat([real, torch.zeros(2, 5, dtype=torch.bool)], dim=1)
    longer_flags = torch.cat([flags, torch.zeros(2, 5, dtype=torch.bool)], dim=1)
    padded = op(longer, weights, window=2, global_mask=longer_flags, padding_mask=longer_real)
    with annotate(extra_padding=5):
        assert_close(padded[:, :13][real], before[real].double(), before[real], what="real positions with 5 more pads")
