"""Mutants of the sampling family: the reference adapter with one plausible bug each.

Each class lists in `breaks` the clauses its bug violates (the first is the one it targets,
the others follow from the same bug); tests/test_mutants.py runs the suite on every mutant
and checks that exactly those clauses fail. They are loadable like any
third-party adapter:

    specformer run --adapter specformer.conformance.mutants.sampling:TopPDropsCrossingToken
"""

from __future__ import annotations

import math

import torch

from specformer.conformance.adapters.protocols import Capabilities
from specformer.conformance.adapters.reference import ReferenceAdapter
from specformer.reference import sampling
from specformer.reference.sampling import SamplingParams


class _Mutant(ReferenceAdapter):
    breaks: tuple[str, ...] = ()
    expectations_file = None  # a mutant documents nothing: its bug must show as a failure
    capabilities = Capabilities(
        families=frozenset({"sampling"}),
        dtypes=ReferenceAdapter.capabilities.dtypes,
        variants={k: v for k, v in ReferenceAdapter.capabilities.variants.items() if k.startswith("SAMP-")},
    )

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"mutant:{type(self).__name__}"


class TopPDropsCrossingToken(_Mutant):
    """Keeps tokens while the cumulative mass *including* them is below p, so the token that
    crosses p is dropped."""

    breaks = ("SAMP-TOPP-01", "SAMP-TOPP-02", "SAMP-TOPP-06")

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        sampling.check_logits(logits)
        sampling.validate_top_p(top_p)
        sampling.validate_min_tokens_to_keep(min_tokens_to_keep)
        if top_p >= 1.0:
            return logits.clone()
        probs = torch.softmax(logits, dim=-1)
        sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)
        remove_sorted = sorted_probs.cumsum(dim=-1) >= top_p  # bug: inclusive cumulative mass
        remove_sorted[:, :min_tokens_to_keep] = False
        remove = torch.empty_like(remove_sorted).scatter(-1, order, remove_sorted)
        return logits.masked_fill(remove, -math.inf)


class TopKExactlyKDeclaringKeepTies(_Mutant):
    """Keeps exactly k tokens while declaring the keep-ties variant."""

    breaks = ("SAMP-TOPK-02",)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        return sampling.top_k_filter(logits, top_k, top_k_ties="exactly-k")


class TopKOffByOne(_Mutant):
    """Keeps the k + 1 largest logits."""

    breaks = ("SAMP-TOPK-01", "SAMP-TOPK-05")

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        sampling.validate_top_k(top_k)
        return sampling.top_k_filter(logits, top_k + 1)


class TemperatureAppliedLast(_Mutant):
    """Applies temperature after the filters (llama.cpp's order) while declaring transformers'."""

    breaks = ("SAMP-ORDER-01",)

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        return sampling.process(logits, params, order="llama.cpp")


class MinPRemovesAtThreshold(_Mutant):
    """Removes tokens with p <= min_p * p_max, so a token exactly at the threshold goes."""

    breaks = ("SAMP-MINP-01", "SAMP-MINP-02")

    def min_p(self, logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        sampling.check_logits(logits)
        sampling.validate_min_p(min_p)
        probs = torch.softmax(logits, dim=-1)
        remove = probs <= min_p * probs.amax(dim=-1, keepdim=True)  # bug: <= instead of <
        remove = remove.scatter(-1, logits.topk(min_tokens_to_keep, dim=-1).indices, False)
        return logits.masked_fill(remove, -math.inf)


class DrawsFromUnfilteredDistribution(_Mutant):
    """Draws from softmax(logits / T), forgetting top-k, top-p and min-p."""

    breaks = ("SAMP-DRAW-01", "SAMP-DRAW-02")

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(sampling.apply_temperature(logits, params.temperature), dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class DrawnIndexOffByOne(_Mutant):
    """Returns the drawn index plus one (wrapping), as after a mis-sliced vocabulary."""

    breaks = ("SAMP-DRAW-01", "SAMP-DRAW-02", "SAMP-DRAW-04")

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        drawn = super().sample(logits, params, generator)
        return (drawn + 1) % logits.shape[-1]


class GreedyLastTiedIndex(_Mutant):
    """Breaks argmax ties towards the highest index."""

    breaks = ("SAMP-GREEDY-01",)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        sampling.check_logits(logits)
        flipped = logits.flip(-1).argmax(dim=-1)
        return logits.shape[-1] - 1 - flipped


class NaNPassesThrough(_Mutant):
    """Skips the input check: NaN logits flow into the filters unnoticed."""

    breaks = ("SAMP-EDGE-01",)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        sampling.validate_top_k(top_k)  # but no sampling.check_logits(logits)
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        return logits.masked_fill(logits < kth, -math.inf)


class TopPOneRemovesUnderflow(_Mutant):
    """Computes top-p even at p = 1, removing tokens whose probability underflows to 0."""

    breaks = ("SAMP-TOPP-03",)

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        if top_p < 1.0:
            return super().top_p(logits, top_p, min_tokens_to_keep)
        sampling.check_logits(logits)
        sampling.validate_top_p(top_p)
        return logits.masked_fill(torch.softmax(logits, dim=-1) == 0, -math.inf)


class DrawsFromGlobalGenerator(_Mutant):
    """Ignores the generator it is given and draws from torch's global RNG."""

    breaks = ("SAMP-DRAW-03",)

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(sampling.process(logits, params), dim=-1)
        return torch.multinomial(probs, 1).squeeze(-1)


ALL: tuple[type[_Mutant], ...] = (
    TopPDropsCrossingToken,
    TopKExactlyKDeclaringKeepTies,
    TopKOffByOne,
    TemperatureAppliedLast,
    MinPRemovesAtThreshold,
    DrawsFromUnfilteredDistribution,
    DrawnIndexOffByOne,
    GreedyLastTiedIndex,
    NaNPassesThrough,
    TopPOneRemovesUnderflow,
    DrawsFromGlobalGenerator,
)
