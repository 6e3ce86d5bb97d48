"""Mutants of the generation family: the reference adapter with one plausible bug each.

Most replace one of the reference loop's steps (a field of GenerationSteps, the reference
adapter's public `generation_steps`, which its processor operations and the loop both use) or
bring a broken cache through `cache_class`; the others change what reaches or leaves the
reference loop. `breaks` lists exactly the clauses the suite then fails;
tests/test_mutants_generation.py checks that.

    specformer run --adapter specformer.conformance.mutants.generation:RepetitionMultipliesPositive
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from specformer.conformance.adapters.protocols import Capabilities
from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.conformance.mutants.kv_cache import _PositionsCountPadding, _PositionsRestart
from specformer.reference import generation, sampling


class _Mutant(Mutant):
    capabilities = reference_capabilities("generation", "GEN-")

    def replacements(self) -> dict[str, Callable[..., Any]]:
        """Steps of the reference loop (fields of GenerationSteps) this mutant replaces."""
        return {}

    @property
    def generation_steps(self) -> generation.GenerationSteps:  # type: ignore[override]
        return generation.GenerationSteps(**self.replacements())


# ---------------------------------------------------------------------------------------
# Repetition penalty


def _repetition(bug):
    def penalty(
        logits, input_ids, theta, *, prompt_length, attention_mask=None, repetition_scope="prompt-and-generated"
    ):
        return bug(logits, input_ids, theta, prompt_length, attention_mask, repetition_scope)

    return penalty


def _seen_counts(logits, input_ids, prompt_length, attention_mask, scope):
    counted = generation.counted_positions(input_ids, prompt_length, scope, attention_mask)
    return generation.occurrences(input_ids, logits.shape[-1], counted)


# A penalty that changes the seen logits wrongly fails the repetition clauses and every clause
# whose cases turn the penalty on (batching, processor order, sampling, scores).
_SEEN_LOGITS_MISPENALISED = (
    "GEN-BATCH-01",
    "GEN-ORDER-01",
    "GEN-REP-01",
    "GEN-REP-02",
    "GEN-REP-04",
    "GEN-REP-05",
    "GEN-SAMPLE-02",
    "GEN-SCORE-01",
)


class RepetitionMultipliesPositive(_Mutant):
    """Multiplies every seen logit by the penalty, so positive ones grow."""

    breaks = _SEEN_LOGITS_MISPENALISED

    def replacements(self):
        def bug(logits, ids, theta, prompt_length, mask, scope):
            generation.validate_repetition_penalty(theta)
            seen = _seen_counts(logits, ids, prompt_length, mask, scope) > 0
            return torch.where(seen, logits * theta, logits)

        return {"repetition_penalty": _repetition(bug)}


class RepetitionPerOccurrence(_Mutant):
    """Divides (or multiplies) by the penalty once per occurrence: theta ** count."""

    breaks = ("GEN-REP-01", "GEN-REP-02", "GEN-SCORE-01")

    def replacements(self):
        def bug(logits, ids, theta, prompt_length, mask, scope):
            generation.validate_repetition_penalty(theta)
            factor = torch.tensor(theta, dtype=logits.dtype) ** _seen_counts(logits, ids, prompt_length, mask, scope)
            return torch.where(logits < 0, logits * factor, logits / factor)

        return {"repetition_penalty": _repetition(bug)}


class RepetitionGeneratedOnlyDeclaringPrompt(_Mutant):
    """Counts generated tokens only while declaring the prompt-and-generated variant."""

    breaks = _SEEN_LOGITS_MISPENALISED

    def replacements(self):
        def bug(logits, ids, theta, prompt_length, mask, scope):
            return generation.repetition_penalty(
                logits, ids, theta, prompt_length=prompt_length, attention_mask=mask, repetition_scope="generated-only"
            )

        return {"repetition_penalty": _repetition(bug)}


class RepetitionCountsPadding(_Mutant):
    """Counts left-padding positions as tokens."""

    breaks = ("GEN-REP-05",)

    def replacements(self):
        def bug(logits, ids, theta, prompt_length, mask, scope):
            return generation.repetition_penalty(
                logits, ids, theta, prompt_length=prompt_length, attention_mask=None, repetition_scope=scope
            )

        return {"repetition_penalty": _repetition(bug)}


class RepetitionPenalisesUnseen(_Mutant):
    """Applies the penalty to every token of a row that has seen anything."""

    breaks = tuple(sorted((*_SEEN_LOGITS_MISPENALISED, "GEN-REP-03")))  # unseen tokens too

    def replacements(self):
        def bug(logits, ids, theta, prompt_length, mask, scope):
            generation.validate_repetition_penalty(theta)
            seen = _seen_counts(logits, ids, prompt_length, mask, scope).sum(-1, keepdim=True) > 0  # bug: any token
            return torch.where(seen, torch.where(logits < 0, logits * theta, logits / theta), logits)

        return {"repetition_penalty": _repetition(bug)}


class RepetitionPenaltyUnchecked(_Mutant):
    """Accepts any penalty (0 divides by zero, negatives flip signs)."""

    breaks = ("GEN-REP-06",)

    def replacements(self):
        def bug(logits, ids, theta, prompt_length, mask, scope):
            seen = _seen_counts(logits, ids, prompt_length, mask, scope) > 0  # bug: theta never checked
            return torch.where(seen, torch.where(logits < 0, logits * theta, logits / theta), logits)

        return {"repetition_penalty": _repetition(bug)}


# ---------------------------------------------------------------------------------------
# Frequency and presence


def _frequency(bug, *, checked: bool = True):
    def penalty(
        logits,
        input_ids,
        *,
        prompt_length,
        frequency_penalty=0.0,
        presence_penalty=0.0,
        attention_mask=None,
        penalty_scope="generated-only",
    ):
        if checked:
            generation.validate_penalty("frequency_penalty", frequency_penalty)
            generation.validate_penalty("presence_penalty", presence_penalty)
        counts = _seen_counts(logits, input_ids, prompt_length, attention_mask, penalty_scope).to(logits.dtype)
        return bug(logits, counts, frequency_penalty, presence_penalty)

    return penalty


class FrequencyCountsPromptDeclaringGenerated(_Mutant):
    """Counts prompt tokens too while declaring OpenAI's generated-only definition."""

    breaks = ("GEN-FREQ-01", "GEN-FREQ-03", "GEN-PRES-01")

    def replacements(self):
        def penalty(logits, input_ids, *, penalty_scope="generated-only", **kwargs):
            # bug: the declared scope is dropped
            return generation.frequency_presence_penalty(
                logits, input_ids, **kwargs, penalty_scope="prompt-and-generated"
            )

        return {"frequency_presence_penalty": penalty}


