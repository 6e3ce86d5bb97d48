"""The torch adapter's generation family: a generation loop in the gpt-fast style, written from
gpt-fast's generate.py (`pytorch-labs/gpt-fast` @ 32971d3), not from specformer.reference.

Shapes: B batch, P prompt length, T generated tokens, V vocabulary.

The loop is gpt-fast's: `prefill` runs the whole prompt through the model into a static
KV cache sized prompt + max_new_tokens (torch_kv_cache.StaticKVCache: per layer (B, Hkv, S, D)
buffers written with `index_copy_` at `input_pos`), then `decode_one_token` feeds one token at
the next position, until max_new_tokens or every row has ended. gpt-fast has only one cache
kind, so "dynamic" and "static" are the same preallocated cache here (the suite's greedy clause
runs both). Sampling is gpt-fast's `multinomial_sample_one_no_sync`: the exponential race
`argmax(probs / q)` with `q ~ Exp(1)` drawn from the caller's torch.Generator (an exact draw
from `probs`: the smallest of independent Exp(p_i) clocks wins with probability p_i).

gpt-fast processes logits with temperature and top-k only; the rest is added here as plain
tensor code in the same style, each a pure function (B, V) -> (B, V):
- repetition penalty (CTRL, as transformers gathers and scatters it; the prompt counts, left
  padding does not), frequency and presence penalties (OpenAI's: generated tokens only),
  no-repeat n-grams (n-grams found with `Tensor.unfold`), min_new_tokens (EOS banned);
- top-p (the token that crosses top_p is kept) and min-p, after temperature and top-k.
Stopping: several EOS ids, finished rows padded with pad_token_id.

Beyond gpt-fast, written here in the same style:
- stop strings, as vLLM checks them (vllm/v1/engine/detokenizer.py `check_stop_strings`): after
  each token, search only the tail of the row's generated text that the new characters can
  complete, so a stop string split over several tokens is found (variants `generated-only` and
  `kept`, the defaults: the text keeps the whole token that completed it);
- beam search as transformers 5.24 vectorises it (`_beam_search`): the B x K running beams are
  rows of one static cache, reordered each step with `index_select` on the batch dimension;
  `max(2, 1 + n_eos) * K` candidates per step; candidates that end (EOS or the last step) among
  the best K enter a pool of K finished hypotheses scored `sum log p / length ** length_penalty`;
  the best K others run on; `early_stopping` True / False / "never" as transformers'
  `_check_early_stop_heuristic`. Cumulative scores are float64 (transformers: float32), so that
  near-ties are not decided by rounding. Stop strings with beam search are not supported
  (NotImplementedError: neither gpt-fast nor the reference's beam search has them).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from specformer.conformance.adapters.torch_kv_cache import StaticKVCache, forward
from specformer.reference.generation import GenerationConfig, GenerationOutput
from specformer.reference.kv_cache import DecoderWeights
from specformer.reference.sampling import SamplingParams

# generate's optional parameters (protocols.OPTIONAL_PARAMETERS) this loop supports: both.
GENERATE_PARAMETERS: frozenset[str] = frozenset({"num_beams", "stop_strings"})


# ---------------------------------------------------------------------------------------
# Argument checks: every bad value is a ValueError naming the parameter and the accepted range


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _check_repetition_penalty(penalty: object) -> float:
    if isinstance(penalty, bool) or not isinstance(penalty, int | float) or not 0 < penalty < math.inf:
        raise ValueError(f"repetition_penalty must be a finite float in (0, inf), got {penalty!r}")
    return float(penalty)


def _check_openai_penalty(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -2.0 <= value <= 2.0:
        raise ValueError(f"{name} must be a float in [-2, 2], got {value!r}")
    return float(value)


def _check_config(config: GenerationConfig, vocab_size: int) -> None:
    _check_int("max_new_tokens", config.max_new_tokens, 0)
    _check_int("min_new_tokens", config.min_new_tokens, 0)
    if config.min_new_tokens > config.max_new_tokens:
        raise ValueError(
            f"min_new_tokens ({config.min_new_tokens}) must be in [0, max_new_tokens={config.max_new_tokens}]"
        )
    _check_int("num_beams", config.num_beams, 1)
    _check_int("num_return_sequences", config.num_return_sequences, 1)
    if config.num_return_sequences > config.num_beams:
        raise ValueError(
            f"num_return_sequences ({config.num_return_sequences}) must be in [1, num_beams={config.num_beams}]"
        )
    _check_repetition_penalty(config.repetition_penalty)
    _check_openai_penalty("frequency_penalty", config.frequency_penalty)
    _check_openai_penalty("presence_penalty", config.presence_penalty)
    _check_int("no_repeat_ngram_size", config.no_repeat_ngram_size, 0)
    if isinstance(config.stop_strings, str) or any(not isinstance(s, str) or not s for s in config.stop_strings):
        raise ValueError(f"stop_strings must be a tuple of non-empty strings, got {config.stop_strings!r}")
    if config.stop_strings and config.token_strings is None:
        raise ValueError("stop_strings need token_strings (the text of each token id)")
    if isinstance(config.length_penalty, bool) or not isinstance(config.length_penalty, int | float):
        raise ValueError(f"length_penalty must be a finite float, got {config.length_penalty!r}")
    if not math.isfinite(config.length_penalty):
        raise ValueError(f"length_penalty must be a finite float, got {config.length_penalty!r}")
    if not any(config.early_stopping is v for v in (True, False)) and config.early_stopping != "never":
        raise ValueError(f"early_stopping must be True, False or 'never', got {config.early_stopping!r}")
    for name, ids in (("eos_token_ids", config.eos_token_ids), ("pad_token_id", (config.pad_token_id,))):
        if any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < vocab_size for i in ids):
            raise ValueError(f"{name} must be token ids in [0, {vocab_size}), got {ids!r}")
    if config.cache_kind not in ("dynamic", "static"):
        raise ValueError(f"cache_kind must be 'dynamic' or 'static', got {config.cache_kind!r}")
    if config.do_sample:
        _check_sampling(config.sampling)


def _check_sampling(params: SamplingParams) -> None:
    t, k, p, m = params.temperature, params.top_k, params.top_p, params.min_p
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t < math.inf:
        raise ValueError(f"temperature must be a finite float in (0, inf), got {t!r}")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {k!r}")
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1:
        raise ValueError(f"top_p must be a float in (0, 1], got {p!r}")
    if isinstance(m, bool) or not isinstance(m, int | float) or not 0 <= m <= 1:
        raise ValueError(f"min_p must be a float in [0, 1], got {m!r}")
    _check_int("min_tokens_to_keep", params.min_tokens_to_keep, 1)


# ---------------------------------------------------------------------------------------
# Logit processors: (B, V) logits and the (B, L) ids so far -> new (B, V) logits


def apply_repetition_penalty(
    logits: torch.Tensor, input_ids: torch.Tensor, penalty: float, counted: torch.Tensor
) -> torch.Tensor:
    """CTRL's penalty on every token seen at a counted position (B, L), once per token."""
    ids = torch.where(counted, input_ids, input_ids.new_full((), logits.shape[-1]))  # uncounted -> a spare column
    padded = torch.cat([logits, logits.new_zeros(logits.shape[0], 1)], dim=-1)  # (B, V + 1)
    score = padded.gather(1, ids)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return padded.scatter(1, ids, score)[:, :-1]


