"""Mutants of the losses family: the reference adapter with one plausible bug each.

tests/test_mutants_heads.py runs the losses suite on every mutant and checks that exactly the
clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import losses


class _Mutant(Mutant):
    capabilities = reference_capabilities("losses", "LOSS-")


class LossInBits(_Mutant):
    """Reports the cross-entropy in bits (log base 2), as compression papers quote it."""

    # every clause that compares a cross-entropy value (all but the NaN, error and shift clauses)
    breaks = ("LOSS-CE-01", "LOSS-CE-02", "LOSS-CE-03", "LOSS-CE-04", "LOSS-CE-06", "LOSS-CE-07", "LOSS-CE-10")

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        loss = super().cross_entropy(
            logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )
        return loss / math.log(2)  # bug: nats -> bits


class SoftmaxThenLog(_Mutant):
    """Takes log(softmax(x)), which underflows to log(0) = -inf for logits far below the maximum."""

    # LOSS-CE-03 too: over 50,257 classes, float32 softmax then log loses the small probabilities' digits;
    # LOSS-CE-01 at the generic production size (a 128k vocabulary) for the same reason
    breaks = ("LOSS-CE-01", "LOSS-CE-02", "LOSS-CE-03")

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        super().cross_entropy(  # its checks
            logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )
        x = logits.to(losses.compute_dtype(logits.dtype))
        counted = labels != ignore_index
        log_probs = torch.log(torch.softmax(x, dim=-1))  # bug: not log_softmax
        nll = -log_probs.gather(-1, labels.masked_fill(~counted, 0)[:, None]).squeeze(-1)
        smooth = -log_probs.mean(dim=-1)
        per_token = ((1 - label_smoothing) * nll + label_smoothing * smooth).masked_fill(~counted, 0.0)
        if reduction == "none":
            return per_token
        return per_token.sum() if reduction == "sum" else per_token.sum() / counted.sum()


class HalfNotUpcast(_Mutant):
    """Computes the loss of float16/bfloat16 logits in their own dtype, then casts the result up."""

    breaks = ("LOSS-CE-03",)

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if logits.dtype not in (torch.float16, torch.bfloat16):
            return super().cross_entropy(
                logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
            )
        per_token = F.cross_entropy(logits, labels, ignore_index=ignore_index, reduction="none")  # bug: in half
        if reduction == "none":
            return per_token.float()
        total = per_token.sum()  # a half-precision sum, as a kernel without upcast accumulates
        return (total if reduction == "sum" else total / (labels != ignore_index).sum()).float()


class IgnoreMaskAfterMean(_Mutant):
    """Zeroes the ignored rows but divides by every row, ignored ones included."""

    # LOSS-CE-01 too: the generic properties' inputs ignore some positions
    breaks = ("LOSS-CE-01", "LOSS-CE-04", "LOSS-CE-05", "LOSS-CE-06", "LOSS-CE-10")

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if reduction not in losses.REDUCTIONS:
            raise ValueError(f"reduction must be one of {losses.REDUCTIONS}, got {reduction!r}")
        per_token = super().cross_entropy(
            logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none"
        )
        if reduction == "none":
            return per_token
        return per_token.sum() if reduction == "sum" else per_token.mean()  # bug: mean over all rows


class AllIgnoredIsZero(_Mutant):
    """Returns 0 when every label is ignored, while declaring NaN (the default variant)."""

    breaks = ("LOSS-CE-05",)

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if reduction == "mean" and bool((labels == ignore_index).all()):
            return logits.new_zeros((), dtype=losses.compute_dtype(logits.dtype))  # bug
        return super().cross_entropy(
            logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )


class SmoothingOverWrongClasses(_Mutant):
    """Spreads the smoothing mass over the V - 1 wrong classes only."""

    # CE-01 too: test_generic's boundary cases of cross_entropy (label_smoothing near 1) cite its row's clause
    breaks = ("LOSS-CE-06", "LOSS-CE-10", "LOSS-CE-01")

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if not label_smoothing:
            return super().cross_entropy(logits, labels, ignore_index=ignore_index, reduction=reduction)
        super().cross_entropy(  # its checks
            logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )
        x = logits.to(losses.compute_dtype(logits.dtype))
        counted = labels != ignore_index
        log_probs = F.log_softmax(x, dim=-1)
        nll = -log_probs.gather(-1, labels.masked_fill(~counted, 0)[:, None]).squeeze(-1)
        others = (-log_probs.sum(dim=-1) - nll) / (x.shape[-1] - 1)  # bug: the true class excluded
        per_token = ((1 - label_smoothing) * nll + label_smoothing * others).masked_fill(~counted, 0.0)
        if reduction == "none":
            return per_token
        return per_token.sum() if reduction == "sum" else per_token.sum() / counted.sum()


class PerRowLossAtIgnoredRows(_Mutant):
    """Reduction "none" reports the loss of label 0 at ignored rows instead of 0."""

    # CE-01 too: test_generic's boundary case reduction="none" of cross_entropy cites its row's clause
    breaks = ("LOSS-CE-06", "LOSS-CE-07", "LOSS-CE-01")

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if reduction != "none":
            return super().cross_entropy(
                logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
            )
        counted = labels != ignore_index
        return super().cross_entropy(  # bug: the ignored rows scored as label 0
            logits, labels.masked_fill(~counted, 0), label_smoothing=label_smoothing, reduction="none"
        )


class LabelsClamped(_Mutant):
    """Clamps out-of-range labels into [0, V) instead of rejecting them."""

    breaks = ("LOSS-CE-08",)

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        counted = labels != ignore_index
        clamped = torch.where(counted, labels.clamp(0, logits.shape[-1] - 1), labels)  # bug
        return super().cross_entropy(
            logits, clamped, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )


class ArgumentsNotChecked(_Mutant):
    """Flattens labels and clamps the smoothing into [0, 1] instead of rejecting them."""

    breaks = ("LOSS-CE-09",)

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        labels = labels.reshape(-1)[: logits.shape[0]]  # bug
        smoothing = min(max(label_smoothing, 0.0), 1.0)  # bug
        return super().cross_entropy(
            logits, labels, ignore_index=ignore_index, label_smoothing=smoothing, reduction=reduction
        )


class LogitsShiftedInPlace(_Mutant):
    """Subtracts each row's maximum from the caller's float32 logits in place (a memory saving)."""

    # CE-01 too: test_generic's layout and state properties of cross_entropy cite its row's clause
    breaks = ("LOSS-CE-10", "LOSS-CE-01")

    def cross_entropy(self, logits, labels, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        if logits.dtype == torch.float32:
            logits.sub_(logits.max(dim=-1, keepdim=True).values)  # bug: writes into the input
        return super().cross_entropy(
            logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )


class LabelsShiftedTwice(_Mutant):
    """Shifts labels that the declared variant (unshifted) says the loss shifts itself: two shifts."""

    breaks = ("LOSS-CLM-01", "LOSS-CLM-02", "LOSS-CLM-03", "LOSS-CLM-04", "LOSS-ACCUM-01")

    def causal_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        return super().causal_lm_loss(logits, losses.shift_labels(labels), num_items_in_batch=num_items_in_batch)


class FirstLogitDropped(_Mutant):
    """Shifts the wrong way: drops the first position's logits and keeps the last."""

    breaks = ("LOSS-CLM-01", "LOSS-CLM-02", "LOSS-CLM-03", "LOSS-CLM-04", "LOSS-ACCUM-01")

    def causal_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        if logits.dim() != 3 or labels.shape != logits.shape[:2]:  # the reference's check, kept
            raise ValueError(f"labels must be (B, L) for (B, L, V) logits, got {tuple(labels.shape)}")
        flat = logits[:, 1:].reshape(-1, logits.shape[-1])  # bug: position t+1 scored against label t+1
        return losses.cross_entropy(flat, labels[:, 1:].reshape(-1), num_items_in_batch=num_items_in_batch)


