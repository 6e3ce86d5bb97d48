"""Conformance tests for spec/embeddings.md: absolute, token-type, sinusoidal and axial positions.

Tables are drawn from fixed seeds in float64 and handed to the adapter in float32 (the dtype
models keep their tables in); outputs are compared with the float64 reference under the
numerical policy. Sinusoidal tables are compared in float32, the dtype they are used in.
"""

from __future__ import annotations

import math

import pytest
import torch

from specformer.conformance.numerics import annotate, assert_close, fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite.checks import expect_value_error
from specformer.reference import embeddings as ref
from specformer.reference.embeddings import BertEmbeddingWeights

VOCAB, POSITIONS, WIDTH = 11, 7, 8


def _draw(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def _ids(generator: torch.Generator, batch: int, length: int, high: int = VOCAB) -> torch.Tensor:
    return torch.randint(0, high, (batch, length), generator=generator)


# ---------------------------------------------------------------------------------------
# Learned absolute positions


@clause("EMB-ABS-01")
@pytest.mark.parametrize(("seed", "length"), [(1, 7), (2, 3), (3, 1)])
def test_absolute_positions_are_added(adapter, seed: int, length: int) -> None:
    op = require(adapter, "absolute_position_embedding")
    generator = torch.Generator().manual_seed(seed)
    ids = _ids(generator, 2, length)
    tokens, positions = _draw(generator, VOCAB, WIDTH), _draw(generator, POSITIONS, WIDTH)
    actual = op(ids, tokens.float(), positions.float())
    with annotate(seed=seed, length=length):
        assert_close(
            actual,
            ref.absolute_position_embedding(ids, tokens, positions),
            ref.absolute_position_embedding(ids, tokens.float(), positions.float()),
            what="token + position embedding",
        )


@clause("EMB-ABS-02")
@pytest.mark.parametrize("problem", ["too-long", "id-out-of-range"])
def test_out_of_range_positions_and_ids_are_rejected(adapter, problem: str) -> None:
    op = require(adapter, "absolute_position_embedding")
    generator = torch.Generator().manual_seed(4)
    tokens, positions = _draw(generator, VOCAB, WIDTH).float(), _draw(generator, POSITIONS, WIDTH).float()
    if problem == "too-long":
        ids = _ids(generator, 1, POSITIONS + 1)
        names = ("position", "length")
    else:
        ids = torch.tensor([[0, VOCAB, 1]])
        names = ("token_ids", "id", "vocab")
    expect_value_error(
        lambda: op(ids, tokens, positions), *names, what=f"{problem} ({tuple(ids.shape)} ids)", any_of=True
    )


# ---------------------------------------------------------------------------------------
# Token types


def _bert_inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor, BertEmbeddingWeights]:
    generator = torch.Generator().manual_seed(seed)
    ids = _ids(generator, 2, 6)
    types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    return ids, types, BertEmbeddingWeights.random(VOCAB, POSITIONS, 2, WIDTH, generator, torch.float64)


@clause("EMB-SEG-01")
@pytest.mark.parametrize("seed", [5, 6])
def test_bert_sums_token_position_and_type_then_normalises(adapter, seed: int) -> None:
    op = require(adapter, "bert_embedding")
    ids, types, weights = _bert_inputs(seed)
    with annotate(seed=seed, token_type_ids=types.tolist()):
        assert_close(
            op(ids, types, weights.to(torch.float32)),
            ref.bert_embedding(ids, types, weights),
            ref.bert_embedding(ids, types, weights.to(torch.float32)),
            what="LayerNorm(token + position + type)",
        )


@clause("EMB-SEG-02")
def test_token_types_default_to_zero(adapter) -> None:
    op = require(adapter, "bert_embedding")
    ids, _types, weights = _bert_inputs(7)
    weights32 = weights.to(torch.float32)
    zeros = torch.zeros_like(ids)
    assert_close(
        op(ids, None, weights32),
        ref.bert_embedding(ids, zeros, weights),
        ref.bert_embedding(ids, zeros, weights32),
        what="BERT embedding without token_type_ids vs with all zeros",
    )


# ---------------------------------------------------------------------------------------
# Sinusoidal positions


@clause("EMB-SIN-01")
@pytest.mark.parametrize(("length", "dim"), [(64, 16), (9, 2), (33, 6)])
def test_sinusoidal_table(adapter, length: int, dim: int) -> None:
    op = require(adapter, "sinusoidal_position_encoding")
    layout = adapter.variant("EMB-SIN-01")
    table = op(length, dim)
    expected = ref.sinusoidal_position_encoding(length, dim, layout=layout)
    with annotate(length=length, dim=dim, layout=layout):
        assert_close(table, expected, expected.float(), what=f"sinusoidal table ({layout})")


