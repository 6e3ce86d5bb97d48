"""The reference adapter's losses family (spec/losses.md): specformer.reference.losses, as declared.

A mixin of ReferenceAdapter; the variants come from the adapter's capabilities.
"""

from __future__ import annotations

import torch

from specformer.reference import losses


class ReferenceLosses:
    capabilities: object  # the adapter's Capabilities, declared on the adapter class

    def _loss_variant(self, clause_id: str, default: str) -> str:
        return self.capabilities.variants.get(clause_id, default)  # type: ignore[attr-defined]

    def cross_entropy(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> torch.Tensor:
        return losses.cross_entropy(
            logits,
            labels,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
            empty=self._loss_variant("LOSS-CE-05", "nan"),
        )

    def causal_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        return losses.causal_lm_loss(
            logits,
            labels,
            num_items_in_batch=num_items_in_batch,
            labels_shifted=self._loss_variant("LOSS-CLM-01", "unshifted") == "pre-shifted",
            empty=self._loss_variant("LOSS-CE-05", "nan"),
        )

    def masked_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        return losses.masked_lm_loss(
            logits, labels, num_items_in_batch=num_items_in_batch, empty=self._loss_variant("LOSS-CE-05", "nan")
        )

    def mse_loss(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return losses.mse_loss(predictions, targets)

    def bce_with_logits_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return losses.bce_with_logits(logits, targets)

    def sequence_classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return losses.sequence_classification_loss(logits, labels)
