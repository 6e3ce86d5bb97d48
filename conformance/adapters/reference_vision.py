"""The reference adapter's vision operations (spec/vision.md): specformer.reference.vision, default variants."""

from __future__ import annotations

import torch

from specformer.reference import vision
from specformer.reference.vision import ConvNextHeadWeights, ViTEmbeddingWeights, ViTWeights


class ReferenceVision:
    """Mixin for ReferenceAdapter; variants come from the adapter's declaration (VIS-POS-04, VIS-POOL-01)."""

    def _vision_variant(self, clause_id: str, default: str) -> str:
        return self.capabilities.variants.get(clause_id, default)  # type: ignore[attr-defined]

    def patch_embedding(self, images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return vision.patch_embedding(images, weight, bias)

    def vit_embeddings(
        self, images: torch.Tensor, weights: ViTEmbeddingWeights, *, interpolate: bool = False
    ) -> torch.Tensor:
        resampling = self._vision_variant("VIS-POS-04", "bicubic")
        return vision.vit_embeddings(images, weights, interpolate=interpolate, resampling=resampling)

    def interpolate_position_embeddings(
        self, position: torch.Tensor, source_grid: tuple[int, int], target_grid: tuple[int, int]
    ) -> torch.Tensor:
        resampling = self._vision_variant("VIS-POS-04", "bicubic")
        return vision.interpolate_position_embeddings(position, source_grid, target_grid, resampling=resampling)

    def vit_encode(self, images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
        return vision.vit_encode(images, weights)

    def vit_classify(self, images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
        return vision.vit_classify(images, weights, pooling=self._vision_variant("VIS-POOL-01", "cls"))

    def convnext_head(self, features: torch.Tensor, weights: ConvNextHeadWeights) -> torch.Tensor:
        return vision.convnext_head(features, weights)

    def preprocess(
        self, images: torch.Tensor, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
    ) -> torch.Tensor:
        return vision.preprocess(images, size, mean, std)
