"""The torch adapter's kv_cache family: a second, independent cache in the gpt-fast style.

Plain PyTorch, written from gpt-fast's model.py (`pytorch-labs/gpt-fast` @ 32971d3) rather than
from specformer.reference: one preallocated static cache per layer, `(B, Hkv, max_len, D)`
buffers updated with `index_copy_` at the input positions, a boolean mask built from the
positions written so far (gpt-fast slices a preallocated causal mask the same way), rotary
embeddings in transformers' half-split layout (so the suite's Llama weights load unpermuted),
and `torch.nn.functional.scaled_dot_product_attention(..., enable_gqa=True)`. A GPT-2 decoder
(`architecture="gpt2"`: GPT2LMHeadModel's names, learned positions, Conv1D weights (in, out))
runs on the same cache, its position embeddings looked up by the same position ids.

A "dynamic" cache here is a static one sized to the sequence, as gpt-fast sizes its cache to
prompt + max_new_tokens; a sliding-window model is masked, not rolled, so its cache does not
shrink to the window (KV-SLIDE-02, documented in expectations/torch.toml). Prefix reuse clones
the buffers. Left padding is masked per row and position ids count real tokens only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from specformer.conformance.adapters.protocols import CacheState
from specformer.reference.kv_cache import DecoderWeights


class StaticKVCache:
    """gpt-fast's KVCache, one per layer, plus what the mask needs: which slots hold real tokens."""

    def __init__(self, layers: int, batch: int, kv_heads: int, max_len: int, head_dim: int, dtype: torch.dtype):
        shape = (batch, kv_heads, max_len, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(layers)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(layers)]
        self.real = torch.zeros(batch, max_len, dtype=torch.bool)  # written and not padding
        self.next_position = torch.zeros(batch, dtype=torch.long)
        self.length = 0
        self.max_len = max_len

    def clone(self) -> StaticKVCache:
        other = object.__new__(StaticKVCache)
        other.k, other.v = [t.clone() for t in self.k], [t.clone() for t in self.v]
        other.real, other.next_position = self.real.clone(), self.next_position.clone()
        other.length, other.max_len = self.length, self.max_len
        return other


