"""A third-party adapter in about 20 lines: NumPy greedy selection and top-k.

Run it with:  PYTHONPATH=examples specformer run --adapter my_sampler:NumpySampler
Operations it leaves out (top-p, min-p, draws, ...) are reported "unsupported", never "pass".
"""

import numpy as np
import torch

from specformer.conformance.adapters.protocols import Capabilities


class NumpySampler:
    name = "numpy-sampler"
    capabilities = Capabilities(
        families=frozenset({"sampling"}), dtypes=(torch.float32,), variants={"SAMP-TOPK-02": "keep-ties"}
    )
    expectations_file = None  # or a TOML file of documented deviations

    @staticmethod
    def _checked(logits: torch.Tensor) -> np.ndarray:
        x = logits.numpy()
        if np.isnan(x).any() or np.isposinf(x).any():
            raise ValueError("logits contain NaN or +inf")
        return x

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.argmax(self._checked(logits), axis=-1))

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        x = self._checked(logits)
        kth = np.sort(x, axis=-1)[:, -min(top_k, x.shape[-1])][:, None]  # (B, 1)
        return torch.from_numpy(np.where(x < kth, -np.inf, x).astype(x.dtype))
