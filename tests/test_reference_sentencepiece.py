"""Tests of the reference SentencePiece (reference/tokenizers/sentencepiece.py).

Three kinds of evidence, as minbpe's tests have them: hand-worked answers on tiny hand-written
models, equality with sentencepiece 0.2.3 (models trained here in memory, and the `.model` files
that mistral_common ships), and properties (Viterbi optimality against brute force). Clause ids
are the candidate SentencePiece clauses of research/tokenizers.md §7 (TOK-SP-*, TOK-UNI-*).
Tests that compare with sentencepiece skip when it is not installed; the others always run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os
import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specformer.reference.tokenizers import sentencepiece as ref
from specformer.reference.tokenizers.sentencepiece import (
    ModelType,
    NormalizerSpec,
    Piece,
    PieceType,
    SentencePieceBPE,
    SentencePieceModel,
    TrainerSpec,
    Unigram,
    best_segmentation,
    load,
    read_model,
    write_model,
)

# Training text for the in-memory models: a few lines per script, code and emoji.
TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! This is a test of the tokenizer, and of its tests.",
    "Der schnelle braune Fuchs springt über den faulen Hund. Grüße aus München!",
    "我爱北京天安门，天安门上太阳升。",
    "今日はいい天気ですね。東京に行きましょう。",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "Привет, мир! Как дела сегодня?",
    "Emoji time 😀🎉👍 and 👩\u200d💻 working.",
    "def encode(self, text: str) -> list[int]:\n    return [ord(c) for c in text]",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "Numbers 12345 and 3.14159, dates 2024-01-01.",
    "Café, naïve, résumé, coöperate, façade.",
]

# Compared with sentencepiece: every training line plus adversarial input (research §8).
SAMPLE = [
    *TRAINING_TEXT,
    "Unseen words: xylophone quixotic zephyr, Würzburg, Ελληνικά, 한국어, ภาษาไทย.",
    "",
    " ",
    "   \t\n ",
    "  lead",
    "trail  ",
    "a  b   c",
    "a \t\n b",
    "\tx\ny\r\n",
    "line\r\n\r\nnext",
    "a\u00a0b\u2009c\u3000d",
    "ＡＢＣ１２３！ ｶﾀｶﾅ",
    "ﬁne ﬂow Ⅻ ½ ㎏ ℃",
    "e\u0301 a\u0301\u0323 a\u0323\u0301 Cafe\u0301",
    "\u1112\u1161\u11ab\uae00",
    "👩\u200d💻 👨\u200d👩\u200d👧 🇩🇪 👍🏽",
    "\x00x\x01y\x7f\x80\x85\x9f",
    "a\x0bb\x0cc\u2028d\u2029e",
    "\u200fשלום\u200e \ufeffx a\ufffdb a\u061cb a\u200bb",
    "▁x ▁▁ y▁",
    "<s>hello</s> <unk> <pad> <0x41>",
    "[INST] hi [/INST] [REFERENCE_DOC_19][REF] [TOOL_CALLS]",
    "zzz qqq ☃✓ \ue000 \u0378 \U000e0001 \U0010ffff \U0002b820",
    "x" * 300,
    " " * 50 + "mid" + " " * 50,
    "12345 1234567 3.14159265358979",
    "مرحبا 123 İstanbul ΟΔΟΣ Straße",
]


def _train(model_type: str, byte_fallback: bool, **options: object) -> bytes:
    import sentencepiece

    buffer = io.BytesIO()
    with open(os.devnull, "w") as log:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(TRAINING_TEXT * 3),
            model_writer=buffer,
            model_type=model_type,
            vocab_size=600 if byte_fallback else 250,
            hard_vocab_limit=False,
            byte_fallback=byte_fallback,
            num_threads=1,
            logstream=log,
            **options,
        )
    return buffer.getvalue()


def _hand_model(
    pieces: list[tuple[str, float] | tuple[str, float, PieceType]],
    model_type: ModelType = ModelType.UNIGRAM,
    byte_fallback: bool = False,
    **normalizer: object,
) -> SentencePieceModel:
    """A model with <unk> at id 0, then `pieces` (ids from 1), identity normalisation and no
    dummy prefix unless `normalizer` says otherwise; with byte_fallback, the 256 byte pieces last."""
    all_pieces = [Piece("<unk>", 0.0, PieceType.UNKNOWN)]
    all_pieces += [Piece(p[0], p[1], p[2] if len(p) == 3 else PieceType.NORMAL) for p in pieces]
    if byte_fallback:
        all_pieces += [Piece(ref.byte_to_piece(b), 0.0, PieceType.BYTE) for b in range(256)]
    spec = NormalizerSpec(**{"name": "identity", "add_dummy_prefix": False, **normalizer})
    trainer = TrainerSpec(model_type=model_type, byte_fallback=byte_fallback, bos_id=-1, eos_id=-1)
    return SentencePieceModel(tuple(all_pieces), trainer, spec)


@pytest.fixture(scope="module")
def spm():
    return pytest.importorskip("sentencepiece")


@pytest.fixture(scope="module")
def trained(spm) -> dict[str, bytes]:
    models = {
        f"{kind} byte_fallback={fallback}": _train(kind, fallback)
        for kind in ("unigram", "bpe")
        for fallback in (False, True)
    }
    symbols = {"user_defined_symbols": ["[INST]", "<sep>", "ab", "ﬁx", "x y"], "control_symbols": ["<ctl>"]}
    models["unigram user-defined"] = _train("unigram", True, **symbols)
    models["bpe user-defined"] = _train("bpe", True, **symbols)
    models["unigram identity"] = _train("unigram", False, normalization_rule_name="identity")
    keep_spaces = {"remove_extra_whitespaces": False}
    models["bpe nfkc_cf keep-spaces"] = _train("bpe", False, normalization_rule_name="nfkc_cf", **keep_spaces)
    models["unigram no-dummy keep-spaces"] = _train("unigram", True, add_dummy_prefix=False, **keep_spaces)
    # The trainer refuses escape_whitespaces=False for Unigram; set it in the file instead.
    model = read_model(models["unigram byte_fallback=False"])
    unescaped = dataclasses.replace(model.normalizer_spec, escape_whitespaces=False)
    models["unigram unescaped"] = write_model(dataclasses.replace(model, normalizer_spec=unescaped))
    return models


def _disagreements(sp, tokenizer, texts: list[str]) -> list[str]:
    """Copy-pasteable descriptions of the texts where encode or decode(encode) differ."""
    found = []
    for text in texts:
        expected, got = sp.encode(text), tokenizer.encode(text)
        if expected != got:
            found.append(f"encode({text!r}): sentencepiece {sp.id_to_piece(expected)} reference {got}")
        elif sp.decode(expected) != tokenizer.decode(expected):
            decoded = f"sentencepiece {sp.decode(expected)!r} reference {tokenizer.decode(expected)!r}"
            found.append(f"decode(encode({text!r})): {decoded}")
    return found


# ---------------------------------------------------------------------------------------
# Reading and writing model files.


def test_read_model_matches_sentencepiece_on_every_field(spm, trained: dict[str, bytes]) -> None:
    data = trained["unigram user-defined"]
    model, sp = read_model(data), spm.SentencePieceProcessor(model_proto=data)
    assert len(model.pieces) == sp.get_piece_size()
    for i, piece in enumerate(model.pieces):
        assert piece.piece == sp.id_to_piece(i)
        assert piece.score == sp.get_score(i)  # float32 values, read exactly
        assert (piece.type == PieceType.CONTROL) == sp.is_control(i)
        assert (piece.type == PieceType.UNKNOWN) == sp.is_unknown(i)
        assert (piece.type == PieceType.BYTE) == sp.is_byte(i)
    assert [p.piece for p in model.pieces if p.type == PieceType.USER_DEFINED] == ["[INST]", "<sep>", "ab", "ﬁx", "x y"]
    spec = model.trainer_spec
    assert (spec.model_type, spec.byte_fallback) == (ModelType.UNIGRAM, True)
    assert (spec.unk_id, spec.bos_id, spec.eos_id, spec.pad_id) == (sp.unk_id(), sp.bos_id(), sp.eos_id(), -1)
    assert model.normalizer_spec.name == "nmt_nfkc" and model.normalizer_spec.precompiled_charsmap
    assert read_model(write_model(model)) == model


def test_read_model_from_a_path(tmp_path: Path, trained: dict[str, bytes]) -> None:
    path = tmp_path / "m.model"
    path.write_bytes(trained["bpe byte_fallback=True"])
    assert read_model(path) == read_model(path.read_bytes())
    assert read_model(str(path)).trainer_spec.model_type == ModelType.BPE


def test_bad_models_raise_value_error_naming_the_problem() -> None:
    model = _hand_model([("a", -1.0)])
    with pytest.raises(ValueError, match="truncated varint"):
        read_model(write_model(model)[:-1] + b"\xff")
    two_unknown = dataclasses.replace(model, pieces=(*model.pieces, Piece("<unk2>", 0.0, PieceType.UNKNOWN)))
    with pytest.raises(ValueError, match="2 UNKNOWN pieces"):
        Unigram(two_unknown)
    with pytest.raises(ValueError, match="256 pieces"):
        Unigram(dataclasses.replace(model, trainer_spec=TrainerSpec(byte_fallback=True)))
    with pytest.raises(ValueError, match="accepted for SentencePieceBPE: BPE"):
        SentencePieceBPE(model)
    with pytest.raises(ValueError, match="accepted: UNIGRAM or BPE"):
        load(write_model(dataclasses.replace(model, trainer_spec=TrainerSpec(model_type=ModelType.WORD))))
    tokenizer = Unigram(model)
    with pytest.raises(ValueError, match=r"ids must be ints in \[0, 2\)"):
        tokenizer.decode([2])
    with pytest.raises(ValueError, match="lone surrogates"):
        tokenizer.encode("a\ud800")
    # the exact wording (mutation survivors: messages upper-cased or naming NoneType passed `match=` above)
    with pytest.raises(ValueError, match=r"^text must be a str, got int$"):
        tokenizer.encode(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^model has no pieces; accepted: at least the unknown piece$"):
        Unigram(dataclasses.replace(model, pieces=()))
    suffix = dataclasses.replace(model, trainer_spec=TrainerSpec(treat_whitespace_as_suffix=True))
    with pytest.raises(
        ValueError, match=r"^treat_whitespace_as_suffix=True is not supported by this reference; accepted"
    ):
        Unigram(suffix)


# ---------------------------------------------------------------------------------------
# Hand-worked answers (each also checked against sentencepiece when it is installed).

# "▁ab▁c": ▁ab (-2.5) beats ▁+ab (-4.0) and ▁+a+b (-5.0); ▁c (-1.5) beats ▁+c (-4.5).
HAND_UNIGRAM = [("▁", -2.0), ("a", -1.0), ("b", -2.0), ("c", -2.5), ("ab", -2.0), ("▁ab", -2.5), ("▁c", -1.5)]


def _agrees_with_sentencepiece(model: SentencePieceModel, text: str) -> list[int]:
    """The reference's ids for `text`, after checking that sentencepiece gives the same when installed."""
    got = load(write_model(model)).encode(text)
    try:
        import sentencepiece
    except ImportError:
        return got
    sp = sentencepiece.SentencePieceProcessor(model_proto=write_model(model))
    assert sp.encode(text) == got, f"sentencepiece {sp.encode(text, out_type=str)} for {text!r}"
    return got


