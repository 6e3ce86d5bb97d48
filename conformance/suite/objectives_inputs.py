"""Inputs for the objectives suite: batches with special tokens, word pieces, documents; the rate test.

The vocabulary is V = VOCAB ids, 0..4 reserved: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4.
Rows are [CLS] words [SEP] then padding, of varying real lengths, so every batch exercises the
special-token and padding rules.
"""

from __future__ import annotations

import torch

from specformer.conformance.numerics import chi_square_p_value

VOCAB = 100
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIAL_IDS = (PAD, CLS, SEP)
# Chi-square false-alarm rate of every statistical clause of spec/objectives.md.
ALPHA = 1e-3


def rate_p_value(successes: int, trials: int, probability: float) -> float:
    """Two-sided test that `successes` of `trials` is binomial(trials, probability) (chi-square, 1 dof)."""
    return chi_square_p_value(
        torch.tensor([successes, trials - successes]), torch.tensor([probability, 1 - probability])
    )


def mlm_batch(seed: int, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, special_tokens_mask), (B, L): [CLS] x .. x [SEP] [PAD] ..., real lengths 2..L."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (batch, length), generator=generator)
    real = torch.randint(2, length + 1, (batch,), generator=generator)
    real[0] = length  # one row without padding
    positions = torch.arange(length).expand(batch, length)
    ids[positions >= real[:, None]] = PAD
    ids[:, 0] = CLS
    ids[positions == (real[:, None] - 1)] = SEP
    return ids, torch.isin(ids, torch.tensor(SPECIAL_IDS))


def word_batch(seed: int, batch: int, words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, word_ids): [CLS] w_0 .. w_{n-1} [SEP] [PAD]*, each word 1..3 pieces, word ids -1 on specials."""
    generator = torch.Generator().manual_seed(seed)
    pieces = torch.randint(1, 4, (batch, words), generator=generator)
    ends = pieces.cumsum(1)  # (B, W): one past the last piece of each word
    total = ends[:, -1]  # (B,) pieces per row
    width = int(total.max())
    slots = torch.arange(width).expand(batch, width).contiguous()
    word_of = torch.searchsorted(ends, slots, right=True)  # (B, width): the word of each piece slot
    word_ids = torch.full((batch, width + 2), -1)
    word_ids[:, 1:-1] = torch.where(slots < total[:, None], word_of, -1)
    ids = torch.randint(5, VOCAB, (batch, width + 2), generator=generator)
    ids[word_ids < 0] = PAD
    ids[:, 0] = CLS
    ids.scatter_(1, (total + 1)[:, None], SEP)
    return ids, word_ids


def documents(seed: int, count: int, sentences: int) -> list[list[list[int]]]:
    """Documents whose sentences are recognisable: sentence (d, i) starts with id 1000 * d + i + 10 ** 6."""
    generator = torch.Generator().manual_seed(seed)
    docs = []
    for d in range(count):
        doc = []
        for i in range(sentences):
            length = int(torch.randint(1, 5, (), generator=generator))
            doc.append([10**6 + 1000 * d + i, *torch.randint(5, VOCAB, (length,), generator=generator).tolist()])
        docs.append(doc)
    return docs


def sentence_of(ids: list[int]) -> tuple[int, int]:
    """(document, sentence) of a sentence built by documents()."""
    key = ids[0] - 10**6
    return key // 1000, key % 1000
