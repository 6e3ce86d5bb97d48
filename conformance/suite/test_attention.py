"""Conformance tests for spec/attention.md: scaled dot-product attention, masks, heads, blocks,
Longformer and Reformer LSH attention.

Generated inputs come from a drawn seed (AttentionCase), compared with the float64 reference
under the numerical policy; properties (masked keys do not matter, the future does not matter,
heads do not leak) are checked by perturbation and must hold exactly. Rows with no allowed key
are compared only in the test of ATTN-PAD-02, where the declared variant decides them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from specformer.conformance.numerics import annotate, assert_close, fail
from specformer.conformance.plugin import clause, not_applicable, require
from specformer.conformance.suite.checks import expect_value_error, use_dtype
from specformer.conformance.suite.strategies import DTYPES
from specformer.reference import attention as ref
from specformer.reference import local as ref_local
from specformer.reference import lsh as ref_lsh
from specformer.reference.attention import MultiHeadWeights
from specformer.reference.local import LongformerWeights

DTYPE_IDS = [str(d).removeprefix("torch.") for d in DTYPES]


@dataclass(frozen=True)
class AttentionCase:
    """Query, key and value shapes, and the seed that fills them."""

    seed: int
    batch: int
    heads: int
    kv_heads: int
    length: int
    keys: int
    dim: int
    value_dim: int

    def tensors(self, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed)

        def draw(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)

        return (
            draw(self.batch, self.heads, self.length, self.dim),
            draw(self.batch, self.kv_heads, self.keys, self.dim),
            draw(self.batch, self.kv_heads, self.keys, self.value_dim),
        )

    def mask(self, *, keep: float = 0.6) -> torch.Tensor:
        """A boolean mask (B, 1, L, S) with at least one allowed key per query."""
        generator = torch.Generator().manual_seed(self.seed + 1)
        allowed = torch.rand(self.batch, 1, self.length, self.keys, generator=generator) < keep
        allowed[..., 0] = True
        return allowed


@st.composite
def attention_cases(draw: st.DrawFn, *, grouped: bool = False) -> AttentionCase:
    kv_heads = draw(st.integers(1, 2))
    heads = kv_heads * (draw(st.integers(1, 3)) if grouped else 1)
    return AttentionCase(
        seed=draw(st.integers(0, 2**31 - 1)),
        batch=draw(st.integers(1, 2)),
        heads=heads,
        kv_heads=kv_heads,
        length=draw(st.integers(1, 9)),
        keys=draw(st.integers(1, 9)),
        dim=draw(st.sampled_from([1, 4, 8, 16])),
        value_dim=draw(st.sampled_from([1, 3, 8])),
    )


def working_dtype(adapter) -> torch.dtype:
    """float32 where the adapter declares it (the dtype models run attention in), else its first
    declared dtype. ATTN-SDPA-01 is checked in every declared dtype."""
    dtypes = adapter.capabilities.dtypes
    return torch.float32 if torch.float32 in dtypes else dtypes[0]


def reference(adapter, *tensors: torch.Tensor, **kwargs: object) -> torch.Tensor:
    """The reference with the adapter's declared variants."""
    return ref.scaled_dot_product_attention(
        *tensors,
        causal_alignment=adapter.variant("ATTN-CAUSAL-02"),
        empty_rows=adapter.variant("ATTN-PAD-02"),
        **kwargs,
    )


def check_against_reference(adapter, case: AttentionCase, dtype: torch.dtype, what: str, **kwargs: object) -> None:
    op = require(adapter, "attention")
    inputs = case.tensors(dtype)
    actual = op(*(t.clone() for t in inputs), **kwargs)
    with annotate(
        inputs=repr(case), **{k: (v if not isinstance(v, torch.Tensor) else "tensor") for k, v in kwargs.items()}
    ):
        assert_close(
            actual,
            reference(adapter, *(t.double() for t in inputs), **kwargs),
            reference(adapter, *inputs, **kwargs),
            what=what,
        )


def assert_same(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    if actual.shape != expected.shape:
        fail(f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)} (unchanged)")
    if not torch.equal(actual, expected):
        difference = (actual.double() - expected.double()).abs().max().item()
        fail(
            f"{what}: outputs changed (max difference {difference:.3g}); they must be unchanged", difference=difference
        )


# ---------------------------------------------------------------------------------------
# Scaled dot-product attention


