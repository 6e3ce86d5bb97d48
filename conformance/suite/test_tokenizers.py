"""Conformance tests for spec/tokenizers.md: the general clauses (TOK-GEN), which every tokenizer kind shares.

The suite is split along reference/tokenizers: test_tokenizers_byte_bpe.py, test_tokenizers_wordpiece.py,
test_tokenizers_sentencepiece.py and test_tokenizers_templates.py; shared helpers are in tokenizer_checks.py.

Three kinds of test, as fits each clause: hand-worked known answers on tiny vocabularies (the
spec's examples), properties under Hypothesis (round trips, chunk independence, Viterbi
optimality against brute force, template, truncation and padding shapes), and agreement with
the reference on real vocabularies nobody here wrote (mistral_common's tekken and SentencePiece
files, all-MiniLM-L6-v2's BERT vocabulary, Unigram models sentencepiece trains in memory), over
the whole multilingual corpus of tokenizer_corpus.py. An agreement test records its numbers as
evidence whether it passes or fails: vocabulary, strings, agreeing strings, the first
difference and the clause that best explains it.

A vocabulary whose package is not installed makes its tests "n/a"; nothing is downloaded.
Tests whose answer depends on a named variant read the adapter's declaration.
"""

from __future__ import annotations

import dataclasses
import functools

import pytest

from specformer.conformance.plugin import clause, require
from specformer.conformance.suite import tokenizer_inputs as inputs
from specformer.conformance.suite.checks import expect_value_error
from specformer.conformance.suite.tokenizer_checks import (
    bert_config,
    check,
    check_agreement,
    ids_of,
    letters_model,
    need,
    small_bpe,
    wordpiece_outcome,
    wordpiece_reference,
)
from specformer.conformance.suite.tokenizer_corpus import LONE_SURROGATE_EXAMPLES
from specformer.conformance.suite.tokenizer_inputs import (
    SENTENCEPIECE_FILES_READ,
    TEKKEN_FILES,
    sentencepiece_model,
    wordpiece_model,
)
from specformer.reference.tokenizers.templates import Encoding

# ---------------------------------------------------------------------------------------
# General


@clause("TOK-GEN-01")
def test_unicode_14_letters_and_punctuation_in_patterns(adapter) -> None:
    pretokenize = require(adapter, "pretokenize")
    # U+0870 ARABIC LETTER ALEF WITH ATTACHED FATHA is Lo since 14.0; U+061D is Po since 14.0.
    check(pretokenize("a\u0870b", "gpt2"), ["a\u0870b"], "gpt2 chunks of 'a\\u0870b' (a letter in 14.0)")
    check(pretokenize("a\u061db", "gpt2"), ["a", "\u061d", "b"], "gpt2 chunks of 'a\\u061db' (punctuation in 14.0)")


@clause("TOK-GEN-01")
def test_unicode_14_marks_and_punctuation_in_bert(adapter) -> None:
    normalize = require(adapter, "bert_normalize")
    encode = require(adapter, "wordpiece_encode")
    # U+0898 is Mn since 14.0, so lower-casing BERT strips it as an accent.
    check(normalize(bert_config(adapter, strip_accents=True), "a\u0898b"), "ab", "bert_normalize('a\\u0898b')")
    model = wordpiece_model(["a", "b", "\u061d"], normalizer=bert_config(adapter))
    check(encode(model, "a\u061db")[0], ids_of(model, "a", "\u061d", "b"), "wordpiece_encode('a\\u061db')")


