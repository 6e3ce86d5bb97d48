"""Known answers for reference/ itself, written from the spec's formulas in the test (never through the
reference): the conformance suite's oracle is the reference, so a bug in it moves the adapter under test
and the expected value together, and only an answer computed independently can see it. Each test here
kills mutants that scripts/mutation_score.py found surviving (docs/mutation.md lists which).
"""

from __future__ import annotations

import math

import pytest
import torch

from specformer.reference import attention as ref_attention
from specformer.reference import audio as ref_audio
from specformer.reference import lsh as ref_lsh


def _softmax_rows(rows: list[list[float]]) -> list[list[float]]:
    out = []
    for row in rows:
        top = max(row)
        exps = [math.exp(s - top) for s in row]
        out.append([e / sum(exps) for e in exps])
    return out


def _attention_by_hand(query, key, value, scale, allowed=None, masked_score=None):
    """softmax(q . k * scale) v for one (batch, head): lists of rows; masked keys get masked_score."""
    scores = [[scale * sum(a * b for a, b in zip(q, k, strict=True)) for k in key] for q in query]
    if allowed is not None:
        scores = [
            [s if ok else masked_score for s, ok in zip(row, oks, strict=True)]
            for row, oks in zip(scores, allowed, strict=True)
        ]
    weights = _softmax_rows(scores)
    return [[sum(w * v[e] for w, v in zip(row, value, strict=True)) for e in range(len(value[0]))] for row in weights]


def _qkv(seed: int, length: int = 3, keys: int = 5, dim: int = 4, value_dim: int = 2):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(1, 1, length, dim, generator=generator, dtype=torch.float64),
        torch.randn(1, 1, keys, dim, generator=generator, dtype=torch.float64),
        torch.randn(1, 1, keys, value_dim, generator=generator, dtype=torch.float64),
    )


@pytest.mark.parametrize("scale", [None, 0.37])
def test_attention_known_answer(scale: float | None) -> None:
    """ATTN-SDPA-01/02: softmax(Q K^T / sqrt(D)) V, or with the given scale."""
    query, key, value = _qkv(1)
    actual = ref_attention.scaled_dot_product_attention(query, key, value, scale=scale)
    expected = _attention_by_hand(query[0, 0].tolist(), key[0, 0].tolist(), value[0, 0].tolist(), scale or 0.5)
    torch.testing.assert_close(actual[0, 0], torch.tensor(expected, dtype=torch.float64))


def test_uniform_empty_rows_known_answer() -> None:
    """ATTN-PAD-02's "uniform" variant: masked keys keep the dtype's lowest score, so a row with no allowed
    key averages every value, and the other rows are the softmax over their allowed keys."""
    query, key, value = _qkv(2)
    allowed = torch.tensor([[True, False, True, True, False], [False] * 5, [True] * 5])
    actual = ref_attention.scaled_dot_product_attention(query, key, value, mask=allowed, empty_rows="uniform")
    lowest = torch.finfo(torch.float64).min
    expected = _attention_by_hand(
        query[0, 0].tolist(), key[0, 0].tolist(), value[0, 0].tolist(), 0.5, allowed.tolist(), lowest
    )
    torch.testing.assert_close(actual[0, 0], torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(actual[0, 0, 1], value[0, 0].mean(dim=0))


def test_bad_arguments_name_themselves() -> None:
    """The ValueErrors name what is wrong (the suite checks the parameter names; these check the rest)."""
    query, key, value = _qkv(3)
    with pytest.raises(ValueError, match=r"shapes do not match: query \(1, 1, 3, 4\), key .* value \(1, 1, 4, 2\)"):
        ref_attention.scaled_dot_product_attention(query, key, value[:, :, :4])
    with pytest.raises(ValueError, match=r"empty_rows must be one of zeros, .*got 'never'"):
        ref_attention.scaled_dot_product_attention(query, key, value, empty_rows="never")
    weights = ref_attention.MultiHeadWeights.random(8, 2, torch.Generator().manual_seed(4))
    hidden = torch.zeros(1, 3, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"context must be \(B, S, C\) with C=8, got \(1, 3, 5\)"):
        ref_attention.multi_head_attention(hidden, weights, context=torch.zeros(1, 3, 5, dtype=torch.float64))


def test_lsh_chunk_length_true_is_rejected() -> None:
    """ATTN-LSH-07: chunk_length must be an integer; True is a bool, not the chunk length 1."""
    x = torch.randn(1, 1, 4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="chunk_length"):
        ref_lsh.lsh_attention(x, x, rotations=torch.randn(2, 1, dtype=torch.float64), chunk_length=True)


def test_audio_edges() -> None:
    """AUD-MASK-01 with a silent (length 0) input and its int64 dtype; AUD-MEL's 80 filters by default and
    one filter allowed; AUD-STFT's error for a waveform too short to reflect-pad says why."""
    mask = ref_audio.frame_mask([0, 161, 160 * 3000])
    assert mask.dtype == torch.int64 and mask.shape == (3, 3000)
    assert mask[0].sum() == 0 and mask[1].tolist()[:3] == [1, 1, 0] and mask[2].sum() == 3000
    assert ref_audio.mel_filters().shape == (80, 201)
    assert ref_audio.mel_filters(1).shape == (1, 201)
    with pytest.raises(ValueError, match=r"more than n_fft // 2 = 200 samples"):
        ref_audio.power_spectrogram(torch.zeros(1, 200, dtype=torch.float64))
