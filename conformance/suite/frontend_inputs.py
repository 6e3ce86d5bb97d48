"""Input builders for the vision and audio suites (test_vision.py, test_audio.py).

Images: random, constant, gradients, checkerboards and a single bright patch, at several sizes,
plus the layouts a lazy suite never tries (a slice of a larger batch, a transposed view).
Audio: silence, sine sweeps, white noise, clipped signals, impulses, at lengths shorter and
longer than 30 s. Everything comes from a fixed seed through a torch.Generator, in float64; the
tests hand the adapter float32 copies.

Also here: `assert_invariant`, the check for "the output does not change when ..." properties,
which compares two outputs of the adapter with each other under the numerical policy.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from specformer.conformance.numerics import fail, max_abs_error, tolerance_for

SAMPLE_RATE = 16_000
IMAGE_KINDS = ("random", "constant", "gradient", "checkerboard", "bright-patch")
AUDIO_KINDS = ("silence", "sweep", "noise", "clipped", "impulses")


def image(kind: str, batch: int, channels: int, height: int, width: int, seed: int = 0, patch: int = 4) -> torch.Tensor:
    """(B, C, H, W) float64 images of one kind."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, channels, height, width)
    if kind == "random":
        return torch.randn(*shape, generator=generator, dtype=torch.float64)
    if kind == "constant":
        return torch.full(shape, 0.7, dtype=torch.float64)
    rows = torch.arange(height, dtype=torch.float64).reshape(1, 1, height, 1)
    cols = torch.arange(width, dtype=torch.float64).reshape(1, 1, 1, width)
    if kind == "gradient":
        return (rows / height + 2 * cols / width).expand(shape).clone()
    if kind == "checkerboard":
        return ((rows // 2 + cols // 2) % 2).expand(shape).clone() * 2 - 1
    if kind == "bright-patch":
        images = torch.zeros(shape, dtype=torch.float64)
        images[:, :, patch : 2 * patch, patch : 2 * patch] = 1.0  # the patch at grid (1, 1)
        return images
    raise ValueError(f"kind must be one of {', '.join(IMAGE_KINDS)}; got {kind!r}")


def layout(images: torch.Tensor, how: str) -> torch.Tensor:
    """The same values in another memory layout: 'contiguous', 'batch-slice', 'transposed'."""
    if how == "contiguous":
        return images
    if how == "batch-slice":
        bigger = torch.cat([images, images.flip(0), images])  # (3B, C, H, W)
        return bigger[images.shape[0] : 2 * images.shape[0]].flip(0)  # a view into the middle
    if how == "transposed":
        return images.transpose(-1, -2).contiguous().transpose(-1, -2)  # strides of a (W, H) buffer
    raise ValueError(f"how must be contiguous, batch-slice or transposed; got {how!r}")


def permute_patches(images: torch.Tensor, patch: int, order: torch.Tensor) -> torch.Tensor:
    """Move whole P x P blocks: block `order[i]` (raster index) goes to raster position i."""
    B, C, H, W = images.shape
    h, w = H // patch, W // patch
    blocks = images.reshape(B, C, h, patch, w, patch).permute(0, 2, 4, 1, 3, 5).reshape(B, h * w, C, patch, patch)
    blocks = blocks[:, order]  # (B, N, C, P, P)
    grid = blocks.reshape(B, h, w, C, patch, patch).permute(0, 3, 1, 4, 2, 5)  # (B, C, h, P, w, P)
    return grid.reshape(B, C, H, W)


def waveform(kind: str, samples: int, seed: int = 0) -> torch.Tensor:
    """(S,) float64 16 kHz audio of one kind, at most 1.0 in magnitude."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples, dtype=torch.float64) / SAMPLE_RATE
    if kind == "silence":
        return torch.zeros(samples, dtype=torch.float64)
    if kind == "sweep":
        # a log sweep from 50 Hz to 7.5 kHz over the clip (or 30 s, whichever is shorter)
        duration = max(samples / SAMPLE_RATE, 1e-3)
        ratio = math.log(7500 / 50)
        return 0.5 * torch.sin(2 * math.pi * 50 * duration / ratio * (torch.exp(ratio * t / duration) - 1))
    if kind == "noise":
        return 0.1 * torch.randn(samples, generator=generator, dtype=torch.float64)
    if kind == "clipped":
        return (3.0 * torch.sin(2 * math.pi * 440 * t)).clamp(-1.0, 1.0)
    if kind == "impulses":
        signal = torch.zeros(samples, dtype=torch.float64)
        signal[:: SAMPLE_RATE // 4] = 1.0  # four clicks a second
        return signal
    raise ValueError(f"kind must be one of {', '.join(AUDIO_KINDS)}; got {kind!r}")


def assert_invariant(
    changed: torch.Tensor, original: torch.Tensor, reference_error: float, *, what: str, **evidence: Any
) -> None:
    """Two outputs of the same adapter must agree to the tolerance the policy allows for its dtype
    (`reference_error` is the reference's own error in that dtype on the same inputs)."""
    if changed.shape != original.shape:
        fail(f"{what}: shape {tuple(changed.shape)} after the change, {tuple(original.shape)} before")
    error = max_abs_error(changed, original.double())
    tolerance = tolerance_for(changed.dtype, 2 * reference_error)
    if error > tolerance:
        fail(
            f"{what}: outputs differ by {error:.3g} (tolerance {tolerance:.3g})",
            error=error,
            tolerance=tolerance,
            **evidence,
        )