def _sinusoid_formula(length: int, dim: int, layout: str) -> torch.Tensor:
    """EMB-SIN-01's table written out element by element from the clause's formulas (not the reference)."""
    half = dim // 2
    rows = []
    for p in range(length):
        if layout == "tensor2tensor":
            w = [10000.0 ** (-i / max(half - 1, 1)) for i in range(half)]
        else:
            w = [10000.0 ** (-2.0 * i / dim) for i in range(half)]
        sines, cosines = [math.sin(p * wi) for wi in w], [math.cos(p * wi) for wi in w]
        if layout == "interleaved":
            rows.append([v for pair in zip(sines, cosines, strict=True) for v in pair])
        else:
            rows.append(sines + cosines)
    return torch.tensor(rows, dtype=torch.float64).reshape(length, dim)


@clause("EMB-SIN-01")
@pytest.mark.parametrize(("length", "dim"), [(40, 10), (5, 2), (3, 4)])
def test_sinusoidal_table_known_answer(adapter, length: int, dim: int) -> None:
    """The table against the clause's formula written in this test: the value test above compares with the
    reference, so it cannot notice a wrong reference; this one can (docs/mutation.md)."""
    op = require(adapter, "sinusoidal_position_encoding")
    layout = adapter.variant("EMB-SIN-01")
    expected = _sinusoid_formula(length, dim, layout)
    with annotate(length=length, dim=dim, layout=layout):
        assert_close(op(length, dim), expected, expected.float(), what=f"sinusoidal table ({layout}) vs its formula")


@clause("EMB-SIN-02")
def test_odd_width_is_rejected(adapter) -> None:
    op = require(adapter, "sinusoidal_position_encoding")
    expect_value_error(lambda: op(10, 7), "dim", "width", what="a sinusoidal table of width 7", any_of=True)


# ---------------------------------------------------------------------------------------
# Axial positions

AXIAL_SHAPE, AXIAL_DIMS = (4, 5), (3, 5)


def _axial_tables(seed: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return _draw(generator, AXIAL_SHAPE[0], AXIAL_DIMS[0]), _draw(generator, AXIAL_SHAPE[1], AXIAL_DIMS[1])


@clause("EMB-AXIAL-01")
@pytest.mark.parametrize("length", [20, 13])
def test_axial_position_is_concatenation_of_row_and_column(adapter, length: int) -> None:
    op = require(adapter, "axial_position_encoding")
    first, second = _axial_tables()
    hidden = sum(AXIAL_DIMS)
    actual = op(first.float(), second.float(), length, hidden)
    with annotate(shape=AXIAL_SHAPE, dims=AXIAL_DIMS, length=length):
        assert_close(
            actual,
            ref.axial_position_encoding(first, second, length, hidden),
            ref.axial_position_encoding(first.float(), second.float(), length, hidden),
            what="axial position embeddings",
        )


@clause("EMB-AXIAL-02")
@pytest.mark.parametrize(("shape", "dims"), [((4, 5), (3, 5)), ((64, 64), (64, 192)), ((7, 2), (1, 9))])
def test_axial_parameter_count(adapter, shape: tuple[int, int], dims: tuple[int, int]) -> None:
    op = require(adapter, "axial_parameter_count")
    count = op(shape, dims)
    expected = shape[0] * dims[0] + shape[1] * dims[1]
    if count != expected:
        fail(f"an axial table for grid {shape} with widths {dims} has {count} parameters, expected {expected}")


@clause("EMB-AXIAL-03")
def test_axial_widths_must_add_up_to_the_model_width(adapter) -> None:
    op = require(adapter, "axial_position_encoding")
    first, second = _axial_tables()
    expect_value_error(
        lambda: op(first.float(), second.float(), 20, sum(AXIAL_DIMS) + 1),
        "hidden",
        "width",
        "dim",
        what=f"axial widths {AXIAL_DIMS} with hidden size {sum(AXIAL_DIMS) + 1}",
        any_of=True,
    )


@clause("EMB-AXIAL-04")
def test_axial_positions_cover_at_most_the_grid(adapter) -> None:
    op = require(adapter, "axial_position_encoding")
    first, second = _axial_tables()
    hidden = sum(AXIAL_DIMS)
    short = op(first.float(), second.float(), 7, hidden)
    assert_close(
        short,
        ref.axial_position_encoding(first, second, 7, hidden),
        ref.axial_position_encoding(first.float(), second.float(), 7, hidden),
        what="the first 7 axial positions of a 4 x 5 grid",
    )
    grid = AXIAL_SHAPE[0] * AXIAL_SHAPE[1]
    try:
        result = op(first.float(), second.float(), grid + 1, hidden)
    except Exception:
        return
    fail(f"{grid + 1} positions on a {AXIAL_SHAPE} grid returned {tuple(result.shape)} instead of an error")
