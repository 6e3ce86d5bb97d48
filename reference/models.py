"""Reference model shapes: a BERT encoder layer, a GPT-2 decoder block, an encoder-decoder.

Shapes: B batch, L (target) length, S source length, E model width, F feed-forward width, V
vocabulary. Padding masks are (B, L) bool, True on real tokens.

- Encoder layer (BERT, BART's encoder; post-LN):
      h = LN(x + Attn(x));  out = LN(h + FFN(h))
- Decoder block (GPT-2; pre-LN, causal):
      h = x + Attn_causal(LN_1(x));  out = h + FFN(LN_2(h))
- Decoder layer with cross-attention (BART's decoder, torch.nn.TransformerDecoderLayer; post-LN):
      h = LN(x + Attn_causal(x));  c = LN(h + Attn(h, memory));  out = LN(c + FFN(c))
- FFN(x) = W_2 act(W_1 x + b_1) + b_2 with act = GELU, exact (erf; BERT's "gelu") or its tanh
  approximation (GPT-2's "gelu_new"), named by FeedForwardWeights.activation.

Whole models load Hugging Face state dicts under their own parameter names (`bert_model`:
BertModel's `embeddings.*` / `encoder.layer.{i}.*`; `gpt2_model`: GPT2Model's `wte`, `wpe`,
`h.{i}.*`, `ln_f`; GPT-2's Conv1D weights are (in, out), the transpose of nn.Linear).

Left out: dropout (evaluation semantics only), KV caches, T5's relative position bias and RMS
norm, BART's embedding scale and learned-position offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F

from specformer.reference.attention import MultiHeadWeights, multi_head_attention
from specformer.reference.embeddings import BertEmbeddingWeights, bert_embedding

ACTIVATIONS = ("gelu", "gelu_tanh")


def gelu(x: torch.Tensor, activation: str) -> torch.Tensor:
    """x * Phi(x) (exact, "gelu") or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) ("gelu_tanh").

    Clauses: MODEL-ACT-01, MODEL-ACT-02.
    """
    if activation == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if activation == "gelu_tanh":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")


def _draw(generator: torch.Generator, dtype: torch.dtype, *shape: int) -> torch.Tensor:
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) / math.sqrt(shape[-1])).to(dtype)


def _cast(weights, dtype: torch.dtype):
    """The same dataclass with every tensor (and nested weights) cast to dtype."""
    changes = {}
    for f in fields(weights):
        value = getattr(weights, f.name)
        if isinstance(value, torch.Tensor):
            changes[f.name] = value.to(dtype)
        elif hasattr(value, "to") and not isinstance(value, (str, float, int)):
            changes[f.name] = value.to(dtype)
    return replace(weights, **changes)


@dataclass(frozen=True)
class LayerNormWeights:
    weight: torch.Tensor  # (E,)
    bias: torch.Tensor  # (E,)
    eps: float = 1e-12

    @classmethod
    def random(cls, width: int, generator: torch.Generator, dtype: torch.dtype, eps: float) -> LayerNormWeights:
        return cls(1 + _draw(generator, dtype, 1, width)[0] / 4, _draw(generator, dtype, 1, width)[0] / 4, eps)

    def to(self, dtype: torch.dtype) -> LayerNormWeights:
        return _cast(self, dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


@dataclass(frozen=True)
class FeedForwardWeights:
    inner: torch.Tensor  # (F, E), nn.Linear layout
    inner_bias: torch.Tensor  # (F,)
    outer: torch.Tensor  # (E, F)
    outer_bias: torch.Tensor  # (E,)
    activation: str = "gelu"

    @classmethod
    def random(
        cls, width: int, inner: int, generator: torch.Generator, dtype: torch.dtype, activation: str
    ) -> FeedForwardWeights:
        return cls(
            _draw(generator, dtype, inner, width),
            _draw(generator, dtype, 1, inner)[0],
            _draw(generator, dtype, width, inner),
            _draw(generator, dtype, 1, width)[0],
            activation,
        )

    def to(self, dtype: torch.dtype) -> FeedForwardWeights:
        return _cast(self, dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(gelu(F.linear(x, self.inner, self.inner_bias), self.activation), self.outer, self.outer_bias)


@dataclass(frozen=True)
class EncoderLayerWeights:
    """A post-LN encoder layer (BERT's BertLayer, BART's encoder layer)."""

    attention: MultiHeadWeights
    attention_norm: LayerNormWeights
    feed_forward: FeedForwardWeights
    output_norm: LayerNormWeights

    @classmethod
    def random(
        cls,
        width: int,
        heads: int,
        inner: int,
        generator: torch.Generator,
        *,
        activation: str = "gelu",
        eps: float = 1e-12,
        dtype: torch.dtype = torch.float64,
    ) -> EncoderLayerWeights:
        return cls(
            MultiHeadWeights.random(width, heads, generator, dtype=dtype),
            LayerNormWeights.random(width, generator, dtype, eps),
            FeedForwardWeights.random(width, inner, generator, dtype, activation),
            LayerNormWeights.random(width, generator, dtype, eps),
        )

    def to(self, dtype: torch.dtype) -> EncoderLayerWeights:
        return _cast(self, dtype)


@dataclass(frozen=True)
class DecoderBlockWeights:
    """A pre-LN causal decoder block (GPT-2's GPT2Block)."""

    norm_1: LayerNormWeights
    attention: MultiHeadWeights
    norm_2: LayerNormWeights
    feed_forward: FeedForwardWeights

    @classmethod
    def random(
        cls,
        width: int,
        heads: int,
        inner: int,
        generator: torch.Generator,
        *,
        activation: str = "gelu_tanh",
        eps: float = 1e-5,
        dtype: torch.dtype = torch.float64,
    ) -> DecoderBlockWeights:
        return cls(
            LayerNormWeights.random(width, generator, dtype, eps),
            MultiHeadWeights.random(width, heads, generator, dtype=dtype),
            LayerNormWeights.random(width, generator, dtype, eps),
            FeedForwardWeights.random(width, inner, generator, dtype, activation),
        )

    def to(self, dtype: torch.dtype) -> DecoderBlockWeights:
        return _cast(self, dtype)


@dataclass(frozen=True)
class CrossDecoderLayerWeights:
    """A post-LN decoder layer with cross-attention (BART's decoder layer, nn.TransformerDecoderLayer)."""

    self_attention: MultiHeadWeights
    self_norm: LayerNormWeights
    cross_attention: MultiHeadWeights
    cross_norm: LayerNormWeights
    feed_forward: FeedForwardWeights
    output_norm: LayerNormWeights

    @classmethod
    def random(
        cls,
        width: int,
        heads: int,
        inner: int,
        generator: torch.Generator,
        *,
        activation: str = "gelu",
        eps: float = 1e-5,
        dtype: torch.dtype = torch.float64,
    ) -> CrossDecoderLayerWeights:
        return cls(
            MultiHeadWeights.random(width, heads, generator, dtype=dtype),
            LayerNormWeights.random(width, generator, dtype, eps),
            MultiHeadWeights.random(width, heads, generator, dtype=dtype),
            LayerNormWeights.random(width, generator, dtype, eps),
            FeedForwardWeights.random(width, inner, generator, dtype, activation),
            LayerNormWeights.random(width, generator, dtype, eps),
        )

    def to(self, dtype: torch.dtype) -> CrossDecoderLayerWeights:
        return _cast(self, dtype)


def check_hidden(hidden: torch.Tensor, width: int, padding_mask: torch.Tensor | None, name: str = "hidden") -> None:
    """ValueError unless hidden is (B, L, E) with E = width and padding_mask, if given, a (B, L) bool."""
    if hidden.dim() != 3 or hidden.shape[-1] != width:
        raise ValueError(f"{name} must be (B, L, E) with E={width}, got {tuple(hidden.shape)}")
    if padding_mask is not None and (padding_mask.shape != hidden.shape[:2] or padding_mask.dtype != torch.bool):
        raise ValueError(f"the padding mask of {name} must be a (B, L) bool tensor {tuple(hidden.shape[:2])}")


# ---------------------------------------------------------------------------------------
# Layers


def encoder_layer(
    hidden: torch.Tensor, weights: EncoderLayerWeights, *, padding_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Post-LN bidirectional layer: (B, L, E) -> (B, L, E); padded keys are never attended.

    Clauses: MODEL-ENC-01, MODEL-ENC-02, MODEL-ACT-01, MODEL-IO-01, MODEL-IO-02.
    """
    check_hidden(hidden, weights.attention.embed_dim, padding_mask)
    attended = multi_head_attention(hidden, weights.attention, key_padding_mask=padding_mask)  # (B, L, E)
    hidden = weights.attention_norm(hidden + attended)
    return weights.output_norm(hidden + weights.feed_forward(hidden))


def decoder_block(
    hidden: torch.Tensor, weights: DecoderBlockWeights, *, padding_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Pre-LN causal block: (B, L, E) -> (B, L, E); position i sees positions <= i that are real.

    Clauses: MODEL-DEC-01, MODEL-DEC-02, MODEL-DEC-03, MODEL-ACT-02, MODEL-IO-01, MODEL-IO-02.
    """
    check_hidden(hidden, weights.attention.embed_dim, padding_mask)
    hidden = hidden + multi_head_attention(
        weights.norm_1(hidden), weights.attention, causal=True, key_padding_mask=padding_mask
    )
    return hidden + weights.feed_forward(weights.norm_2(hidden))


def cross_decoder_layer(
    hidden: torch.Tensor,
    memory: torch.Tensor,
    weights: CrossDecoderLayerWeights,
    *,
    padding_mask: torch.Tensor | None = None,
    memory_padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Post-LN decoder layer: causal self-attention, cross-attention to `memory` (B, S, E), FFN.

    Clauses: MODEL-XATTN-01, MODEL-XATTN-02, MODEL-IO-01.
    """
    check_hidden(hidden, weights.self_attention.embed_dim, padding_mask)
    check_hidden(memory, weights.cross_attention.context_dim, memory_padding_mask, "memory")
    attended = multi_head_attention(hidden, weights.self_attention, causal=True, key_padding_mask=padding_mask)
    hidden = weights.self_norm(hidden + attended)
    crossed = multi_head_attention(
        hidden, weights.cross_attention, context=memory, key_padding_mask=memory_padding_mask
    )  # never causal: every target position sees the whole (real) source
    hidden = weights.cross_norm(hidden + crossed)
    return weights.output_norm(hidden + weights.feed_forward(hidden))


def encoder_decoder(
    source: torch.Tensor,
    target: torch.Tensor,
    encoder_layers: list[EncoderLayerWeights],
    decoder_layers: list[CrossDecoderLayerWeights],
    *,
    source_padding_mask: torch.Tensor | None = None,
    target_padding_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, S, E) source and (B, L, E) target states -> (memory (B, S, E), decoder output (B, L, E)).

    Every decoder layer cross-attends to the encoder's final output (the memory).

    Clauses: MODEL-ENCDEC-01, MODEL-ENCDEC-02, MODEL-ENCDEC-03.
    """
    memory = source
    for layer in encoder_layers:
        memory = encoder_layer(memory, layer, padding_mask=source_padding_mask)
    output = target
    for layer in decoder_layers:
        output = cross_decoder_layer(
            output, memory, layer, padding_mask=target_padding_mask, memory_padding_mask=source_padding_mask
        )
    return memory, output


# ---------------------------------------------------------------------------------------
# Whole models from Hugging Face state dicts


@dataclass(frozen=True)
class ModelConfig:
    """What the state dicts do not say: heads, norm epsilon, activation."""

    heads: int
    layers: int
    eps: float
    activation: str


def _linear(state: dict[str, torch.Tensor], prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    return state[f"{prefix}.weight"], state[f"{prefix}.bias"]


def bert_layer_weights(state: dict[str, torch.Tensor], index: int, config: ModelConfig) -> EncoderLayerWeights:
    """BertModel's `encoder.layer.{index}.*` as EncoderLayerWeights."""
    p = f"encoder.layer.{index}"
    (q, qb), (k, kb), (v, vb) = (_linear(state, f"{p}.attention.self.{n}") for n in ("query", "key", "value"))
    o, ob = _linear(state, f"{p}.attention.output.dense")
    return EncoderLayerWeights(
        MultiHeadWeights(q, k, v, o, qb, kb, vb, ob, heads=config.heads),
        LayerNormWeights(*_linear(state, f"{p}.attention.output.LayerNorm"), config.eps),
        FeedForwardWeights(
            *_linear(state, f"{p}.intermediate.dense"), *_linear(state, f"{p}.output.dense"), config.activation
        ),
        LayerNormWeights(*_linear(state, f"{p}.output.LayerNorm"), config.eps),
    )


def bert_model(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    state: dict[str, torch.Tensor],
    config: ModelConfig,
    *,
    token_type_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """BertModel's last hidden state (B, L, E) from its state dict; attention_mask (B, L) bool.

    Clauses: MODEL-BERT-01, MODEL-BERT-02, MODEL-ENC-02.
    """
    embeddings = BertEmbeddingWeights(
        state["embeddings.word_embeddings.weight"],
        state["embeddings.position_embeddings.weight"],
        state["embeddings.token_type_embeddings.weight"],
        *_linear(state, "embeddings.LayerNorm"),
        eps=config.eps,
    )
    hidden = bert_embedding(input_ids, token_type_ids, embeddings)  # (B, L, E)
    for index in range(config.layers):
        hidden = encoder_layer(hidden, bert_layer_weights(state, index, config), padding_mask=attention_mask)
    return hidden


def gpt2_block_weights(state: dict[str, torch.Tensor], index: int, config: ModelConfig) -> DecoderBlockWeights:
    """GPT2Model's `h.{index}.*` as DecoderBlockWeights (Conv1D (in, out) weights transposed)."""
    p = f"h.{index}"
    fused, fused_bias = state[f"{p}.attn.c_attn.weight"].T, state[f"{p}.attn.c_attn.bias"]  # (3E, E): [q | k | v]
    q, k, v = fused.chunk(3, dim=0)
    qb, kb, vb = fused_bias.chunk(3)
    return DecoderBlockWeights(
        LayerNormWeights(*_linear(state, f"{p}.ln_1"), config.eps),
        MultiHeadWeights(
            q, k, v, state[f"{p}.attn.c_proj.weight"].T, qb, kb, vb, state[f"{p}.attn.c_proj.bias"], config.heads
        ),
        LayerNormWeights(*_linear(state, f"{p}.ln_2"), config.eps),
        FeedForwardWeights(
            state[f"{p}.mlp.c_fc.weight"].T,
            state[f"{p}.mlp.c_fc.bias"],
            state[f"{p}.mlp.c_proj.weight"].T,
            state[f"{p}.mlp.c_proj.bias"],
            config.activation,
        ),
    )


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens only: (B, L) bool -> (B, L) int64; padding gets 0.

    >>> position_ids_from_mask(torch.tensor([[False, False, True, True]])).tolist()
    [[0, 0, 0, 1]]

    Clauses: MODEL-GPT2-02.
    """
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def gpt2_model(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
) -> torch.Tensor:
    """GPT2Model's last hidden state (after ln_f), (B, L, E); attention_mask (B, L) bool.

    Position ids count real tokens only, so a left-padded row gets the states it gets alone.

    Clauses: MODEL-GPT2-01, MODEL-GPT2-02.
    """
    if attention_mask.shape != input_ids.shape or attention_mask.dtype != torch.bool:
        raise ValueError(f"attention_mask must be a bool tensor of shape {tuple(input_ids.shape)}")
    positions = position_ids_from_mask(attention_mask)  # (B, L)
    if int(positions.max()) >= state["wpe.weight"].shape[0]:
        raise ValueError(
            f"input_ids: {int(positions.max()) + 1} positions exceed the table's {state['wpe.weight'].shape[0]}"
        )
    hidden = state["wte.weight"][input_ids] + state["wpe.weight"][positions]  # (B, L, E)
    for index in range(config.layers):
        hidden = decoder_block(hidden, gpt2_block_weights(state, index, config), padding_mask=attention_mask)
    return F.layer_norm(hidden, hidden.shape[-1:], *_linear(state, "ln_f"), config.eps)
