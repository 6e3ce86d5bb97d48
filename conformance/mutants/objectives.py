"""Mutants of the objectives family: the reference adapter with one plausible bug each.

tests/test_mutants_objmodels.py runs the objectives suite on every mutant and checks that
exactly the clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import objectives


class _Mutant(Mutant):
    capabilities = reference_capabilities("objectives", "OBJ-")


class MasksSpecialTokens(_Mutant):
    """Ignores the special-tokens mask: [CLS], [SEP] and [PAD] can be selected."""

    breaks = ("OBJ-MLM-01", "OBJ-MLM-06")

    def mlm_mask(self, input_ids, special_tokens_mask, **kwargs):
        return super().mlm_mask(input_ids, torch.zeros_like(special_tokens_mask), **kwargs)  # bug


class EightyTwentyZero(_Mutant):
    """Replaces every selected token that is not [MASK] with a random id: 80/20/0."""

    breaks = ("OBJ-MLM-04",)

    def mlm_mask(self, input_ids, special_tokens_mask, *, mask_replace_prob=0.8, random_replace_prob=0.1, **kwargs):
        objectives.check_replacement(mask_replace_prob, random_replace_prob)
        return super().mlm_mask(
            input_ids,
            special_tokens_mask,
            mask_replace_prob=mask_replace_prob,
            random_replace_prob=1.0 - mask_replace_prob,  # bug: the "unchanged" 10% become random too
            **kwargs,
        )


class RandomIdsSkipTheFirstHalf(_Mutant):
    """Draws random replacements from the upper half of the vocabulary only."""

    breaks = ("OBJ-MLM-05",)

    def mlm_mask(self, input_ids, special_tokens_mask, *, vocab_size, **kwargs):
        inputs, labels = super().mlm_mask(input_ids, special_tokens_mask, vocab_size=vocab_size, **kwargs)
        randomised = (labels != -100) & (inputs != kwargs["mask_token_id"]) & (inputs != labels)
        inputs[randomised] = vocab_size // 2 + inputs[randomised] % (vocab_size - vocab_size // 2)  # bug
        return inputs, labels


class ProbabilityNotChecked(_Mutant):
    """Clamps mlm_probability into [0, 1] instead of rejecting it."""

    breaks = ("OBJ-MLM-07",)

    def mlm_mask(self, input_ids, special_tokens_mask, *, mlm_probability=0.15, **kwargs):
        return super().mlm_mask(
            input_ids, special_tokens_mask, mlm_probability=min(max(mlm_probability, 0.0), 1.0), **kwargs
        )


class CorruptsTheCallersIds(_Mutant):
    """Writes the corruption into the caller's tensor and returns it."""

    breaks = ("OBJ-MLM-03",)

    def mlm_mask(self, input_ids, special_tokens_mask, **kwargs):
        inputs, labels = super().mlm_mask(input_ids, special_tokens_mask, **kwargs)
        input_ids.copy_(inputs)  # bug: in place
        return input_ids, labels


class WordPiecesMaskedAlone(_Mutant):
    """Whole-word masking that selects each piece on its own (plain MLM over pieces)."""

    breaks = ("OBJ-WWM-01",)

    def whole_word_mask(self, input_ids, word_ids, *, mlm_probability=0.15, **kwargs):
        return super().mlm_mask(
            input_ids, word_ids < 0, mlm_probability=mlm_probability, **kwargs
        )  # bug: 80/10/10 per piece, but pieces drawn independently


class NextSentenceLabelsSwapped(_Mutant):
    """Labels a true next sentence 1 and a random one 0."""

    breaks = ("OBJ-NSP-01",)

    def next_sentence_pairs(self, documents, **kwargs):
        return [dataclasses.replace(e, label=1 - e.label) for e in super().next_sentence_pairs(documents, **kwargs)]


class SegmentIdsAllZero(_Mutant):
    """Gives B the segment id of A."""

    breaks = ("OBJ-NSP-03",)

    def next_sentence_pairs(self, documents, **kwargs):
        examples = super().next_sentence_pairs(documents, **kwargs)
        return [dataclasses.replace(e, token_type_ids=[0] * len(e.token_type_ids)) for e in examples]


class NoiseFirst(_Mutant):
    """Lays out the T5 spans starting with a noise span (the mask reversed)."""

    breaks = ("OBJ-T5-02",)

    def random_spans_noise_mask(self, length, **kwargs):
        return super().random_spans_noise_mask(length, **kwargs).flip(0)  # bug


