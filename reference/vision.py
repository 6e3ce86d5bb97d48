"""Reference vision front end: ViT patches, [CLS] and positions, a ViT classifier, ConvNeXt's head.

Shapes: B batch, C channels, H x W image, P patch size, h x w = (H/P) x (W/P) patch grid,
N = h*w patches, D width, K classes, T = N + 1 tokens.

- Patches (VIS-PATCH-*): cut the image into P x P blocks in raster order, flatten each one as
  (C, P, P) and apply one linear map; written out with reshapes so a reader can check it against
  a Conv2d(kernel=stride=P) with the same (D, C, P, P) weight.
- [CLS] and positions (VIS-CLS-*, VIS-POS-*): [CLS] is prepended, then the (1 + N, D) table is
  added; interpolation keeps row 0 and resamples the grid bicubically.
- The classifier (VIS-ENC-01, VIS-POOL-*): pre-LN blocks, a final LayerNorm, then pooling ([CLS]
  or the mean of the patch tokens) and a linear map. Weights are a transformers
  `ViTForImageClassification` state dict (same names), so the same tensors run everywhere.
- ConvNeXt's head (VIS-CNX-*): mean over positions, LayerNorm, linear.
- Preprocessing (VIS-PRE-*): resize, x / 255, (x - mean) / std, channels first.

Left out: dropout (evaluation semantics), masked-patch tokens (BEiT / SimMIM), DeiT's
distillation token, the ConvNeXt stages themselves, and any particular resize filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

POOLINGS = ("cls", "mean", "deit-average")
RESAMPLINGS = ("bicubic", "bicubic-antialias", "scale-factor")


def _check_images(images: torch.Tensor, channels: int, patch_size: int) -> tuple[int, int]:
    """The patch grid (h, w) of `images`, or ValueError naming what is wrong."""
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W); got shape {tuple(images.shape)}")
    _, image_channels, height, width = images.shape
    if image_channels != channels:
        raise ValueError(f"images have {image_channels} channels; the patch embedding expects num_channels={channels}")
    if height < patch_size or width < patch_size or height % patch_size or width % patch_size:
        raise ValueError(
            f"image size {height}x{width} must be a positive multiple of patch_size={patch_size} in both dimensions"
        )
    return height // patch_size, width // patch_size


def patches(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, C*P*P): the P x P blocks in raster order, each flattened as (C, P, P).

    >>> patches(torch.arange(16.0).reshape(1, 1, 4, 4), 2)[0].tolist()
    [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0], [8.0, 9.0, 12.0, 13.0], [10.0, 11.0, 14.0, 15.0]]
    """
    B, C, H, W = images.shape
    P = patch_size
    grid = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, h, P, w, P)
    grid = grid.permute(0, 2, 4, 1, 3, 5)  # (B, h, w, C, P, P): row-major over the grid
    return grid.reshape(B, (H // P) * (W // P), C * P * P)  # (B, N, C*P*P)


def patch_embedding(images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) images, Conv2d weight (D, C, P, P), bias (D,) -> (B, N, D).

    Clauses: VIS-PATCH-01, VIS-PATCH-02, VIS-PATCH-03, VIS-PATCH-04.
    """
    D, C, P, P2 = weight.shape
    if P != P2:
        raise ValueError(f"weight must be (D, C, P, P) with square patches; got {tuple(weight.shape)}")
    _check_images(images, C, P)
    flat = patches(images, P)  # (B, N, C*P*P)
    return flat @ weight.reshape(D, C * P * P).T + bias  # (B, N, D)


@dataclass(frozen=True)
class ViTEmbeddingWeights:
    """ViT's embedding parameters: the patch projection, the [CLS] vector and the position table."""

    patch_weight: torch.Tensor  # (D, C, P, P)
    patch_bias: torch.Tensor  # (D,)
    cls_token: torch.Tensor  # (D,)
    position: torch.Tensor  # (1 + h0*w0, D)
    grid: tuple[int, int]  # (h0, w0), the patch grid the table was trained on

    @property
    def patch_size(self) -> int:
        return self.patch_weight.shape[-1]

    @property
    def image_size(self) -> tuple[int, int]:
        return self.grid[0] * self.patch_size, self.grid[1] * self.patch_size

    @classmethod
    def random(
        cls, channels: int, patch_size: int, grid: tuple[int, int], dim: int, generator: torch.Generator
    ) -> ViTEmbeddingWeights:
        def draw(*shape: int, scale: float = 1.0) -> torch.Tensor:
            return scale * torch.randn(*shape, generator=generator, dtype=torch.float64)

        fan_in = channels * patch_size * patch_size
        return cls(
            draw(dim, channels, patch_size, patch_size, scale=fan_in**-0.5),
            draw(dim, scale=0.1),
            draw(dim),
            draw(1 + grid[0] * grid[1], dim),
            grid,
        )

    def to(self, dtype: torch.dtype) -> ViTEmbeddingWeights:
        return ViTEmbeddingWeights(
            self.patch_weight.to(dtype),
            self.patch_bias.to(dtype),
            self.cls_token.to(dtype),
            self.position.to(dtype),
            self.grid,
        )


def interpolate_position_embeddings(
    position: torch.Tensor, source_grid: tuple[int, int], target_grid: tuple[int, int], *, resampling: str = "bicubic"
) -> torch.Tensor:
    """(1 + h0*w0, D) table on `source_grid` -> (1 + h*w, D) on `target_grid`; row 0 ([CLS]) kept.

    Clauses: VIS-POS-03, VIS-POS-04, VIS-POS-05, VIS-POS-06.
    """
    (h0, w0), (h, w) = source_grid, target_grid
    if resampling not in RESAMPLINGS:
        raise ValueError(f"resampling must be one of {', '.join(RESAMPLINGS)}; got {resampling!r}")
    if position.dim() != 2 or position.shape[0] != 1 + h0 * w0:
        raise ValueError(f"position must be (1 + {h0}*{w0}, D) for grid {source_grid}; got {tuple(position.shape)}")
    if h < 1 or w < 1:
        raise ValueError(f"target_grid must be at least 1x1; got {target_grid}")
    if (h, w) == (h0, w0):
        return position.clone()
    cls_position, grid = position[:1], position[1:]  # (1, D), (h0*w0, D)
    D = position.shape[1]
    grid = grid.reshape(1, h0, w0, D).permute(0, 3, 1, 2)  # (1, D, h0, w0)
    if resampling == "scale-factor":
        # subtle: the +0.1 avoids floating-point floor errors in the output size (old DINO code).
        factors = ((h + 0.1) / h0, (w + 0.1) / w0)
        grid = F.interpolate(grid, scale_factor=factors, mode="bicubic", align_corners=False)
    else:
        antialias = resampling == "bicubic-antialias"
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(h * w, D)  # (h*w, D), row-major
    return torch.cat([cls_position, grid], dim=0)  # (1 + h*w, D)


def vit_embeddings(
    images: torch.Tensor, weights: ViTEmbeddingWeights, *, interpolate: bool = False, resampling: str = "bicubic"
) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1 + N, D): concat([CLS], patches) + positions.

    Clauses: VIS-CLS-01, VIS-CLS-02, VIS-POS-01, VIS-POS-02 (and the patch clauses).
    """
    channels = weights.patch_weight.shape[1]
    grid = _check_images(images, channels, weights.patch_size)
    tokens = patch_embedding(images, weights.patch_weight, weights.patch_bias)  # (B, N, D)
    B, _, D = tokens.shape
    cls_tokens = weights.cls_token.reshape(1, 1, D).expand(B, 1, D)  # (B, 1, D)
    sequence = torch.cat([cls_tokens, tokens], dim=1)  # (B, 1 + N, D)
    if interpolate:
        position = interpolate_position_embeddings(weights.position, weights.grid, grid, resampling=resampling)
    elif grid != weights.grid:
        raise ValueError(
            f"image size {tuple(images.shape[-2:])} gives a {grid[0]}x{grid[1]} patch grid; the position table "
            f"covers {weights.grid[0]}x{weights.grid[1]} (image size {weights.image_size}); pass interpolate=True"
        )
    else:
        position = weights.position
    return sequence + position  # (B, 1 + N, D)


@dataclass(frozen=True)
class ViTConfig:
    """A small ViT classifier's shape, with transformers `ViTConfig`'s names and defaults."""

    image_size: int = 16
    patch_size: int = 4
    num_channels: int = 3
    hidden_size: int = 16  # D
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 32
    num_labels: int = 5  # K
    layer_norm_eps: float = 1e-12

    @property
    def grid(self) -> tuple[int, int]:
        side = self.image_size // self.patch_size
        return side, side


@dataclass(frozen=True)
class ViTWeights:
    """A transformers `ViTForImageClassification` state dict (same names) and its config."""

    config: ViTConfig
    state: dict[str, torch.Tensor]

    @classmethod
    def random(cls, config: ViTConfig, generator: torch.Generator, *, distilled: bool = False) -> ViTWeights:
        """Random weights; `distilled` adds DeiT's distillation token (one more position row) and
        its classifier, with transformers' DeiT names mapped onto the ViT ones (`vit.` prefix)."""
        D, inner, K = config.hidden_size, config.intermediate_size, config.num_labels
        C, P = config.num_channels, config.patch_size
        h0, w0 = config.grid

        def draw(*shape: int, scale: float = 0.3) -> torch.Tensor:
            return scale * torch.randn(*shape, generator=generator, dtype=torch.float64)

        prefix_tokens = 2 if distilled else 1
        state = {
            "vit.embeddings.cls_token": draw(1, 1, D, scale=1.0),
            "vit.embeddings.position_embeddings": draw(1, prefix_tokens + h0 * w0, D, scale=1.0),
            "vit.embeddings.patch_embeddings.projection.weight": draw(D, C, P, P, scale=(C * P * P) ** -0.5),
            "vit.embeddings.patch_embeddings.projection.bias": draw(D, scale=0.1),
        }
        for i in range(config.num_hidden_layers):
            prefix = f"vit.layers.{i}."
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                state[f"{prefix}attention.{name}.weight"] = draw(D, D, scale=D**-0.5)
                state[f"{prefix}attention.{name}.bias"] = draw(D, scale=0.1)
            for norm in ("layernorm_before", "layernorm_after"):
                state[f"{prefix}{norm}.weight"] = 1 + draw(D, scale=0.2)
                state[f"{prefix}{norm}.bias"] = draw(D, scale=0.2)
            state[f"{prefix}mlp.fc1.weight"] = draw(inner, D, scale=D**-0.5)
            state[f"{prefix}mlp.fc1.bias"] = draw(inner, scale=0.1)
            state[f"{prefix}mlp.fc2.weight"] = draw(D, inner, scale=inner**-0.5)
            state[f"{prefix}mlp.fc2.bias"] = draw(D, scale=0.1)
        state["vit.layernorm.weight"] = 1 + draw(D, scale=0.2)
        state["vit.layernorm.bias"] = draw(D, scale=0.2)
        state["classifier.weight"] = draw(K, D, scale=D**-0.5)
        state["classifier.bias"] = draw(K, scale=0.1)
        if distilled:
            state["vit.embeddings.distillation_token"] = draw(1, 1, D, scale=1.0)
            state["distillation_classifier.weight"] = draw(K, D, scale=D**-0.5)
            state["distillation_classifier.bias"] = draw(K, scale=0.1)
        return cls(config, state)

    @property
    def distilled(self) -> bool:
        return "vit.embeddings.distillation_token" in self.state

    @property
    def prefix_tokens(self) -> int:
        """Tokens before the patches: [CLS], and DeiT's distillation token when present."""
        return 2 if self.distilled else 1

    def to(self, dtype: torch.dtype) -> ViTWeights:
        return ViTWeights(self.config, {k: v.to(dtype) for k, v in self.state.items()})

    def replace(self, **tensors: torch.Tensor) -> ViTWeights:
        """A copy with some state entries replaced (keys with '.' spelled as '__')."""
        return ViTWeights(self.config, {**self.state, **{k.replace("__", "."): v for k, v in tensors.items()}})

    def embedding_weights(self) -> ViTEmbeddingWeights:
        s = self.state
        return ViTEmbeddingWeights(
            s["vit.embeddings.patch_embeddings.projection.weight"],
            s["vit.embeddings.patch_embeddings.projection.bias"],
            s["vit.embeddings.cls_token"].reshape(-1),
            s["vit.embeddings.position_embeddings"][0],
            self.config.grid,
        )


def _embed(images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
    """ViT's embeddings, or DeiT's: [CLS], the distillation token, patches, plus positions."""
    if not weights.distilled:
        return vit_embeddings(images, weights.embedding_weights())  # (B, 1 + N, D)
    s = weights.state
    grid = _check_images(images, weights.config.num_channels, weights.config.patch_size)
    if grid != weights.config.grid:
        raise ValueError(f"image grid {grid} differs from the position table's {weights.config.grid}")
    tokens = patch_embedding(
        images,
        s["vit.embeddings.patch_embeddings.projection.weight"],
        s["vit.embeddings.patch_embeddings.projection.bias"],
    )  # (B, N, D)
    B, _, D = tokens.shape
    prefix = torch.cat([s["vit.embeddings.cls_token"], s["vit.embeddings.distillation_token"]], dim=1)  # (1, 2, D)
    return torch.cat([prefix.expand(B, 2, D), tokens], dim=1) + s["vit.embeddings.position_embeddings"]  # (B, 2 + N, D)


def self_attention(x: torch.Tensor, state: dict[str, torch.Tensor], prefix: str, heads: int) -> torch.Tensor:
    """Unmasked multi-head self-attention, (B, T, D) -> (B, T, D)."""
    B, T, D = x.shape
    hs = D // heads

    def project(name: str) -> torch.Tensor:
        y = F.linear(x, state[f"{prefix}{name}.weight"], state[f"{prefix}{name}.bias"])  # (B, T, D)
        return y.reshape(B, T, heads, hs).transpose(1, 2)  # (B, nh, T, hs)

    q, k, v = project("q_proj"), project("k_proj"), project("v_proj")
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T)
    attended = scores.softmax(dim=-1) @ v  # (B, nh, T, hs)
    attended = attended.transpose(1, 2).reshape(B, T, D)  # (B, T, D)
    return F.linear(attended, state[f"{prefix}o_proj.weight"], state[f"{prefix}o_proj.bias"])


def vit_encode(images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1 + N, D): embeddings, pre-LN blocks, the final LayerNorm on every token.

    Clauses: VIS-ENC-01.
    """
    config, s = weights.config, weights.state
    D, eps = config.hidden_size, config.layer_norm_eps
    x = _embed(images, weights)  # (B, T, D)
    for i in range(config.num_hidden_layers):
        p = f"vit.layers.{i}."
        normed = F.layer_norm(x, (D,), s[p + "layernorm_before.weight"], s[p + "layernorm_before.bias"], eps)
        x = x + self_attention(normed, s, p + "attention.", config.num_attention_heads)
        normed = F.layer_norm(x, (D,), s[p + "layernorm_after.weight"], s[p + "layernorm_after.bias"], eps)
        hidden = F.gelu(F.linear(normed, s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"]))  # exact erf GELU
        x = x + F.linear(hidden, s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"])
    return F.layer_norm(x, (D,), s["vit.layernorm.weight"], s["vit.layernorm.bias"], eps)  # (B, T, D)


def pool(hidden: torch.Tensor, pooling: str = "cls", prefix_tokens: int = 1) -> torch.Tensor:
    """(B, prefix + N, D) -> (B, D): [CLS] (index 0) or the mean of the patch tokens (prefix excluded).

    Clauses: VIS-POOL-01.
    """
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        return hidden[:, prefix_tokens:].mean(dim=1)
    raise ValueError(f"pooling must be one of cls, mean (deit-average needs vit_classify); got {pooling!r}")


def vit_classify(images: torch.Tensor, weights: ViTWeights, *, pooling: str = "cls") -> torch.Tensor:
    """(B, C, H, W) -> logits (B, K) = classifier(pool(vit_encode(images))).

    Clauses: VIS-POOL-01, VIS-POOL-02, VIS-POOL-03.
    """
    s = weights.state
    hidden = vit_encode(images, weights)  # (B, T, D)
    if pooling == "deit-average":
        if not weights.distilled:
            raise ValueError(
                "pooling='deit-average' needs weights with a distillation token (ViTWeights.random(distilled=True))"
            )
        cls_logits = F.linear(hidden[:, 0], s["classifier.weight"], s["classifier.bias"])
        distillation_logits = F.linear(
            hidden[:, 1], s["distillation_classifier.weight"], s["distillation_classifier.bias"]
        )
        return (cls_logits + distillation_logits) / 2  # (B, K)
    pooled = pool(hidden, pooling, weights.prefix_tokens)  # (B, D)
    return F.linear(pooled, s["classifier.weight"], s["classifier.bias"])  # (B, K)


@dataclass(frozen=True)
class ConvNextHeadWeights:
    """ConvNeXt's head: the LayerNorm after pooling and the classifier (transformers names:
    `convnext.layernorm.*`, `classifier.*`)."""

    norm_weight: torch.Tensor  # (C,)
    norm_bias: torch.Tensor  # (C,)
    classifier_weight: torch.Tensor  # (K, C)
    classifier_bias: torch.Tensor  # (K,)
    eps: float = 1e-12

    @classmethod
    def random(cls, channels: int, classes: int, generator: torch.Generator) -> ConvNextHeadWeights:
        def draw(*shape: int, scale: float) -> torch.Tensor:
            return scale * torch.randn(*shape, generator=generator, dtype=torch.float64)

        return cls(
            1 + draw(channels, scale=0.2),
            draw(channels, scale=0.2),
            draw(classes, channels, scale=channels**-0.5),
            draw(classes, scale=0.1),
        )

    def to(self, dtype: torch.dtype) -> ConvNextHeadWeights:
        tensors = (self.norm_weight, self.norm_bias, self.classifier_weight, self.classifier_bias)
        return ConvNextHeadWeights(*(t.to(dtype) for t in tensors), eps=self.eps)


def convnext_head(features: torch.Tensor, weights: ConvNextHeadWeights) -> torch.Tensor:
    """Final feature map (B, C, h, w) -> logits (B, K): mean over positions, LayerNorm, linear.

    Clauses: VIS-CNX-01, VIS-CNX-02.
    """
    if features.dim() != 4 or features.shape[1] != weights.norm_weight.shape[0]:
        raise ValueError(
            f"features must be (B, C, h, w) with C={weights.norm_weight.shape[0]}; got {tuple(features.shape)}"
        )
    pooled = features.mean(dim=(-2, -1))  # (B, C)
    C = pooled.shape[-1]
    normed = F.layer_norm(pooled, (C,), weights.norm_weight, weights.norm_bias, weights.eps)
    return F.linear(normed, weights.classifier_weight, weights.classifier_bias)  # (B, K)


def preprocess(
    images: torch.Tensor,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """uint8 (B, H, W, C) -> float32 (B, C, H', W'): resize, / 255, (x - mean) / std, channels first.

    The resize here is bilinear with antialiasing on float pixels; VIS-PRE-02 fixes only the size
    and that constants stay constant, so the filter is this reference's choice.

    Clauses: VIS-PRE-01, VIS-PRE-02, VIS-PRE-03.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (B, H, W, C); got shape {tuple(images.shape)}")
    channels = images.shape[-1]
    for name, values in (("mean", mean), ("std", std)):
        if len(values) != channels:
            raise ValueError(f"{name} must have one entry per channel ({channels}); got {len(values)}: {list(values)}")
    if any(s == 0 for s in std):
        raise ValueError(f"std must be non-zero in every channel; got {list(std)}")
    x = images.permute(0, 3, 1, 2).to(torch.float64)  # (B, C, H, W)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    x = x / 255.0
    mean_t = torch.tensor(mean, dtype=torch.float64).reshape(1, channels, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float64).reshape(1, channels, 1, 1)
    return ((x - mean_t) / std_t).to(dtype)  # (B, C, H', W'), computed in float64
