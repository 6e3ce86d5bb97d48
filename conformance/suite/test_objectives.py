"""Conformance tests for spec/objectives.md: MLM, whole-word masking, NSP, T5 and BART noising, shift-right.

Random operations are checked statistically (fixed seeds, chi-square at ALPHA = 0.001) and
structurally (exact invariants on every draw); deterministic ones against known answers and
the reference. Inputs come from objectives_inputs.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from specformer.conformance.numerics import annotate, chi_square_p_value, fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite.checks import expect_value_error
from specformer.conformance.suite.objectives_inputs import (
    ALPHA,
    CLS,
    MASK,
    SEP,
    VOCAB,
    documents,
    mlm_batch,
    rate_p_value,
    sentence_of,
    word_batch,
)
from specformer.reference import objectives as ref

IGNORE = -100


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _expect_value_error(call, what: str, names: tuple[str, ...]) -> None:
    """`call()` must raise ValueError whose message names one of `names`."""
    expect_value_error(call, *names, what=what, any_of=True)


def _check_rate(what: str, successes: int, trials: int, probability: float, **evidence) -> None:
    p_value = rate_p_value(successes, trials, probability)
    if p_value < ALPHA:
        fail(
            f"{what}: {successes} of {trials} ({successes / trials:.4f}), expected rate {probability}: "
            f"binomial p={p_value:.2e} < {ALPHA}",
            p_value=p_value,
            **evidence,
        )


def _check_distribution(what: str, counts: torch.Tensor, probabilities: torch.Tensor, **evidence) -> None:
    """Counts per category against the categories' probabilities: a chi-square test at ALPHA."""
    p_value = chi_square_p_value(counts, probabilities)
    if p_value < ALPHA:
        fail(f"{what}: chi-square p={p_value:.2e} < {ALPHA}", p_value=p_value, counts=counts.tolist(), **evidence)


def _masking(adapter, operation: str, ids, groups, seed, **kwargs):
    """mlm_mask (groups: the special-token mask) or whole_word_mask (groups: the word ids) with [MASK] = MASK,
    a vocabulary of VOCAB and a generator seeded with `seed`."""
    op = require(adapter, operation)
    return op(ids, groups, mask_token_id=MASK, vocab_size=VOCAB, generator=_gen(seed), **kwargs)


