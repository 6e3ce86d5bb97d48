"""One-operation adapters in NumPy for four families where no third-party library that is not
already built into specformer installs offline here (heads, generation, objectives) and for
vision's patch embedding with the third-party `einops` package.

Written from docs/adapters.md alone. Run one with, e.g.:
    PYTHONPATH=examples specformer run --adapter small_numpy_families:NumpyGeneration --family generation \
        --profile quick --no-bench
Everything they leave out is "unsupported".
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from specformer.conformance.adapters.protocols import Capabilities


class NumpyHeads:
    """heads.lm_logits: hidden (B, L, D) times the tied embedding (V, D), transposed."""

    name = "numpy-heads"
    capabilities = Capabilities(families=frozenset({"heads"}), dtypes=(torch.float32, torch.float64))

    def lm_logits(self, hidden: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(hidden.detach().numpy() @ embedding.detach().numpy().T)  # (B, L, V)


class NumpyGeneration:
    """generation.repetition_penalty, CTRL's rule, counting the prompt and the generated tokens."""

    name = "numpy-generation"
    capabilities = Capabilities(families=frozenset({"generation"}), dtypes=(torch.float32,))

    def repetition_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        penalty: float,
        *,
        prompt_length: int,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if not penalty > 0 or not np.isfinite(penalty):
            raise ValueError(f"penalty must be a finite number > 0, got {penalty}")
        x = logits.detach().numpy().copy()  # (B, V)
        ids = input_ids.detach().numpy()  # (B, L)
        real = np.ones_like(ids, dtype=bool) if attention_mask is None else attention_mask.numpy().astype(bool)
        for row in range(x.shape[0]):
            seen = np.unique(ids[row][real[row]])  # once per distinct token
            values = x[row, seen]
            x[row, seen] = np.where(values > 0, values / penalty, values * penalty)
        return torch.from_numpy(x)


class NumpyObjectives:
    """objectives.shift_tokens_right: decoder inputs from labels."""

    name = "numpy-objectives"
    capabilities = Capabilities(families=frozenset({"objectives"}))

    def shift_tokens_right(
        self, labels: torch.Tensor, *, pad_token_id: int | None, decoder_start_token_id: int | None
    ) -> torch.Tensor:
        for name, value in (("pad_token_id", pad_token_id), ("decoder_start_token_id", decoder_start_token_id)):
            if value is None or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        y = labels.detach().numpy()  # (B, L)
        shifted = np.concatenate([np.full((y.shape[0], 1), decoder_start_token_id), y[:, :-1]], axis=1)
        return torch.from_numpy(np.where(shifted == -100, pad_token_id, shifted).astype(np.int64))


class EinopsVision:
    """vision.patch_embedding with einops: cut P x P patches, flatten, project (a Conv2d of stride P)."""

    name = "einops-vision"
    capabilities = Capabilities(families=frozenset({"vision"}), dtypes=(torch.float32, torch.float64))

    def patch_embedding(self, images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        size = weight.shape[-1]
        if images.shape[-1] % size or images.shape[-2] % size:
            raise ValueError(f"images: height and width must be multiples of the patch size {size}")
        patches = rearrange(images, "b c (h p) (w q) -> b (h w) (c p q)", p=size, q=size)  # (B, N, C*P*P)
        return patches @ rearrange(weight, "d c p q -> (c p q) d") + bias  # (B, N, D)
