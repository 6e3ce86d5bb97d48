"""The hf adapter's generation family (spec/generation.md): transformers' processors and generate().

Processors are transformers' classes called as `processor(input_ids, scores)`:
`RepetitionPenaltyLogitsProcessor(penalty, prompt_ignore_length=<left padding per row>)` (what
generate() passes from the attention mask), `NoRepeatNGramLogitsProcessor(ngram_size)` and
`MinNewTokensLengthLogitsProcessor(prompt_length_to_skip, min_new_tokens, eos_token_id)`.
transformers has no frequency or presence penalty, so that operation is absent ("unsupported").

The loop is `model.generate(prompt, generation_config=GenerationConfig(...), attention_mask,
output_scores=True, return_dict_in_generate=True)` on the kv_cache family's model (hf_kv_cache:
LlamaForCausalLM, or GPT2LMHeadModel for a GPT-2 config, whose position ids under left padding
generate() derives from the attention mask itself),
with `top_k=0` when the suite's SamplingParams has no top-k (generate() would otherwise add its
default top-k of 50), `cache_implementation="static"` for a static cache, and stop strings
through `StopStringCriteria` built from a minimal tokenizer-shaped object over the suite's
token texts (the criterion only asks a tokenizer for its vocabulary and how to spell tokens).
Sampling draws from the global RNG, so the adapter seeds it from the suite's generator inside
`torch.random.fork_rng()`. `on_token` rides on generate()'s `streamer` (whose first `put` is the
prompt). Texts are the generated tokens' texts up to the row's end: its EOS or, after a stop
string, the padding that follows.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from specformer.reference.generation import GenerationConfig, GenerationOutput
from specformer.reference.kv_cache import DecoderWeights


class _TokenTexts:
    """The part of a tokenizer StopStringCriteria uses, over a table of token texts."""

    _PREFIX_ID = -1

    def __init__(self, token_strings: tuple[str, ...]) -> None:
        self.vocab = {text: i for i, text in enumerate(token_strings)}

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        self._prefix = text
        return {"input_ids": [self._PREFIX_ID]}

    def _convert_id_to_token(self, index: int) -> str:
        return self._prefix

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return "".join(tokens)


class _OnToken:
    """A generate() streamer that calls back once per generated step (the first put is the prompt)."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback, self.seen_prompt = callback, False

    def put(self, value: torch.Tensor) -> None:
        if self.seen_prompt:
            self.callback()
        self.seen_prompt = True

    def end(self) -> None:
        pass


class HFGeneration:
    """Mixin of HFAdapter (needs HFKVCache's `_model`)."""

    # Two caches generate() implements differently (DynamicCache, StaticCache): benchmarked side by side.
    generation_cache_kinds = ("dynamic", "static")

    def repetition_penalty(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        penalty: float,
        *,
        prompt_length: int,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

        ignore = None
        if attention_mask is not None:  # generate(): (attention_mask != 0).int().argmax(dim=1)
            ignore = (attention_mask != 0).int().argmax(dim=1)
        return RepetitionPenaltyLogitsProcessor(penalty, prompt_ignore_length=ignore)(input_ids, logits.clone())

    def no_repeat_ngram(self, logits: torch.Tensor, input_ids: torch.Tensor, ngram_size: int) -> torch.Tensor:
        from transformers.generation.logits_process import NoRepeatNGramLogitsProcessor

        return NoRepeatNGramLogitsProcessor(ngram_size)(input_ids, logits.clone())

    def min_new_tokens(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        *,
        prompt_length: int,
        min_new_tokens: int,
        eos_token_ids: tuple[int, ...],
    ) -> torch.Tensor:
        from transformers.generation.logits_process import MinNewTokensLengthLogitsProcessor

        processor = MinNewTokensLengthLogitsProcessor(prompt_length, min_new_tokens, list(eos_token_ids))
        return processor(input_ids, logits.clone())

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
        import transformers
        from transformers.generation.stopping_criteria import StoppingCriteriaList, StopStringCriteria

        if config.frequency_penalty or config.presence_penalty:
            raise NotImplementedError("transformers has no frequency or presence penalty")
        model = self._model(weights)  # type: ignore[attr-defined]
        sampling = config.sampling
        options = dict(
            max_new_tokens=config.max_new_tokens,
            min_new_tokens=config.min_new_tokens or None,
            eos_token_id=list(config.eos_token_ids) or None,
            pad_token_id=config.pad_token_id,
            do_sample=config.do_sample,
            repetition_penalty=config.repetition_penalty,
            no_repeat_ngram_size=config.no_repeat_ngram_size or None,
            num_beams=config.num_beams,
            length_penalty=config.length_penalty,
            early_stopping=config.early_stopping,
            num_return_sequences=config.num_return_sequences,
            output_scores=True,
            return_dict_in_generate=True,
        )
        if config.do_sample:
            options.update(
                temperature=sampling.temperature,
                top_k=sampling.top_k or 0,
                top_p=sampling.top_p,
                min_p=sampling.min_p or None,
            )
        if config.cache_kind == "static":
            options["cache_implementation"] = "static"
        extra: dict[str, object] = {}
        if config.stop_strings:
            criterion = StopStringCriteria(_TokenTexts(config.token_strings), list(config.stop_strings))
            extra["stopping_criteria"] = StoppingCriteriaList([criterion])
        if on_token is not None:
            extra["streamer"] = _OnToken(on_token)
        mask = torch.ones_like(prompt_ids) if attention_mask is None else attention_mask
        seed = int(torch.randint(2**62, (1,), generator=generator)) if generator is not None else 0
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            out = model.generate(
                prompt_ids,
                generation_config=transformers.GenerationConfig(**options),
                attention_mask=mask,
                **extra,
            )
        steps = out.sequences.shape[1] - prompt_ids.shape[1]
        scores = (
            torch.stack(out.scores, dim=1) if steps else torch.empty(prompt_ids.shape[0], 0, weights.config.vocab_size)
        )
        return GenerationOutput(
            sequences=out.sequences,
            scores=scores,
            sequence_scores=getattr(out, "sequences_scores", None),
            texts=self._texts(out.sequences[:, prompt_ids.shape[1] :], config),
        )

    @staticmethod
    def _texts(generated: torch.Tensor, config: GenerationConfig) -> list[str] | None:
        if config.token_strings is None:
            return None
        texts = []
        for row in generated.tolist():
            ends = [i for i, t in enumerate(row) if t in config.eos_token_ids]
            row = row[: ends[0]] if ends else row
            while config.stop_strings and row and row[-1] == config.pad_token_id:
                row = row[:-1]  # the padding after a stop string
            texts.append("".join(config.token_strings[t] for t in row))
        return texts
