"""Reference generation loop: penalties, stopping, greedy, sampling and beam search.

The oracle for spec/generation.md, readable top to bottom like gpt-fast's generate.py. Shapes:
B batch rows, P prompt length, T generated tokens, V vocabulary; token ids int64.

One step of the loop is

    logits  = decoder(last tokens, cache)[:, -1]                 (kv_cache.decoder_forward)
    logits  = process(logits, ids so far)                        penalties, bans, masks (GEN-ORDER-01)
    logits  = sampling.process(logits, params)    if sampling    temperature, top-k, top-p, min-p
    token   = argmax(logits) | draw(softmax(logits)) | beams

then the stopping rules (EOS ids, stop strings, max_new_tokens) and, for rows that finished,
pad_token_id in every later position. The one-step processors of the sampling family are
reused from specformer.reference.sampling, not repeated here.

Where libraries legitimately differ, the choice is a keyword named after the spec's variants:
`repetition_scope` (GEN-REP-04), `penalty_scope` (GEN-FREQ-03), `stop_scope` (GEN-STOP-03) and
`stop_text` (GEN-STOP-04).

Left out: encoder-decoder models, constrained/group/diverse beam search, beam sampling,
speculative decoding, streaming, typical/epsilon/eta sampling, and batching beyond a
vectorised loop. Randomness comes in only through an explicit torch.Generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from specformer.reference import sampling
from specformer.reference.kv_cache import DecoderWeights, KVCache, decoder_forward, new_cache
from specformer.reference.sampling import SamplingParams

REPETITION_SCOPES = ("prompt-and-generated", "generated-only")  # GEN-REP-04
PENALTY_SCOPES = ("generated-only", "prompt-and-generated")  # GEN-FREQ-03
STOP_SCOPES = ("generated-only", "prompt-and-generated")  # GEN-STOP-03
STOP_TEXTS = ("kept", "cut")  # GEN-STOP-04
EARLY_STOPPING = (False, True, "never")  # GEN-BEAM-03
DEFAULT_VARIANTS = {
    "repetition_scope": "prompt-and-generated",
    "penalty_scope": "generated-only",
    "stop_scope": "generated-only",
    "stop_text": "kept",
}


@dataclass(frozen=True)
class GenerationConfig:
    """Everything one generate() call needs besides the model and the prompt.

    Defaults: greedy, no penalties, no stopping but max_new_tokens.
    """

    max_new_tokens: int = 8  # generated tokens, EOS included, prompt excluded (GEN-LEN-01)
    min_new_tokens: int = 0  # EOS impossible before this many generated tokens (GEN-MIN-01)
    eos_token_ids: tuple[int, ...] = ()  # any of them ends a row (GEN-EOS-01, GEN-EOS-02)
    pad_token_id: int = 0  # fills a finished row while others continue (GEN-EOS-03)
    do_sample: bool = False
    sampling: SamplingParams = field(default_factory=SamplingParams)  # used only when do_sample
    repetition_penalty: float = 1.0  # theta > 0; 1: off
    frequency_penalty: float = 0.0  # in [-2, 2]; 0: off
    presence_penalty: float = 0.0  # in [-2, 2]; 0: off
    no_repeat_ngram_size: int = 0  # 0: off
    num_beams: int = 1
    length_penalty: float = 1.0  # beam score = sum log p / length ** length_penalty
    early_stopping: bool | str = False  # True, False or "never" (GEN-BEAM-03)
    num_return_sequences: int = 1  # <= num_beams
    stop_strings: tuple[str, ...] = ()  # need token_strings
    token_strings: tuple[str, ...] | None = None  # the text of each token id, for stop strings
    cache_kind: str = "dynamic"  # "dynamic" or "static" (max_cache_len = P + max_new_tokens)

    def validate(self) -> None:
        """Every bad value raises ValueError naming the parameter and the accepted range."""
        _check_int("max_new_tokens", self.max_new_tokens, 0)
        _check_int("min_new_tokens", self.min_new_tokens, 0)
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(
                f"min_new_tokens ({self.min_new_tokens}) must be <= max_new_tokens ({self.max_new_tokens})"
            )
        _check_int("num_beams", self.num_beams, 1)
        _check_int("num_return_sequences", self.num_return_sequences, 1)
        if self.num_return_sequences > self.num_beams:
            raise ValueError(
                f"num_return_sequences ({self.num_return_sequences}) must be in [1, num_beams={self.num_beams}]"
            )
        _check_int("no_repeat_ngram_size", self.no_repeat_ngram_size, 0)
        validate_repetition_penalty(self.repetition_penalty)
        validate_penalty("frequency_penalty", self.frequency_penalty)
        validate_penalty("presence_penalty", self.presence_penalty)
        if not math.isfinite(self.length_penalty):
            raise ValueError(f"length_penalty must be a finite float, got {self.length_penalty}")
        if self.early_stopping not in EARLY_STOPPING or not isinstance(self.early_stopping, bool | str):
            raise ValueError(f"early_stopping must be True, False or 'never', got {self.early_stopping!r}")
        validate_stop_strings(self.stop_strings, self.token_strings)
        if self.do_sample:
            self.sampling.validate()
        if self.cache_kind not in ("dynamic", "static"):
            raise ValueError(f"cache_kind must be 'dynamic' or 'static', got {self.cache_kind!r}")


@dataclass
class GenerationOutput:
    """sequences (B', P + T): prompt then generated tokens, pad_token_id after a row finished;
    B' = B * num_return_sequences for beam search. scores (B, T, V): the processed logits each
    token was chosen from (greedy and sampling; beam search: processed log-probabilities of the
    running beams, (B * num_beams, T, V)). sequence_scores (B',): beam scores, else None.
    texts: the generated text of each row when token_strings were given (GEN-STOP-04)."""

    sequences: torch.Tensor
    scores: torch.Tensor
    sequence_scores: torch.Tensor | None = None
    texts: list[str] | None = None


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def validate_repetition_penalty(penalty: float) -> None:
    if isinstance(penalty, bool) or not isinstance(penalty, int | float) or not (0 < penalty < math.inf):
        raise ValueError(f"repetition_penalty must be a finite float > 0 (range (0, inf)), got {penalty!r}")


def validate_penalty(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (-2.0 <= value <= 2.0):
        raise ValueError(f"{name} must be a float in [-2, 2], got {value!r}")


def validate_stop_strings(stop_strings: tuple[str, ...], token_strings: tuple[str, ...] | None) -> None:
    if isinstance(stop_strings, str):
        raise ValueError(f"stop_strings must be a tuple of non-empty strings, got the string {stop_strings!r}")
    for stop in stop_strings:
        if not isinstance(stop, str) or not stop:
            raise ValueError(f"stop_strings must be non-empty strings, got {stop!r}")
    if stop_strings and token_strings is None:
        raise ValueError("stop_strings need token_strings (the text of each token id)")


def _check_step(logits: torch.Tensor, input_ids: torch.Tensor) -> None:
    if logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be a floating (B, V) tensor, got {logits.dtype} {tuple(logits.shape)}")
    if input_ids.dim() != 2 or input_ids.shape[0] != logits.shape[0] or input_ids.dtype != torch.long:
        raise ValueError(f"input_ids must be int64 (B={logits.shape[0]}, L), got {input_ids.dtype} {input_ids.shape}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


# ---------------------------------------------------------------------------------------
# Penalties and bans: (B, V) logits and the (B, L) ids so far -> new (B, V) logits


def occurrences(input_ids: torch.Tensor, vocab: int, counted: torch.Tensor) -> torch.Tensor:
    """(B, V) number of times each token occurs among the positions where counted (B, L) is True."""
    counts = torch.zeros(input_ids.shape[0], vocab, dtype=torch.long)
    return counts.scatter_add_(1, input_ids.clamp(0, vocab - 1), (counted & (input_ids < vocab)).long())


def counted_positions(
    input_ids: torch.Tensor, prompt_length: int, scope: str, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    """(B, L) True where a token counts: left padding never; the prompt only in prompt scope."""
    counted = torch.ones_like(input_ids, dtype=torch.bool)
    if attention_mask is not None:
        counted[:, : attention_mask.shape[1]] &= attention_mask.bool()
    if scope == "generated-only":
        counted[:, :prompt_length] = False
    return counted


def repetition_penalty(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    penalty: float,
    *,
    prompt_length: int,
    attention_mask: torch.Tensor | None = None,
    repetition_scope: str = "prompt-and-generated",
) -> torch.Tensor:
    """CTRL's penalty as transformers applies it: every token seen at least once has its logit
    divided by `penalty` if positive, multiplied if negative, once however often it occurs.

    Clauses: GEN-REP-01, GEN-REP-02, GEN-REP-03, GEN-REP-04, GEN-REP-05, GEN-REP-06.

    >>> repetition_penalty(torch.tensor([[2.0, -2.0, 0.0, 2.0]]), torch.tensor([[0, 1, 2, 0]]), 2.0,
    ...                    prompt_length=0).tolist()
    [[1.0, -4.0, 0.0, 2.0]]
    """
    _check_step(logits, input_ids)
    validate_repetition_penalty(penalty)
    _check_choice("repetition_scope", repetition_scope, REPETITION_SCOPES)
    counted = counted_positions(input_ids, prompt_length, repetition_scope, attention_mask)
    seen = occurrences(input_ids, logits.shape[-1], counted) > 0  # (B, V)
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)  # subtle: 0 stays 0 either way
    return torch.where(seen, penalised, logits)


def frequency_presence_penalty(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    *,
    prompt_length: int,
    frequency_penalty: float = 0.0,
    presence_penalty: float = 0.0,
    attention_mask: torch.Tensor | None = None,
    penalty_scope: str = "generated-only",
) -> torch.Tensor:
    """OpenAI's definition: l_j - c_j * frequency_penalty - [c_j > 0] * presence_penalty, where
    c_j counts token j among the generated tokens (GEN-FREQ-03 names the prompt-counting variant).

    Clauses: GEN-FREQ-01, GEN-FREQ-02, GEN-FREQ-03, GEN-PRES-01.

    >>> frequency_presence_penalty(torch.tensor([[2.0, 1.0]]), torch.tensor([[1, 0, 0]]),
    ...                            prompt_length=1, frequency_penalty=0.1).tolist()
    [[1.7999999523162842, 1.0]]
    """
    _check_step(logits, input_ids)
    validate_penalty("frequency_penalty", frequency_penalty)
    validate_penalty("presence_penalty", presence_penalty)
    _check_choice("penalty_scope", penalty_scope, PENALTY_SCOPES)
    counted = counted_positions(input_ids, prompt_length, penalty_scope, attention_mask)
    counts = occurrences(input_ids, logits.shape[-1], counted).to(logits.dtype)  # (B, V)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty


def no_repeat_ngram(logits: torch.Tensor, input_ids: torch.Tensor, ngram_size: int) -> torch.Tensor:
    """Ban (-inf) every token that would complete an n-gram already present in input_ids.

    Clauses: GEN-NGRAM-01, GEN-NGRAM-02, GEN-NGRAM-03.

    >>> no_repeat_ngram(torch.zeros(1, 8), torch.tensor([[5, 6, 5]]), 2)[0, 6].item()
    -inf
    """
    _check_step(logits, input_ids)
    if isinstance(ngram_size, bool) or not isinstance(ngram_size, int) or ngram_size < 1:
        raise ValueError(f"no_repeat_ngram_size must be an int >= 1, got {ngram_size!r}")
    out = logits.clone()
    length = input_ids.shape[1]
    if length + 1 < ngram_size:  # nothing can repeat yet
        return out
    for row, ids in enumerate(input_ids.tolist()):
        context = tuple(ids[length - ngram_size + 1 :]) if ngram_size > 1 else ()
        for start in range(length - ngram_size + 1):
            if tuple(ids[start : start + ngram_size - 1]) == context:
                banned = ids[start + ngram_size - 1]
                if banned < logits.shape[-1]:
                    out[row, banned] = -math.inf
    return out


def min_new_tokens_mask(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    *,
    prompt_length: int,
    min_new_tokens: int,
    eos_token_ids: tuple[int, ...],
) -> torch.Tensor:
    """While fewer than min_new_tokens tokens follow the prompt, every EOS id is -inf.

    Clauses: GEN-MIN-01.
    """
    _check_step(logits, input_ids)
    _check_int("min_new_tokens", min_new_tokens, 0)
    out = logits.clone()
    if input_ids.shape[1] - prompt_length < min_new_tokens:
        for eos in eos_token_ids:
            out[:, eos] = -math.inf
    return out


def process_step(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    config: GenerationConfig,
    *,
    prompt_length: int,
    attention_mask: torch.Tensor | None = None,
    repetition_scope: str = "prompt-and-generated",
    penalty_scope: str = "generated-only",
    steps: GenerationSteps | None = None,
) -> torch.Tensor:
    """The generation-level processors, in the order of GEN-ORDER-01: repetition, frequency and
    presence penalties, n-gram bans, min_new_tokens; then, when sampling, the sampling family's
    temperature, top-k, top-p, min-p. Each is the one `steps` holds (GenerationSteps).

    Clauses: GEN-ORDER-01.
    """
    steps = GenerationSteps() if steps is None else steps
    if config.repetition_penalty != 1.0:
        logits = steps.repetition_penalty(
            logits,
            input_ids,
            config.repetition_penalty,
            prompt_length=prompt_length,
            attention_mask=attention_mask,
            repetition_scope=repetition_scope,
        )
    if config.frequency_penalty or config.presence_penalty:
        logits = steps.frequency_presence_penalty(
            logits,
            input_ids,
            prompt_length=prompt_length,
            frequency_penalty=config.frequency_penalty,
            presence_penalty=config.presence_penalty,
            attention_mask=attention_mask,
            penalty_scope=penalty_scope,
        )
    if config.no_repeat_ngram_size:
        logits = steps.no_repeat_ngram(logits, input_ids, config.no_repeat_ngram_size)
    if config.min_new_tokens and config.eos_token_ids:
        logits = steps.min_new_tokens_mask(
            logits,
            input_ids,
            prompt_length=prompt_length,
            min_new_tokens=config.min_new_tokens,
            eos_token_ids=config.eos_token_ids,
        )
    if config.do_sample:
        logits = steps.sampling_process(logits, config.sampling)
    return logits


# ---------------------------------------------------------------------------------------
# Stopping


def stop_string_hit(text_before: str, token_text: str, stop_strings: tuple[str, ...]) -> bool:
    """True when some stop string ends inside the newest token's text: it appears in
    text_before + token_text but not in text_before. Spans token boundaries (GEN-STOP-01).

    >>> stop_string_hit("say he", "llo", ("hello",)), stop_string_hit("", "say", ("hello",))
    (True, False)
    """
    text = text_before + token_text
    return any(stop in text and stop not in text_before for stop in stop_strings)


def cut_at_stop(text: str, stop_strings: tuple[str, ...]) -> str:
    """The text before the earliest stop string (ties: the first listed), OpenAI's `cut` (GEN-STOP-04).

    >>> cut_at_stop("one. two. three", (". t", "two"))
    'one'
    """
    hits = [(text.find(stop), i) for i, stop in enumerate(stop_strings) if stop in text]
    return text[: min(hits)[0]] if hits else text


# ---------------------------------------------------------------------------------------
# The loop: greedy and sampling


def _prepare(
    weights: DecoderWeights, prompt_ids: torch.Tensor, config: GenerationConfig, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    config.validate()
    if prompt_ids.dim() != 2 or prompt_ids.dtype != torch.long or prompt_ids.shape[1] < 1:
        raise ValueError(f"prompt_ids must be int64 (B, P) with P >= 1, got {prompt_ids.dtype} {prompt_ids.shape}")
    for name, ids in (("eos_token_ids", config.eos_token_ids), ("pad_token_id", (config.pad_token_id,))):
        if any(not 0 <= i < weights.config.vocab_size for i in ids):
            raise ValueError(f"{name} must be token ids in [0, {weights.config.vocab_size}), got {ids}")
    if attention_mask is None:
        return torch.ones_like(prompt_ids)
    if attention_mask.shape != prompt_ids.shape:
        raise ValueError(f"attention_mask must have shape {tuple(prompt_ids.shape)}, got {attention_mask.shape}")
    return attention_mask.long()


def _texts(
    config: GenerationConfig, generated: torch.Tensor, stop_text: str, steps: GenerationSteps
) -> list[str] | None:
    if config.token_strings is None:
        return None
    texts = []
    for row in generated.tolist():
        text, finished = "", False
        for token in row:
            if finished:
                break
            piece = config.token_strings[token]
            finished = token in config.eos_token_ids or steps.stop_string_hit(text, piece, config.stop_strings)
            text += piece if token not in config.eos_token_ids else ""
        texts.append(cut_at_stop(text, config.stop_strings) if stop_text == "cut" else text)
    return texts


def generate(
    weights: DecoderWeights,
    prompt_ids: torch.Tensor,
    config: GenerationConfig,
    *,
    attention_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    repetition_scope: str = "prompt-and-generated",
    penalty_scope: str = "generated-only",
    stop_scope: str = "generated-only",
    stop_text: str = "kept",
    on_token: Callable[[], None] | None = None,
    cache_class: type[KVCache] = KVCache,
    steps: GenerationSteps | None = None,
) -> GenerationOutput:
    """Generate up to config.max_new_tokens tokens after each (left-padded) prompt row.

    cache_class: the KVCache (sub)class the loop's cache is made of (kv_cache.new_cache); steps:
    the processors, stop-string test and beam scoring the loop uses (GenerationSteps).

    Clauses: GEN-MIN-02, GEN-STOP-02,
    GEN-LEN-01, GEN-LEN-02, GEN-EOS-01, GEN-EOS-02, GEN-EOS-03, GEN-STOP-01, GEN-STOP-03,
    GEN-STOP-04, GEN-SCORE-01, GEN-GREEDY-01, GEN-SAMPLE-01, GEN-SAMPLE-02, GEN-BATCH-01.
    """
    mask = _prepare(weights, prompt_ids, config, attention_mask)
    steps = GenerationSteps() if steps is None else steps
    for name, value, choices in (
        ("repetition_scope", repetition_scope, REPETITION_SCOPES),
        ("penalty_scope", penalty_scope, PENALTY_SCOPES),
        ("stop_scope", stop_scope, STOP_SCOPES),
        ("stop_text", stop_text, STOP_TEXTS),
    ):
        _check_choice(name, value, choices)
    if config.num_beams > 1:
        return beam_search(weights, prompt_ids, config, attention_mask=mask, cache_class=cache_class, steps=steps)
    if config.do_sample and generator is None:
        raise ValueError("generator must be a torch.Generator when do_sample is True")
    B, P = prompt_ids.shape
    if config.max_new_tokens == 0:  # nothing to generate: the prompt back (GEN-LEN-02)
        empty = torch.empty(B, 0, weights.config.vocab_size, dtype=torch.promote_types(weights.dtype, torch.float32))
        return GenerationOutput(
            sequences=prompt_ids.clone(), scores=empty, texts=_texts(config, prompt_ids[:, P:], stop_text, steps)
        )
    cache = new_cache(weights, config.cache_kind, max_cache_len=P + config.max_new_tokens, cache_class=cache_class)
    ids, finished = prompt_ids.clone(), torch.zeros(B, dtype=torch.bool)
    texts = [
        _prompt_text(config, row, m) if stop_scope == "prompt-and-generated" else ""
        for row, m in zip(prompt_ids, mask, strict=True)
    ]
    scores, step_input, step_mask = [], prompt_ids, mask
    for _ in range(config.max_new_tokens):
        logits = decoder_forward(weights, step_input, cache=cache, attention_mask=step_mask)[:, -1]  # (B, V)
        logits = steps.process_step(
            logits.float() if weights.dtype != torch.float64 else logits,
            ids,
            config,
            prompt_length=P,
            attention_mask=mask,
            repetition_scope=repetition_scope,
            penalty_scope=penalty_scope,
            steps=steps,
        )
        scores.append(logits)
        if config.do_sample:
            token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]  # (B,)
        else:
            token = sampling.greedy(logits)
        token = torch.where(finished, config.pad_token_id, token)  # finished rows get padding (GEN-EOS-03)
        ids = torch.cat([ids, token[:, None]], dim=1)
        finished = finished | _stops(token, finished, config, texts, steps)
        if on_token is not None:
            on_token()
        step_input, step_mask = token[:, None], torch.ones(B, 1, dtype=torch.long)
        if finished.all():
            break
    return GenerationOutput(
        sequences=ids, scores=torch.stack(scores, dim=1), texts=_texts(config, ids[:, P:], stop_text, steps)
    )


def _prompt_text(config: GenerationConfig, row: torch.Tensor, mask: torch.Tensor) -> str:
    if config.token_strings is None:
        return ""
    return "".join(config.token_strings[t] for t, m in zip(row.tolist(), mask.tolist(), strict=True) if m)


def _stops(
    token: torch.Tensor, finished: torch.Tensor, config: GenerationConfig, texts: list[str], steps: GenerationSteps
) -> torch.Tensor:
    """(B,) rows that finish with this token: an EOS id, or a stop string ending inside it."""
    stops = torch.zeros_like(finished)
    for row, t in enumerate(token.tolist()):
        if finished[row]:
            continue
        stops[row] = t in config.eos_token_ids
        if config.stop_strings:
            piece = config.token_strings[t]
            stops[row] |= steps.stop_string_hit(texts[row], piece, config.stop_strings)
            texts[row] += piece
    return stops


# ---------------------------------------------------------------------------------------
# Beam search (transformers 5.24's vectorised algorithm, one prompt row at a time)


def beam_search(
    weights: DecoderWeights,
    prompt_ids: torch.Tensor,
    config: GenerationConfig,
    *,
    attention_mask: torch.Tensor,
    cache_class: type[KVCache] = KVCache,
    steps: GenerationSteps | None = None,
) -> GenerationOutput:
    """Keep the num_beams best running hypotheses by cumulative log-probability; a hypothesis
    that ends (EOS or max_new_tokens) is scored sum_logprob / length ** length_penalty, length =
    generated tokens including EOS; return the num_return_sequences best, best first.

    Clauses: GEN-BEAM-01, GEN-BEAM-02, GEN-BEAM-03, GEN-BEAM-04, GEN-BEAM-05, GEN-BEAM-06.

    Candidates per step: the top max(2, 1 + n_eos) * num_beams of beams x vocabulary; of those,
    EOS candidates among the first num_beams finish, the best num_beams others run on.
    early_stopping: True stops once num_beams hypotheses finished; False once the best running
    score at the current length cannot beat the worst finished one; "never" the same at the
    longest possible length when length_penalty > 0 (the canonical rule).
    """
    steps = GenerationSteps() if steps is None else steps
    rows, row_scores, all_scores = [], [], []
    for b in range(prompt_ids.shape[0]):
        real = attention_mask[b].bool()
        sequences, scores, step_scores = _beam_search_row(
            weights, prompt_ids[b : b + 1], real[None], config, cache_class, steps
        )
        pad = torch.full((sequences.shape[0], prompt_ids.shape[1] - int(real.sum())), config.pad_token_id)
        rows.append(torch.cat([pad, sequences], dim=1) if pad.numel() else sequences)
        row_scores.append(scores)
        all_scores.append(step_scores)
    width = max(r.shape[1] for r in rows)
    rows = [torch.nn.functional.pad(r, (0, width - r.shape[1]), value=config.pad_token_id) for r in rows]
    steps = max(s.shape[1] for s in all_scores)
    all_scores = [torch.nn.functional.pad(s, (0, 0, 0, steps - s.shape[1])) for s in all_scores]
    return GenerationOutput(
        sequences=torch.cat(rows), scores=torch.cat(all_scores), sequence_scores=torch.cat(row_scores)
    )


def _beam_search_row(
    weights: DecoderWeights,
    prompt: torch.Tensor,
    real: torch.Tensor,
    config: GenerationConfig,
    cache_class: type[KVCache],
    steps: GenerationSteps,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One prompt (1, P): (num_return_sequences, P' + T) sequences, their scores, step scores."""
    prompt = prompt[real].view(1, -1)  # beams of one row need no padding
    K, P, V = config.num_beams, prompt.shape[1], weights.config.vocab_size
    eos = set(config.eos_token_ids)
    keep = max(2, 1 + len(eos)) * K  # candidates per step
    cache = new_cache(weights, config.cache_kind, max_cache_len=P + config.max_new_tokens, cache_class=cache_class)
    running = prompt.repeat(K, 1)  # (K, P + t)
    running_scores = torch.full((K,), -1e9, dtype=torch.float64)
    running_scores[0] = 0.0  # all beams start equal: only the first may expand
    finished: list[tuple[float, torch.Tensor]] = []  # (score, sequence)
    step_input, step_scores, improvable = running, [], True
    for step in range(config.max_new_tokens):
        logits = decoder_forward(weights, step_input, cache=cache)[:, -1]  # (K, V)
        logits = logits.float() if weights.dtype != torch.float64 else logits
        log_probs = steps.process_step(torch.log_softmax(logits, dim=-1), running, config, prompt_length=P, steps=steps)
        step_scores.append(log_probs)
        top_scores, top = steps.top_candidates(log_probs, running_scores, keep)
        beam, token = top // V, top % V
        length = step + 1  # generated tokens, EOS included
        last = length == config.max_new_tokens
        ends = torch.tensor([t in eos for t in token.tolist()]) | last
        for rank in range(min(K, len(top))):  # only the best K candidates may finish
            if ends[rank] and improvable:
                hypothesis = torch.cat([running[beam[rank]], token[rank : rank + 1]])
                score = steps.hypothesis_score(float(top_scores[rank]), length, config.length_penalty)
                finished.append((score, hypothesis))
        finished = sorted(finished, key=lambda f: -f[0])[:K]
        alive = (~ends).nonzero().flatten()[:K]
        if last or len(alive) == 0:
            break
        running = torch.cat([running[beam[alive]], token[alive, None]], dim=1)  # (K, P + t + 1)
        running_scores = top_scores[alive]
        cache.select_rows(beam[alive])
        step_input = token[alive, None]
        improvable = improvable and _improvable(running_scores, finished, length, config)
        if not improvable or (config.early_stopping is True and len(finished) >= K):
            break
    finished = finished[: config.num_return_sequences]
    width = max(len(s) for _, s in finished)
    sequences = torch.stack(
        [torch.nn.functional.pad(s, (0, width - len(s)), value=config.pad_token_id) for _, s in finished]
    )
    return sequences, torch.tensor([s for s, _ in finished], dtype=torch.float32), torch.stack(step_scores, dim=1)


def top_candidates(
    log_probs: torch.Tensor, running_scores: torch.Tensor, keep: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The `keep` best continuations of K beams by cumulative log-probability: their totals and
    flat indices into (K * V,), best first (GEN-BEAM-01)."""
    total = (log_probs.double() + running_scores[:, None]).flatten()  # (K * V,)
    return total.topk(min(keep, total.numel()))


def hypothesis_score(total_log_prob: float, length: int, length_penalty: float) -> float:
    """GEN-BEAM-02: S / L ** alpha, L the generated tokens including EOS.

    >>> hypothesis_score(-4.0, 2, 1.0)
    -2.0
    """
    return total_log_prob / length**length_penalty


def _improvable(running_scores: torch.Tensor, finished: list, length: int, config: GenerationConfig) -> bool:
    """transformers' heuristic: can the best running beam still beat the worst kept hypothesis?
    `length` is the running beams' generated length."""
    if len(finished) < config.num_beams:
        return True
    if config.early_stopping == "never" and config.length_penalty > 0.0:
        length = config.max_new_tokens  # the longest a running beam can become
    best_possible = float(running_scores[0]) / length**config.length_penalty
    return best_possible > finished[-1][0]


# ---------------------------------------------------------------------------------------
# Serving metrics (GEN-MET): what TTFT, TPOT, throughput and weight memory mean


@dataclass(frozen=True)
class ServingMetrics:
    """TTFT, TPOT, end-to-end time and throughput of one generation request (spec/generation.md)."""

    batch: int
    generated_per_row: int  # N: generation steps that produced tokens
    ttft_s: float
    tpot_s: float | None
    e2e_s: float
    throughput_tokens_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def serving_metrics(start: float, token_times: list[float], batch: int) -> ServingMetrics:
    """Metrics from the request start and the instant of each step's tokens.

    Clauses: GEN-MET-01, GEN-MET-02, GEN-MET-03.

    >>> m = serving_metrics(0.0, [0.5, 0.6, 0.7], batch=2)
    >>> m.ttft_s, round(m.tpot_s, 3), round(m.throughput_tokens_per_s, 3)
    (0.5, 0.1, 8.571)
    """
    if not token_times:
        raise ValueError("token_times must hold at least one instant (the first token)")
    if any(b < a for a, b in zip([start, *token_times], token_times, strict=False)):
        raise ValueError("token_times must be non-decreasing and not before start")
    n = len(token_times)
    ttft, e2e = token_times[0] - start, token_times[-1] - start
    tpot = (e2e - ttft) / (n - 1) if n > 1 else None
    return ServingMetrics(batch, n, ttft, tpot, e2e, batch * n / e2e if e2e > 0 else float("inf"))


def weight_bytes(params: dict[str, Any]) -> int:
    """Bytes of a state dict's tensors (tied tensors counted once): the weights' share of memory.

    Clauses: GEN-MET-04.
    """
    seen, total = set(), 0
    for tensor in params.values():
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
    return total


@dataclass(frozen=True)
class GenerationSteps:
    """The pieces generate() and process_step() call, each the module function of the same name
    (sampling_process: specformer.reference.sampling.process). An adapter built on the reference
    passes its own to generate(steps=...), e.g. `GenerationSteps(hypothesis_score=my_score)`;
    the mutants pass broken ones. process_step is called with `steps=` so that its processors
    are the same set's.
    """

    repetition_penalty: Callable[..., torch.Tensor] = repetition_penalty
    frequency_presence_penalty: Callable[..., torch.Tensor] = frequency_presence_penalty
    no_repeat_ngram: Callable[..., torch.Tensor] = no_repeat_ngram
    min_new_tokens_mask: Callable[..., torch.Tensor] = min_new_tokens_mask
    sampling_process: Callable[..., torch.Tensor] = sampling.process
    process_step: Callable[..., torch.Tensor] = process_step
    stop_string_hit: Callable[[str, str, tuple[str, ...]], bool] = stop_string_hit
    top_candidates: Callable[..., tuple[torch.Tensor, torch.Tensor]] = top_candidates
    hypothesis_score: Callable[[float, int, float], float] = hypothesis_score
