"""Worked numbers in the spec's prose are what the reference computes.

The examples blocks (tests/test_spec_examples.py) hold what every adapter runs; a few clauses
quote a number in their rationale instead (a byte count, a shape, an encoding). Each is read
from the clause's text here, so a reworded or wrong number fails rather than drifts, and
recomputed with the reference. All of them take well under a second.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys

import pytest
import torch

from specformer.conformance.registry import registry
from specformer.reference import audio, heads, kv_cache, objectives
from specformer.reference.tokenizers import byte_bpe


def quoted(clause_id: str, pattern: str) -> re.Match[str]:
    """The match of `pattern` in the clause's text (prose lines joined), or a failure naming the clause."""
    text = " ".join(registry()[clause_id].text.split())
    match = re.search(pattern, text)
    assert match, f"{clause_id}: the text no longer quotes /{pattern}/"
    return match


def ints(text: str) -> list[int]:
    return json.loads(text.replace(",", ", ")) if text.startswith("[") else int(text.replace(",", ""))


def test_minbpe_wikipedia_example_encoding() -> None:
    match = quoted("TOK-TRAIN-02", r'three merges of `"(\w+)"`, gives .*?encodes the text as `(\[[\d, ]+\])`')
    text, encoding = match.group(1), ints(match.group(2))
    merges = byte_bpe.train(text, 3, "gpt2", tie_break="first-occurrence")
    assert byte_bpe.ByteLevelBPE.from_merges(merges, "gpt2").encode(text) == encoding


def test_answer_span_worked_example() -> None:
    match = quoted(
        "HEAD-QA-04",
        r"start `(\[[\d, ]+\])`, end `(\[[\d, ]+\])`, all positions context, maximum length (\d+): "
        r"the best span is `\((\d+), (\d+)\)` \(score (\d+)\), not `\((\d+), (\d+)\)` \(score (\d+)\)",
    )
    start, end = (torch.tensor(ints(match.group(i)), dtype=torch.float64) for i in (1, 2))
    best, best_score = (int(match.group(4)), int(match.group(5))), int(match.group(6))
    wrong, wrong_score = (int(match.group(7)), int(match.group(8))), int(match.group(9))
    context = torch.ones(start.shape, dtype=torch.bool)
    assert heads.best_span(start, end, context, int(match.group(3))) == best
    assert float(start[best[0]] + end[best[1]]) == best_score
    assert float(start[wrong[0]] + end[wrong[1]]) == wrong_score and wrong[0] > wrong[1]  # the unordered argmaxes
    assert (int(start.argmax()), int(end.argmax())) == wrong


def test_gpt2_124m_cache_bytes() -> None:
    match = quoted(
        "KV-SIZE-01",
        r"GPT-2 124M \((\d+) layers, (\d+) heads of (\d+)\) in bfloat16 at batch (\d+) caches `[^=]+= ([\d,]+)` "
        r"bytes for (\d+) positions",
    )
    layers, heads_, head_dim, batch, quoted_bytes, positions = (ints(match.group(i)) for i in range(1, 7))
    size = kv_cache.expected_cache_bytes(
        layers=layers, batch=batch, kv_heads=heads_, positions=positions, head_dim=head_dim, dtype=torch.bfloat16
    )
    assert size == quoted_bytes
    cache = kv_cache.KVCache("dynamic")  # and one layer of the reference cache holds its share of it
    cache.begin(torch.ones(batch, positions, dtype=torch.bool))
    cache.update(0, *(torch.zeros(batch, heads_, positions, head_dim, dtype=torch.bfloat16),) * 2)
    assert cache.nbytes() * layers == quoted_bytes


def test_forty_seconds_give_thirty_seconds_of_frames() -> None:
    match = quoted("AUD-PAD-02", r"(\d+) s of input gives `\((\d+), (\d+), (\d+)\)`")
    seconds, shape = int(match.group(1)), tuple(int(match.group(i)) for i in (2, 3, 4))
    wave = torch.zeros(seconds * audio.SAMPLING_RATE, dtype=torch.float64)
    assert tuple(audio.log_mel_spectrogram([wave], shape[1]).shape) == shape


def test_t5_inputs_and_targets() -> None:
    example = quoted(
        "OBJ-T5-03",
        r"For ids `(\[[\d, ]+\])`, noise `(\[[\d, ]+\])`, `V = (\d+)` and EOS (\d+), the inputs are `(\[[\d, ]+\])`",
    )
    targets = ints(quoted("OBJ-T5-04", r"For the example of OBJ-T5-03 the targets are `(\[[\d, ]+\])`").group(1))
    ids, noise = torch.tensor(ints(example.group(1))), torch.tensor(ints(example.group(2))).bool()
    inputs, labels = objectives.t5_span_corruption(
        ids, noise, vocab_size=int(example.group(3)), eos_token_id=int(example.group(4))
    )
    assert inputs.tolist() == ints(example.group(5))
    assert labels.tolist() == targets


def test_a_wrong_quoted_number_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    clauses = dict(registry())
    for clause_id, right, wrong in (("KV-SIZE-01", "37,748,736", "37,748,737"), ("OBJ-T5-04", "9, 1]", "9, 9, 1]")):
        assert right in clauses[clause_id].text
        clauses[clause_id] = dataclasses.replace(clauses[clause_id], text=clauses[clause_id].text.replace(right, wrong))
    monkeypatch.setattr(sys.modules[__name__], "registry", lambda: clauses)
    for check in (test_gpt2_124m_cache_bytes, test_t5_inputs_and_targets):
        with pytest.raises(AssertionError):
            check()
