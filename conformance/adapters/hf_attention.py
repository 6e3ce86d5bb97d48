"""The hf adapter's attention family (spec/attention.md): eager attention and the model files' attention modules.

Attention goes through `eager_attention_forward` of the Llama model file (the eager path every
decoder model copies) with the masks transformers itself builds for eager attention: an
additive mask of 0 and `torch.finfo(dtype).min`, causal masks aligned bottom-right as in
decoding with a cache (`masking_utils`), and key/value heads repeated with `repeat_kv`.

Attention blocks are the model files' own modules with the suite's weights copied in, in
evaluation mode, eager attention, masks from `masking_utils`: `BertSelfAttention` (encoder
self-attention; its output projection lives in `BertSelfOutput` together with the residual
and LayerNorm, so the adapter applies that one `nn.Linear` itself), `GPT2Attention` (decoder
self-attention; the three projections fused in one `Conv1D` of transposed layout),
`BartAttention` with `key_value_states` (cross-attention), `LongformerSelfAttention` (the
hidden states padded to a multiple of `attention_window` and the 0/1/2 mask encoded as
`LongformerModel.forward` does; output projection applied as for BERT) and Reformer's
`LSHSelfAttention`, whose random rotations are replaced, for the duration of one call, by the
suite's (`reformer_rotations`: torch.randn as modeling_reformer sees it returns them when asked for
the rotation shape, in the calling thread only); its query-key and value
projections are identities over the suite's inputs laid side by side.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from specformer.reference.attention import MultiHeadWeights, merge_heads, split_heads
from specformer.reference.local import LongformerWeights


class HFAttention:
    @functools.cached_property
    def _eager_attention(self):
        from transformers.models.llama import modeling_llama

        return modeling_llama.eager_attention_forward

    def attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        *,
        causal: bool = False,
        mask: torch.Tensor | None = None,
        scale: float | None = None,
    ) -> torch.Tensor:
        length, keys = query.shape[-2], key.shape[-2]
        if causal:  # as masking_utils builds it: query i sits at position i + S - L
            mask = torch.ones(length, keys, dtype=torch.bool, device=query.device).tril(diagonal=keys - length)
        if mask is not None and mask.dtype == torch.bool:  # as eager attention receives it
            mask = torch.zeros(mask.shape, dtype=query.dtype, device=query.device).masked_fill(
                ~mask, torch.finfo(query.dtype).min
            )
        if mask is not None:  # eager attention wants (B, 1 or H, L, S)
            mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape)).expand(query.shape[0], -1, length, keys)
        module = _EagerModule(query.shape[1] // key.shape[1])
        scaling = query.shape[-1] ** -0.5 if scale is None else scale
        output, _weights = self._eager_attention(module, query, key, value, mask, scaling)
        return output.transpose(1, 2)  # eager returns (B, L, H, Dv)

    # -----------------------------------------------------------------------------------
    # Attention blocks

    def multi_head_attention(
        self,
        hidden: torch.Tensor,
        weights: MultiHeadWeights,
        *,
        context: torch.Tensor | None = None,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from transformers import masking_utils

        if context is not None:
            return self._bart_cross_attention(hidden, weights, context, key_padding_mask)
        if causal:
            module, config = self._gpt2_attention(weights, hidden.dtype)
            mask = masking_utils.create_causal_mask(
                config, hidden, _long_mask(key_padding_mask), None, allow_is_causal_skip=False
            )
            with torch.no_grad():
                return module(hidden, attention_mask=mask)[0]
        module, config = self._bert_self_attention(weights, hidden.dtype)
        mask = masking_utils.create_bidirectional_mask(config, hidden, _long_mask(key_padding_mask))
        with torch.no_grad():
            output = module(hidden, attention_mask=mask)[0]
            return F.linear(output, weights.output, weights.output_bias)

    def _bert_self_attention(self, weights: MultiHeadWeights, dtype: torch.dtype):
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertSelfAttention

        config = BertConfig(
            hidden_size=weights.embed_dim,
            num_attention_heads=weights.heads,
            attention_probs_dropout_prob=weights.dropout,
            attn_implementation="eager",
        )
        module = BertSelfAttention(config).to(dtype).eval()
        with torch.no_grad():
            for name in ("query", "key", "value"):
                getattr(module, name).weight.copy_(getattr(weights, name))
                getattr(module, name).bias.copy_(getattr(weights, f"{name}_bias"))
        return module, config

    def _gpt2_attention(self, weights: MultiHeadWeights, dtype: torch.dtype):
        from transformers import GPT2Config
        from transformers.models.gpt2.modeling_gpt2 import GPT2Attention

        config = GPT2Config(
            n_embd=weights.embed_dim, n_head=weights.heads, attn_pdrop=weights.dropout, attn_implementation="eager"
        )
        module = GPT2Attention(config, layer_idx=0).to(dtype).eval()
        with torch.no_grad():  # Conv1D weights are (in, out): the transpose of nn.Linear's
            module.c_attn.weight.copy_(torch.cat([weights.query, weights.key, weights.value]).T)
            module.c_attn.bias.copy_(torch.cat([weights.query_bias, weights.key_bias, weights.value_bias]))
            module.c_proj.weight.copy_(weights.output.T)
            module.c_proj.bias.copy_(weights.output_bias)
        return module, config

    def _bart_cross_attention(
        self,
        hidden: torch.Tensor,
        weights: MultiHeadWeights,
        context: torch.Tensor,
        key_padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        from transformers import BartConfig, masking_utils
        from transformers.models.bart.modeling_bart import BartAttention

        if weights.context_dim != weights.embed_dim:
            # BART's k_proj and v_proj are (E, E): the encoder and decoder widths are one d_model.
            raise ValueError(
                f"BartAttention needs the context width ({weights.context_dim}) to equal the model width "
                f"({weights.embed_dim})"
            )
        config = BartConfig(d_model=weights.embed_dim, attention_dropout=weights.dropout, attn_implementation="eager")
        module = BartAttention(
            weights.embed_dim, weights.heads, dropout=weights.dropout, is_decoder=True, config=config, layer_idx=0
        )
        module = module.to(hidden.dtype).eval()
        with torch.no_grad():
            for ours, theirs in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"), ("output", "out_proj")):
                getattr(module, theirs).weight.copy_(getattr(weights, ours))
                getattr(module, theirs).bias.copy_(getattr(weights, f"{ours}_bias"))
            mask = masking_utils.create_bidirectional_mask(
                config, hidden, _long_mask(key_padding_mask), encoder_hidden_states=context
            )
            return module(hidden, key_value_states=context, attention_mask=mask)[0]

    def longformer_attention(
        self,
        hidden: torch.Tensor,
        weights: LongformerWeights,
        *,
        window: int,
        global_mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from transformers import LongformerConfig
        from transformers.models.longformer.modeling_longformer import LongformerSelfAttention

        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        local = weights.local
        config = LongformerConfig(
            hidden_size=local.embed_dim, num_attention_heads=local.heads, attention_window=[2 * window]
        )
        config.attention_probs_dropout_prob = 0.0
        module = LongformerSelfAttention(config, layer_id=0).to(hidden.dtype).eval()
        projections = {
            "query": (local.query, local.query_bias),
            "key": (local.key, local.key_bias),
            "value": (local.value, local.value_bias),
            "query_global": (weights.global_query, weights.global_query_bias),
            "key_global": (weights.global_key, weights.global_key_bias),
            "value_global": (weights.global_value, weights.global_value_bias),
        }
        batch, length, _ = hidden.shape
        real = torch.ones(batch, length, dtype=torch.bool) if padding_mask is None else padding_mask
        # As LongformerModel.forward: pad to a multiple of attention_window, then encode
        # 0 = padding, 1 = local, 2 = global as finfo.min, 0 and finfo.max.
        extra = (-length) % (2 * window)
        padded_hidden = F.pad(hidden, (0, 0, 0, extra))
        padded_real = F.pad(real, (0, extra))
        padded_global = F.pad(global_mask, (0, extra)) & padded_real
        mask = torch.zeros(batch, length + extra, dtype=hidden.dtype)
        mask[~padded_real] = torch.finfo(hidden.dtype).min
        mask[padded_global] = torch.finfo(hidden.dtype).max
        with torch.no_grad():
            for name, (weight, bias) in projections.items():
                getattr(module, name).weight.copy_(weight)
                getattr(module, name).bias.copy_(bias)
            output = module(
                padded_hidden,
                attention_mask=mask,
                is_index_masked=mask < 0,
                is_index_global_attn=mask > 0,
                is_global_attn=bool((mask > 0).any()),
            )[0]
        return F.linear(output[:, :length], local.output, local.output_bias)

    def lsh_attention(
        self, query_key: torch.Tensor, value: torch.Tensor, *, rotations: torch.Tensor, chunk_length: int
    ) -> torch.Tensor:
        module, hidden, rotations = self._lsh_module(query_key, value, rotations, chunk_length)
        with torch.no_grad(), reformer_rotations(rotations):
            output = module(hidden).hidden_states  # (B, N, H * D)
        return split_heads(output, query_key.shape[1])

    def lsh_buckets(self, vectors: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
        batch, heads, length, _ = vectors.shape
        module, _hidden, rotations = self._lsh_module(vectors, vectors, rotations, chunk_length=1)
        rounds = rotations.shape[2]
        with torch.no_grad(), reformer_rotations(rotations):
            offset = module._hash_vectors(vectors, rounds, None)  # (B, H, n_rounds * N), round r + r * n_buckets
        n_buckets = 2 * rotations.shape[-1]
        offsets = torch.arange(rounds).view(1, 1, rounds, 1) * n_buckets
        return offset.view(batch, heads, rounds, length) - offsets

    def _lsh_module(self, query_key: torch.Tensor, value: torch.Tensor, rotations: torch.Tensor, chunk_length: int):
        """LSHSelfAttention whose query_key and value projections pick the suite's inputs out of
        hidden states that lay them side by side: hidden = [merge(query_key) | merge(value)]."""
        from transformers import ReformerConfig
        from transformers.models.reformer.modeling_reformer import LSHSelfAttention

        _batch, heads, _length, dim = query_key.shape
        if rotations.dim() == 2:  # (D, R): one round shared by every head, in Reformer's layout
            rotations = rotations.view(1, rotations.shape[0], 1, -1).expand(heads, -1, -1, -1)
        if rotations.dim() != 4 or rotations.shape[:2] != (heads, dim):
            raise ValueError(f"rotations must be (H, D, n_rounds, R) or (D, R), got {tuple(rotations.shape)}")
        width = heads * dim
        config = ReformerConfig(
            hidden_size=2 * width,
            num_attention_heads=heads,
            attention_head_size=dim,
            lsh_attn_chunk_length=chunk_length,
            num_hashes=rotations.shape[2],
            num_buckets=2 * rotations.shape[-1],
            lsh_num_chunks_before=1,
            lsh_num_chunks_after=0,
            lsh_attention_probs_dropout_prob=0.0,
            is_decoder=False,
            attn_layers=["lsh"],
        )
        module = LSHSelfAttention(config).to(query_key.dtype).eval()
        identity = torch.eye(width, dtype=query_key.dtype)
        zeros = torch.zeros_like(identity)
        with torch.no_grad():
            module.query_key.weight.copy_(torch.cat([identity, zeros], dim=1))
            module.value.weight.copy_(torch.cat([zeros, identity], dim=1))
        hidden = torch.cat([merge_heads(query_key), merge_heads(value)], dim=-1)  # (B, N, 2 * H * D)
        return module, hidden, rotations.to(query_key.dtype).contiguous()


def _long_mask(key_padding_mask: torch.Tensor | None) -> torch.Tensor | None:
    """transformers' 2-D attention_mask: 1 on real tokens, 0 on padding."""
    return None if key_padding_mask is None else key_padding_mask.long()


