"""Mutants of the vision family: the reference adapter with one plausible bug each.

tests/test_mutants_vision.py runs the vision suite on every mutant and checks that exactly the
clauses in `breaks` fail (the first one is the clause the bug targets).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from specformer.conformance.adapters.protocols import Capabilities
from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import vision
from specformer.reference.vision import ViTEmbeddingWeights


class _Mutant(Mutant):
    capabilities = reference_capabilities("vision", "VIS-")


def _column_major_patches(images: torch.Tensor, patch: int) -> torch.Tensor:
    B, C, H, W = images.shape
    grid = images.reshape(B, C, H // patch, patch, W // patch, patch)
    grid = grid.permute(0, 4, 2, 1, 3, 5)  # bug: (B, w, h, ...): columns outermost
    return grid.reshape(B, -1, C * patch * patch)


class PatchesColumnMajor(_Mutant):
    """Flattens the patch grid column by column (a transpose of raster order)."""

    breaks = ("VIS-PATCH-01", "VIS-PATCH-02")

    def patch_embedding(self, images, weight, bias):
        vision.patch_embedding(images, weight, bias)  # keeps the checks
        D = weight.shape[0]
        return _column_major_patches(images, weight.shape[-1]) @ weight.reshape(D, -1).T + bias


class PartialPatchesDropped(_Mutant):
    """Lets a strided convolution drop the pixels that do not fill a patch (no size check)."""

    breaks = ("VIS-PATCH-03",)

    def patch_embedding(self, images, weight, bias):
        P = weight.shape[-1]
        H, W = images.shape[-2:]
        if H < P or W < P:
            raise RuntimeError("Kernel size can't be greater than actual input size")  # what Conv2d says
        return vision.patch_embedding(images[..., : H - H % P, : W - W % P], weight, bias)  # bug: crops silently


class GrayscaleExpanded(_Mutant):
    """Repeats a single channel to the model's channel count instead of rejecting it."""

    breaks = ("VIS-PATCH-04",)

    def patch_embedding(self, images, weight, bias):
        channels = weight.shape[1]
        if images.shape[1] != channels:
            images = images[:, :1].expand(-1, channels, -1, -1)  # bug
        return vision.patch_embedding(images, weight, bias)


class ClsAppended(_Mutant):
    """Appends [CLS] after the patches instead of prepending it."""

    breaks = ("VIS-CLS-01", "VIS-CLS-02", "VIS-POS-01", "VIS-POS-04")

    def vit_embeddings(self, images, weights, *, interpolate=False):
        expected = vision.vit_embeddings(images, weights, interpolate=interpolate)
        tokens = vision.patch_embedding(images, weights.patch_weight, weights.patch_bias)
        cls = weights.cls_token.reshape(1, 1, -1).expand(tokens.shape[0], 1, -1)
        position = expected - vision.vit_embeddings(images, _no_positions(weights), interpolate=interpolate)
        return torch.cat([tokens, cls], dim=1) + position  # bug: [CLS] last


class ClsFromImage(_Mutant):
    """Starts [CLS] from the mean patch token instead of the learned vector alone."""

    breaks = ("VIS-CLS-01", "VIS-CLS-02", "VIS-POS-01", "VIS-POS-04")

    def vit_embeddings(self, images, weights, *, interpolate=False):
        out = vision.vit_embeddings(images, weights, interpolate=interpolate).clone()
        out[:, 0] += vision.patch_embedding(images, weights.patch_weight, weights.patch_bias).mean(dim=1)  # bug
        return out


def _no_positions(weights: ViTEmbeddingWeights) -> ViTEmbeddingWeights:
    return dataclasses.replace(weights, position=torch.zeros_like(weights.position))


