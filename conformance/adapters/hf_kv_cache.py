"""The hf adapter's kv_cache family (spec/kv_cache.md): transformers' models and cache classes.

The suite's DecoderWeights become a `LlamaForCausalLM` (or `MistralForCausalLM` when the config
has a sliding window: same parameter names; `GPT2LMHeadModel` for `architecture="gpt2"`, with an
untied lm_head and no dropout) built from a small config with eager attention,
the state dict loaded as is, in evaluation mode, in the weights' dtype. Caches are transformers'
own: `DynamicCache(config=model.config)` (which builds `DynamicSlidingWindowLayer`s for a
sliding-window model) and `StaticCache(config=..., max_cache_len=N)`, passed as `cache=` (the
v5 name of `past_key_values`). Each call is made the way `generate()` makes it: the 2-D
attention mask of every token so far, `cache_position` = the indices being written, and
`position_ids = cumsum(mask) - 1` (clamped at 0), which `generate()` derives for left padding
and a direct caller must pass. The logical cache view is `cache.layers[i].keys/values`, the
static buffer sliced to the tokens written; its bytes are the storage of those buffers.
Prefix reuse copies the prefix's cache with `copy.deepcopy`, as transformers' documentation on
prefix caching does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from specformer.conformance.adapters.from_reference import PerModel
from specformer.conformance.adapters.protocols import CacheState
from specformer.reference.kv_cache import DecoderWeights

# What every model here is built with: its own lm_head, eager attention, no special token ids.
_EVERY_MODEL = dict(
    tie_word_embeddings=False, attn_implementation="eager", pad_token_id=None, bos_token_id=None, eos_token_id=None
)


def build_model(weights: DecoderWeights) -> torch.nn.Module:
    """A transformers causal LM with the suite's weights (Llama, Mistral for a sliding window, GPT-2)."""
    import transformers

    config = weights.config
    if config.architecture == "gpt2":
        return _finish(transformers.GPT2LMHeadModel(_gpt2_config(config)), weights)
    common = dict(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        rms_norm_eps=config.rms_norm_eps,
        rope_theta=config.rope_theta,
        max_position_embeddings=4096,
        **_EVERY_MODEL,
    )
    if config.sliding_window is None:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**common))
    else:
        model = transformers.MistralForCausalLM(
            transformers.MistralConfig(**common, sliding_window=config.sliding_window)
        )
    return _finish(model, weights)


def _gpt2_config(config) -> object:
    import transformers

    return transformers.GPT2Config(
        vocab_size=config.vocab_size,
        n_embd=config.hidden_size,
        n_layer=config.num_layers,
        n_head=config.num_heads,
        n_inner=config.intermediate_size,
        n_positions=config.max_positions,
        layer_norm_epsilon=config.layer_norm_eps,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        **_EVERY_MODEL,
    )


def _finish(model: torch.nn.Module, weights: DecoderWeights) -> torch.nn.Module:
    model = model.to(weights.dtype).eval()
    model.load_state_dict(weights.params)
    model.generation_config.pad_token_id = None
    model.generation_config.eos_token_id = None
    return model


def position_ids_of(mask: torch.Tensor) -> torch.Tensor:
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


