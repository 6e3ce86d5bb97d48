"""Reference BERT WordPiece tokenizer: normalizer, pre-tokenizer and greedy longest-match-first model.

The pipeline is the one HF `tokenizers` runs for BERT (and the one transformers' Python
`BasicTokenizer` + `WordpieceTokenizer` approximate):

    text -> split on special tokens -> normalize -> pre-tokenize -> WordPiece on each word

    normalize     clean_text (drop controls, map whitespace to " "), isolate CJK ideographs,
                  strip accents (NFD, drop Mn), lowercase                   TOK-BERT-01..05
    pre-tokenize  split on whitespace, isolate every punctuation character  TOK-BERT-06
    WordPiece     longest vocabulary entry at each position, "##" inside a word,
                  a word with no match anywhere (or too long) -> one [UNK]   TOK-WP-01..04

Every normalized character keeps the (start, end) span of the original characters it came
from, so `offsets` are code-point offsets into the text the caller passed (TOK-OFF-01),
as HF's `Encoding.offsets` are.

Where the fast (HF `tokenizers`, Rust) and slow (transformers' Python `BertTokenizerLegacy`)
implementations legitimately differ, `BertNormalizerConfig` has a named switch, and
`VARIANTS` holds the three settings: "spec" (the default), "tokenizers" and
"transformers-slow". See research/tokenizers.md §3.3 for the measurements.

Deliberately left out:
- Unicode-version drift. Character properties come from the running Python's `unicodedata`
  (the spec pins 14.0.0, Python 3.11). HF tokenizers uses older tables from the Rust crate
  `unicode_categories` 0.1 for control/punctuation/mark tests, so ~500 code points that were
  assigned or recategorised later (e.g. U+061D, U+2E55, U+0890, U+07FD) behave differently
  there. They are not modelled; conformance vectors avoid them (TOK-GEN-01).
- Lone surrogates: deleted here (category Cs is a control); HF raises, slow deletes.
- Training a vocabulary, `never_split` lists other than special tokens, `do_split_on_punc=False`,
  the decoder's `cleanup` step (" ." -> "."), and overflow windows (stride).
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specformer.reference.tokenizers.templates import SPECIAL_TOKEN_POLICIES, split_on_special_tokens

# One normalized character and the span [start, end) of original characters it came from.
AlignedChar = tuple[str, int, int]

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# Unicode White_Space: what Rust's `char::is_whitespace` (HF) tests. Python's `str.isspace` adds
# U+001C..U+001F, which clean_text deletes anyway (they are controls).
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)

# CJK ideograph blocks that get isolated, per implementation (TOK-BERT-02).
_CJK_COMMON = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
CJK_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    # transformers' Python BasicTokenizer: Extension E starts at U+2B820, as Unicode says.
    "transformers": (*_CJK_COMMON, (0x2B820, 0x2CEAF)),
    # HF tokenizers normalizers/bert.rs: starts at U+2B920, so U+2B820..U+2B91F are not isolated.
    "tokenizers": (*_CJK_COMMON, (0x2B920, 0x2CEAF)),
}


@dataclass(frozen=True)
class BertNormalizerConfig:
    """BERT normalization switches. The first four are BertNormalizer's; the rest name the points
    where HF tokenizers (fast) and transformers' Python tokenizer (slow) differ.

    Clauses: TOK-BERT-05.
    """

    clean_text: bool = True  # delete U+0000, U+FFFD and controls; map whitespace to " " (TOK-BERT-01)
    handle_chinese_chars: bool = True  # surround CJK ideographs with spaces (TOK-BERT-02)
    lowercase: bool = True  # the "uncased" models
    strip_accents: bool | None = None  # NFD then drop Mn; None: follow `lowercase`, as BERT (TOK-BERT-04)
    # Variant switches. Defaults: the spec's choice (fast, except where a clause says otherwise).
    drop_unassigned: bool = True  # clean_text deletes Cn too: slow and TOK-BERT-01; fast keeps Cn
    cjk_ranges: str = "transformers"  # key of CJK_RANGES: slow and TOK-BERT-02; fast is "tokenizers"
    final_sigma: bool = False  # True: Python str.lower (ΟΔΟΣ -> οδος), slow; False: per char (οδοσ), fast
    nfc: bool = False  # True: NFC after CJK isolation (slow, transformers PR #22280); fast: no NFC

    def __post_init__(self) -> None:
        if self.cjk_ranges not in CJK_RANGES:
            raise ValueError(f"cjk_ranges must be one of {sorted(CJK_RANGES)}, got {self.cjk_ranges!r}")
        if self.strip_accents not in (None, True, False):
            raise ValueError(f"strip_accents must be None, True or False, got {self.strip_accents!r}")

    @property
    def stripping_accents(self) -> bool:
        return self.lowercase if self.strip_accents is None else self.strip_accents


# The named variants. Cased models: dataclasses.replace(VARIANTS[name], lowercase=False).
VARIANTS: dict[str, BertNormalizerConfig] = {
    "spec": BertNormalizerConfig(),
    "tokenizers": BertNormalizerConfig(drop_unassigned=False, cjk_ranges="tokenizers"),
    "transformers-slow": BertNormalizerConfig(final_sigma=True, nfc=True),
}


def variant(name: str, **overrides: object) -> BertNormalizerConfig:
    """The named normalizer variant with some fields overridden.

    >>> variant("tokenizers", lowercase=False).cjk_ranges
    'tokenizers'

    Clauses: TOK-BERT-05.
    """
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {name!r}")
    return dataclasses.replace(VARIANTS[name], **overrides)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Character classes.


def is_control(char: str, drop_unassigned: bool = True) -> bool:
    """True for characters clean_text deletes: General_Category C* except TAB, LF and CR.

    >>> is_control("\\x00"), is_control("\\t"), is_control("\\u200d"), is_control("\\u0378", drop_unassigned=False)
    (True, False, True, False)

    Clauses: TOK-BERT-01, TOK-BERT-07.
    """
    if char in "\t\n\r":
        return False
    category = unicodedata.category(char)
    return category.startswith("C") and (drop_unassigned or category != "Cn")


def is_punctuation(char: str) -> bool:
    """BERT punctuation: all non-alphanumeric printable ASCII, or General_Category P*.

    >>> is_punctuation("$"), is_punctuation("¿"), is_punctuation("€")
    (True, True, False)

    Clauses: TOK-BERT-06.
    """
    cp = ord(char)
    # subtle: "$ + < = > ^ ` | ~" are symbols (S*), not punctuation, but BERT counts them "for consistency".
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def is_cjk(char: str, ranges: str = "transformers") -> bool:
    """True for a CJK ideograph that BERT isolates as its own word.

    >>> is_cjk("我"), is_cjk("か"), is_cjk("\\U0002B820"), is_cjk("\\U0002B820", "tokenizers")
    (True, False, True, False)

    Clauses: TOK-BERT-02.
    """
    cp = ord(char)
    return any(low <= cp <= high for low, high in CJK_RANGES[ranges])


# ---------------------------------------------------------------------------------------
# Normalization, one aligned step at a time.


def _clean(chars: list[AlignedChar], config: BertNormalizerConfig) -> list[AlignedChar]:
    out = []
    for c, start, end in chars:
        if c in "\x00\ufffd" or is_control(c, config.drop_unassigned):
            continue
        out.append((" " if c in WHITESPACE else c, start, end))
    return out


def _isolate_cjk(chars: list[AlignedChar], config: BertNormalizerConfig) -> list[AlignedChar]:
    out = []
    for c, start, end in chars:
        if is_cjk(c, config.cjk_ranges):
            out += [(" ", start, end), (c, start, end), (" ", start, end)]
        else:
            out.append((c, start, end))
    return out


def _nfc_text(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _nfc(chars: list[AlignedChar]) -> list[AlignedChar]:
    """NFC, each output character spanning the cluster of input characters it was composed from."""
    clusters: list[list[AlignedChar]] = []
    for item in chars:
        c = item[0]
        # A new cluster starts at a starter that leaves the cluster before it unchanged. subtle: a
        # starter can still compose with it (Hangul L + V + T, Oriya U+0B47 + U+0B3E).
        previous = "".join(p for p, _, _ in clusters[-1]) if clusters else ""
        if not clusters or (unicodedata.combining(c) == 0 and _nfc_text(previous + c) == _nfc_text(previous) + c):
            clusters.append([item])
        else:
            clusters[-1].append(item)
    out = []
    for cluster in clusters:
        start, end = cluster[0][1], max(e for _, _, e in cluster)
        out += [(c, start, end) for c in _nfc_text("".join(c for c, _, _ in cluster))]
    whole = _nfc_text("".join(c for c, _, _ in chars))
    if "".join(c for c, _, _ in out) != whole:
        # Not seen in fuzzing; keeps the text exact at the cost of coarse spans.
        start, end = (chars[0][1], chars[-1][2]) if chars else (0, 0)
        return [(c, start, end) for c in whole]
    return out


def _nfd(chars: list[AlignedChar]) -> list[AlignedChar]:
    """NFD: decompose each character, then stably sort each run of non-starters by combining class."""
    decomposed = [(d, start, end) for c, start, end in chars for d in unicodedata.normalize("NFD", c)]
    out: list[AlignedChar] = []
    run: list[AlignedChar] = []
    for item in decomposed:
        if unicodedata.combining(item[0]) == 0:
            out += sorted(run, key=lambda x: unicodedata.combining(x[0]))
            run = []
            out.append(item)
        else:
            run.append(item)
    return out + sorted(run, key=lambda x: unicodedata.combining(x[0]))


def _strip_accents(chars: list[AlignedChar]) -> list[AlignedChar]:
    return [item for item in _nfd(chars) if unicodedata.category(item[0]) != "Mn"]


def _lowercase(chars: list[AlignedChar], final_sigma: bool) -> list[AlignedChar]:
    pieces = [c.lower() for c, _, _ in chars]  # full case mapping: "İ" -> "i̇" (2 chars)
    if final_sigma:
        # subtle: str.lower differs from per-char lower only at a final Σ (-> ς, same length), and its
        # context never crosses whitespace, so slicing the whole-text result per character is exact.
        lowered, position = "".join(c for c, _, _ in chars).lower(), 0
        for i, piece in enumerate(pieces):
            pieces[i], position = lowered[position : position + len(piece)], position + len(piece)
    return [(low, start, end) for piece, (_, start, end) in zip(pieces, chars, strict=True) for low in piece]


def normalize_aligned(text: str, config: BertNormalizerConfig | None = None, offset: int = 0) -> list[AlignedChar]:
    """The normalized text, one entry per character, each with the span of original characters
    (shifted by `offset`) it came from.

    >>> normalize_aligned("Çà 我")
    [('c', 0, 1), ('a', 1, 2), (' ', 2, 3), (' ', 3, 4), ('我', 3, 4), (' ', 3, 4)]

    Clauses: TOK-GEN-01, TOK-BERT-01..05, TOK-BERT-07, TOK-OFF-01.
    """
    config = config or BertNormalizerConfig()
    chars = [(c, offset + i, offset + i + 1) for i, c in enumerate(text)]
    if config.clean_text:
        chars = _clean(chars, config)
    if config.handle_chinese_chars:
        chars = _isolate_cjk(chars, config)
    if config.nfc:
        chars = _nfc(chars)
    # Fast strips before lowercasing, slow after; on Python's UCD 14 the results are identical.
    if config.stripping_accents:
        chars = _strip_accents(chars)
    if config.lowercase:
        chars = _lowercase(chars, config.final_sigma)
    return chars


def normalize(text: str, config: BertNormalizerConfig | None = None) -> str:
    """BERT normalization of `text`.

    >>> normalize("Héllo\\tWÖRLD\\x00!")
    'hello world!'

    Clauses: TOK-GEN-01, TOK-BERT-01..05, TOK-BERT-07.
    """
    return "".join(c for c, _, _ in normalize_aligned(text, config))


# ---------------------------------------------------------------------------------------
# Pre-tokenization.


def _split_words(chars: list[AlignedChar]) -> list[list[AlignedChar]]:
    """Split aligned characters on whitespace (dropped) and punctuation (kept, one per word)."""
    words: list[list[AlignedChar]] = []
    current: list[AlignedChar] = []
    for item in chars:
        if item[0] in WHITESPACE or is_punctuation(item[0]):
            if current:
                words.append(current)
            current = []
            if item[0] not in WHITESPACE:
                words.append([item])
        else:
            current.append(item)
    return [*words, current] if current else words


def pre_tokenize(text: str, config: BertNormalizerConfig | None = None) -> list[tuple[str, tuple[int, int]]]:
    """Normalize, then split into words with their (start, end) character offsets in `text`.

    >>> pre_tokenize("Hi, 北京!")
    [('hi', (0, 2)), (',', (2, 3)), ('北', (4, 5)), ('京', (5, 6)), ('!', (6, 7))]

    Clauses: TOK-BERT-06, TOK-OFF-01.
    """
    words = _split_words(normalize_aligned(text, config))
    return [("".join(c for c, _, _ in word), (word[0][1], word[-1][2])) for word in words]


# ---------------------------------------------------------------------------------------
# The WordPiece model.


def load_vocab(path: str | os.PathLike[str]) -> list[str]:
    """Tokens of a BERT vocab.txt in id order: one per line, the line number is the id."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


