"""Conformance tests for spec/tokenizers.md, SentencePiece (reference/tokenizers/sentencepiece.py).

Normalisation, BPE and decoding (TOK-SP), Unigram segmentation (TOK-UNI).

The kinds of test and the evidence they record are described in test_tokenizers.py.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle

import pytest
from hypothesis import given

from specformer.conformance.cache import cached, key_of
from specformer.conformance.numerics import every_case, fail
from specformer.conformance.plugin import clause, not_applicable, require
from specformer.conformance.suite import checks
from specformer.conformance.suite import tokenizer_inputs as inputs
from specformer.conformance.suite.tokenizer_checks import (
    check,
    check_round_trip_agreement,
    need,
)
from specformer.conformance.suite.tokenizer_inputs import (
    MISTRAL_SENTENCEPIECE_FILES,
    SENTENCEPIECE_FILES_READ,
    scalar_text,
    sentencepiece_model,
    unigram_cases,
)
from specformer.reference.tokenizers.sentencepiece import ModelType, PieceType, SentencePieceModel, best_segmentation

# ---------------------------------------------------------------------------------------
# SentencePiece


def nmt_nfkc() -> bytes:
    return need(inputs.nmt_nfkc_charsmap(), "sentencepiece's nmt_nfkc map (package sentencepiece)")


def check_sentencepiece_examples(adapter, clause_id: str) -> None:
    """Run the clause's worked examples (spec/tokenizers.md): `sentencepiece_normalize` with a named
    character map, or `sentencepiece_encode` on a hand-made model (`pieces` from id 3, after
    <unk>, <s> and </s>) compared as the pieces the ids name."""
    for example in checks.spec_examples(adapter, clause_id):
        data, what = example.data, f"spec example {example.source}: {example.data['text']!r}"
        if data["operation"] == "sentencepiece_normalize":
            model = sentencepiece_model([("a", -1.0)], charsmap=nmt_nfkc(), escape_whitespaces=False)
            normalized = require(adapter, "sentencepiece_normalize")(model, data["text"])
            check(normalized, data["normalized"], f"spec example {example.source}: nmt_nfkc of {data['text']!r}")
        else:
            model = sentencepiece_model([(piece, score) for piece, score in data["pieces"]])
            ids = require(adapter, "sentencepiece_encode")(model, data["text"])
            segments = [model.pieces[i].piece if 0 <= i < len(model.pieces) else i for i in ids]
            check(segments, data["segments"], f"{what} with {data['pieces']}")


@clause("TOK-SP-01")
def test_normalisation_by_the_character_map(adapter) -> None:
    check_sentencepiece_examples(adapter, "TOK-SP-01")


@clause("TOK-SP-02")
def test_whitespace_handling(adapter) -> None:
    normalize = require(adapter, "sentencepiece_normalize")
    for flags, text, expected in [
        ({"add_dummy_prefix": True, "remove_extra_whitespaces": True}, "  a  b   c  ", "▁a▁b▁c"),
        ({"add_dummy_prefix": True, "remove_extra_whitespaces": False}, "a  b ", "▁a▁▁b▁"),
        ({"add_dummy_prefix": False, "remove_extra_whitespaces": True}, " a b ", "a▁b"),
        ({"add_dummy_prefix": True, "remove_extra_whitespaces": True, "escape_whitespaces": False}, " a  b ", " a b"),
        ({"add_dummy_prefix": False, "remove_extra_whitespaces": False}, " a\tb", "▁a\tb"),
    ]:
        check(normalize(sentencepiece_model([("a", -1.0)], **flags), text), expected, f"{text!r} with {flags}")


@clause("TOK-SP-03")
def test_text_that_normalises_to_nothing_encodes_to_nothing(adapter) -> None:
    normalize, encode = require(adapter, "sentencepiece_normalize"), require(adapter, "sentencepiece_encode")
    flags = {"add_dummy_prefix": True, "remove_extra_whitespaces": True}
    models = [sentencepiece_model([("▁", -1.0), ("a", -1.0)], **flags)]
    if inputs.nmt_nfkc_charsmap() is not None:
        models.append(sentencepiece_model([("▁", -1.0), ("a", -1.0)], charsmap=inputs.nmt_nfkc_charsmap(), **flags))
    for model in models:
        texts = [" ", "    ", *(["\t\n \x01\u200b\ufeff"] if model.normalizer_spec.precompiled_charsmap else [])]
        for text in texts:
            check(normalize(model, text), "", f"normalise({text!r}), {model.normalizer_spec.name}")
            check(encode(model, text), [], f"encode({text!r}), {model.normalizer_spec.name}")


@clause("TOK-SP-04")
def test_user_defined_pieces_are_matched_as_written(adapter) -> None:
    encode = require(adapter, "sentencepiece_encode")
    user = PieceType.USER_DEFINED
    model = sentencepiece_model([("a", -1.0), ("b", -1.0), ("ab", -100.0, user)])
    check(encode(model, "abab"), [5, 5], "Unigram 'abab' with user-defined 'ab' (stored score -100)")
    bpe = sentencepiece_model([("a", -1.0), ("b", -2.0), ("ab", 0.0, user), ("ba", -0.5)], model_type=ModelType.BPE)
    check(encode(bpe, "bab"), [4, 5], "BPE 'bab' with user-defined 'ab' (a frozen symbol) and the piece 'ba'")
    if inputs.nmt_nfkc_charsmap() is not None:
        nfkc = sentencepiece_model([("f", -1.0), ("i", -1.0), ("x", -1.0), ("ﬁx", 0.0, user)], charsmap=nmt_nfkc())
        check(encode(nfkc, "ﬁxﬁ"), [6, 3, 4], "nmt_nfkc 'ﬁxﬁ' with user-defined 'ﬁx' (matched before the map)")


@clause("TOK-SP-05")
@pytest.mark.parametrize("model_type", [ModelType.UNIGRAM, ModelType.BPE], ids=["unigram", "bpe"])
def test_byte_fallback(adapter, model_type: ModelType) -> None:
    encode = require(adapter, "sentencepiece_encode")
    model = sentencepiece_model([("a", -1.0), ("b", -2.0)], model_type=model_type, byte_fallback=True)
    byte = 5  # ids of <0x00> .. <0xFF> start after <unk> <s> </s> a b

    def bytes_of(text: str) -> list[int]:
        return [byte + b for b in text.encode()]

    check(encode(model, "a☃b"), [3, *bytes_of("☃"), 4], "'a☃b' with byte fallback")
    check(encode(model, "☃☃"), bytes_of("☃☃"), "'☃☃' with byte fallback (no fusing)")
    check(encode(model, "zaé"), [*bytes_of("z"), 3, *bytes_of("é")], "'zaé' with byte fallback")


@clause("TOK-SP-06")
def test_bpe_merges_the_highest_scoring_piece_first(adapter) -> None:
    encode = require(adapter, "sentencepiece_encode")
    pieces = [("a", -5.0), ("b", -5.0), ("c", -5.0), ("ab", -2.0), ("bc", -1.0), ("aa", -3.0)]
    model = sentencepiece_model(pieces, model_type=ModelType.BPE)
    for text, expected in [("abc", ["a", "bc"]), ("aaa", ["aa", "a"]), ("abab", ["ab", "ab"]), ("aabc", ["aa", "bc"])]:
        ids = [next(i for i, p in enumerate(model.pieces) if p.piece == piece) for piece in expected]
        check(encode(model, text), ids, f"BPE {text!r}, pieces {expected}")


@clause("TOK-SP-07")
def test_decoding(adapter) -> None:
    decode = require(adapter, "sentencepiece_decode")
    pieces = [("▁a", -1.0), ("b", -1.0), ("▁", -1.0), ("c▁", -1.0)]
    model = sentencepiece_model(pieces, byte_fallback=True, add_dummy_prefix=True)
    byte = 3 + len(pieces)
    for ids, expected in [
        ([3, 4], "ab"),
        ([1, 3, 2, 4], "ab"),
        ([0, 4], " ⁇ b"),
        ([byte + 0xE4, byte + 0xBD, byte + 0xA0, 4], "你b"),
        ([byte + 0xE4, byte + 0xBD, 4], "\ufffd\ufffdb"),
        ([5, 3], " a"),
        ([6, 3], "c  a"),
    ]:
        check(decode(model, ids), expected, f"decode({ids}), add_dummy_prefix only")
    collapsing = dataclasses.replace(
        model, normalizer_spec=dataclasses.replace(model.normalizer_spec, remove_extra_whitespaces=True)
    )
    check(decode(collapsing, [5, 5, 3, 5]), "a ", "decode of ▁ ▁ ▁a ▁ with remove_extra_whitespaces")
    plain = dataclasses.replace(
        model, normalizer_spec=dataclasses.replace(model.normalizer_spec, add_dummy_prefix=False)
    )
    check(decode(plain, [3, 4]), " ab", "decode of ▁a b without dummy prefix or collapsing")


@clause("TOK-SP-07")
def test_decoding_code_point_edges(adapter) -> None:
    """Byte pieces decode as UTF-8 with each byte that starts no valid sequence one U+FFFD: the encoded
    surrogates U+D800..U+DFFF (ED A0 80 .. ED BF BF) and code points above U+10FFFF (F4 90 80 80) are
    not valid UTF-8 (RFC 3629 section 3), their neighbours U+D7FF, U+E000 and U+10FFFF are."""
    decode = require(adapter, "sentencepiece_decode")
    model = sentencepiece_model([("b", -1.0)], byte_fallback=True, add_dummy_prefix=True)
    byte, b = 4, 3  # ids: <unk> <s> </s> b <0x00> ..
    with every_case("UTF-8 code-point edges") as cases:
        for data, expected in [
            (b"\xed\x9f\xbf\xee\x80\x80", "\ud7ff\ue000"),
            (b"\xed\xa0\x80", "\ufffd" * 3),
            (b"\xed\xbf\xbf", "\ufffd" * 3),
            (b"\xf4\x8f\xbf\xbf", "\U0010ffff"),
            (b"\xf4\x90\x80\x80", "\ufffd" * 4),
        ]:
            ids = [byte + value for value in data] + [b]
            with cases.case(data.hex(" ")):
                check(decode(model, ids), expected + "b", f"decode of the bytes {data.hex(' ')} then 'b'")


@functools.cache
def _round_trip_model() -> SentencePieceModel:
    letters = [(c, -3.0) for c in "abcdefghij"] + [("▁", -2.0), ("▁a", -1.0), ("ab", -1.5)]
    return sentencepiece_model(letters, byte_fallback=True, add_dummy_prefix=True)


@clause("TOK-SP-08")
@given(text=scalar_text)
def test_decoding_inverts_encoding_up_to_normalisation(adapter, text: str) -> None:
    encode, decode = require(adapter, "sentencepiece_encode"), require(adapter, "sentencepiece_decode")
    model = _round_trip_model()
    for sample in [text, "ab ☃ 中文  x", " lead", "trail ", "\x00▁"]:
        normalized = inputs.reference_sentencepiece(model).normalize(sample)
        expected = normalized.replace("▁", " ")[1:] if normalized else ""
        check(decode(model, encode(model, sample)), expected, f"decode(encode({sample!r}))")


@clause("TOK-SP-09")
def test_control_symbols_typed_in_text_are_text(adapter) -> None:
    encode = require(adapter, "sentencepiece_encode")
    pieces = [(c, -1.0) for c in "<>/sunkpad0x41"]
    model = sentencepiece_model(pieces, byte_fallback=True)
    ids = encode(model, "<s>x</s><unk><0x41><pad>")
    control = {
        i for i, p in enumerate(model.pieces) if p.type in (PieceType.CONTROL, PieceType.UNKNOWN, PieceType.BYTE)
    }
    check(sorted(set(ids) & control), [], "control, unknown or byte ids in the encoding of control spellings")
    check(len(ids), len("<s>x</s><unk><0x41><pad>"), "one piece per character")


def _sentencepiece_explanation(adapter, model: SentencePieceModel, text: str) -> str:
    normalize = adapter.operation("sentencepiece_normalize")
    reference = inputs.reference_sentencepiece(model)
    if normalize is not None and normalize(model, text) != reference.normalize(text):
        return "TOK-SP-01" if model.normalizer_spec.precompiled_charsmap else "TOK-SP-02"
    ids = adapter.operation("sentencepiece_encode")(model, text)
    expected = reference.encode(text)
    if ids == expected:
        return "TOK-SP-07"
    control = {i for i, p in enumerate(model.pieces) if p.type == PieceType.CONTROL}
    if control & set(ids) and not control & set(expected):
        return "TOK-SP-09"
    special = {i for i, p in enumerate(model.pieces) if p.type in (PieceType.BYTE, PieceType.UNKNOWN)}
    if special & set(expected) or special & set(ids):
        return "TOK-SP-05" if model.trainer_spec.byte_fallback else "TOK-UNI-04"
    if any(p.type == PieceType.USER_DEFINED and p.piece in text for p in model.pieces):
        return "TOK-SP-04"
    return "TOK-UNI-01" if model.trainer_spec.model_type == ModelType.UNIGRAM else "TOK-SP-06"


def _sentencepiece_agreement(adapter, request, vocabulary: str, model: SentencePieceModel) -> None:
    encode, decode = require(adapter, "sentencepiece_encode"), require(adapter, "sentencepiece_decode")
    explain = functools.partial(_sentencepiece_explanation, adapter, model)
    check_round_trip_agreement(request, vocabulary, model, encode, decode, _sentencepiece_expected(model), explain)


_EXPECTED: dict[int, tuple[SentencePieceModel, list[tuple[list[int], str]]]] = {}


def _sentencepiece_expected(model: SentencePieceModel) -> list[tuple[list[int], str]]:
    """The reference's (ids, decoding) of every stable corpus text, once per model object."""
    if id(model) not in _EXPECTED:

        def compute() -> list[tuple[list[int], str]]:
            reference = inputs.reference_sentencepiece(model)
            results = []
            for text in inputs.stable_texts():
                ids = reference.encode(text)
                results.append((ids, reference.decode(ids)))
            return results

        # The same model and corpus give the same answers in every suite process (conformance/cache.py).
        key = key_of(pickle.dumps(model, protocol=5), inputs.stable_texts())
        _EXPECTED[id(model)] = (model, cached("sentencepiece-expected", key, compute))
    return _EXPECTED[id(model)][1]


