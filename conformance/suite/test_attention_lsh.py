"""Conformance tests for spec/attention.md, Reformer LSH attention (reference/lsh.py): buckets,
chunks, rounds and their combination.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from specformer.conformance.numerics import annotate, assert_close, fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite.attention_inputs import (
    working_dtype,
)
from specformer.conformance.suite.checks import expect_value_error
from specformer.reference import lsh as ref_lsh

# ---------------------------------------------------------------------------------------
# Reformer LSH attention


@dataclass(frozen=True)
class LSHCase:
    """Shared query-key vectors, values and rotations (H, D, rounds, buckets / 2) from a seed."""

    seed: int
    batch: int = 2
    heads: int = 2
    length: int = 16
    dim: int = 8
    rounds: int = 1
    bucket_pairs: int = 2

    def tensors(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed)

        def draw(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)

        query_key = draw(self.batch, self.heads, self.length, self.dim)
        # Norms between 0.5 and 4: key normalisation and scaling mistakes show.
        query_key = query_key * (0.5 + 3.5 * torch.rand(*query_key.shape[:-1], 1, generator=generator)).to(dtype)
        rotations = draw(self.heads, self.dim, self.rounds, self.bucket_pairs)
        return query_key, draw(self.batch, self.heads, self.length, self.dim), rotations


def lsh_dtype(adapter) -> torch.dtype:
    """float64 where the adapter declares it: LSH sums over reordered chunks, so two correct
    float32 implementations differ by about the reference's own error, too close to the policy's
    2x margin to tell apart from a wrong answer; float64 leaves room. Else the working dtype."""
    return torch.float64 if torch.float64 in adapter.capabilities.dtypes else working_dtype(adapter)


def _check_lsh(adapter, case: LSHCase, chunk_length: int, what: str) -> torch.Tensor:
    """The adapter's LSH attention against the reference, under the case's bucket count: an LSH
    whose bucket count is its own (no `n_buckets`) cannot take it."""
    op = require(adapter, "lsh_attention", "n_buckets")
    dtype = lsh_dtype(adapter)
    query_key, value, rotations = case.tensors(dtype)
    actual = op(query_key, value, rotations=rotations, chunk_length=chunk_length)
    expected = ref_lsh.lsh_attention(
        *(t.double() for t in (query_key, value)), rotations=rotations.double(), chunk_length=chunk_length
    )
    in_dtype = ref_lsh.lsh_attention(query_key, value, rotations=rotations, chunk_length=chunk_length)
    with annotate(inputs=repr(case), chunk_length=chunk_length):
        assert_close(actual, expected, in_dtype, what=what)
    return actual


def _full_attention_with_self_score(query_key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """The definition ATTN-LSH-06 reduces to, written out (not through the reference's chunks)."""
    # the keys as ATTN-LSH-02 states them, written here rather than read from reference/lsh.py, so that a
    # bug in the reference's normalisation cannot hide (mutmut's survivors, docs/mutation.md)
    mean_square = query_key.pow(2).mean(dim=-1, keepdim=True)  # (B, H, N, 1)
    keys = query_key * torch.rsqrt(mean_square + ref_lsh.KEY_EPS) / query_key.shape[-1] ** 0.5
    scores = query_key @ keys.transpose(-2, -1)  # (B, H, N, N), no 1/sqrt(D)
    scores = scores.masked_fill(torch.eye(query_key.shape[-2], dtype=torch.bool), ref_lsh.SELF_SCORE)
    return torch.softmax(scores, dim=-1) @ value


@clause("ATTN-LSH-01")
@pytest.mark.parametrize(("rounds", "bucket_pairs"), [(1, 1), (1, 4), (3, 2)])
def test_lsh_buckets_are_argmax_of_rotated_and_negated(adapter, rounds: int, bucket_pairs: int) -> None:
    op = require(adapter, "lsh_buckets", "n_buckets")
    case = LSHCase(seed=31 + rounds, length=12, rounds=rounds, bucket_pairs=bucket_pairs)
    vectors, _value, rotations = case.tensors(lsh_dtype(adapter))
    actual = op(vectors, rotations)
    expected = ref_lsh.lsh_buckets(vectors.double(), rotations.double())
    if actual.shape != expected.shape or not torch.equal(actual.long(), expected):
        differing = (
            "shape " + str(tuple(actual.shape)) if actual.shape != expected.shape else int((actual != expected).sum())
        )
        fail(
            f"LSH buckets differ from argmax([xR; -xR]) ({differing} of {expected.numel()} differ)",
            inputs=repr(case),
            expected=expected[0, 0].tolist(),
            actual=actual[0, 0].tolist() if actual.dim() == 4 else actual.tolist(),
        )


@clause("ATTN-LSH-02")
@pytest.mark.parametrize("seed", [41, 42])
def test_lsh_keys_are_unit_normalised_and_logits_unscaled(adapter, seed: int) -> None:
    op = require(adapter, "lsh_attention")
    case = LSHCase(seed=seed, length=8)
    query_key, value, rotations = case.tensors(lsh_dtype(adapter))
    actual = op(query_key, value, rotations=rotations, chunk_length=8)  # one chunk: every key is visible
    with annotate(inputs=repr(case)):
        assert_close(
            actual,
            _full_attention_with_self_score(query_key.double(), value.double()),
            _full_attention_with_self_score(query_key, value),
            what="LSH attention with one chunk vs softmax(x . x_hat) V",
        )


@clause("ATTN-LSH-03")
def test_lsh_position_attends_itself_only_when_alone(adapter) -> None:
    op = require(adapter, "lsh_attention")
    dtype = lsh_dtype(adapter)
    case = LSHCase(seed=43, length=16)
    query_key, value, rotations = case.tensors(dtype)
    before = op(query_key, value, rotations=rotations, chunk_length=4)
    changed = value.clone()
    changed[:, :, 5] += 100.0  # position 5's own value
    after = op(query_key, changed, rotations=rotations, chunk_length=4)
    own_change = (after[:, :, 5] - before[:, :, 5]).abs().max().item()
    if own_change > 1e-3:
        fail(
            f"position 5's output moved by {own_change:.3g} when only its own value changed by 100: "
            "it attends itself although other keys are in its window",
            inputs=repr(case),
        )
    alone = LSHCase(seed=44, batch=1, heads=1, length=1)
    query_key, value, rotations = alone.tensors(dtype)
    single = op(query_key, value, rotations=rotations, chunk_length=1)
    with annotate(inputs=repr(alone)):
        # subtle: float32 cannot hold -1e5 + log 2 exactly, so a lone position's weight on
        # itself is 1 only to about 1e-3; the reference's own float32 error sets the tolerance.
        assert_close(
            single,
            value.double(),
            ref_lsh.lsh_attention(query_key, value, rotations=rotations, chunk_length=1),
            what="LSH attention over one position (must be its own value)",
        )


@clause("ATTN-LSH-04")
@pytest.mark.parametrize(("length", "chunk_length", "bucket_pairs"), [(16, 4, 2), (24, 8, 1), (20, 4, 4)])
def test_lsh_chunks_attend_themselves_and_the_previous_chunk(
    adapter, length: int, chunk_length: int, bucket_pairs: int
) -> None:
    case = LSHCase(seed=50 + length, length=length, bucket_pairs=bucket_pairs)
    _check_lsh(adapter, case, chunk_length, f"LSH attention, one round, chunks of {chunk_length}")


@clause("ATTN-LSH-05")
@pytest.mark.parametrize("rounds", [2, 3])
def test_lsh_rounds_combine_with_logsumexp_weights(adapter, rounds: int) -> None:
    case = LSHCase(seed=60 + rounds, length=16, rounds=rounds)
    _check_lsh(adapter, case, 4, f"LSH attention, {rounds} hash rounds")


@clause("ATTN-LSH-06")
@pytest.mark.parametrize(("rounds", "bucket_pairs"), [(1, 1), (2, 3)])
def test_lsh_with_one_chunk_is_full_attention(adapter, rounds: int, bucket_pairs: int) -> None:
    op = require(adapter, "lsh_attention")
    case = LSHCase(seed=70 + rounds, length=12, rounds=rounds, bucket_pairs=bucket_pairs)
    query_key, value, rotations = case.tensors(lsh_dtype(adapter))
    actual = op(query_key, value, rotations=rotations, chunk_length=12)
    with annotate(inputs=repr(case)):
        assert_close(
            actual,
            _full_attention_with_self_score(query_key.double(), value.double()),
            _full_attention_with_self_score(query_key, value),
            what=f"LSH attention, {rounds} round(s), one chunk covering the sequence",
        )


@clause("ATTN-LSH-07")
@pytest.mark.parametrize(
    ("argument", "chunk_length", "rotations_shape"),
    [("chunk_length", 5, (2, 8, 1, 2)), ("chunk_length", 0, (2, 8, 1, 2)), ("rotations", 4, (2, 7, 1, 2))],
    ids=["chunk-not-dividing", "chunk-zero", "rotations-wrong-dim"],
)
def test_invalid_lsh_arguments_are_rejected(adapter, argument: str, chunk_length: int, rotations_shape) -> None:
    # Only an LSH that takes the suite's bucket count (its rotations) can check their shape.
    if argument == "rotations":
        op = require(adapter, "lsh_attention", "n_buckets")
    else:
        op = require(adapter, "lsh_attention")
    query_key, value, _ = LSHCase(seed=80).tensors(lsh_dtype(adapter))
    rotations = torch.randn(*rotations_shape, dtype=query_key.dtype)
    expect_value_error(
        lambda: op(query_key, value, rotations=rotations, chunk_length=chunk_length),
        argument,
        what=f"a bad {argument} ({chunk_length=}, rotations {rotations_shape})",
    )
