"""Reference KV caches and the small decoder they serve: the oracle for spec/kv_cache.md.

Shapes: B batch, L new tokens in one forward call, S cached positions, H query heads, Hkv
key/value heads, D head dim, E = H * D hidden size, V vocabulary.

The decoder is a Llama-style stack (RMSNorm, rotary position embeddings, grouped-query
attention, SwiGLU MLP), small and readable like gpt-fast's model.py, with parameters named as
transformers' LlamaForCausalLM / MistralForCausalLM names them, so the same state dict runs
through both. `architecture="gpt2"` is the other classic decoder, GPT2LMHeadModel's (learned
absolute position embeddings added to the token embeddings, LayerNorm with bias, fused
`c_attn` Conv1D projections stored (in, out), a tanh-GELU MLP, multi-head attention), with its
parameter names; an untied `lm_head` so both layouts carry one. Their attention is the
attention family's `scaled_dot_product_attention` with a boolean mask built from what the cache knows about each slot:

    may attend  =  key index <= query index                        (causal, KV-MODEL-02)
               and query index - key index < window                (sliding window, KV-SLIDE-01)
               and the key is a real token, not left padding       (KV-PAD-01)

where an *index* is a position in the (padded) sequence and a *position id* (what RoPE rotates
by) counts only the real tokens of a row, so a left-padded row sees the positions it would see
alone.

Caches (`KVCache`): `dynamic` grows by concatenation; `static` preallocates `max_cache_len`
slots and writes into them (gpt-fast's index_copy_), raising ValueError past the end
(KV-STATIC-01); `rolling` keeps only the last `window - 1` positions of a sliding-window model,
all the next query can see. A forward call without a cache runs the same code with a fresh
dynamic cache, so "recompute" and "cached" differ only in what is remembered between calls.

Left out: paged/block caches, quantised caches, cache offloading, beam reordering of a static
buffer in place (the generation family reorders with index_select), and fused kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from specformer.reference.attention import scaled_dot_product_attention

CACHE_KINDS = ("dynamic", "static", "rolling")
ARCHITECTURES = ("llama", "gpt2")


@dataclass(frozen=True)
class DecoderConfig:
    """A Llama-style decoder; defaults are a tiny model that runs in milliseconds."""

    vocab_size: int = 64
    hidden_size: int = 32  # E = num_heads * head_dim
    num_layers: int = 2
    num_heads: int = 4  # H
    num_kv_heads: int = 2  # Hkv, divides H (grouped-query attention)
    intermediate_size: int = 64  # SwiGLU width
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    sliding_window: int | None = None  # W: a query sees itself and the W - 1 keys before it
    architecture: str = "llama"  # or "gpt2": learned absolute positions (GPT2LMHeadModel's names)
    max_positions: int = 256  # gpt2: rows of the position table (n_positions)
    layer_norm_eps: float = 1e-5  # gpt2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def validate(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_heads ({self.num_heads}), "
                f"and num_heads a multiple of num_kv_heads ({self.num_kv_heads})"
            )
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}")
        if self.architecture == "gpt2":
            if self.num_kv_heads != self.num_heads or self.sliding_window is not None or self.max_positions < 1:
                raise ValueError(
                    "a gpt2 decoder needs num_kv_heads == num_heads, no sliding_window and max_positions >= 1, got "
                    f"{self.num_kv_heads}, {self.num_heads}, {self.sliding_window}, {self.max_positions}"
                )
        elif self.head_dim % 2:
            raise ValueError(f"head_dim (hidden_size / num_heads = {self.head_dim}) must be even for RoPE")
        if self.sliding_window is not None and self.sliding_window < 1:
            raise ValueError(f"sliding_window must be None or >= 1, got {self.sliding_window}")


@dataclass(frozen=True)
class DecoderWeights:
    """A config and a state dict in transformers' LlamaForCausalLM names (`model.layers.0.self_attn.q_proj.weight`)."""

    config: DecoderConfig
    params: dict[str, torch.Tensor] = field(repr=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.params["lm_head.weight"].dtype

    def to(self, dtype: torch.dtype) -> DecoderWeights:
        return DecoderWeights(self.config, {k: v.to(dtype) for k, v in self.params.items()})


def random_decoder(config: DecoderConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> DecoderWeights:
    """Weights with logits spread over a few units, so greedy choices are not decided by rounding.

    >>> random_decoder(DecoderConfig(), seed=0).params["lm_head.weight"].shape
    torch.Size([64, 32])
    """
    config.validate()
    generator = torch.Generator().manual_seed(seed)
    E, F, D = config.hidden_size, config.intermediate_size, config.head_dim

    def linear(rows: int, cols: int, gain: float = 1.0) -> torch.Tensor:
        return torch.randn(rows, cols, generator=generator, dtype=torch.float64) * gain / math.sqrt(cols)

    if config.architecture == "gpt2":
        return _random_gpt2(config, generator, linear, dtype)

    params = {"model.embed_tokens.weight": torch.randn(config.vocab_size, E, generator=generator, dtype=torch.float64)}
    for i in range(config.num_layers):
        prefix = f"model.layers.{i}."
        params[prefix + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(E, generator=generator, dtype=torch.float64)
        params[prefix + "self_attn.q_proj.weight"] = linear(config.num_heads * D, E, 2.0)
        params[prefix + "self_attn.k_proj.weight"] = linear(config.num_kv_heads * D, E, 2.0)
        params[prefix + "self_attn.v_proj.weight"] = linear(config.num_kv_heads * D, E)
        params[prefix + "self_attn.o_proj.weight"] = linear(E, config.num_heads * D)
        params[prefix + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(
            E, generator=generator, dtype=torch.float64
        )
        params[prefix + "mlp.gate_proj.weight"] = linear(F, E)
        params[prefix + "mlp.up_proj.weight"] = linear(F, E)
        params[prefix + "mlp.down_proj.weight"] = linear(E, F)
    params["model.norm.weight"] = torch.ones(E, dtype=torch.float64)
    params["lm_head.weight"] = linear(config.vocab_size, E, 3.0)
    return DecoderWeights(config, {k: v.to(dtype) for k, v in params.items()})


def _random_gpt2(config: DecoderConfig, generator: torch.Generator, linear, dtype: torch.dtype) -> DecoderWeights:
    """GPT2LMHeadModel's parameters; Conv1D weights are stored (in, out), hence the transposes.
    Position embeddings as large as the token embeddings, so a wrong position id shows."""
    E, F, V = config.hidden_size, config.intermediate_size, config.vocab_size

    def vector(size: int, mean: float, spread: float) -> torch.Tensor:
        return mean + spread * torch.randn(size, generator=generator, dtype=torch.float64)

    params = {
        "transformer.wte.weight": torch.randn(V, E, generator=generator, dtype=torch.float64),
        "transformer.wpe.weight": torch.randn(config.max_positions, E, generator=generator, dtype=torch.float64),
    }
    for i in range(config.num_layers):
        prefix = f"transformer.h.{i}."
        params[prefix + "ln_1.weight"], params[prefix + "ln_1.bias"] = vector(E, 1, 0.1), vector(E, 0, 0.1)
        params[prefix + "attn.c_attn.weight"] = torch.cat([linear(E, E, 2.0), linear(E, E, 2.0), linear(E, E)]).T
        params[prefix + "attn.c_attn.bias"] = vector(3 * E, 0, 0.1)
        params[prefix + "attn.c_proj.weight"], params[prefix + "attn.c_proj.bias"] = linear(E, E).T, vector(E, 0, 0.1)
        params[prefix + "ln_2.weight"], params[prefix + "ln_2.bias"] = vector(E, 1, 0.1), vector(E, 0, 0.1)
        params[prefix + "mlp.c_fc.weight"], params[prefix + "mlp.c_fc.bias"] = linear(F, E).T, vector(F, 0, 0.1)
        params[prefix + "mlp.c_proj.weight"], params[prefix + "mlp.c_proj.bias"] = linear(E, F).T, vector(E, 0, 0.1)
    params["transformer.ln_f.weight"] = torch.ones(E, dtype=torch.float64)
    params["transformer.ln_f.bias"] = torch.zeros(E, dtype=torch.float64)
    params["lm_head.weight"] = linear(V, E, 3.0)
    return DecoderWeights(config, {k: v.contiguous().to(dtype) for k, v in params.items()})


# ---------------------------------------------------------------------------------------
# The cache


class KVCache:
    """Keys and values per layer, (B, Hkv, S, D), plus what the attention mask needs per slot.

    Clauses: KV-SHAPE-01, KV-SHAPE-02, KV-LEN-01, KV-SIZE-01, KV-STATIC-01, KV-STATIC-02, KV-SLIDE-02.

    `slot_index` (S,) is the sequence index held by each slot (-1: never written) and
    `slot_real` (B, S) says whether it holds a real token (False: left padding or empty). The
    public view (`keys(layer)`, `values(layer)`) is the logical one: only written slots, in
    sequence order.
    """

    def __init__(self, kind: str = "dynamic", *, max_cache_len: int | None = None, window: int | None = None) -> None:
        if kind not in CACHE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CACHE_KINDS)}, got {kind!r}")
        if kind == "static" and (max_cache_len is None or max_cache_len < 1):
            raise ValueError(f"max_cache_len must be an int >= 1 for a static cache, got {max_cache_len!r}")
        if kind == "rolling" and (window is None or window < 1):
            raise ValueError(f"window must be an int >= 1 for a rolling cache, got {window!r}")
        self.kind, self.max_cache_len, self.window = kind, max_cache_len, window
        self.key_states: list[torch.Tensor] = []  # per layer (B, Hkv, S, D); static: (B, Hkv, max_cache_len, D)
        self.value_states: list[torch.Tensor] = []
        self.slot_index = torch.empty(0, dtype=torch.long)  # (S,)
        self.slot_real = torch.empty(0, 0, dtype=torch.bool)  # (B, S)
        self.positions_seen: torch.Tensor | None = None  # (B,) real tokens so far: the next position id
        self.seq_length = 0  # tokens written (including left padding), not capacity (KV-LEN-01)

    def begin(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Account for L new tokens (real (B, L) bool); returns their sequence indices (L,) and
        position ids (B, L). Called once per forward, before the layers write."""
        batch, length = real.shape
        if self.kind == "static" and self.seq_length + length > self.max_cache_len:
            raise ValueError(
                f"max_cache_len is {self.max_cache_len}: cannot write {length} more tokens after "
                f"{self.seq_length} (positions must stay in [0, {self.max_cache_len}))"
            )
        if self.positions_seen is None:
            self.positions_seen = torch.zeros(batch, dtype=torch.long)
        index = self.seq_length + torch.arange(length)  # (L,)
        # subtle: position ids count real tokens only, so a left-padded row starts at 0
        position_ids = self.positions_seen[:, None] + real.long().cumsum(-1) - 1  # (B, L)
        self.positions_seen = self.positions_seen + real.long().sum(-1)
        self._new_index, self._new_real = index, real
        self.seq_length += length
        return index, position_ids.clamp(min=0)

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Store one layer's new K, V (B, Hkv, L, D); return what the new queries attend to:
        keys, values (B, Hkv, S', D), their indices (S',) and realness (B, S')."""
        if layer == len(self.key_states):  # first call for this layer
            self._allocate(key)
        past_k, past_v = self.key_states[layer], self.value_states[layer]
        past_index, past_real = self.slot_index, self.slot_real
        if self.kind == "static":
            write = self.write_slots()  # gpt-fast: k_cache[:, :, input_pos] = k
            past_k.index_copy_(2, write, key)
            past_v.index_copy_(2, write, value)
            if layer == 0:
                self._written_index = torch.where(
                    torch.arange(self.max_cache_len) < self.seq_length, torch.arange(self.max_cache_len), -1
                )
                real = self.slot_real.clone()
                real[:, write] = self._new_real
                self._written_real = real
            return past_k, past_v, self._written_index, self._written_real
        keys, values = torch.cat([past_k, key], dim=2), torch.cat([past_v, value], dim=2)  # (B, Hkv, S + L, D)
        index = torch.cat([past_index, self._new_index])
        real = torch.cat([past_real, self._new_real], dim=1)
        kept = self.kept_slots(keys.shape[2])
        # subtle: clone, or the slice keeps the whole concatenated buffer alive (KV-SLIDE-02)
        trimmed = kept != slice(0, None)
        self.key_states[layer] = keys[:, :, kept].clone() if trimmed else keys
        self.value_states[layer] = values[:, :, kept].clone() if trimmed else values
        self._pending = (index[kept], real[:, kept])
        return keys, values, index, real

    def write_slots(self) -> torch.Tensor:
        """The slots (L,) a static cache writes this forward's L tokens into: their sequence indices."""
        return self._new_index

    def kept_slots(self, total: int) -> slice:
        """Which of the `total` slots a dynamic or rolling cache keeps after an update: a rolling cache
        keeps the last W - 1 positions, all that the next query can see."""
        return slice(max(total - (self.window - 1), 0), None) if self.kind == "rolling" else slice(0, None)

    def end(self) -> None:
        """Called once per forward, after every layer wrote."""
        if self.kind == "static":
            self.slot_index, self.slot_real = self._written_index, self._written_real
        else:
            self.slot_index, self.slot_real = self._pending

    def _allocate(self, key: torch.Tensor) -> None:
        batch, kv_heads, _, head_dim = key.shape
        slots = self.max_cache_len if self.kind == "static" else 0
        self.key_states.append(key.new_zeros(batch, kv_heads, slots, head_dim))
        self.value_states.append(key.new_zeros(batch, kv_heads, slots, head_dim))
        if len(self.key_states) == 1 and self.slot_real.numel() == 0:
            self.slot_real = torch.zeros(batch, slots, dtype=torch.bool)
            self.slot_index = torch.full((slots,), -1, dtype=torch.long)

    def keys(self, layer: int) -> torch.Tensor:
        """The logical keys of a layer: written slots only, in sequence order (B, Hkv, S, D)."""
        return self.key_states[layer][:, :, self._written_slots()]

    def values(self, layer: int) -> torch.Tensor:
        return self.value_states[layer][:, :, self._written_slots()]

    def _written_slots(self) -> torch.Tensor:
        return (self.slot_index >= 0).nonzero().flatten()

    def nbytes(self) -> int:
        """Bytes held by the K and V buffers (KV-SIZE-01)."""
        return sum(t.untyped_storage().nbytes() for t in (*self.key_states, *self.value_states))

    def copy(self) -> KVCache:
        """An independent copy: a cached prefix reused by two requests (KV-PREFIX-01)."""
        # type(self): a subclass (an adapter's own cache, a mutant's) copies as itself
        other = type(self)(self.kind, max_cache_len=self.max_cache_len, window=self.window)
        other.key_states = [t.clone() for t in self.key_states]
        other.value_states = [t.clone() for t in self.value_states]
        other.slot_index, other.slot_real = self.slot_index.clone(), self.slot_real.clone()
        other.positions_seen = None if self.positions_seen is None else self.positions_seen.clone()
        other.seq_length = self.seq_length
        return other

    def crop(self, tokens: int) -> None:
        """Forget the last `tokens` positions of a dynamic cache (undo a decode step)."""
        if self.kind != "dynamic" or not 0 <= tokens <= self.seq_length:
            raise ValueError(f"crop needs a dynamic cache and tokens in [0, {self.seq_length}], got {tokens}")
        keep = self.seq_length - tokens
        self.key_states = [t[:, :, :keep] for t in self.key_states]
        self.value_states = [t[:, :, :keep] for t in self.value_states]
        self.positions_seen = self.positions_seen - self.slot_real[:, keep:].long().sum(-1)
        self.slot_index, self.slot_real = self.slot_index[:keep], self.slot_real[:, :keep]
        self.seq_length = keep

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep batch rows `rows` (B',) in this order: beam search reorders with this."""
        self.key_states = [t.index_select(0, rows) for t in self.key_states]
        self.value_states = [t.index_select(0, rows) for t in self.value_states]
        self.slot_real = self.slot_real.index_select(0, rows)
        if self.positions_seen is not None:
            self.positions_seen = self.positions_seen.index_select(0, rows)


def expected_cache_bytes(
    *, layers: int, batch: int, kv_heads: int, positions: int, head_dim: int, dtype: torch.dtype
) -> int:
    """KV-SIZE-01: 2 (K and V) x layers x B x Hkv x positions x D x bytes per element.

    >>> expected_cache_bytes(layers=12, batch=1, kv_heads=12, positions=1024, head_dim=64, dtype=torch.bfloat16)
    37748736
    """
    return 2 * layers * batch * kv_heads * positions * head_dim * torch.empty(0, dtype=dtype).element_size()


# ---------------------------------------------------------------------------------------
# The decoder


def rms_norm(hidden: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    variance = hidden.pow(2).mean(-1, keepdim=True)
    return weight * (hidden * torch.rsqrt(variance + eps))


def rotary(states: torch.Tensor, position_ids: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotate (B, h, L, D) by position ids (B, L), transformers' half-split layout (rotate_half)."""
    head_dim = states.shape[-1]
    inverse_frequency = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (D/2,)
    angles = position_ids[..., None].double() * inverse_frequency  # (B, L, D/2)
    angles = torch.cat([angles, angles], dim=-1)[:, None]  # (B, 1, L, D)
    cos, sin = angles.cos().to(states.dtype), angles.sin().to(states.dtype)
    first, second = states.chunk(2, dim=-1)
    return states * cos + torch.cat([-second, first], dim=-1) * sin


def attention_layer(
    hidden: torch.Tensor,
    params: dict[str, torch.Tensor],
    prefix: str,
    config: DecoderConfig,
    *,
    layer: int,
    cache: KVCache,
    query_index: torch.Tensor,
    position_ids: torch.Tensor,
) -> torch.Tensor:
    """One self-attention block over L new tokens and whatever the cache holds: (B, L, E) -> (B, L, E)."""
    B, L, _ = hidden.shape
    H, Hkv, D = config.num_heads, config.num_kv_heads, config.head_dim
    query = (hidden @ params[prefix + "q_proj.weight"].T).view(B, L, H, D).transpose(1, 2)  # (B, H, L, D)
    key = (hidden @ params[prefix + "k_proj.weight"].T).view(B, L, Hkv, D).transpose(1, 2)  # (B, Hkv, L, D)
    value = (hidden @ params[prefix + "v_proj.weight"].T).view(B, L, Hkv, D).transpose(1, 2)  # (B, Hkv, L, D)
    query = rotary(query, position_ids, config.rope_theta)
    key = rotary(key, position_ids, config.rope_theta)  # the cache holds rotated keys (KV-SHAPE-02)
    out = cached_attention(query, key, value, config, layer=layer, cache=cache, query_index=query_index)
    return out @ params[prefix + "o_proj.weight"].T


def cached_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    config: DecoderConfig,
    *,
    layer: int,
    cache: KVCache,
    query_index: torch.Tensor,
) -> torch.Tensor:
    """New queries (B, H, L, D) over the cache after storing the new keys and values (B, Hkv, L, D): (B, L, H * D)."""
    B, _, L, _ = query.shape
    keys, values, key_index, key_real = cache.update(layer, key, value)  # (B, Hkv, S, D), (S,), (B, S)
    allowed = (key_index[None, :] <= query_index[:, None]) & (key_index[None, :] >= 0)  # (L, S)
    if config.sliding_window is not None:
        allowed = allowed & (query_index[:, None] - key_index[None, :] < config.sliding_window)
    # subtle: a padding query may see itself, so its (unused) row is finite, never an empty softmax
    mask = allowed[None] & (key_real[:, None, :] | (key_index[None, None, :] == query_index[None, :, None]))
    out = scaled_dot_product_attention(query, keys, values, mask=mask[:, None])  # (B, H, L, D)
    return out.transpose(1, 2).reshape(B, L, -1)  # (B, L, H * D)


def gpt2_attention_layer(
    hidden: torch.Tensor,
    params: dict[str, torch.Tensor],
    prefix: str,
    config: DecoderConfig,
    *,
    layer: int,
    cache: KVCache,
    query_index: torch.Tensor,
) -> torch.Tensor:
    """GPT-2's self-attention over L new tokens and the cache: (B, L, E) -> (B, L, E). No rotation:
    positions entered once, with the embeddings."""
    B, L, E = hidden.shape
    H, D = config.num_heads, config.head_dim
    fused = hidden @ params[prefix + "c_attn.weight"] + params[prefix + "c_attn.bias"]  # (B, L, 3E): [q | k | v]
    query, key, value = (t.view(B, L, H, D).transpose(1, 2) for t in fused.split(E, dim=-1))  # each (B, H, L, D)
    out = cached_attention(query, key, value, config, layer=layer, cache=cache, query_index=query_index)
    return out @ params[prefix + "c_proj.weight"] + params[prefix + "c_proj.bias"]


def gpt2_stack(
    weights: DecoderWeights,
    token_ids: torch.Tensor,
    cache: KVCache,
    query_index: torch.Tensor,
    position_ids: torch.Tensor,
) -> torch.Tensor:
    """GPT2LMHeadModel's logits (B, L, V): token plus position embeddings, pre-LN blocks, ln_f, lm_head."""
    config, p = weights.config, weights.params
    if position_ids.numel() and int(position_ids.max()) >= config.max_positions:
        raise ValueError(
            f"token_ids: position {int(position_ids.max())} is past the position table (max_positions "
            f"{config.max_positions}): positions must be in [0, {config.max_positions})"
        )
    # subtle: the position ids count real tokens only (KVCache.begin), so left padding does not shift them
    hidden = p["transformer.wte.weight"][token_ids] + p["transformer.wpe.weight"][position_ids]  # (B, L, E)
    E, eps = config.hidden_size, config.layer_norm_eps
    for layer in range(config.num_layers):
        prefix = f"transformer.h.{layer}."
        normed = F.layer_norm(hidden, (E,), p[prefix + "ln_1.weight"], p[prefix + "ln_1.bias"], eps)
        hidden = hidden + gpt2_attention_layer(
            normed, p, prefix + "attn.", config, layer=layer, cache=cache, query_index=query_index
        )
        normed = F.layer_norm(hidden, (E,), p[prefix + "ln_2.weight"], p[prefix + "ln_2.bias"], eps)
        inner = F.gelu(normed @ p[prefix + "mlp.c_fc.weight"] + p[prefix + "mlp.c_fc.bias"], approximate="tanh")
        hidden = hidden + inner @ p[prefix + "mlp.c_proj.weight"] + p[prefix + "mlp.c_proj.bias"]
    hidden = F.layer_norm(hidden, (E,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return hidden @ p["lm_head.weight"].T  # (B, L, V)


def decoder_forward(
    weights: DecoderWeights,
    token_ids: torch.Tensor,
    *,
    cache: KVCache | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits (B, L, V) of L new tokens (B, L) after whatever `cache` holds; updates the cache.

    Clauses: KV-COST-01, KV-SLIDE-03, KV-STATE-01,
    KV-MODEL-01, KV-MODEL-02, KV-EQ-01, KV-EQ-02, KV-EQ-03, KV-PAD-01, KV-PAD-02, KV-SLIDE-01.

    attention_mask (B, L), 1 on real tokens and 0 on left padding, covers the new tokens only;
    the cache remembers the earlier ones. Without a cache, a fresh dynamic one is used and dropped.
    """
    config, params = weights.config, weights.params
    if token_ids.dim() != 2 or token_ids.dtype != torch.long:
        raise ValueError(f"token_ids must be int64 (B, L), got {token_ids.dtype} {tuple(token_ids.shape)}")
    if token_ids.numel() and (token_ids.min() < 0 or token_ids.max() >= config.vocab_size):
        raise ValueError(f"token_ids must be in [0, {config.vocab_size}), got [{token_ids.min()}, {token_ids.max()}]")
    if cache is None:
        cache = KVCache("dynamic")
    real = torch.ones_like(token_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    if real.shape != token_ids.shape:
        raise ValueError(f"attention_mask must have shape {tuple(token_ids.shape)}, got {tuple(real.shape)}")
    query_index, position_ids = cache.begin(real)
    if config.architecture == "gpt2":
        logits = gpt2_stack(weights, token_ids, cache, query_index, position_ids)
        cache.end()
        return logits
    hidden = params["model.embed_tokens.weight"][token_ids]  # (B, L, E)
    for layer in range(config.num_layers):
        prefix = f"model.layers.{layer}."
        normed = rms_norm(hidden, params[prefix + "input_layernorm.weight"], config.rms_norm_eps)
        hidden = hidden + attention_layer(
            normed,
            params,
            prefix + "self_attn.",
            config,
            layer=layer,
            cache=cache,
            query_index=query_index,
            position_ids=position_ids,
        )
        normed = rms_norm(hidden, params[prefix + "post_attention_layernorm.weight"], config.rms_norm_eps)
        gate = normed @ params[prefix + "mlp.gate_proj.weight"].T  # (B, L, F)
        up = normed @ params[prefix + "mlp.up_proj.weight"].T
        hidden = hidden + (torch.nn.functional.silu(gate) * up) @ params[prefix + "mlp.down_proj.weight"].T
    cache.end()
    hidden = rms_norm(hidden, params["model.norm.weight"], config.rms_norm_eps)
    return hidden @ params["lm_head.weight"].T  # (B, L, V)


def new_cache(
    weights: DecoderWeights,
    kind: str = "dynamic",
    *,
    max_cache_len: int | None = None,
    cache_class: type[KVCache] = KVCache,
) -> KVCache:
    """The cache a model asks for: `dynamic` and `static` become `rolling` when the model has a sliding window.

    cache_class: KVCache or a subclass of it (an adapter's own cache; the mutants' broken ones).
    """
    window = weights.config.sliding_window
    if kind == "dynamic" and window is not None:
        return cache_class("rolling", window=window)
    return cache_class(kind, max_cache_len=max_cache_len, window=window)


def cached_logits(
    weights: DecoderWeights,
    token_ids: torch.Tensor,
    *,
    steps: tuple[int, ...],
    cache_kind: str = "dynamic",
    max_cache_len: int | None = None,
    attention_mask: torch.Tensor | None = None,
    cache_class: type[KVCache] = KVCache,
) -> torch.Tensor:
    """Run token_ids (B, L) through one cache in chunks of `steps` tokens (prefill then decodes,
    e.g. (5, 1, 1)); the logits of every chunk, concatenated: (B, L, V).

    Clauses: KV-PREFIX-01, KV-EQ-01, KV-EQ-02, KV-EQ-03.
    """
    if sum(steps) != token_ids.shape[1] or any(s < 1 for s in steps):
        raise ValueError(f"steps must be positive and sum to L={token_ids.shape[1]}, got {steps}")
    cache = new_cache(weights, cache_kind, max_cache_len=max_cache_len, cache_class=cache_class)
    logits, start = [], 0
    for step in steps:
        mask = None if attention_mask is None else attention_mask[:, start : start + step]
        logits.append(decoder_forward(weights, token_ids[:, start : start + step], cache=cache, attention_mask=mask))
        start += step
    return torch.cat(logits, dim=1)