class HFKVCache:
    """Mixin of HFAdapter."""

    def _model(self, weights: DecoderWeights) -> torch.nn.Module:
        models = self.__dict__.setdefault("_decoder_models", PerModel())
        return models.get(weights, build_model)

    def _new_cache(self, model: torch.nn.Module, cache_kind: str, max_cache_len: int | None) -> object:
        import transformers

        if cache_kind == "static":
            return transformers.StaticCache(config=model.config, max_cache_len=max_cache_len)
        return transformers.DynamicCache(config=model.config)

    @torch.no_grad()
    def decoder_logits(
        self, weights: DecoderWeights, token_ids: torch.Tensor, *, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        model = self._model(weights)
        mask = torch.ones_like(token_ids) if attention_mask is None else attention_mask
        return model(token_ids, attention_mask=mask, position_ids=position_ids_of(mask), use_cache=False).logits

    @torch.no_grad()
    def _run(self, model, cache, token_ids, steps, attention_mask) -> torch.Tensor:
        mask = torch.ones_like(token_ids) if attention_mask is None else attention_mask
        positions = position_ids_of(mask)
        logits, start = [], 0
        for step in steps:
            end = start + step
            out = model(
                token_ids[:, start:end],
                attention_mask=mask[:, :end],
                position_ids=positions[:, start:end],
                cache_position=torch.arange(start, end),
                cache=cache,
                use_cache=True,
            )
            logits.append(out.logits)
            start = end
        return torch.cat(logits, dim=1)

    def cached_logits(
        self,
        weights: DecoderWeights,
        token_ids: torch.Tensor,
        *,
        steps: tuple[int, ...],
        cache_kind: str = "dynamic",
        max_cache_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        model = self._model(weights)
        cache = self._new_cache(model, cache_kind, max_cache_len)
        return self._run(model, cache, token_ids, steps, attention_mask)

    def cache_after_prefill(
        self,
        weights: DecoderWeights,
        token_ids: torch.Tensor,
        *,
        cache_kind: str = "dynamic",
        max_cache_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> CacheState:
        model = self._model(weights)
        cache = self._new_cache(model, cache_kind, max_cache_len)
        self._run(model, cache, token_ids, (token_ids.shape[1],), attention_mask)
        length = cache.get_seq_length()
        held = [layer.keys.shape[-2] for layer in cache.layers]
        written = [min(h, length) for h in held]  # a static buffer holds capacity, a rolling one the window
        return CacheState(
            keys=[layer.keys[:, :, :w] for layer, w in zip(cache.layers, written, strict=True)],
            values=[layer.values[:, :, :w] for layer, w in zip(cache.layers, written, strict=True)],
            seq_length=length,
            nbytes=sum(t.untyped_storage().nbytes() for layer in cache.layers for t in (layer.keys, layer.values)),
        )

    def prefix_reuse_logits(
        self, weights: DecoderWeights, prefix_ids: torch.Tensor, suffixes: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        model = self._model(weights)
        prefix_cache = self._new_cache(model, "dynamic", None)
        self._run(model, prefix_cache, prefix_ids, (prefix_ids.shape[1],), None)
        results = []
        for suffix in suffixes:
            whole = torch.cat([prefix_ids, suffix], dim=1)
            steps = (prefix_ids.shape[1], suffix.shape[1])
            cache = copy.deepcopy(prefix_cache)
            results.append(self._continue(model, cache, whole, steps))
        return results

    @torch.no_grad()
    def _continue(self, model, cache, whole: torch.Tensor, steps: tuple[int, int]) -> torch.Tensor:
        start, end = steps[0], steps[0] + steps[1]
        mask = torch.ones_like(whole)
        out = model(
            whole[:, start:end],
            attention_mask=mask,
            position_ids=position_ids_of(mask)[:, start:end],
            cache_position=torch.arange(start, end),
            cache=cache,
            use_cache=True,
        )
        return out.logits

    def decode_step_runner(
        self, weights: DecoderWeights, context_ids: torch.Tensor, *, use_cache: bool = True
    ) -> Callable[[], torch.Tensor]:
        model = self._model(weights)
        next_token = context_ids[:, -1:]
        n = context_ids.shape[1]
        if not use_cache:
            sequence = torch.cat([context_ids, next_token], dim=1)
            return lambda: self.decoder_logits(weights, sequence)[:, -1]
        cache = self._new_cache(model, "dynamic", None)
        self._run(model, cache, context_ids, (n,), None)
        mask = torch.ones(context_ids.shape[0], n + 1, dtype=torch.long)

        @torch.no_grad()
        def step() -> torch.Tensor:
            out = model(
                next_token,
                attention_mask=mask,
                position_ids=torch.full_like(next_token, n),
                cache_position=torch.tensor([n]),
                cache=cache,
                use_cache=True,
            )
            cache.crop(-1)  # v5: a negative count of tokens to drop
            return out.logits[:, -1]

        return step