class PositionsBeforeCls(_Mutant):
    """Adds the first N position rows to the patches, then prepends [CLS] without a position."""

    breaks = ("VIS-POS-01", "VIS-POS-04")

    def vit_embeddings(self, images, weights, *, interpolate=False):
        with_positions = vision.vit_embeddings(images, weights, interpolate=interpolate)
        without = vision.vit_embeddings(images, _no_positions(weights), interpolate=interpolate)
        position = (with_positions - without)[:1]  # (1, 1 + N, D)
        shifted = without.clone()
        shifted[:, 1:] += position[:, :-1]  # bug: rows 0 .. N-1 on the patches, none on [CLS]
        return shifted


class SizeMismatchInterpolatedSilently(_Mutant):
    """Interpolates the table whenever the image size differs, instead of raising."""

    breaks = ("VIS-POS-02",)

    def vit_embeddings(self, images, weights, *, interpolate=False):
        return vision.vit_embeddings(images, weights, interpolate=True)  # bug: never raises


class PositionsResampledAs1D(_Mutant):
    """Resamples the whole table, [CLS] row included, as one 1-D sequence."""

    breaks = ("VIS-POS-03", "VIS-POS-04", "VIS-POS-06")

    def interpolate_position_embeddings(self, position, source_grid, target_grid):
        if tuple(source_grid) == tuple(target_grid):
            return position.clone()
        rows = 1 + target_grid[0] * target_grid[1]
        sequence = position.T.unsqueeze(0)  # (1, D, 1 + N0)
        return F.interpolate(sequence, size=rows, mode="linear", align_corners=False)[0].T  # bug


class InterpolationHeightWidthSwapped(_Mutant):
    """Resizes the grid to (w, h) and reads it back as h rows of w."""

    breaks = ("VIS-POS-06",)

    def interpolate_position_embeddings(self, position, source_grid, target_grid):
        h, w = target_grid
        swapped = vision.interpolate_position_embeddings(position, source_grid, (w, h))  # bug
        return swapped


class ScaleFactorWhileDeclaringBicubic(_Mutant):
    """Uses the old DINO scale_factor (+0.1) rule while declaring transformers' size rule."""

    breaks = ("VIS-POS-04", "VIS-POS-05", "VIS-POS-06")

    def interpolate_position_embeddings(self, position, source_grid, target_grid):
        (h0, w0), (h, w) = source_grid, target_grid
        grid = position[1:].reshape(1, h0, w0, -1).permute(0, 3, 1, 2)
        factors = ((h + 0.1) / h0, (w + 0.1) / w0)
        grid = F.interpolate(grid, scale_factor=factors, mode="bicubic", align_corners=False)  # bug, even at 1x
        return torch.cat([position[:1], grid.permute(0, 2, 3, 1).reshape(h * w, -1)])


