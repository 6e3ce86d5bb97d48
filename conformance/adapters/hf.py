"""The `hf` adapter: Hugging Face transformers, run for real.

Sampling goes through transformers' own logits warpers (TemperatureLogitsWarper,
TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper) in the order and under the conditions
generate() uses (transformers 5.x `GenerationMixin._get_logits_processor`): temperature only
when != 1, top-k only when set and != 0, top-p only when < 1, min-p only when set. Greedy is
torch.argmax and a draw is softmax + torch.multinomial, as generate()'s `_sample` does; the
suite's generator is passed to torch.multinomial where generate() uses the global RNG.

The single-operation entry points call the warper classes directly, so they show what a user
of those classes gets; where that differs from the spec, expectations/hf.toml says why.

Attention goes through `eager_attention_forward` of the Llama model file (the eager path every
decoder model copies) with the masks transformers itself builds for eager attention: an
additive mask of 0 and `torch.finfo(dtype).min`, causal masks aligned bottom-right as in
decoding with a cache (`masking_utils`), and key/value heads repeated with `repeat_kv`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.sampling import SamplingParams


class HFAdapter:
    name = "hf"
    capabilities = Capabilities(
        families=frozenset({"sampling", "attention"}),
        dtypes=(torch.float32, torch.float64),
        devices=("cpu", "cuda"),
        variants={
            "SAMP-TOPK-02": "keep-ties",
            "SAMP-TOPP-02": "strict",
            "SAMP-ORDER-01": "transformers",
            "ATTN-CAUSAL-02": "bottom-right",
            "ATTN-PAD-02": "uniform",
            "CPLX-ATTN-02": "materialised",
        },
    )
    expectations_file = Path(__file__).parent / "expectations" / "hf.toml"

    def __init__(self) -> None:
        import transformers
        from transformers.generation import logits_process
        from transformers.models.llama import modeling_llama

        self._warpers = logits_process
        self._eager_attention = modeling_llama.eager_attention_forward
        self.description = f"Hugging Face transformers {transformers.__version__} logits warpers"

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
        if params.min_p is not None and params.min_p > 0.0:
            processors.append(w.MinPLogitsWarper(params.min_p, min_tokens_to_keep=keep))
        return processors(self._input_ids(logits), logits)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.argmax(logits, dim=-1)

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(self.process(logits, params), dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)

    def attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        *,
        causal: bool = False,
        mask: torch.Tensor | None = None,
        scale: float | None = None,
    ) -> torch.Tensor:
        length, keys = query.shape[-2], key.shape[-2]
        if causal:  # as masking_utils builds it: query i sits at position i + S - L
            mask = torch.ones(length, keys, dtype=torch.bool, device=query.device).tril(diagonal=keys - length)
        if mask is not None and mask.dtype == torch.bool:  # as eager attention receives it
            mask = torch.zeros(mask.shape, dtype=query.dtype, device=query.device).masked_fill(
                ~mask, torch.finfo(query.dtype).min
            )
        if mask is not None:  # eager attention wants (B, 1 or H, L, S)
            mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape)).expand(query.shape[0], -1, length, keys)
        module = _EagerModule(query.shape[1] // key.shape[1])
        scaling = query.shape[-1] ** -0.5 if scale is None else scale
        output, _weights = self._eager_attention(module, query, key, value, mask, scaling)
        return output.transpose(1, 2)  # eager returns (B, L, H, Dv)


class _EagerModule(torch.nn.Module):
    """The attributes transformers' eager attention reads from its calling module."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.num_key_value_groups = groups
        self.eval()
