"""The `reference` adapter: specformer's own reference implementations, default variants.

It is what every other adapter is compared with, so it must pass the whole suite; and the
mutants in conformance/mutants subclass it to break one thing each.
"""

from __future__ import annotations

from pathlib import Path

import torch

from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference import attention, local, lsh, sampling
from specformer.reference.sampling import SamplingParams


class ReferenceAdapter:
    name = "reference"
    description = "specformer.reference: the spec's reference implementations (default variants)"
    capabilities = Capabilities(
        families=frozenset({"sampling", "attention"}),
        dtypes=(torch.float32, torch.float64),
        devices=("cpu", "cuda"),
        variants={
            "SAMP-TOPK-02": "keep-ties",
            "SAMP-TOPP-02": "strict",
            "SAMP-ORDER-01": "transformers",
            "CPLX-ATTN-02": "materialised",
            "ATTN-CAUSAL-02": "bottom-right",
            "ATTN-PAD-02": "zeros",
        },
    )
    expectations_file = Path(__file__).parent / "expectations" / "reference.toml"

    # The variant arguments of the reference functions, from the declaration above.
    @property
    def _variant_kwargs(self) -> dict[str, str]:
        variants = self.capabilities.variants
        return {
            "order": variants["SAMP-ORDER-01"],
            "top_k_ties": variants["SAMP-TOPK-02"],
            "top_p_boundary": variants["SAMP-TOPP-02"],
        }

    def temperature(self, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        return sampling.apply_temperature(logits, temperature)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        return sampling.top_k_filter(logits, top_k, top_k_ties=self._variant_kwargs["top_k_ties"])

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        return sampling.top_p_filter(
            logits,
            top_p,
            min_tokens_to_keep=min_tokens_to_keep,
            top_p_boundary=self._variant_kwargs["top_p_boundary"],
        )

    def min_p(self, logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        return sampling.min_p_filter(logits, min_p, min_tokens_to_keep=min_tokens_to_keep)

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        return sampling.process(logits, params, **self._variant_kwargs)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        return sampling.greedy(logits)

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        return sampling.sample(logits, params, generator, **self._variant_kwargs)

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
        variants = self.capabilities.variants
        return attention.scaled_dot_product_attention(
            query,
            key,
            value,
            causal=causal,
            mask=mask,
            scale=scale,
            causal_alignment=variants["ATTN-CAUSAL-02"],
            empty_rows=variants["ATTN-PAD-02"],
        )

    def sliding_window_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int
    ) -> torch.Tensor:
        return local.sliding_window_attention(query, key, value, window=window)

    def local_global_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int, global_mask: torch.Tensor
    ) -> torch.Tensor:
        return local.local_global_attention(query, key, value, window=window, global_mask=global_mask)

    def lsh_attention(
        self, query_key: torch.Tensor, value: torch.Tensor, *, rotations: torch.Tensor, chunk_length: int
    ) -> torch.Tensor:
        return lsh.lsh_attention(query_key, value, rotations=rotations, chunk_length=chunk_length)
