"""Mutants of the models family: the reference adapter with one plausible bug each.

tests/test_mutants_objmodels.py runs the models suite on every mutant and checks that exactly
the clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import models
from specformer.reference.attention import (
    causal_mask,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    split_heads,
)


class _Mutant(Mutant):
    capabilities = reference_capabilities("models", "MODEL-")


class DecoderSeesTheFuture(_Mutant):
    """A decoder block without the causal mask."""

    breaks = (
        "MODEL-DEC-02",
        "MODEL-ACT-01",
        "MODEL-ACT-02",
        "MODEL-DEC-01",
        "MODEL-DEC-03",
        "MODEL-IO-02",
    )

    def decoder_block(self, hidden, weights, *, padding_mask=None):
        models.check_hidden(hidden, weights.attention.embed_dim, padding_mask)
        hidden = hidden + multi_head_attention(weights.norm_1(hidden), weights.attention, key_padding_mask=padding_mask)
        return hidden + weights.feed_forward(weights.norm_2(hidden))  # bug: causal=False above


class PositionIdsNotShiftedUnderLeftPadding(_Mutant):
    """GPT-2 positions 0..L-1 whatever the padding (GPT2Model.forward called without position_ids)."""

    breaks = ("MODEL-GPT2-02",)

    def gpt2_model(self, input_ids, attention_mask, state, config):
        original = models.position_ids_from_mask
        models.position_ids_from_mask = lambda mask: torch.arange(mask.shape[1]).expand(mask.shape)  # bug
        try:
            return super().gpt2_model(input_ids, attention_mask, state, config)
        finally:
            models.position_ids_from_mask = original


class PreLNEncoder(_Mutant):
    """An encoder layer with the LayerNorms before the sublayers (the GPT-2 arrangement)."""

    breaks = ("MODEL-ENC-01", "MODEL-ACT-01", "MODEL-ACT-02", "MODEL-ENC-02", "MODEL-IO-02")

    def encoder_layer(self, hidden, weights, *, padding_mask=None):
        models.check_hidden(hidden, weights.attention.embed_dim, padding_mask)
        attended = multi_head_attention(
            weights.attention_norm(hidden), weights.attention, key_padding_mask=padding_mask
        )
        hidden = hidden + attended  # bug: pre-LN
        return hidden + weights.feed_forward(weights.output_norm(hidden))


class TanhGeluEverywhere(_Mutant):
    """Uses the tanh approximation where the exact GELU is asked for (encoder layer)."""

    breaks = ("MODEL-ACT-01", "MODEL-ENC-01", "MODEL-ENC-02", "MODEL-IO-02")

    def encoder_layer(self, hidden, weights, *, padding_mask=None):
        ffn = dataclasses.replace(weights.feed_forward, activation="gelu_tanh")  # bug
        return super().encoder_layer(hidden, dataclasses.replace(weights, feed_forward=ffn), padding_mask=padding_mask)


class PaddedKeysAttended(_Mutant):
    """An encoder layer that ignores the padding mask."""

    breaks = ("MODEL-ENC-02", "MODEL-ENC-01")

    def encoder_layer(self, hidden, weights, *, padding_mask=None):
        models.check_hidden(hidden, weights.attention.embed_dim, padding_mask)
        return super().encoder_layer(hidden, weights, padding_mask=None)  # bug


class CrossAttentionIgnoresSourcePadding(_Mutant):
    """A cross-attention that reads padded source positions."""

    breaks = ("MODEL-XATTN-02", "MODEL-XATTN-01")

    def cross_decoder_layer(self, hidden, memory, weights, *, padding_mask=None, memory_padding_mask=None):
        return super().cross_decoder_layer(hidden, memory, weights, padding_mask=padding_mask)  # bug


class CausalCrossAttention(_Mutant):
    """Target position i cross-attends only to source positions <= i (a causal mask on cross-attention)."""

    breaks = ("MODEL-XATTN-01", "MODEL-XATTN-02")

    def cross_decoder_layer(self, hidden, memory, weights, *, padding_mask=None, memory_padding_mask=None):
        models.check_hidden(hidden, weights.self_attention.embed_dim, padding_mask)
        attended = multi_head_attention(hidden, weights.self_attention, causal=True, key_padding_mask=padding_mask)
        hidden = weights.self_norm(hidden + attended)
        cross = weights.cross_attention
        models.check_hidden(memory, cross.context_dim, memory_padding_mask, "memory")
        query = split_heads(F.linear(hidden, cross.query, cross.query_bias), cross.heads)  # (B, H, L, D)
        key = split_heads(F.linear(memory, cross.key, cross.key_bias), cross.heads)  # (B, H, S, D)
        value = split_heads(F.linear(memory, cross.value, cross.value_bias), cross.heads)
        allowed = causal_mask(hidden.shape[1], memory.shape[1], alignment="top-left")  # bug
        if memory_padding_mask is not None:
            allowed = allowed & memory_padding_mask[:, None, None, :]
        crossed = F.linear(
            merge_heads(scaled_dot_product_attention(query, key, value, mask=allowed)), cross.output, cross.output_bias
        )
        hidden = weights.cross_norm(hidden + crossed)
        return weights.output_norm(hidden + weights.feed_forward(hidden))


class DecoderReadsTheSameDepthEncoderLayer(_Mutant):
    """Decoder layer i cross-attends to encoder layer i's output instead of the final one."""

    breaks = ("MODEL-ENCDEC-01", "MODEL-ENCDEC-03")

    def encoder_decoder(
        self, source, target, encoder_layers, decoder_layers, *, source_padding_mask=None, target_padding_mask=None
    ):
        outputs, memory = [], source
        for layer in encoder_layers:
            memory = models.encoder_layer(memory, layer, padding_mask=source_padding_mask)
            outputs.append(memory)
        output = target
        for depth, layer in enumerate(decoder_layers):
            output = models.cross_decoder_layer(
                output, outputs[depth], layer, padding_mask=target_padding_mask, memory_padding_mask=source_padding_mask
            )  # bug: outputs[depth], not outputs[-1]
        return memory, output


