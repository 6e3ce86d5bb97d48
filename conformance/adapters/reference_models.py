"""The reference adapter's models family: specformer.reference.models."""

from __future__ import annotations

import torch

from specformer.reference import models
from specformer.reference.models import (
    CrossDecoderLayerWeights,
    DecoderBlockWeights,
    EncoderLayerWeights,
    ModelConfig,
    Seq2SeqConfig,
)


class ReferenceModels:
    """Mixin of ReferenceAdapter."""

    def encoder_layer(
        self, hidden: torch.Tensor, weights: EncoderLayerWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return models.encoder_layer(hidden, weights, padding_mask=padding_mask)

    def decoder_block(
        self, hidden: torch.Tensor, weights: DecoderBlockWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return models.decoder_block(hidden, weights, padding_mask=padding_mask)

    def cross_decoder_layer(
        self,
        hidden: torch.Tensor,
        memory: torch.Tensor,
        weights: CrossDecoderLayerWeights,
        *,
        padding_mask: torch.Tensor | None = None,
        memory_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return models.cross_decoder_layer(
            hidden, memory, weights, padding_mask=padding_mask, memory_padding_mask=memory_padding_mask
        )

    def encoder_decoder(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        encoder_layers: list[EncoderLayerWeights],
        decoder_layers: list[CrossDecoderLayerWeights],
        *,
        source_padding_mask: torch.Tensor | None = None,
        target_padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return models.encoder_decoder(
            source,
            target,
            encoder_layers,
            decoder_layers,
            source_padding_mask=source_padding_mask,
            target_padding_mask=target_padding_mask,
        )

    def bert_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        return models.bert_model(input_ids, attention_mask, state, config)

    def gpt2_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        return models.gpt2_model(input_ids, attention_mask, state, config)

    def bart_for_conditional_generation(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        config: Seq2SeqConfig,
        *,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return models.bart_for_conditional_generation(
            input_ids, attention_mask, state, config, decoder_input_ids=decoder_input_ids, labels=labels
        )

    def t5_for_conditional_generation(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        config: Seq2SeqConfig,
        *,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return models.t5_for_conditional_generation(
            input_ids, attention_mask, state, config, decoder_input_ids=decoder_input_ids, labels=labels
        )

    def t5_relative_position_bucket(
        self, relative_position: torch.Tensor, *, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
    ) -> torch.Tensor:
        return models.t5_relative_position_bucket(
            relative_position, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
        )
