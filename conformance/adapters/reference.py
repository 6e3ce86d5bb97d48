"""The `reference` adapter: specformer's own reference implementations, default variants.

It is what every other adapter is compared with, so it must pass the whole suite; and the
mutants in conformance/mutants subclass it to break one thing each.
"""

from __future__ import annotations

from pathlib import Path

import torch

from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference import attention, embeddings, local, lsh, sampling
from specformer.reference.attention import MultiHeadWeights
from specformer.reference.embeddings import BertEmbeddingWeights
from specformer.reference.local import LongformerWeights
from specformer.reference.sampling import SamplingParams


class ReferenceAdapter:
    name = "reference"
    description = "specformer.reference: the spec's reference implementations (default variants)"
    capabilities = Capabilities(
        families=frozenset({"sampling", "attention", "embeddings"}),
        dtypes=(torch.float32, torch.float64),
        devices=("cpu", "cuda"),
        variants={
            "SAMP-TOPK-02": "keep-ties",
            "SAMP-TOPP-02": "strict",
            "SAMP-ORDER-01": "transformers",
            "CPLX-ATTN-02": "materialised",
            "ATTN-CAUSAL-02": "bottom-right",
            "ATTN-PAD-02": "zeros",
            "ATTN-LOCAL-05": "separate",
            "EMB-SIN-01": "interleaved",
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

    def lsh_buckets(self, vectors: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
        return lsh.lsh_buckets(vectors, rotations)

    def multi_head_attention(
        self,
        hidden: torch.Tensor,
        weights: MultiHeadWeights,
        *,
        context: torch.Tensor | None = None,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return attention.multi_head_attention(
            hidden, weights, context=context, causal=causal, key_padding_mask=key_padding_mask
        )

    def longformer_attention(
        self,
        hidden: torch.Tensor,
        weights: LongformerWeights,
        *,
        window: int,
        global_mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return local.longformer_self_attention(
            hidden,
            weights,
            window=window,
            global_mask=global_mask,
            padding_mask=padding_mask,
            global_projections=self.capabilities.variants["ATTN-LOCAL-05"],
        )

    def absolute_position_embedding(
        self, token_ids: torch.Tensor, token_table: torch.Tensor, position_table: torch.Tensor
    ) -> torch.Tensor:
        return embeddings.absolute_position_embedding(token_ids, token_table, position_table)

    def bert_embedding(
        self, token_ids: torch.Tensor, token_type_ids: torch.Tensor | None, weights: BertEmbeddingWeights
    ) -> torch.Tensor:
        return embeddings.bert_embedding(token_ids, token_type_ids, weights)

    def sinusoidal_position_encoding(self, length: int, dim: int) -> torch.Tensor:
        layout = self.capabilities.variants["EMB-SIN-01"]
        return embeddings.sinusoidal_position_encoding(length, dim, layout=layout, dtype=torch.float32)

    def axial_position_encoding(
        self, first_axis: torch.Tensor, second_axis: torch.Tensor, length: int, hidden_size: int
    ) -> torch.Tensor:
        return embeddings.axial_position_encoding(first_axis, second_axis, length, hidden_size)

    def axial_parameter_count(self, shape: tuple[int, int], dims: tuple[int, int]) -> int:
        return embeddings.axial_parameter_count(shape, dims)
