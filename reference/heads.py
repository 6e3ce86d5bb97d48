"""Reference task heads: what sits on top of a transformer's last hidden states.

Shapes: B batch, L sequence length, D width, V vocabulary, C labels.

- LM head: logits = h @ E^T with E the (V, D) token embedding when tied (GPT-2, BERT): one
  parameter, so an update to one is an update to the other.
- Generation reads the logits of the last *real* token of each row: position L-1 under left
  padding, the last position with attention_mask = 1 under right padding.
- BERT's heads: the pooler tanh(W h[:, 0] + b); next-sentence prediction Linear(D, 2) on the
  pooled vector (label 0 = B follows A); MLM: LayerNorm(gelu(W h + b)) @ E^T + bias; sequence
  classification Linear(D, C) on the pooled vector; token classification Linear(D, C) per token;
  question answering Linear(D, 2) per token, split into start and end logits.
- GPT-2's sequence classification pools the last real token, not position L-1.
- QA decoding: the span (s, e) maximising start[s] + end[e] with s <= e, e - s + 1 <= max length,
  both inside the context.

Left out: dropout (evaluation semantics), the encoder itself (the models family), beam search
over spans with n-best lists, the "no answer" score of SQuAD 2.0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from specformer.reference import losses

IGNORE_INDEX = losses.IGNORE_INDEX
GENERATION_POSITIONS = ("last-real", "last-position")  # HEAD-GEN-02
WORD_LABEL_ALIGNMENTS = ("first-subword", "all-subwords")  # HEAD-TOK-02


def _check_hidden(hidden: torch.Tensor, width: int) -> None:
    if hidden.dim() != 3 or hidden.shape[-1] != width:
        raise ValueError(f"hidden must be (B, L, {width}) to match the head's weights, got {tuple(hidden.shape)}")


def _check_mask(mask: torch.Tensor, hidden: torch.Tensor, name: str = "attention_mask") -> torch.Tensor:
    if mask.shape != hidden.shape[:2]:
        raise ValueError(f"{name} must be (B, L) = {tuple(hidden.shape[:2])}, got {tuple(mask.shape)}")
    mask = mask.bool()
    if not mask.any(dim=1).all():
        raise ValueError(f"{name} must mark at least one real token in every row")
    return mask


@dataclass(frozen=True)
class BertHeadWeights:
    """The weights of BERT's heads, in nn.Linear layout (out, in)."""

    word_embeddings: torch.Tensor  # (V, D): the MLM decoder, tied
    transform_weight: torch.Tensor  # (D, D)
    transform_bias: torch.Tensor  # (D,)
    norm_weight: torch.Tensor  # (D,)
    norm_bias: torch.Tensor  # (D,)
    decoder_bias: torch.Tensor  # (V,): separate from the tied weight
    pooler_weight: torch.Tensor  # (D, D)
    pooler_bias: torch.Tensor  # (D,)
    nsp_weight: torch.Tensor  # (2, D)
    nsp_bias: torch.Tensor  # (2,)
    classifier_weight: torch.Tensor  # (C, D)
    classifier_bias: torch.Tensor  # (C,)
    qa_weight: torch.Tensor  # (2, D): row 0 start, row 1 end
    qa_bias: torch.Tensor  # (2,)
    norm_eps: float = 1e-12

    @property
    def hidden_size(self) -> int:
        return self.word_embeddings.shape[1]

    @property
    def vocab_size(self) -> int:
        return self.word_embeddings.shape[0]

    @property
    def num_labels(self) -> int:
        return self.classifier_weight.shape[0]

    @classmethod
    def random(
        cls, vocab: int, hidden: int, num_labels: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
    ) -> BertHeadWeights:
        def draw(*shape: int, scale: float = 1.0) -> torch.Tensor:
            return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)

        scale = hidden**-0.5
        return cls(
            word_embeddings=draw(vocab, hidden),
            transform_weight=draw(hidden, hidden, scale=scale),
            transform_bias=draw(hidden, scale=0.1),
            norm_weight=1 + draw(hidden, scale=0.1),
            norm_bias=draw(hidden, scale=0.1),
            decoder_bias=draw(vocab),
            pooler_weight=draw(hidden, hidden, scale=scale),
            pooler_bias=draw(hidden, scale=0.1),
            nsp_weight=draw(2, hidden, scale=scale),
            nsp_bias=draw(2, scale=0.1),
            classifier_weight=draw(num_labels, hidden, scale=scale),
            classifier_bias=draw(num_labels, scale=0.1),
            qa_weight=draw(2, hidden, scale=scale),
            qa_bias=draw(2, scale=0.1),
        )

    def to(self, dtype: torch.dtype) -> BertHeadWeights:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return BertHeadWeights(**{k: v.to(dtype) if isinstance(v, torch.Tensor) else v for k, v in values.items()})