def _replacements(inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How many selected positions hold [MASK], their original id, and another id."""
    selected = labels != IGNORE
    new, old = inputs[selected], labels[selected]
    return torch.tensor([int((new == MASK).sum()), int((new == old).sum()), int(((new != MASK) & (new != old)).sum())])


# _replacements' categories under BERT's 80 / 10 / 10 split: a random id is [MASK] or the original
# with probability 1/V each.
REPLACEMENT_PROBABILITIES = torch.tensor(
    [0.8 + 0.1 / VOCAB, 0.1 + 0.1 / VOCAB, 0.1 * (VOCAB - 2) / VOCAB], dtype=torch.float64
)


# ---------------------------------------------------------------------------------------
# MLM


@clause("OBJ-MLM-01")
def test_special_tokens_are_never_selected(adapter) -> None:
    ids, special = mlm_batch(1, 400, 50)
    inputs, labels = _masking(adapter, "mlm_mask", ids, special, 11, mlm_probability=0.9)
    if (labels[special] != IGNORE).any():
        fail(f"{int((labels[special] != IGNORE).sum())} special or padding positions got a label", seed=11)
    if not torch.equal(inputs[special], ids[special]):
        fail("special or padding positions were changed in the inputs", seed=11)


@clause("OBJ-MLM-02")
def test_selection_rate(adapter) -> None:
    ids, special = mlm_batch(2, 2000, 128)
    _inputs, labels = _masking(adapter, "mlm_mask", ids, special, 12)
    trials = int((~special).sum())
    _check_rate("selected non-special tokens", int((labels[~special] != IGNORE).sum()), trials, 0.15, seed=12)


@clause("OBJ-MLM-03")
@pytest.mark.parametrize("layout", ["contiguous", "slice-of-larger-batch"])
def test_labels_are_the_original_ids(adapter, layout: str) -> None:
    ids, special = mlm_batch(3, 64, 40)
    if layout != "contiguous":
        ids, special = ids[::2, 1:], special[::2, 1:]  # a non-contiguous view
    before = ids.clone()
    inputs, labels = _masking(adapter, "mlm_mask", ids, special, 13)
    with annotate(seed=13, layout=layout):
        if not torch.equal(ids, before):
            fail("the caller's input_ids were modified")
        selected = labels != IGNORE
        if not selected.any():
            fail("nothing was selected in 2000+ tokens at p = 0.15")
        if not torch.equal(labels[selected], ids[selected]):
            fail("labels at selected positions differ from the original ids")
        if not torch.equal(inputs[~selected], ids[~selected]):
            fail("unselected positions were changed in the inputs")
        if inputs.shape != ids.shape or labels.shape != ids.shape:
            fail(f"shapes {tuple(inputs.shape)}, {tuple(labels.shape)}, expected {tuple(ids.shape)}")


@clause("OBJ-MLM-04")
def test_mask_random_unchanged_split(adapter) -> None:
    ids, special = mlm_batch(4, 4000, 128)
    inputs, labels = _masking(adapter, "mlm_mask", ids, special, 14, mlm_probability=0.5)
    counts = _replacements(inputs, labels)
    what = f"[MASK] / unchanged / other among {int(counts.sum())} selected tokens: {(counts / counts.sum()).tolist()}"
    _check_distribution(
        f"{what}, expected {REPLACEMENT_PROBABILITIES.tolist()}", counts, REPLACEMENT_PROBABILITIES, seed=14
    )


@clause("OBJ-MLM-05")
def test_random_replacements_are_uniform(adapter) -> None:
    ids, special = mlm_batch(5, 1000, 100)
    inputs, labels = _masking(
        adapter, "mlm_mask", ids, special, 15, mlm_probability=1.0, mask_replace_prob=0.0, random_replace_prob=1.0
    )
    drawn = inputs[labels != IGNORE]
    counts = torch.bincount(drawn, minlength=VOCAB)
    if counts.numel() > VOCAB or int(drawn.min()) < 0:
        fail(f"random ids outside [0, {VOCAB}): {sorted(set(drawn[(drawn < 0) | (drawn >= VOCAB)].tolist()))[:8]}")
    uniform = torch.full((VOCAB,), 1.0 / VOCAB, dtype=torch.float64)
    _check_distribution(
        f"{drawn.numel()} random replacements are not uniform over [0, {VOCAB})", counts, uniform, seed=15
    )
    # a production vocabulary (Gemma's 262,144 ids) over a sequence of 1031 tokens: the range is all of it
    big = 262_144
    ids = torch.randint(5, big, (4, 1031), generator=_gen(16))
    inputs, labels = require(adapter, "mlm_mask")(
        ids,
        torch.zeros_like(ids, dtype=torch.bool),
        mask_token_id=MASK,
        vocab_size=big,
        generator=_gen(17),
        mlm_probability=1.0,
        mask_replace_prob=0.0,
        random_replace_prob=1.0,
    )
    drawn = inputs[labels != IGNORE]
    if int(drawn.min()) < 0 or int(drawn.max()) >= big or int(drawn.max()) < big * 0.99:
        fail(f"random ids over a {big}-id vocabulary span [{int(drawn.min())}, {int(drawn.max())}]", seed=17)


@clause("OBJ-MLM-06")
@pytest.mark.parametrize("edge", ["p=0", "p=1", "mask_replace_prob=1"])
def test_probability_edges(adapter, edge: str) -> None:
    ids, special = mlm_batch(6, 50, 30)
    if edge == "p=0":
        inputs, labels = _masking(adapter, "mlm_mask", ids, special, 16, mlm_probability=0.0)
        if (labels != IGNORE).any() or not torch.equal(inputs, ids):
            fail(f"mlm_probability=0 selected {int((labels != IGNORE).sum())} tokens")
    elif edge == "p=1":
        _inputs, labels = _masking(adapter, "mlm_mask", ids, special, 16, mlm_probability=1.0)
        if not torch.equal(labels != IGNORE, ~special):
            fail(f"mlm_probability=1 left {int(((labels == IGNORE) & ~special).sum())} non-special tokens unselected")
    else:
        inputs, labels = _masking(adapter, "mlm_mask", ids, special, 16, mask_replace_prob=1.0, random_replace_prob=0.0)
        selected = labels != IGNORE
        if not (inputs[selected] == MASK).all():
            fail(f"mask_replace_prob=1 left {int((inputs[selected] != MASK).sum())} selected tokens without [MASK]")


@clause("OBJ-MLM-07")
@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"mlm_probability": -0.1}, ("mlm_probability",)),
        ({"mlm_probability": 1.5}, ("mlm_probability",)),
        ({"mask_replace_prob": 1.2, "random_replace_prob": 0.0}, ("mask_replace_prob",)),
        ({"mask_replace_prob": 0.8, "random_replace_prob": 0.3}, ("mask_replace_prob", "random_replace_prob")),
    ],
    ids=["p<0", "p>1", "mask>1", "sum>1"],
)
def test_probabilities_outside_the_unit_interval_are_rejected(adapter, kwargs: dict, names: tuple[str, ...]) -> None:
    ids, special = mlm_batch(7, 4, 10)
    _expect_value_error(lambda: _masking(adapter, "mlm_mask", ids, special, 17, **kwargs), f"mlm_mask({kwargs})", names)


# ---------------------------------------------------------------------------------------
# Whole-word masking


@clause("OBJ-WWM-01")
def test_pieces_of_a_word_are_masked_together(adapter) -> None:
    ids, word_ids = word_batch(21, 200, 30)
    _inputs, labels = _masking(adapter, "whole_word_mask", ids, word_ids, 31, mlm_probability=0.3)
    selected = labels != IGNORE
    if (selected & (word_ids < 0)).any():
        fail(f"{int((selected & (word_ids < 0)).sum())} special or padding positions selected", seed=31)
    for b in range(ids.shape[0]):
        for word in word_ids[b].unique().tolist():
            if word < 0:
                continue
            states = selected[b][word_ids[b] == word]
            if states.any() and not states.all():
                fail(f"row {b}, word {word}: pieces selected {states.tolist()}, expected all or none", seed=31)


@clause("OBJ-WWM-02")
def test_word_selection_rate(adapter) -> None:
    ids, word_ids = word_batch(22, 2000, 30)
    _inputs, labels = _masking(adapter, "whole_word_mask", ids, word_ids, 32)
    first_piece = (word_ids >= 0) & (word_ids != torch.cat([torch.full_like(word_ids[:, :1], -2), word_ids[:, :-1]], 1))
    _check_rate("selected words", int((labels[first_piece] != IGNORE).sum()), int(first_piece.sum()), 0.15, seed=32)


@clause("OBJ-WWM-03")
def test_whole_word_replacement_follows_the_variant(adapter) -> None:
    variant = adapter.variant("OBJ-WWM-03")
    ids, word_ids = word_batch(23, 1500, 30)
    inputs, labels = _masking(adapter, "whole_word_mask", ids, word_ids, 33, mlm_probability=0.5)
    counts = _replacements(inputs, labels)
    if variant == "mask-only":
        if counts[0] != counts.sum():
            fail(f"variant mask-only: {int(counts[1:].sum())} selected pieces are not [MASK]")
        return
    what = f"variant per-token: [MASK] / unchanged / other {(counts / counts.sum()).tolist()}"
    _check_distribution(
        f"{what}, expected {REPLACEMENT_PROBABILITIES.tolist()}", counts, REPLACEMENT_PROBABILITIES, seed=33
    )


# ---------------------------------------------------------------------------------------
# Next-sentence prediction


def _pairs(adapter, docs, seed):
    op = require(adapter, "next_sentence_pairs")
    return op(docs, cls_token_id=CLS, sep_token_id=SEP, generator=_gen(seed))


def _split(example) -> tuple[list[int], list[int]]:
    ids = list(example.input_ids)
    first_sep = ids.index(SEP)
    return ids[1:first_sep], ids[first_sep + 1 : -1]


@clause("OBJ-NSP-01")
def test_label_zero_means_b_follows_a(adapter) -> None:
    docs = documents(41, 30, 6)
    examples = _pairs(adapter, docs, 51)
    if len(examples) != 30 * 5:
        fail(f"{len(examples)} examples from 30 documents of 6 sentences, expected 150 (one per adjacent pair)")
    for example in examples:
        a, b = _split(example)
        (da, ia), (db, ib) = sentence_of(a), sentence_of(b)
        if example.label == 0 and (db, ib) != (da, ia + 1):
            fail(f"label 0 but B is sentence {ib} of document {db}, A is sentence {ia} of document {da}", seed=51)
        if example.label == 1 and db == da:
            fail(f"label 1 but B comes from A's own document {da}", seed=51)
        if example.label not in (0, 1):
            fail(f"label {example.label}, expected 0 or 1")


@clause("OBJ-NSP-02")
def test_half_of_the_pairs_are_random(adapter) -> None:
    docs = documents(42, 500, 21)
    labels = [e.label for e in _pairs(adapter, docs, 52)]
    _check_rate("pairs with a random B", sum(labels), len(labels), 0.5, seed=52)


@clause("OBJ-NSP-03")
def test_pair_layout_and_segment_ids(adapter) -> None:
    docs = documents(43, 5, 4)
    for example in _pairs(adapter, docs, 53):
        a, b = _split(example)
        expected_ids = [CLS, *a, SEP, *b, SEP]
        expected_types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        if list(example.input_ids) != expected_ids or example.input_ids[0] != CLS:
            fail(f"layout {list(example.input_ids)}, expected [CLS] A [SEP] B [SEP]")
        if list(example.token_type_ids) != expected_types:
            fail(f"token types {list(example.token_type_ids)}, expected {expected_types}")
        if sentence_of(a)[1] >= 4 or a != docs[sentence_of(a)[0]][sentence_of(a)[1]]:
            fail(f"A {a} is not a sentence of the documents")


# ---------------------------------------------------------------------------------------
# T5 span corruption

SPAN_CASES = [(100, 0.15, 3.0), (512, 0.15, 3.0), (2, 0.15, 3.0), (3, 0.5, 1.0), (7, 0.15, 3.0), (1031, 0.3, 8.0)]


def _runs(mask: torch.Tensor) -> list[tuple[bool, int]]:
    return [(bool(v), len(list(g))) for v, g in itertools.groupby(mask.tolist())]


@clause("OBJ-T5-01")
@pytest.mark.parametrize(("length", "density", "mean"), SPAN_CASES)
def test_noise_and_span_counts(adapter, length: int, density: float, mean: float) -> None:
    op = require(adapter, "random_spans_noise_mask")
    noise, spans = ref.t5_span_counts(length, density, mean)
    mask = op(length, generator=_gen(61), noise_density=density, mean_noise_span_length=mean)
    with annotate(length=length, noise_density=density, mean_noise_span_length=mean):
        if mask.shape != (length,) or mask.dtype != torch.bool:
            fail(f"mask {mask.dtype} {tuple(mask.shape)}, expected bool ({length},)")
        noise_runs = sum(1 for is_noise, _ in _runs(mask) if is_noise)
        if int(mask.sum()) != noise or noise_runs != spans:
            fail(f"{int(mask.sum())} noise tokens in {noise_runs} spans, expected {noise} in {spans}")


@clause("OBJ-T5-02")
@pytest.mark.parametrize(("length", "density", "mean"), SPAN_CASES[:2])
def test_spans_alternate_starting_with_kept_tokens(adapter, length: int, density: float, mean: float) -> None:
    op = require(adapter, "random_spans_noise_mask")
    masks = [op(length, generator=_gen(seed), noise_density=density, mean_noise_span_length=mean) for seed in range(20)]
    for seed, mask in enumerate(masks):
        runs = _runs(mask)
        if runs[0][0] or len(runs) % 2:
            fail(f"runs {runs[:6]}...: expected kept, noise, kept, noise, ..., starting kept", seed=seed)
    if len({tuple(m.tolist()) for m in masks}) < 2:
        fail("20 generator seeds gave the same noise mask: the span layout is not random")


T5_EXAMPLE = (torch.tensor([5, 6, 7, 8, 9]), torch.tensor([0, 1, 1, 0, 1]).bool())


def _corrupt(adapter, ids, mask, vocab=VOCAB):
    op = require(adapter, "t5_span_corruption")
    return op(ids, mask, vocab_size=vocab, eos_token_id=1)


def _random_corruption_case(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = _gen(seed)
    length = int(torch.randint(2, 300, (), generator=generator))
    ids = torch.randint(5, 60, (length,), generator=generator)
    return ids, ref.random_spans_noise_mask(length, generator=generator)


@clause("OBJ-T5-03")
def test_sentinels_count_down_in_span_order(adapter) -> None:
    inputs, _targets = _corrupt(adapter, *T5_EXAMPLE, vocab=100)
    if inputs.tolist() != [5, 99, 8, 98, 1]:
        fail(f"inputs {inputs.tolist()}, expected [5, 99, 8, 98, 1] (<extra_id_0> = 99, <extra_id_1> = 98)")
    for seed in range(5):
        ids, mask = _random_corruption_case(70 + seed)
        inputs, _ = _corrupt(adapter, ids, mask)
        expected, _ = ref.t5_span_corruption(ids, mask, vocab_size=VOCAB, eos_token_id=1)
        if not torch.equal(inputs, expected):
            fail(f"inputs {inputs.tolist()[:16]}..., expected {expected.tolist()[:16]}...", seed=70 + seed)


@clause("OBJ-T5-04")
def test_targets_are_the_complement_and_end_with_eos(adapter) -> None:
    _inputs, targets = _corrupt(adapter, *T5_EXAMPLE, vocab=100)
    if targets.tolist() != [99, 6, 7, 98, 9, 1]:
        fail(f"targets {targets.tolist()}, expected [99, 6, 7, 98, 9, 1]")
    for seed in range(5):
        ids, mask = _random_corruption_case(80 + seed)
        inputs, targets = _corrupt(adapter, ids, mask)
        expected = ref.t5_span_corruption(ids, mask, vocab_size=VOCAB, eos_token_id=1)
        if not torch.equal(targets, expected[1]) or int(inputs[-1]) != 1:
            fail(f"targets {targets.tolist()[:16]}..., expected {expected[1].tolist()[:16]}...", seed=80 + seed)


@clause("OBJ-T5-05")
def test_inputs_and_targets_reconstruct_the_text(adapter) -> None:
    for seed in range(8):
        ids, mask = _random_corruption_case(90 + seed)
        inputs, targets = _corrupt(adapter, ids, mask)
        # ids of _random_corruption_case lie in [5, 60); sentinels are the ids from 60 up
        follows: dict[int, list[int]] = {}
        for token in targets.tolist()[:-1]:
            if token >= 60:
                follows[token] = []
                current = token
            elif follows:
                follows[current].append(token)
        rebuilt = [t for token in inputs.tolist() for t in (follows.get(token, [token]) if token >= 60 else [token])]
        if rebuilt != [*ids.tolist(), 1]:
            fail(f"inputs + targets rebuild {rebuilt[:16]}..., expected {ids.tolist()[:16]}... + EOS", seed=90 + seed)


@clause("OBJ-T5-06")
@pytest.mark.parametrize(("inputs_length", "expected"), [(512, (568, 114)), (128, (141, 29)), (64, (70, 14))])
def test_raw_length_for_an_input_length(adapter, inputs_length: int, expected: tuple[int, int]) -> None:
    op = require(adapter, "t5_input_and_target_lengths")
    actual = tuple(op(inputs_length, 0.15, 3.0))
    if actual != expected:
        fail(f"lengths for {inputs_length} input tokens: {actual}, expected {expected}")


@clause("OBJ-T5-07")
@pytest.mark.parametrize(
    ("length", "density", "mean", "names"),
    [
        (100, 0.0, 3.0, ("noise_density",)),
        (100, 1.0, 3.0, ("noise_density",)),
        (100, 0.15, 0.5, ("mean_noise_span_length",)),
        (1, 0.15, 3.0, ("length",)),
    ],
    ids=["density=0", "density=1", "mean<1", "length=1"],
)
def test_degenerate_span_parameters_are_rejected(adapter, length, density, mean, names) -> None:
    op = require(adapter, "random_spans_noise_mask")
    _expect_value_error(
        lambda: op(length, generator=_gen(1), noise_density=density, mean_noise_span_length=mean),
        f"random_spans_noise_mask({length}, noise_density={density}, mean_noise_span_length={mean})",
        names,
    )


# ---------------------------------------------------------------------------------------
# BART


@clause("OBJ-BART-01")
def test_span_lengths_follow_poisson_with_zero(adapter) -> None:
    op = require(adapter, "sample_infilling_spans")
    generator = _gen(101)
    lengths = []
    for _ in range(3000):
        # the first three spans are not trimmed (their sum stays under the budget of 30 but
        # with probability P(Poisson(9) >= 30) < 1e-7), so they are plain draws
        _starts, spans = op(102, generator=generator)
        lengths += spans[:3].tolist()
    distribution = ref.poisson_span_distribution(3.0)
    counts = torch.bincount(torch.tensor(lengths), minlength=distribution.numel())
    if counts.numel() > distribution.numel():
        fail(f"span lengths up to {counts.numel() - 1}, beyond the truncated support {distribution.numel() - 1}")
    what = (
        f"{len(lengths)} span lengths do not follow Poisson(3): counts {counts[:8].tolist()}, expected "
        f"{(distribution[:8] * len(lengths)).round().tolist()}"
    )
    _check_distribution(what, counts, distribution, seed=101)


@clause("OBJ-BART-02")
@pytest.mark.parametrize(("length", "ratio"), [(102, 0.3), (2, 0.3), (12, 1.0), (40, 0.0), (1027, 0.3)])
def test_spans_cover_the_budget(adapter, length: int, ratio: float) -> None:
    op = require(adapter, "sample_infilling_spans")
    for seed in range(10):
        starts, spans = op(length, generator=_gen(110 + seed), mask_ratio=ratio)
        with annotate(length=length, mask_ratio=ratio, seed=110 + seed):
            budget = math.ceil((length - 2) * ratio)
            if int(spans.sum()) != budget or (spans < 0).any():
                fail(f"span lengths {spans.tolist()} sum to {int(spans.sum())}, expected {budget}")
            ends = starts + spans
            if len(starts) and (int(starts.min()) < 1 or int(ends.max()) > length - 1):
                fail(f"spans {list(zip(starts.tolist(), spans.tolist(), strict=True))} reach <s> or </s> (L={length})")
            if (starts[1:] < ends[:-1]).any():
                fail(f"spans {list(zip(starts.tolist(), spans.tolist(), strict=True))} overlap or are out of order")


@clause("OBJ-BART-03")
def test_one_mask_per_span_and_insertions(adapter) -> None:
    op = require(adapter, "text_infilling")
    ids = torch.tensor([0, 5, 6, 7, 8, 2])
    actual = op(ids, torch.tensor([1, 4]), torch.tensor([2, 0]), mask_token_id=3)
    if actual.tolist() != [0, 3, 7, 3, 8, 2]:
        fail(f"infilling {ids.tolist()} with spans (1, 2), (4, 0): {actual.tolist()}, expected [0, 3, 7, 3, 8, 2]")
    for seed in range(10):
        generator = _gen(120 + seed)
        source = torch.arange(10, 10 + 60)
        starts, spans = ref.sample_infilling_spans(60, generator=generator)
        actual = op(source, starts, spans, mask_token_id=3)
        expected = ref.text_infilling(source, starts, spans, mask_token_id=3)
        if not torch.equal(actual, expected):
            fail(
                f"spans {list(zip(starts.tolist(), spans.tolist(), strict=True))}: {actual.tolist()}, "
                f"expected {expected.tolist()}"
            )


def _sentences(ids: list[int], stop: int) -> list[tuple[int, ...]]:
    out, current = [], []
    for token in ids[1:-1]:
        current.append(token)
        if token == stop:
            out.append(tuple(current))
            current = []
    return out + ([tuple(current)] if current else [])


@clause("OBJ-BART-04")
def test_permutation_moves_whole_sentences(adapter) -> None:
    op = require(adapter, "permute_sentences")
    ids = torch.tensor([0, 11, 12, 4, 13, 4, 14, 15, 16, 4, 17, 2])  # full stop 4; the last sentence has none
    for seed in range(20):
        out = op(ids, full_stop_id=4, generator=_gen(130 + seed))
        got = out.tolist()
        if got[0] != 0 or got[-1] != 2 or len(got) != len(ids):
            fail(f"permuted {got}: <s> and </s> must stay in place and the length unchanged", seed=130 + seed)
        original = [(11, 12, 4), (13, 4), (14, 15, 16, 4), (17,)]
        pieces, rest = [], got[1:-1]
        while rest:
            match = next((s for s in original if tuple(rest[: len(s)]) == s and s not in pieces), None)
            if match is None:
                fail(f"permuted {got} does not consist of the sentences {original}", seed=130 + seed)
            pieces.append(match)
            rest = rest[len(match) :]
        if sorted(pieces) != sorted(original):
            fail(f"permuted {got}: sentences {pieces}, expected a permutation of {original}", seed=130 + seed)


@clause("OBJ-BART-05")
def test_every_order_is_equally_likely(adapter) -> None:
    op = require(adapter, "permute_sentences")
    ids = torch.tensor([0, 11, 4, 12, 4, 13, 4, 2])
    generator = _gen(140)
    orders = list(itertools.permutations([11, 12, 13]))
    counts = torch.zeros(len(orders), dtype=torch.long)
    for _ in range(6000):
        out = op(ids, full_stop_id=4, generator=generator).tolist()
        order = tuple(out[1:-1:2])
        if order not in orders:
            fail(f"permuted {out} is not an order of the three sentences")
        counts[orders.index(order)] += 1
    uniform = torch.full((6,), 1 / 6, dtype=torch.float64)
    _check_distribution(f"sentence orders {counts.tolist()} over 6000 draws are not uniform", counts, uniform, seed=140)


@clause("OBJ-BART-06")
@pytest.mark.parametrize("problem", ["mask_ratio>1", "mask_ratio<0", "poisson_lambda=0", "span-past-the-end"])
def test_impossible_noising_parameters_are_rejected(adapter, problem: str) -> None:
    if problem == "span-past-the-end":
        op = require(adapter, "text_infilling")
        ids = torch.tensor([0, 5, 6, 7, 2])
        _expect_value_error(
            lambda: op(ids, torch.tensor([2]), torch.tensor([5]), mask_token_id=3),
            "a span of 5 tokens from position 2 of a 5-token text",
            ("length", "span"),
        )
        return
    op = require(adapter, "sample_infilling_spans")
    kwargs = {"mask_ratio>1": {"mask_ratio": 1.5}, "mask_ratio<0": {"mask_ratio": -0.1}}.get(
        problem, {"poisson_lambda": 0.0}
    )
    names = tuple(kwargs)
    _expect_value_error(lambda: op(50, generator=_gen(1), **kwargs), f"sample_infilling_spans({kwargs})", names)


# ---------------------------------------------------------------------------------------
# Shift right


@clause("OBJ-SHIFT-01")
@pytest.mark.parametrize("layout", ["contiguous", "transposed-view"])
def test_shift_right_with_the_start_token(adapter, layout: str) -> None:
    op = require(adapter, "shift_tokens_right")
    actual = op(torch.tensor([[7, 8, -100]]), pad_token_id=0, decoder_start_token_id=2)
    if actual.tolist() != [[2, 7, 8]]:
        fail(f"shift_tokens_right([[7, 8, -100]], pad 0, start 2) = {actual.tolist()}, expected [[2, 7, 8]]")
    generator = _gen(150)
    labels = torch.randint(3, 50, (6, 1031), generator=generator)
    labels[torch.rand(labels.shape, generator=generator) < 0.3] = IGNORE
    if layout != "contiguous":
        labels = labels.T.contiguous().T  # same values, column-major strides
    before = labels.clone()
    actual = op(labels, pad_token_id=1, decoder_start_token_id=0)
    expected = ref.shift_tokens_right(before, pad_token_id=1, decoder_start_token_id=0)
    if not torch.equal(labels, before):
        fail("the labels were modified in place")
    if not torch.equal(actual, expected):
        wrong = (actual != expected).nonzero()[:4].tolist()
        fail(f"shifted labels differ from [start] + labels[:-1] (-100 -> pad) at {wrong}", layout=layout)


@clause("OBJ-SHIFT-02")
@pytest.mark.parametrize("missing", ["pad_token_id", "decoder_start_token_id"])
def test_missing_pad_or_start_is_rejected(adapter, missing: str) -> None:
    op = require(adapter, "shift_tokens_right")
    kwargs = {"pad_token_id": 0, "decoder_start_token_id": 0, missing: None}
    _expect_value_error(
        lambda: op(torch.tensor([[5, -100]]), **kwargs), f"shift_tokens_right({missing}=None)", (missing,)
    )