@clause("TOK-SP-10")
@pytest.mark.parametrize("name", MISTRAL_SENTENCEPIECE_FILES)
def test_mistral_sentencepiece_models_agree(adapter, name: str, request) -> None:
    profile = request.config.getoption("--specformer-profile")
    read = SENTENCEPIECE_FILES_READ.get(profile, MISTRAL_SENTENCEPIECE_FILES)
    if name not in read:
        not_applicable(f"{name} has the normal pieces of {', '.join(read)}, which the {profile} profile reads")
    model = need(inputs.mistral_sentencepiece(name), f"{name} (package mistral_common)")
    _sentencepiece_agreement(adapter, request, name, model)


# ---------------------------------------------------------------------------------------
# Unigram


def _segment_from_ids(model: SentencePieceModel, ids: list[int]) -> list[str]:
    """Pieces of an encoding of an ASCII text, byte pieces turned back into their characters."""
    parts = []
    for i in ids:
        piece = model.pieces[i]
        parts.append(chr(int(piece.piece[3:5], 16)) if piece.type == PieceType.BYTE else piece.piece)
    return parts


def _piece_scores(model: SentencePieceModel) -> tuple[dict[str, float], float]:
    """The normal pieces' scores, and an unknown character's: the lowest of them minus 10 (TOK-UNI-03)."""
    scores = {p.piece: p.score for p in model.pieces if p.type == PieceType.NORMAL}
    return scores, min(scores.values()) - 10.0