@clause("ATTN-SDPA-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@given(case=attention_cases())
def test_attention_is_softmax_of_scaled_scores_times_values(adapter, dtype, case: AttentionCase) -> None:
    use_dtype(adapter, dtype)
    check_against_reference(adapter, case, dtype, "attention")


@clause("ATTN-SDPA-02")
@pytest.mark.parametrize("scale", [None, 1.0, 0.37])
def test_default_scale_and_explicit_scale_replacing_it(adapter, scale: float | None) -> None:
    case = AttentionCase(seed=3, batch=1, heads=2, kv_heads=2, length=4, keys=6, dim=16, value_dim=4)
    check_against_reference(adapter, case, working_dtype(adapter), f"attention with scale={scale}", scale=scale)


@clause("ATTN-SDPA-03")
@given(case=attention_cases())
def test_boolean_mask_gives_masked_keys_zero_weight(adapter, case: AttentionCase) -> None:
    op = require(adapter, "attention")
    mask = case.mask()
    check_against_reference(adapter, case, working_dtype(adapter), "attention with a boolean mask", mask=mask)
    query, key, value = case.tensors(working_dtype(adapter))
    # Changing the keys and values that every query masks must change nothing.
    hidden = ~mask.any(dim=-2, keepdim=True).transpose(-2, -1)  # (B, 1, S, 1): keys no query may see
    changed_key, changed_value = key.masked_fill(hidden, 100.0), value.masked_fill(hidden, -100.0)
    assert_same(
        op(query, changed_key, changed_value, mask=mask),
        op(query, key, value, mask=mask),
        "changing keys that the mask hides from every query",
    )


@clause("ATTN-SDPA-04")
@given(case=attention_cases())
def test_float_mask_is_added_to_the_scaled_scores(adapter, case: AttentionCase) -> None:
    generator = torch.Generator().manual_seed(case.seed + 2)
    bias = torch.randn(case.batch, 1, case.length, case.keys, generator=generator).to(working_dtype(adapter)) * 3
    check_against_reference(
        adapter, case, working_dtype(adapter), "attention with an additive mask", mask=bias, scale=0.5
    )


@clause("ATTN-SDPA-05")
@given(case=attention_cases())
def test_weights_sum_to_one(adapter, case: AttentionCase) -> None:
    op = require(adapter, "attention")
    query, key, value = case.tensors(working_dtype(adapter))
    ones = torch.ones_like(value)
    for kwargs in ({}, {"mask": case.mask()}):
        output = op(query, key, ones, **kwargs)
        error = (output - 1.0).abs().max().item()
        if error > (1e-9 if output.dtype == torch.float64 else 1e-5):  # a few ulps of a sum of weights
            fail(
                f"with values all ones the output is not all ones (max error {error:.3g}): weights do not sum to 1",
                inputs=repr(case),
                error=error,
            )


# ---------------------------------------------------------------------------------------
# Causal


@clause("ATTN-CAUSAL-01")
@pytest.mark.parametrize("position", [0, 3, 6])
def test_causal_query_never_sees_the_future(adapter, position: int) -> None:
    op = require(adapter, "attention")
    case = AttentionCase(seed=5, batch=2, heads=2, kv_heads=2, length=8, keys=8, dim=8, value_dim=4)
    query, key, value = case.tensors(working_dtype(adapter))
    before = op(query, key, value, causal=True)
    later = slice(position + 1, None)
    for tensor in (query, key, value):
        tensor[:, :, later] = tensor[:, :, later] * -3.0 + 1.0
    after = op(query, key, value, causal=True)
    assert_same(
        after[:, :, : position + 1],
        before[:, :, : position + 1],
        f"causal outputs up to position {position} after changing positions after it",
    )
    check_against_reference(
        adapter, case, working_dtype(adapter), "causal attention", mask=torch.ones(8, 8, dtype=torch.bool).tril()
    )


@clause("ATTN-CAUSAL-02")
@pytest.mark.parametrize(("length", "keys"), [(2, 4), (3, 7), (1, 5)])
def test_causal_alignment_when_lengths_differ(adapter, length: int, keys: int) -> None:
    case = AttentionCase(
        seed=length * 10 + keys, batch=1, heads=2, kv_heads=2, length=length, keys=keys, dim=8, value_dim=4
    )
    check_against_reference(
        adapter,
        case,
        working_dtype(adapter),
        f"causal attention L={length} S={keys} ({adapter.variant('ATTN-CAUSAL-02')})",
        causal=True,
    )


# ---------------------------------------------------------------------------------------
# Padding


@clause("ATTN-PAD-01")
def test_outputs_do_not_depend_on_padded_keys(adapter) -> None:
    op = require(adapter, "attention")
    lengths = [7, 4, 1]
    case = AttentionCase(seed=9, batch=3, heads=2, kv_heads=2, length=5, keys=7, dim=8, value_dim=4)
    query, key, value = case.tensors(working_dtype(adapter))
    padding = torch.arange(7).view(1, 7) < torch.tensor(lengths).view(3, 1)  # (B, S): True on real keys
    padded = op(query, key, value, mask=padding.view(3, 1, 1, 7))
    for row, real in enumerate(lengths):
        alone = op(query[row : row + 1], key[row : row + 1, :, :real], value[row : row + 1, :, :real])
        with annotate(row=row, real_keys=real):
            assert_close(padded[row : row + 1], alone, alone, what=f"batch row {row} padded to 7 keys vs alone")


@clause("ATTN-PAD-02")
def test_a_query_with_no_allowed_key(adapter) -> None:
    op = require(adapter, "attention")
    variant = adapter.variant("ATTN-PAD-02")
    case = AttentionCase(seed=11, batch=1, heads=1, kv_heads=1, length=3, keys=5, dim=8, value_dim=4)
    query, key, value = case.tensors(working_dtype(adapter))
    mask = torch.ones(1, 1, 3, 5, dtype=torch.bool)
    mask[..., 1, :] = False  # query 1 may attend nothing
    row = op(query, key, value, mask=mask)[0, 0, 1]
    expected = {"zeros": torch.zeros(4, dtype=row.dtype), "uniform": value[0, 0].mean(dim=0)}
    if variant == "nan":
        if not torch.isnan(row).all():
            fail(f"a query with no allowed key gave {row.tolist()}, expected NaN (variant nan)")
    elif not torch.allclose(row, expected[variant], atol=1e-12 if row.dtype == torch.float64 else 1e-6):
        fail(f"a query with no allowed key gave {row.tolist()}, expected {expected[variant].tolist()} ({variant})")


# ---------------------------------------------------------------------------------------
# Heads


@clause("ATTN-HEADS-01")
def test_heads_are_independent(adapter) -> None:
    op = require(adapter, "attention")
    case = AttentionCase(seed=13, batch=2, heads=3, kv_heads=3, length=5, keys=6, dim=8, value_dim=4)
    query, key, value = case.tensors(working_dtype(adapter))
    before = op(query, key, value)
    for tensor in (query, key, value):
        tensor[:, 1] = tensor[:, 1] * 2.0 - 1.0
    after = op(query, key, value)
    assert_same(after[:, [0, 2]], before[:, [0, 2]], "heads 0 and 2 after changing head 1's inputs")


@clause("ATTN-GQA-01")
@given(case=attention_cases(grouped=True))
def test_grouped_query_attention_repeats_key_value_heads_in_place(adapter, case: AttentionCase) -> None:
    check_against_reference(
        adapter, case, working_dtype(adapter), f"attention with {case.heads} query / {case.kv_heads} kv heads"
    )


@clause("ATTN-GQA-01")
def test_query_heads_not_divisible_by_key_value_heads_are_rejected(adapter) -> None:
    op = require(adapter, "attention")
    dtype = working_dtype(adapter)
    query = torch.randn(1, 3, 4, 8, dtype=dtype)
    key, value = torch.randn(1, 2, 4, 8, dtype=dtype), torch.randn(1, 2, 4, 8, dtype=dtype)
    try:
        result = op(query, key, value)
    except Exception:
        return
    fail(f"3 query heads over 2 key/value heads returned a {tuple(result.shape)} tensor instead of an error")


# ---------------------------------------------------------------------------------------
# Cross-attention


@clause("ATTN-CROSS-01")
def test_cross_attention_sees_every_encoder_key(adapter) -> None:
    op = require(adapter, "attention")
    case = AttentionCase(seed=17, batch=1, heads=2, kv_heads=2, length=3, keys=7, dim=8, value_dim=4)
    check_against_reference(adapter, case, working_dtype(adapter), "cross-attention L=3 S=7")
    query, key, value = case.tensors(working_dtype(adapter))
    before = op(query, key, value)
    value[:, :, -1] += 10.0  # the last encoder position
    after = op(query, key, value)
    if torch.allclose(after[:, :, 0], before[:, :, 0]):
        fail("the first decoder query does not depend on the last encoder key: a causal mask was applied")


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


def _check_longformer_rows(adapter, rows: torch.Tensor, what: str, **kwargs: object) -> torch.Tensor:
    """Compare the adapter's Longformer block with the reference at the (B, N) `rows`."""
    op = require(adapter, "longformer_attention")
    weights, hidden, real = _longformer_inputs()
    dtype = working_dtype(adapter)
    variant = adapter.variant("ATTN-LOCAL-05")
    actual = op(hidden.to(dtype), weights.to(dtype), global_mask=_global_flags(), padding_mask=real, **kwargs)

    def expected(in_dtype: torch.dtype) -> torch.Tensor:
        return ref_local.longformer_self_attention(
            hidden.to(in_dtype),
            weights.to(in_dtype),
            global_mask=_global_flags(),
            padding_mask=real,
            global_projections=variant,
            **kwargs,
        )

    with annotate(global_positions=_global_flags().nonzero().tolist(), real_lengths=[13, 11], **kwargs):
        assert_close(actual[rows], expected(torch.float64)[rows], expected(dtype)[rows], what=what)
    return actual


@clause("ATTN-LOCAL-04")
@pytest.mark.parametrize("window", [1, 2, 3])
def test_longformer_local_rows_use_the_local_projections(adapter, window: int) -> None:
    _weights, _hidden, real = _longformer_inputs()
    local_rows = real & ~_global_flags()
    _check_longformer_rows(adapter, local_rows, f"Longformer block, local rows, window {window}", window=window)


@clause("ATTN-LOCAL-05")
@pytest.mark.parametrize("window", [1, 3])
def test_longformer_global_rows(adapter, window: int) -> None:
    _weights, _hidden, real = _longformer_inputs()
    global_rows = real & _global_flags()
    variant = adapter.variant("ATTN-LOCAL-05")
    _check_longformer_rows(adapter, global_rows, f"Longformer block, global rows ({variant})", window=window)


@clause("ATTN-LOCAL-06")
def test_longformer_real_positions_do_not_depend_on_padding(adapter) -> None:
    op = require(adapter, "longformer_attention")
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
    op = require(adapter, "lsh_attention")
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
    op = require(adapter, "lsh_buckets")
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
    op = require(adapter, "lsh_attention")
    query_key, value, _ = LSHCase(seed=80).tensors(lsh_dtype(adapter))
    rotations = torch.randn(*rotations_shape, dtype=query_key.dtype)
    expect_value_error(
        lambda: op(query_key, value, rotations=rotations, chunk_length=chunk_length),
        argument,
        what=f"a bad {argument} ({chunk_length=}, rotations {rotations_shape})",
    )


# ---------------------------------------------------------------------------------------
# Attention blocks

BLOCK_WIDTH = 16


def _block(
    seed: int,
    *,
    heads: int = 2,
    length: int = 6,
    batch: int = 2,
    context: tuple[int, int] | None = None,
    dropout: float = 0.0,
) -> tuple[MultiHeadWeights, torch.Tensor, torch.Tensor | None]:
    """float64 weights, hidden states (B, L, E) and, for cross-attention, a context (B, S, C)."""
    generator = torch.Generator().manual_seed(seed)
    context_dim = None if context is None else context[1]
    weights = MultiHeadWeights.random(BLOCK_WIDTH, heads, generator, context_dim=context_dim, dropout=dropout)
    hidden = torch.randn(batch, length, BLOCK_WIDTH, generator=generator, dtype=torch.float64)
    source = None if context is None else torch.randn(batch, *context, generator=generator, dtype=torch.float64)
    return weights, hidden, source


def _check_block(
    adapter,
    weights: MultiHeadWeights,
    hidden: torch.Tensor,
    what: str,
    *,
    rows: torch.Tensor | None = None,
    context: torch.Tensor | None = None,
    **kwargs: object,
) -> torch.Tensor:
    """The adapter's block against the reference, at the (B, L) `rows` (all by default)."""
    op = require(adapter, "multi_head_attention")
    dtype = working_dtype(adapter)

    def run(block, in_dtype: torch.dtype) -> torch.Tensor:
        source = None if context is None else context.to(in_dtype)
        return block(hidden.to(in_dtype), weights.to(in_dtype), context=source, **kwargs)

    actual = run(op, dtype)
    rows = torch.ones(hidden.shape[:2], dtype=torch.bool) if rows is None else rows
    with annotate(heads=weights.heads, hidden=tuple(hidden.shape), **{k: "tensor" for k in kwargs}):
        assert_close(
            actual[rows],
            run(ref.multi_head_attention, torch.float64)[rows],
            run(ref.multi_head_attention, dtype)[rows],
            what=what,
        )
    return actual


@clause("ATTN-MHA-01")
@pytest.mark.parametrize(("heads", "length", "seed"), [(1, 5, 1), (2, 6, 2), (4, 7, 3), (8, 1, 4)])
def test_block_is_projection_heads_attention_merge_projection(adapter, heads: int, length: int, seed: int) -> None:
    weights, hidden, _ = _block(seed, heads=heads, length=length)
    _check_block(adapter, weights, hidden, f"self-attention block, {heads} heads")


@clause("ATTN-MHA-02")
def test_self_attention_is_permutation_equivariant(adapter) -> None:
    op = require(adapter, "multi_head_attention")
    dtype = working_dtype(adapter)
    weights, hidden, _ = _block(5, length=7)
    permutation = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    output = op(hidden.to(dtype), weights.to(dtype))[:, permutation]
    permuted = op(hidden[:, permutation].to(dtype), weights.to(dtype))
    # A property of the adapter itself: only rounding (keys summed in another order) may differ.
    with annotate(permutation=permutation.tolist()):
        assert_close(permuted, output.double(), output, what="block output on permuted positions vs permuted output")


@clause("ATTN-MHA-03")
@pytest.mark.parametrize("causal", [False, True])
def test_dropout_is_off_in_evaluation(adapter, causal: bool) -> None:
    op = require(adapter, "multi_head_attention")
    weights, hidden, _ = _block(6, dropout=0.5)
    first = _check_block(adapter, weights, hidden, "block configured with dropout 0.5, evaluation", causal=causal)
    dtype = working_dtype(adapter)
    assert_same(op(hidden.to(dtype), weights.to(dtype), causal=causal), first, "a second call with dropout 0.5")


def _padding(lengths: list[int], length: int, *, left: bool = False) -> torch.Tensor:
    """(B, S) bool, True on real positions: the first `lengths[b]` (or the last, with `left`)."""
    positions = torch.arange(length).view(1, -1)
    real = torch.tensor(lengths).view(-1, 1)
    return positions >= length - real if left else positions < real


@clause("ATTN-MHA-04")
def test_encoder_block_masks_only_padded_keys(adapter) -> None:
    op = require(adapter, "multi_head_attention")
    weights, hidden, _ = _block(7)
    real = _padding([6, 3], 6)
    before = _check_block(adapter, weights, hidden, "encoder block with key padding", rows=real, key_padding_mask=real)
    dtype = working_dtype(adapter)
    changed = hidden.clone()
    changed[~real] = changed[~real] * -3.0 + 2.0
    after = op(changed.to(dtype), weights.to(dtype), key_padding_mask=real)
    assert_same(after[real], before[real], "real positions after changing the padded positions")


@clause("ATTN-MHA-05")
@pytest.mark.parametrize("left", [False, True], ids=["right-padding", "left-padding"])
def test_decoder_block_is_causal_and_masks_padded_keys(adapter, left: bool) -> None:
    weights, hidden, _ = _block(8)
    real = _padding([6, 4], 6, left=left)
    _check_block(
        adapter,
        weights,
        hidden,
        "decoder block, causal with key padding",
        rows=real,
        causal=True,
        key_padding_mask=real,
    )
    _check_block(adapter, weights, hidden, "decoder block, causal", causal=True)


@clause("ATTN-CROSS-02")
@pytest.mark.parametrize("context_dim", [BLOCK_WIDTH, 12])
def test_cross_attention_block_reads_the_encoder_under_its_padding(adapter, context_dim: int) -> None:
    weights, hidden, context = _block(9, length=4, context=(7, context_dim))
    encoder_real = _padding([7, 5], 7)
    try:
        _check_block(
            adapter,
            weights,
            hidden,
            f"cross-attention block, context width {context_dim}",
            context=context,
            key_padding_mask=encoder_real,
        )
    except ValueError as exc:
        if context_dim != BLOCK_WIDTH:
            not_applicable(f"{adapter.name} needs the context width to equal the model width: {exc}")
        raise


@clause("ATTN-CROSS-03")
def test_decoder_positions_do_not_interact_in_cross_attention(adapter) -> None:
    op = require(adapter, "multi_head_attention")
    dtype = working_dtype(adapter)
    weights, hidden, context = _block(10, length=5, context=(7, BLOCK_WIDTH))
    weights, hidden, context = weights.to(dtype), hidden.to(dtype), context.to(dtype)
    before = op(hidden, weights, context=context)
    changed = hidden.clone()
    changed[:, 2] = changed[:, 2] * -2.0 + 1.0
    after = op(changed, weights, context=context)
    others = [0, 1, 3, 4]
    assert_same(after[:, others], before[:, others], "other decoder positions after changing decoder position 2")
