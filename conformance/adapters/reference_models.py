"""The reference adapter's models family: specformer.reference.models."""

from __future__ import annotations

import torch

from specformer.reference import models
from specformer.reference.models import ModelConfig


class ReferenceModels:
    """Mixin of ReferenceAdapter."""

    # Each operation is the reference function itself (same signature; no variant to pass on).
    encoder_layer = staticmethod(models.encoder_layer)
    decoder_block = staticmethod(models.decoder_block)
    cross_decoder_layer = staticmethod(models.cross_decoder_layer)
    encoder_decoder = staticmethod(models.encoder_decoder)
    gpt2_model = staticmethod(models.gpt2_model)
    bart_for_conditional_generation = staticmethod(models.bart_for_conditional_generation)
    t5_for_conditional_generation = staticmethod(models.t5_for_conditional_generation)
    t5_relative_position_bucket = staticmethod(models.t5_relative_position_bucket)

    def bert_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        return models.bert_model(input_ids, attention_mask, state, config)