def test_unigram_hand_worked_answer_TOK_UNI_01() -> None:
    model = _hand_model(HAND_UNIGRAM, add_dummy_prefix=True, remove_extra_whitespaces=True)
    assert Unigram(model).normalize("  ab   c ") == "▁ab▁c"
    assert _agrees_with_sentencepiece(model, "  ab   c ") == [6, 7]  # ▁ab ▁c


def test_unknown_characters_score_min_minus_10_and_fuse_TOK_UNI_02_03() -> None:
    model = _hand_model(HAND_UNIGRAM, add_dummy_prefix=True)
    tokenizer = Unigram(model)
    assert tokenizer.unk_score == -2.5 - 10  # min over NORMAL pieces, minus kUnkPenalty
    # "▁xyz▁b": ▁, three one-character unknown nodes, ▁, b; the unknown run becomes one id.
    assert [p for p, _ in tokenizer.segment("▁xyz▁b")] == ["▁", "x", "y", "z", "▁", "b"]
    assert _agrees_with_sentencepiece(model, "xyz b") == [1, 0, 1, 3]
    assert tokenizer.decode([1, 0, 1, 3]) == " ⁇  b"  # the unknown surface keeps its spaces
    # No NORMAL piece: min_score stays FLT_MAX, so unknown nodes (FLT_MAX - 10 == FLT_MAX in
    # float32) beat even the user-defined "ab", and path sums overflow to inf as in C++.
    model = _hand_model([("ab", 0.0, PieceType.USER_DEFINED)])
    assert Unigram(model).unk_score == ref.FLT_MAX
    assert _agrees_with_sentencepiece(model, "xabab") == [0]


