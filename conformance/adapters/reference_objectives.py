"""The reference adapter's objectives family: specformer.reference.objectives, default variants."""

from __future__ import annotations

import torch

from specformer.reference import objectives
from specformer.reference.objectives import NextSentenceExample


class ReferenceObjectives:
    """Mixin of ReferenceAdapter; the whole-word replacement follows the declared OBJ-WWM-03 variant."""

    mlm_mask = staticmethod(objectives.mlm_mask)  # the reference function itself: no variant to pass on

    def whole_word_mask(
        self,
        input_ids: torch.Tensor,
        word_ids: torch.Tensor,
        *,
        mask_token_id: int,
        vocab_size: int,
        generator: torch.Generator,
        mlm_probability: float = 0.15,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return objectives.whole_word_mask(
            input_ids,
            word_ids,
            mask_token_id=mask_token_id,
            vocab_size=vocab_size,
            generator=generator,
            mlm_probability=mlm_probability,
            replacement=self.capabilities.variants.get("OBJ-WWM-03", "per-token"),  # type: ignore[attr-defined]
        )

    def next_sentence_pairs(
        self, documents: list[list[list[int]]], *, cls_token_id: int, sep_token_id: int, generator: torch.Generator
    ) -> list[NextSentenceExample]:
        return objectives.next_sentence_pairs(
            documents, cls_token_id=cls_token_id, sep_token_id=sep_token_id, generator=generator
        )

    def random_spans_noise_mask(
        self,
        length: int,
        *,
        generator: torch.Generator,
        noise_density: float = 0.15,
        mean_noise_span_length: float = 3.0,
    ) -> torch.Tensor:
        return objectives.random_spans_noise_mask(
            length, generator=generator, noise_density=noise_density, mean_noise_span_length=mean_noise_span_length
        )

    def t5_span_corruption(
        self, input_ids: torch.Tensor, noise_mask: torch.Tensor, *, vocab_size: int, eos_token_id: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return objectives.t5_span_corruption(input_ids, noise_mask, vocab_size=vocab_size, eos_token_id=eos_token_id)

    def t5_input_and_target_lengths(
        self, inputs_length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0
    ) -> tuple[int, int]:
        return objectives.t5_input_and_target_lengths(inputs_length, noise_density, mean_noise_span_length)

    def sample_infilling_spans(
        self, length: int, *, generator: torch.Generator, mask_ratio: float = 0.3, poisson_lambda: float = 3.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return objectives.sample_infilling_spans(
            length, generator=generator, mask_ratio=mask_ratio, poisson_lambda=poisson_lambda
        )

    def text_infilling(
        self, input_ids: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor, *, mask_token_id: int
    ) -> torch.Tensor:
        return objectives.text_infilling(input_ids, starts, lengths, mask_token_id=mask_token_id)

    def permute_sentences(
        self, input_ids: torch.Tensor, *, full_stop_id: int, generator: torch.Generator
    ) -> torch.Tensor:
        return objectives.permute_sentences(input_ids, full_stop_id=full_stop_id, generator=generator)

    def shift_tokens_right(
        self, labels: torch.Tensor, *, pad_token_id: int | None, decoder_start_token_id: int | None
    ) -> torch.Tensor:
        return objectives.shift_tokens_right(
            labels, pad_token_id=pad_token_id, decoder_start_token_id=decoder_start_token_id
        )