class _TorchWithRotations:
    """Stands in for `torch` in transformers' modeling_reformer for one call: `randn` asked for the
    rotations' shape from the calling thread returns the rotations; everything else is torch's."""

    def __init__(self, rotations: torch.Tensor, thread: int) -> None:
        self._rotations, self._thread = rotations, thread

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    def randn(self, *size: Any, **kwargs: Any) -> torch.Tensor:
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)) else size
        if threading.get_ident() == self._thread and tuple(shape) == tuple(self._rotations.shape):
            return self._rotations.clone().to(kwargs.get("dtype") or self._rotations.dtype)
        return torch.randn(*size, **kwargs)


_REFORMER_ROTATIONS_LOCK = threading.RLock()


@contextlib.contextmanager
def reformer_rotations(rotations: torch.Tensor, module: Any = None) -> Iterator[None]:
    """Within the block, Reformer's LSHSelfAttention called from this thread draws `rotations`
    (it draws its LSH rotations with torch.randn on every forward, modeling_reformer.py).

    Only transformers' modeling_reformer module sees the change (its module-level name `torch` is
    replaced for the block, torch.randn itself is untouched), only this thread's calls of the
    rotations' shape get them, and threads that inject rotations take turns; so nothing else in
    the process, another thread's Reformer included, sees a difference. `module` is the module
    whose `torch` is replaced (default: modeling_reformer).
    """
    if module is None:
        from transformers.models.reformer import modeling_reformer as module

    with _REFORMER_ROTATIONS_LOCK:
        original = module.torch
        module.torch = _TorchWithRotations(rotations, threading.get_ident())
        try:
            yield
        finally:
            module.torch = original


class _EagerModule(torch.nn.Module):
    """The attributes transformers' eager attention reads from its calling module."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.num_key_value_groups = groups
        self.eval()
