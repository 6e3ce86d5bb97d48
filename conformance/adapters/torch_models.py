"""The torch adapter's models family: PyTorch's transformer layers, in evaluation mode.

- `encoder_layer`: nn.TransformerEncoderLayer(norm_first=False, batch_first=True), BERT's
  post-LN layer (in evaluation mode it may take its fused "fast path"; outputs at padded
  positions are then zeros, which the spec leaves unspecified).
- `decoder_block`: nn.TransformerEncoderLayer(norm_first=True) with a causal mask: GPT-2's
  pre-LN block (PyTorch's "decoder" layer is the post-LN one with cross-attention).
- `cross_decoder_layer`: nn.TransformerDecoderLayer(norm_first=False).
- `encoder_decoder`: nn.TransformerEncoder and nn.TransformerDecoder without final norms (what
  nn.Transformer assembles; nn.Transformer itself always adds a final LayerNorm to both stacks,
  which the spec's stack does not have).

Activations: "gelu" is the layer's built-in F.gelu; "gelu_tanh" is passed as a callable
F.gelu(x, approximate="tanh"). Each LayerNorm gets the epsilon of its weights. Key padding
masks are inverted (PyTorch's True means "ignore").

Whole models from Hugging Face state dicts, each built once per state dict object and config:
- `bert_model`: F.embedding (words + positions 0.. + token type 0) and F.layer_norm, then one
  nn.TransformerEncoderLayer(norm_first=False, activation="gelu": the exact erf GELU, BERT's
  "gelu") per layer, every LayerNorm with the config's epsilon.
- `gpt2_model`: F.embedding (wte + wpe at positions counted over real tokens, cumsum(mask) - 1:
  the adapter's own, as generate() passes them), one nn.TransformerEncoderLayer(norm_first=True)
  per block with a causal mask (PyTorch has no pre-LN decoder layer without cross-attention) and
  activation F.gelu(approximate="tanh") (GPT-2's gelu_new; the layer's string "gelu" would be
  the exact form), then F.layer_norm (ln_f). Conv1D weights are transposed into nn.Linear layout.
- `bart_for_conditional_generation`: PyTorch's post-LN layers with F.embedding / F.layer_norm
  around them (its layers are the ones nn.Transformer has).
- `t5_for_conditional_generation`: none of T5's sublayers is a PyTorch layer (nn.MultiheadAttention
  always scales by 1/sqrt(D) and takes no additive bias per head; the nn.Transformer layers have a
  LayerNorm, mean subtracted and with a bias, where T5 has an RMS norm), so T5 is assembled from
  PyTorch's functional pieces: F.rms_norm, F.scaled_dot_product_attention(scale=1.0) with the
  relative position bias and the masks as one additive float mask, F.linear, F.relu or
  F.gelu(approximate="tanh") for the gated feed-forward, F.cross_entropy. The bucket formula is
  not a PyTorch function: the adapter takes the reference's `t5_relative_position_bucket` for the
  bias table's lookup and does not offer the bucket operation itself (MODEL-T5-02 unsupported).
"""

from __future__ import annotations

import functools
import warnings

import torch
import torch.nn.functional as F

from specformer.conformance.adapters.from_reference import PerModelAndKey
from specformer.reference.attention import MultiHeadWeights
from specformer.reference.models import (
    CrossDecoderLayerWeights,
    DecoderBlockWeights,
    EncoderLayerWeights,
    FeedForwardWeights,
    LayerNormWeights,
    ModelConfig,
    Seq2SeqConfig,
    bart_decoder_layer_weights,
    bart_encoder_layer_weights,
    bert_layer_weights,
    check_hidden,
    gpt2_block_weights,
    t5_relative_position_bucket,
)


def _activation(name: str):
    if name == "gelu":
        return "gelu"
    if name == "gelu_tanh":
        return functools.partial(F.gelu, approximate="tanh")
    raise ValueError(f"activation must be gelu or gelu_tanh, got {name!r}")