def _brute_force(model: SentencePieceModel, text: str) -> tuple[float, list[str]]:
    scores, unknown = _piece_scores(model)
    return best_segmentation(text, scores, unk_score=unknown)


@clause("TOK-UNI-01")
def test_segmentation_is_not_greedy(adapter) -> None:
    check_sentencepiece_examples(adapter, "TOK-UNI-01")


@clause("TOK-UNI-01")
@given(case=unigram_cases())
def test_segmentation_has_the_highest_total_score(adapter, case: tuple[SentencePieceModel, str]) -> None:
    model, text = case
    parts = _segment_from_ids(model, require(adapter, "sentencepiece_encode")(model, text))
    best, _ = _brute_force(model, text)
    scores, unknown = _piece_scores(model)
    if "".join(parts) != text:
        fail(f"segmentation {parts} of {text!r} does not spell the text")
    total = sum(scores.get(part, unknown) for part in parts)  # a byte piece is an unknown character
    if total < best:
        fail(f"segmentation {parts} of {text!r} scores {total}, the best scores {best}", pieces=sorted(scores.items()))


@clause("TOK-UNI-02")
def test_ties_go_to_the_earliest_starting_last_piece(adapter) -> None:
    check_sentencepiece_examples(adapter, "TOK-UNI-02")


