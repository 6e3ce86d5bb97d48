"""Conformance tests for spec/losses.md: cross-entropy, the LM losses, gradient accumulation, MSE, BCE.

Logits are drawn in float64 from fixed seeds and given to the adapter in float32 (float16 and
bfloat16 for LOSS-CE-03); the oracle is the float64 reference on the same values, the tolerance
the numerical policy's. Worked examples are the spec's own numbers.
"""

from __future__ import annotations

import math

import pytest
import torch

from specformer.conformance.numerics import annotate, fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite import checks
from specformer.conformance.suite.heads_inputs import IGNORE, close, draw, expect_value_error, labels_for
from specformer.reference import losses as ref

F32 = torch.float32


def _ce_case(seed: int, rows: int, vocab: int, scale: float = 3.0, ignored: float = 0.0):
    generator = torch.Generator().manual_seed(seed)
    return draw(generator, rows, vocab, scale=scale), labels_for(generator, rows, vocab, ignored)


def _check_ce(op, logits: torch.Tensor, labels: torch.Tensor, what: str, **kwargs) -> None:
    """The adapter on float32 logits against the float64 reference, same kwargs."""
    close(
        op(logits.float(), labels, **kwargs),
        ref.cross_entropy(logits, labels, **kwargs),
        ref.cross_entropy(logits.float(), labels, **kwargs),
        what,
    )


# ---------------------------------------------------------------------------------------
# Cross-entropy


REFERENCE_LOSSES = {"cross_entropy": ref.cross_entropy, "bce_with_logits_loss": ref.bce_with_logits}


def check_spec_examples(adapter, clause_id: str) -> None:
    """Run the clause's worked examples (spec/losses.md): float32 logits and labels (or targets),
    the example's keyword arguments, the loss compared under the numerical policy with the float64
    value the spec gives (the float32 reference's error sets the tolerance), which must be the
    float64 reference's."""
    for example in checks.spec_examples(adapter, clause_id):
        data = example.data
        logits = torch.tensor(data["logits"], dtype=torch.float32)
        if "labels" in data:
            second = torch.tensor(data["labels"])
        else:
            second = torch.tensor(data["targets"], dtype=torch.float32)
        arguments, reference = data.get("arguments", {}), REFERENCE_LOSSES[data["operation"]]
        what = f"spec example {example.source}: {data['operation']} of {data['logits']} with {arguments}"
        oracle = torch.tensor(data["loss"], dtype=torch.float64)
        exact = reference(logits.double(), second if "labels" in data else second.double(), **arguments)
        if not torch.allclose(exact, oracle, rtol=1e-12, atol=1e-12):  # else a wrong value widens the tolerance
            fail(f"{what}: the spec gives {data['loss']}, the float64 reference {exact.tolist()}")
        close(
            require(adapter, data["operation"])(logits, second, **arguments),
            oracle,
            reference(logits, second, **arguments),
            what,
        )


@clause("LOSS-CE-01")
def test_cross_entropy_spec_examples(adapter) -> None:
    check_spec_examples(adapter, "LOSS-CE-01")


@clause("LOSS-CE-01")
def test_cross_entropy_known_answer(adapter) -> None:
    op = require(adapter, "cross_entropy")
    logits = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    for labels, expected in (([0, 0], 2.4076059644443806), ([2, 2], 0.4076059644443806), ([0, 2], 1.4076059644443806)):
        target = torch.tensor(labels)
        oracle = torch.tensor(expected, dtype=torch.float64)
        close(
            op(logits.float(), target), oracle, ref.cross_entropy(logits.float(), target), f"CE of [1, 2, 3], {labels}"
        )


@clause("LOSS-CE-01")
@pytest.mark.parametrize(("seed", "rows", "vocab"), [(1, 16, 50), (2, 1, 2), (3, 64, 1000), (4, 3, 32768)])
def test_cross_entropy_matches_the_reference(adapter, seed: int, rows: int, vocab: int) -> None:
    op = require(adapter, "cross_entropy")
    logits, labels = _ce_case(seed, rows, vocab)
    with annotate(seed=seed, rows=rows, vocab=vocab):
        _check_ce(op, logits, labels, "cross-entropy")


