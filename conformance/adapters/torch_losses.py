"""The torch adapter's losses family (spec/losses.md): PyTorch's loss functions, called as users call them.

- `cross_entropy` is `torch.nn.functional.cross_entropy` with its `ignore_index`,
  `label_smoothing` and `reduction`; it keeps the logits' dtype (variant `native` of LOSS-CE-03).
- The LM losses are nanoGPT's one line, `F.cross_entropy(logits.view(-1, V), targets.view(-1),
  ignore_index=-100)`, with targets already shifted by the data loader (variant `pre-shifted` of
  LOSS-CLM-01); with `num_items_in_batch` the reduction is "sum" divided by it, as Megatron and
  transformers do.
- `mse_loss` is `F.mse_loss`, `bce_with_logits_loss` is `F.binary_cross_entropy_with_logits`.

PyTorch has no problem-type inference, so `sequence_classification_loss` is left unsupported.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class TorchLosses:
    def cross_entropy(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> torch.Tensor:
        return F.cross_entropy(
            logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )

    def causal_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        flat, targets = logits.view(-1, logits.size(-1)), labels.view(-1)  # nanoGPT: targets pre-shifted
        if num_items_in_batch is None:
            return F.cross_entropy(flat, targets, ignore_index=-100)
        return F.cross_entropy(flat, targets, ignore_index=-100, reduction="sum") / num_items_in_batch

    def masked_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        return self.causal_lm_loss(logits, labels, num_items_in_batch=num_items_in_batch)

    def mse_loss(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(predictions, targets)

    def bce_with_logits_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets)
