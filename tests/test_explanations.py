"""The "explained by" attribution of agreement differences, checked on bugs whose cause is known.

The agreement tests (tekken, MiniLM, sentencepiece vocabularies) name the clause behind the first
differing string; the report shows it. Each case below is a mutant (or a bug written here) with a
text it gets wrong, and the attribution must name one of the clauses the bug breaks.
"""

from __future__ import annotations

import pytest

from specformer.conformance.adapters import LoadedAdapter
from specformer.conformance.adapters.reference import ReferenceAdapter
from specformer.conformance.mutants import tokenizers as mutants
from specformer.conformance.suite import test_tokenizers_byte_bpe as byte_bpe_suite
from specformer.conformance.suite import test_tokenizers_sentencepiece as sentencepiece_suite
from specformer.conformance.suite import test_tokenizers_wordpiece as wordpiece_suite
from specformer.conformance.suite import tokenizer_checks
from specformer.conformance.suite import tokenizer_inputs as inputs
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE


class SpecialsMatchedInBPE(ReferenceAdapter):
    """Matches special-token spellings typed in text (a library default) where the clause says text."""

    breaks = ("TOK-SPECIAL-02",)

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return model.encode(text, allowed_special="all")


def _adapter(impl: object) -> LoadedAdapter:
    return LoadedAdapter(spec=type(impl).__name__, impl=impl)


def _bpe() -> ByteLevelBPE:
    merges = [(b"i", b" "), (b"a", b"a"), (b"a", b"b"), (b"c", b"d"), (b" ", b"cd"), (b"h", b"i")]
    return ByteLevelBPE.from_merges(merges, "gpt2", special_tokens={"<s>": 1000, "</s>": 1001})


@pytest.mark.parametrize(
    ("bug", "text"),
    [
        (SpecialsMatchedInBPE, "hi <s> cd"),
        (SpecialsMatchedInBPE, "ab</s>"),
        (mutants.MergesAcrossChunks, "hi hi"),
        (mutants.RightmostFirst, "aaa"),
    ],
)
def test_byte_level_differences_are_attributed_to_their_cause(bug: type, text: str) -> None:
    adapter, model = _adapter(bug()), _bpe()
    assert adapter.operation("bpe_encode")(model, text) != model.encode(text), "the case must differ"
    assert byte_bpe_suite._bpe_explanation(adapter, model, text) in bug.breaks


def test_special_spellings_left_as_text_are_not_blamed_on_specials() -> None:
    """A special spelling in the text does not decide the attribution when no special id came out."""
    adapter, model = _adapter(mutants.MergesAcrossChunks()), _bpe()
    assert byte_bpe_suite._bpe_explanation(adapter, model, "hi <s>") == "TOK-BL-05"


@pytest.mark.parametrize(
    ("bug", "text", "tokens"),
    [
        (mutants.SpecialStringsAsText, "hi [SEP] x", ["hi", "x", "[", "sep", "]"]),
        (mutants.StripAccentsNoneMeansFalse, "h\u00e9", ["he", "h\u00e9", "h", "##e"]),
    ],
)
def test_wordpiece_differences_are_attributed_to_their_cause(bug: type, text: str, tokens: list[str]) -> None:
    adapter = _adapter(bug())
    model = inputs.wordpiece_model(tokens, normalizer=tokenizer_checks.bert_config(adapter))
    policy = adapter.variant("TOK-SPECIAL-02")
    assert adapter.operation("wordpiece_encode")(model, text) != tokenizer_checks.wordpiece_reference(
        model, text, policy
    )
    assert wordpiece_suite._wordpiece_explanation(adapter, model, text) in bug.breaks


def test_sentencepiece_control_spellings_are_attributed_to_their_clause() -> None:
    adapter = _adapter(mutants.ControlSymbolsMatched())
    model = inputs.sentencepiece_model([(c, -1.0) for c in "<>/sunkpadx"], byte_fallback=True)
    text = "x<s>x"
    assert adapter.operation("sentencepiece_encode")(model, text) != inputs.reference_sentencepiece(model).encode(text)
    assert sentencepiece_suite._sentencepiece_explanation(adapter, model, text) in mutants.ControlSymbolsMatched.breaks
