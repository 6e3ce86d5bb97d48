"""Mutants of the models family: the reference adapter with one plausible bug each.

tests/test_mutants_objmodels.py runs the models suite on every mutant and checks that exactly
the clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import contextlib
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


# ---------------------------------------------------------------------------------------
# Encoder-decoders for conditional generation (BART, T5)

_SEQ2SEQ = ("bart_for_conditional_generation", "t5_for_conditional_generation")
# The clauses whose tests compare either encoder-decoder's encoder output and logits with the reference's
# on padded sources and whole targets: a bug in what a model computes in both of its stacks fails them
# all, with its model's own -01 clauses (one that spares the encoder or the padding spares some of them).
SEQ2SEQ_OUTPUT_CLAUSES = ("MODEL-S2S-01", "MODEL-S2S-03", "MODEL-ENCDEC-02", "MODEL-ENCDEC-03", "MODEL-IO-02")
T5_OUTPUT_CLAUSES = ("MODEL-T5-01", "MODEL-T5-03", *SEQ2SEQ_OUTPUT_CLAUSES)


@contextlib.contextmanager
def _patched(**replacements):
    """Replace module globals of specformer.reference.models for one call (the bug), then restore them."""
    originals = {name: getattr(models, name) for name in replacements}
    for name, value in replacements.items():
        setattr(models, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(models, name, value)


class _Seq2SeqMutant(_Mutant):
    """Both encoder-decoders run under `patches()`, the bug's replaced reference globals."""

    def patches(self) -> dict:
        return {}

    def bart_for_conditional_generation(self, *args, **kwargs):
        with _patched(**self.patches()):
            return super().bart_for_conditional_generation(*args, **kwargs)

    def t5_for_conditional_generation(self, *args, **kwargs):
        with _patched(**self.patches()):
            return super().t5_for_conditional_generation(*args, **kwargs)


class BartPositionsWithoutOffset(_Seq2SeqMutant):
    """Reads BART's position table at row p, not p + 2."""

    breaks = ("MODEL-BART-01", "MODEL-BART-02", *SEQ2SEQ_OUTPUT_CLAUSES)

    def patches(self) -> dict:
        return {"BART_POSITION_OFFSET": 0}  # bug


class BartEmbeddingNotScaled(_Mutant):
    """Ignores scale_embedding."""

    breaks = ("MODEL-BART-02",)

    def bart_for_conditional_generation(self, input_ids, attention_mask, state, config, **kwargs):
        config = dataclasses.replace(config, scale_embedding=False)  # bug
        return super().bart_for_conditional_generation(input_ids, attention_mask, state, config, **kwargs)


def _flipped_buckets(relative_position, *, bidirectional, num_buckets=32, max_distance=128):
    if not bidirectional:  # bug: max(r, 0) instead of max(-r, 0): keys before the query fall in bucket 0
        relative_position = -relative_position
    return _BUCKETS(relative_position, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance)


_BUCKETS = models.t5_relative_position_bucket


class T5DecoderBucketSignFlipped(_Seq2SeqMutant):
    """The decoder's unidirectional buckets count keys after the query instead of before it."""

    breaks = (
        "MODEL-T5-02",
        "MODEL-T5-01",
        "MODEL-T5-03",
        "MODEL-S2S-01",
        "MODEL-S2S-03",
        "MODEL-ENCDEC-03",
        "MODEL-IO-02",
    )

    def patches(self) -> dict:
        return {"t5_relative_position_bucket": _flipped_buckets}

    def t5_relative_position_bucket(self, relative_position, **kwargs):
        return _flipped_buckets(relative_position, **kwargs)


class T5AttentionScaled(_Seq2SeqMutant):
    """T5 attention scaled by 1/sqrt(D), as every other model's."""

    breaks = T5_OUTPUT_CLAUSES

    def patches(self) -> dict:
        sdpa = models.scaled_dot_product_attention
        return {"scaled_dot_product_attention": lambda *a, scale=None, **k: sdpa(*a, **k)}  # bug: scale dropped


class T5TiedHeadNotRescaled(_Seq2SeqMutant):
    """The tied T5 head without the E^-0.5 factor."""

    breaks = ("MODEL-T5-03", "MODEL-T5-01", "MODEL-S2S-01", "MODEL-S2S-03", "MODEL-ENCDEC-03", "MODEL-IO-02")

    def t5_for_conditional_generation(self, input_ids, attention_mask, state, config, **kwargs):
        if config.tie_word_embeddings:  # bug: an untied head made of the shared embedding, unscaled
            state = {**state, "lm_head.weight": state["shared.weight"]}
            config = dataclasses.replace(config, tie_word_embeddings=False)
        return super().t5_for_conditional_generation(input_ids, attention_mask, state, config, **kwargs)


class T5LayerNormWithMean(_Seq2SeqMutant):
    """T5LayerNorm as a LayerNorm: the mean subtracted before the scale."""

    breaks = T5_OUTPUT_CLAUSES

    def patches(self) -> dict:
        return {"rms_norm": lambda x, weight, eps: weight * F.layer_norm(x, x.shape[-1:], eps=eps)}  # bug


class T5BiasOnlyInTheFirstLayer(_Seq2SeqMutant):
    """The relative position bias added in block 0 only, not reused by the later blocks."""

    breaks = T5_OUTPUT_CLAUSES

    def patches(self) -> dict:
        attention = models.t5_attention

        def first_layer_only(hidden, state, prefix, heads, bias, **kwargs):
            first = ".block.0." in prefix
            return attention(hidden, state, prefix, heads, bias if first else 0.0, **kwargs)  # bug

        return {"t5_attention": first_layer_only}


