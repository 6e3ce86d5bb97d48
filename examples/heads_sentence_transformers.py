"""Pooling heads from sentence-transformers (its `Pooling` module): mean pooling, and GPT-2
style last-token classification as its "lasttoken" pooling followed by the score projection.

Written from docs/adapters.md alone. Run it:
    PYTHONPATH=examples specformer run --adapter heads_sentence_transformers:SentenceTransformersHeads \
        --family heads --profile quick --no-bench
Everything else of the heads family is left out ("unsupported").
"""

from __future__ import annotations

import torch
from sentence_transformers.models import Pooling

from specformer.conformance.adapters.protocols import Capabilities


class SentenceTransformersHeads:
    name = "sentence-transformers-pooling"
    description = "sentence-transformers Pooling ('mean', 'lasttoken'), CPU"
    capabilities = Capabilities(families=frozenset({"heads"}), dtypes=(torch.float32, torch.float64))

    def mean_pooling(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pooling = Pooling(hidden.shape[-1], pooling_mode="mean")
        return pooling({"token_embeddings": hidden, "attention_mask": attention_mask})["sentence_embedding"]

    def last_token_classification(
        self,
        hidden: torch.Tensor,
        score_weight: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pad_token_id: int,
    ) -> torch.Tensor:
        pooling = Pooling(hidden.shape[-1], pooling_mode="lasttoken")
        last = pooling({"token_embeddings": hidden, "attention_mask": attention_mask})["sentence_embedding"]  # (B, D)
        return last @ score_weight.T  # (B, C)
