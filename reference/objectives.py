"""Reference pretraining corruptions: BERT's MLM and NSP, T5 span corruption, BART noising, shift-right.

Shapes: B batch, L sequence length, V vocabulary size. Ids are int64; labels use -100
(IGNORE_INDEX) where no loss is computed.

- MLM (BERT; transformers' DataCollatorForLanguageModeling): each token that is not special is
  selected with probability p (0.15); selected tokens become [MASK] with probability 0.8, a
  uniformly random id in [0, V) with 0.1, and stay unchanged with 0.1. Labels are the original
  ids at selected positions, -100 elsewhere.
- Whole-word masking: the unit of selection is the word (all its word pieces together).
- NSP: pairs (A, B) where B is the sentence after A (label 0) or, half of the time, a sentence of
  another document (label 1), laid out as [CLS] A [SEP] B [SEP] with segment ids 0 then 1.
- T5 span corruption (t5.data.preprocessors.random_spans_noise_mask): about 15% of the tokens
  in spans of mean length 3; each noise span becomes one sentinel in the inputs (<extra_id_0>,
  <extra_id_1>, ..., ids counting down from V - 1), the targets hold the complementary
  sentinels followed by the noise tokens, and both end with EOS.
- BART text infilling (fairseq denoising_dataset): span lengths from Poisson(lambda = 3),
  0-length spans included (they insert a <mask>), 30% of the tokens, one <mask> per span;
  sentence permutation shuffles whole sentences.
- Shift-right: decoder inputs = [decoder_start] + labels[:-1], -100 replaced by pad.

Randomness comes only from an explicit torch.Generator; the deterministic halves (applying a
noise mask, a span layout) take explicit tensors so they can be checked exactly.

Left out: dynamic padding and batching (the collators' other job), fairseq's random-token
replacement of spans (mask_random) and its rotation/insertion noises, XLNet's permutation LM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

IGNORE_INDEX = -100
WWM_REPLACEMENTS = ("per-token", "mask-only")


def check_probability(name: str, value: float) -> None:
    """ValueError naming `name` unless value lies in [0, 1] (the objectives' validation, public for adapters)."""
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def _check_ids(name: str, ids: torch.Tensor, dims: int) -> None:
    if ids.dim() != dims or ids.dtype not in (torch.int32, torch.int64):
        raise ValueError(
            f"{name} must be an integer tensor with {dims} dimension(s), got {ids.dtype} {tuple(ids.shape)}"
        )


def check_replacement(mask_replace_prob: float, random_replace_prob: float) -> None:
    """ValueError unless both replacement probabilities lie in [0, 1] and sum to at most 1."""
    check_probability("mask_replace_prob", mask_replace_prob)
    check_probability("random_replace_prob", random_replace_prob)
    if mask_replace_prob + random_replace_prob > 1.0:
        raise ValueError(
            f"mask_replace_prob + random_replace_prob must be at most 1, "
            f"got {mask_replace_prob} + {random_replace_prob}"
        )


def _check_vocab(mask_token_id: int, vocab_size: int) -> None:
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(
            f"mask_token_id must lie in [0, {vocab_size - 1}] (vocab_size {vocab_size}), got {mask_token_id}"
        )


# ---------------------------------------------------------------------------------------
# Masked language modelling


def replace_selected(
    input_ids: torch.Tensor,
    selected: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 80/10/10 rule on already selected positions: (inputs, labels), both (B, L).

    Clauses: OBJ-MLM-02, OBJ-MLM-03, OBJ-MLM-04.
    """
    labels = input_ids.masked_fill(~selected, IGNORE_INDEX)  # original ids where selected
    inputs = input_ids.clone()
    replaced = torch.bernoulli(torch.full(input_ids.shape, mask_replace_prob), generator=generator).bool() & selected
    inputs[replaced] = mask_token_id
    if mask_replace_prob < 1.0 and random_replace_prob > 0.0:
        # subtle: of the tokens not turned into [MASK] (probability 1 - 0.8), a share
        # 0.1 / 0.2 = 0.5 becomes random, so 10% of the selected tokens overall.
        share = random_replace_prob / (1.0 - mask_replace_prob)
        randomised = torch.bernoulli(torch.full(input_ids.shape, share), generator=generator).bool()
        randomised &= selected & ~replaced
        random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
        inputs[randomised] = random_ids[randomised]
    return inputs, labels


def mlm_mask(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM corruption: (B, L) ids, (B, L) bool specials -> (inputs, labels).

    Special tokens (CLS, SEP, PAD, ...: True in special_tokens_mask) are never selected; every
    other token is selected independently with probability mlm_probability. The input is not
    modified.

    Clauses: OBJ-MLM-01, OBJ-MLM-02, OBJ-MLM-03, OBJ-MLM-04, OBJ-MLM-05, OBJ-MLM-06, OBJ-MLM-07.
    """
    _check_ids("input_ids", input_ids, 2)
    check_probability("mlm_probability", mlm_probability)
    check_replacement(mask_replace_prob, random_replace_prob)
    _check_vocab(mask_token_id, vocab_size)
    if special_tokens_mask.shape != input_ids.shape or special_tokens_mask.dtype != torch.bool:
        raise ValueError(f"special_tokens_mask must be a bool tensor of shape {tuple(input_ids.shape)}")
    probability = torch.full(input_ids.shape, float(mlm_probability)).masked_fill(special_tokens_mask, 0.0)
    selected = torch.bernoulli(probability, generator=generator).bool()  # (B, L)
    return replace_selected(
        input_ids,
        selected,
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        generator=generator,
        mask_replace_prob=mask_replace_prob,
        random_replace_prob=random_replace_prob,
    )


def whole_word_mask(
    input_ids: torch.Tensor,
    word_ids: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator,
    mlm_probability: float = 0.15,
    replacement: str = "per-token",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-word masking: words, not pieces, are selected. (B, L) ids and word ids -> (inputs, labels).

    word_ids[b, t] numbers the words of row b (the pieces of one word share a number; -1 marks
    special tokens and padding, which are never selected). Each word is selected with
    probability mlm_probability; every piece of a selected word is selected. `replacement`
    (OBJ-WWM-03): "per-token" applies 80/10/10 to each selected piece (BERT's
    create_pretraining_data), "mask-only" turns every selected piece into [MASK] (transformers 5).

    Clauses: OBJ-WWM-01, OBJ-WWM-02, OBJ-WWM-03.
    """
    _check_ids("input_ids", input_ids, 2)
    check_probability("mlm_probability", mlm_probability)
    _check_vocab(mask_token_id, vocab_size)
    if replacement not in WWM_REPLACEMENTS:
        raise ValueError(f"replacement must be one of {', '.join(WWM_REPLACEMENTS)}, got {replacement!r}")
    if word_ids.shape != input_ids.shape:
        raise ValueError(
            f"word_ids must have the shape of input_ids {tuple(input_ids.shape)}, got {tuple(word_ids.shape)}"
        )
    words = int(word_ids.max()) + 1 if word_ids.numel() else 0
    chosen = torch.bernoulli(
        torch.full((input_ids.shape[0], max(words, 1)), float(mlm_probability)), generator=generator
    )
    real = word_ids >= 0
    selected = real & chosen.bool().gather(1, word_ids.clamp(min=0))  # (B, L): the word's draw
    mask_share, random_share = (0.8, 0.1) if replacement == "per-token" else (1.0, 0.0)
    return replace_selected(
        input_ids,
        selected,
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        generator=generator,
        mask_replace_prob=mask_share,
        random_replace_prob=random_share,
    )


# ---------------------------------------------------------------------------------------
# Next-sentence prediction


@dataclass(frozen=True)
class NextSentenceExample:
    input_ids: list[int]  # [CLS] A [SEP] B [SEP]
    token_type_ids: list[int]  # 0 over [CLS] A [SEP], 1 over B [SEP]
    label: int  # 0: B follows A in its document; 1: B is from another document
    first: tuple[int, int]  # (document, sentence) of A
    second: tuple[int, int]  # (document, sentence) of B


def next_sentence_pairs(
    documents: list[list[list[int]]],
    *,
    cls_token_id: int,
    sep_token_id: int,
    generator: torch.Generator,
    random_next_probability: float = 0.5,
) -> list[NextSentenceExample]:
    """One NSP example per adjacent sentence pair (A = sentence i, i + 1 exists) of each document.

    With probability random_next_probability, B is a uniformly chosen sentence of a uniformly
    chosen *other* document (label 1); otherwise B is sentence i + 1 (label 0).

    Clauses: OBJ-NSP-01, OBJ-NSP-02, OBJ-NSP-03.
    """
    check_probability("random_next_probability", random_next_probability)
    if len(documents) < 2:
        raise ValueError(
            f"documents must hold at least 2 documents (random sentences come from another), got {len(documents)}"
        )
    examples = []
    for d, document in enumerate(documents):
        for i in range(len(document) - 1):
            if float(torch.rand((), generator=generator, dtype=torch.float64)) < random_next_probability:
                other = int(torch.randint(len(documents) - 1, (), generator=generator))
                other += other >= d  # any document but this one
                j = int(torch.randint(len(documents[other]), (), generator=generator))
                second, label = (other, j), 1
            else:
                second, label = (d, i + 1), 0
            a, b = document[i], documents[second[0]][second[1]]
            ids = [cls_token_id, *a, sep_token_id, *b, sep_token_id]
            types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
            examples.append(NextSentenceExample(ids, types, label, (d, i), second))
    return examples


# ---------------------------------------------------------------------------------------
# T5 span corruption


def t5_span_counts(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """(noise tokens, noise spans) for a sequence of `length` tokens.

    >>> t5_span_counts(100, 0.15, 3.0)
    (15, 5)

    Clauses: OBJ-T5-01, OBJ-T5-06.
    """
    check_span_parameters(length, noise_density, mean_noise_span_length)
    noise = min(max(round(length * noise_density), 1), length - 1)
    spans = max(round(min(noise, length - noise) / mean_noise_span_length), 1)
    return noise, spans


def check_span_parameters(
    length: int, noise_density: float, mean_noise_span_length: float, *, length_name: str = "length"
) -> None:
    """ValueError naming the parameter unless the span-corruption arguments are in range (`length_name`:
    the caller's name for the length, so the message names the parameter the caller passed)."""
    if not 0.0 < noise_density < 1.0:
        raise ValueError(f"noise_density must lie in (0, 1), got {noise_density!r}")
    if not mean_noise_span_length >= 1.0:
        raise ValueError(f"mean_noise_span_length must be at least 1, got {mean_noise_span_length!r}")
    if length < 2:
        raise ValueError(f"{length_name} must be at least 2 (one noise and one kept token), got {length}")


def _random_segmentation(items: int, segments: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random composition of `items` into `segments` positive parts, (segments,)."""
    cuts = torch.zeros(items - 1, dtype=torch.bool)
    cuts[torch.randperm(items - 1, generator=generator)[: segments - 1]] = True
    segment_of = torch.cat([torch.zeros(1, dtype=torch.long), cuts.long().cumsum(0)])  # (items,)
    return torch.bincount(segment_of, minlength=segments)


def random_spans_noise_mask(
    length: int, *, generator: torch.Generator, noise_density: float = 0.15, mean_noise_span_length: float = 3.0
) -> torch.Tensor:
    """(L,) bool, True on noise: spans alternate kept, noise, kept, ..., starting with kept tokens.

    Clauses: OBJ-T5-01, OBJ-T5-02, OBJ-T5-07.
    """
    noise, spans = t5_span_counts(length, noise_density, mean_noise_span_length)
    noise_lengths = _random_segmentation(noise, spans, generator)
    kept_lengths = _random_segmentation(length - noise, spans, generator)
    runs = torch.stack([kept_lengths, noise_lengths], dim=1).flatten()  # kept_0, noise_0, kept_1, ...
    is_noise = torch.tensor([False, True]).repeat(spans)
    return is_noise.repeat_interleave(runs)


def t5_span_corruption(
    input_ids: torch.Tensor, noise_mask: torch.Tensor, *, vocab_size: int, eos_token_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L,) ids and noise mask -> (inputs, targets), each ending with EOS.

    The k-th noise span (k = 0, 1, ...) becomes sentinel <extra_id_k> = vocab_size - 1 - k in the
    inputs; the targets are the complement: the k-th kept span becomes <extra_id_k>.

    >>> t5_span_corruption(torch.tensor([5, 6, 7, 8, 9]), torch.tensor([0, 1, 1, 0, 1]).bool(),
    ...                    vocab_size=100, eos_token_id=1)[0].tolist()
    [5, 99, 8, 98, 1]

    Clauses: OBJ-T5-03, OBJ-T5-04, OBJ-T5-05.
    """
    _check_ids("input_ids", input_ids, 1)
    if noise_mask.shape != input_ids.shape or noise_mask.dtype != torch.bool:
        raise ValueError(f"noise_mask must be a bool tensor of shape {tuple(input_ids.shape)}")

    def keep_with_sentinels(drop: torch.Tensor) -> torch.Tensor:
        starts = drop & ~torch.cat([torch.zeros(1, dtype=torch.bool), drop[:-1]])  # first token of each span
        sentinels = vocab_size - starts.long().cumsum(0)  # k-th span start -> vocab_size - k (k from 1)
        if starts.any() and int(sentinels[starts].min()) < 0:
            raise ValueError(f"vocab_size {vocab_size} has too few sentinels for {int(starts.sum())} spans")
        ids = torch.where(starts, sentinels, input_ids)
        eos = torch.tensor([eos_token_id], dtype=input_ids.dtype)
        return torch.cat([ids[starts | ~drop], eos])  # continuation pieces of a span are dropped

    return keep_with_sentinels(noise_mask), keep_with_sentinels(~noise_mask)


def t5_input_and_target_lengths(
    inputs_length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0
) -> tuple[int, int]:
    """The raw length that corrupts into exactly `inputs_length` input tokens, and the target length.

    >>> t5_input_and_target_lengths(512)
    (568, 114)

    Clauses: OBJ-T5-06.
    """
    check_span_parameters(inputs_length, noise_density, mean_noise_span_length, length_name="inputs_length")

    def lengths(tokens: int) -> tuple[int, int]:
        noise = round(tokens * noise_density)
        spans = round(noise / mean_noise_span_length)
        return tokens - noise + spans + 1, noise + spans + 1  # + sentinels + EOS

    tokens = inputs_length
    while lengths(tokens + 1)[0] <= inputs_length:
        tokens += 1
    return tokens, lengths(tokens)[1]


# ---------------------------------------------------------------------------------------
# BART text infilling and sentence permutation


POISSON_LAMBDA_MIN, POISSON_LAMBDA_MAX = 0.1, 16.0  # OBJ-BART-06: the span-length means that can be sampled


def poisson_span_distribution(poisson_lambda: float = 3.0) -> torch.Tensor:
    """P(k) = e^-lambda lambda^k / k! for k = 0, 1, ..., cut after the first k with P(k) < 1e-7
    (at most 128 values, as fairseq) and renormalised; float64.

    Clauses: OBJ-BART-01.
    """
    # subtle: the bounds are OBJ-BART-06's. Above ln(1e7) ~ 16.12 the first length, 0, already has
    # P < 1e-7, so the table is {0} and no draws ever cover a budget; below 0.1 covering it takes about
    # budget / lambda spans (2e7 at 1e-6 over 64 tokens), each empty one an inserted <mask>.
    if isinstance(poisson_lambda, bool) or not (
        isinstance(poisson_lambda, (int, float)) and POISSON_LAMBDA_MIN <= poisson_lambda <= POISSON_LAMBDA_MAX
    ):
        raise ValueError(
            f"poisson_lambda must lie in [{POISSON_LAMBDA_MIN}, {POISSON_LAMBDA_MAX}], got {poisson_lambda!r}"
        )
    probabilities = []
    for k in range(128):
        probabilities.append(math.exp(-poisson_lambda + k * math.log(poisson_lambda) - math.lgamma(k + 1)))
        if probabilities[-1] < 1e-7:
            break
    table = torch.tensor(probabilities, dtype=torch.float64)
    return table / table.sum()


def sample_infilling_spans(
    length: int, *, generator: torch.Generator, mask_ratio: float = 0.3, poisson_lambda: float = 3.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Span starts and lengths for text infilling of a sequence <s> x_1 .. x_n </s> (L = n + 2).

    Lengths are drawn from poisson_span_distribution until they cover ceil(mask_ratio * n)
    tokens; the last one is trimmed so they cover it exactly. Spans are then laid out left to
    right, in drawing order, with a uniformly random composition of the n - budget kept tokens
    into the gaps around them; a 0-length span marks an insertion point. Returns (starts, lengths),
    (K,) each, starts ascending in [1, L - 1].

    Clauses: OBJ-BART-01, OBJ-BART-02, OBJ-BART-06.
    """
    check_probability("mask_ratio", mask_ratio)
    if length < 2:
        raise ValueError(f"length must be at least 2 (<s> and </s>), got {length}")
    distribution = poisson_span_distribution(poisson_lambda)
    inner = length - 2
    budget = math.ceil(inner * mask_ratio)
    spans = torch.zeros(0, dtype=torch.long)
    while int(spans.sum()) < budget:  # draw in batches: about budget / lambda draws are needed
        spans = torch.cat([spans, torch.multinomial(distribution, budget, replacement=True, generator=generator)])
    if budget:
        last = int(torch.searchsorted(spans.cumsum(0), budget))  # the first span reaching the budget
        spans = spans[: last + 1]
        spans[-1] -= int(spans.sum()) - budget  # trim the last span to the budget
    gaps = _random_composition(inner - budget, len(spans) + 1, generator)  # kept tokens before each span
    starts = 1 + (gaps[:-1] + torch.cat([torch.zeros(1, dtype=torch.long), spans[:-1]])).cumsum(0)
    return starts, spans


def _random_composition(items: int, parts: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random composition of `items` into `parts` non-negative parts (stars and bars)."""
    bars = torch.randperm(items + parts - 1, generator=generator)[: parts - 1].sort().values
    edges = torch.cat([torch.tensor([-1]), bars, torch.tensor([items + parts - 1])])
    return edges.diff() - 1


def text_infilling(
    input_ids: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor, *, mask_token_id: int
) -> torch.Tensor:
    """Replace each span [start, start + length) of (L,) ids by one <mask>; a 0-length span inserts
    a <mask> before position `start`. The first and last tokens (<s>, </s>) are never in a span.

    >>> text_infilling(torch.tensor([0, 5, 6, 7, 8, 2]), torch.tensor([1, 4]), torch.tensor([2, 0]),
    ...                mask_token_id=3).tolist()
    [0, 3, 7, 3, 8, 2]

    Clauses: OBJ-BART-02, OBJ-BART-03, OBJ-BART-06.
    """
    _check_ids("input_ids", input_ids, 1)
    if starts.shape != lengths.shape or starts.dim() != 1:
        raise ValueError(f"starts and lengths must be (K,) each, got {tuple(starts.shape)} and {tuple(lengths.shape)}")
    pieces, position = [input_ids[:1]], 1
    mask = torch.tensor([mask_token_id], dtype=input_ids.dtype)
    for start, span in zip(starts.tolist(), lengths.tolist(), strict=True):
        if span < 0 or start < position or start + span > input_ids.shape[0] - 1:
            raise ValueError(
                f"lengths: span (start {start}, length {span}) must be non-negative, after the previous span and "
                f"end before the last token (L = {input_ids.shape[0]})"
            )
        pieces += [input_ids[position:start], mask]
        position = start + span
    pieces.append(input_ids[position:])
    return torch.cat(pieces)


def sentence_boundaries(input_ids: torch.Tensor, full_stop_id: int) -> list[tuple[int, int]]:
    """[start, end) of each sentence of <s> ... </s>: a sentence ends after a full stop or at </s>."""
    ends = [i + 1 for i in range(1, input_ids.shape[0] - 1) if int(input_ids[i]) == full_stop_id]
    if not ends or ends[-1] != input_ids.shape[0] - 1:
        ends.append(input_ids.shape[0] - 1)
    starts = [1, *ends[:-1]]
    return [(s, e) for s, e in zip(starts, ends, strict=True) if e > s]


def permute_sentences(input_ids: torch.Tensor, *, full_stop_id: int, generator: torch.Generator) -> torch.Tensor:
    """Shuffle the sentences of (L,) ids <s> ... </s> uniformly; <s> and </s> stay in place.

    Clauses: OBJ-BART-04, OBJ-BART-05.
    """
    _check_ids("input_ids", input_ids, 1)
    if input_ids.shape[0] < 2:
        raise ValueError(f"input_ids must hold <s> and </s> at least, got length {input_ids.shape[0]}")
    sentences = sentence_boundaries(input_ids, full_stop_id)
    order = torch.randperm(len(sentences), generator=generator).tolist()
    body = [input_ids[sentences[i][0] : sentences[i][1]] for i in order]
    return torch.cat([input_ids[:1], *body, input_ids[-1:]])


# ---------------------------------------------------------------------------------------
# Decoder inputs from labels


def shift_tokens_right(
    labels: torch.Tensor, *, pad_token_id: int | None, decoder_start_token_id: int | None
) -> torch.Tensor:
    """(B, L) labels -> decoder inputs [start, labels[:, 0], ..., labels[:, L-2]], -100 -> pad.

    >>> shift_tokens_right(torch.tensor([[7, 8, -100]]), pad_token_id=0, decoder_start_token_id=2).tolist()
    [[2, 7, 8]]

    Clauses: OBJ-SHIFT-01, OBJ-SHIFT-02.
    """
    _check_ids("labels", labels, 2)
    if pad_token_id is None or pad_token_id < 0:
        raise ValueError(f"pad_token_id must be a non-negative id, got {pad_token_id!r}")
    if decoder_start_token_id is None or decoder_start_token_id < 0:
        raise ValueError(f"decoder_start_token_id must be a non-negative id, got {decoder_start_token_id!r}")
    start = torch.full_like(labels[:, :1], decoder_start_token_id)
    shifted = torch.cat([start, labels[:, :-1]], dim=1)  # (B, L)
    return shifted.masked_fill(shifted == IGNORE_INDEX, pad_token_id)