class LabelsNotShifted(_Seq2SeqMutant):
    """Feeds the labels (-100 as pad) to the decoder without the shift."""

    breaks = ("MODEL-S2S-01",)

    def patches(self) -> dict:
        def unshifted(decoder_input_ids, labels, config):
            if decoder_input_ids is not None:
                return decoder_input_ids
            return labels.masked_fill(labels == -100, config.pad_token_id)  # bug

        return {"decoder_inputs": unshifted}


class Seq2SeqLossShifted(_Seq2SeqMutant):
    """Shifts the labels again in the loss, as the causal-LM loss does."""

    breaks = ("MODEL-S2S-02",)

    def patches(self) -> dict:
        from specformer.reference.losses import causal_lm_loss

        return {"seq2seq_loss": lambda logits, labels: None if labels is None else causal_lm_loss(logits, labels)}


class SourcePaddingIgnored(_Seq2SeqMutant):
    """Runs the encoder and the cross-attention as if every source position were real."""

    breaks = (
        "MODEL-S2S-03",
        "MODEL-BART-01",
        "MODEL-BART-02",
        "MODEL-T5-01",
        "MODEL-T5-03",
        "MODEL-S2S-01",
        "MODEL-ENCDEC-02",
    )

    def bart_for_conditional_generation(self, input_ids, attention_mask, state, config, **kwargs):
        models.check_seq2seq(input_ids, attention_mask, kwargs.get("decoder_input_ids"), kwargs.get("labels"), 1 << 30)
        everything = torch.ones_like(attention_mask)  # bug
        return super().bart_for_conditional_generation(input_ids, everything, state, config, **kwargs)

    def t5_for_conditional_generation(self, input_ids, attention_mask, state, config, **kwargs):
        models.check_seq2seq(input_ids, attention_mask, kwargs.get("decoder_input_ids"), kwargs.get("labels"), 1 << 30)
        everything = torch.ones_like(attention_mask)  # bug
        return super().t5_for_conditional_generation(input_ids, everything, state, config, **kwargs)


class SourceMaskBroadcast(_Seq2SeqMutant):
    """Broadcasts a (1, S) source mask over the batch instead of rejecting it."""

    breaks = ("MODEL-IO-03",)

    def bart_for_conditional_generation(self, input_ids, attention_mask, state, config, **kwargs):
        attention_mask = attention_mask.expand(input_ids.shape)  # bug
        return super().bart_for_conditional_generation(input_ids, attention_mask, state, config, **kwargs)

    def t5_for_conditional_generation(self, input_ids, attention_mask, state, config, **kwargs):
        attention_mask = attention_mask.expand(input_ids.shape)  # bug
        return super().t5_for_conditional_generation(input_ids, attention_mask, state, config, **kwargs)


_T5_FEED_FORWARD = models.t5_feed_forward


def _gate_swapped(hidden, state, prefix, activation):
    if activation == "gated-gelu":  # bug: the GELU on wi_1 (the linear branch), wi_0 left linear
        p = f"{prefix}.DenseReluDense"
        state = {**state, f"{p}.wi_0.weight": state[f"{p}.wi_1.weight"], f"{p}.wi_1.weight": state[f"{p}.wi_0.weight"]}
    return _T5_FEED_FORWARD(hidden, state, prefix, activation)


def _gated_exact_gelu(hidden, state, prefix, activation):
    if activation != "gated-gelu":
        return _T5_FEED_FORWARD(hidden, state, prefix, activation)
    p = f"{prefix}.DenseReluDense"
    gate = models.gelu(F.linear(hidden, state[f"{p}.wi_0.weight"]), "gelu")  # bug: ACT2FN["gelu"], not gelu_new
    return F.linear(gate * F.linear(hidden, state[f"{p}.wi_1.weight"]), state[f"{p}.wo.weight"])


class T5GateAndUpSwapped(_Seq2SeqMutant):
    """v1.1's gated feed-forward with the GELU on wi_1 instead of wi_0 (same shapes, other function)."""

    breaks = ("MODEL-T5-04", "MODEL-T5-03")

    def patches(self) -> dict:
        return {"t5_feed_forward": _gate_swapped}


class T5GatedExactGelu(_Seq2SeqMutant):
    """v1.1's gate through the exact GELU, where T5Config maps "gated-gelu" to gelu_new (tanh)."""

    breaks = ("MODEL-T5-04", "MODEL-T5-03")

    def patches(self) -> dict:
        return {"t5_feed_forward": _gated_exact_gelu}


class T5UntiedHeadRescaled(_Mutant):
    """The E^-0.5 rescaling applied to an untied (v1.1) head too."""

    breaks = ("MODEL-T5-03",)

    def t5_for_conditional_generation(self, input_ids, attention_mask, state, config, **kwargs):
        if not config.tie_word_embeddings:  # bug: rescaled as if tied
            width = state["shared.weight"].shape[1]
            state = {**state, "lm_head.weight": state["lm_head.weight"] * width**-0.5}
        return super().t5_for_conditional_generation(input_ids, attention_mask, state, config, **kwargs)


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
    BartPositionsWithoutOffset,
    BartEmbeddingNotScaled,
    T5DecoderBucketSignFlipped,
    T5AttentionScaled,
    T5TiedHeadNotRescaled,
    T5LayerNormWithMean,
    T5BiasOnlyInTheFirstLayer,
    LabelsNotShifted,
    Seq2SeqLossShifted,
    SourcePaddingIgnored,
    SourceMaskBroadcast,
    T5GateAndUpSwapped,
    T5GatedExactGelu,
    T5UntiedHeadRescaled,
)
