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

Whole encoder-decoders for conditional generation (`bart_for_conditional_generation`,
`t5_for_conditional_generation`) load BartForConditionalGeneration / T5ForConditionalGeneration
state dicts and return (encoder output, logits, loss): BART reuses the post-LN layers above
with learned positions offset by 2 and layernorm_embedding; T5 is pre-norm with an RMS norm,
unscaled attention plus a relative position bias (`t5_relative_position_bucket`).

T5's feed-forward is v1.0's ReLU `wo relu(wi x)` or v1.1's gated `wo (gelu_tanh(wi_0 x) * wi_1 x)`
(`t5_feed_forward`, Seq2SeqConfig.activation "relu" or "gated-gelu", T5Config's feed_forward_proj).

Left out: dropout (evaluation semantics only), KV caches.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields, replace
from typing import Self

import torch
import torch.nn.functional as F

from specformer.reference.attention import (
    MultiHeadWeights,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    split_heads,
)
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


class _LayerWeights:
    """What the layer weight classes below share: random weights drawn part by part in field order
    (the attentions, norms and feed-forward each from the same generator), and a cast. A class sets
    the activation and norm epsilon its model uses by default."""

    default_activation = "gelu"
    default_eps = 1e-5

    @classmethod
    def random(
        cls,
        width: int,
        heads: int,
        inner: int,
        generator: torch.Generator,
        *,
        activation: str | None = None,
        eps: float | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> Self:
        activation = cls.default_activation if activation is None else activation
        eps = cls.default_eps if eps is None else eps
        draw = {
            "MultiHeadWeights": lambda: MultiHeadWeights.random(width, heads, generator, dtype=dtype),
            "LayerNormWeights": lambda: LayerNormWeights.random(width, generator, dtype, eps),
            "FeedForwardWeights": lambda: FeedForwardWeights.random(width, inner, generator, dtype, activation),
        }
        return cls(*(draw[part.type]() for part in fields(cls)))  # subtle: field order is draw order

    def to(self, dtype: torch.dtype) -> Self:
        return _cast(self, dtype)


@dataclass(frozen=True)
class EncoderLayerWeights(_LayerWeights):
    """A post-LN encoder layer (BERT's BertLayer, BART's encoder layer)."""

    attention: MultiHeadWeights
    attention_norm: LayerNormWeights
    feed_forward: FeedForwardWeights
    output_norm: LayerNormWeights

    default_eps = 1e-12


@dataclass(frozen=True)
class DecoderBlockWeights(_LayerWeights):
    """A pre-LN causal decoder block (GPT-2's GPT2Block)."""

    norm_1: LayerNormWeights
    attention: MultiHeadWeights
    norm_2: LayerNormWeights
    feed_forward: FeedForwardWeights

    default_activation = "gelu_tanh"


@dataclass(frozen=True)
class CrossDecoderLayerWeights(_LayerWeights):
    """A post-LN decoder layer with cross-attention (BART's decoder layer, nn.TransformerDecoderLayer)."""

    self_attention: MultiHeadWeights
    self_norm: LayerNormWeights
    cross_attention: MultiHeadWeights
    cross_norm: LayerNormWeights
    feed_forward: FeedForwardWeights
    output_norm: LayerNormWeights


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


# ---------------------------------------------------------------------------------------
# Whole encoder-decoders for conditional generation: BART and T5
#
# Extra letters: T target (decoder) length, V vocabulary. Both models return
# (encoder output (B, S, E), logits (B, T, V), loss () or None).


@dataclass(frozen=True)
class Seq2SeqConfig:
    """What a BART or T5 state dict does not say.

    heads, layers (per stack), eps (every norm), activation ("gelu" for BART; T5's feed_forward_proj:
    "relu" for v1.0's DenseReluDense, "gated-gelu" for v1.1's gated one), the ids shift-right uses.
    scale_embedding (BART: token embeddings times sqrt(E)); tie_word_embeddings (T5: tied head
    scaled by E^-0.5, untied head `lm_head.weight` not scaled); num_buckets and max_distance (T5's
    relative position buckets).
    """

    heads: int
    layers: int
    eps: float
    activation: str
    pad_token_id: int
    decoder_start_token_id: int
    scale_embedding: bool = False
    tie_word_embeddings: bool = True
    num_buckets: int = 32
    max_distance: int = 128


def check_seq2seq(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    decoder_input_ids: torch.Tensor | None,
    labels: torch.Tensor | None,
    vocab: int,
) -> None:
    """ValueError naming the argument unless the ids, mask and labels fit (MODEL-IO-03)."""
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (B, S), got shape {tuple(input_ids.shape)}")
    if attention_mask.shape != input_ids.shape or attention_mask.dtype != torch.bool:
        raise ValueError(f"attention_mask must be a bool tensor of shape {tuple(input_ids.shape)} (B, S)")
    if decoder_input_ids is None and labels is None:
        raise ValueError("decoder_input_ids or labels must be given (labels are shifted right into decoder inputs)")
    for name, ids in (("input_ids", input_ids), ("decoder_input_ids", decoder_input_ids)):
        if ids is not None and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
            raise ValueError(f"{name} must lie in [0, {vocab - 1}], got values in [{int(ids.min())}, {int(ids.max())}]")
    if labels is not None:
        if labels.dim() != 2 or labels.shape[0] != input_ids.shape[0]:
            raise ValueError(f"labels must be (B, T) with B={input_ids.shape[0]}, got shape {tuple(labels.shape)}")
        if decoder_input_ids is not None and decoder_input_ids.shape != labels.shape:
            raise ValueError(
                f"labels must have the shape of decoder_input_ids {tuple(decoder_input_ids.shape)}, "
                f"got {tuple(labels.shape)}"
            )
        counted = labels[labels != -100]
        if counted.numel() and (int(counted.min()) < 0 or int(counted.max()) >= vocab):
            raise ValueError(f"labels must lie in [0, {vocab - 1}] or equal -100")


def seq2seq_loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """CE of logits (B, T, V) against labels (B, T), NOT shifted, -100 ignored, mean over counted tokens.

    The unshifted masked-LM loss of LOSS-MLM-01, with LOSS-CE-04's ignored positions.
    Clauses: MODEL-S2S-02.
    """
    from specformer.reference.losses import masked_lm_loss

    return None if labels is None else masked_lm_loss(logits, labels)


def decoder_inputs(
    decoder_input_ids: torch.Tensor | None, labels: torch.Tensor | None, config: Seq2SeqConfig
) -> torch.Tensor:
    """The given decoder inputs, else the labels shifted right (OBJ-SHIFT-01). Clauses: MODEL-S2S-01."""
    from specformer.reference.objectives import shift_tokens_right

    if decoder_input_ids is not None:
        return decoder_input_ids
    return shift_tokens_right(
        labels, pad_token_id=config.pad_token_id, decoder_start_token_id=config.decoder_start_token_id
    )


BART_POSITION_OFFSET = 2  # BartLearnedPositionalEmbedding: row p + 2 holds position p


def _bart_attention(state: dict[str, torch.Tensor], prefix: str, heads: int) -> MultiHeadWeights:
    (q, qb), (k, kb), (v, vb), (o, ob) = (_linear(state, f"{prefix}.{n}_proj") for n in ("q", "k", "v", "out"))
    return MultiHeadWeights(q, k, v, o, qb, kb, vb, ob, heads=heads)


def _bart_ffn(state: dict[str, torch.Tensor], prefix: str, activation: str) -> FeedForwardWeights:
    return FeedForwardWeights(*_linear(state, f"{prefix}.fc1"), *_linear(state, f"{prefix}.fc2"), activation)


def bart_encoder_layer_weights(state: dict[str, torch.Tensor], index: int, config: Seq2SeqConfig):
    """BartForConditionalGeneration's `model.encoder.layers.{index}.*` as EncoderLayerWeights."""
    p = f"model.encoder.layers.{index}"
    return EncoderLayerWeights(
        _bart_attention(state, f"{p}.self_attn", config.heads),
        LayerNormWeights(*_linear(state, f"{p}.self_attn_layer_norm"), config.eps),
        _bart_ffn(state, p, config.activation),
        LayerNormWeights(*_linear(state, f"{p}.final_layer_norm"), config.eps),
    )


def bart_decoder_layer_weights(state: dict[str, torch.Tensor], index: int, config: Seq2SeqConfig):
    """BartForConditionalGeneration's `model.decoder.layers.{index}.*` as CrossDecoderLayerWeights."""
    p = f"model.decoder.layers.{index}"
    return CrossDecoderLayerWeights(
        _bart_attention(state, f"{p}.self_attn", config.heads),
        LayerNormWeights(*_linear(state, f"{p}.self_attn_layer_norm"), config.eps),
        _bart_attention(state, f"{p}.encoder_attn", config.heads),
        LayerNormWeights(*_linear(state, f"{p}.encoder_attn_layer_norm"), config.eps),
        _bart_ffn(state, p, config.activation),
        LayerNormWeights(*_linear(state, f"{p}.final_layer_norm"), config.eps),
    )


def bart_embedding(ids: torch.Tensor, state: dict[str, torch.Tensor], stack: str, config: Seq2SeqConfig):
    """layernorm_embedding(shared[ids] * (sqrt(E) if scale_embedding) + positions[p + 2]), (B, L) -> (B, L, E).

    Positions count from 0 at the first slot (the model takes no position ids).

    Clauses: MODEL-BART-01, MODEL-BART-02.
    """
    shared = state["model.shared.weight"]  # (V, E)
    table = state[f"model.{stack}.embed_positions.weight"]  # (positions + 2, E)
    if ids.shape[1] + BART_POSITION_OFFSET > table.shape[0]:
        raise ValueError(
            f"{'input_ids' if stack == 'encoder' else 'decoder_input_ids'}: {ids.shape[1]} positions exceed "
            f"the table's {table.shape[0] - BART_POSITION_OFFSET}"
        )
    scale = math.sqrt(shared.shape[1]) if config.scale_embedding else 1.0
    positions = torch.arange(ids.shape[1]) + BART_POSITION_OFFSET  # subtle: row 0 and 1 are never read
    hidden = shared[ids] * scale + table[positions]  # (B, L, E)
    return LayerNormWeights(*_linear(state, f"model.{stack}.layernorm_embedding"), config.eps)(hidden)


def bart_for_conditional_generation(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    state: dict[str, torch.Tensor],
    config: Seq2SeqConfig,
    *,
    decoder_input_ids: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """BartForConditionalGeneration from its state dict: (encoder output, logits, loss).

    Encoder: bart_embedding, then post-LN encoder layers (MODEL-ENC-01). Decoder: bart_embedding,
    then post-LN decoder layers with cross-attention (MODEL-XATTN-01), every one reading the
    encoder's final output. Logits: the tied head (shared embedding, never scaled) plus
    final_logits_bias. The decoder's own padding is not masked (no decoder_attention_mask).

    Clauses: MODEL-BART-01, MODEL-BART-02, MODEL-S2S-01..03, MODEL-ENCDEC-02, MODEL-ENCDEC-03, MODEL-IO-03.
    """
    shared = state["model.shared.weight"]  # (V, E)
    check_seq2seq(input_ids, attention_mask, decoder_input_ids, labels, shared.shape[0])
    decoder_input_ids = decoder_inputs(decoder_input_ids, labels, config)
    memory = bart_embedding(input_ids, state, "encoder", config)  # (B, S, E)
    for i in range(config.layers):
        memory = encoder_layer(memory, bart_encoder_layer_weights(state, i, config), padding_mask=attention_mask)
    hidden = bart_embedding(decoder_input_ids, state, "decoder", config)  # (B, T, E)
    for i in range(config.layers):
        layer = bart_decoder_layer_weights(state, i, config)
        hidden = cross_decoder_layer(hidden, memory, layer, memory_padding_mask=attention_mask)
    logits = hidden @ shared.T + state["final_logits_bias"]  # (B, T, V); final_logits_bias is (1, V)
    return memory, logits, seq2seq_loss(logits, labels)


def t5_relative_position_bucket(
    relative_position: torch.Tensor, *, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
) -> torch.Tensor:
    """T5's bucket of each relative position (key position - query position), int64, same shape.

    Bidirectional (encoder): half the buckets for each sign, n = |rp|, and rp > 0 adds nb = num_buckets / 2.
    Unidirectional (decoder): n = max(-rp, 0) (keys after the query all fall in bucket 0), nb = num_buckets.
    Then, with max_exact = nb / 2:
        bucket = n                                                            if n < max_exact
        bucket = min(nb - 1, max_exact + floor(ln(n / max_exact) / ln(max_distance / max_exact)
                                               * (nb - max_exact)))          otherwise

    >>> t5_relative_position_bucket(torch.tensor([-20, -1, 0, 1, 20]), bidirectional=True).tolist()
    [10, 1, 0, 17, 26]
    >>> t5_relative_position_bucket(torch.tensor([-20, -1, 0, 1, 20]), bidirectional=False).tolist()
    [17, 1, 0, 0, 0]

    Clauses: MODEL-T5-02, MODEL-IO-03.
    """
    if relative_position.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"relative_position must be an integer tensor, got {relative_position.dtype}")
    half = num_buckets // 2 if bidirectional else num_buckets
    if num_buckets < (4 if bidirectional else 2) or half % 2:
        raise ValueError(
            f"num_buckets must be a multiple of {4 if bidirectional else 2} (at least that), got {num_buckets}"
        )
    max_exact = half // 2
    if max_distance <= max_exact:
        raise ValueError(f"max_distance must exceed the exact range {max_exact}, got {max_distance}")
    rp = relative_position.long()
    if bidirectional:
        offset, distance = (rp > 0).long() * half, rp.abs()
    else:
        offset, distance = torch.zeros_like(rp), (-rp).clamp(min=0)
    # subtle: float64 log; the clamp keeps log(0) out of the branch that is not taken
    ratio = distance.clamp(min=1).double() / max_exact
    large = max_exact + (torch.log(ratio) / math.log(max_distance / max_exact) * (half - max_exact)).long()
    return offset + torch.where(distance < max_exact, distance, large.clamp(max=half - 1))


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """T5LayerNorm: weight * x / sqrt(mean(x^2) + eps): no mean subtraction, no bias. Clauses: MODEL-T5-01."""
    return weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def t5_attention(
    hidden: torch.Tensor,
    state: dict[str, torch.Tensor],
    prefix: str,
    heads: int,
    bias: torch.Tensor,
    *,
    context: torch.Tensor | None = None,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """softmax(Q K^T + bias) V, no 1/sqrt(D) scaling, no projection biases; (B, L, E) -> (B, L, E).

    bias is (1, H, L, S) or 0 (cross-attention has none). Clauses: MODEL-T5-01.
    """
    source = hidden if context is None else context  # (B, S, E)
    q, k, v, o = (state[f"{prefix}.{n}.weight"] for n in ("q", "k", "v", "o"))
    query = split_heads(F.linear(hidden, q), heads)  # (B, H, L, D)
    key, value = split_heads(F.linear(source, k), heads), split_heads(F.linear(source, v), heads)  # (B, H, S, D)
    mask = torch.zeros(hidden.shape[0], heads, hidden.shape[1], source.shape[1], dtype=hidden.dtype) + bias
    if key_padding_mask is not None:
        mask = mask.masked_fill(~key_padding_mask[:, None, None, :], -math.inf)  # (B, H, L, S)
    attended = scaled_dot_product_attention(query, key, value, causal=causal, mask=mask, scale=1.0)
    return F.linear(merge_heads(attended), o)  # (B, L, E)


def t5_position_bias(
    state: dict[str, torch.Tensor], stack: str, queries: int, keys: int, config: Seq2SeqConfig
) -> torch.Tensor:
    """Layer 0's bias table at the buckets of (key - query): (1, H, L, S), shared by every layer of the stack.

    Clauses: MODEL-T5-01, MODEL-T5-02.
    """
    table = state[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]  # (buckets, H)
    relative = torch.arange(keys)[None, :] - torch.arange(queries)[:, None]  # (L, S)
    buckets = t5_relative_position_bucket(
        relative,
        bidirectional=stack == "encoder",
        num_buckets=config.num_buckets,
        max_distance=config.max_distance,
    )
    return table[buckets].permute(2, 0, 1)[None]  # (1, H, L, S)


T5_FEED_FORWARDS = ("relu", "gated-gelu")


def t5_feed_forward(hidden: torch.Tensor, state: dict[str, torch.Tensor], prefix: str, activation: str) -> torch.Tensor:
    """T5's feed-forward of the normed state (B, L, E) -> (B, L, E), no biases (`{prefix}.DenseReluDense.*`).

    "relu" (v1.0, T5DenseActDense):             wo relu(wi x)
    "gated-gelu" (v1.1, T5DenseGatedActDense):  wo (gelu_tanh(wi_0 x) * wi_1 x)

    Clauses: MODEL-T5-04.
    """
    p = f"{prefix}.DenseReluDense"  # the module keeps its v1.0 name in v1.1 checkpoints
    if activation == "relu":
        inner = F.relu(F.linear(hidden, state[f"{p}.wi.weight"]))  # (B, L, F)
    elif activation == "gated-gelu":
        # subtle: T5Config maps "gated-gelu" to gelu_new, the tanh form; the gate is wi_0, wi_1 stays linear
        gate = gelu(F.linear(hidden, state[f"{p}.wi_0.weight"]), "gelu_tanh")  # (B, L, F)
        inner = gate * F.linear(hidden, state[f"{p}.wi_1.weight"])  # (B, L, F)
    else:
        raise ValueError(f"activation must be one of {', '.join(T5_FEED_FORWARDS)} for T5, got {activation!r}")
    return F.linear(inner, state[f"{p}.wo.weight"])


def t5_for_conditional_generation(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    state: dict[str, torch.Tensor],
    config: Seq2SeqConfig,
    *,
    decoder_input_ids: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """T5ForConditionalGeneration (v1.0 or v1.1) from its state dict: (encoder output, logits, loss).

    Every sublayer is pre-norm with an RMS norm: x + Sublayer(rms_norm(x)); each stack ends with
    its final_layer_norm. Logits: the decoder output times E^-0.5 through the shared embedding
    when tied; through `lm_head.weight`, unscaled, when not.

    Clauses: MODEL-T5-01..04, MODEL-S2S-01..03, MODEL-ENCDEC-02, MODEL-ENCDEC-03, MODEL-IO-03.
    """
    if config.activation not in T5_FEED_FORWARDS:
        raise ValueError(f"activation must be one of {', '.join(T5_FEED_FORWARDS)} for T5, got {config.activation!r}")
    shared = state["shared.weight"]  # (V, E)
    check_seq2seq(input_ids, attention_mask, decoder_input_ids, labels, shared.shape[0])
    decoder_input_ids = decoder_inputs(decoder_input_ids, labels, config)
    norm = functools.partial(rms_norm, eps=config.eps)
    source_length, target_length = input_ids.shape[1], decoder_input_ids.shape[1]

    memory = shared[input_ids]  # (B, S, E): no position embeddings, no scaling
    bias = t5_position_bias(state, "encoder", source_length, source_length, config)
    for i in range(config.layers):
        p = f"encoder.block.{i}.layer"
        normed = norm(memory, state[f"{p}.0.layer_norm.weight"])
        memory = memory + t5_attention(
            normed, state, f"{p}.0.SelfAttention", config.heads, bias, key_padding_mask=attention_mask
        )
        normed = norm(memory, state[f"{p}.1.layer_norm.weight"])
        memory = memory + t5_feed_forward(normed, state, f"{p}.1", config.activation)
    memory = norm(memory, state["encoder.final_layer_norm.weight"])

    hidden = shared[decoder_input_ids]  # (B, T, E)
    bias = t5_position_bias(state, "decoder", target_length, target_length, config)
    for i in range(config.layers):
        p = f"decoder.block.{i}.layer"
        normed = norm(hidden, state[f"{p}.0.layer_norm.weight"])
        hidden = hidden + t5_attention(normed, state, f"{p}.0.SelfAttention", config.heads, bias, causal=True)
        normed = norm(hidden, state[f"{p}.1.layer_norm.weight"])
        hidden = hidden + t5_attention(
            normed, state, f"{p}.1.EncDecAttention", config.heads, 0.0, context=memory, key_padding_mask=attention_mask
        )
        normed = norm(hidden, state[f"{p}.2.layer_norm.weight"])
        hidden = hidden + t5_feed_forward(normed, state, f"{p}.2", config.activation)
    hidden = norm(hidden, state["decoder.final_layer_norm.weight"])  # (B, T, E)

    if config.tie_word_embeddings:
        logits = (hidden * shared.shape[1] ** -0.5) @ shared.T  # subtle: the tied head rescales by E^-0.5
    else:
        logits = hidden @ state["lm_head.weight"].T
    return memory, logits, seq2seq_loss(logits, labels)