def lm_logits(hidden: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
    """A tied LM head: (B, L, D) @ (V, D)^T -> (B, L, V), no bias (GPT-2).

    Clauses: HEAD-LM-01.
    """
    _check_hidden(hidden, embedding.shape[1])
    return hidden @ embedding.T  # (B, L, V)


TIED_ARCHITECTURES = ("causal-lm", "masked-lm")


def tied_parameters(
    vocab_size: int, hidden_size: int, tie: bool, *, architecture: str = "causal-lm"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input embedding, output projection) of a fresh LM: one parameter when tied, two otherwise.

    Clauses: HEAD-TIE-01, HEAD-TIE-02, HEAD-MLM-02.

    The two architectures tie the same way (GPT-2's lm_head, BERT's MLM decoder); BERT's decoder
    bias is a separate (V,) parameter, which `mlm_logits` takes as `decoder_bias`.
    """
    if architecture not in TIED_ARCHITECTURES:
        raise ValueError(f"architecture must be one of {TIED_ARCHITECTURES}, got {architecture!r}")
    if vocab_size < 1 or hidden_size < 1:
        raise ValueError(f"vocab_size and hidden_size must be >= 1, got {vocab_size} and {hidden_size}")
    embedding = torch.nn.Embedding(vocab_size, hidden_size)
    if tie:
        return embedding.weight, embedding.weight  # subtle: the same Parameter, not a copy
    output = torch.nn.Parameter(torch.empty(vocab_size, hidden_size).normal_(std=0.02))
    return embedding.weight, output


def last_real_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last position with mask 1 per row; (B, L) -> (B,).

    >>> last_real_positions(torch.tensor([[1, 1, 0], [0, 1, 1]])).tolist()
    [1, 2]
    """
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)  # (L,)
    return (positions * attention_mask.bool()).argmax(dim=1)  # (B,): the rightmost 1


def generation_logits(
    hidden: torch.Tensor, attention_mask: torch.Tensor, embedding: torch.Tensor, *, positions: str = "last-real"
) -> torch.Tensor:
    """The next-token logits of each row: the LM head at its last real token; -> (B, V).

    Clauses: HEAD-GEN-01, HEAD-GEN-02.
    """
    if positions not in GENERATION_POSITIONS:
        raise ValueError(f"positions must be one of {GENERATION_POSITIONS}, got {positions!r}")
    _check_hidden(hidden, embedding.shape[1])
    mask = _check_mask(attention_mask, hidden)
    last = last_real_positions(mask) if positions == "last-real" else torch.full_like(mask[:, 0], -1, dtype=torch.long)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last] @ embedding.T  # (B, V)


def pooler(hidden: torch.Tensor, weights: BertHeadWeights) -> torch.Tensor:
    """BERT's pooler: tanh(W h[:, 0] + b); (B, L, D) -> (B, D).

    Clauses: HEAD-ERR-01, HEAD-POOL-01.
    """
    _check_hidden(hidden, weights.hidden_size)
    return torch.tanh(F.linear(hidden[:, 0], weights.pooler_weight, weights.pooler_bias))