@clause("LOSS-CE-02")
def test_extreme_logits_spec_examples(adapter) -> None:
    check_spec_examples(adapter, "LOSS-CE-02")


@clause("LOSS-CE-02")
def test_cross_entropy_at_extreme_logits(adapter) -> None:
    op = require(adapter, "cross_entropy")
    logits = torch.tensor([[0.0, 1e4], [0.0, 1e4], [-1e4, 1e4]], dtype=torch.float64)
    labels = torch.tensor([0, 1, 0])
    per_row = op(logits.float(), labels, reduction="none")
    if not isinstance(per_row, torch.Tensor) or not torch.isfinite(per_row).all():
        fail(f"cross-entropy of logits of magnitude 1e4 is not finite: {per_row}")
    close(
        per_row,
        torch.tensor([1e4, 0.0, 2e4], dtype=torch.float64),
        ref.cross_entropy(logits.float(), labels, reduction="none"),
        "CE of [0, 1e4]",
    )
    for seed in (5, 6):
        big, target = _ce_case(seed, 8, 257, scale=1e4)
        with annotate(seed=seed, scale=1e4):
            _check_ce(op, big, target, "cross-entropy at logit scale 1e4")


@clause("LOSS-CE-03")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_precision_logits_are_computed_in_float32(adapter, dtype: torch.dtype) -> None:
    op = require(adapter, "cross_entropy")
    variant = adapter.variant("LOSS-CE-03")
    logits, labels = _ce_case(7, 16, 50257, scale=4.0)
    half = logits.to(dtype)
    oracle = ref.cross_entropy(half.double(), labels)  # exact loss of the rounded logits
    in_float32 = ref.cross_entropy(half, labels)  # the reference upcasts: a float32 result
    in_dtype = in_float32 if variant == "float32" else in_float32.to(dtype)
    with annotate(dtype=str(dtype), variant=variant):
        close(op(half, labels), oracle, in_dtype, f"cross-entropy of {dtype} logits ({variant})")
        for reduction in ("none", "sum"):
            close(
                op(half, labels, reduction=reduction),
                ref.cross_entropy(half.double(), labels, reduction=reduction),
                ref.cross_entropy(half, labels, reduction=reduction).to(in_dtype.dtype),
                f"cross-entropy of {dtype} logits, reduction {reduction} ({variant})",
            )


@clause("LOSS-CE-04")
def test_ignored_rows_contribute_nothing(adapter) -> None:
    check_spec_examples(adapter, "LOSS-CE-04")
    op = require(adapter, "cross_entropy")
    # Whatever the ignored rows' logits, the loss is the mean over the counted rows only.
    logits, labels = _ce_case(8, 40, 97, ignored=0.6)
    counted = labels != IGNORE
    wild = logits.clone()
    wild[~counted] = draw(torch.Generator().manual_seed(9), int((~counted).sum()), 97, scale=1e3)
    with annotate(seed=8, counted=int(counted.sum()), rows=40):
        close(
            op(wild.float(), labels),
            ref.cross_entropy(logits[counted], labels[counted]),
            ref.cross_entropy(logits[counted].float(), labels[counted]),
            "CE with 60% ignored rows vs CE of the counted rows alone",
        )
        # another ignore_index: -100 is then an ordinary (invalid) label, so use 0 .. V-1 and ignore 5
        other = labels.masked_fill(~counted, 5).masked_fill(counted & (labels == 5), 6)
        _check_ce(op, logits, other, "CE with ignore_index=5", ignore_index=5)


@clause("LOSS-CE-05")
def test_mean_over_no_counted_rows(adapter) -> None:
    op = require(adapter, "cross_entropy")
    variant = adapter.variant("LOSS-CE-05")
    logits = draw(torch.Generator().manual_seed(10), 4, 11).float()
    loss = op(logits, torch.full((4,), IGNORE))
    value = float(loss)
    if variant == "nan" and not math.isnan(value):
        fail(f"every label ignored: loss {value}, expected NaN (variant nan)")
    if variant == "zero" and value != 0.0:
        fail(f"every label ignored: loss {value}, expected 0 (variant zero)")