def test_byte_fallback_spells_unknown_characters_in_utf8_bytes_TOK_UNI_04() -> None:
    model = _hand_model(HAND_UNIGRAM, byte_fallback=True, add_dummy_prefix=True)
    byte_id = {ref.piece_to_byte(p.piece): i for i, p in enumerate(model.pieces) if p.type == PieceType.BYTE}
    ids = _agrees_with_sentencepiece(model, "ab😀z")  # "▁ab" then F0 9F 98 80 7A, unfused
    assert ids == [6] + [byte_id[b] for b in "😀z".encode()]
    assert Unigram(model).decode(ids) == "ab😀z"


def test_ties_keep_the_earliest_start_of_the_last_piece_TOK_UNI_05() -> None:
    # a + b and ab both score -2: the path whose last piece starts earliest (ab) wins.
    model = _hand_model([("a", -1.0), ("b", -1.0), ("ab", -2.0)])
    assert _agrees_with_sentencepiece(model, "ab") == [3]
    assert _agrees_with_sentencepiece(model, "abab") == [3, 3]
    # Three-way tie on "abc": a+bc, ab+c and abc; abc starts earliest.
    model = _hand_model([("a", -1.0), ("b", -1.0), ("c", -1.0), ("ab", -2.0), ("bc", -2.0), ("abc", -3.0)])
    assert _agrees_with_sentencepiece(model, "abc") == [6]


