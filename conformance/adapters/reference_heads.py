"""The reference adapter's heads family (spec/heads.md): specformer.reference.heads, as declared.

A mixin of ReferenceAdapter; the variants come from the adapter's capabilities.
"""

from __future__ import annotations

import torch

from specformer.reference import heads
from specformer.reference.heads import BertHeadWeights


class ReferenceHeads:
    capabilities: object  # the adapter's Capabilities, declared on the adapter class

    def _head_variant(self, clause_id: str, default: str) -> str:
        return self.capabilities.variants.get(clause_id, default)  # type: ignore[attr-defined]

    def lm_logits(self, hidden: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return heads.lm_logits(hidden, embedding)

    def tied_parameters(
        self, vocab_size: int, hidden_size: int, *, tie: bool, architecture: str = "causal-lm"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return heads.tied_parameters(vocab_size, hidden_size, tie, architecture=architecture)

    def generation_logits(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, embedding: torch.Tensor
    ) -> torch.Tensor:
        positions = self._head_variant("HEAD-GEN-02", "last-real")
        return heads.generation_logits(hidden, attention_mask, embedding, positions=positions)

    def pooler(self, hidden: torch.Tensor, weights: BertHeadWeights) -> torch.Tensor:
        return heads.pooler(hidden, weights)

    def masked_lm_head(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return heads.masked_lm_head(hidden, weights, labels)

    def next_sentence_head(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return heads.next_sentence_head(hidden, weights, labels)

    def pretraining_heads(
        self, hidden: torch.Tensor, weights: BertHeadWeights, mlm_labels: torch.Tensor, nsp_labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return heads.pretraining_heads(hidden, weights, mlm_labels, nsp_labels)

    def sequence_classification(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return heads.sequence_classification(hidden, weights, labels)

    def last_token_classification(
        self,
        hidden: torch.Tensor,
        score_weight: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pad_token_id: int,
    ) -> torch.Tensor:
        return heads.last_token_classification(hidden, score_weight, attention_mask)

    def mean_pooling(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return heads.mean_pooling(hidden, attention_mask)

    def token_classification(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return heads.token_classification(hidden, weights, labels)

    def align_word_labels(self, word_ids: list[int | None], word_labels: list[int]) -> list[int]:
        alignment = self._head_variant("HEAD-TOK-02", "first-subword")
        return heads.align_word_labels(word_ids, word_labels, alignment=alignment)

    def question_answering(
        self,
        hidden: torch.Tensor,
        weights: BertHeadWeights,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return heads.question_answering(hidden, weights, start_positions, end_positions)

    def best_span(
        self, start_logits: torch.Tensor, end_logits: torch.Tensor, context_mask: torch.Tensor, max_answer_length: int
    ) -> tuple[int, int]:
        return heads.best_span(start_logits, end_logits, context_mask, max_answer_length)
