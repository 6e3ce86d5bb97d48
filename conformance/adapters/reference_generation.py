"""The reference adapter's generation family (spec/generation.md): specformer.reference.generation.

The variants come from the adapter's declaration (defaults when it declares none), so a mutant
that declares another variant is held to it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from specformer.reference import generation
from specformer.reference.generation import GenerationConfig, GenerationOutput
from specformer.reference.kv_cache import DecoderWeights, KVCache

# clause -> keyword of the reference functions
VARIANT_KEYWORDS = {
    "GEN-REP-04": "repetition_scope",
    "GEN-FREQ-03": "penalty_scope",
    "GEN-STOP-03": "stop_scope",
    "GEN-STOP-04": "stop_text",
}


class ReferenceGeneration:
    """Mixin of ReferenceAdapter: penalties, stopping and search of the reference loop."""

    # public seams: the loop's cache class and the steps it calls (a subclass or mutant brings its own)
    cache_class: type[KVCache] = KVCache
    generation_steps: generation.GenerationSteps = generation.GenerationSteps()

    @property
    def generation_variants(self) -> dict[str, str]:
        """Keyword -> the declared variant, for specformer.reference.generation's functions (public:
        mutants and subclasses pass them on with one changed)."""
        declared = self.capabilities.variants  # type: ignore[attr-defined]
        return {
            keyword: declared.get(clause_id, generation.DEFAULT_VARIANTS[keyword])
            for clause_id, keyword in VARIANT_KEYWORDS.items()
        }

    def repetition_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        penalty: float,
        *,
        prompt_length: int,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.generation_steps.repetition_penalty(
            logits,
            input_ids,
            penalty,
            prompt_length=prompt_length,
            attention_mask=attention_mask,
            repetition_scope=self.generation_variants["repetition_scope"],
        )

    def frequency_presence_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        *,
        prompt_length: int,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
    ) -> torch.Tensor:
        return self.generation_steps.frequency_presence_penalty(
            logits,
            input_ids,
            prompt_length=prompt_length,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            penalty_scope=self.generation_variants["penalty_scope"],
        )

    def no_repeat_ngram(self, logits: torch.Tensor, input_ids: torch.Tensor, ngram_size: int) -> torch.Tensor:
        return self.generation_steps.no_repeat_ngram(logits, input_ids, ngram_size)

    def min_new_tokens(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        *,
        prompt_length: int,
        min_new_tokens: int,
        eos_token_ids: tuple[int, ...],
    ) -> torch.Tensor:
        return self.generation_steps.min_new_tokens_mask(
            logits, input_ids, prompt_length=prompt_length, min_new_tokens=min_new_tokens, eos_token_ids=eos_token_ids
        )

    def generate(
        self,
        weights: DecoderWeights,
        prompt_ids: torch.Tensor,
        config: GenerationConfig,
        *,
        attention_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        on_token: Callable[[], None] | None = None,
    ) -> GenerationOutput:
        return generation.generate(
            weights,
            prompt_ids,
            config,
            attention_mask=attention_mask,
            generator=generator,
            on_token=on_token,
            cache_class=self.cache_class,
            steps=self.generation_steps,
            **self.generation_variants,
        )