@clause("TOK-UNI-02")
@given(case=unigram_cases())
def test_unigram_ties_against_brute_force(adapter, case: tuple[SentencePieceModel, str]) -> None:
    model, text = case
    _, expected = _brute_force(model, text)
    parts = _segment_from_ids(model, require(adapter, "sentencepiece_encode")(model, text))
    check(parts, expected, f"segmentation of {text!r}", pieces=[(p.piece, p.score) for p in model.pieces[3:-256]])


@clause("TOK-UNI-03")
def test_unknown_characters_score_the_minimum_minus_10(adapter) -> None:
    check_sentencepiece_examples(adapter, "TOK-UNI-03")


@clause("TOK-UNI-04")
def test_adjacent_unknowns_fuse_into_one(adapter) -> None:
    encode = require(adapter, "sentencepiece_encode")
    model = sentencepiece_model([("a", -1.0)])
    with every_case("adjacent unknowns") as cases:
        for text, expected in [("azzza", [3, 0, 3]), ("zz", [0]), ("z☃a☃", [0, 3, 0])]:
            with cases.case(repr(text)):
                check(encode(model, text), expected, f"{text!r} without byte fallback")


@clause("TOK-UNI-05")
@pytest.mark.parametrize("byte_fallback", [False, True], ids=["unk", "byte-fallback"])
def test_trained_unigram_models_agree(adapter, byte_fallback: bool, request) -> None:
    model = need(inputs.trained_unigram(byte_fallback), "a trained Unigram model (package sentencepiece)")
    name = f"Unigram trained by sentencepiece (nmt_nfkc, 2,000 pieces, byte_fallback={byte_fallback})"
    _sentencepiece_agreement(adapter, request, name, model)