def _copy_attention(module: torch.nn.MultiheadAttention, weights: MultiHeadWeights) -> None:
    module.in_proj_weight.copy_(torch.cat([weights.query, weights.key, weights.value]))
    module.in_proj_bias.copy_(torch.cat([weights.query_bias, weights.key_bias, weights.value_bias]))
    module.out_proj.weight.copy_(weights.output)
    module.out_proj.bias.copy_(weights.output_bias)


def _copy_norm(module: torch.nn.LayerNorm, norm: LayerNormWeights) -> None:
    module.weight.copy_(norm.weight)
    module.bias.copy_(norm.bias)
    module.eps = norm.eps


def _copy_ffn(layer: torch.nn.Module, ffn: FeedForwardWeights) -> None:
    layer.linear1.weight.copy_(ffn.inner)
    layer.linear1.bias.copy_(ffn.inner_bias)
    layer.linear2.weight.copy_(ffn.outer)
    layer.linear2.bias.copy_(ffn.outer_bias)


def _ignore(mask: torch.Tensor | None) -> torch.Tensor | None:
    return None if mask is None else ~mask


def _encoder_module(weights: EncoderLayerWeights | DecoderBlockWeights, dtype: torch.dtype, *, norm_first: bool):
    attention, ffn = weights.attention, weights.feed_forward
    layer = torch.nn.TransformerEncoderLayer(
        attention.embed_dim,
        attention.heads,
        dim_feedforward=ffn.inner.shape[0],
        dropout=0.0,
        activation=_activation(ffn.activation),
        batch_first=True,
        norm_first=norm_first,
        dtype=dtype,
    ).eval()
    first, second = (
        (weights.norm_1, weights.norm_2) if norm_first else (weights.attention_norm, weights.output_norm)  # type: ignore[union-attr]
    )
    with torch.no_grad():
        _copy_attention(layer.self_attn, attention)
        _copy_ffn(layer, ffn)
        _copy_norm(layer.norm1, first)
        _copy_norm(layer.norm2, second)
    return layer


def _decoder_module(weights: CrossDecoderLayerWeights, dtype: torch.dtype):
    ffn = weights.feed_forward
    layer = torch.nn.TransformerDecoderLayer(
        weights.self_attention.embed_dim,
        weights.self_attention.heads,
        dim_feedforward=ffn.inner.shape[0],
        dropout=0.0,
        activation=_activation(ffn.activation),
        batch_first=True,
        norm_first=False,
        dtype=dtype,
    ).eval()
    with torch.no_grad():
        _copy_attention(layer.self_attn, weights.self_attention)
        _copy_attention(layer.multihead_attn, weights.cross_attention)
        _copy_ffn(layer, ffn)
        _copy_norm(layer.norm1, weights.self_norm)
        _copy_norm(layer.norm2, weights.cross_norm)
        _copy_norm(layer.norm3, weights.output_norm)
    return layer


_BUILT: PerModelAndKey[torch.nn.Module] = PerModelAndKey(size=64)


def _built(weights, dtype: torch.dtype, build):
    """The module built from `weights` in `dtype`, once per weights object (building costs more
    than a forward at the suite's sizes, and would dominate the benchmarks)."""
    return _BUILT.get(weights, dtype, lambda: build(weights, dtype))


_BART_BUILT: PerModelAndKey[tuple[list, list]] = PerModelAndKey(size=8)


def _bart_layers(state: dict[str, torch.Tensor], config: Seq2SeqConfig):
    """BART's encoder and decoder layers as PyTorch modules, built once per state dict object and config."""

    def build() -> tuple[list, list]:
        dtype = state["model.shared.weight"].dtype
        return (
            [
                _encoder_module(bart_encoder_layer_weights(state, i, config), dtype, norm_first=False)
                for i in range(config.layers)
            ],
            [_decoder_module(bart_decoder_layer_weights(state, i, config), dtype) for i in range(config.layers)],
        )

    return _BART_BUILT.get(state, config, build)


_WHOLE_BUILT: PerModelAndKey[list] = PerModelAndKey(size=8)


def _whole_layers(state: dict[str, torch.Tensor], config: ModelConfig, layer_weights, *, norm_first: bool):
    """The PyTorch layers of a BERT (post-LN) or GPT-2 (pre-LN) state dict, once per state dict object and config."""

    def build() -> list:
        dtype = next(iter(state.values())).dtype
        return [
            _encoder_module(layer_weights(state, i, config), dtype, norm_first=norm_first) for i in range(config.layers)
        ]

    return _WHOLE_BUILT.get(state, config, build)