class EncoderPostLayerNorm(_Mutant):
    """Normalises after each residual sum (post-LN, the original Transformer) instead of before."""

    breaks = ("VIS-ENC-01", "VIS-POOL-01")

    def vit_encode(self, images, weights):
        config, s = weights.config, weights.state
        D, eps = config.hidden_size, config.layer_norm_eps
        x = vision.vit_embeddings(images, weights.embedding_weights())
        for i in range(config.num_hidden_layers):
            p = f"vit.layers.{i}."
            x = x + vision.self_attention(x, s, p + "attention.", config.num_attention_heads)
            x = F.layer_norm(x, (D,), s[p + "layernorm_before.weight"], s[p + "layernorm_before.bias"], eps)  # bug
            hidden = F.gelu(F.linear(x, s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"]))
            x = x + F.linear(hidden, s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"])
            x = F.layer_norm(x, (D,), s[p + "layernorm_after.weight"], s[p + "layernorm_after.bias"], eps)
        return F.layer_norm(x, (D,), s["vit.layernorm.weight"], s["vit.layernorm.bias"], eps)

    def vit_classify(self, images, weights):
        pooled = self.vit_encode(images, weights)[:, 0]
        return F.linear(pooled, weights.state["classifier.weight"], weights.state["classifier.bias"])


class PoolingReadsLastToken(_Mutant):
    """Classifies from the last token, as a decoder reads its last position."""

    breaks = ("VIS-ENC-01", "VIS-POOL-01", "VIS-POOL-02", "VIS-POOL-03")  # ENC-01: the generic layout case

    def vit_classify(self, images, weights):
        pooled = vision.vit_encode(images, weights)[:, -1]  # bug
        return F.linear(pooled, weights.state["classifier.weight"], weights.state["classifier.bias"])


class MeanPoolingIncludesCls(_Mutant):
    """Declares timm's mean pooling but averages [CLS] in with the patch tokens."""

    breaks = ("VIS-POOL-01",)
    capabilities = Capabilities(
        families=frozenset({"vision"}), dtypes=_Mutant.capabilities.dtypes, variants={"VIS-POOL-01": "mean"}
    )

    def vit_classify(self, images, weights):
        pooled = vision.vit_encode(images, weights).mean(dim=1)  # bug: [CLS] included
        return F.linear(pooled, weights.state["classifier.weight"], weights.state["classifier.bias"])


class ConvNextNormBeforePooling(_Mutant):
    """Normalises every position over channels, then averages (the order of ViT's final LN)."""

    breaks = ("VIS-CNX-01",)

    def convnext_head(self, features, weights):
        per_position = features.permute(0, 2, 3, 1)  # (B, h, w, C)
        C = per_position.shape[-1]
        normed = F.layer_norm(per_position, (C,), weights.norm_weight, weights.norm_bias, weights.eps)  # bug
        return F.linear(normed.mean(dim=(1, 2)), weights.classifier_weight, weights.classifier_bias)


class ConvNextReadsFirstPosition(_Mutant):
    """Takes the top-left position as if it were a [CLS] token instead of pooling."""

    breaks = ("VIS-CNX-01", "VIS-CNX-02")

    def convnext_head(self, features, weights):
        corner = features[:, :, :1, :1]  # bug: (B, C, 1, 1)
        return vision.convnext_head(corner, weights)


class NormaliseBeforeRescale(_Mutant):
    """Applies (x - mean) / std to raw 0..255 pixels and divides by 255 afterwards."""

    breaks = ("VIS-PRE-01", "VIS-PRE-02")

    def preprocess(self, images, size, mean, std):
        correct = vision.preprocess(images, size, mean, std, dtype=torch.float64)
        channels = len(mean)
        mean_t = torch.tensor(mean, dtype=torch.float64).reshape(1, channels, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float64).reshape(1, channels, 1, 1)
        pixels = correct * std_t + mean_t  # back to x / 255
        return (((pixels * 255) - mean_t) / std_t / 255).float()  # bug: normalise first


class ResizeSkipped(_Mutant):
    """Returns images at their input size, ignoring the configured size."""

    breaks = ("VIS-PRE-02",)

    def preprocess(self, images, size, mean, std):
        return vision.preprocess(images, tuple(images.shape[1:3]), mean, std)  # bug


class ZeroStdAccepted(_Mutant):
    """Divides by a zero std without complaint."""

    breaks = ("VIS-PRE-03",)

    def preprocess(self, images, size, mean, std):
        if len(mean) == len(std) == images.shape[-1] and any(s == 0 for s in std):
            safe = tuple(s if s else 1.0 for s in std)
            out = vision.preprocess(images, size, mean, safe)
            out[:, [i for i, s in enumerate(std) if s == 0]] = float("inf")  # bug
            return out
        return vision.preprocess(images, size, mean, std)


ALL: tuple[type[_Mutant], ...] = (
    PatchesColumnMajor,
    PartialPatchesDropped,
    GrayscaleExpanded,
    ClsAppended,
    ClsFromImage,
    PositionsBeforeCls,
    SizeMismatchInterpolatedSilently,
    PositionsResampledAs1D,
    InterpolationHeightWidthSwapped,
    ScaleFactorWhileDeclaringBicubic,
    EncoderPostLayerNorm,
    PoolingReadsLastToken,
    MeanPoolingIncludesCls,
    ConvNextNormBeforePooling,
    ConvNextReadsFirstPosition,
    NormaliseBeforeRescale,
    ResizeSkipped,
    ZeroStdAccepted,
)