class FrequencyGrowsPerOccurrence(_Mutant):
    """The course notes' reading: the k-th occurrence costs k * beta (2 - (0.1 + 0.2) = 1.7)."""

    breaks = ("GEN-FREQ-01", "GEN-PRES-01")

    def replacements(self):
        return {
            "frequency_presence_penalty": _frequency(
                lambda logits, c, f, p: logits - f * c * (c + 1) / 2 - p * (c > 0).to(logits.dtype)
            )
        }


class PresencePerOccurrence(_Mutant):
    """Subtracts the presence penalty once per occurrence."""

    breaks = ("GEN-FREQ-01", "GEN-PRES-01")

    def replacements(self):
        return {"frequency_presence_penalty": _frequency(lambda logits, c, f, p: logits - f * c - p * c)}


class PenaltyRangeUnchecked(_Mutant):
    """Accepts frequency and presence penalties outside [-2, 2]."""

    breaks = ("GEN-FREQ-02",)

    def replacements(self):
        penalty = _frequency(lambda logits, c, f, p: logits - f * c - p * (c > 0).to(logits.dtype), checked=False)
        return {"frequency_presence_penalty": penalty}


# ---------------------------------------------------------------------------------------
# n-grams and length


class NgramContextOneShort(_Mutant):
    """Bans with n - 1 as the n-gram size (a bigram rule for trigrams, every seen token for bigrams)."""

    breaks = ("GEN-NGRAM-01", "GEN-SCORE-01")

    def replacements(self):
        def bug(logits, input_ids, ngram_size):
            return generation.no_repeat_ngram(logits, input_ids, ngram_size - 1 if ngram_size > 1 else ngram_size)

        return {"no_repeat_ngram": bug}


