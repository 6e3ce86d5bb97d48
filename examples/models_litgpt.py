"""A GPT-2 style decoder block from LitGPT (litgpt.model.Block), for the models family.

Written from docs/adapters.md alone. Run it:
    PYTHONPATH=examples specformer run --adapter models_litgpt:LitGPTBlock --family models --profile quick --no-bench

LitGPT configures a block by its Config: LayerNorm, a GELU MLP ("GptNeoxMLP": fc, GELU, proj),
biases, sequential residuals, and no rotary embedding (rotary_percentage 0) make GPT-2's block.
Its attention projection is one fused Linear whose rows interleave each head's query, key and
value; the adapter lays the suite's separate projections out that way. LitGPT's attention takes
an optional mask (None: causal); for a padding mask the adapter passes causal AND real keys.
Everything else of the family is left out ("unsupported").
"""

from __future__ import annotations

import torch
from litgpt.config import Config
from litgpt.model import Block

from specformer.conformance.adapters.protocols import Capabilities, DecoderBlockWeights


def _fused_qkv(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, heads: int) -> torch.Tensor:
    """(E, ...) each -> (3E, ...): per head, its query rows, key rows, value rows (LitGPT's layout)."""
    parts = zip(query.chunk(heads), key.chunk(heads), value.chunk(heads), strict=True)
    return torch.cat([t for group in parts for t in group])


def _block(weights: DecoderBlockWeights, dtype: torch.dtype) -> Block:
    attention, feed_forward = weights.attention, weights.feed_forward
    if feed_forward.activation not in ("gelu", "gelu_tanh"):
        raise ValueError(f"activation: LitGPT's GptNeoxMLP is GELU only, got {feed_forward.activation!r}")
    width = attention.query.shape[0]
    config = Config(
        n_embd=width,
        n_head=attention.heads,
        n_layer=1,
        block_size=4096,
        padded_vocab_size=1,
        intermediate_size=feed_forward.inner.shape[0],
        bias=True,
        norm_class_name="LayerNorm",
        norm_eps=weights.norm_1.eps,
        mlp_class_name="GptNeoxMLP",
        gelu_approximate="tanh" if feed_forward.activation == "gelu_tanh" else "none",
        rotary_percentage=0.0,
        parallel_residual=False,
    )
    block = Block(config, block_idx=0).to(dtype).eval()
    heads = attention.heads
    state = {
        "norm_1.weight": weights.norm_1.weight,
        "norm_1.bias": weights.norm_1.bias,
        "attn.attn.weight": _fused_qkv(attention.query, attention.key, attention.value, heads),
        "attn.attn.bias": _fused_qkv(attention.query_bias, attention.key_bias, attention.value_bias, heads),
        "attn.proj.weight": attention.output,
        "attn.proj.bias": attention.output_bias,
        "norm_2.weight": weights.norm_2.weight,
        "norm_2.bias": weights.norm_2.bias,
        "mlp.fc.weight": feed_forward.inner,
        "mlp.fc.bias": feed_forward.inner_bias,
        "mlp.proj.weight": feed_forward.outer,
        "mlp.proj.bias": feed_forward.outer_bias,
    }
    block.load_state_dict({k: v.to(dtype) for k, v in state.items()})
    return block


class LitGPTBlock:
    name = "litgpt-block"
    description = "litgpt.model.Block configured as GPT-2's block, CPU"
    capabilities = Capabilities(families=frozenset({"models"}), dtypes=(torch.float32, torch.float64))

    @torch.inference_mode()
    def decoder_block(
        self, hidden: torch.Tensor, weights: DecoderBlockWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        length = hidden.shape[1]
        block = _block(weights, hidden.dtype)
        no_rotation = torch.zeros(length, 0, dtype=hidden.dtype)  # (L, 0): rotary_percentage 0
        mask = None  # LitGPT: causal
        if padding_mask is not None:
            if padding_mask.shape != hidden.shape[:2]:
                expected, got = tuple(hidden.shape[:2]), tuple(padding_mask.shape)
                raise ValueError(f"padding_mask must be (B, L) = {expected}, got {got}")
            causal = torch.ones(length, length, dtype=torch.bool).tril()  # (L, L)
            mask = causal & padding_mask[:, None, None, :]  # (B, 1, L, L): causal and real keys
        return block(hidden, no_rotation, no_rotation, mask).clone()
