"""The `reference` adapter: specformer's own reference implementations, default variants.

It is what every other adapter is compared with, so it must pass the whole suite; and the
mutants in conformance/mutants subclass it to break one thing each.
"""

from __future__ import annotations

from pathlib import Path

import torch

from specformer.conformance.adapters.protocols import FAMILY_OPERATIONS, Capabilities
from specformer.conformance.adapters.reference_audio import ReferenceAudio
from specformer.conformance.adapters.reference_generation import ReferenceGeneration
from specformer.conformance.adapters.reference_heads import ReferenceHeads
from specformer.conformance.adapters.reference_kv_cache import ReferenceKVCache
from specformer.conformance.adapters.reference_losses import ReferenceLosses
from specformer.conformance.adapters.reference_models import ReferenceModels
from specformer.conformance.adapters.reference_objectives import ReferenceObjectives
from specformer.conformance.adapters.reference_vision import ReferenceVision
from specformer.reference import attention, embeddings, local, lsh, sampling
from specformer.reference.attention import MultiHeadWeights
from specformer.reference.embeddings import BertEmbeddingWeights
from specformer.reference.local import LongformerWeights
from specformer.reference.sampling import SamplingParams
from specformer.reference.tokenizers import byte_bpe, templates, wordpiece
from specformer.reference.tokenizers import sentencepiece as spm
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.sentencepiece import SentencePieceModel
from specformer.reference.tokenizers.templates import Encoding
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece


class ReferenceAdapter(
    ReferenceLosses,
    ReferenceHeads,
    ReferenceObjectives,
    ReferenceModels,
    ReferenceKVCache,
    ReferenceGeneration,
    ReferenceVision,
    ReferenceAudio,
):
    name = "reference"
    description = "specformer.reference: the spec's reference implementations (default variants)"
    capabilities = Capabilities(
        families=frozenset(FAMILY_OPERATIONS),  # the reference implements every family, by definition
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
            "TOK-TRAIN-02": "first-occurrence",
            "TOK-BERT-05": "tokenizers",
            "TOK-TRUNC-03": "first",
            "TOK-SPECIAL-02": "match",
            "OBJ-WWM-03": "per-token",
        },
    )
    expectations_file = Path(__file__).parent / "expectations" / "reference.toml"

    # The variant arguments of the reference functions, from the declaration above.
    @property
    def _variant_kwargs(self) -> dict[str, str]:
        return sampling.variant_arguments(self.capabilities.variants.__getitem__)

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

    # --- tokenizers (spec/tokenizers.md) ----------------------------------------------------
    # The vocabularies arrive as the reference's own model objects, so most operations are a call.

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        return byte_bpe.pretokenize(text, pattern)

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return model.encode(text)

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        return model.decode(ids)

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        return byte_bpe.train(text, num_merges, pattern, tie_break=self.capabilities.variants["TOK-TRAIN-02"])

    def bytes_to_unicode(self) -> dict[int, str]:
        return byte_bpe.bytes_to_unicode()

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return wordpiece.normalize(text, config)

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        tokens = model.tokens_with_offsets(text, special_policy=self.capabilities.variants["TOK-SPECIAL-02"])
        return [model.vocab[token] for token, _ in tokens], [span for _, span in tokens]

    def sentencepiece_normalize(self, model: SentencePieceModel, text: str) -> str:
        return self.sentencepiece_tokenizer(model).normalize(text)

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        return self.sentencepiece_tokenizer(model).encode(text)

    def sentencepiece_decode(self, model: SentencePieceModel, ids: list[int]) -> str:
        return self.sentencepiece_tokenizer(model).decode(ids)

    def sentencepiece_tokenizer(self, model: SentencePieceModel) -> spm.Unigram | spm.SentencePieceBPE:
        """The reference tokenizer for a model, built once per model object (it indexes the pieces);
        not an operation: the seam the sentencepiece_* operations share, which a subclass may override."""
        built = self.__dict__.setdefault("_sentencepiece_built", {})
        if id(model) not in built:  # the model is kept alongside, so its id cannot be reused
            built[id(model)] = (model, spm.tokenizer(model))
        return built[id(model)][1]

    def encode_batch(
        self,
        model: WordPiece,
        inputs: list[str | tuple[str, str]],
        *,
        max_length: int | None = None,
        truncation: str = "longest_first",
        padding_side: str = "right",
        pad_to_multiple_of: int | None = None,
    ) -> list[Encoding]:
        variants = self.capabilities.variants
        encodings = []
        for item in inputs:
            first, second = (item, None) if isinstance(item, str) else item
            ids_a, offsets_a = self.wordpiece_encode(model, first)
            ids_b, offsets_b = self.wordpiece_encode(model, second) if second is not None else (None, None)
            encodings.append(
                templates.post_process(
                    ids_a,
                    ids_b,
                    cls_id=model.vocab["[CLS]"],
                    sep_id=model.vocab["[SEP]"],
                    offsets_a=offsets_a,
                    offsets_b=offsets_b,
                    max_length=max_length,
                    strategy=truncation,
                    odd_budget=variants["TOK-TRUNC-03"],
                )
            )
        return templates.pad_batch(
            encodings, pad_to_multiple_of=pad_to_multiple_of, pad_id=model.vocab["[PAD]"], side=padding_side
        )