@clause("LOSS-CE-06")
def test_label_smoothing_known_answer(adapter) -> None:
    check_spec_examples(adapter, "LOSS-CE-06")


@clause("LOSS-CE-06")
@pytest.mark.parametrize("smoothing", [0.1, 0.5, 1.0])
def test_label_smoothing_matches_the_reference(adapter, smoothing: float) -> None:
    op = require(adapter, "cross_entropy")
    logits, labels = _ce_case(11, 24, 300, ignored=0.3)
    with annotate(seed=11, label_smoothing=smoothing):
        _check_ce(op, logits, labels, f"CE with label smoothing {smoothing}", label_smoothing=smoothing)
        _check_ce(op, logits, labels, "per-row smoothed CE", label_smoothing=smoothing, reduction="none")


@clause("LOSS-CE-07")
def test_sum_and_per_row_reductions(adapter) -> None:
    check_spec_examples(adapter, "LOSS-CE-07")
    op = require(adapter, "cross_entropy")
    logits, labels = _ce_case(12, 30, 64, ignored=0.5)
    with annotate(seed=12):
        _check_ce(op, logits, labels, "summed CE", reduction="sum")
        _check_ce(op, logits, labels, "per-row CE (0 at ignored rows)", reduction="none")


@clause("LOSS-CE-08")
@pytest.mark.parametrize(("label", "ignore_index"), [(11, -100), (-1, -100), (-100, 0), (1 << 40, -100)])
def test_out_of_range_labels_are_rejected(adapter, label: int, ignore_index: int) -> None:
    op = require(adapter, "cross_entropy")
    logits = draw(torch.Generator().manual_seed(13), 3, 11).float()
    labels = torch.tensor([1, label, 2])
    expect_value_error(
        lambda: op(logits, labels, ignore_index=ignore_index),
        f"label {label} with 11 classes and ignore_index={ignore_index}",
        "labels",
    )


@clause("LOSS-CE-09")
@pytest.mark.parametrize("problem", ["labels-2d", "labels-too-long", "smoothing-above-1", "smoothing-negative"])
def test_malformed_arguments_are_rejected(adapter, problem: str) -> None:
    op = require(adapter, "cross_entropy")
    logits = draw(torch.Generator().manual_seed(14), 4, 7).float()
    labels = torch.tensor([0, 1, 2, 3])
    if problem == "labels-2d":
        expect_value_error(lambda: op(logits, labels.reshape(2, 2)), "(2, 2) labels for 4 rows", "labels")
    elif problem == "labels-too-long":
        expect_value_error(lambda: op(logits, torch.arange(5)), "5 labels for 4 rows", "labels")
    else:
        value = 1.5 if problem == "smoothing-above-1" else -0.1
        expect_value_error(
            lambda: op(logits, labels, label_smoothing=value), f"label_smoothing={value}", "label_smoothing"
        )


@clause("LOSS-CE-10")
@pytest.mark.parametrize("layout", ["transposed", "strided-slice", "expanded"])
def test_views_and_repeated_calls(adapter, layout: str) -> None:
    op = require(adapter, "cross_entropy")
    generator = torch.Generator().manual_seed(15)
    if layout == "transposed":
        logits = draw(generator, 301, 20).float().T  # (20, 301), column-major
    elif layout == "strided-slice":
        logits = draw(generator, 40, 301).float()[::2]  # every other row of a larger batch
    else:
        logits = draw(generator, 1, 301).float().expand(20, 301)  # one row, stride 0
    labels = labels_for(generator, 20, 301, 0.2)
    before = logits.clone()
    expected = ref.cross_entropy(logits.double(), labels, label_smoothing=0.1)
    first = op(logits, labels, label_smoothing=0.1)
    with annotate(layout=layout, stride=logits.stride()):
        close(
            first,
            expected,
            ref.cross_entropy(logits.contiguous(), labels, label_smoothing=0.1),
            f"CE of {layout} logits",
        )
        second = op(logits, labels, label_smoothing=0.1)
        if not torch.equal(first, second):
            fail(f"a repeated call gave {float(second)!r} after {float(first)!r}")
        if not torch.equal(logits, before):
            fail(f"the call changed its {layout} logits in place")