class UnigramBansNothing(_Mutant):
    """Treats n = 1 like "too short to repeat" and bans nothing."""

    breaks = ("GEN-NGRAM-01", "GEN-NGRAM-02")

    def replacements(self):
        def bug(logits, input_ids, ngram_size):
            return logits.clone() if ngram_size == 1 else generation.no_repeat_ngram(logits, input_ids, ngram_size)

        return {"no_repeat_ngram": bug}


class NgramSizeUnchecked(_Mutant):
    """Treats n < 1 as "off" in the processor instead of rejecting it."""

    breaks = ("GEN-NGRAM-03",)

    def replacements(self):
        def bug(logits, input_ids, ngram_size):
            return logits.clone() if ngram_size < 1 else generation.no_repeat_ngram(logits, input_ids, ngram_size)

        return {"no_repeat_ngram": bug}


class MinNewTokensOffByOne(_Mutant):
    """Keeps EOS banned while generated <= min_new_tokens: one step too long."""

    breaks = ("GEN-MIN-01",)

    def replacements(self):
        def bug(logits, input_ids, *, prompt_length, min_new_tokens, eos_token_ids):
            return generation.min_new_tokens_mask(
                logits,
                input_ids,
                prompt_length=prompt_length - 1,
                min_new_tokens=min_new_tokens,
                eos_token_ids=eos_token_ids,
            )

        return {"min_new_tokens_mask": bug}


class MinNewTokensUnchecked(_Mutant):
    """Clips min_new_tokens into [0, max_new_tokens] instead of rejecting it."""

    breaks = ("GEN-MIN-02",)

    def generate(self, weights, prompt_ids, config, **kwargs):
        clipped = min(max(config.min_new_tokens, 0), max(config.max_new_tokens, 0))
        return super().generate(weights, prompt_ids, dataclasses.replace(config, min_new_tokens=clipped), **kwargs)


class MaxNewTokensOneShort(_Mutant):
    """Stops one token early (counts the token that seeded the first step)."""

    breaks = (
        "GEN-BATCH-01",
        "GEN-BEAM-01",
        "GEN-BEAM-03",
        "GEN-BEAM-05",
        "GEN-BEAM-06",
        "GEN-EOS-01",
        "GEN-EOS-03",
        "GEN-GREEDY-01",
        "GEN-LEN-01",
        "GEN-MET-02",
        "GEN-MIN-01",
        "GEN-SAMPLE-02",
        "GEN-STOP-03",
    )

    def generate(self, weights, prompt_ids, config, **kwargs):
        if config.max_new_tokens > 0:
            config = dataclasses.replace(config, max_new_tokens=config.max_new_tokens - 1)
        return super().generate(weights, prompt_ids, config, **kwargs)


class ZeroNewTokensRejected(_Mutant):
    """Rejects max_new_tokens = 0 (transformers' rule) while the spec returns the prompt."""

    breaks = ("GEN-LEN-02",)

    def generate(self, weights, prompt_ids, config, **kwargs):
        if config.max_new_tokens == 0:
            raise ValueError("max_new_tokens must be greater than 0, but is 0")
        return super().generate(weights, prompt_ids, config, **kwargs)


# ---------------------------------------------------------------------------------------
# Stopping