@clause("TOK-GEN-01")
@pytest.mark.parametrize("kind", ["byte-level BPE", "WordPiece", "SentencePiece"])
def test_version_dependent_corpus_strings_agree(adapter, kind: str, request) -> None:
    """The corpus strings left out of the agreement clauses because of their code points."""
    texts = inputs.version_dependent_texts()
    if kind == "byte-level BPE":
        encode = require(adapter, "bpe_encode")
        model = need(inputs.tekken(TEKKEN_FILES[-1]), TEKKEN_FILES[-1])
        expected = [model.encode(t) for t in texts]
        check_agreement(request, TEKKEN_FILES[-1], texts, expected, lambda t: encode(model, t), lambda t: "TOK-GEN-01")
    elif kind == "WordPiece":
        encode = require(adapter, "wordpiece_encode")
        model = need(inputs.minilm(adapter.variant("TOK-BERT-05")), "all-MiniLM-L6-v2")
        expected = [wordpiece_reference(model, t, adapter.variant("TOK-SPECIAL-02")) for t in texts]
        actual = functools.partial(wordpiece_outcome, encode, model)
        check_agreement(request, "all-MiniLM-L6-v2", texts, expected, actual, lambda t: "TOK-GEN-01")
    else:
        encode = require(adapter, "sentencepiece_encode")
        vocabulary = SENTENCEPIECE_FILES_READ["quick"][0]
        model = need(inputs.mistral_sentencepiece(vocabulary), vocabulary)
        reference = inputs.reference_sentencepiece(model)
        expected = [reference.encode(t) for t in texts]
        check_agreement(request, vocabulary, texts, expected, lambda t: encode(model, t), lambda t: "TOK-GEN-01")


@clause("TOK-GEN-02")
def test_each_input_is_encoded_on_its_own(adapter) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter)
    batch = ["hello world", ("first one", "second"), "x", ("", "why not")]
    alone = [encode_batch(model, [item])[0] for item in batch]
    together = encode_batch(model, batch)
    for item, single, padded in zip(batch, alone, together, strict=True):  # padded on the right
        unpadded = Encoding(*(getattr(padded, f.name)[: len(single)] for f in dataclasses.fields(Encoding)))
        check(unpadded, single, f"{item!r} in a batch of {len(batch)}, pads removed, against a batch of one")
    # Options of one call must not leak into the next (HF keeps truncation as tokenizer state).
    text = "a long sentence here"
    before = encode_batch(model, [text])[0]
    encode_batch(model, [text], max_length=4, padding_side="left", pad_to_multiple_of=8)
    check(encode_batch(model, [text])[0], before, f"{text!r} after a call with max_length, left padding and a multiple")
    check(len(before), 2 + len(text.replace(" ", "")), f"length of {text!r}")


@clause("TOK-GEN-03")
@pytest.mark.parametrize("operation", ["bpe_encode", "sentencepiece_encode"])
def test_lone_surrogates_are_rejected(adapter, operation: str) -> None:
    encode = require(adapter, operation)
    model = small_bpe() if operation == "bpe_encode" else sentencepiece_model([("a", -1.0)], byte_fallback=True)
    for text in LONE_SURROGATE_EXAMPLES:
        expect_value_error(lambda: encode(model, text), "text", what=f"{operation}({text!r})")  # noqa: B023


@clause("TOK-GEN-04")
@pytest.mark.parametrize("operation", ["bpe_encode", "wordpiece_encode", "sentencepiece_encode", "encode_batch"])
def test_empty_text_encodes_to_no_tokens(adapter, operation: str) -> None:
    encode = require(adapter, operation)
    if operation == "bpe_encode":
        check(encode(small_bpe(), ""), [], "bpe_encode('')")
    elif operation == "wordpiece_encode":
        check(encode(letters_model(adapter), ""), ([], []), "wordpiece_encode('')")
    elif operation == "sentencepiece_encode":
        model = sentencepiece_model([("\u2581", -1.0)], add_dummy_prefix=True, remove_extra_whitespaces=True)
        check(encode(model, ""), [], "sentencepiece_encode('') with add_dummy_prefix")
    else:
        model = letters_model(adapter)
        cls, sep = model.vocab["[CLS]"], model.vocab["[SEP]"]
        check(encode(model, [""])[0].ids, [cls, sep], "encode_batch(['']).ids")
        check(encode(model, [("", "")])[0].ids, [cls, sep, sep], "encode_batch([('', '')]).ids")
