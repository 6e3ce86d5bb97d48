"""Conformance tests for spec/heads.md: LM head and tying, generation logits, BERT's heads,
last-token pooling, token classification and question answering.

Hidden states and head weights are drawn in float64 from fixed seeds and given to the adapter in
float32; the oracle is the float64 reference under the numerical policy. Span decoding and label
alignment are exact.
"""

from __future__ import annotations

import pytest
import torch

from specformer.conformance.numerics import annotate, fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite.heads_inputs import IGNORE, close, draw, expect_value_error, padding_mask
from specformer.reference import heads as ref
from specformer.reference.heads import BertHeadWeights

VOCAB, WIDTH, LABELS = 13, 8, 3


def _case(seed: int, batch: int = 2, length: int = 6, vocab: int = VOCAB, width: int = WIDTH):
    generator = torch.Generator().manual_seed(seed)
    hidden = draw(generator, batch, length, width)
    return hidden, BertHeadWeights.random(vocab, width, LABELS, generator), generator


def _outputs(result, count: int, what: str) -> tuple:
    if not isinstance(result, tuple) or len(result) != count:
        fail(f"{what}: expected a tuple of {count}, got {type(result).__name__}")
    return result


# ---------------------------------------------------------------------------------------
# Language-model head


@clause("HEAD-LM-01")
@pytest.mark.parametrize(
    ("seed", "vocab", "layout"), [(1, VOCAB, "contiguous"), (2, 32000, "contiguous"), (3, 97, "transposed")]
)
def test_lm_head_is_a_linear_map(adapter, seed: int, vocab: int, layout: str) -> None:
    op = require(adapter, "lm_logits")
    hidden, weights, _ = _case(seed, vocab=vocab)
    given = hidden.float()
    if layout == "transposed":  # (B, L, D) as a view of a (L, B, D) buffer
        given = hidden.transpose(0, 1).contiguous().transpose(0, 1).float()
    embedding = weights.word_embeddings
    with annotate(seed=seed, vocab=vocab, layout=layout):
        close(
            op(given, embedding.float()),
            ref.lm_logits(hidden, embedding),
            ref.lm_logits(hidden.float(), embedding.float()),
            "LM logits h @ E^T",
        )


def _write_is_shared(first: torch.Tensor, second: torch.Tensor) -> bool:
    with torch.no_grad():
        old = float(second[0, 0])
        first[0, 0] += 1.0
        shared = float(second[0, 0]) != old
        first[0, 0] -= 1.0
    return shared


