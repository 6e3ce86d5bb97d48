"""What an adapter is: capabilities, and one Protocol per family.

An adapter is any object with a `name`, a `capabilities` declaration and the operations of
the families it declares. It may implement any subset of a family's operations: the suite
reports an operation that is absent (or set to None) as "unsupported", never as a pass. A
declared operation that raises where the spec requires an answer is a failure.

Tensors go in and out in the layouts each Protocol states; the adapter converts to and from
its library's own types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from specformer.reference.attention import MultiHeadWeights
from specformer.reference.embeddings import BertEmbeddingWeights
from specformer.reference.local import LongformerWeights
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

    def to_dict(self) -> dict[str, object]:
        return {
            "families": sorted(self.families),
            "dtypes": [str(d).removeprefix("torch.") for d in self.dtypes],
            "devices": list(self.devices),
            "variants": dict(self.variants),
        }


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
    "embeddings": (
        "absolute_position_embedding",
        "bert_embedding",
        "sinusoidal_position_encoding",
        "axial_position_encoding",
        "axial_parameter_count",
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