class FinishedRowsKeepGenerating(_Mutant):
    """A row that produced EOS keeps generating real tokens until every row is done."""

    breaks = ("GEN-EOS-01", "GEN-EOS-02", "GEN-EOS-03", "GEN-MIN-01")

    def generate(self, weights, prompt_ids, config, **kwargs):
        if config.num_beams > 1 or not config.eos_token_ids:
            return super().generate(weights, prompt_ids, config, **kwargs)
        free = super().generate(weights, prompt_ids, dataclasses.replace(config, eos_token_ids=()), **kwargs)
        firsts = []
        for row in free.sequences[:, prompt_ids.shape[1] :].tolist():
            ends = [i for i, t in enumerate(row) if t in config.eos_token_ids]
            firsts.append(ends[0] + 1 if ends else len(row))
        steps = max(firsts)  # the loop still stops when every row has produced an EOS
        free.sequences = free.sequences[:, : prompt_ids.shape[1] + steps]
        free.scores = free.scores[:, :steps]
        return free


class OnlyFirstEosIdStops(_Mutant):
    """Only the first of several EOS ids ends a row."""

    breaks = ("GEN-BEAM-01", "GEN-BEAM-02", "GEN-BEAM-03", "GEN-EOS-02", "GEN-EOS-03", "GEN-MIN-01")

    def generate(self, weights, prompt_ids, config, **kwargs):
        return super().generate(
            weights, prompt_ids, dataclasses.replace(config, eos_token_ids=config.eos_token_ids[:1]), **kwargs
        )


class StopStringPerToken(_Mutant):
    """Checks each token's text alone, so a stop string split across tokens is missed."""

    breaks = ("GEN-STOP-01", "GEN-STOP-04")

    def replacements(self):
        return {"stop_string_hit": lambda before, token_text, stops: any(s in token_text for s in stops)}


class EmptyStopStringIgnored(_Mutant):
    """Drops empty stop strings silently instead of rejecting them."""

    breaks = ("GEN-STOP-02",)

    def generate(self, weights, prompt_ids, config, **kwargs):
        config = dataclasses.replace(config, stop_strings=tuple(s for s in config.stop_strings if s))
        return super().generate(weights, prompt_ids, config, **kwargs)


class StopMatchesPromptDeclaringGenerated(_Mutant):
    """Matches stop strings on prompt + generated text while declaring generated-only."""

    breaks = ("GEN-STOP-03",)

    def generate(self, weights, prompt_ids, config, **kwargs):
        kwargs.setdefault("on_token", None)
        return generation.generate(
            weights, prompt_ids, config, **kwargs, **{**self.generation_variants, "stop_scope": "prompt-and-generated"}
        )


class StopTextCutDeclaringKept(_Mutant):
    """Cuts the text before the stop string while declaring the kept variant."""

    breaks = ("GEN-STOP-04",)

    def generate(self, weights, prompt_ids, config, **kwargs):
        return generation.generate(
            weights, prompt_ids, config, **kwargs, **{**self.generation_variants, "stop_text": "cut"}
        )


# ---------------------------------------------------------------------------------------
# Scores, order, search


class ScoresAreRawLogits(_Mutant):
    """Returns the raw model logits as scores while choosing tokens from the processed ones."""

    breaks = ("GEN-SCORE-01", "GEN-ORDER-01", "GEN-MIN-01")

    def generate(self, weights, prompt_ids, config, **kwargs):
        raw: list[torch.Tensor] = []

        def recording(logits, *args, **kw):
            raw.append(logits.clone())
            return generation.process_step(logits, *args, **kw)

        steps = generation.GenerationSteps(process_step=recording)
        out = generation.generate(
            weights, prompt_ids, config, **kwargs, cache_class=self.cache_class, steps=steps, **self.generation_variants
        )
        if config.num_beams == 1 and raw:
            out.scores = torch.stack(raw, dim=1)
        return out