def _embedding_and_output(adapter, architecture: str, *, tie: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The adapter's (input embedding, output projection) for `architecture`, each checked to be (V, E)."""
    op = require(adapter, "tied_parameters")
    embedding, output = _outputs(op(VOCAB, WIDTH, tie=tie, architecture=architecture), 2, "tied_parameters")
    if embedding.shape != (VOCAB, WIDTH) or output.shape != (VOCAB, WIDTH):
        fail(f"{architecture}: shapes {tuple(embedding.shape)} and {tuple(output.shape)}, expected ({VOCAB}, {WIDTH})")
    return embedding, output


@clause("HEAD-TIE-01")
@pytest.mark.parametrize("architecture", ["causal-lm", "masked-lm"])
def test_tied_embeddings_are_one_parameter(adapter, architecture: str) -> None:
    embedding, output = _embedding_and_output(adapter, architecture, tie=True)
    if not _write_is_shared(embedding, output) or not _write_is_shared(output, embedding):
        fail(f"{architecture} declared tied: a write to one embedding is not seen in the other (two storages)")


@clause("HEAD-TIE-02")
@pytest.mark.parametrize("architecture", ["causal-lm", "masked-lm"])
def test_untied_embeddings_are_separate(adapter, architecture: str) -> None:
    embedding, output = _embedding_and_output(adapter, architecture, tie=False)
    if _write_is_shared(embedding, output):
        fail(f"{architecture} declared untied: a write to the input embedding changed the output projection")


def _check_generation(adapter, side: str, lengths: list[int], seed: int) -> None:
    op = require(adapter, "generation_logits")
    hidden, weights, _ = _case(seed, batch=len(lengths), length=7)
    mask = padding_mask(lengths, 7, side)
    positions = adapter.variant("HEAD-GEN-02") if side == "right" else "last-real"
    embedding = weights.word_embeddings
    with annotate(seed=seed, padding=side, lengths=lengths, variant=positions):
        close(
            op(hidden.float(), mask, embedding.float()),
            ref.generation_logits(hidden, mask, embedding, positions=positions),
            ref.generation_logits(hidden.float(), mask, embedding.float(), positions=positions),
            f"next-token logits under {side} padding",
        )


@clause("HEAD-GEN-01")
def test_generation_reads_the_last_position_under_left_padding(adapter) -> None:
    _check_generation(adapter, "left", [7, 3, 1], seed=4)


@clause("HEAD-GEN-02")
def test_generation_under_right_padding(adapter) -> None:
    _check_generation(adapter, "right", [7, 3, 1], seed=5)


# ---------------------------------------------------------------------------------------
# BERT heads


@clause("HEAD-POOL-01")
def test_pooler_is_tanh_of_cls(adapter) -> None:
    op = require(adapter, "pooler")
    hidden, weights, generator = _case(6, batch=3)
    expected = ref.pooler(hidden, weights)
    close(
        op(hidden.float(), weights.to(torch.float32)),
        expected,
        ref.pooler(hidden.float(), weights.to(torch.float32)),
        "pooler",
    )
    changed = hidden.clone()
    changed[:, 1:] = draw(generator, 3, 5, WIDTH, scale=10.0)
    close(
        op(changed.float(), weights.to(torch.float32)),
        expected,
        ref.pooler(hidden.float(), weights.to(torch.float32)),
        "pooler after changing every position but [CLS]",
    )


@clause("HEAD-MLM-01")
@pytest.mark.parametrize("seed", [7, 8])
def test_mlm_head_transforms_then_decodes(adapter, seed: int) -> None:
    op = require(adapter, "masked_lm_head")
    hidden, weights, _ = _case(seed)
    logits, _loss = _outputs(op(hidden.float(), weights.to(torch.float32)), 2, "masked_lm_head")
    with annotate(seed=seed):
        close(
            logits,
            ref.mlm_logits(hidden, weights),
            ref.mlm_logits(hidden.float(), weights.to(torch.float32)),
            "MLM logits",
        )


@clause("HEAD-MLM-02")
def test_mlm_decoder_is_tied_with_its_own_bias(adapter) -> None:
    tied = require(adapter, "tied_parameters")
    embedding, decoder = _outputs(tied(VOCAB, WIDTH, tie=True, architecture="masked-lm"), 2, "tied_parameters")
    if not _write_is_shared(embedding, decoder):
        fail("BERT's MLM decoder weight is not the word-embedding storage")
    op = require(adapter, "masked_lm_head")
    hidden, weights, generator = _case(9)
    unbiased = BertHeadWeights(**{**weights.__dict__, "decoder_bias": torch.zeros(VOCAB, dtype=torch.float64)})
    biased = BertHeadWeights(**{**weights.__dict__, "decoder_bias": draw(generator, VOCAB, scale=5.0)})
    with_bias, _ = _outputs(op(hidden.float(), biased.to(torch.float32)), 2, "masked_lm_head")
    without, _ = _outputs(op(hidden.float(), unbiased.to(torch.float32)), 2, "masked_lm_head")
    delta = ref.mlm_logits(hidden, biased) - ref.mlm_logits(hidden, unbiased)  # the bias, at every position
    close(
        with_bias - without,
        delta,
        (
            ref.mlm_logits(hidden.float(), biased.to(torch.float32))
            - ref.mlm_logits(hidden.float(), unbiased.to(torch.float32))
        ),
        "MLM logits with bias minus without",
    )


@clause("HEAD-MLM-03")
def test_mlm_loss_counts_labelled_positions(adapter) -> None:
    op = require(adapter, "masked_lm_head")
    hidden, weights, generator = _case(10, batch=3, length=9)
    labels = torch.randint(0, VOCAB, (3, 9), generator=generator)
    labels = labels.masked_fill(torch.rand(3, 9, generator=generator) < 0.7, IGNORE)
    labels[0, 0] = 4
    _logits, loss = _outputs(op(hidden.float(), weights.to(torch.float32), labels), 2, "masked_lm_head")
    close(
        loss,
        ref.masked_lm_head(hidden, weights, labels)[1],
        ref.masked_lm_head(hidden.float(), weights.to(torch.float32), labels)[1],
        "MLM head loss",
    )


@clause("HEAD-NSP-01")
def test_next_sentence_head(adapter) -> None:
    op = require(adapter, "next_sentence_head")
    hidden, weights, _ = _case(11, batch=4)
    labels = torch.tensor([0, 1, 1, 0])
    logits, loss = _outputs(op(hidden.float(), weights.to(torch.float32), labels), 2, "next_sentence_head")
    expected, expected_loss = ref.next_sentence_head(hidden, weights, labels)
    in_dtype = ref.next_sentence_head(hidden.float(), weights.to(torch.float32), labels)
    close(logits, expected, in_dtype[0], "NSP logits")
    close(loss, expected_loss, in_dtype[1], "NSP loss (label 0 = B follows A)")


@clause("HEAD-PRE-01")
def test_pretraining_loss_is_mlm_plus_nsp(adapter) -> None:
    op = require(adapter, "pretraining_heads")
    hidden, weights, generator = _case(12, batch=3, length=7)
    mlm_labels = torch.randint(0, VOCAB, (3, 7), generator=generator).masked_fill(
        torch.rand(3, 7, generator=generator) < 0.6, IGNORE
    )
    mlm_labels[0, 1] = 2
    nsp_labels = torch.tensor([1, 0, 1])
    mlm, nsp, loss = _outputs(
        op(hidden.float(), weights.to(torch.float32), mlm_labels, nsp_labels), 3, "pretraining_heads"
    )
    expected = ref.pretraining_heads(hidden, weights, mlm_labels, nsp_labels)
    in_dtype = ref.pretraining_heads(hidden.float(), weights.to(torch.float32), mlm_labels, nsp_labels)
    close(mlm, expected[0], in_dtype[0], "pretraining MLM logits")
    close(nsp, expected[1], in_dtype[1], "pretraining NSP logits")
    close(loss, expected[2], in_dtype[2], "pretraining loss")


@clause("HEAD-SEQ-01")
def test_bert_sequence_classifier_reads_the_pooled_output(adapter) -> None:
    op = require(adapter, "sequence_classification")
    hidden, weights, _ = _case(13, batch=4)
    labels = torch.tensor([0, 2, 1, 2])
    logits, loss = _outputs(op(hidden.float(), weights.to(torch.float32), labels), 2, "sequence_classification")
    expected = ref.sequence_classification(hidden, weights, labels)
    in_dtype = ref.sequence_classification(hidden.float(), weights.to(torch.float32), labels)
    close(logits, expected[0], in_dtype[0], "sequence-classification logits")
    close(loss, expected[1], in_dtype[1], "sequence-classification loss")


# ---------------------------------------------------------------------------------------
# Last-token pooling

PAD = 0


def _last_token_case(seed: int, lengths: list[int], side: str, final_id: int | None = None):
    hidden, _weights, generator = _case(seed, batch=len(lengths), length=6)
    score = draw(generator, LABELS, WIDTH, scale=WIDTH**-0.5)
    mask = padding_mask(lengths, 6, side)
    ids = torch.randint(1, VOCAB, (len(lengths), 6), generator=generator).masked_fill(mask == 0, PAD)
    if final_id is not None:  # every row's last real token is this id
        ids[torch.arange(len(lengths)), ref.last_real_positions(mask)] = final_id
    return hidden, score, ids, mask


def _check_last_token(adapter, hidden, score, ids, mask, what: str) -> None:
    op = require(adapter, "last_token_classification")
    close(
        op(hidden.float(), score.float(), ids, mask, PAD),
        ref.last_token_classification(hidden, score, mask),
        ref.last_token_classification(hidden.float(), score.float(), mask),
        what,
    )


@clause("HEAD-SEQ-02")
@pytest.mark.parametrize("side", ["left", "right"])
def test_decoder_classifier_pools_the_last_real_token(adapter, side: str) -> None:
    hidden, score, ids, mask = _last_token_case(14, [6, 2, 4], side)
    with annotate(padding=side, input_ids=ids.tolist()):
        _check_last_token(adapter, hidden, score, ids, mask, f"last-token classification under {side} padding")


@clause("HEAD-SEQ-03")
@pytest.mark.parametrize("side", ["left", "right"])
def test_real_token_equal_to_pad_still_counts(adapter, side: str) -> None:
    hidden, score, ids, mask = _last_token_case(15, [6, 2, 4], side, final_id=PAD)
    with annotate(padding=side, input_ids=ids.tolist(), pad_token_id=PAD):
        _check_last_token(
            adapter, hidden, score, ids, mask, "last-token classification when the last real id is the pad id"
        )


@clause("HEAD-SEQ-04")
@pytest.mark.parametrize(("side", "layout"), [("right", "contiguous"), ("left", "transposed-view")])
def test_mean_pooling_averages_real_tokens(adapter, side: str, layout: str) -> None:
    op = require(adapter, "mean_pooling")
    hidden, _weights, _generator = _case(17, batch=3, length=6)
    mask = padding_mask([6, 2, 4], 6, side)
    hidden = hidden.masked_fill((mask == 0).unsqueeze(-1), 50.0)  # loud padding: averaging it shows
    given = hidden.float()
    if layout == "transposed-view":  # (B, L, D) read through a (B, D, L) buffer
        given = given.transpose(1, 2).contiguous().transpose(1, 2)
    with annotate(padding=side, layout=layout, lengths=[6, 2, 4]):
        close(
            op(given, mask),
            ref.mean_pooling(hidden, mask),
            ref.mean_pooling(hidden.float(), mask),
            f"mean pooling under {side} padding",
        )


# ---------------------------------------------------------------------------------------
# Token classification


@clause("HEAD-TOK-01")
@pytest.mark.parametrize("layout", ["contiguous", "strided-slice"])
def test_token_classification(adapter, layout: str) -> None:
    op = require(adapter, "token_classification")
    hidden, weights, generator = _case(16, batch=6 if layout == "strided-slice" else 3, length=8)
    given = hidden.float()
    if layout == "strided-slice":  # every other row of a larger float32 batch: a non-contiguous view
        hidden, given = hidden[::2], given[::2]
    labels = torch.randint(0, LABELS, (3, 8), generator=generator)
    labels[:, 0] = IGNORE  # [CLS]
    labels[1, 5:] = IGNORE  # padding
    given_labels = labels.clone()
    before = given.clone()
    logits, loss = _outputs(op(given, weights.to(torch.float32), given_labels), 2, "token_classification")
    expected = ref.token_classification(hidden, weights, labels)
    in_dtype = ref.token_classification(hidden.float(), weights.to(torch.float32), labels)
    with annotate(layout=layout):
        close(logits, expected[0], in_dtype[0], "token-classification logits")
        close(loss, expected[1], in_dtype[1], "token-classification loss")
        again, again_loss = _outputs(op(given, weights.to(torch.float32), given_labels), 2, "token_classification")
        if not (torch.equal(again, logits) and torch.equal(again_loss, loss)):
            fail("a repeated token-classification call gave different logits or loss")
        if not torch.equal(given, before) or not torch.equal(given_labels, labels):
            fail("the call changed its hidden states or labels in place")


@clause("HEAD-TOK-02")
def test_word_labels_align_to_pieces(adapter) -> None:
    op = require(adapter, "align_word_labels")
    variant = adapter.variant("HEAD-TOK-02")
    cases = [
        ([None, 0, 0, 1, 2, 2, 2, None], [3, 5, 7]),
        ([None, 0, 1, None, 2, None], [1, 2, 0]),  # a pair: [CLS] A [SEP] B [SEP]
        ([None, None], []),
    ]
    for word_ids, word_labels in cases:
        got = op(word_ids, word_labels)
        expected = ref.align_word_labels(word_ids, word_labels, alignment=variant)
        if got != expected:
            fail(f"labels {got} for word ids {word_ids} and word labels {word_labels}, expected {expected} ({variant})")


# ---------------------------------------------------------------------------------------
# Question answering


def _qa(adapter, hidden, weights, starts=None, ends=None):
    op = require(adapter, "question_answering")
    return _outputs(op(hidden.float(), weights.to(torch.float32), starts, ends), 3, "question_answering")


@clause("HEAD-QA-01")
def test_qa_start_and_end_logits(adapter) -> None:
    hidden, weights, _ = _case(17, batch=2, length=10)
    start, end, _ = _qa(adapter, hidden, weights)
    expected = ref.question_answering(hidden, weights)
    in_dtype = ref.question_answering(hidden.float(), weights.to(torch.float32))
    close(start, expected[0], in_dtype[0], "start logits (column 0)")
    close(end, expected[1], in_dtype[1], "end logits (column 1)")


@clause("HEAD-QA-02")
def test_qa_loss_is_the_mean_of_start_and_end(adapter) -> None:
    hidden, weights, _ = _case(18, batch=3, length=10)
    starts, ends = torch.tensor([2, 5, 0]), torch.tensor([4, 5, 9])
    *_, loss = _qa(adapter, hidden, weights, starts, ends)
    close(
        loss,
        ref.question_answering(hidden, weights, starts, ends)[2],
        ref.question_answering(hidden.float(), weights.to(torch.float32), starts, ends)[2],
        "QA loss",
    )


@clause("HEAD-QA-03")
def test_qa_positions_outside_the_window_are_ignored(adapter) -> None:
    hidden, weights, _ = _case(19, batch=4, length=10)
    starts, ends = torch.tensor([2, 10, 3, 25]), torch.tensor([4, 12, 10, 3])
    *_, loss = _qa(adapter, hidden, weights, starts, ends)
    with annotate(start_positions=starts.tolist(), end_positions=ends.tolist(), length=10):
        close(
            loss,
            ref.question_answering(hidden, weights, starts, ends)[2],
            ref.question_answering(hidden.float(), weights.to(torch.float32), starts, ends)[2],
            "QA loss with positions past the window",
        )
    *_, none_inside = _qa(adapter, hidden, weights, torch.tensor([10, 11, 12, 13]), torch.tensor([10, 10, 40, 10]))
    if not torch.isnan(none_inside):
        fail(f"QA loss with every position outside the window: {float(none_inside)}, expected NaN")


def _span(adapter, start, end, context, max_length):
    op = require(adapter, "best_span")
    found = op(
        torch.tensor(start, dtype=torch.float32),
        torch.tensor(end, dtype=torch.float32),
        torch.tensor(context, dtype=torch.bool),
        max_length,
    )
    return tuple(int(i) for i in found)


def _check_random_spans(adapter, *, seed: int, length: int, max_length: int) -> None:
    """The adapter's best span against the reference's on 20 random logit pairs, position 0 outside the context."""
    generator = torch.Generator().manual_seed(seed)
    for trial in range(20):
        start, end = draw(generator, length, scale=3.0), draw(generator, length, scale=3.0)
        context = torch.ones(length, dtype=torch.bool)
        context[0] = False
        expected = ref.best_span(start, end, context, max_length)
        found = _span(adapter, start.tolist(), end.tolist(), context.tolist(), max_length)
        if found != expected:
            fail(
                f"trial {trial}: best span {found} with max_answer_length={max_length}, expected {expected}",
                seed=seed,
                start=start.tolist(),
                end=end.tolist(),
            )


@clause("HEAD-QA-04")
def test_span_never_ends_before_it_starts(adapter) -> None:
    found = _span(adapter, [0, 1, 0, 0, 5], [0, 6, 0, 0, 0], [0, 1, 1, 1, 1], 5)
    if found != (1, 1):
        fail(f"best span {found}, expected (1, 1): the separate argmaxes give (4, 1), which ends before it starts")
    _check_random_spans(adapter, seed=20, length=16, max_length=16)


@clause("HEAD-QA-05")
def test_span_length_is_bounded(adapter) -> None:
    for max_length, expected in ((2, (2, 3)), (3, (1, 3)), (1, (3, 3))):
        found = _span(adapter, [0, 5, 1, 0, 3], [0, 0, 1, 6, 2], [0, 1, 1, 1, 1], max_length)
        if found != expected:
            fail(f"best span {found} with max_answer_length={max_length}, expected {expected}")
    _check_random_spans(adapter, seed=21, length=30, max_length=4)


@clause("HEAD-QA-06")
def test_span_lies_inside_the_context(adapter) -> None:
    # [CLS] q q [SEP] c c c c [SEP] pad: the question holds the largest logits
    start = [0, 9, 8, 0, 1, 2, 0, 0, 7, 9]
    end = [0, 8, 9, 0, 0, 1, 3, 0, 9, 9]
    context = [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    found = _span(adapter, start, end, context, 4)
    if found != (5, 6):
        fail(f"best span {found}, expected (5, 6): the only candidates are context tokens 4..7")
    op = require(adapter, "best_span")
    zeros = torch.zeros(5)
    expect_value_error(
        lambda: op(zeros, zeros, torch.ones(5, dtype=torch.bool), 0), "max_answer_length=0", "max_answer"
    )


@clause("HEAD-ERR-01")
@pytest.mark.parametrize(
    "problem", ["pooler-width", "mlm-width", "qa-width", "token-labels-shape", "qa-positions-shape"]
)
def test_inputs_that_do_not_fit_are_rejected(adapter, problem: str) -> None:
    hidden, weights, _ = _case(22, batch=2, length=5)
    weights32 = weights.to(torch.float32)
    wide = draw(torch.Generator().manual_seed(23), 2, 5, WIDTH + 2).float()
    if problem == "pooler-width":
        op = require(adapter, "pooler")
        expect_value_error(
            lambda: op(wide, weights32), f"hidden of width {WIDTH + 2} for a width-{WIDTH} pooler", "hidden"
        )
    elif problem == "mlm-width":
        op = require(adapter, "masked_lm_head")
        expect_value_error(
            lambda: op(wide, weights32), f"hidden of width {WIDTH + 2} for a width-{WIDTH} MLM head", "hidden"
        )
    elif problem == "qa-width":
        op = require(adapter, "question_answering")
        expect_value_error(
            lambda: op(wide, weights32), f"hidden of width {WIDTH + 2} for a width-{WIDTH} QA head", "hidden"
        )
    elif problem == "token-labels-shape":
        op = require(adapter, "token_classification")
        labels = torch.zeros(2, 4, dtype=torch.long)
        expect_value_error(lambda: op(hidden.float(), weights32, labels), "(2, 4) labels for (2, 5) tokens", "labels")
    else:
        op = require(adapter, "question_answering")
        starts = torch.zeros(3, dtype=torch.long)
        expect_value_error(
            lambda: op(hidden.float(), weights32, starts, starts), "3 positions for a batch of 2", "positions"
        )
