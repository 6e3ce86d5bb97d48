"""LitGPT's Llama (litgpt.model.GPT) and its KV cache, for the kv_cache family.

Written from docs/adapters.md alone. Run it:
    PYTHONPATH=examples specformer run --adapter kv_cache_litgpt:LitGPTCache --family kv_cache \
        --profile quick --no-bench

The suite's DecoderWeights hold a LlamaForCausalLM state dict; LitGPT's own converter
(`copy_weights_hf_llama`, what `litgpt convert_to_litgpt` runs) turns it into a GPT. LitGPT has
one kind of cache, preallocated (`set_kv_cache(batch_size, max_seq_length)`) and written at
`input_pos`: the adapter uses it for "static" (capacity max_cache_len) and for "dynamic"
(capacity: the tokens the call will write). LitGPT's GPT takes no padding mask, so the adapter
declares no `attention_mask` (docs/adapters.md, "Optional parameters"): the padding tests report
"unsupported" and the others run unpadded; a mask with zeros still gets a ValueError.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from litgpt.config import Config
from litgpt.model import GPT
from litgpt.scripts.convert_hf_checkpoint import copy_weights_hf_llama

from specformer.conformance.adapters.protocols import CacheState, Capabilities, DecoderWeights


def llama_gpt(weights: DecoderWeights, block_size: int) -> GPT:
    """The suite's LlamaForCausalLM state dict as a LitGPT GPT (examples/generation_litgpt.py uses it too)."""
    c = weights.config
    config = Config(
        block_size=max(block_size, 1),
        vocab_size=c.vocab_size,
        padded_vocab_size=c.vocab_size,
        n_layer=c.num_layers,
        n_head=c.num_heads,
        n_embd=c.hidden_size,
        n_query_groups=c.num_kv_heads,
        head_size=c.head_dim,
        intermediate_size=c.intermediate_size,
        rope_base=c.rope_theta,
        norm_eps=c.rms_norm_eps,
        sliding_window_size=c.sliding_window,
        rotary_percentage=1.0,
        parallel_residual=False,
        bias=False,
        norm_class_name="RMSNorm",
        mlp_class_name="LLaMAMLP",
    )
    state: dict[str, torch.Tensor] = {}
    copy_weights_hf_llama(config, {}, state, dict(weights.params))
    model = GPT(config).to(weights.dtype)
    model.load_state_dict(state)
    return model.eval()


def _no_padding(attention_mask: torch.Tensor | None) -> None:
    if attention_mask is not None and not bool(attention_mask.all()):
        raise ValueError("attention_mask: LitGPT's GPT has no padding mask (left padding is not supported)")


class LitGPTCache:
    name = "litgpt-kv-cache"
    description = "litgpt.model.GPT (Llama config) with its KVCache, CPU"
    capabilities = Capabilities(
        families=frozenset({"kv_cache"}),
        dtypes=(torch.float32,),
        # No padding mask; LitGPT's cache has no rolling kind but the window is a model feature it has.
        parameters={
            "decoder_logits": frozenset({"sliding_window", "grouped_query"}),
            "cached_logits": frozenset({"static_cache", "sliding_window", "grouped_query"}),
            "cache_after_prefill": frozenset({"static_cache", "sliding_window", "grouped_query"}),
            "prefix_reuse_logits": frozenset({"sliding_window", "grouped_query"}),
        },
    )
    # What the suite found in LitGPT itself.
    expectations_file = Path(__file__).with_name("kv_cache_litgpt.toml")

    @torch.inference_mode()
    def decoder_logits(
        self, weights: DecoderWeights, token_ids: torch.Tensor, *, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        _no_padding(attention_mask)
        return llama_gpt(weights, token_ids.shape[1])(token_ids).clone()

    def _prefilled(self, weights: DecoderWeights, batch: int, capacity: int) -> GPT:
        model = llama_gpt(weights, capacity)
        model.set_kv_cache(batch_size=batch, max_seq_length=capacity, dtype=weights.dtype)
        return model

    @staticmethod
    def _capacity(cache_kind: str, max_cache_len: int | None, written: int) -> int:
        if cache_kind not in ("dynamic", "static"):
            raise ValueError(f"cache_kind must be 'dynamic' or 'static', got {cache_kind!r}")
        return max_cache_len if cache_kind == "static" and max_cache_len is not None else written

    @torch.inference_mode()
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
        _no_padding(attention_mask)
        model = self._prefilled(weights, token_ids.shape[0], self._capacity(cache_kind, max_cache_len, sum(steps)))
        outputs, position = [], 0
        for count in steps:
            input_pos = torch.arange(position, position + count)
            outputs.append(model(token_ids[:, position : position + count], input_pos).clone())  # (B, count, V)
            position += count
        return torch.cat(outputs, dim=1)

    @torch.inference_mode()
    def cache_after_prefill(
        self,
        weights: DecoderWeights,
        token_ids: torch.Tensor,
        *,
        cache_kind: str = "dynamic",
        max_cache_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> CacheState:
        _no_padding(attention_mask)
        length = token_ids.shape[1]
        model = self._prefilled(weights, token_ids.shape[0], self._capacity(cache_kind, max_cache_len, length))
        model(token_ids, torch.arange(length))
        caches = [block.attn.kv_cache for block in model.transformer.h]
        return CacheState(
            keys=[cache.k[:, :, :length].clone() for cache in caches],
            values=[cache.v[:, :, :length].clone() for cache in caches],
            seq_length=length,  # LitGPT keeps no length: the positions written
            nbytes=sum(cache.k.nbytes + cache.v.nbytes for cache in caches),
        )

    @torch.inference_mode()
    def prefix_reuse_logits(
        self, weights: DecoderWeights, prefix_ids: torch.Tensor, suffixes: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        start = prefix_ids.shape[1]
        capacity = start + max(suffix.shape[1] for suffix in suffixes)
        model = self._prefilled(weights, prefix_ids.shape[0], capacity)
        model(prefix_ids, torch.arange(start))
        # A suffix writes the slots after the prefix; the next suffix overwrites them.
        return [model(suffix, torch.arange(start, start + suffix.shape[1])).clone() for suffix in suffixes]

    def decode_step_runner(
        self, weights: DecoderWeights, context_ids: torch.Tensor, *, use_cache: bool = True
    ) -> Callable[[], torch.Tensor]:
        length = context_ids.shape[1]
        step = context_ids[:, -1:]  # the token fed at the timed step
        if not use_cache:
            model = llama_gpt(weights, length + 1)
            full = torch.cat([context_ids, step], dim=1)
            return torch.inference_mode()(lambda: model(full)[:, -1])
        model = self._prefilled(weights, context_ids.shape[0], length + 1)
        with torch.inference_mode():
            model(context_ids, torch.arange(length))
        position = torch.tensor([length])
        return torch.inference_mode()(lambda: model(step, position)[:, -1])  # rewrites slot `length` each time
