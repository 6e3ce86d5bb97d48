"""What an adapter is: capabilities, and one Protocol per family.

An adapter is any object with a `name`, a `capabilities` declaration and the operations of
the families it declares. It may implement any subset of a family's operations: the suite
reports an operation that is absent (or set to None) as "unsupported", never as a pass.

Verdicts go by what happened, not by exception class: a declared operation that raises where
the spec requires an answer (any exception, its own `assert` included) or hangs is an "error";
"fail" is reserved for the suite's checks rejecting an answer the operation gave (or the error
it raised where the spec requires a ValueError).

Tensors go in and out in the layouts each Protocol states; the adapter converts to and from
its library's own types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from specformer.reference.attention import MultiHeadWeights
from specformer.reference.embeddings import BertEmbeddingWeights
from specformer.reference.generation import GenerationConfig, GenerationOutput
from specformer.reference.heads import BertHeadWeights
from specformer.reference.kv_cache import DecoderConfig, DecoderWeights
from specformer.reference.local import LongformerWeights
from specformer.reference.models import (
    CrossDecoderLayerWeights,
    DecoderBlockWeights,
    EncoderLayerWeights,
    ModelConfig,
    Seq2SeqConfig,
)
from specformer.reference.objectives import NextSentenceExample
from specformer.reference.sampling import SamplingParams
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.sentencepiece import SentencePieceModel
from specformer.reference.tokenizers.templates import Encoding
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece
from specformer.reference.vision import ConvNextHeadWeights, ViTEmbeddingWeights, ViTWeights


@dataclass(frozen=True)
class Capabilities:
    """What an adapter claims; the suite holds it to every claim.

    variants maps a clause ID to the variant name the adapter implements there (the names
    are in the clause's "Variants" list); a clause not named here is tested against the
    spec's default variant.
    """

    families: frozenset[str]
    dtypes: tuple[torch.dtype, ...] = (torch.float32,)
    devices: tuple[str, ...] = ("cpu",)
    variants: dict[str, str] = field(default_factory=dict)
    # Per operation, the optional parameters (OPTIONAL_PARAMETERS) it supports. An operation not
    # named here supports all of its optional parameters; one named with a subset makes every test
    # that needs another of them "unsupported" (a sampler without min-p: {"process": {"temperature",
    # "top_k", "top_p"}}), and no test of another clause puts a missing one into its inputs.
    parameters: dict[str, frozenset[str]] = field(default_factory=dict)
    # Clause ID -> a one-line description of behaviour that matches none of the clause's named
    # variants. The clause's failing tests are reported "custom" (with this line), not "fail".
    custom: dict[str, str] = field(default_factory=dict)

    def supports(self, operation: str, parameter: str) -> bool:
        """Whether `operation` accepts the optional `parameter` (every one, unless `parameters` says)."""
        declared = self.parameters.get(operation)
        return declared is None or parameter in declared

    def to_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "families": sorted(self.families),
            "dtypes": [str(d).removeprefix("torch.") for d in self.dtypes],
            "devices": list(self.devices),
            "variants": dict(self.variants),
        }
        # Only when declared: results files of adapters that declare neither stay as they were.
        if self.parameters:
            found["parameters"] = {op: sorted(names) for op, names in sorted(self.parameters.items())}
        if self.custom:
            found["custom"] = dict(self.custom)
        return found


# The optional parameters of each operation that has some: what `Capabilities.parameters` may
# leave out. process/sample: the fields of SamplingParams that enable a stage; encode_batch:
# "pairs" is (text_a, text_b) inputs, the others its keyword arguments.
OPTIONAL_PARAMETERS: dict[str, tuple[str, ...]] = {
    "top_p": ("min_tokens_to_keep",),
    "min_p": ("min_tokens_to_keep",),
    "process": ("temperature", "top_k", "top_p", "min_p", "min_tokens_to_keep"),
    "sample": ("temperature", "top_k", "top_p", "min_p", "min_tokens_to_keep"),
    "attention": ("causal", "mask", "scale"),
    "multi_head_attention": ("context", "causal", "key_padding_mask"),
    "longformer_attention": ("padding_mask",),
    "encode_batch": ("pairs", "max_length", "truncation", "padding_side", "pad_to_multiple_of"),
    # An LSH whose bucket count is tied to the sequence length cannot take the suite's free choice.
    "lsh_attention": ("n_buckets",),
    "lsh_buckets": ("n_buckets",),
    # GenerationConfig features a loop may leave out: beam search (num_beams > 1), stop strings.
    "generate": ("num_beams", "stop_strings"),
    # kv_cache (KV_CACHE_PARAMETERS): a padding mask, a static cache, and the kinds of model a decoder may not take.
    "decoder_logits": ("attention_mask", "sliding_window", "grouped_query", "gpt2"),
    "cached_logits": ("attention_mask", "static_cache", "sliding_window", "grouped_query", "gpt2"),
    "cache_after_prefill": ("attention_mask", "static_cache", "sliding_window", "grouped_query", "gpt2"),
    "prefix_reuse_logits": ("sliding_window", "grouped_query", "gpt2"),
    "decode_step_runner": ("grouped_query",),
}

# What the kv_cache operations' optional parameters mean. attention_mask: a left-padded batch (a mask
# with zeros); static_cache: cache_kind="static" with its max_cache_len; the others are kinds of
# DecoderWeights: sliding_window a config.sliding_window (with "dynamic", the rolling cache),
# grouped_query fewer key/value heads than query heads, gpt2 GPT-2's layout (config.architecture).
# A decoder that lacks grouped_query is handed the multi-head model wherever grouping is not the point.
KV_CACHE_PARAMETERS = ("attention_mask", "static_cache", "sliding_window", "grouped_query", "gpt2")


def decoder_parameters_used(config: DecoderConfig) -> tuple[str, ...]:
    """The optional kv_cache parameters a model of this config needs (what an adapter must support to take it).

    >>> decoder_parameters_used(DecoderConfig(sliding_window=4))
    ('sliding_window', 'grouped_query')
    >>> decoder_parameters_used(DecoderConfig(architecture="gpt2", num_kv_heads=4))
    ('gpt2',)
    """
    used = {
        "sliding_window": config.sliding_window is not None,
        "grouped_query": config.num_kv_heads < config.num_heads,
        "gpt2": config.architecture == "gpt2",
    }
    return tuple(name for name, on in used.items() if on)


def sampling_parameters_used(params: SamplingParams) -> tuple[str, ...]:
    """The optional SamplingParams fields `params` enables (what an adapter must support to take it).

    >>> sampling_parameters_used(SamplingParams(top_k=3, min_p=0.1))
    ('top_k', 'min_p')
    """
    used = {
        "temperature": params.temperature != 1.0,
        "top_k": params.top_k is not None,
        "top_p": params.top_p < 1.0,
        "min_p": params.min_p > 0.0,
        "min_tokens_to_keep": params.min_tokens_to_keep != 1,
    }
    return tuple(name for name, on in used.items() if on)


def repaired_text(decoded: str | bytes) -> str:
    """A decoder's answer as the suite compares it: text as is, bytes repaired to text.

    The repair rule (TOK-BL-07, the rule transformers, tiktoken and SentencePiece
    apply): the bytes are decoded as UTF-8 and every maximal invalid subsequence becomes one
    U+FFFD, which is Python's `bytes.decode("utf-8", errors="replace")`. So a decoder may return the
    raw bytes of the tokens (tiktoken's `decode_bytes`) and the suite applies the repair itself.

    >>> repaired_text(b"caf\\xc3\\xa9 \\xe2\\x82")
    'café \\ufffd'
    """
    if isinstance(decoded, (bytes, bytearray)):
        return bytes(decoded).decode("utf-8", errors="replace")
    return decoded


@runtime_checkable
class Adapter(Protocol):
    name: str
    capabilities: Capabilities


class SamplingAdapter(Adapter, Protocol):
    """The sampling family (spec/sampling.md). Shapes: logits (B, V); token ids (B,) int64.

    Processors return new logits of the same shape and dtype, removed tokens at -inf.
    `process` applies every enabled processor of `params` in the adapter's declared order
    (SAMP-ORDER-01); `sample` draws one token per row from softmax(process(...)) using only
    `generator` for randomness.
    """

    def temperature(self, logits: torch.Tensor, temperature: float) -> torch.Tensor: ...

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor: ...

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor: ...

    def min_p(self, logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor: ...

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor: ...

    def greedy(self, logits: torch.Tensor) -> torch.Tensor: ...

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor: ...


class AttentionAdapter(Adapter, Protocol):
    """The attention family (spec/attention.md; complexity.md measures the same operations).

    Shapes: B batch, H query heads, Hkv key/value heads (dividing H), L query length, S key
    length, D head dim; query (B, H, L, D), key (B, Hkv, S, D), value (B, Hkv, S, Dv) ->
    (B, H, L, Dv). `mask` is boolean (True = may attend) or float (added to the scaled
    scores), broadcastable to (B, H, L, S); `scale=None` means 1/sqrt(D). The suite never
    passes `causal` and `mask` together.
    """

    def attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        *,
        causal: bool = False,
        mask: torch.Tensor | None = None,
        scale: float | None = None,
    ) -> torch.Tensor: ...

    def sliding_window_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int
    ) -> torch.Tensor: ...

    def local_global_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, window: int, global_mask: torch.Tensor
    ) -> torch.Tensor: ...

    def lsh_attention(
        self, query_key: torch.Tensor, value: torch.Tensor, *, rotations: torch.Tensor, chunk_length: int
    ) -> torch.Tensor:
        """Reformer LSH self-attention; rotations (H, D, n_rounds, n_buckets / 2) or (D, n_buckets / 2)."""
        ...

    def lsh_buckets(self, vectors: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
        """(B, H, N, D) -> (B, H, n_rounds, N) bucket ids in [0, n_buckets), no round offsets."""
        ...

    # Whole attention blocks, on hidden states (B, L, E) with E = H * D; weights in nn.Linear layout.

    def multi_head_attention(
        self,
        hidden: torch.Tensor,
        weights: MultiHeadWeights,
        *,
        context: torch.Tensor | None = None,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Projections, heads, attention, output projection: (B, L, E) -> (B, L, E).

        context (B, S, C) makes it cross-attention (never causal); key_padding_mask (B, S) bool,
        True on real keys. The module is in evaluation mode, configured with weights.dropout.
        """
        ...

    def longformer_attention(
        self,
        hidden: torch.Tensor,
        weights: LongformerWeights,
        *,
        window: int,
        global_mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Longformer self-attention with output projection: (B, N, E) -> (B, N, E); window one-sided."""
        ...


class EmbeddingsAdapter(Adapter, Protocol):
    """The embeddings family (spec/embeddings.md). Ids are int64 (B, L); tables (rows, D)."""

    def absolute_position_embedding(
        self, token_ids: torch.Tensor, token_table: torch.Tensor, position_table: torch.Tensor
    ) -> torch.Tensor: ...

    def bert_embedding(
        self, token_ids: torch.Tensor, token_type_ids: torch.Tensor | None, weights: BertEmbeddingWeights
    ) -> torch.Tensor: ...

    def sinusoidal_position_encoding(self, length: int, dim: int) -> torch.Tensor:
        """(L, D) float32."""
        ...

    def axial_position_encoding(
        self, first_axis: torch.Tensor, second_axis: torch.Tensor, length: int, hidden_size: int
    ) -> torch.Tensor:
        """E1 (n1, d1), E2 (n2, d2) -> positions 0 .. length-1 as (L, d1 + d2)."""
        ...

    def axial_parameter_count(self, shape: tuple[int, int], dims: tuple[int, int]) -> int: ...


class TokenizerAdapter(Adapter, Protocol):
    """The tokenizers family (spec/tokenizers.md).

    Every operation receives its vocabulary as one of the reference's model objects
    (specformer.reference.tokenizers): the suite builds them from real files (tekken JSON,
    vocab.txt, SentencePiece .model files shipped by packages) or trains them in memory, and the
    adapter builds its own library's tokenizer from the same data (it may cache what it builds per
    object). Texts are str; ids are list[int]; offsets are (start, end) character offsets into
    the original text.
    """

    # Byte-level BPE (GPT-2, tiktoken)
    def pretokenize(self, text: str, pattern: str) -> list[str]: ...

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        """Special-token strings in `text` are plain text here (see encode_batch for specials)."""
        ...

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str: ...

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        """The first `num_merges` merges learnt from `text`, starting from the 256 single bytes."""
        ...

    # WordPiece (BERT)
    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str: ...

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Normalise, pre-tokenize and apply WordPiece: ids and offsets, no special tokens.
        Special-token spellings typed in `text` are handled as the adapter's TOK-SPECIAL-02 variant says."""
        ...

    # SentencePiece (Unigram and BPE models)
    def sentencepiece_normalize(self, model: SentencePieceModel, text: str) -> str: ...

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]: ...

    def sentencepiece_decode(self, model: SentencePieceModel, ids: list[int]) -> str: ...

    # Special tokens, pairs, truncation and padding (a BERT WordPiece pipeline)
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
        """[CLS] A [SEP] (B [SEP]) per input, truncated to max_length with the strategy
        (longest_first, only_first, only_second; None max_length = no truncation), padded to the
        longest in the batch (rounded up to pad_to_multiple_of) on `padding_side`."""
        ...

    # Added after the first ten: the one table the byte-level clauses need that no operation shows.
    def bytes_to_unicode(self) -> dict[int, str]:
        """The byte -> character table that spells byte-level vocabularies (TOK-BL-01), all 256 bytes."""
        ...


class LossesAdapter(Adapter, Protocol):
    """The losses family (spec/losses.md). Logits (N, V) or (B, L, V); labels int64, -100 ignored.

    Every loss returns a 0-dim tensor (per-row (N,) for reduction "none"). `causal_lm_loss` takes
    its labels as the adapter's LOSS-CLM-01 variant says (unshifted input ids, or pre-shifted).
    """

    def cross_entropy(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> torch.Tensor: ...

    def causal_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor: ...

    def masked_lm_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, num_items_in_batch: int | None = None
    ) -> torch.Tensor: ...

    def mse_loss(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def bce_with_logits_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def sequence_classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, C) logits; the problem type inferred from C and the labels' dtype (LOSS-SEQ-01)."""
        ...


class HeadsAdapter(Adapter, Protocol):
    """The heads family (spec/heads.md). Hidden states (B, L, D) in, logits (and a loss) out.

    Heads run in evaluation mode on the suite's hidden states and weights (BertHeadWeights,
    nn.Linear layout); an adapter for a library copies them into its own head modules.
    Operations with labels return (logits..., loss), the loss None when no labels are given.
    """

    def lm_logits(self, hidden: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor: ...

    def tied_parameters(
        self, vocab_size: int, hidden_size: int, *, tie: bool, architecture: str = "causal-lm"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(input embedding, output projection weight) of a freshly built model; architecture
        "causal-lm" (GPT-2's lm_head) or "masked-lm" (BERT's MLM decoder)."""
        ...

    def generation_logits(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, embedding: torch.Tensor
    ) -> torch.Tensor:
        """(B, L, D), (B, L) -> (B, V): the next-token logits of each row (HEAD-GEN-01/02)."""
        ...

    def pooler(self, hidden: torch.Tensor, weights: BertHeadWeights) -> torch.Tensor: ...

    def masked_lm_head(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def next_sentence_head(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def pretraining_heads(
        self, hidden: torch.Tensor, weights: BertHeadWeights, mlm_labels: torch.Tensor, nsp_labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ...

    def sequence_classification(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def last_token_classification(
        self,
        hidden: torch.Tensor,
        score_weight: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pad_token_id: int,
    ) -> torch.Tensor:
        """GPT-2 style (B, C) logits; input_ids hold pad_token_id at the padding positions."""
        ...

    def mean_pooling(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, L, D), (B, L) 0/1 mask -> (B, D): the mean over each row's real tokens (HEAD-SEQ-04)."""
        ...

    def token_classification(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def align_word_labels(self, word_ids: list[int | None], word_labels: list[int]) -> list[int]: ...

    def question_answering(
        self,
        hidden: torch.Tensor,
        weights: BertHeadWeights,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]: ...

    def best_span(
        self, start_logits: torch.Tensor, end_logits: torch.Tensor, context_mask: torch.Tensor, max_answer_length: int
    ) -> tuple[int, int]:
        """(L,) logits and context mask -> the inclusive (start, end) of the best answer span."""


class ObjectivesAdapter(Adapter, Protocol):
    """The objectives family (spec/objectives.md): pretraining corruptions. Ids int64.

    Random operations draw only from `generator`; the suite checks them statistically. The
    deterministic halves (t5_span_corruption, text_infilling) take the random layout as tensors.
    """

    def mlm_mask(
        self,
        input_ids: torch.Tensor,
        special_tokens_mask: torch.Tensor,
        *,
        mask_token_id: int,
        vocab_size: int,
        generator: torch.Generator,
        mlm_probability: float = 0.15,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) ids and bool specials -> (inputs, labels with -100 where not selected)."""
        ...

    def whole_word_mask(
        self,
        input_ids: torch.Tensor,
        word_ids: torch.Tensor,
        *,
        mask_token_id: int,
        vocab_size: int,
        generator: torch.Generator,
        mlm_probability: float = 0.15,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """word_ids (B, L): the word of each token, -1 on special tokens and padding."""
        ...

    def next_sentence_pairs(
        self, documents: list[list[list[int]]], *, cls_token_id: int, sep_token_id: int, generator: torch.Generator
    ) -> list[NextSentenceExample]: ...

    def random_spans_noise_mask(
        self,
        length: int,
        *,
        generator: torch.Generator,
        noise_density: float = 0.15,
        mean_noise_span_length: float = 3.0,
    ) -> torch.Tensor:
        """(L,) bool, True on noise tokens."""
        ...

    def t5_span_corruption(
        self, input_ids: torch.Tensor, noise_mask: torch.Tensor, *, vocab_size: int, eos_token_id: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(L,) ids and noise mask -> (inputs, targets); sentinel k is vocab_size - 1 - k."""
        ...

    def t5_input_and_target_lengths(
        self, inputs_length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0
    ) -> tuple[int, int]: ...

    def sample_infilling_spans(
        self, length: int, *, generator: torch.Generator, mask_ratio: float = 0.3, poisson_lambda: float = 3.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(starts, lengths) of the spans of a sequence <s> ... </s> of `length` tokens."""
        ...

    def text_infilling(
        self, input_ids: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor, *, mask_token_id: int
    ) -> torch.Tensor: ...

    def permute_sentences(
        self, input_ids: torch.Tensor, *, full_stop_id: int, generator: torch.Generator
    ) -> torch.Tensor: ...

    def shift_tokens_right(
        self, labels: torch.Tensor, *, pad_token_id: int | None, decoder_start_token_id: int | None
    ) -> torch.Tensor: ...


class ModelsAdapter(Adapter, Protocol):
    """The models family (spec/models.md). Hidden states (B, L, E); padding masks (B, L) bool,
    True on real tokens; weights in nn.Linear layout (specformer.reference.models); whole models
    take Hugging Face state dicts. Modules are in evaluation mode."""

    def encoder_layer(
        self, hidden: torch.Tensor, weights: EncoderLayerWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor: ...

    def decoder_block(
        self, hidden: torch.Tensor, weights: DecoderBlockWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor: ...

    def cross_decoder_layer(
        self,
        hidden: torch.Tensor,
        memory: torch.Tensor,
        weights: CrossDecoderLayerWeights,
        *,
        padding_mask: torch.Tensor | None = None,
        memory_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor: ...

    def encoder_decoder(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        encoder_layers: list[EncoderLayerWeights],
        decoder_layers: list[CrossDecoderLayerWeights],
        *,
        source_padding_mask: torch.Tensor | None = None,
        target_padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (memory (B, S, E), decoder output (B, L, E))."""
        ...

    def bert_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        """BertModel's last hidden state from a BertModel state dict."""
        ...

    def gpt2_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        """GPT2Model's last hidden state (after ln_f) from a GPT2Model state dict."""
        ...

    def bart_for_conditional_generation(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        config: Seq2SeqConfig,
        *,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """BartForConditionalGeneration from its state dict: (encoder output (B, S, E), logits (B, T, V), loss)."""
        ...

    def t5_for_conditional_generation(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        config: Seq2SeqConfig,
        *,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """T5ForConditionalGeneration from its state dict: (encoder output (B, S, E), logits (B, T, V), loss)."""
        ...

    def t5_relative_position_bucket(
        self, relative_position: torch.Tensor, *, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
    ) -> torch.Tensor:
        """T5's bucket (int64) of each relative position (key position - query position)."""
        ...


class KVCacheAdapter(Adapter, Protocol):
    """The kv_cache family (spec/kv_cache.md). A Llama-style decoder given as DecoderWeights
    (transformers' LlamaForCausalLM parameter names; MistralForCausalLM when the config has a
    sliding window; GPT2LMHeadModel's names when `config.architecture == "gpt2"`: learned
    absolute positions, which the position-id clauses also run on). Token ids (B, L) int64;
    attention_mask (B, L), 1 real, 0 left padding; logits (B, L, V) in the weights' dtype.
    cache_kind: "dynamic" or "static" (capacity max_cache_len); a sliding-window model uses its
    rolling cache for "dynamic".
    """

    def decoder_logits(
        self, weights: DecoderWeights, token_ids: torch.Tensor, *, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One forward over the whole sequence, no cache kept."""
        ...

    def cached_logits(
        self,
        weights: DecoderWeights,
        token_ids: torch.Tensor,
        *,
        steps: tuple[int, ...],
        cache_kind: str = "dynamic",
        max_cache_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Calls of steps[0], steps[1], ... tokens through one cache; their logits concatenated."""
        ...

    def cache_after_prefill(
        self,
        weights: DecoderWeights,
        token_ids: torch.Tensor,
        *,
        cache_kind: str = "dynamic",
        max_cache_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> CacheState:
        """The cache after prefilling token_ids."""
        ...

    def prefix_reuse_logits(
        self, weights: DecoderWeights, prefix_ids: torch.Tensor, suffixes: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """Prefill the prefix once; continue each suffix (B, Ls) in turn from that prefix's cache:
        each suffix's logits (B, Ls, V)."""
        ...

    def decode_step_runner(
        self, weights: DecoderWeights, context_ids: torch.Tensor, *, use_cache: bool = True
    ) -> Callable[[], torch.Tensor]:
        """A function that runs one decode step after context_ids (B, n) and returns its logits
        (B, V), leaving the state as it found it, so it can be timed repeatedly."""
        ...


@dataclass
class CacheState:
    """A cache as the suite inspects it: per layer logical keys and values (B, Hkv, S, D) in
    sequence order, the cache's own sequence length, and the bytes its K/V buffers hold."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    seq_length: int
    nbytes: int


class GenerationAdapter(Adapter, Protocol):
    """The generation family (spec/generation.md). Processors: logits (B, V), input_ids (B, L)
    (prompt then generated; `prompt_length` says where the prompt ends), new logits out.
    `generate` runs the whole loop on a DecoderWeights model; `on_token`, when given, is called
    once per generation step as soon as that step's tokens exist (for the metrics clauses).
    """

    def repetition_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        penalty: float,
        *,
        prompt_length: int,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor: ...

    def frequency_presence_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        *,
        prompt_length: int,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
    ) -> torch.Tensor: ...

    def no_repeat_ngram(self, logits: torch.Tensor, input_ids: torch.Tensor, ngram_size: int) -> torch.Tensor: ...

    def min_new_tokens(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        *,
        prompt_length: int,
        min_new_tokens: int,
        eos_token_ids: tuple[int, ...],
    ) -> torch.Tensor: ...

    def generate(
        self,
        weights: DecoderWeights,
        prompt_ids: torch.Tensor,
        config: GenerationConfig,
        *,
        attention_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        on_token: Callable[[], None] | None = None,
    ) -> GenerationOutput: ...


class VisionAdapter(Adapter, Protocol):
    """The vision family (spec/vision.md). Images (B, C, H, W) float; P patch size, N patches, D width.

    Weights come as the reference's dataclasses (ViTWeights holds a transformers
    ViTForImageClassification state dict with the same names); the adapter loads them into its
    library's modules. `preprocess` takes uint8 (B, H, W, C) and returns float32 (B, C, H', W').
    """

    def patch_embedding(self, images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W), Conv2d weight (D, C, P, P), bias (D,) -> (B, N, D)."""
        ...

    def vit_embeddings(
        self, images: torch.Tensor, weights: ViTEmbeddingWeights, *, interpolate: bool = False
    ) -> torch.Tensor:
        """(B, C, H, W) -> (B, 1 + N, D): [CLS], patches, plus positions (interpolated if asked)."""
        ...

    def interpolate_position_embeddings(
        self, position: torch.Tensor, source_grid: tuple[int, int], target_grid: tuple[int, int]
    ) -> torch.Tensor:
        """(1 + h0*w0, D) -> (1 + h*w, D) with the adapter's VIS-POS-04 variant."""
        ...

    def vit_encode(self, images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
        """(B, C, H, W) -> (B, 1 + N, D), after the final LayerNorm."""
        ...

    def vit_classify(self, images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
        """(B, C, H, W) -> logits (B, K), pooled as the adapter's VIS-POOL-01 variant."""
        ...

    def convnext_head(self, features: torch.Tensor, weights: ConvNextHeadWeights) -> torch.Tensor:
        """Final feature map (B, C, h, w) -> logits (B, K)."""
        ...

    def preprocess(
        self, images: torch.Tensor, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
    ) -> torch.Tensor: ...


class AudioAdapter(Adapter, Protocol):
    """The audio family (spec/audio.md): Whisper's log-mel front end at 16 kHz.

    Waveforms are 1-D float32 tensors (a list for a batch, lengths may differ); features
    (B, M, 3000) float32.
    """

    def hann_window(self, length: int) -> torch.Tensor: ...

    def power_spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, 201, S // 160): n_fft 400, hop 160, centred, last frame dropped."""
        ...

    def mel_filters(self, n_mels: int) -> torch.Tensor:
        """(M, 201) for 16 kHz and n_fft 400."""
        ...

    def log_mel(self, waveforms: list[torch.Tensor], n_mels: int = 80, sampling_rate: int = 16000) -> torch.Tensor:
        """A batch of 1-D waveforms -> (B, M, 3000) features."""
        ...

    def frame_mask(self, waveforms: list[torch.Tensor]) -> torch.Tensor:
        """(B, 3000) int64: the frame-level attention mask of the padded batch."""
        ...


# Operations per family, as the suite calls them; used to list what an adapter implements.
FAMILY_OPERATIONS: dict[str, tuple[str, ...]] = {
    "sampling": ("temperature", "top_k", "top_p", "min_p", "process", "greedy", "sample"),
    "attention": (
        "attention",
        "sliding_window_attention",
        "local_global_attention",
        "lsh_attention",
        "lsh_buckets",
        "multi_head_attention",
        "longformer_attention",
    ),
    "tokenizers": (
        "pretokenize",
        "bpe_encode",
        "bpe_decode",
        "bpe_train",
        "bert_normalize",
        "wordpiece_encode",
        "sentencepiece_normalize",
        "sentencepiece_encode",
        "sentencepiece_decode",
        "encode_batch",
        "bytes_to_unicode",
    ),
    "kv_cache": ("decoder_logits", "cached_logits", "cache_after_prefill", "prefix_reuse_logits", "decode_step_runner"),
    "generation": ("repetition_penalty", "frequency_presence_penalty", "no_repeat_ngram", "min_new_tokens", "generate"),
    "embeddings": (
        "absolute_position_embedding",
        "bert_embedding",
        "sinusoidal_position_encoding",
        "axial_position_encoding",
        "axial_parameter_count",
    ),
    "losses": (
        "cross_entropy",
        "causal_lm_loss",
        "masked_lm_loss",
        "mse_loss",
        "bce_with_logits_loss",
        "sequence_classification_loss",
    ),
    "heads": (
        "lm_logits",
        "tied_parameters",
        "generation_logits",
        "pooler",
        "masked_lm_head",
        "next_sentence_head",
        "pretraining_heads",
        "sequence_classification",
        "last_token_classification",
        "mean_pooling",
        "token_classification",
        "align_word_labels",
        "question_answering",
        "best_span",
    ),
    "objectives": (
        "mlm_mask",
        "whole_word_mask",
        "next_sentence_pairs",
        "random_spans_noise_mask",
        "t5_span_corruption",
        "t5_input_and_target_lengths",
        "sample_infilling_spans",
        "text_infilling",
        "permute_sentences",
        "shift_tokens_right",
    ),
    "models": (
        "encoder_layer",
        "decoder_block",
        "cross_decoder_layer",
        "encoder_decoder",
        "bert_model",
        "gpt2_model",
        "bart_for_conditional_generation",
        "t5_for_conditional_generation",
        "t5_relative_position_bucket",
    ),
    "vision": (
        "patch_embedding",
        "vit_embeddings",
        "interpolate_position_embeddings",
        "vit_encode",
        "vit_classify",
        "convnext_head",
        "preprocess",
    ),
    "audio": ("hann_window", "power_spectrogram", "mel_filters", "log_mel", "frame_mask"),
}


def expectations_path_of(adapter: object) -> Path | None:
    """An adapter may point at its expectations file with an `expectations_file` attribute."""
    path = getattr(adapter, "expectations_file", None)
    return Path(path) if path else None
