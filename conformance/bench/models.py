"""Benchmarks of the objectives and models families: collator throughput, layer forwards.

    objectives.mlm_mask        BERT's MLM corruption of a batch of 256 sequences x 512 tokens
                               (vocabulary 30,522, the BERT-base size); the row's
                               `sequences_per_s` param is batch / median time
    models.encoder_layer       one post-LN encoder layer forward, BERT-base shapes (width 768,
                               12 heads, feed-forward 3072) on 8 x 512 tokens, float32
    models.decoder_block       one pre-LN causal block forward (GPT-2 small shapes), same sizes
    models.bart_for_conditional_generation / models.t5_for_conditional_generation
                               a whole encoder-decoder forward (source and target ids to logits)
                               of a small model (width 256, 4 heads, feed-forward 1024, 2 + 2
                               layers, vocabulary 8,192) on 4 x 256 source and 4 x 64 target
                               tokens, float32, from one state dict (the adapter builds its model
                               once per state dict)

Layer rows carry the FLOPs a layer must do (projections 8 B L E^2, attention scores and mix
4 B L^2 E, feed-forward 4 B L E F) against the measured matmul ceiling; the collator has no
FLOP or byte-traffic bound worth the name (it draws random numbers) and shows n/a. Each timed
output is checked once: a layer against the float64 reference (max error within 1e-3, loose
enough for float32 BERT-base shapes and tight enough to refuse a wrong layer), a masking
against the invariants the suite checks exactly (specials untouched, labels the original ids
where selected and -100 elsewhere, a selection rate near 15%).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from specformer.conformance.bench.observe import starting
from specformer.conformance.bench.roofline import ceiling_for, measured_result_for
from specformer.conformance.bench.timer import POLICIES, time_cpu, time_on_device
from specformer.conformance.results import BenchmarkResult
from specformer.reference import models as reference
from specformer.reference.models import DecoderBlockWeights, EncoderLayerWeights

MLM_BATCH, MLM_LENGTH, MLM_VOCAB, MLM_MASK_ID = 256, 512, 30_522, 103
LAYER_BATCH, LAYER_LENGTH, WIDTH, HEADS, INNER = 8, 512, 768, 12, 3072
QUICK = {"mlm": (64, 512), "layer": (1, 128)}  # (batch, length) under the quick profile
SEQ2SEQ_WIDTH, SEQ2SEQ_HEADS, SEQ2SEQ_INNER, SEQ2SEQ_LAYERS, SEQ2SEQ_VOCAB = 256, 4, 1024, 2, 8192
SEQ2SEQ_SIZES = {"quick": (1, 64, 16), "ci": (4, 256, 64)}  # (batch, source length, target length)


def objectives_benchmarks(
    adapter: Any, profile: str = "ci", *, device: str = "cpu", ceilings: dict[str, dict[str, Any]] | None = None
) -> list[BenchmarkResult]:
    """Time the adapter's (a LoadedAdapter) mlm_mask on a BERT-sized batch; CPU only."""
    op = adapter.operation("mlm_mask")
    if op is None:
        return []
    batch, length = QUICK["mlm"] if profile == "quick" else (MLM_BATCH, MLM_LENGTH)
    ids = torch.randint(1000, MLM_VOCAB, (batch, length), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
    special = (ids == 101) | (ids == 102)

    def call():
        return op(
            ids, special, mask_token_id=MLM_MASK_ID, vocab_size=MLM_VOCAB, generator=torch.Generator().manual_seed(1)
        )

    starting("objectives.mlm_mask", {"batch": batch, "length": length})
    timing = time_cpu(call, POLICIES.get(profile, POLICIES["ci"]))
    return [
        measured_result_for("objectives", "cpu", ceilings)(
            timing,
            call,
            name="objectives.mlm_mask",
            params={
                "batch": batch,
                "length": length,
                "vocab": MLM_VOCAB,
                "sequences_per_s": round(batch / timing.median_s, 1),
            },
            note="throughput in sequences per second; no roofline ceiling applies (n/a)",
            correct=mlm_output_is_valid(ids, special, *call()),
        )
    ]


def mlm_output_is_valid(ids: torch.Tensor, special: torch.Tensor, inputs: torch.Tensor, labels: torch.Tensor) -> bool:
    selected = labels != -100
    rate = float(selected[~special].float().mean())
    return bool(
        inputs.shape == ids.shape
        and not selected[special].any()
        and torch.equal(inputs[special], ids[special])
        and torch.equal(labels[selected], ids[selected])
        and torch.equal(inputs[~selected], ids[~selected])
        and 0.13 < rate < 0.17
    )


def models_benchmarks(
    adapter: Any, profile: str = "ci", *, device: str = "cpu", ceilings: dict[str, dict[str, Any]] | None = None
) -> list[BenchmarkResult]:
    """The layer rows, then the whole encoder-decoder rows."""
    layers = layer_benchmarks(adapter, profile, device=device, ceilings=ceilings)
    return layers + seq2seq_benchmarks(adapter, profile, device=device, ceilings=ceilings)


def layer_benchmarks(
    adapter: Any, profile: str = "ci", *, device: str = "cpu", ceilings: dict[str, dict[str, Any]] | None = None
) -> list[BenchmarkResult]:
    """Time the adapter's encoder_layer and decoder_block forwards, float32, on `device`."""
    batch, length = QUICK["layer"] if profile == "quick" else (LAYER_BATCH, LAYER_LENGTH)
    generator = torch.Generator().manual_seed(0)
    hidden64 = torch.randn(batch, length, WIDTH, generator=generator, dtype=torch.float64)
    layers = {
        "encoder_layer": (EncoderLayerWeights.random(WIDTH, HEADS, INNER, generator), reference.encoder_layer),
        "decoder_block": (DecoderBlockWeights.random(WIDTH, HEADS, INNER, generator), reference.decoder_block),
    }
    flops = 8.0 * batch * length * WIDTH**2 + 4.0 * batch * length**2 * WIDTH + 4.0 * batch * length * WIDTH * INNER
    results = []
    for name, (weights64, expected) in layers.items():
        op = adapter.operation(name)
        if op is None:
            continue
        hidden, weights = hidden64.float().to(device), _to(weights64.to(torch.float32), device)
        call = lambda op=op, hidden=hidden, weights=weights: op(hidden, weights)  # noqa: E731
        starting(f"models.{name}", {"batch": batch, "length": length, "width": WIDTH})
        timing = time_on_device(call, device, POLICIES.get(profile, POLICIES["ci"]))
        error = float((call().double().cpu() - expected(hidden64, weights64)).abs().max())
        results.append(
            measured_result_for("models", device, ceilings)(
                timing,
                call,
                name=f"models.{name}",
                params={"batch": batch, "length": length, "width": WIDTH, "heads": HEADS, "inner": INNER},
                flops=flops,
                ceiling=ceiling_for(torch.float32, compute_bound=True),
                note=f"max error against the float64 reference {error:.1e}",
                correct=error <= 1e-3,
            )
        )
    return results


def _seq2seq_flops(batch: int, source: int, target: int) -> float:
    """Matmul FLOPs of the forward: per layer projections 8 N E^2 (+ 8 T E^2 for cross-attention
    in the decoder, keys and values over S), scores and mix 4 N L E, feed-forward 4 N E F; the
    head 2 B T E V."""
    e, f, layers = SEQ2SEQ_WIDTH, SEQ2SEQ_INNER, SEQ2SEQ_LAYERS
    encoder = layers * batch * source * (8 * e * e + 4 * source * e + 4 * e * f)
    cross = 4 * batch * target * e * e + 4 * batch * source * e * e + 4 * batch * target * source * e
    decoder = layers * (batch * target * (8 * e * e + 4 * target * e + 4 * e * f) + cross)
    return float(encoder + decoder + 2 * batch * target * e * SEQ2SEQ_VOCAB)


def seq2seq_benchmarks(
    adapter: Any, profile: str = "ci", *, device: str = "cpu", ceilings: dict[str, dict[str, Any]] | None = None
) -> list[BenchmarkResult]:
    """Time the adapter's BART and T5 forwards (ids to logits), float32, on `device`."""
    from specformer.conformance.suite import models_inputs

    batch, source, target = SEQ2SEQ_SIZES["quick" if profile == "quick" else "ci"]
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, SEQ2SEQ_VOCAB, (batch, source), generator=generator)
    decoder_ids = torch.randint(3, SEQ2SEQ_VOCAB, (batch, target), generator=generator)
    mask = torch.ones(batch, source, dtype=torch.bool)
    sizes = {"vocab": SEQ2SEQ_VOCAB, "width": SEQ2SEQ_WIDTH, "inner": SEQ2SEQ_INNER, "layers": SEQ2SEQ_LAYERS}
    models = {
        "bart_for_conditional_generation": (
            models_inputs.bart_state_dict(0, positions=max(source, target), **sizes),
            models_inputs.BART_CONFIG,
            reference.bart_for_conditional_generation,
        ),
        "t5_for_conditional_generation": (
            models_inputs.t5_state_dict(0, **sizes),
            models_inputs.T5_CONFIG,
            reference.t5_for_conditional_generation,
        ),
    }
    results = []
    for name, (state64, config, expected) in models.items():
        op = adapter.operation(name)
        if op is None:
            continue
        config = replace(config, heads=SEQ2SEQ_HEADS, layers=SEQ2SEQ_LAYERS)
        state = {key: value.float().to(device) for key, value in state64.items()}
        inputs = ids.to(device), mask.to(device), decoder_ids.to(device)
        call = lambda op=op, state=state, config=config, inputs=inputs: op(  # noqa: E731
            inputs[0], inputs[1], state, config, decoder_input_ids=inputs[2]
        )[1]
        starting(f"models.{name}", {"batch": batch, "source": source, "target": target})
        timing = time_on_device(call, device, POLICIES.get(profile, POLICIES["ci"]))
        oracle = expected(ids, mask, state64, config, decoder_input_ids=decoder_ids)[1]
        error = float((call().double().cpu() - oracle).abs().max())
        results.append(
            measured_result_for("models", device, ceilings)(
                timing,
                call,
                name=f"models.{name}",
                params={"batch": batch, "source": source, "target": target, **sizes, "heads": SEQ2SEQ_HEADS},
                flops=_seq2seq_flops(batch, source, target),
                ceiling=ceiling_for(torch.float32, compute_bound=True),
                note=f"max logit error against the float64 reference {error:.1e}",
                correct=error <= 1e-3,
            )
        )
    return results


def _to(weights, device: str):
    if device == "cpu":
        return weights
    import dataclasses

    moved = {}
    for field in dataclasses.fields(weights):
        value = getattr(weights, field.name)
        moved[field.name] = value.to(device) if isinstance(value, torch.Tensor) else _to_nested(value, device)
    return dataclasses.replace(weights, **moved)


def _to_nested(value, device: str):
    import dataclasses

    if dataclasses.is_dataclass(value):
        return _to(value, device)
    return value
