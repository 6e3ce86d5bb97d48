"""Shared inputs of the kv_cache and generation suites: small decoders, prompts, masks.

Models are built once per (config, seed, dtype) from specformer.reference.kv_cache's
`random_decoder`, whose logits spread over several units so that greedy choices are never
decided by rounding. The float64 copy of a model is the oracle; the adapter gets the model in
the dtype under test.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from specformer.reference.kv_cache import DecoderConfig, DecoderWeights, random_decoder

BASE = DecoderConfig()  # V 64, E 32, 2 layers, 4 heads, 2 kv heads (grouped-query attention)
SLIDING = DecoderConfig(sliding_window=4)
WIDE = DecoderConfig(num_kv_heads=4)  # multi-head (H == Hkv), the other edge of GQA
TINY_VOCAB = DecoderConfig(vocab_size=4, hidden_size=16, num_heads=2, num_kv_heads=1, intermediate_size=32)
# GPT-2's layout (GPT2LMHeadModel): learned absolute positions, so a left-padded row whose
# position ids are not shifted reads the wrong rows of the position table.
GPT2 = DecoderConfig(architecture="gpt2", num_kv_heads=4)
# The two decoders the clauses where positions matter run on (left padding, prefill against decode).
MODELS, MODEL_IDS = [BASE, GPT2], ["llama", "gpt2"]


@lru_cache(maxsize=32)
def model(config: DecoderConfig = BASE, seed: int = 0, dtype: torch.dtype = torch.float32) -> DecoderWeights:
    return random_decoder(config, seed=seed, dtype=dtype)


def token_ids(batch: int, length: int, *, seed: int, vocab: int = BASE.vocab_size, low: int = 1) -> torch.Tensor:
    """(B, L) ids in [low, vocab); id 0 is left for padding."""
    return torch.randint(low, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def transposed_ids(batch: int, length: int, *, seed: int) -> torch.Tensor:
    """The same kind of ids as a non-contiguous view (a transpose)."""
    return token_ids(length, batch, seed=seed).T


def left_padded(lengths: list[int], *, seed: int, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of prompts of these lengths, left-padded: ids (B, P) and mask (B, P)."""
    width = max(lengths)
    ids = token_ids(len(lengths), width, seed=seed)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, length in enumerate(lengths):
        mask[row, width - length :] = 1
        ids[row, : width - length] = pad_id
    return ids, mask