class PenaltiesAfterWarpers(_Mutant):
    """Applies temperature, top-k, top-p and min-p before the penalties."""

    breaks = ("GEN-ORDER-01", "GEN-SAMPLE-02")

    def replacements(self):
        def reordered(logits, input_ids, config, **kwargs):
            if config.do_sample:
                logits = sampling.process(logits, config.sampling)
            return generation.process_step(logits, input_ids, dataclasses.replace(config, do_sample=False), **kwargs)

        return {"process_step": reordered}


class PositionsRestartInGeneration(_Mutant):
    """The loop's cache restarts RoPE positions at every decode step."""

    breaks = (
        "GEN-BATCH-01",
        "GEN-BEAM-01",
        "GEN-BEAM-02",
        "GEN-BEAM-03",
        "GEN-BEAM-05",
        "GEN-EOS-01",
        "GEN-EOS-02",
        "GEN-EOS-03",
        "GEN-GREEDY-01",
        "GEN-MIN-01",
        "GEN-ORDER-01",
        "GEN-SCORE-01",
        "GEN-STOP-01",
        "GEN-STOP-03",
        "GEN-STOP-04",
    )

    cache_class = _PositionsRestart


class PositionsCountPaddingInGeneration(_Mutant):
    """The loop's position ids count the left padding (caught on GPT-2's absolute positions only)."""

    breaks = ("GEN-BATCH-01",)

    cache_class = _PositionsCountPadding


class LeftPaddingIgnored(_Mutant):
    """generate() drops the attention mask: padding is attended and positions start at the pads."""

    breaks = ("GEN-BATCH-01",)

    def generate(self, weights, prompt_ids, config, *, attention_mask=None, **kwargs):
        return super().generate(weights, prompt_ids, config, **kwargs)


class SamplingIgnoresGenerator(_Mutant):
    """Draws with a fresh default generator: every run gives the same tokens, whatever the seed."""

    breaks = ("GEN-SAMPLE-01",)

    def generate(self, weights, prompt_ids, config, *, generator=None, **kwargs):
        return super().generate(weights, prompt_ids, config, generator=torch.Generator(), **kwargs)


class SamplingWithoutTemperature(_Mutant):
    """Skips the temperature when sampling."""

    breaks = ("GEN-ORDER-01", "GEN-SAMPLE-02")

    def replacements(self):
        def no_temperature(logits, params):
            return sampling.process(logits, dataclasses.replace(params, temperature=1.0))

        return {"sampling_process": no_temperature}


class BeamRanksByLastStep(_Mutant):
    """Ranks beam candidates by the step's log-probability only, not the cumulative one."""

    breaks = ("GEN-BEAM-01", "GEN-BEAM-02", "GEN-BEAM-03", "GEN-BEAM-06")

    def replacements(self):
        def by_last_step(log_probs, running_scores, keep):
            order = log_probs.double().flatten().topk(min(keep, log_probs.numel()))[1]
            total = (log_probs.double() + running_scores[:, None]).flatten()
            return total[order], order

        return {"top_candidates": by_last_step}


class BeamScoresNotNormalised(_Mutant):
    """Scores finished hypotheses by their total log-probability while declaring length_penalty."""

    breaks = ("GEN-BEAM-01", "GEN-BEAM-02", "GEN-BEAM-03")

    def replacements(self):
        return {"hypothesis_score": lambda total, length, alpha: total}


class EarlyStoppingTrueIgnored(_Mutant):
    """early_stopping=True behaves as False."""

    breaks = ("GEN-BEAM-03",)

    def generate(self, weights, prompt_ids, config, **kwargs):
        if config.early_stopping is True:
            config = dataclasses.replace(config, early_stopping=False)
        return super().generate(weights, prompt_ids, config, **kwargs)


class BeamReturnsWorstFirst(_Mutant):
    """Returns each prompt's hypotheses in ascending score order."""

    breaks = ("GEN-BEAM-01", "GEN-BEAM-03", "GEN-BEAM-04")

    def generate(self, weights, prompt_ids, config, **kwargs):
        out = super().generate(weights, prompt_ids, config, **kwargs)
        if config.num_beams > 1 and out.sequence_scores is not None:
            n = config.num_return_sequences
            out.sequences = out.sequences.view(-1, n, out.sequences.shape[-1]).flip(1).reshape(out.sequences.shape)
            out.sequence_scores = out.sequence_scores.view(-1, n).flip(1).flatten()
        return out