class EncoderSeesTheDecoder(_Mutant):
    """Adds the mean target state to the source before encoding."""

    breaks = ("MODEL-ENCDEC-02", "MODEL-ENCDEC-01", "MODEL-ENCDEC-03")

    def encoder_decoder(self, source, target, encoder_layers, decoder_layers, **masks):
        leaked = source + 0.1 * target.mean(dim=1, keepdim=True)  # bug
        return super().encoder_decoder(leaked, target, encoder_layers, decoder_layers, **masks)


class BertWithTanhGelu(_Mutant):
    """Loads a BERT checkpoint with GPT-2's activation."""

    breaks = ("MODEL-BERT-01", "MODEL-BERT-02")

    def bert_model(self, input_ids, attention_mask, state, config):
        return super().bert_model(input_ids, attention_mask, state, dataclasses.replace(config, activation="gelu_tanh"))


class GPT2QueryKeySwapped(_Mutant):
    """Splits GPT-2's fused c_attn as [k | q | v]."""

    breaks = ("MODEL-GPT2-01", "MODEL-GPT2-02")

    def gpt2_model(self, input_ids, attention_mask, state, config):
        state = dict(state)
        for key in [k for k in state if k.endswith("attn.c_attn.weight") or k.endswith("attn.c_attn.bias")]:
            q, k, v = state[key].chunk(3, dim=-1)
            state[key] = torch.cat([k, q, v], dim=-1)  # bug
        return super().gpt2_model(input_ids, attention_mask, state, config)


class PaddingMaskBroadcast(_Mutant):
    """Broadcasts a padding mask of the wrong shape instead of rejecting it."""

    breaks = ("MODEL-IO-01",)

    def decoder_block(self, hidden, weights, *, padding_mask=None):
        if padding_mask is not None and padding_mask.shape != hidden.shape[:2]:
            padding_mask = padding_mask[:, : hidden.shape[1]]  # bug
        return super().decoder_block(hidden, weights, padding_mask=padding_mask)


class InputOverwritten(_Mutant):
    """Writes the encoder layer's output into its input tensor."""

    breaks = ("MODEL-IO-02",)

    def encoder_layer(self, hidden, weights, *, padding_mask=None):
        out = super().encoder_layer(hidden, weights, padding_mask=padding_mask)
        hidden.copy_(out)  # bug
        return hidden


ALL: tuple[type[_Mutant], ...] = (
    DecoderSeesTheFuture,
    PositionIdsNotShiftedUnderLeftPadding,
    PreLNEncoder,
    TanhGeluEverywhere,
    PaddedKeysAttended,
    CrossAttentionIgnoresSourcePadding,
    CausalCrossAttention,
    DecoderReadsTheSameDepthEncoderLayer,
    EncoderSeesTheDecoder,
    BertWithTanhGelu,
    GPT2QueryKeySwapped,
    PaddingMaskBroadcast,
    InputOverwritten,
)
