"""Mutants of the heads family: the reference adapter with one plausible bug each.

tests/test_mutants_heads.py runs the heads suite on every mutant and checks that exactly the
clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import heads, losses
from specformer.reference.heads import BertHeadWeights


class _Mutant(Mutant):
    capabilities = reference_capabilities("heads", "HEAD-")


class LMHeadScaled(_Mutant):
    """Divides the LM logits by sqrt(D), as attention scores are."""

    breaks = ("HEAD-LM-01",)

    def lm_logits(self, hidden, embedding):
        return heads.lm_logits(hidden, embedding) / hidden.shape[-1] ** 0.5  # bug


class UntiedDeclaredTied(_Mutant):
    """Clones the embedding into the output layer when asked to tie (a copy, not a tie)."""

    breaks = ("HEAD-TIE-01", "HEAD-MLM-02")

    def tied_parameters(self, vocab_size, hidden_size, *, tie, architecture="causal-lm"):
        embedding, output = super().tied_parameters(vocab_size, hidden_size, tie=tie, architecture=architecture)
        return embedding, torch.nn.Parameter(output.detach().clone()) if tie else output  # bug


class UntiedSharesStorage(_Mutant):
    """Ties the embeddings even when asked not to."""

    breaks = ("HEAD-TIE-02",)

    def tied_parameters(self, vocab_size, hidden_size, *, tie, architecture="causal-lm"):
        return super().tied_parameters(vocab_size, hidden_size, tie=True, architecture=architecture)  # bug


class GenerationAssumesRightPadding(_Mutant):
    """Reads position (number of real tokens - 1): right for right padding, wrong for left."""

    breaks = ("HEAD-GEN-01",)

    def generation_logits(self, hidden, attention_mask, embedding):
        last = attention_mask.sum(dim=1) - 1  # bug
        return hidden[torch.arange(hidden.shape[0]), last] @ embedding.T


class GenerationReadsLastPosition(_Mutant):
    """Reads position L-1 (the course's logits[:, -1]) while declaring the last-real variant."""

    breaks = ("HEAD-GEN-02",)

    def generation_logits(self, hidden, attention_mask, embedding):
        return heads.generation_logits(hidden, attention_mask, embedding, positions="last-position")  # bug


class PoolerMeansTokens(_Mutant):
    """Pools the mean of all positions instead of [CLS]."""

    breaks = ("HEAD-POOL-01",)

    def pooler(self, hidden, weights):
        super().pooler(hidden, weights)  # keeps the checks
        return torch.tanh(F.linear(hidden.mean(dim=1), weights.pooler_weight, weights.pooler_bias))  # bug


class MLMWithoutTransform(_Mutant):
    """Decodes the hidden states directly, skipping dense + GELU + LayerNorm."""

    breaks = ("HEAD-MLM-01", "HEAD-MLM-03")

    def masked_lm_head(self, hidden, weights, labels=None):
        super().masked_lm_head(hidden, weights)  # keeps the checks
        logits = F.linear(hidden, weights.word_embeddings, weights.decoder_bias)  # bug
        return logits, None if labels is None else losses.masked_lm_loss(logits, labels)


class MLMTanhGelu(_Mutant):
    """Uses the tanh approximation of GELU in the MLM transform."""

    breaks = ("HEAD-MLM-01", "HEAD-MLM-03")

    def masked_lm_head(self, hidden, weights, labels=None):
        super().masked_lm_head(hidden, weights)  # keeps the checks
        transformed = F.gelu(F.linear(hidden, weights.transform_weight, weights.transform_bias), approximate="tanh")
        normed = F.layer_norm(transformed, transformed.shape[-1:], weights.norm_weight, weights.norm_bias, 1e-12)
        logits = F.linear(normed, weights.word_embeddings, weights.decoder_bias)
        return logits, None if labels is None else losses.masked_lm_loss(logits, labels)


class MLMBiasDropped(_Mutant):
    """Leaves out the decoder's separate bias (the embedding has none to share)."""

    breaks = ("HEAD-MLM-01", "HEAD-MLM-02", "HEAD-MLM-03")

    def masked_lm_head(self, hidden, weights, labels=None):
        zero = BertHeadWeights(**{**weights.__dict__, "decoder_bias": torch.zeros_like(weights.decoder_bias)})
        return super().masked_lm_head(hidden, zero, labels)  # bug


class MLMLossShifted(_Mutant):
    """Scores the MLM logits with the causal shift."""

    breaks = ("HEAD-MLM-03",)

    def masked_lm_head(self, hidden, weights, labels=None):
        logits, _ = super().masked_lm_head(hidden, weights)
        return logits, None if labels is None else losses.causal_lm_loss(logits, labels)  # bug


class NSPClassesSwapped(_Mutant):
    """Puts "B is random" in class 0."""

    breaks = ("HEAD-NSP-01",)

    def next_sentence_head(self, hidden, weights, labels=None):
        logits, _ = super().next_sentence_head(hidden, weights)
        logits = logits.flip(-1)  # bug
        return logits, None if labels is None else losses.cross_entropy(logits, labels)


class PretrainingLossAveraged(_Mutant):
    """Averages the MLM and NSP losses instead of adding them."""

    breaks = ("HEAD-PRE-01",)

    def pretraining_heads(self, hidden, weights, mlm_labels, nsp_labels):
        mlm, nsp, total = super().pretraining_heads(hidden, weights, mlm_labels, nsp_labels)
        return mlm, nsp, total / 2  # bug


class ClassifierSkipsPooler(_Mutant):
    """Classifies h[:, 0] directly, without the pooler's dense + tanh."""

    breaks = ("HEAD-SEQ-01",)

    def sequence_classification(self, hidden, weights, labels=None):
        logits = F.linear(hidden[:, 0], weights.classifier_weight, weights.classifier_bias)  # bug
        return logits, None if labels is None else losses.sequence_classification_loss(logits, labels)


class PoolsLastPosition(_Mutant):
    """GPT-2 pooling at position L-1 even when it is padding."""

    breaks = ("HEAD-SEQ-02", "HEAD-SEQ-03")

    def last_token_classification(self, hidden, score_weight, input_ids, attention_mask, pad_token_id):
        return F.linear(hidden[:, -1], score_weight)  # bug


class PoolsRightmostNonPadId(_Mutant):
    """Finds the last token by comparing ids with the pad id (transformers' rule)."""

    breaks = ("HEAD-SEQ-03",)

    def last_token_classification(self, hidden, score_weight, input_ids, attention_mask, pad_token_id):
        return heads.last_token_classification(hidden, score_weight, input_ids != pad_token_id)  # bug


class MeanPoolingIncludesPadding(_Mutant):
    """Averages every position, padding included (`hidden.mean(dim=1)`)."""

    breaks = ("HEAD-SEQ-04",)

    def mean_pooling(self, hidden, attention_mask):
        return hidden.mean(dim=1)  # bug


class TokenLossOverAllPositions(_Mutant):
    """Zeroes the ignored positions' losses but averages over every position."""

    breaks = ("HEAD-TOK-01",)

    def token_classification(self, hidden, weights, labels=None):
        logits, loss = super().token_classification(hidden, weights, labels)
        if labels is None:
            return logits, loss
        per_token = losses.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
        return logits, per_token.mean()  # bug


class LabelsEveryPiece(_Mutant):
    """Labels every piece of a word while declaring first-subword."""

    breaks = ("HEAD-TOK-02",)

    def align_word_labels(self, word_ids, word_labels):
        return heads.align_word_labels(word_ids, word_labels, alignment="all-subwords")  # bug


class QAColumnsSwapped(_Mutant):
    """Takes column 0 as the end logits and column 1 as the start."""

    breaks = ("HEAD-QA-01", "HEAD-QA-02", "HEAD-QA-03")

    def question_answering(self, hidden, weights, start_positions=None, end_positions=None):
        swapped = BertHeadWeights(
            **{**weights.__dict__, "qa_weight": weights.qa_weight.flip(0), "qa_bias": weights.qa_bias.flip(0)}
        )
        return super().question_answering(hidden, swapped, start_positions, end_positions)  # bug


class QALossSummed(_Mutant):
    """Adds the start and end losses instead of averaging them."""

    breaks = ("HEAD-QA-02", "HEAD-QA-03")

    def question_answering(self, hidden, weights, start_positions=None, end_positions=None):
        start, end, loss = super().question_answering(hidden, weights, start_positions, end_positions)
        return start, end, None if loss is None else loss * 2  # bug


class QAPositionsClampedToLastToken(_Mutant):
    """Clamps answer positions past the window to the last token, training the model to point there."""

    breaks = ("HEAD-QA-03",)

    def question_answering(self, hidden, weights, start_positions=None, end_positions=None):
        if start_positions is not None and end_positions is not None:
            last = hidden.shape[1] - 1
            start_positions, end_positions = start_positions.clamp(0, last), end_positions.clamp(0, last)  # bug
        return super().question_answering(hidden, weights, start_positions, end_positions)


class SpanEndBeforeStart(_Mutant):
    """Keeps decode_spans' length limit (np.tril) but drops its np.triu: spans may end before they start."""

    # QA-05's random cases find the e < s spans too; QA-06 through the generic production-size case
    breaks = ("HEAD-QA-04", "HEAD-QA-05", "HEAD-QA-06")

    def best_span(self, start_logits, end_logits, context_mask, max_answer_length):
        heads.best_span(start_logits, end_logits, context_mask, max_answer_length)  # keeps the checks
        length, context = start_logits.shape[0], context_mask.bool()
        scores = start_logits.double()[:, None] + end_logits.double()[None, :]
        s, e = torch.meshgrid(torch.arange(length), torch.arange(length), indexing="ij")
        allowed = (e - s < max_answer_length) & context[:, None] & context[None, :]  # bug: no s <= e
        flat = int(scores.masked_fill(~allowed, float("-inf")).flatten().argmax())
        return flat // length, flat % length


class SpanOneTooLong(_Mutant):
    """Allows spans of max_answer_length + 1 tokens (e - s <= max)."""

    breaks = ("HEAD-QA-05",)

    def best_span(self, start_logits, end_logits, context_mask, max_answer_length):
        heads.best_span(start_logits, end_logits, context_mask, max_answer_length)  # keeps the checks
        return heads.best_span(start_logits, end_logits, context_mask, max_answer_length + 1)  # bug


class SpanIgnoresContext(_Mutant):
    """Lets the answer start or end in the question, special tokens or padding."""

    breaks = ("HEAD-QA-06",)

    def best_span(self, start_logits, end_logits, context_mask, max_answer_length):
        if max_answer_length < 1:
            raise ValueError(f"max_answer_length must be >= 1, got {max_answer_length}")
        everywhere = torch.ones_like(context_mask, dtype=torch.bool)
        everywhere[0] = False  # still never [CLS]
        return heads.best_span(start_logits, end_logits, everywhere, max_answer_length)  # bug


class HeadsTruncateHidden(_Mutant):
    """Slices hidden states and labels to fit the head instead of rejecting them."""

    breaks = ("HEAD-ERR-01",)

    def pooler(self, hidden, weights):
        return super().pooler(hidden[..., : weights.hidden_size], weights)  # bug

    def masked_lm_head(self, hidden, weights, labels=None):
        return super().masked_lm_head(hidden[..., : weights.hidden_size], weights, labels)  # bug

    def question_answering(self, hidden, weights, start_positions=None, end_positions=None):
        batch = hidden.shape[0]
        if start_positions is not None and end_positions is not None:
            start_positions, end_positions = start_positions[:batch], end_positions[:batch]  # bug
        return super().question_answering(hidden[..., : weights.hidden_size], weights, start_positions, end_positions)

    def token_classification(self, hidden, weights, labels=None):
        if labels is not None and labels.shape != hidden.shape[:2]:
            labels = torch.nn.functional.pad(labels, (0, hidden.shape[1] - labels.shape[1]), value=-100)  # bug
        return super().token_classification(hidden, weights, labels)


ALL: tuple[type[_Mutant], ...] = (
    LMHeadScaled,
    UntiedDeclaredTied,
    UntiedSharesStorage,
    GenerationAssumesRightPadding,
    GenerationReadsLastPosition,
    PoolerMeansTokens,
    MLMWithoutTransform,
    MLMTanhGelu,
    MLMBiasDropped,
    MLMLossShifted,
    NSPClassesSwapped,
    PretrainingLossAveraged,
    ClassifierSkipsPooler,
    PoolsLastPosition,
    PoolsRightmostNonPadId,
    TokenLossOverAllPositions,
    LabelsEveryPiece,
    QAColumnsSwapped,
    QALossSummed,
    QAPositionsClampedToLastToken,
    MeanPoolingIncludesPadding,
    SpanEndBeforeStart,
    SpanOneTooLong,
    SpanIgnoresContext,
    HeadsTruncateHidden,
)