class WordPiece:
    """BERT's WordPiece tokenizer over a fixed vocabulary (a token list in id order or a vocab.txt).

    Clauses: TOK-WP-01..05, TOK-OFF-01, TOK-SPECIAL-01, TOK-SPECIAL-02, TOK-GEN-04.
    """

    def __init__(
        self,
        vocab: Sequence[str] | str | os.PathLike[str],
        *,
        unk_token: str = "[UNK]",
        continuing_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        normalizer: BertNormalizerConfig | None = None,
        special_tokens: Sequence[str] | None = None,
    ) -> None:
        # A str is a path to vocab.txt; a list (or tuple) holds the tokens in id order.
        tokens = load_vocab(vocab) if isinstance(vocab, (str, Path, os.PathLike)) else list(vocab)
        # Like both libraries, a duplicated token maps to its last id.
        self.vocab: dict[str, int] = {token: i for i, token in enumerate(tokens)}
        self.id_to_token: dict[int, str] = dict(enumerate(tokens))
        if unk_token not in self.vocab:
            raise ValueError(f"unk_token must be a vocabulary token, got {unk_token!r}")
        if max_input_chars_per_word < 1:
            raise ValueError(f"max_input_chars_per_word must be >= 1, got {max_input_chars_per_word}")
        if special_tokens is None:
            special_tokens = [t for t in BERT_SPECIAL_TOKENS if t in self.vocab]
        missing = [t for t in special_tokens if t not in self.vocab]
        if missing:
            raise ValueError(f"special_tokens must be vocabulary tokens, got {missing!r} not in the vocabulary")
        self.unk_token = unk_token
        self.continuing_prefix = continuing_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.normalizer = normalizer or BertNormalizerConfig()
        self.special_tokens = tuple(special_tokens)

    def rebuilt(self, cls: type[WordPiece] | None = None, **changes: Any) -> WordPiece:
        """This tokenizer built again with some constructor arguments changed (`normalizer`, ...), as
        `cls` if given: a subclass that overrides one public step (`pieces`, `tokens_with_offsets`).
        The seam for a variant of one rule (conformance/mutants).

        >>> WordPiece(["[UNK]", "ab"]).rebuilt(unk_token="ab").unk_token
        'ab'
        """
        arguments: dict[str, Any] = {
            "vocab": [self.id_to_token[i] for i in range(len(self.id_to_token))],
            "unk_token": self.unk_token,
            "continuing_prefix": self.continuing_prefix,
            "max_input_chars_per_word": self.max_input_chars_per_word,
            "normalizer": self.normalizer,
            "special_tokens": self.special_tokens,
        }
        return (cls or type(self))(**{**arguments, **changes})

    def pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        """Greedy longest-match-first pieces of `word` with their [start, end) in it; None if a
        position has no match or the word is too long (then the word is [UNK])."""
        if len(word) > self.max_input_chars_per_word:  # counted in code points, as both libraries
            return None
        pieces, start = [], 0
        while start < len(word):
            for end in self.candidate_ends(word, start):
                piece = self.spelled(word, start, end)
                if piece in self.vocab:
                    pieces.append((piece, start, end))
                    start = end
                    break
            else:
                return None  # subtle: the whole word becomes [UNK], not just the unmatched rest
        return pieces

    def candidate_ends(self, word: str, start: int) -> range:
        """Where a piece starting at `start` may end, tried in this order: longest first (TOK-WP-01)."""
        return range(len(word), start, -1)

    def spelled(self, word: str, start: int, end: int) -> str:
        """The vocabulary entry word[start:end] is looked up as: `##` after the first piece (TOK-WP-02)."""
        return word[start:end] if start == 0 else self.continuing_prefix + word[start:end]

    def tokenize_word(self, word: str) -> list[str]:
        """WordPiece tokens of one normalized word (TOK-WP-01..03).

        >>> WordPiece(["[UNK]", "un", "##aff", "##able"]).tokenize_word("unaffable")
        ['un', '##aff', '##able']
        """
        pieces = self.pieces(word)
        return [self.unk_token] if pieces is None else [piece for piece, _, _ in pieces]

    def _word_tokens(self, word: list[AlignedChar]) -> list[tuple[str, tuple[int, int]]]:
        text = "".join(c for c, _, _ in word)
        pieces = self.pieces(text)
        if pieces is None:
            return [(self.unk_token, (word[0][1], word[-1][2]))]  # [UNK] spans the whole word
        return [(piece, (word[start][1], word[end - 1][2])) for piece, start, end in pieces]

    def tokens_with_offsets(self, text: str, *, special_policy: str = "raise") -> list[tuple[str, tuple[int, int]]]:
        """Tokens of `text` with (start, end) character offsets into `text`.

        `special_policy` says what a special token's surface string in `text` does: "match" maps it
        to its id (HF's default), "raise" raises ValueError (tiktoken's default; TOK-SPECIAL-02), "text"
        tokenizes it like any other text (HF `split_special_tokens=True`).
        """
        out: list[tuple[str, tuple[int, int]]] = []
        for segment, start, is_special in split_on_special_tokens(text, self.special_tokens, special_policy):
            if is_special:
                out.append((segment, (start, start + len(segment))))
                continue
            for word in _split_words(normalize_aligned(segment, self.normalizer, offset=start)):
                out += self._word_tokens(word)
        return out

    def tokens(self, text: str, *, special_policy: str = "raise") -> list[str]:
        """Token strings of `text`.

        >>> WordPiece(["[UNK]", "un", "##aff", "##able", "!"]).tokens("Unaffable!")
        ['un', '##aff', '##able', '!']
        """
        return [token for token, _ in self.tokens_with_offsets(text, special_policy=special_policy)]

    def encode(self, text: str, *, special_policy: str = "raise") -> list[int]:
        """Token ids of `text`, without [CLS]/[SEP] (see templates.py for those)."""
        return [self.vocab[token] for token in self.tokens(text, special_policy=special_policy)]

    def offsets(self, text: str, *, special_policy: str = "raise") -> list[tuple[int, int]]:
        """(start, end) code-point offsets into `text` of each token of `encode(text)`."""
        return [span for _, span in self.tokens_with_offsets(text, special_policy=special_policy)]

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        """BERT's decoding: join with spaces, then glue continuation pieces (" ##" -> ""). The default
        keeps specials, as transformers' decode; HF tokenizers' `decode` skips them by default.

        >>> wp = WordPiece(["[UNK]", "[CLS]", "un", "##aff", "##able", "!"])
        >>> wp.decode([1, 2, 3, 4, 5]), wp.decode([1, 2, 3, 4, 5], skip_special_tokens=True)
        ('[CLS] unaffable !', 'unaffable !')
        """
        special = set(self.special_tokens)
        tokens = [self.id_to_token[i] for i in ids]
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in special]
        return " ".join(tokens).replace(" " + self.continuing_prefix, "").strip()


__all__ = [
    "BERT_SPECIAL_TOKENS",
    "CJK_RANGES",
    "SPECIAL_TOKEN_POLICIES",
    "VARIANTS",
    "WHITESPACE",
    "BertNormalizerConfig",
    "WordPiece",
    "is_cjk",
    "is_control",
    "is_punctuation",
    "load_vocab",
    "normalize",
    "normalize_aligned",
    "pre_tokenize",
    "variant",
]
