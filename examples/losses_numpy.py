"""Three losses in NumPy: cross-entropy (ignore_index, label smoothing, reductions), MSE and BCE
with logits. No third-party loss library installs offline here without a framework specformer
already builds in (PyTorch, transformers), so this is self-contained NumPy code.

Run it:  PYTHONPATH=examples specformer run --adapter losses_numpy:NumpyLosses --family losses \
             --profile quick --no-bench
"""

from __future__ import annotations

import numpy as np
import torch

from specformer.conformance.adapters.protocols import Capabilities


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class NumpyLosses:
    name = "numpy-losses"
    capabilities = Capabilities(families=frozenset({"losses"}), dtypes=(torch.float32, torch.float64))

    def cross_entropy(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> torch.Tensor:
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        x = logits.detach().cpu().numpy()
        x = x.reshape(-1, x.shape[-1])  # (N, V)
        y = labels.detach().cpu().numpy().reshape(-1)  # (N,)
        kept = y != ignore_index
        if (y[kept] < 0).any() or (y[kept] >= x.shape[-1]).any():
            raise ValueError(f"labels must be in [0, {x.shape[-1]}) or ignore_index")
        logp = _log_softmax(x)
        picked = np.where(kept, -logp[np.arange(len(y)), np.where(kept, y, 0)], 0.0)
        smooth = np.where(kept, -logp.mean(axis=-1), 0.0)
        per_row = ((1 - label_smoothing) * picked + label_smoothing * smooth).astype(x.dtype)
        if reduction == "none":
            return torch.from_numpy(per_row.reshape(labels.shape))
        total = per_row.sum()
        value = total if reduction == "sum" else total / kept.sum()
        return torch.tensor(value, dtype=logits.dtype)

    def mse_loss(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        diff = predictions.detach().numpy() - targets.detach().numpy()
        return torch.tensor((diff * diff).mean(), dtype=predictions.dtype)

    def bce_with_logits_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x, t = logits.detach().numpy(), targets.detach().numpy()
        # max(x, 0) - x t + log(1 + exp(-|x|)): stable for large |x|
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        return torch.tensor(loss.mean(), dtype=logits.dtype)
