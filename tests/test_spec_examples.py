"""The spec's worked examples are executed: what spec/*.md shows is what the suite checks.

A clause's `examples` block (spec/README.md) holds one JSON object per line; the family's suite
runs them against every adapter. Here they run against the reference, every one is attempted,
and a wrong expectation is caught, so an example cannot drift from the behaviour it describes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
import torch

from specformer.conformance.adapters import load_adapter
from specformer.conformance.numerics import ConformanceFailure
from specformer.conformance.registry import SpecError, parse_family, registry, spec_files
from specformer.conformance.suite import checks
from specformer.conformance.suite.test_attention import check_spec_examples as check_attention_examples
from specformer.conformance.suite.test_generation import check_spec_examples as check_generation_examples
from specformer.conformance.suite.test_losses import check_spec_examples as check_loss_examples
from specformer.conformance.suite.test_sampling import check_spec_examples as check_sampling_examples
from specformer.conformance.suite.test_tokenizers_byte_bpe import check_pattern_examples, check_training_examples
from specformer.conformance.suite.test_tokenizers_sentencepiece import check_sentencepiece_examples
from specformer.conformance.suite.test_tokenizers_templates import check_truncation_examples
from specformer.conformance.suite.test_tokenizers_wordpiece import check_bert_examples


def run_sampling(adapter, clause_id: str) -> None:
    for dtype in (torch.float32, torch.float64):
        check_sampling_examples(adapter, clause_id, dtype)


# The function that runs each clause's examples; the clause's own tests call the same function.
RUNNERS = {
    **dict.fromkeys(["SAMP-TOPK-02", "SAMP-TOPP-01", "SAMP-TOPP-02", "SAMP-MINP-01", "SAMP-ORDER-01"], run_sampling),
    "ATTN-CAUSAL-02": check_attention_examples,
    **dict.fromkeys(["TOK-BL-03", "TOK-BL-04"], check_pattern_examples),
    "TOK-TRAIN-02": check_training_examples,
    **dict.fromkeys(["TOK-BERT-01", "TOK-BERT-05", "TOK-WP-05"], check_bert_examples),
    **dict.fromkeys(["TOK-SP-01", "TOK-UNI-01", "TOK-UNI-02", "TOK-UNI-03"], check_sentencepiece_examples),
    **dict.fromkeys(["TOK-TRUNC-02", "TOK-TRUNC-03"], check_truncation_examples),
    **dict.fromkeys(
        ["LOSS-CE-01", "LOSS-CE-02", "LOSS-CE-04", "LOSS-CE-06", "LOSS-CE-07", "LOSS-BCE-01"], check_loss_examples
    ),
    **dict.fromkeys(["GEN-REP-01", "GEN-FREQ-01", "GEN-NGRAM-01"], check_generation_examples),
}
# How many examples each family's spec holds at least: a block dropped or left unparsed fails here.
EXAMPLES_PER_FAMILY = {"sampling": 10, "attention": 3, "tokenizers": 60, "losses": 9, "generation": 3}
RUN_BY_TESTS = set(RUNNERS)


def with_examples() -> list[str]:
    return [c.id for c in registry().values() if c.examples]


def test_every_examples_block_is_parsed_and_run_by_its_family() -> None:
    blocks = sum(text.count("```examples") for _, _, text in spec_files())
    clauses = with_examples()
    assert blocks >= len(clauses) >= 5
    assert sum(len(registry()[c].examples) for c in clauses) >= 20
    assert set(clauses) == RUN_BY_TESTS, "a clause with examples needs its runner here and a test that calls it"


class Recording(dict):
    """An example's data that notes when a runner reads a field of it (the variant filter reads
    `variant` with .get, which is not an attempt)."""

    def __init__(self, data: dict, attempted: set[str], source: str) -> None:
        super().__init__(data)
        self.attempted, self.source = attempted, source

    def __getitem__(self, key: str):
        self.attempted.add(self.source)
        return super().__getitem__(key)


def test_every_family_has_every_example_that_applies_attempted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per family, the runners read every example that holds for the reference's variants, and the
    spec keeps at least as many examples as it had (so a dropped block fails here)."""
    reference = load_adapter("reference")
    attempted: set[str] = set()
    for clause_id in RUNNERS:
        clause = registry()[clause_id]
        recording = [dataclasses.replace(e, data=Recording(e.data, attempted, e.source)) for e in clause.examples]
        monkeypatch.setitem(registry(), clause_id, dataclasses.replace(clause, examples=recording))
    for clause_id, runner in RUNNERS.items():
        runner(reference, clause_id)
    applying, declared, read = Counter[str](), Counter[str](), Counter[str]()
    for clause_id in RUNNERS:
        family = registry()[clause_id].family
        declared[family] += len(registry()[clause_id].examples)
        applying[family] += len(checks.spec_examples(reference, clause_id))
        read[family] += sum(e.source in attempted for e in registry()[clause_id].examples)
    assert read == applying, "examples that hold for the reference but were not attempted"
    assert all(declared[family] >= n for family, n in EXAMPLES_PER_FAMILY.items()), declared