# ---------------------------------------------------------------------------------------
# Language-model losses


def _lm_case(seed: int, batch: int, length: int, vocab: int, lengths: list[int] | None = None):
    """Logits (B, L, V) and input ids (B, L) with -100 after each row's real length."""
    generator = torch.Generator().manual_seed(seed)
    logits = draw(generator, batch, length, vocab, scale=2.0)
    ids = torch.randint(0, vocab, (batch, length), generator=generator)
    if lengths is not None:
        ids = ids.masked_fill(torch.arange(length) >= torch.tensor(lengths)[:, None], IGNORE)
    return logits, ids


def _as_declared(adapter, ids: torch.Tensor) -> torch.Tensor:
    """The labels in the form the adapter's LOSS-CLM-01 variant takes."""
    return ids if adapter.variant("LOSS-CLM-01") == "unshifted" else ref.shift_labels(ids)


def _check_clm(adapter, op, logits: torch.Tensor, ids: torch.Tensor, what: str, **kwargs) -> None:
    close(
        op(logits.float(), _as_declared(adapter, ids), **kwargs),
        ref.causal_lm_loss(logits, ids, **kwargs),
        ref.causal_lm_loss(logits.float(), ids, **kwargs),
        f"{what} ({adapter.variant('LOSS-CLM-01')} labels)",
    )


@clause("LOSS-CLM-01")
def test_causal_lm_known_answer(adapter) -> None:
    op = require(adapter, "causal_lm_loss")
    # Position 0 predicts token 2 with logits [1, 2, 3]; position 1 predicts token 0 with [3, 2, 1].
    logits = torch.tensor([[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [9.0, 0.0, 0.0]]], dtype=torch.float64)
    ids = torch.tensor([[1, 2, 0]])
    close(
        op(logits.float(), _as_declared(adapter, ids)),
        torch.tensor(0.4076059644443806, dtype=torch.float64),
        ref.causal_lm_loss(logits.float(), ids),
        "causal-LM loss of the worked example",
    )


@clause("LOSS-CLM-01")
@pytest.mark.parametrize(("seed", "batch", "length", "vocab"), [(20, 2, 9, 31), (21, 1, 2, 5), (22, 3, 1030, 257)])
def test_causal_lm_loss_shifts(adapter, seed: int, batch: int, length: int, vocab: int) -> None:
    op = require(adapter, "causal_lm_loss")
    logits, ids = _lm_case(seed, batch, length, vocab)  # no padding: every row counts L-1 targets
    with annotate(seed=seed, shape=(batch, length, vocab)):
        _check_clm(adapter, op, logits, ids, "causal-LM loss")


@clause("LOSS-CLM-02")
def test_last_position_logits_are_unused(adapter) -> None:
    op = require(adapter, "causal_lm_loss")
    logits, ids = _lm_case(23, 2, 6, 17)
    changed = logits.clone()
    changed[:, -1] = draw(torch.Generator().manual_seed(24), 2, 17, scale=50.0)
    with annotate(seed=23):
        close(
            op(changed.float(), _as_declared(adapter, ids)),
            ref.causal_lm_loss(logits, ids),
            ref.causal_lm_loss(logits.float(), ids),
            "causal-LM loss after changing the last position's logits",
        )


@clause("LOSS-CLM-03")
def test_mean_is_over_the_batch_tokens(adapter) -> None:
    op = require(adapter, "causal_lm_loss")
    logits, ids = _lm_case(25, 3, 12, 23, lengths=[12, 3, 7])  # 11, 2 and 6 targets
    with annotate(seed=25, lengths=[12, 3, 7]):
        _check_clm(adapter, op, logits, ids, "causal-LM loss over right-padded rows")