class SentinelsInReverseOrder(_Mutant):
    """Numbers the sentinels from the last span: the first span gets the highest <extra_id_k>."""

    breaks = ("OBJ-T5-03", "OBJ-T5-04", "OBJ-T5-05")  # T5-05 through the generic value checks

    def t5_span_corruption(self, input_ids, noise_mask, *, vocab_size, eos_token_id):
        inputs, targets = super().t5_span_corruption(
            input_ids, noise_mask, vocab_size=vocab_size, eos_token_id=eos_token_id
        )
        spans = int((noise_mask & ~torch.cat([torch.zeros(1, dtype=torch.bool), noise_mask[:-1]])).sum())

        def reverse(ids: torch.Tensor) -> torch.Tensor:
            sentinel = ids > vocab_size - 1 - spans - 1  # the sentinels in use (ids of the example are small)
            sentinel &= ids < vocab_size
            k = vocab_size - 1 - ids  # 0-based span number
            return torch.where(sentinel, vocab_size - spans + k, ids)  # bug: k -> spans - 1 - k

        return reverse(inputs), reverse(targets)


class TargetLengthWithoutEos(_Mutant):
    """Sizes T5 chunks without counting the EOS token."""

    breaks = ("OBJ-T5-06",)

    def t5_input_and_target_lengths(self, inputs_length, noise_density=0.15, mean_noise_span_length=3.0):
        tokens, targets = super().t5_input_and_target_lengths(inputs_length + 1, noise_density, mean_noise_span_length)
        return tokens, targets - 1  # bug


class DensityZeroAccepted(_Mutant):
    """Accepts noise density 0 (the clamp then makes one noise token)."""

    breaks = ("OBJ-T5-07",)

    def random_spans_noise_mask(self, length, *, noise_density=0.15, **kwargs):
        return super().random_spans_noise_mask(length, noise_density=max(noise_density, 1e-9), **kwargs)  # bug


class NoZeroLengthSpans(_Mutant):
    """Drops 0-length spans (transformers' run_bart_dlm_flax.py): lengths from Poisson(3) given >= 1."""

    breaks = ("OBJ-BART-01",)

    def sample_infilling_spans(self, length, *, generator, mask_ratio=0.3, poisson_lambda=3.0):
        original = objectives.poisson_span_distribution

        def without_zero(lam: float) -> torch.Tensor:
            table = original(lam).clone()
            table[0] = 0.0  # bug
            return table / table.sum()

        objectives.poisson_span_distribution = without_zero
        try:
            return super().sample_infilling_spans(
                length, generator=generator, mask_ratio=mask_ratio, poisson_lambda=poisson_lambda
            )
        finally:
            objectives.poisson_span_distribution = original


class BudgetRoundedDown(_Mutant):
    """Masks floor(ratio x n) tokens instead of ceil."""

    breaks = ("OBJ-BART-02",)

    def sample_infilling_spans(self, length, *, generator, mask_ratio=0.3, poisson_lambda=3.0):
        inner = max(length - 2, 0)
        ratio = math.floor(inner * mask_ratio) / inner if inner else mask_ratio  # bug
        return super().sample_infilling_spans(
            length, generator=generator, mask_ratio=ratio, poisson_lambda=poisson_lambda
        )


class InsertionsDropped(_Mutant):
    """Applies spans without inserting a <mask> for 0-length ones."""

    breaks = ("OBJ-BART-03",)

    def text_infilling(self, input_ids, starts, lengths, *, mask_token_id):
        keep = lengths > 0
        return super().text_infilling(input_ids, starts[keep], lengths[keep], mask_token_id=mask_token_id)  # bug


class SentencesAlwaysReversed(_Mutant):
    """ "Permutes" sentences by always reversing their order."""

    breaks = ("OBJ-BART-05",)

    def permute_sentences(self, input_ids, *, full_stop_id, generator):
        sentences = objectives.sentence_boundaries(input_ids, full_stop_id)
        body = [input_ids[s:e] for s, e in reversed(sentences)]  # bug: no randomness
        return torch.cat([input_ids[:1], *body, input_ids[-1:]])


class TokensShuffled(_Mutant):
    """Shuffles tokens inside the document instead of whole sentences."""

    breaks = ("OBJ-BART-04", "OBJ-BART-05")

    def permute_sentences(self, input_ids, *, full_stop_id, generator):
        order = torch.randperm(input_ids.shape[0] - 2, generator=generator) + 1
        return torch.cat([input_ids[:1], input_ids[order], input_ids[-1:]])


class MaskRatioClamped(_Mutant):
    """Clamps mask_ratio into [0, 1] and poisson_lambda to a small positive value instead of rejecting them."""

    breaks = ("OBJ-BART-06",)

    def sample_infilling_spans(self, length, *, generator, mask_ratio=0.3, poisson_lambda=3.0):
        return super().sample_infilling_spans(
            length,
            generator=generator,
            mask_ratio=min(max(mask_ratio, 0.0), 1.0),
            poisson_lambda=max(poisson_lambda, 0.1),
        )


class IgnoreIndexKept(_Mutant):
    """Shifts labels right without replacing -100 by the pad id."""

    breaks = ("OBJ-SHIFT-01",)

    def shift_tokens_right(self, labels, *, pad_token_id, decoder_start_token_id):
        shifted = super().shift_tokens_right(
            labels, pad_token_id=pad_token_id, decoder_start_token_id=decoder_start_token_id
        )
        return torch.where(torch.cat([shifted[:, :1], labels[:, :-1]], 1) == -100, -100, shifted)  # bug