@pytest.mark.parametrize("clause_id", sorted(RUN_BY_TESTS))
def test_the_reference_passes_every_example_it_declares(clause_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = load_adapter("reference")
    attempted = Counter[str]()
    original = checks.registry

    def counting_registry():  # count the examples the runner reads
        clauses = original()
        attempted[clause_id] += len(clauses[clause_id].examples)
        return clauses

    monkeypatch.setattr(checks, "registry", counting_registry)
    RUNNERS[clause_id](reference, clause_id)
    assert attempted[clause_id] > 0


@pytest.mark.parametrize(
    ("clause_id", "wrong", "message"),
    [
        ("SAMP-TOPP-01", {"kept": [0]}, r"spec example sampling\.md:\d+: top_p"),
        ("ATTN-CAUSAL-02", {"visible": [[0], [0, 1, 2, 3]]}, r"spec example attention\.md:\d+: causal L=2 S=4"),
        ("TOK-BL-03", {"chunks": ["I", "'LL"]}, r"gpt2 chunks of \"I'LL\" \(spec example\)"),
        ("TOK-TRAIN-02", {"first_merges": [["a", "b"]]}, r"spec example tokenizers\.md:\d+: first merges of ' a bc'"),
        ("TOK-BERT-01", {"normalized": "abcdefgh"}, r"spec example tokenizers\.md:\d+: 'a\\x00b"),
        ("TOK-UNI-03", {"segments": ["<unk>", "yz"]}, r"spec example tokenizers\.md:\d+: 'xyz' with"),
        ("LOSS-BCE-01", {"loss": 6000.0}, r"spec example losses\.md:\d+: bce_with_logits_loss"),
        ("GEN-NGRAM-01", {"banned": [[5]]}, r"spec example generation\.md:\d+: no_repeat_ngram .*banned \[\[6\]\]"),
        ("TOK-TRUNC-02", {"kept": [1, 8]}, r"spec example tokenizers\.md:\d+: longest_first of \[2, 10\]"),
    ],
)
def test_a_wrong_example_fails(clause_id: str, wrong: dict, message: str) -> None:
    reference = load_adapter("reference")
    original = registry()[clause_id]
    first = original.examples[0]
    broken = dataclasses.replace(original, examples=[dataclasses.replace(first, data={**first.data, **wrong})])
    try:
        registry()[clause_id] = broken
        with pytest.raises(ConformanceFailure, match=message):
            RUNNERS[clause_id](reference, clause_id)
    finally:
        registry()[clause_id] = original


def test_topp_01_example_is_the_one_in_the_prose() -> None:
    """The spec's table ([0.5, 0.3, 0.1, 0.1], p = 0.6 keeps {0, 1}) is the first example run."""
    first = registry()["SAMP-TOPP-01"].examples[0].data
    assert first["probabilities"] == [0.5, 0.3, 0.1, 0.1] and first["arguments"] == {"top_p": 0.6}
    assert first["kept"] == [0, 1]
    assert "`[0.5, 0.3, 0.1, 0.1]`, `p = 0.6`" in registry()["SAMP-TOPP-01"].text


def test_a_malformed_example_is_a_spec_error() -> None:
    text = "### DEMO-TOPIC-01  T\n\ntext\n\n```examples\n{not json}\n```\n"
    with pytest.raises(SpecError, match=r"demo\.md:6: an example must be one JSON object"):
        parse_family(text, "demo", "demo.md")
    with pytest.raises(SpecError, match="not closed"):
        parse_family("### DEMO-TOPIC-01  T\n\n```examples\n{}\n", "demo", "demo.md")