def _check_ids(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (B, L), got shape {tuple(input_ids.shape)}")
    if attention_mask.shape != input_ids.shape or attention_mask.dtype != torch.bool:
        raise ValueError(f"attention_mask must be a bool tensor of shape {tuple(input_ids.shape)} (B, L)")


def _decoder_inputs(
    decoder_input_ids: torch.Tensor | None, labels: torch.Tensor | None, config: Seq2SeqConfig
) -> torch.Tensor:
    """The given decoder inputs, else the labels shifted right by this adapter's own code (BART's and T5's):
    the start token first, the last label dropped, -100 replaced by the pad id."""
    if decoder_input_ids is not None:
        return decoder_input_ids
    if labels is None:
        raise ValueError("decoder_input_ids or labels must be given")
    start = torch.full_like(labels[:, :1], config.decoder_start_token_id)
    shifted = torch.cat([start, labels[:, :-1]], 1)  # (B, T)
    return shifted.masked_fill(shifted == -100, config.pad_token_id)


def _loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """Cross-entropy of logits (B, T, V) against the unshifted labels (B, T), -100 ignored."""
    return None if labels is None else F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)


def _causal(length: int) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool).triu(1)  # True = may not attend


class TorchModels:
    """Mixin of TorchAdapter."""

    def encoder_layer(
        self, hidden: torch.Tensor, weights: EncoderLayerWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_hidden(hidden, weights.attention.embed_dim, padding_mask)
        layer = _built(weights, hidden.dtype, functools.partial(_encoder_module, norm_first=False))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the nested-tensor fast path's notices
            return layer(hidden, src_key_padding_mask=_ignore(padding_mask))

    def decoder_block(
        self, hidden: torch.Tensor, weights: DecoderBlockWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_hidden(hidden, weights.attention.embed_dim, padding_mask)
        layer = _built(weights, hidden.dtype, functools.partial(_encoder_module, norm_first=True))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return layer(
                hidden, src_mask=_causal(hidden.shape[1]), is_causal=True, src_key_padding_mask=_ignore(padding_mask)
            )

    def cross_decoder_layer(
        self,
        hidden: torch.Tensor,
        memory: torch.Tensor,
        weights: CrossDecoderLayerWeights,
        *,
        padding_mask: torch.Tensor | None = None,
        memory_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        check_hidden(hidden, weights.self_attention.embed_dim, padding_mask)
        check_hidden(memory, weights.cross_attention.context_dim, memory_padding_mask, "memory")
        layer = _built(weights, hidden.dtype, _decoder_module)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return layer(
                hidden,
                memory,
                tgt_mask=_causal(hidden.shape[1]),
                tgt_is_causal=True,
                tgt_key_padding_mask=_ignore(padding_mask),
                memory_key_padding_mask=_ignore(memory_padding_mask),
            )

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
        encoder = torch.nn.TransformerEncoder(
            _encoder_module(encoder_layers[0], source.dtype, norm_first=False),
            len(encoder_layers),
            enable_nested_tensor=False,
        ).eval()
        decoder = torch.nn.TransformerDecoder(_decoder_module(decoder_layers[0], target.dtype), len(decoder_layers))
        decoder = decoder.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # TransformerEncoder/Decoder deep-copy one layer: load each copy with its own weights
            for module, weights in zip(encoder.layers, encoder_layers, strict=True):
                module.load_state_dict(_encoder_module(weights, source.dtype, norm_first=False).state_dict())
                module.norm1.eps, module.norm2.eps = weights.attention_norm.eps, weights.output_norm.eps
            for module, weights in zip(decoder.layers, decoder_layers, strict=True):
                module.load_state_dict(_decoder_module(weights, target.dtype).state_dict())
                module.norm1.eps, module.norm2.eps = weights.self_norm.eps, weights.cross_norm.eps
                module.norm3.eps = weights.output_norm.eps
            memory = encoder(source, src_key_padding_mask=_ignore(source_padding_mask))
            output = decoder(
                target,
                memory,
                tgt_mask=_causal(target.shape[1]),
                tgt_is_causal=True,
                tgt_key_padding_mask=_ignore(target_padding_mask),
                memory_key_padding_mask=_ignore(source_padding_mask),
            )
        return memory, output

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
        """BART from nn.TransformerEncoderLayer / nn.TransformerDecoderLayer (post-LN), F.embedding,
        F.layer_norm, F.linear and F.cross_entropy; the shift of the labels is this adapter's own."""
        shared = state["model.shared.weight"]
        decoder_input_ids = _decoder_inputs(decoder_input_ids, labels, config)
        scale = shared.shape[1] ** 0.5 if config.scale_embedding else 1.0

        def embed(ids: torch.Tensor, stack: str) -> torch.Tensor:
            positions = state[f"model.{stack}.embed_positions.weight"][2 : ids.shape[1] + 2]  # BART's offset of 2
            norm = (state[f"model.{stack}.layernorm_embedding.{n}"] for n in ("weight", "bias"))
            return F.layer_norm(F.embedding(ids, shared) * scale + positions, shared.shape[1:], *norm, config.eps)

        ignore = ~attention_mask
        encoders, decoders = _bart_layers(state, config)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the nested-tensor fast-path notice
            memory = embed(input_ids, "encoder")
            for layer in encoders:
                memory = layer(memory, src_key_padding_mask=ignore)
            hidden = embed(decoder_input_ids, "decoder")
            for layer in decoders:
                causal = _causal(hidden.shape[1])
                hidden = layer(hidden, memory, tgt_mask=causal, tgt_is_causal=True, memory_key_padding_mask=ignore)
            logits = F.linear(hidden, shared, state["final_logits_bias"][0])
        return memory, logits, _loss(logits, labels)

    def bert_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        """BertModel's last hidden state from F.embedding, F.layer_norm and nn.TransformerEncoderLayer (post-LN)."""
        _check_ids(input_ids, attention_mask)
        words = state["embeddings.word_embeddings.weight"]  # (V, E)
        positions = torch.arange(input_ids.shape[1])
        token_types = torch.zeros_like(input_ids)  # BertModel's default: every token in segment 0
        norm = (state[f"embeddings.LayerNorm.{n}"] for n in ("weight", "bias"))
        layers = _whole_layers(state, config, bert_layer_weights, norm_first=False)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fast path's notices
            hidden = (
                F.embedding(input_ids, words)
                + F.embedding(positions, state["embeddings.position_embeddings.weight"])
                + F.embedding(token_types, state["embeddings.token_type_embeddings.weight"])
            )  # (B, L, E)
            hidden = F.layer_norm(hidden, words.shape[1:], *norm, config.eps)
            for layer in layers:
                hidden = layer(hidden, src_key_padding_mask=~attention_mask)
        return hidden

    def gpt2_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        """GPT2Model's last hidden state from F.embedding, nn.TransformerEncoderLayer (pre-LN, causal
        mask) and F.layer_norm; positions counted over real tokens (cumsum(mask) - 1)."""
        _check_ids(input_ids, attention_mask)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, L): left padding shifts nothing
        table = state["wpe.weight"]
        if int(positions.max()) >= table.shape[0]:
            raise ValueError(f"input_ids: {int(positions.max()) + 1} positions exceed the table's {table.shape[0]}")
        layers = _whole_layers(state, config, gpt2_block_weights, norm_first=True)
        causal = _causal(input_ids.shape[1])
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hidden = F.embedding(input_ids, state["wte.weight"]) + F.embedding(positions, table)  # (B, L, E)
            for layer in layers:
                hidden = layer(hidden, src_mask=causal, is_causal=True, src_key_padding_mask=~attention_mask)
            norm = (state[f"ln_f.{n}"] for n in ("weight", "bias"))
            return F.layer_norm(hidden, hidden.shape[-1:], *norm, config.eps)

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
        """T5 (v1.0 or v1.1) from F.rms_norm, F.scaled_dot_product_attention(scale=1.0), F.linear and
        F.cross_entropy; the shift of the labels is this adapter's own, as BART's."""
        if config.activation not in ("relu", "gated-gelu"):
            raise ValueError(f"activation must be relu or gated-gelu for T5, got {config.activation!r}")
        decoder_input_ids = _decoder_inputs(decoder_input_ids, labels, config)
        shared = state["shared.weight"]  # (V, E)
        with torch.no_grad():
            memory = self._t5_stack(state, config, "encoder", F.embedding(input_ids, shared), attention_mask)
            hidden = self._t5_stack(
                state, config, "decoder", F.embedding(decoder_input_ids, shared), attention_mask, memory=memory
            )
            if config.tie_word_embeddings:
                logits = F.linear(hidden * shared.shape[1] ** -0.5, shared)  # Mesh TensorFlow's rescaling
            else:
                logits = F.linear(hidden, state["lm_head.weight"])
        return memory, logits, _loss(logits, labels)

    @staticmethod
    def _t5_stack(state, config: Seq2SeqConfig, stack: str, hidden, source_mask, *, memory=None):
        """One T5 stack, pre-norm sublayers x + f(rms_norm(x)), then the stack's final norm; (B, L, E)."""
        heads, width = config.heads, hidden.shape[-1]
        norm = functools.partial(F.rms_norm, normalized_shape=(width,), eps=config.eps)
        length = hidden.shape[1]
        relative = torch.arange(length)[None, :] - torch.arange(length)[:, None]  # (L, L): key - query
        buckets = t5_relative_position_bucket(
            relative, bidirectional=memory is None, num_buckets=config.num_buckets, max_distance=config.max_distance
        )
        table = state[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]  # (buckets, H)
        bias = F.embedding(buckets, table).permute(2, 0, 1)[None].to(hidden.dtype)  # (1, H, L, L)
        padding = torch.zeros(source_mask.shape, dtype=hidden.dtype).masked_fill(~source_mask, -torch.inf)
        padding = padding[:, None, None, :]  # (B, 1, 1, S)
        if memory is None:
            self_mask = bias + padding  # the encoder: bidirectional, padded keys masked
        else:
            causal = torch.zeros(length, length, dtype=hidden.dtype).masked_fill(_causal(length), -torch.inf)
            self_mask = bias + causal  # the decoder's own padding is not masked (it comes after its real tokens)

        def attention(x, prefix, mask, context=None):
            source = x if context is None else context
            q, k, v, o = (state[f"{prefix}.{n}.weight"] for n in ("q", "k", "v", "o"))
            split = lambda t: t.unflatten(-1, (heads, -1)).transpose(1, 2)  # noqa: E731  (B, H, L, D)
            attended = F.scaled_dot_product_attention(
                split(F.linear(x, q)), split(F.linear(source, k)), split(F.linear(source, v)), attn_mask=mask, scale=1.0
            )
            return F.linear(attended.transpose(1, 2).flatten(2), o)  # (B, L, E)

        def feed_forward(x, prefix):
            p = f"{prefix}.DenseReluDense"
            if config.activation == "relu":
                return F.linear(F.relu(F.linear(x, state[f"{p}.wi.weight"])), state[f"{p}.wo.weight"])
            gate = F.gelu(F.linear(x, state[f"{p}.wi_0.weight"]), approximate="tanh")
            return F.linear(gate * F.linear(x, state[f"{p}.wi_1.weight"]), state[f"{p}.wo.weight"])

        for i in range(config.layers):
            p = f"{stack}.block.{i}.layer"
            hidden = hidden + attention(
                norm(hidden, weight=state[f"{p}.0.layer_norm.weight"]), f"{p}.0.SelfAttention", self_mask
            )
            ffn = 1
            if memory is not None:
                normed = norm(hidden, weight=state[f"{p}.1.layer_norm.weight"])
                hidden = hidden + attention(normed, f"{p}.1.EncDecAttention", padding, memory)  # no bias
                ffn = 2
            hidden = hidden + feed_forward(norm(hidden, weight=state[f"{p}.{ffn}.layer_norm.weight"]), f"{p}.{ffn}")
        return norm(hidden, weight=state[f"{stack}.final_layer_norm.weight"])
