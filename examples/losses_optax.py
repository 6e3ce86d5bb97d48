"""Losses from optax (JAX's loss library): cross-entropy with integer labels, label smoothing,
squared error and sigmoid binary cross-entropy, run on the CPU by jaxlib.

Written from docs/adapters.md alone. Run it:
    PYTHONPATH=examples specformer run --adapter losses_optax:OptaxLosses --family losses --profile quick --no-bench

The adapter only converts tensors and reduces: every per-row loss is optax's. JAX computes in
float32 unless x64 is switched on (a process-wide flag), so the adapter declares float32 only.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import torch

from specformer.conformance.adapters.protocols import Capabilities


def _jax(tensor: torch.Tensor) -> jnp.ndarray:
    if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16; JAX has
        return jnp.asarray(tensor.detach().float().cpu().numpy(), dtype=jnp.bfloat16)
    return jnp.asarray(tensor.detach().cpu().numpy())


def _torch(array: jnp.ndarray) -> torch.Tensor:
    if array.dtype == jnp.bfloat16:
        return torch.from_numpy(np.array(array, dtype=np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(array))


class OptaxLosses:
    name = "optax"
    description = f"optax {optax.__version__} losses on jax (CPU, float32)"
    # optax keeps the logits' dtype (float16 in, float16 out): LOSS-CE-03's "native" variant.
    capabilities = Capabilities(
        families=frozenset({"losses"}), dtypes=(torch.float32,), variants={"LOSS-CE-03": "native"}
    )
    # What the suite found in optax itself (labels out of range, the wording of a shape error).
    expectations_file = Path(__file__).with_name("losses_optax.toml")

    def _per_row(self, logits: torch.Tensor, labels: torch.Tensor, ignore_index: int, label_smoothing: float):
        """(N, V) or (B, L, V) logits -> optax's per-row losses (0 where ignored) and the kept mask."""
        if labels.shape != logits.shape[:-1]:
            raise ValueError(f"labels must have shape {tuple(logits.shape[:-1])}, got {tuple(labels.shape)}")
        x, y = _jax(logits.reshape(-1, logits.shape[-1])), _jax(labels.reshape(-1))
        kept = y != ignore_index
        safe = jnp.where(kept, y, 0)
        if label_smoothing > 0:
            targets = optax.smooth_labels(jax_one_hot(safe, x.shape[-1]), label_smoothing)
            rows = optax.softmax_cross_entropy(x, targets)
        else:
            rows = optax.softmax_cross_entropy_with_integer_labels(x, safe)
        return jnp.where(kept, rows, 0.0), kept

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
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        rows, kept = self._per_row(logits, labels, ignore_index, label_smoothing)
        if reduction == "none":
            return _torch(rows).reshape(labels.shape)
        total = rows.sum()
        return _torch(total if reduction == "sum" else total / kept.sum())

    def _token_loss(self, logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch: int | None):
        if num_items_in_batch is not None and num_items_in_batch < 1:
            raise ValueError(f"num_items_in_batch must be an int >= 1, got {num_items_in_batch}")
        rows, kept = self._per_row(logits, labels, -100, 0.0)
        return _torch(rows.sum() / (kept.sum() if num_items_in_batch is None else num_items_in_batch))

    def causal_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        # labels are the input ids (the default variant): position t predicts labels[:, t + 1]
        return self._token_loss(logits[:, :-1], labels[:, 1:], num_items_in_batch)

    def masked_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor:
        return self._token_loss(logits, labels, num_items_in_batch)

    def mse_loss(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return _torch(optax.squared_error(_jax(predictions).squeeze(), _jax(targets).squeeze()).mean())

    def bce_with_logits_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return _torch(optax.sigmoid_binary_cross_entropy(_jax(logits), _jax(targets)).mean())

    def sequence_classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if logits.shape[-1] == 1:  # regression
            return self.mse_loss(logits, labels)
        if labels.dtype in (torch.int32, torch.int64):  # single-label classification
            return self.cross_entropy(logits, labels)
        return self.bce_with_logits_loss(logits, labels)  # multi-label


def jax_one_hot(labels: jnp.ndarray, classes: int) -> jnp.ndarray:
    return (labels[:, None] == jnp.arange(classes)[None, :]).astype(jnp.float32)