def test_path_scores_are_float32_TOK_UNI_01() -> None:
    # In exact arithmetic ab + c (-1 - 2**-31) beats a + bc (-1 - 2**-30). In float32 both round
    # to -1.0, a tie, and the earlier start (bc) wins. A float64 Viterbi would answer [ab, c].
    pieces = [("a", -(2.0**-30)), ("b", -5.0), ("c", -(2.0**-31)), ("ab", -1.0), ("bc", -1.0)]
    assert _agrees_with_sentencepiece(_hand_model(pieces), "abc") == [1, 5]


def test_long_paths_are_recentred_on_zero() -> None:
    # At -80000 the float32 spacing is 2**-7, so b + c (-0.002) and bc (-0.0025) both round to
    # -80000 and tie (bc wins). Past |1e5| the path is re-centred on 0 and b + c wins.
    model = _hand_model([("a", -40000.0), ("b", -0.001), ("c", -0.001), ("bc", -0.0025)])
    assert _agrees_with_sentencepiece(model, "aabc") == [1, 1, 4]
    assert _agrees_with_sentencepiece(model, "aaabc") == [1, 1, 1, 2, 3]


def test_user_defined_pieces_score_a_tenth_per_extra_byte() -> None:
    # abc (user-defined) scores 0.1 * (3 - 1) = 0.2: above a+b+c at 0.18, below it at 0.21.
    for each, expected in ((0.06, [4]), (0.07, [1, 2, 3])):
        model = _hand_model([("a", each), ("b", each), ("c", each), ("abc", 5.0, PieceType.USER_DEFINED)])
        assert _agrees_with_sentencepiece(model, "abc") == expected
    # The length is in UTF-8 bytes: éé is 4 bytes, so 0.3, against é + é.
    for each, expected in ((0.14, [3]), (0.16, [1, 1])):
        model = _hand_model([("é", each), ("x", 0.0), ("éé", 0.0, PieceType.USER_DEFINED)])
        assert _agrees_with_sentencepiece(model, "éé") == expected


