"""The `torch` adapter: PyTorch's own building blocks, run for real.

Attention is torch.nn.functional.scaled_dot_product_attention, which picks its backend
(flash, memory-efficient or math) by device, dtype and inputs; on CPU and on CUDA's flash and
memory-efficient backends it never materialises the score matrix, so its memory grows
linearly in the sequence length (variant `memory-efficient` of CPLX-ATTN-02). Its causal mask
is aligned top-left (`is_causal=True` builds tril(ones(L, S))), and since PyTorch 2.5 a query
with no allowed key returns zeros. Longformer's
local + global pattern is given to SDPA as a dense boolean mask (exact, quadratic cost);
banded sliding-window and LSH attention have no PyTorch built-in and are left unsupported.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from specformer.conformance.adapters.protocols import Capabilities


class TorchAdapter:
    name = "torch"
    capabilities = Capabilities(
        families=frozenset({"attention"}),
        dtypes=(torch.float32, torch.float64, torch.bfloat16, torch.float16),
        devices=("cpu", "cuda"),
        variants={"CPLX-ATTN-02": "memory-efficient", "ATTN-CAUSAL-02": "top-left", "ATTN-PAD-02": "zeros"},
    )
    expectations_file = Path(__file__).parent / "expectations" / "torch.toml"

    def __init__(self) -> None:
        self.description = f"PyTorch {torch.__version__} built-ins (scaled_dot_product_attention)"

    def attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        *,
        causal: bool = False,
        mask: torch.Tensor | None = None,
        scale: float | None = None,
    ) -> torch.Tensor:
        grouped = query.shape[1] != key.shape[1]
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, is_causal=causal, scale=scale, enable_gqa=grouped
        )

    def local_global_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int, global_mask: torch.Tensor
    ) -> torch.Tensor:
        """Longformer's pattern as a dense boolean mask for SDPA: exact, at O(N^2) cost."""
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        batch, length = global_mask.shape
        positions = torch.arange(length, device=query.device)
        band = (positions.view(-1, 1) - positions.view(1, -1)).abs() <= window
        allowed = band | global_mask.view(batch, 1, length) | global_mask.view(batch, length, 1)
        return F.scaled_dot_product_attention(query, key, value, attn_mask=allowed.unsqueeze(1))
