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

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import sampling
from specformer.reference.sampling import SamplingParams


class _Mutant(Mutant):
    capabilities = reference_capabilities("sampling", "SAMP-")


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


class TemperatureWithEpsilon(_Mutant):
    """Divides by T + 1e-3 "for safety": every temperature, 1 included, is off."""

    breaks = ("SAMP-TEMP-01", "SAMP-TEMP-02")

    def temperature(self, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        sampling.check_logits(logits)
        sampling.validate_temperature(temperature)
        return logits / (temperature + 1e-3)


class TemperatureZeroAccepted(_Mutant):
    """Accepts T = 0 and infinite T (divides anyway) instead of rejecting them."""

    breaks = ("SAMP-TEMP-03",)

    def temperature(self, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        sampling.check_logits(logits)
        if not temperature >= 0:  # rejects negatives and NaN only
            raise ValueError(f"temperature must be >= 0, got {temperature!r}")
        return logits / temperature


class TopKClampedBelowVocab(_Mutant):
    """Clamps k to V - 1, so k >= V still removes the smallest logit."""

    breaks = ("SAMP-TOPK-03",)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        sampling.validate_top_k(top_k)
        return sampling.top_k_filter(logits, max(1, min(top_k, logits.shape[-1] - 1)))


class TopKZeroMeansDisabled(_Mutant):
    """Treats top_k = 0 (and negatives) as "disabled" instead of rejecting them."""

    breaks = ("SAMP-TOPK-04",)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        if isinstance(top_k, int) and top_k <= 0:
            return logits.clone()
        return super().top_k(logits, top_k)


class TopKGuardsInfiniteThreshold(_Mutant):
    """When the k-th largest logit is -inf (fewer finite logits than k), falls back to keeping the
    single largest, instead of keeping every finite one."""

    breaks = ("SAMP-TOPK-05", "SAMP-TOPK-01")

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        sampling.check_logits(logits)
        sampling.validate_top_k(top_k)
        if top_k >= logits.shape[-1]:
            return logits.clone()
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        kth = torch.where(torch.isneginf(kth), logits.amax(dim=-1, keepdim=True), kth)  # bug
        return logits.masked_fill(logits < kth, -math.inf)


class TopPIgnoresMinTokensToKeep(_Mutant):
    """Always keeps just the one most probable token at least, whatever min_tokens_to_keep says."""

    breaks = ("SAMP-TOPP-04",)

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        sampling.validate_min_tokens_to_keep(min_tokens_to_keep)
        return super().top_p(logits, top_p, 1)


class TopPZeroAccepted(_Mutant):
    """Accepts top_p = 0 (keeping the top token), as transformers' warper does."""

    breaks = ("SAMP-TOPP-05",)

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        return super().top_p(logits, max(top_p, 1e-9) if top_p == 0 else top_p, min_tokens_to_keep)


class MinPAboveOneAccepted(_Mutant):
    """Clips min_p into [0, 1] instead of rejecting values outside it."""

    breaks = ("SAMP-MINP-03",)

    def min_p(self, logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        clipped = min(max(min_p, 0.0), 1.0) if min_p == min_p else min_p
        return super().min_p(logits, clipped, min_tokens_to_keep)


class MinPIgnoresMinTokensToKeep(_Mutant):
    """Forgets to force the min_tokens_to_keep most probable tokens back in (keeps only one)."""

    breaks = ("SAMP-MINP-04",)

    def min_p(self, logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        sampling.validate_min_tokens_to_keep(min_tokens_to_keep)
        return super().min_p(logits, min_p, 1)


class TopPOnUnrenormalisedDistribution(_Mutant):
    """In the pipeline, top-p measures mass on the original distribution, not on top-k's survivors."""

    breaks = ("SAMP-ORDER-02", "SAMP-ORDER-01")

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        sampling.check_logits(logits)
        params.validate()
        scaled = sampling.apply_temperature(logits, params.temperature)
        kept = torch.isfinite(scaled)
        if params.top_p < 1.0:
            kept &= torch.isfinite(sampling.top_p_filter(scaled, params.top_p))  # bug: before top-k
        if params.top_k is not None:
            kept &= torch.isfinite(sampling.top_k_filter(scaled, params.top_k))
        result = scaled.masked_fill(~kept, -math.inf)
        return sampling.min_p_filter(result, params.min_p) if params.min_p > 0 else result


class DefaultTopKAlwaysOn(_Mutant):
    """Applies top_k = 50 when none is given, as transformers' generate() defaults do."""

    breaks = ("SAMP-ORDER-03",)

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        if params.top_k is None:
            params = SamplingParams(params.temperature, 50, params.top_p, params.min_p, params.min_tokens_to_keep)
        return super().process(logits, params)


class TopPCanEmptyARow(_Mutant):
    """Top-p without the guard that keeps the most probable token: a tiny p removes everything."""

    breaks = ("SAMP-KEEP-01",)

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        sampling.validate_top_p(top_p)
        if top_p < 1e-3:
            return torch.full_like(logits, -math.inf)
        return super().top_p(logits, top_p, min_tokens_to_keep)


class FiltersTurnEmptyRowsIntoNaN(_Mutant):
    """Renormalises with softmax inside top-k, so an all -inf row comes back as NaN."""

    breaks = ("SAMP-EDGE-02",)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        filtered = super().top_k(logits, top_k)
        empty = ~torch.isfinite(logits).any(dim=-1, keepdim=True)
        return filtered.masked_fill(empty, math.nan)


class VocabularyOfOneBreaksGreedy(_Mutant):
    """Computes greedy from the two largest logits, which a vocabulary of one does not have."""

    breaks = ("SAMP-EDGE-03",)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        sampling.check_logits(logits)
        if logits.shape[-1] < 2:
            raise ValueError("logits must have at least 2 entries")
        return super().greedy(logits)


class TopKThresholdAcrossTheBatch(_Mutant):
    """Takes the k-th largest logit over the whole batch instead of per row."""

    breaks = ("SAMP-EDGE-04", "SAMP-ORDER-01")

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        if params.top_k is None or params.top_k >= logits.shape[-1]:
            return super().process(logits, params)
        scaled = sampling.apply_temperature(logits, params.temperature)
        kth = scaled.flatten().topk(params.top_k).values[-1]  # bug: one threshold for all rows
        filtered = scaled.masked_fill(scaled < kth, -math.inf)
        rest = SamplingParams(1.0, None, params.top_p, params.min_p, params.min_tokens_to_keep)
        return super().process(filtered, rest)


class TemperatureInPlace(_Mutant):
    """Divides the caller's logits in place (as a serving engine may do to save memory)."""

    breaks = ("SAMP-EDGE-05",)

    def temperature(self, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        sampling.check_logits(logits)
        sampling.validate_temperature(temperature)
        return logits.div_(temperature)


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
    TemperatureWithEpsilon,
    TemperatureZeroAccepted,
    TopKClampedBelowVocab,
    TopKZeroMeansDisabled,
    TopKGuardsInfiniteThreshold,
    TopPIgnoresMinTokensToKeep,
    TopPZeroAccepted,
    MinPAboveOneAccepted,
    MinPIgnoresMinTokensToKeep,
    TopPOnUnrenormalisedDistribution,
    DefaultTopKAlwaysOn,
    TopPCanEmptyARow,
    FiltersTurnEmptyRowsIntoNaN,
    VocabularyOfOneBreaksGreedy,
    TopKThresholdAcrossTheBatch,
    TemperatureInPlace,
)
