"""Conformance tests for spec/attention.md, Reformer LSH attention (reference/lsh.py): buckets,
chunks, rounds and their combination.
"""

from __future__ import annotations

import math
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


# ---------------------------------------------------------------------------------------
# Known answers written entry by entry from the clauses (not through reference/lsh.py, whose own bugs a
# comparison with it cannot see: docs/mutation.md lists the reference mutants these kill)


def _lsh_by_the_clauses(query_key: torch.Tensor, value: torch.Tensor, rotations: torch.Tensor, chunk: int):
    """ATTN-LSH-01..05 for one (batch, head) slice, in float64 Python loops: buckets argmax([xR; -xR])
    (ATTN-LSH-01), entries (round, bucket, position) sorted together and cut into chunks of `chunk`, each
    chunk seeing the previous one cyclically (ATTN-LSH-04/05), keys x / |x| up to 1e-6 and unscaled logits
    (ATTN-LSH-02), the self score when a key is the query's own position (ATTN-LSH-03), rounds weighed by
    softmax over their logsumexps (ATTN-LSH-05). query_key (N, D), value (N, Dv), rotations (D, rounds, R)."""
    x, v = query_key.double().tolist(), value.double().tolist()
    length, dim = len(x), len(x[0])
    rounds, pairs = rotations.shape[1], rotations.shape[2]
    rot = rotations.double().tolist()
    entries = []  # (round, bucket, position)
    for r in range(rounds):
        for i in range(length):
            projected = [sum(x[i][d] * rot[d][r][k] for d in range(dim)) for k in range(pairs)]
            both = projected + [-p for p in projected]
            entries.append((r, both.index(max(both)), i))
    entries.sort()
    keys = []
    for row in x:
        scale = 1.0 / math.sqrt(sum(a * a for a in row) / dim + ref_lsh.KEY_EPS) / math.sqrt(dim)
        keys.append([a * scale for a in row])
    chunks = [entries[c : c + chunk] for c in range(0, len(entries), chunk)]
    per_round: dict[tuple[int, int], tuple[float, list[float]]] = {}  # (round, position) -> (lse, output)
    for c, members in enumerate(chunks):
        window = chunks[c - 1] + members  # chunks[-1] for c = 0: the previous chunk wraps around
        for r, _bucket, i in members:
            logits = [
                ref_lsh.SELF_SCORE if j == i else sum(a * b for a, b in zip(x[i], keys[j], strict=True))
                for _r, _b, j in window
            ]
            top = max(logits)
            lse = top + math.log(sum(math.exp(s - top) for s in logits))
            weights = [math.exp(s - lse) for s in logits]
            output = [
                sum(w * v[j][e] for w, (_r, _b, j) in zip(weights, window, strict=True)) for e in range(len(v[0]))
            ]
            per_round[(r, i)] = (lse, output)
    result = []
    for i in range(length):
        lses = [per_round[(r, i)][0] for r in range(rounds)]
        top = max(lses)
        norm = sum(math.exp(s - top) for s in lses)
        result.append(
            [
                sum(math.exp(lses[r] - top) / norm * per_round[(r, i)][1][e] for r in range(rounds))
                for e in range(len(v[0]))
            ]
        )
    return torch.tensor(result, dtype=torch.float64)


@clause("ATTN-LSH-04")
@pytest.mark.parametrize(
    ("length", "chunk_length", "bucket_pairs", "shared"),
    [(12, 2, 2, False), (8, 2, 2, True)],
    ids=["1-round-6-chunks", "shared-rotations-DxR"],
)
def test_lsh_known_answer_entry_by_entry_one_round(
    adapter, length: int, chunk_length: int, bucket_pairs: int, shared: bool
) -> None:
    """One round and at least four chunks, against _lsh_by_the_clauses: a chunk that looks two back, a sort
    that is not stable, or a shared (D, R) rotation spread over the wrong axis changes the answer here."""
    _check_lsh_known_answer(adapter, length, chunk_length, 1, bucket_pairs, shared)


@clause("ATTN-LSH-05")
@pytest.mark.parametrize(
    ("length", "chunk_length", "rounds", "bucket_pairs"),
    [(8, 2, 2, 2), (12, 3, 3, 1)],
    ids=["2-rounds-8-chunks", "3-rounds-12-chunks"],
)
def test_lsh_known_answer_entry_by_entry(
    adapter, length: int, chunk_length: int, rounds: int, bucket_pairs: int
) -> None:
    """Several rounds and at least three chunks, against _lsh_by_the_clauses: a round offset or sort key
    that mixes rounds, or rounds weighed other than by their logsumexps, changes the answer here while a
    value comparison with the reference stays blind to it."""
    _check_lsh_known_answer(adapter, length, chunk_length, rounds, bucket_pairs, False)


def _check_lsh_known_answer(
    adapter, length: int, chunk_length: int, rounds: int, bucket_pairs: int, shared: bool
) -> None:
    """The answer depends on the buckets the suite's rotations give: an LSH with its own bucket count
    cannot take it."""
    op = require(adapter, "lsh_attention", "n_buckets")
    case = LSHCase(seed=90 + length + rounds, batch=1, heads=2, length=length, rounds=rounds, bucket_pairs=bucket_pairs)
    query_key, value, rotations = case.tensors(lsh_dtype(adapter))
    if shared:
        rotations = rotations[0, :, 0]  # (D, R): one round, the same for every head
    actual = op(query_key, value, rotations=rotations, chunk_length=chunk_length)
    per_head = [rotations.view(case.dim, 1, -1) if shared else rotations[h] for h in range(case.heads)]
    expected = torch.stack(
        [_lsh_by_the_clauses(query_key[0, h], value[0, h], per_head[h], chunk_length) for h in range(case.heads)]
    ).unsqueeze(0)
    # the tolerance comes from the reference's own rounding error, so it must not come from the reference in
    # float64: a reference bug would widen it to cover itself; in float64 the formula itself is the yardstick
    in_dtype = (
        expected
        if query_key.dtype == torch.float64
        else ref_lsh.lsh_attention(query_key, value, rotations=rotations, chunk_length=chunk_length)
    )
    with annotate(inputs=repr(case), chunk_length=chunk_length, shared_rotations=shared):
        assert_close(actual, expected, in_dtype, what="LSH attention vs the clauses written entry by entry")
