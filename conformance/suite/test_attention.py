"""Conformance tests for spec/attention.md: scaled dot-product attention, masks, heads.

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
from specformer.conformance.suite.strategies import DTYPES
from specformer.reference import attention as ref

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


def use_dtype(adapter, dtype: torch.dtype) -> None:
    if not adapter.supports_dtype(dtype):
        not_applicable(f"{adapter.name} does not declare {dtype}")


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
    if not torch.equal(actual, expected):
        difference = (actual - expected).abs().max().item()
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
    try:
        result = op(query, key, value, window=window)
    except ValueError as exc:
        if "window" not in str(exc):
            fail(f"ValueError for window={window!r} does not name 'window': {exc}")
        return
    except Exception as exc:
        fail(f"window={window!r} raised {type(exc).__name__} ({exc}), expected ValueError")
    fail(f"window={window!r} was accepted (returned {tuple(result.shape)}), expected ValueError")
