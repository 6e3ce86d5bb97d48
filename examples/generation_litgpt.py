"""LitGPT's generation loop (litgpt.generate.base.generate_fn) on its Llama, for the generation family.

Written from docs/adapters.md alone. Run it:
    PYTHONPATH=examples specformer run --adapter generation_litgpt:LitGPTGenerate --family generation \
        --profile quick --no-bench

LitGPT's loop is nanoGPT's: one prompt row at a time (a 1-D prompt), greedy or sampled with
top-k, temperature and top-p (its `sample`), stopping on any of its `stop_tokens` sequences (so
several EOS ids are one-token stop sequences), the EOS kept. It has no logits processors at all
(no repetition, frequency or presence penalty, no n-gram ban, no min_new_tokens), no beam search,
no stop strings and no padding mask; the adapter refuses a config that asks for one of those with a
ValueError naming it (those tests report "error": LitGPT cannot answer them).

The glue: a batch is run row by row, each row without its left padding (what a padded batch must
equal, GEN-BATCH-01), then laid back into (B, P + T) with pad_token_id after a row's end. The
loop returns no scores: the adapter records the logits LitGPT's model hands to `sample` at each
step (a forward hook), which are the processed logits only when nothing processes them (greedy);
LitGPT's top-k, temperature and top-p are applied inside `sample` and never returned. LitGPT draws
from the global RNG, so the adapter forks it and seeds it from the suite's generator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from kv_cache_litgpt import llama_gpt
from litgpt.generate.base import generate_fn
from litgpt.model import GPT

from specformer.conformance.adapters.protocols import Capabilities, DecoderWeights
from specformer.reference.generation import GenerationConfig, GenerationOutput


def _gpt(weights: DecoderWeights, block_size: int) -> GPT:
    """The suite's LlamaForCausalLM state dict as a LitGPT GPT (kv_cache_litgpt.py's conversion)."""
    if weights.config.architecture != "llama":
        raise ValueError(f"weights: this adapter converts Llama checkpoints only, got {weights.config.architecture!r}")
    return llama_gpt(weights, block_size)


# What LitGPT's loop has no equivalent for: (config field, its "off" value).
_ABSENT = (
    ("repetition_penalty", 1.0),
    ("frequency_penalty", 0.0),
    ("presence_penalty", 0.0),
    ("no_repeat_ngram_size", 0),
    ("min_new_tokens", 0),
    ("num_beams", 1),
    ("num_return_sequences", 1),
    ("stop_strings", ()),
)


def _refuse_absent(config: GenerationConfig) -> None:
    if config.num_return_sequences > config.num_beams:  # a bad combination first, as the spec names it
        raise ValueError(
            f"num_return_sequences ({config.num_return_sequences}) must be <= num_beams ({config.num_beams})"
        )
    for name, off in _ABSENT:
        if getattr(config, name) != off:
            raise ValueError(f"{name}: LitGPT's generate has no {name} (only {off!r}), got {getattr(config, name)!r}")
    params = config.sampling
    if config.do_sample and (params.min_p != 0.0 or params.min_tokens_to_keep != 1):
        raise ValueError("sampling: LitGPT's sample has no min_p or min_tokens_to_keep")


def _sample_kwargs(config: GenerationConfig) -> dict[str, object]:
    if not config.do_sample:
        return {"temperature": 0.0, "top_k": None, "top_p": 0.0}  # LitGPT's greedy: both zero
    params = config.sampling
    return {"temperature": params.temperature, "top_k": params.top_k, "top_p": params.top_p}


class LitGPTGenerate:
    name = "litgpt-generate"
    description = "litgpt.generate.base.generate_fn on litgpt.model.GPT (Llama config), one row at a time, CPU"
    capabilities = Capabilities(
        families=frozenset({"generation"}),
        dtypes=(torch.float32,),
        parameters={"generate": frozenset()},  # no beam search, no stop strings
    )
    # What the suite found in LitGPT itself.
    expectations_file = Path(__file__).with_name("generation_litgpt.toml")

    def _row(
        self, model: GPT, prompt: torch.Tensor, config: GenerationConfig, on_token: Callable[[], None] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One prompt (P,) -> its generated tokens (T,) and the logits each was chosen from (T, V)."""
        model.set_kv_cache(batch_size=1, max_seq_length=prompt.shape[0] + config.max_new_tokens)
        seen: list[torch.Tensor] = []
        hook = model.register_forward_hook(lambda module, args, output: seen.append(output[0, -1].clone()))
        try:
            tokens = []
            for token in generate_fn(
                model,
                prompt,
                prompt.shape[0] + config.max_new_tokens,
                stop_tokens=tuple([eos] for eos in config.eos_token_ids),
                include_prompt=False,
                include_eos=True,
                **_sample_kwargs(config),
            ):
                tokens.append(token.reshape(1))
                if on_token is not None:
                    on_token()
        finally:
            hook.remove()
            model.clear_kv_cache()
        generated = torch.cat(tokens) if tokens else prompt.new_zeros(0)
        return generated, torch.stack(seen[: len(tokens)]) if tokens else torch.zeros(0, model.config.vocab_size)

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
        _refuse_absent(config)
        batch, length = prompt_ids.shape
        model = _gpt(weights, length + max(config.max_new_tokens, 1))
        seed = int(torch.randint(0, 2**62, (1,), generator=generator)) if generator is not None else 0
        rows = []
        with torch.random.fork_rng(devices=[]):  # LitGPT draws from the global RNG
            torch.manual_seed(seed)
            for row in range(batch):
                real = attention_mask[row].bool() if attention_mask is not None else slice(None)
                # A step's tokens all exist once the last row has its token of that step.
                rows.append(self._row(model, prompt_ids[row][real], config, on_token if row == batch - 1 else None))
        steps = max(tokens.shape[0] for tokens, _ in rows)
        for _ in range(steps - rows[-1][0].shape[0]):  # steps after the last row ended: done now
            if on_token is not None:
                on_token()
        vocab = weights.config.vocab_size
        sequences = torch.full((batch, length + steps), config.pad_token_id, dtype=torch.long)
        sequences[:, :length] = prompt_ids
        scores = torch.zeros(batch, steps, vocab, dtype=weights.dtype)
        for row, (tokens, logits) in enumerate(rows):
            sequences[row, length : length + tokens.shape[0]] = tokens
            scores[row, : logits.shape[0]] = logits
        return GenerationOutput(sequences=sequences, scores=scores)