class MeanOfSequenceMeans(_Mutant):
    """Averages each sequence's tokens, then the sequences."""

    # CLM-02 too: test_generic's production-size case of causal_lm_loss cites LOSS-CLM-02+LOSS-CLM-03
    breaks = ("LOSS-CLM-03", "LOSS-CLM-02")

    def causal_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        if num_items_in_batch is not None:
            return super().causal_lm_loss(logits, labels, num_items_in_batch=num_items_in_batch)
        rows = [
            super(MeanOfSequenceMeans, self).causal_lm_loss(logits[i : i + 1], labels[i : i + 1])
            for i in range(logits.shape[0])
        ]
        return torch.stack(rows).mean()  # bug


class MeanOfMicroBatchMeans(_Mutant):
    """Ignores num_items_in_batch: each micro-batch is averaged over its own tokens."""

    # CLM-01 and MLM-01 too: the generic properties pass num_items_in_batch to both losses
    breaks = ("LOSS-ACCUM-01", "LOSS-CLM-01", "LOSS-CLM-04", "LOSS-MLM-01")

    def causal_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        loss = super().causal_lm_loss(logits, labels)  # bug: the count dropped
        return loss if num_items_in_batch is None else loss / 2  # the trainer's "/ accumulation steps"

    def masked_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        return super().masked_lm_loss(logits, labels)  # bug