def apply_frequency_presence(
    logits: torch.Tensor, generated: torch.Tensor, frequency: float, presence: float
) -> torch.Tensor:
    """OpenAI's l - count * frequency - [count > 0] * presence over the generated tokens (B, T)."""
    counts = torch.zeros(logits.shape, dtype=logits.dtype).scatter_add_(
        1, generated, torch.ones(generated.shape, dtype=logits.dtype)
    )
    return logits - counts * frequency - (counts > 0).to(logits.dtype) * presence


def banned_ngram_mask(input_ids: torch.Tensor, vocab_size: int, n: int) -> torch.Tensor:
    """(B, V) True for each token that would complete an n-gram already in input_ids (B, L)."""
    batch, length = input_ids.shape
    banned = torch.zeros(batch, vocab_size + 1, dtype=torch.bool)
    if length < n:  # no complete n-gram yet
        return banned[:, :-1]
    ngrams = input_ids.unfold(1, n, 1)  # (B, L - n + 1, n)
    context = input_ids[:, length - n + 1 :]  # (B, n - 1): the last n - 1 tokens
    matches = (ngrams[:, :, :-1] == context[:, None, :]).all(dim=-1)  # (B, L - n + 1)
    candidates = torch.where(matches, ngrams[:, :, -1].clamp(max=vocab_size), vocab_size)
    return banned.scatter(1, candidates, True)[:, :-1]


