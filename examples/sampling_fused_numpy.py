"""A sampler that offers only a fused `sample` (and greedy), without min-p: NumPy code, no library.

A self-contained adapter around NumPy (no standalone sampling library was tried), written from
docs/adapters.md alone.

Run it:  PYTHONPATH=examples specformer run --adapter sampling_fused_numpy:FusedSampler --family sampling \
             --profile quick --no-bench
What it shows: the clauses a fused `sample` can show (SAMP-DRAW-*, SAMP-EDGE-*) are tested; the
separate processors are "unsupported"; tests that need min-p or min_tokens_to_keep are
"unsupported" (Capabilities.parameters), and no test of another clause hands it a min_p.
"""

from __future__ import annotations

import numpy as np
import torch

from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.sampling import SamplingParams


class FusedSampler:
    name = "numpy-fused-sampler"
    description = "temperature, top-k and top-p in one NumPy function; no min-p"
    capabilities = Capabilities(
        families=frozenset({"sampling"}),
        dtypes=(torch.float32, torch.float64),
        # The order it applies them in (spec/sampling.md, SAMP-ORDER-01's variants).
        variants={"SAMP-ORDER-01": "transformers", "SAMP-TOPK-02": "keep-ties"},
        parameters={"sample": frozenset({"temperature", "top_k", "top_p"})},
    )

    @staticmethod
    def _checked(logits: torch.Tensor) -> np.ndarray:
        x = logits.detach().cpu().numpy().astype(np.float64)  # (B, V)
        if np.isnan(x).any() or np.isposinf(x).any():
            raise ValueError("logits must not contain NaN or +inf")
        return x

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.argmax(self._checked(logits), axis=-1)).to(torch.int64)

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        if params.min_p > 0.0 or params.min_tokens_to_keep != 1:
            raise ValueError("min_p and min_tokens_to_keep are not supported by this sampler")
        params.validate()  # ValueErrors naming the parameter and its range
        x = self._checked(logits) / params.temperature  # (B, V)
        if params.top_k is not None:
            k = min(params.top_k, x.shape[-1])
            kth = np.sort(x, axis=-1)[:, -k][:, None]  # (B, 1): ties with the k-th are kept
            x = np.where(x < kth, -np.inf, x)
        if params.top_p < 1.0:
            with np.errstate(invalid="ignore"):
                probs = np.exp(x - x.max(axis=-1, keepdims=True))
                probs /= probs.sum(axis=-1, keepdims=True)
            order = np.argsort(-probs, axis=-1, kind="stable")
            sorted_probs = np.take_along_axis(probs, order, axis=-1)
            before = np.cumsum(sorted_probs, axis=-1) - sorted_probs  # mass strictly before each token
            drop_sorted = before >= params.top_p  # keep the token that crosses top_p
            drop = np.zeros_like(drop_sorted)
            np.put_along_axis(drop, order, drop_sorted, axis=-1)
            x = np.where(drop, -np.inf, x)
        if np.isneginf(x).all(axis=-1).any():
            raise ValueError("logits: a row has no token left to draw")
        probs = np.exp(x - x.max(axis=-1, keepdims=True))
        probs = torch.from_numpy(probs / probs.sum(axis=-1, keepdims=True))
        # All randomness from the given generator (SAMP-DRAW-03).
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(torch.int64)
