"""Reference training losses: cross-entropy, the causal and masked LM losses, MSE and BCE.

Shapes: N tokens (rows), V vocabulary (classes), B batch, L sequence length, C labels.

- Cross-entropy of one row is logsumexp(logits) - logits[label]: the log-softmax form, never
  log(softmax(...)), which underflows to log(0) = -inf once a logit is ~100 below the largest.
- Positions labelled `ignore_index` (-100) contribute nothing; "mean" divides by the number of
  counted positions, and an explicit `num_items_in_batch` replaces that count (sum / N), which is
  what makes micro-batch losses add up to the whole batch's loss under gradient accumulation.
- float16 and bfloat16 logits are upcast to float32 before any arithmetic (transformers'
  `logits.float()`): a float16 logsumexp over 50k entries loses the loss in rounding.
- The causal-LM loss shifts: logits at position t predict labels[t + 1]; the last logit has no
  target. Labels are given unshifted (transformers) or pre-shifted (nanoGPT, Megatron).

Left out: class weights, reductions other than mean/sum/none, z-loss, chunked or fused kernels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
EMPTY_MEAN_VARIANTS = ("nan", "zero")  # LOSS-CE-05: the mean over zero counted tokens
REDUCTIONS = ("mean", "sum", "none")
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16/bfloat16 -> float32; wider dtypes are kept (LOSS-CE-03).

    >>> compute_dtype(torch.float16), compute_dtype(torch.float64)
    (torch.float32, torch.float64)
    """
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def check_labels(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> None:
    """(N, V) logits and (N,) integer labels in [0, V) or equal to ignore_index (LOSS-CE-08, LOSS-CE-09)."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, V), got shape {tuple(logits.shape)}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must have shape ({logits.shape[0]},) to match logits, got {tuple(labels.shape)}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
    counted = labels[labels != ignore_index]
    vocab = logits.shape[1]
    if counted.numel() and (int(counted.min()) < 0 or int(counted.max()) >= vocab):
        raise ValueError(
            f"labels must lie in [0, {vocab - 1}] or equal ignore_index={ignore_index}; "
            f"got values in [{int(counted.min())}, {int(counted.max())}]"
        )


def cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = IGNORE_INDEX,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    num_items_in_batch: int | None = None,
    empty: str = "nan",
) -> torch.Tensor:
    """Cross-entropy from logits; (N, V), (N,) -> () or (N,) for reduction "none".

    Clauses: LOSS-CE-10, LOSS-CE-01, LOSS-CE-02, LOSS-CE-03, LOSS-CE-04, LOSS-CE-05, LOSS-CE-06, LOSS-CE-07,
    LOSS-CE-08, LOSS-CE-09.

    Per row: (1 - eps) * (lse - x[y]) + eps * (lse - mean(x)), torch's label smoothing (the
    smoothed target puts eps / V on every class, the true one included).

    >>> float(cross_entropy(torch.zeros(1, 2, dtype=torch.float64), torch.tensor([1])))  # log 2
    0.6931471805599453
    """
    check_labels(logits, labels, ignore_index)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if empty not in EMPTY_MEAN_VARIANTS:
        raise ValueError(f"empty must be one of {EMPTY_MEAN_VARIANTS}, got {empty!r}")
    if num_items_in_batch is not None and num_items_in_batch < 1:
        raise ValueError(f"num_items_in_batch must be >= 1, got {num_items_in_batch}")
    x = logits.to(compute_dtype(logits.dtype))  # (N, V)
    counted = labels != ignore_index  # (N,)
    safe = labels.masked_fill(~counted, 0).long()  # any valid index; these rows are zeroed below
    lse = torch.logsumexp(x, dim=-1)  # (N,)
    nll = lse - x.gather(-1, safe[:, None]).squeeze(-1)  # (N,)
    # subtle: the smoothing term is -mean_v log p_v = lse - mean(x), not a second logsumexp
    per_token = (1 - label_smoothing) * nll + label_smoothing * (lse - x.mean(dim=-1)) if label_smoothing else nll
    per_token = per_token.masked_fill(~counted, 0.0)  # mask first, then reduce (LOSS-CE-04)
    if reduction == "none":
        return per_token
    total = per_token.sum()
    if reduction == "sum":
        return total
    if num_items_in_batch is not None:
        return total / num_items_in_batch
    count = int(counted.sum())
    if count == 0:
        return total * (math.nan if empty == "nan" else 0.0)
    return total / count


def shift_labels(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """labels[:, 1:] padded with ignore_index at the end: the target of position t is labels[t + 1].

    >>> shift_labels(torch.tensor([[5, 6, 7]])).tolist()
    [[6, 7, -100]]
    """
    return F.pad(labels[..., 1:], (0, 1), value=ignore_index)


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_items_in_batch: int | None = None,
    ignore_index: int = IGNORE_INDEX,
    labels_shifted: bool = False,
    empty: str = "nan",
) -> torch.Tensor:
    """Next-token loss; (B, L, V) logits, (B, L) labels -> ().

    Clauses: LOSS-CLM-01, LOSS-CLM-02, LOSS-CLM-03, LOSS-CLM-04, LOSS-ACCUM-01.

    With labels_shifted=False (transformers) the labels are the input ids and this function
    shifts them; with True (nanoGPT's `targets`) they already hold the token after each position.
    The mean is over every counted token of the batch, not a mean of per-sequence means.
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(
            f"logits must be (B, L, V) and labels (B, L); got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    targets = labels if labels_shifted else shift_labels(labels, ignore_index)  # (B, L)
    return cross_entropy(
        logits.reshape(-1, logits.shape[-1]),  # (B*L, V)
        targets.reshape(-1),
        ignore_index=ignore_index,
        num_items_in_batch=num_items_in_batch,
        empty=empty,
    )


def masked_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_items_in_batch: int | None = None,
    ignore_index: int = IGNORE_INDEX,
    empty: str = "nan",
) -> torch.Tensor:
    """Masked-LM loss: no shift, the labels are -100 except at the masked positions; (B, L, V) -> ().

    Clauses: LOSS-MLM-01.
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(
            f"logits must be (B, L, V) and labels (B, L); got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    return cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=ignore_index,
        num_items_in_batch=num_items_in_batch,
        empty=empty,
    )


def mse_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """mean((predictions - targets)^2) over matching elements (regression heads).

    Clauses: LOSS-MSE-01.

    A (B, 1) prediction against (B,) targets is squeezed, never broadcast to (B, B); any other
    shape mismatch is an error.
    """
    if predictions.shape != targets.shape:
        if predictions.dim() == targets.dim() + 1 and predictions.shape[-1] == 1:
            predictions = predictions.squeeze(-1)
        elif targets.dim() == predictions.dim() + 1 and targets.shape[-1] == 1:
            targets = targets.squeeze(-1)
        if predictions.shape != targets.shape:
            raise ValueError(
                f"targets must have the shape of predictions (up to a trailing 1); "
                f"got {tuple(predictions.shape)} and {tuple(targets.shape)}"
            )
    dtype = compute_dtype(predictions.dtype)
    return ((predictions.to(dtype) - targets.to(dtype)) ** 2).mean()


def bce_with_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy from logits, mean over every (B, C) entry (multi-label heads).

    Clauses: LOSS-BCE-01.

    softplus(x) - x*y = max(x, 0) - x*y + log1p(exp(-|x|)): finite for |x| = 1e4, where
    -log(sigmoid(x)) is log(0).
    """
    if logits.shape != targets.shape:
        raise ValueError(f"targets must have the shape of logits; got {tuple(targets.shape)} and {tuple(logits.shape)}")
    if targets.numel() and (float(targets.min()) < 0 or float(targets.max()) > 1):
        raise ValueError(f"targets must lie in [0, 1], got [{float(targets.min())}, {float(targets.max())}]")
    x, y = logits.to(compute_dtype(logits.dtype)), targets.to(compute_dtype(logits.dtype))
    return (x.clamp(min=0) - x * y + torch.log1p(torch.exp(-x.abs()))).mean()


def problem_type(num_labels: int, labels: torch.Tensor) -> str:
    """transformers' inference of the sequence-classification problem (LOSS-SEQ-01).

    >>> problem_type(1, torch.tensor([0.5])), problem_type(3, torch.tensor([2])), problem_type(3, torch.ones(1, 3))
    ('regression', 'single_label_classification', 'multi_label_classification')
    """
    if num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")
    if num_labels == 1:
        return "regression"
    if labels.dtype in (torch.int64, torch.int32):
        return "single_label_classification"
    return "multi_label_classification"


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The loss of a (B, C) classification head, by problem_type(C, labels).

    Clauses: LOSS-SEQ-01.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (B, C), got shape {tuple(logits.shape)}")
    kind = problem_type(logits.shape[1], labels)
    if kind == "regression":
        return mse_loss(logits, labels)
    if kind == "single_label_classification":
        return cross_entropy(logits, labels)
    return bce_with_logits(logits, labels)
