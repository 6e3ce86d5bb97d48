"""The hf adapter's vision operations (spec/vision.md), through transformers' own modules.

- patch_embedding: `ViTPatchEmbeddings` (a Conv2d with kernel = stride = P) with the weight copied in.
- vit_embeddings / interpolate_position_embeddings: `ViTEmbeddings` and its
  `interpolate_pos_encoding` (bicubic, size=(h, w), align_corners=False).
- vit_encode / vit_classify: `ViTForImageClassification` built from a small config, the
  reference's state dict loaded with strict=True (the names are transformers').
- convnext_head: `ConvNextForImageClassification`'s pooling, LayerNorm and classifier, fed the
  given final feature map through a forward hook on its encoder (the stages are not under test).
- preprocess: `ViTImageProcessorPil` (torchvision, which the default backend needs, does not
  install with this torch), do_resize/do_rescale/do_normalize as transformers configures ViT.

Every module is in evaluation mode (no dropout) and float32.
"""

from __future__ import annotations

import dataclasses

import torch

from specformer.conformance.adapters.from_reference import PerModel
from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.vision import ConvNextHeadWeights, ViTEmbeddingWeights, ViTWeights


def _vit_config(config_class: type | None = None, **fields: object) -> object:
    """A transformers ViTConfig (or `config_class`, such as DeiTConfig) without dropout."""
    import transformers

    config_class = config_class or transformers.ViTConfig
    return config_class(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **fields)


class HFVision:
    """Mixin for HFAdapter."""

    def patch_embedding(self, images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        from transformers.models.vit.modeling_vit import ViTPatchEmbeddings

        D, C, P, _ = weight.shape
        size = tuple(images.shape[-2:]) if images.dim() == 4 else (P, P)
        module = ViTPatchEmbeddings(_vit_config(image_size=size, patch_size=P, num_channels=C, hidden_size=D))
        with torch.no_grad():
            module.projection.weight.copy_(weight)
            module.projection.bias.copy_(bias)
            return module.eval()(images)

    def _embeddings(self, weights: ViTEmbeddingWeights) -> torch.nn.Module:
        from transformers.models.vit.modeling_vit import ViTEmbeddings

        D, C, P, _ = weights.patch_weight.shape
        config = _vit_config(image_size=weights.image_size, patch_size=P, num_channels=C, hidden_size=D)
        module = ViTEmbeddings(config)
        with torch.no_grad():
            module.patch_embeddings.projection.weight.copy_(weights.patch_weight)
            module.patch_embeddings.projection.bias.copy_(weights.patch_bias)
            module.cls_token.copy_(weights.cls_token.reshape(1, 1, D))
            module.position_embeddings.copy_(weights.position.unsqueeze(0))
        return module.eval()

    def vit_embeddings(
        self, images: torch.Tensor, weights: ViTEmbeddingWeights, *, interpolate: bool = False
    ) -> torch.Tensor:
        with torch.no_grad():
            return self._embeddings(weights)(images, interpolate_pos_encoding=interpolate)

    def interpolate_position_embeddings(
        self, position: torch.Tensor, source_grid: tuple[int, int], target_grid: tuple[int, int]
    ) -> torch.Tensor:
        D, P = position.shape[1], 1
        weights = ViTEmbeddingWeights(torch.zeros(D, 1, P, P), torch.zeros(D), torch.zeros(D), position, source_grid)
        module = self._embeddings(weights)
        (h, w) = target_grid
        dummy = torch.zeros(1, 1 + h * w, D)  # only its length is read
        with torch.no_grad():
            return module.interpolate_pos_encoding(dummy, h * P, w * P)[0].clone()

    def _vit(self, weights: ViTWeights) -> torch.nn.Module:
        """The model for these weights, built once per weights object (benchmarks reuse it)."""
        cache = self.__dict__.setdefault("_vit_models", PerModel(4))
        return cache.get(weights, self._build_vit)

    def _build_vit(self, weights: ViTWeights) -> torch.nn.Module:
        import transformers

        config = _vit_config(**dataclasses.asdict(weights.config))  # the reference's ViTConfig has transformers' names
        model = transformers.ViTForImageClassification(config)
        model.load_state_dict({k: v.cpu() for k, v in weights.state.items()}, strict=True)
        device = next(iter(weights.state.values())).device
        return model.to(device).eval()

    def vit_encode(self, images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
        with torch.no_grad():
            return self._vit(weights).vit(images).last_hidden_state

    def vit_classify(self, images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
        with torch.no_grad():
            return self._vit(weights)(images).logits

    def convnext_head(self, features: torch.Tensor, weights: ConvNextHeadWeights) -> torch.Tensor:
        import transformers
        from transformers.modeling_outputs import BaseModelOutputWithNoAttention

        C, K = weights.norm_weight.shape[0], weights.classifier_weight.shape[0]
        config = transformers.ConvNextConfig(
            num_channels=3, num_stages=1, hidden_sizes=[C], depths=[1], num_labels=K, layer_norm_eps=weights.eps
        )
        model = transformers.ConvNextForImageClassification(config).eval()
        with torch.no_grad():
            model.convnext.layernorm.weight.copy_(weights.norm_weight)
            model.convnext.layernorm.bias.copy_(weights.norm_bias)
            model.classifier.weight.copy_(weights.classifier_weight)
            model.classifier.bias.copy_(weights.classifier_bias)

        def replace_output(module, args, output):  # the final feature map under test
            return BaseModelOutputWithNoAttention(last_hidden_state=features)

        hook = model.convnext.encoder.register_forward_hook(replace_output)
        try:
            with torch.no_grad():
                return model(torch.zeros(features.shape[0], 3, 4, 4)).logits
        finally:
            hook.remove()

    def preprocess(
        self, images: torch.Tensor, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
    ) -> torch.Tensor:
        from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

        processor = ViTImageProcessorPil(
            size={"height": size[0], "width": size[1]}, image_mean=list(mean), image_std=list(std)
        )
        arrays = [image.numpy() for image in images]  # (H, W, C) uint8 each
        return processor(arrays, return_tensors="pt", input_data_format="channels_last")["pixel_values"]


class HFDeiT:
    """DeiT through transformers' `DeiTForImageClassificationWithTeacher`: variant `deit-average`
    of VIS-POOL-01 (the mean of the [CLS] and distillation heads). Only `vit_classify`; load it as
    `specformer.conformance.adapters.hf_vision:HFDeiT`. The reference's distilled ViTWeights map
    onto DeiT's names: `vit.` -> `deit.`, `classifier.` -> `cls_classifier.`."""

    name = "hf-deit"
    capabilities = Capabilities(
        families=frozenset({"vision"}),
        dtypes=(torch.float32,),
        devices=("cpu",),
        variants={"VIS-POOL-01": "deit-average"},
    )
    expectations_file = None

    def __init__(self) -> None:
        import transformers

        self.description = f"transformers {transformers.__version__} DeiTForImageClassificationWithTeacher"

    def vit_classify(self, images: torch.Tensor, weights: ViTWeights) -> torch.Tensor:
        import transformers

        config = _vit_config(transformers.DeiTConfig, **dataclasses.asdict(weights.config))
        model = transformers.DeiTForImageClassificationWithTeacher(config)

        def rename(key: str) -> str:
            if key.startswith("vit."):
                return "deit." + key.removeprefix("vit.")
            return "cls_" + key if key.startswith("classifier.") else key

        model.load_state_dict({rename(k): v for k, v in weights.state.items()}, strict=True)
        with torch.no_grad():
            return model.eval()(images).logits