def test_bpe_merges_the_best_scoring_piece_first_TOK_SP_06() -> None:
    letters = [("a", -9.0), ("b", -9.0), ("c", -9.0), ("d", -9.0)]
    # bc (-0.5) first, then bcd (-0.8), then a + bcd = abcd (-3); ab and cd went stale.
    merges = [("ab", -1.0), ("bc", -0.5), ("cd", -2.0), ("bcd", -0.8), ("abcd", -3.0)]
    assert _agrees_with_sentencepiece(_hand_model(letters + merges, ModelType.BPE), "abcd") == [9]
    # Equal scores: the leftmost pair; +0.0 beats -0.0 (sentencepiece compares the float bits).
    for ab_score, bc_score, expected in ((-1.0, -1.0, [4, 3]), (-0.0, 0.0, [1, 5])):
        model = _hand_model([*letters[:3], ("ab", ab_score), ("bc", bc_score)], ModelType.BPE)
        assert _agrees_with_sentencepiece(model, "abc") == expected


def test_bpe_unused_pieces_are_merged_then_split_back() -> None:
    letters = [("a", -9.0), ("b", -9.0), ("c", -9.0), ("d", -9.0)]
    # ab is UNUSED but still a step: ab (-1), then ab + c = abc (-2) beats cd (-3).
    unused = [("ab", -1.0, PieceType.UNUSED), ("abc", -2.0), ("bc", -10.0), ("cd", -3.0)]
    assert _agrees_with_sentencepiece(_hand_model(letters + unused, ModelType.BPE), "abcd") == [6, 4]
    # Left as the final symbol, an UNUSED piece is split back; an UNUSED character is unknown.
    model = _hand_model([("a", -9.0), ("b", -9.0), ("ab", -1.0, PieceType.UNUSED)], ModelType.BPE)
    assert _agrees_with_sentencepiece(model, "ab") == [1, 2]
    model = _hand_model([("a", -9.0, PieceType.UNUSED), ("b", -9.0)], ModelType.BPE)
    assert _agrees_with_sentencepiece(model, "ab") == [0, 2]


def test_decoding_TOK_SP_05(spm) -> None:
    pieces = [*HAND_UNIGRAM, ("<s>", 0.0, PieceType.CONTROL)]
    model = _hand_model(pieces, byte_fallback=True, add_dummy_prefix=True, remove_extra_whitespaces=False)
    tokenizer = Unigram(model)
    sp = spm.SentencePieceProcessor(model_proto=write_model(model))
    byte_id = {ref.piece_to_byte(p.piece): i for i, p in enumerate(model.pieces) if p.type == PieceType.BYTE}
    cases = {
        (8, 6, 7, 8): "ab c",  # control pieces are invisible, the dummy prefix is dropped
        (byte_id[0xE4], byte_id[0xBD], 2): "\ufffd\ufffda",  # each invalid byte becomes U+FFFD
        (byte_id[0xE4], byte_id[0xBD], byte_id[0xA0], 1): "你 ",
        (1, 1, 2): " a",  # remove_extra_whitespaces is off: only the first ▁ is the dummy
        (0, 2): " ⁇ a",
    }
    for ids, expected in cases.items():
        assert tokenizer.decode(list(ids)) == sp.decode(list(ids)) == expected, ids
    collapsing = write_model(_hand_model(pieces, byte_fallback=True, add_dummy_prefix=True))
    # With remove_extra_whitespaces on, every leading ▁ goes until some text appears.
    sp = spm.SentencePieceProcessor(model_proto=collapsing)
    assert load(collapsing).decode([1, 1, 2]) == sp.decode([1, 1, 2]) == "a"


def test_denormalizer_applies_to_decoded_text(spm, trained: dict[str, bytes]) -> None:
    model = read_model(trained["unigram byte_fallback=False"])
    flags = {"add_dummy_prefix": False, "remove_extra_whitespaces": False, "escape_whitespaces": False}
    denormalizer = NormalizerSpec("nfkc", model.normalizer_spec.precompiled_charsmap, **flags)
    data = write_model(
        dataclasses.replace(model, normalizer_spec=NormalizerSpec("identity"), denormalizer_spec=denormalizer)
    )
    sp, tokenizer = spm.SentencePieceProcessor(model_proto=data), load(data)
    for text in ("ﬁne ＡＢＣ  x", "Hello world"):
        ids = sp.encode(text)
        assert tokenizer.encode(text) == ids and tokenizer.decode(ids) == sp.decode(ids), text
    assert tokenizer.decode([0]) == sp.decode([0]) == " ?? "  # NFKC maps the unknown surface's U+2047 to "??"


