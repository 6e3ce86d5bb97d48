"""The `torch` adapter: PyTorch's own building blocks, run for real.

Attention is torch.nn.functional.scaled_dot_product_attention, which picks its backend
(flash, memory-efficient or math) by device, dtype and inputs; on CPU and on CUDA's flash and
memory-efficient backends it never materialises the score matrix, so its memory grows
linearly in the sequence length (variant `memory-efficient` of CPLX-ATTN-02). Its causal mask
is aligned top-left (`is_causal=True` builds tril(ones(L, S))), and since PyTorch 2.5 a query
with no allowed key returns zeros.

Longformer's local + global pattern goes to FlexAttention (`flex_attention` with a block mask
from `create_block_mask`), called as a user calls it without `torch.compile`: on the CPU that
is its unfused eager path, which materialises the scores (quadratic; compiled, FlexAttention
skips the empty blocks, but compiling costs 6 to 40 s per shape on this project's CPU, so the
suite does not). One FlexAttention call computes every row with the same projections: variant
`shared` of ATTN-LOCAL-05 (the Longformer block itself is left to the `hf` adapter).

Attention blocks are `torch.nn.MultiheadAttention` (batch_first, in evaluation mode, the
suite's weights copied into `in_proj_weight` or, for a context of another width, the separate
`q/k/v_proj_weight`), with its key padding mask (True = ignore, the inverse of the suite's)
and a boolean causal mask. Banded sliding-window and LSH attention have no PyTorch built-in
and are left unsupported.

The kv_cache and generation families are a second, independent implementation in plain PyTorch,
written in the style of gpt-fast (torch_kv_cache.py: a static cache written with index_copy_;
torch_generation.py: prefill, decode_one_token, exponential-race sampling), with beam search
(transformers' vectorised algorithm, beams as rows of the static cache) and stop strings (vLLM's
tail search) added in the same style.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from specformer.conformance.adapters.protocols import Capabilities
from specformer.conformance.adapters.torch_frontends import TorchFrontends
from specformer.conformance.adapters.torch_generation import GENERATE_PARAMETERS, TorchGeneration
from specformer.conformance.adapters.torch_kv_cache import TorchKVCache
from specformer.conformance.adapters.torch_losses import TorchLosses
from specformer.conformance.adapters.torch_models import TorchModels
from specformer.reference.attention import MultiHeadWeights


class TorchAdapter(TorchLosses, TorchModels, TorchFrontends, TorchKVCache, TorchGeneration):
    name = "torch"
    capabilities = Capabilities(
        families=frozenset({"attention", "losses", "models", "vision", "audio", "kv_cache", "generation"}),
        dtypes=(torch.float32, torch.float64, torch.bfloat16, torch.float16),
        devices=("cpu", "cuda"),
        variants={
            "CPLX-ATTN-02": "memory-efficient",
            "ATTN-CAUSAL-02": "top-left",
            "ATTN-PAD-02": "zeros",
            "ATTN-LOCAL-05": "shared",
            "LOSS-CE-03": "native",
            "LOSS-CLM-01": "pre-shifted",
        },
        parameters={"generate": GENERATE_PARAMETERS},  # beam search and stop strings (torch_generation)
    )
    expectations_file = Path(__file__).parent / "expectations" / "torch.toml"

    def __init__(self) -> None:
        self.description = (
            f"PyTorch {torch.__version__} built-ins: scaled_dot_product_attention, FlexAttention (eager), "
            "nn.MultiheadAttention; F.cross_entropy and the other losses as nanoGPT calls them; "
            "nn.TransformerEncoderLayer and nn.TransformerDecoderLayer for BERT, GPT-2 and BART, T5 from F.rms_norm "
            "and SDPA; nn.Conv2d patch embedding, F.interpolate, torch.stft; a gpt-fast style static KV "
            "cache and generation loop (Llama and GPT-2, beam search, stop strings)"
        )

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
        """Longformer's pattern as a FlexAttention block mask."""
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        batch, length = global_mask.shape
        flags = global_mask.to(query.device)

        def longformer(b, h, q_index, kv_index):  # FlexAttention's mask_mod signature
            return ((q_index - kv_index).abs() <= window) | flags[b, kv_index] | flags[b, q_index]

        block_mask = create_block_mask(longformer, batch, None, length, length, device=query.device.type)
        with warnings.catch_warnings():  # the eager path warns that it is unfused; that is the point here
            warnings.simplefilter("ignore")
            return flex_attention(query, key, value, block_mask=block_mask)

    def multi_head_attention(
        self,
        hidden: torch.Tensor,
        weights: MultiHeadWeights,
        *,
        context: torch.Tensor | None = None,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        embed, kv_dim = weights.embed_dim, weights.context_dim
        module = torch.nn.MultiheadAttention(
            embed, weights.heads, dropout=weights.dropout, batch_first=True, kdim=kv_dim, vdim=kv_dim
        )
        module = module.to(hidden.dtype).eval()
        with torch.no_grad():
            if module._qkv_same_embed_dim:
                module.in_proj_weight.copy_(torch.cat([weights.query, weights.key, weights.value]))
            else:
                module.q_proj_weight.copy_(weights.query)
                module.k_proj_weight.copy_(weights.key)
                module.v_proj_weight.copy_(weights.value)
            module.in_proj_bias.copy_(torch.cat([weights.query_bias, weights.key_bias, weights.value_bias]))
            module.out_proj.weight.copy_(weights.output)
            module.out_proj.bias.copy_(weights.output_bias)
            source = hidden if context is None else context
            attn_mask = None
            if causal:  # nn.MultiheadAttention's boolean masks say where NOT to attend
                length = hidden.shape[1]
                attn_mask = ~torch.ones(length, length, dtype=torch.bool, device=hidden.device).tril()
            ignore = None if key_padding_mask is None else ~key_padding_mask
            output, _ = module(hidden, source, source, key_padding_mask=ignore, attn_mask=attn_mask, need_weights=False)
        return output


class TorchSDPABackend(TorchAdapter):
    """`torch`, with scaled_dot_product_attention pinned to one backend (`sdpa_kernel`).

    The plain `torch` adapter lets SDPA choose; this one shows what each backend computes: on
    the CPU `math` (the reference code of SDPA's docstring, which materialises the scores) and
    `flash` (the CPU flash kernel); on CUDA also `efficient` and `cudnn`. A backend that cannot
    run some inputs raises ("No available kernel"), and the suite reports those clauses as errors
    for that backend: the CPU flash kernel of torch 2.13, for one, needs the value head dim to
    equal the query's, which most of the attention suite's generated cases do not have.
    `torch-math` is a built-in name; the others load as
    `specformer.conformance.adapters.torch_builtin:torch_flash` (and so on).
    """

    BACKENDS: ClassVar[dict[str, str]] = {
        "math": "MATH",
        "flash": "FLASH_ATTENTION",
        "efficient": "EFFICIENT_ATTENTION",
        "cudnn": "CUDNN_ATTENTION",
    }

    def __init__(self, backend: str) -> None:
        super().__init__()
        if backend not in self.BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(self.BACKENDS)}, got {backend!r}")
        from torch.nn.attention import SDPBackend

        self.backend = getattr(SDPBackend, self.BACKENDS[backend])
        self.name = f"torch-{backend}"
        memory = "materialised" if backend == "math" else "memory-efficient"
        self.capabilities = replace(
            TorchAdapter.capabilities, variants={**TorchAdapter.capabilities.variants, "CPLX-ATTN-02": memory}
        )
        self.description = f"PyTorch {torch.__version__} scaled_dot_product_attention, {backend} backend only"

    def attention(self, query, key, value, *, causal=False, mask=None, scale=None):  # type: ignore[override]
        from torch.nn.attention import sdpa_kernel

        with sdpa_kernel(self.backend):
            return super().attention(query, key, value, causal=causal, mask=mask, scale=scale)


def torch_math() -> TorchSDPABackend:
    return TorchSDPABackend("math")


def torch_flash() -> TorchSDPABackend:
    return TorchSDPABackend("flash")


def torch_efficient() -> TorchSDPABackend:
    return TorchSDPABackend("efficient")


def torch_cudnn() -> TorchSDPABackend:
    return TorchSDPABackend("cudnn")