def apply_min_new_tokens(
    logits: torch.Tensor, generated: int, min_new_tokens: int, eos_token_ids: tuple[int, ...]
) -> torch.Tensor:
    if generated >= min_new_tokens or not eos_token_ids:
        return logits
    out = logits.clone()
    out[:, list(eos_token_ids)] = -math.inf
    return out


def logits_to_scores(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """gpt-fast's logits_to_probs before its softmax: temperature, top-k (its pivot trick, which
    keeps ties at the k-th value), then top-p and min-p."""
    logits = logits / params.temperature if params.temperature != 1.0 else logits.clone()
    if params.top_k is not None and params.top_k < logits.shape[-1]:
        v, _ = torch.topk(logits, params.top_k)
        pivot = v.select(-1, -1).unsqueeze(-1)
        logits = torch.where(logits < pivot, -math.inf, logits)
    keep = params.min_tokens_to_keep
    if params.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, stable=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        before = torch.cat([torch.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], dim=-1)  # mass ranked above
        remove = before >= params.top_p
        remove[:, :keep] = False
        logits = logits.masked_fill(remove.scatter(1, order, remove), -math.inf)
    if params.min_p > 0.0:
        probs = torch.softmax(logits, dim=-1)
        remove = probs < params.min_p * probs.amax(dim=-1, keepdim=True)
        top = torch.topk(logits, min(keep, logits.shape[-1])).indices
        remove.scatter_(1, top, False)
        logits = logits.masked_fill(remove, -math.inf)
    return logits


def multinomial_sample_one_no_sync(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """gpt-fast's sampler: the exponential race, a categorical draw without a device sync. (B, V) -> (B,)."""
    q = torch.empty_like(probs).exponential_(1, generator=generator)
    return torch.argmax(probs / q, dim=-1)


# ---------------------------------------------------------------------------------------
# The loop


def stop_string_rows(
    token: torch.Tensor, finished: torch.Tensor, texts: list[str], pieces: tuple[str, ...], stops: tuple[str, ...]
) -> torch.Tensor:
    """(B,) rows whose new token completes a stop string; appends each live row's token text to texts.

    vLLM's tail search: a stop string of length m that the n new characters complete lies in the
    last m + n - 1 characters, so only those are searched (earlier text was searched before).
    """
    hit = torch.zeros_like(finished)
    for row, t in enumerate(token.tolist()):
        if finished[row]:
            continue
        piece = pieces[t]
        texts[row] += piece
        tail = len(piece)
        hit[row] = any(stop in texts[row][max(0, len(texts[row]) - len(stop) - tail + 1) :] for stop in stops)
    return hit


def row_texts(generated: torch.Tensor, config: GenerationConfig) -> list[str] | None:
    """Each row's generated text, `kept` variant: every live token's text, EOS excluded, the token that
    completed a stop string included; nothing after the row ended (its padding)."""
    if config.token_strings is None:
        return None
    texts = []
    for row in generated.tolist():
        text = ""
        for t in row:
            if t in config.eos_token_ids:
                break
            text += config.token_strings[t]
            if config.stop_strings and any(stop in text for stop in config.stop_strings):
                break
        texts.append(text)
    return texts


def process(
    logits: torch.Tensor, ids: torch.Tensor, real_prompt: torch.Tensor, step: int, config: GenerationConfig
) -> torch.Tensor:
    """The generation-level processors on (B, V) logits after `step` generated tokens of ids (B, P + step):
    repetition (the real prompt tokens and the generated ones count), frequency and presence (generated
    only), n-gram bans, min_new_tokens."""
    B, P = real_prompt.shape
    if config.repetition_penalty != 1.0:
        counted = torch.cat([real_prompt, torch.ones(B, step, dtype=torch.bool)], dim=1)
        logits = apply_repetition_penalty(logits, ids, config.repetition_penalty, counted)
    if config.frequency_penalty or config.presence_penalty:
        logits = apply_frequency_presence(logits, ids[:, P:], config.frequency_penalty, config.presence_penalty)
    if config.no_repeat_ngram_size:
        logits = logits.masked_fill(banned_ngram_mask(ids, logits.shape[-1], config.no_repeat_ngram_size), -math.inf)
    return apply_min_new_tokens(logits, step, config.min_new_tokens, config.eos_token_ids)


def prefill(weights: DecoderWeights, prompt: torch.Tensor, cache: StaticKVCache, mask: torch.Tensor) -> torch.Tensor:
    return forward(weights, prompt, cache, mask)[:, -1]  # (B, V)


def decode_one_token(weights: DecoderWeights, token: torch.Tensor, cache: StaticKVCache) -> torch.Tensor:
    return forward(weights, token[:, None], cache, torch.ones_like(token)[:, None])[:, -1]  # (B, V)


def generate_tokens(
    weights: DecoderWeights,
    prompt: torch.Tensor,
    config: GenerationConfig,
    mask: torch.Tensor,
    generator: torch.Generator | None,
    on_token: Callable[[], None] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The generated tokens (B, T) and the processed logits they were chosen from (B, T, V)."""
    B, P = prompt.shape
    V = weights.config.vocab_size
    score_dtype = torch.float64 if weights.dtype == torch.float64 else torch.float32
    if config.max_new_tokens == 0:
        return prompt.new_empty(B, 0), torch.empty(B, 0, V, dtype=score_dtype)
    cache = StaticKVCache(
        weights.config.num_layers, B, weights.config.num_kv_heads, P + config.max_new_tokens,
        weights.config.head_dim, weights.dtype,
    )  # fmt: skip
    real_prompt = mask.bool()
    eos = torch.tensor(config.eos_token_ids, dtype=torch.long)
    ids, tokens, scores = prompt, [], []
    finished = torch.zeros(B, dtype=torch.bool)
    texts = [""] * B  # each row's generated text, for stop strings
    logits = prefill(weights, prompt, cache, mask)
    for step in range(config.max_new_tokens):
        logits = process(logits.to(score_dtype), ids, real_prompt, step, config)
        if config.do_sample:
            logits = logits_to_scores(logits, config.sampling)
            token = multinomial_sample_one_no_sync(torch.softmax(logits, dim=-1), generator)
        else:
            token = torch.argmax(logits, dim=-1)
        token = torch.where(finished, config.pad_token_id, token)
        stopped = torch.isin(token, eos)
        if config.stop_strings:
            stopped |= stop_string_rows(token, finished, texts, config.token_strings, config.stop_strings)
        finished = finished | stopped
        scores.append(logits)
        tokens.append(token)
        ids = torch.cat([ids, token[:, None]], dim=1)
        if on_token is not None:
            on_token()
        if finished.all() or step + 1 == config.max_new_tokens:
            break
        logits = decode_one_token(weights, token, cache)
    return torch.stack(tokens, dim=1), torch.stack(scores, dim=1)


# ---------------------------------------------------------------------------------------
# Beam search: transformers 5.24's vectorised _beam_search on the static cache


def select_rows(cache: StaticKVCache, rows: torch.Tensor) -> None:
    """Keep (and repeat) the cache's batch rows `rows`: transformers' Cache.reorder_cache, index_select on dim 0."""
    cache.k = [k.index_select(0, rows) for k in cache.k]
    cache.v = [v.index_select(0, rows) for v in cache.v]
    cache.real = cache.real.index_select(0, rows)
    cache.next_position = cache.next_position.index_select(0, rows)


def can_improve(
    best_running: float, pool: list[tuple[float, torch.Tensor]], length: int, config: GenerationConfig
) -> bool:
    """transformers' _check_early_stop_heuristic for one prompt: can the best running beam, scored at
    its current length (or, for "never" with a positive length penalty, at the longest it can get),
    beat the worst of a full pool of finished hypotheses?"""
    if len(pool) < config.num_beams:
        return True
    if config.early_stopping == "never" and config.length_penalty > 0.0:
        length = config.max_new_tokens
    return best_running / length**config.length_penalty > pool[-1][0]


def beam_search(
    weights: DecoderWeights,
    prompt: torch.Tensor,
    config: GenerationConfig,
    mask: torch.Tensor,
    on_token: Callable[[], None] | None,
) -> GenerationOutput:
    """num_beams running hypotheses per prompt row; the num_return_sequences best finished ones, best first.

    The B x K beams are the rows of one static cache (beam k of prompt b is row b * K + k).
    """
    B, P = prompt.shape
    K, T, R = config.num_beams, config.max_new_tokens, config.num_return_sequences
    score_dtype = torch.float64 if weights.dtype == torch.float64 else torch.float32
    if T == 0:  # nothing to generate: the prompt back, num_return_sequences times
        empty = torch.empty(B * K, 0, weights.config.vocab_size, dtype=score_dtype)
        return GenerationOutput(prompt.repeat_interleave(R, dim=0), empty, torch.zeros(B * R))
    V = weights.config.vocab_size
    keep = max(2, 1 + len(config.eos_token_ids)) * K  # candidates per prompt per step
    eos = torch.tensor(config.eos_token_ids, dtype=torch.long)
    c = weights.config
    cache = StaticKVCache(c.num_layers, B, c.num_kv_heads, P + T, c.head_dim, weights.dtype)
    logits = prefill(weights, prompt, cache, mask)  # (B, V)
    rows = torch.arange(B).repeat_interleave(K)  # (B * K,) the prompt row of each beam
    select_rows(cache, rows)
    logits, ids, real_prompt = logits[rows], prompt[rows], mask.bool()[rows]  # (B * K, ...)
    running_scores = torch.full((B, K), -1e9, dtype=torch.float64)
    running_scores[:, 0] = 0.0  # identical beams at first: only the first may expand
    pools: list[list[tuple[float, torch.Tensor]]] = [[] for _ in range(B)]  # (score, generated tokens), best first
    done = torch.zeros(B, dtype=torch.bool)  # prompts whose pool can no longer change
    step_scores = []
    for step in range(T):
        log_probs = process(torch.log_softmax(logits.to(score_dtype), dim=-1), ids, real_prompt, step, config)
        step_scores.append(log_probs)
        total = (log_probs.double() + running_scores.view(-1, 1)).view(B, K * V)  # cumulative, per prompt
        top_scores, top = total.topk(min(keep, K * V), dim=-1)  # (B, keep), best first
        parent, token = top // V, top % V  # beam within the prompt, token id
        length = step + 1  # generated tokens, EOS included
        ends = torch.isin(token, eos) | (length == T)  # (B, keep)
        for b in range(B):
            if done[b]:
                continue
            for rank in range(K):  # only the best K candidates may finish
                if ends[b, rank]:
                    generated = torch.cat([ids[b * K + parent[b, rank], P:], token[b, rank : rank + 1]])
                    pools[b].append((float(top_scores[b, rank]) / length**config.length_penalty, generated))
            pools[b] = sorted(pools[b], key=lambda hypothesis: -hypothesis[0])[:K]
        if on_token is not None:
            on_token()
        if length == T:
            break
        pick = torch.sort(ends.to(torch.uint8), dim=-1, stable=True).indices[:, :K]  # the K best that run on
        running_scores = top_scores.gather(1, pick)
        beams = (parent.gather(1, pick) + torch.arange(B)[:, None] * K).flatten()  # (B * K,) cache rows
        tokens = token.gather(1, pick).flatten()
        ids = torch.cat([ids[beams], tokens[:, None]], dim=1)
        select_rows(cache, beams)
        for b in range(B):
            full = config.early_stopping is True and len(pools[b]) >= K
            done[b] |= full or not can_improve(float(running_scores[b, 0]), pools[b], length, config)
        if done.all():
            break
        logits = decode_one_token(weights, tokens, cache)
    best = [hypothesis for pool in pools for hypothesis in pool[:R]]  # (B * R) hypotheses
    width = max(len(generated) for _, generated in best)
    sequences = torch.full((B * R, P + width), config.pad_token_id, dtype=torch.long)
    sequences[:, :P] = prompt.repeat_interleave(R, dim=0)
    for row, (_, generated) in enumerate(best):
        sequences[row, P : P + len(generated)] = generated
    scores = torch.tensor([score for score, _ in best], dtype=torch.float32)
    return GenerationOutput(sequences=sequences, scores=torch.stack(step_scores, dim=1), sequence_scores=scores)


class TorchGeneration:
    """Mixin of TorchAdapter (the generation family)."""

    # gpt-fast's one cache: "dynamic" and "static" requests both get the static cache (benchmarked once).
    generation_cache_kinds = ("static",)

    def repetition_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        penalty: float,
        *,
        prompt_length: int,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        penalty = _check_repetition_penalty(penalty)
        counted = torch.ones(input_ids.shape, dtype=torch.bool)
        if attention_mask is not None:
            counted[:, : attention_mask.shape[1]] = attention_mask.bool()
        return apply_repetition_penalty(logits, input_ids, penalty, counted)

    def frequency_presence_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        *,
        prompt_length: int,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
    ) -> torch.Tensor:
        frequency = _check_openai_penalty("frequency_penalty", frequency_penalty)
        presence = _check_openai_penalty("presence_penalty", presence_penalty)
        return apply_frequency_presence(logits, input_ids[:, prompt_length:], frequency, presence)

    def no_repeat_ngram(self, logits: torch.Tensor, input_ids: torch.Tensor, ngram_size: int) -> torch.Tensor:
        n = _check_int("no_repeat_ngram_size", ngram_size, 1)
        return logits.masked_fill(banned_ngram_mask(input_ids, logits.shape[-1], n), -math.inf)

    def min_new_tokens(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        *,
        prompt_length: int,
        min_new_tokens: int,
        eos_token_ids: tuple[int, ...],
    ) -> torch.Tensor:
        minimum = _check_int("min_new_tokens", min_new_tokens, 0)
        return apply_min_new_tokens(logits.clone(), input_ids.shape[1] - prompt_length, minimum, eos_token_ids)

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
        _check_config(config, weights.config.vocab_size)
        mask = torch.ones_like(prompt_ids) if attention_mask is None else attention_mask
        if config.num_beams > 1:
            if config.stop_strings:
                raise NotImplementedError("stop strings with beam search (the reference's beam search has none)")
            with torch.no_grad():
                return beam_search(weights, prompt_ids, config, mask, on_token)
        if config.do_sample and generator is None:
            raise ValueError("generator must be a torch.Generator when do_sample is True")
        with torch.no_grad():
            generated, scores = generate_tokens(weights, prompt_ids, config, mask, generator, on_token)
        return GenerationOutput(
            sequences=torch.cat([prompt_ids, generated], dim=1), scores=scores, texts=row_texts(generated, config)
        )
