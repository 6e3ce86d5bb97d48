"""Benchmarks of the vision and audio families: patch embedding, a ViT forward, Whisper's log-mel.

- vision.patch_embedding: ViT-B/16's projection (3 x 16 x 16 -> 768) on a batch of 224 x 224
  images, float32; its fewest FLOPs are 2 * B * N * (C * P * P) * D.
- vision.vit_classify: a ViT-Ti/16-shaped classifier (D 192, 12 layers, 3 heads, MLP 768, 1000
  classes; random weights) on 224 x 224 images; FLOPs of the matmuls and the attention.
- audio.log_mel: 30 s of 16 kHz audio to (1, 80, 3000) features; the note gives seconds of audio
  featurised per second of wall time.

The note of each vision row gives images per second. After timing, each output is checked once
against the float64 reference (relative error below 1e-3 of its scale): a fast wrong answer is
not a result. On a CUDA device the same shapes run, with the bigger batch in `GPU_BATCH`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from specformer.conformance.bench.observe import starting
from specformer.conformance.bench.roofline import ceiling_for, measured_result_for
from specformer.conformance.bench.timer import POLICIES, time_cpu, time_on_device
from specformer.conformance.results import BenchmarkResult
from specformer.reference import audio as audio_reference
from specformer.reference import vision as vision_reference
from specformer.reference.vision import ViTConfig, ViTWeights

CPU_BATCH, GPU_BATCH = 8, 256
CPU_VIT_BATCH = 2  # a ViT-Ti forward is ~1.3 GFLOP per image: two keep a CPU run short
VIT_TINY = ViTConfig(
    image_size=224,
    patch_size=16,
    hidden_size=192,
    num_hidden_layers=12,
    num_attention_heads=3,
    intermediate_size=768,
    num_labels=1000,
)


def _close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    actual, expected = actual.detach().double().cpu(), expected.detach().double().cpu()
    if actual.shape != expected.shape:
        return False
    scale = float(expected.abs().max()) or 1.0
    return float((actual - expected).abs().max()) <= 1e-3 * scale


def _vit_flops(config: ViTConfig, batch: int) -> float:
    tokens = 1 + (config.image_size // config.patch_size) ** 2
    D, inner = config.hidden_size, config.intermediate_size
    patch = 2 * (tokens - 1) * config.num_channels * config.patch_size**2 * D
    per_layer = 2 * tokens * (4 * D * D + 2 * D * inner) + 4 * tokens * tokens * D
    return batch * (patch + config.num_hidden_layers * per_layer + 2 * D * config.num_labels)


def vision_benchmarks(
    adapter: Any, profile: str = "ci", *, device: str = "cpu", ceilings: dict[str, dict[str, Any]] | None = None
) -> list[BenchmarkResult]:
    """Time the adapter's patch_embedding and vit_classify (a LoadedAdapter), if it has them."""
    policy = POLICIES.get(profile, POLICIES["ci"])
    batch = GPU_BATCH if device.startswith("cuda") else CPU_BATCH
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, 224, 224, generator=generator)
    results = []
    patch_embedding = adapter.operation("patch_embedding")
    if patch_embedding is not None:
        weight = torch.randn(768, 3, 16, 16, generator=generator) / 16
        bias = torch.randn(768, generator=generator) / 10
        args = [t.to(device) for t in (images, weight, bias)]
        call = lambda: patch_embedding(*args)  # noqa: E731
        starting("vision.patch_embedding", {"batch": batch, "image": 224, "patch": 16})
        timing = time_on_device(call, device, policy)
        results.append(
            measured_result_for("vision", device, ceilings)(
                timing,
                call,
                name="vision.patch_embedding",
                params={"batch": batch, "image": 224, "patch": 16, "width": 768, "dtype": "float32"},
                note=f"{batch / timing.median_s:,.0f} images/s",
                flops=2.0 * batch * 196 * 768 * 768,
                ceiling=ceiling_for(torch.float32, compute_bound=True),
                correct=_close(
                    call(), vision_reference.patch_embedding(images.double(), weight.double(), bias.double())
                ),
            )
        )
    classify = adapter.operation("vit_classify")
    if classify is not None:
        weights = ViTWeights.random(VIT_TINY, generator)
        weights32 = weights.to(torch.float32)
        if device != "cpu":
            weights32 = ViTWeights(weights32.config, {k: v.to(device) for k, v in weights32.state.items()})
        vit_batch = batch if device.startswith("cuda") else CPU_VIT_BATCH
        inputs = images[:vit_batch].to(device)
        call = lambda: classify(inputs, weights32)  # noqa: E731
        starting("vision.vit_classify", {"batch": vit_batch, "shape": "ViT-Ti/16"})
        timing = time_on_device(call, device, policy)
        check = images[:2].double()
        results.append(
            measured_result_for("vision", device, ceilings)(
                timing,
                call,
                name="vision.vit_classify",
                params={"batch": vit_batch, "shape": "ViT-Ti/16", "width": 192, "layers": 12, "dtype": "float32"},
                note=f"{vit_batch / timing.median_s:,.1f} images/s",
                flops=_vit_flops(VIT_TINY, vit_batch),
                ceiling=ceiling_for(torch.float32, compute_bound=True),
                correct=_close(call()[:2], vision_reference.vit_classify(check, weights)),
            )
        )
    return results


def audio_benchmarks(
    adapter: Any, profile: str = "ci", *, device: str = "cpu", ceilings: dict[str, dict[str, Any]] | None = None
) -> list[BenchmarkResult]:
    """Time the adapter's log_mel on one 30 s clip (the front end runs on the CPU)."""
    log_mel = adapter.operation("log_mel")
    if log_mel is None:
        return []
    policy = POLICIES.get(profile, POLICIES["ci"])
    samples = audio_reference.CHUNK_SAMPLES
    t = torch.arange(samples, dtype=torch.float64) / audio_reference.SAMPLING_RATE
    generator = torch.Generator().manual_seed(0)
    clip = 0.3 * torch.sin(2 * math.pi * 440 * t) + 0.05 * torch.randn(
        samples, generator=generator, dtype=torch.float64
    )
    waves = [clip.float()]
    call = lambda: log_mel(waves, 80)  # noqa: E731
    starting("audio.log_mel", {"seconds": 30, "n_mels": 80})
    timing = time_cpu(call, policy)
    frames, n_fft = audio_reference.CHUNK_FRAMES, audio_reference.N_FFT
    flops = frames * (5 * n_fft * math.log2(n_fft) + 2 * 80 * (n_fft // 2 + 1))  # FFTs and the mel matmul
    return [
        measured_result_for("audio", "cpu", ceilings)(
            timing,
            call,
            name="audio.log_mel",
            params={"seconds": 30, "n_mels": 80, "dtype": "float32"},
            note=f"{30 / timing.median_s:,.0f} s of audio per second",
            flops=flops,
            ceiling=ceiling_for(torch.float32, compute_bound=True),
            correct=_close(call(), audio_reference.log_mel_spectrogram([clip], 80)),
        )
    ]