class StartTokenNotChecked(_Mutant):
    """Checks the pad id only, as BART's shift_tokens_right does."""

    breaks = ("OBJ-SHIFT-02",)

    def shift_tokens_right(self, labels, *, pad_token_id, decoder_start_token_id):
        if pad_token_id is None:
            raise ValueError("pad_token_id has to be defined")
        shifted = labels.new_zeros(labels.shape)
        shifted[:, 1:] = labels[:, :-1]
        shifted[:, 0] = decoder_start_token_id  # bug: None raises TypeError here
        return shifted.masked_fill(shifted == -100, pad_token_id)


class SelectionRateTooLow(_Mutant):
    """Selects with probability p ** 1.1 (12.4% at p = 0.15; 0 and 1 stay exact)."""

    breaks = ("OBJ-MLM-02",)

    def mlm_mask(self, input_ids, special_tokens_mask, *, mlm_probability=0.15, **kwargs):
        objectives.check_probability("mlm_probability", mlm_probability)
        return super().mlm_mask(input_ids, special_tokens_mask, mlm_probability=mlm_probability**1.1, **kwargs)  # bug


class WordRateTooLow(_Mutant):
    """Selects whole words with probability p ** 1.1."""

    breaks = ("OBJ-WWM-02",)

    def whole_word_mask(self, input_ids, word_ids, *, mlm_probability=0.15, **kwargs):
        objectives.check_probability("mlm_probability", mlm_probability)
        return super().whole_word_mask(input_ids, word_ids, mlm_probability=mlm_probability**1.1, **kwargs)  # bug


class WholeWordsAlwaysMasked(_Mutant):
    """Declares per-token replacement but turns every selected piece into [MASK]."""

    breaks = ("OBJ-WWM-03",)

    def whole_word_mask(self, input_ids, word_ids, **kwargs):
        return objectives.whole_word_mask(input_ids, word_ids, replacement="mask-only", **kwargs)  # bug


class RandomNextTooOften(_Mutant):
    """Takes a random B 60% of the time."""

    breaks = ("OBJ-NSP-02",)

    def next_sentence_pairs(self, documents, *, cls_token_id, sep_token_id, generator):
        return objectives.next_sentence_pairs(
            documents,
            cls_token_id=cls_token_id,
            sep_token_id=sep_token_id,
            generator=generator,
            random_next_probability=0.6,  # bug
        )


class NoNoiseOnShortSequences(_Mutant):
    """Skips the clamp to one noise token: a sequence where round(L x density) = 0 gets no noise."""

    breaks = ("OBJ-T5-01",)

    def random_spans_noise_mask(self, length, *, generator, noise_density=0.15, mean_noise_span_length=3.0):
        objectives.check_span_parameters(length, noise_density, mean_noise_span_length)
        if round(length * noise_density) == 0:
            return torch.zeros(length, dtype=torch.bool)  # bug
        return super().random_spans_noise_mask(
            length, generator=generator, noise_density=noise_density, mean_noise_span_length=mean_noise_span_length
        )


class TargetSentinelsOffByOne(_Mutant):
    """Numbers the target sentinels from <extra_id_1>: targets no longer pair with the inputs."""

    breaks = ("OBJ-T5-04", "OBJ-T5-05")

    def t5_span_corruption(self, input_ids, noise_mask, *, vocab_size, eos_token_id):
        inputs, _ = super().t5_span_corruption(input_ids, noise_mask, vocab_size=vocab_size, eos_token_id=eos_token_id)
        _, targets = objectives.t5_span_corruption(
            input_ids, noise_mask, vocab_size=vocab_size - 1, eos_token_id=eos_token_id
        )  # bug: sentinels one lower
        return inputs, targets


ALL: tuple[type[_Mutant], ...] = (
    MasksSpecialTokens,
    EightyTwentyZero,
    RandomIdsSkipTheFirstHalf,
    ProbabilityNotChecked,
    CorruptsTheCallersIds,
    WordPiecesMaskedAlone,
    NextSentenceLabelsSwapped,
    SegmentIdsAllZero,
    NoiseFirst,
    SentinelsInReverseOrder,
    TargetLengthWithoutEos,
    DensityZeroAccepted,
    NoZeroLengthSpans,
    BudgetRoundedDown,
    InsertionsDropped,
    SentencesAlwaysReversed,
    TokensShuffled,
    MaskRatioClamped,
    IgnoreIndexKept,
    StartTokenNotChecked,
    SelectionRateTooLow,
    WordRateTooLow,
    WholeWordsAlwaysMasked,
    RandomNextTooOften,
    NoNoiseOnShortSequences,
    TargetSentinelsOffByOne,
)