# ---------------------------------------------------------------------------------------
# The normaliser (nmt_nfkc, from a trained model's precompiled charsmap).


def test_nmt_nfkc_rules_TOK_SP_04(spm, trained: dict[str, bytes]) -> None:
    data = trained["unigram byte_fallback=False"]
    tokenizer, sp = load(data), spm.SentencePieceProcessor(model_proto=data)
    removed = [*range(0x01, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0x8F, 0x9F]
    to_space = [0x09, 0x0A, 0x0C, 0x0D, 0x61C, 0x1680, 0x200B, 0x200C, 0x200E, 0x200F, 0x2028, 0x2029]
    to_space += [0x2581, 0xFEFF, 0xFFFD]
    kept = [0x00, 0x85, 0x200D, 0xFF5E]
    expected = {f"a{chr(c)}b": "▁ab" for c in removed} | {f"a{chr(c)}b": "▁a▁b" for c in to_space}
    expected |= {f"a{chr(c)}b": f"▁a{chr(c)}b" for c in kept}
    expected |= {"ﬁ ＡＢＣ Ⅻ": "▁fi▁ABC▁XII", "e\u0301": "▁é", "\u1100\u1161": "▁가", "a\u00a0b": "▁a▁b"}
    for text, normalized in expected.items():
        assert tokenizer.normalize(text) == sp.normalize(text) == normalized, repr(text)
    # Why there is no unicodedata-based path: the charsmap composes a + U+0301 first and never
    # reorders marks, where NFKC puts U+0323 (class 220) before U+0301 (class 230).
    assert tokenizer.normalize("a\u0301\u0323") == sp.normalize("a\u0301\u0323") == "▁\u00e1\u0323"
    assert unicodedata.normalize("NFKC", "a\u0301\u0323") == "\u1ea1\u0301"


def test_whitespace_handling_TOK_SP_01_02_03(trained: dict[str, bytes]) -> None:
    tokenizer = load(trained["unigram byte_fallback=False"])
    assert tokenizer.normalize("  a \t\n b  ") == "▁a▁b"
    assert tokenizer.normalize("   \t\n ") == "" and tokenizer.encode("   \t\n ") == []
    assert tokenizer.normalize("\x01") == "" and tokenizer.encode("\x01 ") == []  # only a dummy, then stripped
    kept = load(trained["unigram no-dummy keep-spaces"])
    assert kept.normalize("  a  b ") == "▁▁a▁▁b▁"


def test_user_defined_pieces_escape_normalisation(spm, trained: dict[str, bytes]) -> None:
    data = trained["unigram user-defined"]
    tokenizer, sp = load(data), spm.SentencePieceProcessor(model_proto=data)
    assert tokenizer.normalize("ﬁx ﬁ") == sp.normalize("ﬁx ﬁ") == "▁ﬁx▁fi"
    assert "ﬁx" in tokenizer.encode_as_pieces("ﬁx ﬁ")


# ---------------------------------------------------------------------------------------
# Equality with sentencepiece.


@pytest.mark.parametrize(
    "name",
    [
        "unigram byte_fallback=False",
        "unigram byte_fallback=True",
        "bpe byte_fallback=False",
        "bpe byte_fallback=True",
        "unigram user-defined",
        "bpe user-defined",
        "unigram identity",
        "bpe nfkc_cf keep-spaces",
        "unigram no-dummy keep-spaces",
        "unigram unescaped",
    ],
)
def test_trained_models_agree_with_sentencepiece(spm, trained: dict[str, bytes], name: str) -> None:
    data = trained[name]
    sp, tokenizer = spm.SentencePieceProcessor(model_proto=data), load(data)
    assert not _disagreements(sp, tokenizer, SAMPLE), f"TOK-SP/TOK-UNI, model {name}"
    rng = random.Random(0)  # random id sequences: byte runs, controls, unknowns, leading ▁
    for _ in range(200):
        ids = [rng.randrange(sp.get_piece_size()) for _ in range(rng.randint(0, 8))]
        assert tokenizer.decode(ids) == sp.decode(ids), f"TOK-SP-05, model {name}, decode({ids})"


MISTRAL_MODELS = (
    "tokenizer.model.v1",
    "mistral_instruct_tokenizer_240216.model.v2",
    "mistral_instruct_tokenizer_240323.model.v3",
    "mistral_instruct_tokenizer_241114.model.v7",
)


def _mistral_data_dir() -> Path | None:
    """mistral_common's data folder, found without importing the package."""
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@pytest.mark.parametrize("name", MISTRAL_MODELS)
def test_mistral_common_models_agree_with_sentencepiece(spm, name: str) -> None:
    folder = _mistral_data_dir()
    if folder is None or not (folder / name).is_file():
        pytest.skip(f"mistral_common does not ship {name} here")
    path = folder / name
    sp, tokenizer = spm.SentencePieceProcessor(model_file=str(path)), load(path)
    assert isinstance(tokenizer, SentencePieceBPE) and tokenizer.byte_fallback
    assert not _disagreements(sp, tokenizer, SAMPLE), f"TOK-SP, model mistral_common {name}"


def test_shared_corpus_agrees_with_sentencepiece(spm, trained: dict[str, bytes]) -> None:
    corpus = pytest.importorskip("specformer.conformance.suite.tokenizer_corpus")
    pytest.importorskip("faker")
    texts = list(corpus.ADVERSARIAL) + [entry.text for entry in corpus.corpus(0)[::25]]
    for name in ("unigram byte_fallback=True", "bpe byte_fallback=True"):
        data = trained[name]
        found = _disagreements(spm.SentencePieceProcessor(model_proto=data), load(data), texts)
        assert not found, f"TOK-SP/TOK-UNI, model {name}: {found[:3]}"


# ---------------------------------------------------------------------------------------
# Properties: Viterbi against brute force, and random models against sentencepiece.

# Multiples of 1/4 are exact in float32 and their short sums stay exact, so ties are real ties.
QUARTERS = st.integers(-24, -1).map(lambda k: k / 4)


@st.composite
def unigram_cases(draw: Callable) -> tuple[dict[str, float], str]:
    vocab = draw(st.dictionaries(st.text("abc", min_size=1, max_size=3), QUARTERS, min_size=1, max_size=10))
    return vocab, draw(st.text("abcd", min_size=1, max_size=8))  # "d" is never a piece: unknown


@settings(max_examples=200, deadline=None)
@given(unigram_cases())
def test_viterbi_equals_brute_force_TOK_UNI_01_05(case: tuple[dict[str, float], str]) -> None:
    vocab, text = case
    tokenizer = Unigram(_hand_model(sorted(vocab.items())))
    segments = tokenizer.segment(text)
    best_score, best_pieces = best_segmentation(text, vocab, tokenizer.unk_score)
    assert tokenizer.segmentation_score(segments) == best_score, f"vocab={vocab} text={text!r}"
    assert [piece for piece, _ in segments] == best_pieces, f"tie rule, vocab={vocab} text={text!r}"


@settings(max_examples=150, deadline=None)
@given(unigram_cases())
def test_random_unigram_models_agree_with_sentencepiece(spm, case: tuple[dict[str, float], str]) -> None:
    vocab, text = case
    data = write_model(_hand_model(sorted(vocab.items())))
    assert spm.SentencePieceProcessor(model_proto=data).encode(text) == load(data).encode(text), f"vocab={vocab}"


@st.composite
def bpe_cases(draw: Callable) -> tuple[dict[str, float], str]:
    scores = st.sampled_from([-0.0, 0.0, -0.5, -1.0, -2.0, 1.0])  # ties, and -0.0 against +0.0
    merged = draw(st.dictionaries(st.text("abc", min_size=2, max_size=4), scores))
    return {"a": -9.0, "b": -9.0, "c": -9.0} | merged, draw(st.text("abcd", max_size=12))


@settings(max_examples=150, deadline=None)
@given(bpe_cases())
def test_random_bpe_models_agree_with_sentencepiece_TOK_SP_06(spm, case: tuple[dict[str, float], str]) -> None:
    vocab, text = case
    data = write_model(_hand_model(sorted(vocab.items()), ModelType.BPE))
    assert spm.SentencePieceProcessor(model_proto=data).encode(text) == load(data).encode(text), f"vocab={vocab}"


def test_best_segmentation_rejects_long_text() -> None:
    with pytest.raises(ValueError, match="at most 16 characters"):
        best_segmentation("a" * 17, {"a": -1.0})