@clause("LOSS-CLM-04")
@pytest.mark.parametrize("items", [1, 7, 1000])
def test_num_items_in_batch_replaces_the_count(adapter, items: int) -> None:
    logits, ids = _lm_case(26, 2, 8, 19, lengths=[8, 5])
    with annotate(seed=26, num_items_in_batch=items):
        clm = require(adapter, "causal_lm_loss")
        _check_clm(
            adapter, clm, logits, ids, f"causal-LM loss with num_items_in_batch={items}", num_items_in_batch=items
        )
        mlm = require(adapter, "masked_lm_loss")
        close(
            mlm(logits.float(), ids, num_items_in_batch=items),
            ref.masked_lm_loss(logits, ids, num_items_in_batch=items),
            ref.masked_lm_loss(logits.float(), ids, num_items_in_batch=items),
            f"masked-LM loss with num_items_in_batch={items}",
        )


@clause("LOSS-ACCUM-01")
def test_micro_batches_add_up_to_the_batch(adapter) -> None:
    op = require(adapter, "causal_lm_loss")
    logits, ids = _lm_case(27, 4, 10, 29, lengths=[10, 2, 3, 4])
    counted = int((ref.shift_labels(ids) != IGNORE).sum())
    whole = ref.causal_lm_loss(logits, ids)
    parts = [(logits[:2], ids[:2]), (logits[2:], ids[2:])]  # 10 and 5 targets
    mean_of_means = sum(ref.causal_lm_loss(lg, i) for lg, i in parts) / len(parts)
    assert abs(float(mean_of_means - whole)) > 1e-3, "the case must tell the two means apart"
    accumulated = sum(op(lg.float(), _as_declared(adapter, i), num_items_in_batch=counted) for lg, i in parts)
    with annotate(seed=27, num_items_in_batch=counted, mean_of_micro_batch_means=float(mean_of_means)):
        close(accumulated, whole, ref.causal_lm_loss(logits.float(), ids), "sum of micro-batch losses")


@clause("LOSS-MLM-01")
@pytest.mark.parametrize("seed", [28, 29])
def test_masked_lm_loss_is_not_shifted(adapter, seed: int) -> None:
    op = require(adapter, "masked_lm_loss")
    generator = torch.Generator().manual_seed(seed)
    logits = draw(generator, 3, 20, 41, scale=2.0)
    labels = labels_for(generator, 60, 41, 0.85).reshape(3, 20)
    with annotate(seed=seed):
        close(
            op(logits.float(), labels),
            ref.masked_lm_loss(logits, labels),
            ref.masked_lm_loss(logits.float(), labels),
            "masked-LM loss",
        )


# The sequence losses take (B, L, V) logits and (B, L) labels: LOSS-CE-08 and LOSS-CE-09 hold for
# them too. A lazy implementation flattens both and never compares the shapes, so labels of
# another shape with as many elements (a transposed batch) are silently paired with other rows.

SEQUENCE_LOSSES = ("causal_lm_loss", "masked_lm_loss")


def _sequence_labels_as_given(adapter, operation: str, ids: torch.Tensor) -> torch.Tensor:
    return _as_declared(adapter, ids) if operation == "causal_lm_loss" else ids


@clause("LOSS-CE-08")
@pytest.mark.parametrize("label", [11, -1])
@pytest.mark.parametrize("operation", SEQUENCE_LOSSES)
def test_sequence_losses_reject_out_of_range_labels(adapter, operation: str, label: int) -> None:
    op = require(adapter, operation)
    logits = draw(torch.Generator().manual_seed(34), 2, 4, 11).float()
    # position 2: a target unshifted, shifted once, and even shifted twice, so only the check can drop it
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, label, 7]])
    expect_value_error(
        lambda: op(logits, _sequence_labels_as_given(adapter, operation, ids)),
        f"{operation}: label {label} with 11 classes",
        "labels",
    )