def _rope(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    half = x.shape[-1] // 2
    # angles in float64: gpt-fast's float32 table would cost a float64 model its precision
    freqs = 1.0 / theta ** (torch.arange(half, dtype=torch.float64) / half)
    angles = positions[:, None, :, None].double() * freqs  # (B, 1, L, D/2)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


@torch.no_grad()
def forward(weights: DecoderWeights, ids: torch.Tensor, cache: StaticKVCache, mask: torch.Tensor) -> torch.Tensor:
    """Logits (B, L, V) of L new tokens appended at cache.length; mask (B, L) marks real tokens."""
    c, p = weights.config, weights.params
    B, L = ids.shape
    start = cache.length
    if start + L > cache.max_len:
        raise ValueError(f"max_cache_len is {cache.max_len}: cannot write {L} tokens after {start}")
    input_pos = torch.arange(start, start + L)
    real = mask.bool()
    positions = cache.next_position[:, None] + real.long().cumsum(-1) - 1
    cache.next_position += real.long().sum(-1)
    cache.real[:, input_pos] = real
    cache.length += L
    slots = torch.arange(cache.max_len)
    allowed = (slots[None, :] <= input_pos[:, None]) & (slots[None, :] < cache.length)  # (L, S)
    if c.sliding_window is not None:
        allowed &= input_pos[:, None] - slots[None, :] < c.sliding_window
    attn_mask = allowed[None] & (cache.real[:, None, :] | (slots[None, None, :] == input_pos[None, :, None]))
    attn_mask = attn_mask[:, None]  # (B, 1, L, S)
    if c.architecture == "gpt2":
        return _gpt2(weights, ids, cache, input_pos, positions.clamp(min=0), attn_mask)
    x = p["model.embed_tokens.weight"][ids]
    H, Hkv, D = c.num_heads, c.num_kv_heads, c.head_dim
    for i in range(c.num_layers):
        pre = f"model.layers.{i}."
        h = _rms(x, p[pre + "input_layernorm.weight"], c.rms_norm_eps)
        q = (h @ p[pre + "self_attn.q_proj.weight"].T).view(B, L, H, D).transpose(1, 2)
        k = (h @ p[pre + "self_attn.k_proj.weight"].T).view(B, L, Hkv, D).transpose(1, 2)
        v = (h @ p[pre + "self_attn.v_proj.weight"].T).view(B, L, Hkv, D).transpose(1, 2)
        q, k = _rope(q, positions.clamp(min=0), c.rope_theta), _rope(k, positions.clamp(min=0), c.rope_theta)
        cache.k[i].index_copy_(2, input_pos, k)
        cache.v[i].index_copy_(2, input_pos, v)
        out = F.scaled_dot_product_attention(
            q, cache.k[i], cache.v[i], attn_mask=attn_mask, scale=1.0 / math.sqrt(D), enable_gqa=Hkv != H
        )
        x = x + out.transpose(1, 2).reshape(B, L, H * D) @ p[pre + "self_attn.o_proj.weight"].T
        h = _rms(x, p[pre + "post_attention_layernorm.weight"], c.rms_norm_eps)
        gate, up = h @ p[pre + "mlp.gate_proj.weight"].T, h @ p[pre + "mlp.up_proj.weight"].T
        x = x + (F.silu(gate) * up) @ p[pre + "mlp.down_proj.weight"].T
    return _rms(x, p["model.norm.weight"], c.rms_norm_eps) @ p["lm_head.weight"].T


def _gpt2(
    weights: DecoderWeights,
    ids: torch.Tensor,
    cache: StaticKVCache,
    input_pos: torch.Tensor,
    positions: torch.Tensor,
    attn_mask: torch.Tensor,
) -> torch.Tensor:
    """GPT-2 (GPT2LMHeadModel's parameter names) on the same static cache: learned positions, LayerNorm, Conv1D."""
    c, p = weights.config, weights.params
    B, L = ids.shape
    E, H, D, eps = c.hidden_size, c.num_heads, c.head_dim, c.layer_norm_eps
    if int(positions.max()) >= c.max_positions:
        raise ValueError(f"positions must be in [0, max_positions={c.max_positions}), got {int(positions.max())}")
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][positions]
    for i in range(c.num_layers):
        pre = f"transformer.h.{i}."
        h = F.layer_norm(x, (E,), p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
        qkv = torch.addmm(p[pre + "attn.c_attn.bias"], h.reshape(B * L, E), p[pre + "attn.c_attn.weight"])
        q, k, v = qkv.view(B, L, 3, H, D).permute(2, 0, 3, 1, 4)  # each (B, H, L, D)
        cache.k[i].index_copy_(2, input_pos, k)
        cache.v[i].index_copy_(2, input_pos, v)
        out = F.scaled_dot_product_attention(q, cache.k[i], cache.v[i], attn_mask=attn_mask, scale=1.0 / math.sqrt(D))
        x = x + out.transpose(1, 2).reshape(B, L, E) @ p[pre + "attn.c_proj.weight"] + p[pre + "attn.c_proj.bias"]
        h = F.layer_norm(x, (E,), p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
        h = F.gelu(h @ p[pre + "mlp.c_fc.weight"] + p[pre + "mlp.c_fc.bias"], approximate="tanh")
        x = x + h @ p[pre + "mlp.c_proj.weight"] + p[pre + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (E,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return x @ p["lm_head.weight"].T


class TorchKVCache:
    """Mixin of TorchAdapter."""

    @staticmethod
    def _cache(weights: DecoderWeights, batch: int, max_len: int) -> StaticKVCache:
        c = weights.config
        return StaticKVCache(c.num_layers, batch, c.num_kv_heads, max_len, c.head_dim, weights.dtype)

    def decoder_logits(
        self, weights: DecoderWeights, token_ids: torch.Tensor, *, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        mask = torch.ones_like(token_ids) if attention_mask is None else attention_mask
        return forward(weights, token_ids, self._cache(weights, token_ids.shape[0], token_ids.shape[1]), mask)

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
        capacity = max_cache_len if cache_kind == "static" else token_ids.shape[1]
        cache = self._cache(weights, token_ids.shape[0], capacity)
        mask = torch.ones_like(token_ids) if attention_mask is None else attention_mask
        logits, start = [], 0
        for step in steps:
            logits.append(forward(weights, token_ids[:, start : start + step], cache, mask[:, start : start + step]))
            start += step
        return torch.cat(logits, dim=1)

    def cache_after_prefill(
        self,
        weights: DecoderWeights,
        token_ids: torch.Tensor,
        *,
        cache_kind: str = "dynamic",
        max_cache_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> CacheState:
        capacity = max_cache_len if cache_kind == "static" else token_ids.shape[1]
        cache = self._cache(weights, token_ids.shape[0], capacity)
        mask = torch.ones_like(token_ids) if attention_mask is None else attention_mask
        forward(weights, token_ids, cache, mask)
        n = cache.length
        return CacheState(
            keys=[k[:, :, :n] for k in cache.k],
            values=[v[:, :, :n] for v in cache.v],
            seq_length=n,
            nbytes=sum(t.untyped_storage().nbytes() for t in (*cache.k, *cache.v)),
        )

    def prefix_reuse_logits(
        self, weights: DecoderWeights, prefix_ids: torch.Tensor, suffixes: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        longest = max(s.shape[1] for s in suffixes)
        prefix_cache = self._cache(weights, prefix_ids.shape[0], prefix_ids.shape[1] + longest)
        forward(weights, prefix_ids, prefix_cache, torch.ones_like(prefix_ids))
        return [forward(weights, s, prefix_cache.clone(), torch.ones_like(s)) for s in suffixes]

    def decode_step_runner(
        self, weights: DecoderWeights, context_ids: torch.Tensor, *, use_cache: bool = True
    ) -> Callable[[], torch.Tensor]:
        next_token = context_ids[:, -1:]
        if not use_cache:
            sequence = torch.cat([context_ids, next_token], dim=1)
            return lambda: self.decoder_logits(weights, sequence)[:, -1]
        cache = self._cache(weights, context_ids.shape[0], context_ids.shape[1] + 1)
        forward(weights, context_ids, cache, torch.ones_like(context_ids))
        ones = torch.ones_like(next_token)

        def step() -> torch.Tensor:
            logits = forward(weights, next_token, cache, ones)[:, -1]
            cache.length -= 1  # rewind: the step is timed again on the same context
            cache.next_position -= 1
            return logits

        return step
