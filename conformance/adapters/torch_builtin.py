"""The `torch` adapter: PyTorch's own building blocks, run for real.

Attention is torch.nn.functional.scaled_dot_product_attention, which picks its backend
(flash, memory-efficient or math) by device, dtype and inputs; on CPU and on CUDA's flash and
memory-efficient backends it never materialises the score matrix, so its memory grows
linearly in the sequence length (variant `memory-efficient` of CPLX-ATTN-02). Its causal mask
is aligned top-left (`is_causal=True` builds tril(ones(L, S))), and since PyTorch 2.5 a query
with no allowed key returns zeros. Sliding-window
and LSH attention have no PyTorch built-in and are left unsupported here.
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