class MaskedLossShifted(_Mutant):
    """Reuses the causal loss for the masked-LM loss: every target shifted by one."""

    breaks = ("LOSS-MLM-01", "LOSS-CLM-04")

    def masked_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        return losses.causal_lm_loss(logits, labels, num_items_in_batch=num_items_in_batch)  # bug


class MSEBroadcasts(_Mutant):
    """nn.MSELoss as called on (B, 1) predictions and (B,) targets: a (B, B) grid."""

    breaks = ("LOSS-MSE-01",)

    def mse_loss(self, predictions, targets):
        return ((predictions - targets) ** 2).mean()  # bug: broadcasts


class BCEFromSigmoid(_Mutant):
    """BCE as -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]: log(0) once sigmoid saturates."""

    breaks = ("LOSS-BCE-01",)

    def bce_with_logits_loss(self, logits, targets):
        p = torch.sigmoid(logits)
        return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()  # bug


class IntegerValuedFloatsAsSingleLabel(_Mutant):
    """Infers single-label classification from labels whose values are integers, whatever their dtype."""

    breaks = ("LOSS-SEQ-01",)

    def sequence_classification_loss(self, logits, labels):
        if logits.shape[1] > 1 and labels.is_floating_point() and labels.dim() == 2:
            return losses.cross_entropy(logits, labels.argmax(dim=1))  # bug
        return super().sequence_classification_loss(logits, labels)


class SequenceLabelsReshaped(_Mutant):
    """The sequence losses reshape the labels to the logits' (B, L) whenever the element counts agree."""

    breaks = ("LOSS-CE-09",)

    def causal_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        if labels.numel() == logits.shape[:-1].numel():
            labels = labels.reshape(logits.shape[:-1])  # bug: a transposed or flat batch pairs labels with other rows
        return super().causal_lm_loss(logits, labels, num_items_in_batch=num_items_in_batch)

    def masked_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        if labels.numel() == logits.shape[:-1].numel():
            labels = labels.reshape(logits.shape[:-1])  # bug
        return super().masked_lm_loss(logits, labels, num_items_in_batch=num_items_in_batch)


class SequenceLabelsClamped(_Mutant):
    """The sequence losses clamp counted labels into [0, V) instead of rejecting them."""

    breaks = ("LOSS-CE-08",)

    @staticmethod
    def _clamped(logits, labels):
        return torch.where(labels != -100, labels.clamp(0, logits.shape[-1] - 1), labels)  # bug

    def causal_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        return super().causal_lm_loss(logits, self._clamped(logits, labels), num_items_in_batch=num_items_in_batch)

    def masked_lm_loss(self, logits, labels, *, num_items_in_batch=None):
        return super().masked_lm_loss(logits, self._clamped(logits, labels), num_items_in_batch=num_items_in_batch)


ALL: tuple[type[_Mutant], ...] = (
    LossInBits,
    SoftmaxThenLog,
    HalfNotUpcast,
    IgnoreMaskAfterMean,
    AllIgnoredIsZero,
    SmoothingOverWrongClasses,
    PerRowLossAtIgnoredRows,
    LabelsClamped,
    ArgumentsNotChecked,
    LogitsShiftedInPlace,
    LabelsShiftedTwice,
    FirstLogitDropped,
    MeanOfSequenceMeans,
    MeanOfMicroBatchMeans,
    MaskedLossShifted,
    MSEBroadcasts,
    BCEFromSigmoid,
    IntegerValuedFloatsAsSingleLabel,
    SequenceLabelsReshaped,
    SequenceLabelsClamped,
)
