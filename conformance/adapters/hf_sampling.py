"""The hf adapter's sampling family (spec/sampling.md): transformers' logits warpers.

Sampling goes through transformers' own logits warpers (TemperatureLogitsWarper,
TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper) in the order and under the conditions
generate() uses (transformers 5.x `GenerationMixin._get_logits_processor`): temperature only
when != 1, top-k only when set and != 0, top-p only when < 1, min-p only when set. Greedy is
torch.argmax and a draw is softmax + torch.multinomial, as generate()'s `_sample` does; the
suite's generator is passed to torch.multinomial where generate() uses the global RNG.

The single-operation entry points call the warper classes directly, so they show what a user
of those classes gets; where that differs from the spec, expectations/hf.toml says why.
"""

from __future__ import annotations

import functools

import torch

from specformer.reference.sampling import SamplingParams


class HFSampling:
    @functools.cached_property
    def _warpers(self):
        from transformers.generation import logits_process

        return logits_process

    @staticmethod
    def _input_ids(logits: torch.Tensor) -> torch.Tensor:
        # The warpers take the token history as input_ids (B, T) and ignore it.
        return torch.zeros((logits.shape[0], 1), dtype=torch.long, device=logits.device)

    def temperature(self, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        warper = self._warpers.TemperatureLogitsWarper(temperature)
        return warper(self._input_ids(logits), logits)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        warper = self._warpers.TopKLogitsWarper(top_k)
        return warper(self._input_ids(logits), logits)

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        warper = self._warpers.TopPLogitsWarper(top_p, min_tokens_to_keep=min_tokens_to_keep)
        return warper(self._input_ids(logits), logits)

    def min_p(self, logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        warper = self._warpers.MinPLogitsWarper(min_p, min_tokens_to_keep=min_tokens_to_keep)
        return warper(self._input_ids(logits), logits)

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        w = self._warpers
        processors = w.LogitsProcessorList()
        keep = params.min_tokens_to_keep
        if params.temperature != 1.0:
            processors.append(w.TemperatureLogitsWarper(params.temperature))
        if params.top_k is not None and params.top_k != 0:
            processors.append(w.TopKLogitsWarper(params.top_k, min_tokens_to_keep=keep))
        if params.top_p < 1.0:
            processors.append(w.TopPLogitsWarper(params.top_p, min_tokens_to_keep=keep))
        # generate() adds MinPLogitsWarper whenever min_p is set (it validates [0, 1]); MinP(0) is the
        # identity, so only 0 is skipped here and an out-of-range or NaN min_p reaches the validation.
        if params.min_p is not None and params.min_p != 0.0:
            processors.append(w.MinPLogitsWarper(params.min_p, min_tokens_to_keep=keep))
        return processors(self._input_ids(logits), logits)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.argmax(logits, dim=-1)

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(self.process(logits, params), dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)