class OneBeamRunsTwo(_Mutant):
    """num_beams = 1 runs a two-beam search."""

    breaks = (
        "GEN-BATCH-01",
        "GEN-EOS-01",
        "GEN-EOS-02",
        "GEN-EOS-03",
        "GEN-GREEDY-01",
        "GEN-LEN-02",
        "GEN-MET-01",
        "GEN-MET-02",
        "GEN-MET-03",
        "GEN-MIN-01",
        "GEN-ORDER-01",
        "GEN-SAMPLE-01",
        "GEN-SAMPLE-02",
        "GEN-SCORE-01",
        "GEN-STOP-01",
        "GEN-STOP-04",
    )

    def generate(self, weights, prompt_ids, config, **kwargs):
        if config.num_beams == 1:
            config = dataclasses.replace(config, num_beams=2, do_sample=False)
        return super().generate(weights, prompt_ids, config, **kwargs)


class OnTokenPerRow(_Mutant):
    """Streams one callback per row and step, so a batch looks like B times as many steps."""

    breaks = ("GEN-MET-01", "GEN-MET-02", "GEN-MET-03")

    def generate(self, weights, prompt_ids, config, *, on_token=None, **kwargs):
        if on_token is None:
            return super().generate(weights, prompt_ids, config, **kwargs)

        def per_row() -> None:
            for _ in range(prompt_ids.shape[0]):
                on_token()

        return super().generate(weights, prompt_ids, config, on_token=per_row, **kwargs)


class CacheBytesKeysOnly(_Mutant):
    """Reports the cache's key bytes as its size, forgetting the values."""

    capabilities = Capabilities(
        families=frozenset({"generation", "kv_cache"}),
        dtypes=_Mutant.capabilities.dtypes,
        variants=dict(_Mutant.capabilities.variants),
    )
    breaks = ("GEN-MET-04",)  # (and KV-SIZE-01, when the kv_cache family runs)

    def cache_after_prefill(self, *args, **kwargs):
        state = super().cache_after_prefill(*args, **kwargs)
        state.nbytes //= 2
        return state


ALL: tuple[type[_Mutant], ...] = (
    RepetitionMultipliesPositive,
    RepetitionPerOccurrence,
    RepetitionGeneratedOnlyDeclaringPrompt,
    RepetitionCountsPadding,
    RepetitionPenalisesUnseen,
    RepetitionPenaltyUnchecked,
    FrequencyCountsPromptDeclaringGenerated,
    FrequencyGrowsPerOccurrence,
    PresencePerOccurrence,
    PenaltyRangeUnchecked,
    NgramContextOneShort,
    UnigramBansNothing,
    NgramSizeUnchecked,
    MinNewTokensOffByOne,
    MinNewTokensUnchecked,
    MaxNewTokensOneShort,
    ZeroNewTokensRejected,
    FinishedRowsKeepGenerating,
    OnlyFirstEosIdStops,
    StopStringPerToken,
    EmptyStopStringIgnored,
    StopMatchesPromptDeclaringGenerated,
    StopTextCutDeclaringKept,
    ScoresAreRawLogits,
    PenaltiesAfterWarpers,
    PositionsRestartInGeneration,
    PositionsCountPaddingInGeneration,
    LeftPaddingIgnored,
    SamplingIgnoresGenerator,
    SamplingWithoutTemperature,
    BeamRanksByLastStep,
    BeamScoresNotNormalised,
    EarlyStoppingTrueIgnored,
    BeamReturnsWorstFirst,
    OneBeamRunsTwo,
    OnTokenPerRow,
    CacheBytesKeysOnly,
)