def mlm_logits(hidden: torch.Tensor, weights: BertHeadWeights) -> torch.Tensor:
    """BERT's MLM head: LayerNorm(gelu(W h + b)) @ E^T + bias; (B, L, D) -> (B, L, V).

    Clauses: HEAD-MLM-01, HEAD-MLM-02.
    """
    _check_hidden(hidden, weights.hidden_size)
    transformed = F.gelu(F.linear(hidden, weights.transform_weight, weights.transform_bias))  # exact erf GELU
    normed = F.layer_norm(transformed, transformed.shape[-1:], weights.norm_weight, weights.norm_bias, weights.norm_eps)
    return F.linear(normed, weights.word_embeddings, weights.decoder_bias)  # (B, L, V)


def masked_lm_head(
    hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(MLM logits, mean CE over the labelled positions or None).

    Clauses: HEAD-MLM-01, HEAD-MLM-02, HEAD-MLM-03.
    """
    logits = mlm_logits(hidden, weights)
    return logits, None if labels is None else losses.masked_lm_loss(logits, labels)


def next_sentence_head(
    hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """NSP: Linear(D, 2) on the pooled [CLS] vector, (B, 2); label 0 = B follows A.

    Clauses: HEAD-NSP-01.
    """
    logits = F.linear(pooler(hidden, weights), weights.nsp_weight, weights.nsp_bias)  # (B, 2)
    return logits, None if labels is None else losses.cross_entropy(logits, labels)


def pretraining_heads(
    hidden: torch.Tensor, weights: BertHeadWeights, mlm_labels: torch.Tensor, nsp_labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERT pretraining: (MLM logits, NSP logits, MLM loss + NSP loss).

    Clauses: HEAD-PRE-01.
    """
    mlm, mlm_loss = masked_lm_head(hidden, weights, mlm_labels)
    nsp, nsp_loss = next_sentence_head(hidden, weights, nsp_labels)
    assert mlm_loss is not None and nsp_loss is not None
    return mlm, nsp, mlm_loss + nsp_loss


def sequence_classification(
    hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """BERT: Linear(D, C) on the pooled [CLS] vector -> (B, C), with the problem-type loss.

    Clauses: HEAD-SEQ-01.
    """
    logits = F.linear(pooler(hidden, weights), weights.classifier_weight, weights.classifier_bias)
    return logits, None if labels is None else losses.sequence_classification_loss(logits, labels)


def last_token_classification(
    hidden: torch.Tensor, score_weight: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """GPT-2 style: Linear(D, C, no bias) at each row's last real token; -> (B, C).

    Clauses: HEAD-SEQ-02, HEAD-SEQ-03.

    The last real token comes from the attention mask, so a real token that happens to equal
    the pad id (GPT-2 pads with its end-of-text token) still counts.
    """
    _check_hidden(hidden, score_weight.shape[1])
    mask = _check_mask(attention_mask, hidden)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return F.linear(hidden[rows, last_real_positions(mask)], score_weight)  # (B, C)


def mean_pooling(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L, D) hidden states, (B, L) mask -> (B, D): the mean over each row's real tokens.

    Clauses: HEAD-SEQ-04.

    >>> mean_pooling(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[1, 1, 0]])).tolist()
    [[2.0]]
    """
    mask = _check_mask(attention_mask, hidden).unsqueeze(-1)  # (B, L, 1) bool
    # subtle: zero the padding rather than trusting it to be zero; a padding position may hold anything.
    real = hidden.masked_fill(~mask, 0.0)  # (B, L, D)
    return real.sum(dim=1) / mask.sum(dim=1).to(hidden.dtype)  # (B, D)


def token_classification(
    hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Linear(D, C) per token -> (B, L, C); loss: mean CE over labels != -100.

    Clauses: HEAD-TOK-01.
    """
    _check_hidden(hidden, weights.hidden_size)
    logits = F.linear(hidden, weights.classifier_weight, weights.classifier_bias)  # (B, L, C)
    if labels is None:
        return logits, None
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels must be (B, L) = {tuple(logits.shape[:2])}, got {tuple(labels.shape)}")
    return logits, losses.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def align_word_labels(
    word_ids: list[int | None], word_labels: list[int], *, alignment: str = "first-subword"
) -> list[int]:
    """Per-token labels from per-word labels: -100 on special tokens (word id None) and, under
    `first-subword`, on every piece of a word after its first.

    Clauses: HEAD-TOK-02.

    >>> align_word_labels([None, 0, 0, 1, None], [3, 5])
    [-100, 3, -100, 5, -100]
    """
    if alignment not in WORD_LABEL_ALIGNMENTS:
        raise ValueError(f"alignment must be one of {WORD_LABEL_ALIGNMENTS}, got {alignment!r}")
    labels, previous = [], None
    for word in word_ids:
        if word is not None and not 0 <= word < len(word_labels):
            raise ValueError(f"word_ids must index word_labels (0 .. {len(word_labels) - 1}), got {word}")
        if word is None:
            labels.append(IGNORE_INDEX)
        elif word != previous or alignment == "all-subwords":
            labels.append(word_labels[word])
        else:
            labels.append(IGNORE_INDEX)
        previous = word
    return labels


def question_answering(
    hidden: torch.Tensor,
    weights: BertHeadWeights,
    start_positions: torch.Tensor | None = None,
    end_positions: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Start and end logits (B, L) each from one Linear(D, 2); loss (CE_start + CE_end) / 2.

    Clauses: HEAD-ERR-01, HEAD-QA-01, HEAD-QA-02, HEAD-QA-03.

    Positions outside [0, L) are clamped to L and ignored (an answer truncated out of the window).
    """
    _check_hidden(hidden, weights.hidden_size)
    both = F.linear(hidden, weights.qa_weight, weights.qa_bias)  # (B, L, 2)
    start, end = both[..., 0], both[..., 1]  # (B, L) each
    if start_positions is None or end_positions is None:
        return start, end, None
    length = hidden.shape[1]
    for name, positions in (("start_positions", start_positions), ("end_positions", end_positions)):
        if positions.shape != hidden.shape[:1]:
            raise ValueError(f"{name} must be (B,) = ({hidden.shape[0]},), got {tuple(positions.shape)}")
    start_targets = start_positions.clamp(0, length)  # out of range -> L, the ignored index
    end_targets = end_positions.clamp(0, length)
    start_loss = losses.cross_entropy(start, start_targets, ignore_index=length)
    end_loss = losses.cross_entropy(end, end_targets, ignore_index=length)
    return start, end, (start_loss + end_loss) / 2


def best_span(
    start_logits: torch.Tensor, end_logits: torch.Tensor, context_mask: torch.Tensor, max_answer_length: int
) -> tuple[int, int]:
    """The answer span (s, e), inclusive: argmax of start[s] + end[e] over s <= e,
    e - s + 1 <= max_answer_length, both in the context; (L,) each -> two ints.

    Clauses: HEAD-QA-04, HEAD-QA-05, HEAD-QA-06.

    Ties go to the smallest s, then the smallest e (row-major argmax).
    """
    if start_logits.dim() != 1 or end_logits.shape != start_logits.shape or context_mask.shape != start_logits.shape:
        raise ValueError(
            f"start_logits, end_logits and context_mask must all be (L,); got {tuple(start_logits.shape)}, "
            f"{tuple(end_logits.shape)}, {tuple(context_mask.shape)}"
        )
    if isinstance(max_answer_length, bool) or not isinstance(max_answer_length, int) or max_answer_length < 1:
        raise ValueError(f"max_answer_length must be an integer >= 1, got {max_answer_length!r}")
    context = context_mask.bool()
    if not context.any():
        raise ValueError("context_mask must mark at least one token")
    length = start_logits.shape[0]
    scores = start_logits.double()[:, None] + end_logits.double()[None, :]  # (L, L): [s, e]
    s, e = torch.meshgrid(torch.arange(length), torch.arange(length), indexing="ij")
    allowed = (s <= e) & (e - s < max_answer_length) & context[:, None] & context[None, :]
    flat = int(scores.masked_fill(~allowed, float("-inf")).flatten().argmax())
    return flat // length, flat % length