@clause("LOSS-CE-09")
@pytest.mark.parametrize("problem", ["transposed", "one-short", "flat"])
@pytest.mark.parametrize("operation", SEQUENCE_LOSSES)
def test_sequence_losses_reject_labels_of_another_shape(adapter, operation: str, problem: str) -> None:
    op = require(adapter, operation)
    logits = draw(torch.Generator().manual_seed(35), 2, 3, 7).float()  # (B, L, V) = (2, 3, 7)
    ids = torch.tensor([[0, 1, 2], [3, 4, 5]])
    labels = _sequence_labels_as_given(adapter, operation, ids)
    # contiguous: what is checked is the shape, not whether a .view() of a strided tensor fails
    labels = {"transposed": labels.T, "one-short": labels[:, :2], "flat": labels.reshape(-1)}[problem].contiguous()
    expect_value_error(
        lambda: op(logits, labels), f"{operation}: {tuple(labels.shape)} labels for (2, 3, 7) logits", "labels"
    )


# ---------------------------------------------------------------------------------------
# Classification losses


@clause("LOSS-MSE-01")
@pytest.mark.parametrize("shape", ["column", "flat", "single"])
def test_mse_is_not_broadcast(adapter, shape: str) -> None:
    op = require(adapter, "mse_loss")
    generator = torch.Generator().manual_seed(30)
    batch = 1 if shape == "single" else 6
    predictions, targets = draw(generator, batch, 1), draw(generator, batch)
    given = predictions if shape != "flat" else predictions.squeeze(-1)
    with annotate(predictions=tuple(given.shape), targets=tuple(targets.shape)):
        close(
            op(given.float(), targets.float()),
            ref.mse_loss(given, targets),
            ref.mse_loss(given.float(), targets.float()),
            "mean squared error",
        )


@clause("LOSS-MSE-01")
def test_mse_shape_mismatch_is_rejected(adapter) -> None:
    op = require(adapter, "mse_loss")
    generator = torch.Generator().manual_seed(31)
    predictions, targets = draw(generator, 4, 3).float(), draw(generator, 4).float()
    expect_value_error(lambda: op(predictions, targets), "(4, 3) predictions against (4,) targets", "targets")


@clause("LOSS-BCE-01")
def test_bce_with_logits(adapter) -> None:
    check_spec_examples(adapter, "LOSS-BCE-01")
    op = require(adapter, "bce_with_logits_loss")
    generator = torch.Generator().manual_seed(32)
    for scale in (1.0, 30.0):
        x = draw(generator, 5, 7, scale=scale)
        y = (torch.rand(5, 7, generator=generator) < 0.4).double()
        y[0] = torch.rand(7, generator=generator, dtype=torch.float64)  # soft targets are allowed
        with annotate(seed=32, scale=scale):
            close(op(x.float(), y.float()), ref.bce_with_logits(x, y), ref.bce_with_logits(x.float(), y.float()), "BCE")


@clause("LOSS-SEQ-01")
@pytest.mark.parametrize("kind", ["regression", "single-label", "multi-label", "integer-valued-floats"])
def test_problem_type_follows_the_labels(adapter, kind: str) -> None:
    op = require(adapter, "sequence_classification_loss")
    generator = torch.Generator().manual_seed(33)
    if kind == "regression":
        logits, labels = draw(generator, 5, 1), draw(generator, 5).float()
    elif kind == "single-label":
        logits, labels = draw(generator, 5, 3), torch.randint(0, 3, (5,), generator=generator)
    else:
        logits, labels = draw(generator, 5, 3), (torch.rand(5, 3, generator=generator) < 0.5).float()
        if kind == "integer-valued-floats":
            logits, labels = draw(generator, 5, 1).expand(5, 3).contiguous(), labels  # one column repeated
    with annotate(kind=kind, labels_dtype=str(labels.dtype)):
        close(
            op(logits.float(), labels),
            ref.sequence_classification_loss(logits, labels.double() if labels.is_floating_point() else labels),
            ref.sequence_classification_loss(logits.float(), labels),
            f"sequence-classification loss ({ref.problem_type(logits.shape[1], labels)})",
        )
