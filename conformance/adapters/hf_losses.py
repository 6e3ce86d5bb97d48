"""The hf adapter's losses family (spec/losses.md): transformers 5.x `loss/loss_utils.py`, run for real.

- `cross_entropy` (reduction mean) is `ForTokenClassification`, the flat (N, C) loss function
  (`logits.float()` then `fixed_cross_entropy`); reduction sum is the same with
  `num_items_in_batch=1` (fixed_cross_entropy's sum / N). Label smoothing is the Trainer's
  `LabelSmoother` (`trainer_pt_utils`) on the same upcast logits. transformers has no per-row
  loss; reduction "none" is the `F.cross_entropy` that `fixed_cross_entropy` wraps.
- `causal_lm_loss` is `ForCausalLMLoss` (labels unshifted: variant `unshifted` of LOSS-CLM-01),
  `masked_lm_loss` is `ForMaskedLMLoss`, both with `num_items_in_batch` passed through.
- `mse_loss`, `bce_with_logits_loss` and `sequence_classification_loss` are
  `ForSequenceClassificationLoss` with a config of `num_labels=C` whose `problem_type` is
  "regression", "multi_label_classification" or left None (inferred), as the model classes do.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F


def _config(num_labels: int, problem_type: str | None) -> SimpleNamespace:
    """The two config fields the loss functions read (`num_labels`, `problem_type`, which
    ForSequenceClassificationLoss writes back when it infers it). A real PretrainedConfig would
    do the same, but builds an id2label table of num_labels entries per call (0.5 s at 256k
    classes), which the cross-entropy benchmark would count against transformers."""
    return SimpleNamespace(num_labels=num_labels, problem_type=problem_type)


class HFLosses:
    def cross_entropy(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> torch.Tensor:
        from transformers.loss.loss_utils import ForTokenClassification
        from transformers.trainer_pt_utils import LabelSmoother

        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
        if reduction == "none":
            return F.cross_entropy(
                logits.float(), labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none"
            )
        if label_smoothing:
            smoother = LabelSmoother(epsilon=label_smoothing, ignore_index=ignore_index)
            loss = smoother({"logits": logits.float()}, labels)
            if reduction == "sum":  # LabelSmoother only averages; the sum is the mean times the count
                loss = loss * (labels != ignore_index).sum()
            return loss
        config = _config(logits.shape[-1], None)
        items = 1 if reduction == "sum" else None
        return ForTokenClassification(logits, labels, config, ignore_index=ignore_index, num_items_in_batch=items)

    def causal_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        from transformers.loss.loss_utils import ForCausalLMLoss

        return ForCausalLMLoss(logits, labels, vocab_size=logits.shape[-1], num_items_in_batch=num_items_in_batch)

    def masked_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        from transformers.loss.loss_utils import ForMaskedLMLoss

        return ForMaskedLMLoss(logits, labels, vocab_size=logits.shape[-1], num_items_in_batch=num_items_in_batch)

    def mse_loss(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        from transformers.loss.loss_utils import ForSequenceClassificationLoss

        num_labels = predictions.shape[-1] if predictions.dim() == 2 else 1
        return ForSequenceClassificationLoss(targets, predictions, _config(num_labels, "regression"))

    def bce_with_logits_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        from transformers.loss.loss_utils import ForSequenceClassificationLoss

        return ForSequenceClassificationLoss(targets, logits, _config(logits.shape[-1], "multi_label_classification"))

    def sequence_classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        from transformers.loss.loss_utils import ForSequenceClassificationLoss

        return ForSequenceClassificationLoss(labels, logits, _config(logits.shape[-1], None))
