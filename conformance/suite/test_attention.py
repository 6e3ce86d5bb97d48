"""Conformance tests for spec/attention.md: scaled dot-product attention, masks, heads, blocks.

Longformer's local attention is tested in test_attention_local.py and Reformer's LSH attention in
test_attention_lsh.py, as the reference splits them (reference/local.py, reference/lsh.py).

Generated inputs come from a drawn seed (AttentionCase), compared with the float64 reference
under the numerical policy; properties (masked keys do not matter, the future does not matter,
heads do not leak) are checked by perturbation and must hold exactly. Rows with no allowed key
are compared only in the test of ATTN-PAD-02, where the declared variant decides them.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given

from specformer.conformance.numerics import annotate, assert_close, fail
from specformer.conformance.plugin import clause, not_applicable, require, supports
from specformer.conformance.suite.attention_inputs import (
    DTYPE_IDS,
    AttentionCase,
    assert_same,
    attention_cases,
    check_against_reference,
    working_dtype,
)
from specformer.conformance.suite.checks import spec_examples, use_dtype
from specformer.conformance.suite.strategies import DTYPES
from specformer.reference import attention as ref
from specformer.reference.attention import MultiHeadWeights

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
    if scale is None:  # the default: no scale argument at all
        check_against_reference(adapter, case, working_dtype(adapter), "attention without a scale")
        return
    require(adapter, "attention", "scale")
    check_against_reference(adapter, case, working_dtype(adapter), f"attention with scale={scale}", scale=scale)


@clause("ATTN-SDPA-03")
@given(case=attention_cases())
def test_boolean_mask_gives_masked_keys_zero_weight(adapter, case: AttentionCase) -> None:
    op = require(adapter, "attention", "mask")
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
    require(adapter, "attention", "mask", "scale")
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
    masks = ({"mask": case.mask()},) if supports(adapter, "attention", "mask") else ()
    for kwargs in ({}, *masks):
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
    op = require(adapter, "attention", "causal")
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
    check_against_reference(adapter, case, working_dtype(adapter), "causal attention, L = S = 8", causal=True)


def check_spec_examples(adapter, clause_id: str) -> None:
    """Run the clause's worked examples from spec/attention.md: which keys each query sees.

    Zero queries give every visible key the same weight, and identity values make output `i` that
    weight on each key, so the keys with a positive weight are the keys query `i` sees.
    """
    applying = spec_examples(adapter, clause_id)
    op = require(adapter, "attention", "causal")
    dtype = working_dtype(adapter)
    for example in applying:
        data = example.data
        length, keys = data["length"], data["keys"]
        query = torch.zeros(1, 1, length, keys, dtype=dtype)  # (B, H, L, D) with D = S
        key = torch.zeros(1, 1, keys, keys, dtype=dtype)  # (B, H, S, D)
        value = torch.eye(keys, dtype=dtype).view(1, 1, keys, keys)  # (B, H, S, S): value j is one-hot at j
        weights = op(query, key, value, causal=True)[0, 0]  # (L, S)
        visible = [torch.nonzero(weights[i] > 0).flatten().tolist() for i in range(length)]
        if visible != data["visible"]:
            what = f"spec example {example.source}: causal L={length} S={keys}"
            fail(f"{what}: queries see keys {visible}, expected {data['visible']}", visible=visible)


@clause("ATTN-CAUSAL-02")
def test_causal_alignment_spec_examples(adapter) -> None:
    check_spec_examples(adapter, "ATTN-CAUSAL-02")


@clause("ATTN-CAUSAL-02")
@pytest.mark.parametrize(("length", "keys"), [(2, 4), (3, 7), (1, 5)])
def test_causal_alignment_when_lengths_differ(adapter, length: int, keys: int) -> None:
    require(adapter, "attention", "causal")
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
    op = require(adapter, "attention", "mask")
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
    op = require(adapter, "attention", "mask")
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
    """The adapter's block against the reference, at the (B, L) `rows` (all by default).

    The caller requires the optional parameters it passes (context, causal, key_padding_mask)."""
    op = require(adapter, "multi_head_attention")
    dtype = working_dtype(adapter)
    if context is not None:
        kwargs = {**kwargs, "context": context}

    def run(block, in_dtype: torch.dtype) -> torch.Tensor:
        cast = {k: v.to(in_dtype) if k == "context" else v for k, v in kwargs.items()}
        return block(hidden.to(in_dtype), weights.to(in_dtype), **cast)

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
    op = require(adapter, "multi_head_attention", "causal") if causal else require(adapter, "multi_head_attention")
    flags = {"causal": True} if causal else {}
    weights, hidden, _ = _block(6, dropout=0.5)
    first = _check_block(adapter, weights, hidden, "block configured with dropout 0.5, evaluation", **flags)
    dtype = working_dtype(adapter)
    assert_same(op(hidden.to(dtype), weights.to(dtype), **flags), first, "a second call with dropout 0.5")


def _padding(lengths: list[int], length: int, *, left: bool = False) -> torch.Tensor:
    """(B, S) bool, True on real positions: the first `lengths[b]` (or the last, with `left`)."""
    positions = torch.arange(length).view(1, -1)
    real = torch.tensor(lengths).view(-1, 1)
    return positions >= length - real if left else positions < real


@clause("ATTN-MHA-04")
def test_encoder_block_masks_only_padded_keys(adapter) -> None:
    op = require(adapter, "multi_head_attention", "key_padding_mask")
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
    require(adapter, "multi_head_attention", "causal", "key_padding_mask")
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
    require(adapter, "multi_head_attention", "context", "key_padding_mask")
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
    op = require(adapter, "multi_head_attention", "context")
    dtype = working_dtype(adapter)
    weights, hidden, context = _block(10, length=5, context=(7, BLOCK_WIDTH))
    weights, hidden, context = weights.to(dtype), hidden.to(dtype), context.to(dtype)
    before = op(hidden, weights, context=context)
    changed = hidden.clone()
    changed[:, 2] = changed[:, 2] * -2.0 + 1.0
    after = op(changed, weights, context=context)
    others = [0, 1, 3, 4]
    assert_same(after[:, others], before[:, others], "other decoder positions after changing decoder position 2")
