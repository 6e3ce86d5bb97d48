"""Reference byte-level BPE (GPT-2, tiktoken, tekken, HF byte-level): encode, decode and train.

Text is split into chunks by a pre-tokenization regex; each chunk's UTF-8 bytes start as one
symbol per byte, and adjacent symbols are merged, lowest merge rank first and leftmost first among
equal ranks, until no adjacent pair merges. Chunks never merge with each other, so a chunk's ids
can be cached (spec clauses TOK-BL-*, TOK-BPE-*).

A merge table comes in one of two kinds, both supported (TOK-BPE-03):

- concatenation ranks (tiktoken, tekken): `dict[bytes, int]` where a token's rank is its id and
  its merge priority; the pair (x, y) merges if the bytes x + y are a token, at that token's rank.
- pair ranks (GPT-2 merges.txt, HF tokenizer.json): an ordered merge list; the pair (x, y) merges
  at its position in the list, and the result's id comes from the vocabulary. In general a merge
  rank is not the result's id.

On a well-formed table (every multi-byte token made by exactly one merge, ranked after its parts)
both kinds give the same ids. On an ill-formed one they can differ, and whole-chunk lookup
(tiktoken's default, HF `ignore_merges=True`: a chunk that is itself a token is emitted as that
token) changes results too; `ByteLevelBPE` takes the choice as `whole_chunk_lookup`.

Ill-formed tables are accepted as they are and never repaired: a merge whose parts encode can never
produce (neither a single byte nor the result of a merge it can reach) simply never fires, and a
token only such merges make is never emitted except by whole-chunk lookup. `unreachable_tokens`
lists those tokens.

Deliberately left out: offsets, BPE dropout, unknown tokens and byte fallback (every byte must have
a token), HF's `add_prefix_space`/`trim_offsets`, normalizers, tiktoken's `_encode_bytes` tail
handling and unstable-token completion, and any speed trick beyond a per-chunk cache and a heap.
Unicode character classes (`\\p{L}`, `\\p{N}`) are those of the installed `regex` module, which can
differ from tiktoken's and Oniguruma's on recently assigned code points (TOK-GEN-01).
"""

from __future__ import annotations

import base64
import heapq
import json
import os
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any, Literal

import regex

# Named pre-tokenization regexes (TOK-BL-03, TOK-BL-04). Every other string is taken as a regex itself.
PATTERNS: dict[str, str] = {
    # openai/gpt-2 src/encoder.py; HF `pre_tokenizers.ByteLevel(use_regex=True)` uses the same.
    # tiktoken's r50k/p50k form is an equivalent, possessive rewrite of it.
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    # cl100k as HF tokenizer.json files carry it (Llama-3; transformers' TikTokenConverter default).
    "cl100k": (
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
        r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
    ),
    # cl100k as tiktoken ships it today (tiktoken_ext/openai_public.py::cl100k_base). It differs
    # from "cl100k" when the text ends in whitespace that holds CR/LF followed by more whitespace:
    # "x\r\t" -> ["x", "\r\t"] here, ["x", "\r", "\t"] there (TOK-BL-04).
    "cl100k-tiktoken": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
        r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    # tiktoken_ext/openai_public.py::o200k_base.
    "o200k": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}

# Training tie-breaks (TOK-TRAIN-02), see `train`.
TIE_BREAKS = ("first-occurrence", "smallest-ids")

# mistral_common's Tekkenizer.DEPRECATED_SPECIAL_TOKENS: the names of ids 0..19 in tekken files that
# carry no "special_tokens" list (versions up to v7); the ids after them up to the file's
# default_num_special_tokens are named "<SPECIAL_{id}>".
TEKKEN_LEGACY_SPECIAL_TOKENS = (
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]",
    "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
)  # fmt: skip

_SURROGATE = regex.compile(r"[\ud800-\udfff]")
_MERGED_AWAY = -1  # marks a merged-away position in a chunk; token ids are >= 0


# ---------------------------------------------------------------------------------------
# Small helpers


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's bijection from the 256 byte values to printable characters (TOK-BL-01).

    The 188 bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF map to the character of the same code point;
    the other 68 (controls, space, 0x7F-0xA0, soft hyphen 0xAD) map, in increasing byte order, to
    U+0100..U+0143. HF byte-level vocabularies spell token bytes through this table.

    >>> table = bytes_to_unicode()
    >>> table[ord("A")], table[ord(" ")], table[ord("\\n")], table[0x00], table[0xAD]
    ('A', 'Ġ', 'Ċ', 'Ā', 'Ń')
    >>> "".join(table[b] for b in " héllo".encode("utf-8"))
    'ĠhÃ©llo'

    Clauses: TOK-BL-01.
    """
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(0x100 + n) for n, b in enumerate(others)})
    return dict(sorted(table.items()))


def resolve_pattern(pattern: str) -> str:
    """The regex for `pattern`: a name in PATTERNS, or else the string itself.

    >>> resolve_pattern("gpt2") == PATTERNS["gpt2"], resolve_pattern(r"\\w+|\\W+")
    (True, '\\\\w+|\\\\W+')

    Clauses: TOK-BL-03, TOK-BL-04.
    """
    return PATTERNS.get(pattern, pattern)


def pretokenize(text: str, pattern: str) -> list[str]:
    """Split `text` into the chunks BPE runs on: all matches of the regex, left to right.

    The chunks must tile the text (TOK-BL-02); a pattern that skips characters raises ValueError
    rather than silently dropping them (tiktoken drops them).

    >>> pretokenize("Hello world's  end!\\n", "gpt2")
    ['Hello', ' world', "'s", ' ', ' end', '!', '\\n']
    >>> pretokenize("x\\r\\t", "cl100k"), pretokenize("x\\r\\t", "cl100k-tiktoken")
    (['x', '\\r', '\\t'], ['x', '\\r\\t'])

    Clauses: TOK-BL-02, TOK-BL-03.
    """
    compiled = _compile(pattern)
    chunks = compiled.findall(text)
    _check_chunks_cover(chunks, text, compiled)
    return chunks


def _compile(pattern: str) -> regex.Pattern[str]:
    try:
        compiled = regex.compile(resolve_pattern(pattern))
    except regex.error as error:
        raise ValueError(f"pattern {pattern!r} is not a valid regex ({error}); accepted: {sorted(PATTERNS)}") from None
    # subtle: findall returns the groups, not the whole match, when the pattern has capture groups.
    if compiled.groups:
        raise ValueError(f"pattern {pattern!r} has {compiled.groups} capture group(s); accepted: (?:...) groups only")
    return compiled


def _check_chunks_cover(chunks: list[str], text: str, compiled: regex.Pattern[str]) -> None:
    # The matches are disjoint and in order, so they tile the text iff their lengths add up.
    if sum(map(len, chunks)) == len(text):
        return
    position = 0
    for match in compiled.finditer(text):
        if match.start() != position:
            break
        position = match.end()
    raise ValueError(
        f"pattern {compiled.pattern!r} does not match text[{position}] = {text[position]!r}; "
        "accepted: a pattern whose matches cover every character"
    )


def _is_token_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_scalar_values(text: str, name: str = "text") -> None:
    """Lone surrogates (a Python str can hold U+D800..U+DFFF) have no UTF-8 encoding: refuse them."""
    match = _SURROGATE.search(text)
    if match is not None:
        raise ValueError(
            f"{name} contains the surrogate U+{ord(match.group()):04X} at index {match.start()}; accepted: "
            "Unicode scalar values only (encode raw bytes with encode_bytes)"
        )


def pair_counts(words: Sequence[Sequence[int]], counts: Sequence[int]) -> dict[tuple[int, int], int]:
    """Occurrences of each adjacent pair, inside words only, each word weighted by its count.
    The dict is in order of first occurrence (word order, then position).

    >>> pair_counts([[1, 2, 3, 1, 2], [2, 3]], [1, 10])
    {(1, 2): 2, (2, 3): 11, (3, 1): 1}

    Clauses: TOK-TRAIN-01.
    """
    stats: dict[tuple[int, int], int] = {}
    for word, count in zip(words, counts, strict=True):
        for pair in pairwise(word):
            stats[pair] = stats.get(pair, 0) + count
    return stats


def merge_pair(word: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `word` by `new_id`, left to right, non-overlapping.

    >>> merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9)
    [9, 1, 2, 9]

    Clauses: TOK-BPE-02.
    """
    merged: list[int] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            merged.append(new_id)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged


# ---------------------------------------------------------------------------------------
# The tokenizer


def _tekken_field(path: str | os.PathLike[str], parent: Any, key: str, where: str) -> Any:
    """parent[key] of a tekken.json, or a ValueError naming the missing field (`where` is its parent's path)."""
    if not isinstance(parent, dict) or key not in parent:
        raise ValueError(f"{path}: malformed tekken.json: no {where}{key}")
    return parent[key]


class ByteLevelBPE:
    """A byte-level BPE tokenizer: token bytes, a merge table, a pre-tokenization regex, specials.

    token_bytes: id -> bytes of every ordinary token; all 256 single bytes must be tokens.
    pattern: a name in PATTERNS or a regex (no capture groups).
    merges: None for concatenation ranks (the pair (x, y) merges into the token x + y, with that
        token's id as its priority); else pair ranks: (left id, right id) -> (merge rank, merged id),
        HF's internal form, with bytes(merged) == bytes(left) + bytes(right).
    special_tokens: surface string -> id, ids disjoint from token_bytes. Matched in text only when
        `encode` is told to (`allowed_special`).
    whole_chunk_lookup: emit a chunk that is itself a token as that token without merging (TOK-BPE-05).
    cache_size: chunks whose ids are remembered; once full, new chunks are not added (as in HF).

    Clauses: TOK-GEN-02..04, TOK-BL-05..07, TOK-BPE-01..06, TOK-SPECIAL-01, TOK-SPECIAL-02.
    """

    def __init__(
        self,
        token_bytes: Mapping[int, bytes],
        pattern: str,
        *,
        merges: Mapping[tuple[int, int], tuple[int, int]] | None = None,
        special_tokens: Mapping[str, int] | None = None,
        whole_chunk_lookup: bool = False,
        cache_size: int = 100_000,
    ) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be an integer >= 0, got {cache_size!r}")
        self.pattern = resolve_pattern(pattern)
        self._compiled = _compile(pattern)
        self._decoder: dict[int, bytes] = dict(token_bytes)  # id -> bytes (specials added below)
        bad_ids = [i for i in [*self._decoder, *(special_tokens or {}).values()] if not _is_token_id(i)]
        if bad_ids:
            raise ValueError(f"token ids must be integers >= 0, got {bad_ids[:8]}")
        self._encoder: dict[bytes, int] = {}  # bytes -> id; the smallest id if bytes repeat
        for token_id, data in sorted(self._decoder.items()):
            self._encoder.setdefault(data, token_id)
        if merges is None and len(self._encoder) != len(self._decoder):
            raise ValueError("token_bytes repeats a byte string; accepted with concatenation ranks: distinct bytes")
        missing = [b for b in range(256) if bytes([b]) not in self._encoder]
        if missing:
            raise ValueError(f"token_bytes lacks the single bytes {missing[:8]}...; accepted: all 256 single bytes")
        self._byte_ids = [self._encoder[bytes([b])] for b in range(256)]
        self._merges = None if merges is None else dict(merges)
        if self._merges is not None:
            self._check_merges(self._merges)
        self._special_tokens: dict[str, int] = dict(special_tokens or {})
        for surface, token_id in self._special_tokens.items():
            if token_id in self._decoder:
                raise ValueError(f"special_tokens[{surface!r}] = {token_id} is already an ordinary token id")
            self._decoder[token_id] = surface.encode("utf-8")
        self._whole_chunk_lookup = whole_chunk_lookup
        self._cache: dict[str, tuple[int, ...]] = {}
        self._cache_size = cache_size

    def _check_merges(self, merges: dict[tuple[int, int], tuple[int, int]]) -> None:
        for (left, right), (_, merged) in merges.items():
            left_bytes, right_bytes = self._decoder.get(left), self._decoder.get(right)
            if left_bytes is None or right_bytes is None or self._decoder.get(merged) != left_bytes + right_bytes:
                raise ValueError(
                    f"merges[({left}, {right})] -> {merged} is not a merge of known tokens; accepted: "
                    "token ids whose bytes satisfy bytes(left) + bytes(right) == bytes(merged)"
                )

    def rebuilt(self, cls: type[ByteLevelBPE] | None = None, **changes: Any) -> ByteLevelBPE:
        """This tokenizer built again from its tables with some constructor arguments changed
        (`merges`, `whole_chunk_lookup`, ...), as `cls` if given: a subclass that overrides one public
        step (`merge_of`, `apply_merges`). The seam for a variant of one rule (conformance/mutants).

        >>> ByteLevelBPE.from_merges([(b"a", b"b")], "gpt2").rebuilt(merges=None).encode("ab")
        [256]
        """
        special_ids = set(self._special_tokens.values())
        arguments: dict[str, Any] = {
            "token_bytes": {i: data for i, data in self._decoder.items() if i not in special_ids},
            "pattern": self.pattern,
            "merges": self._merges,
            "special_tokens": self._special_tokens,
            "whole_chunk_lookup": self._whole_chunk_lookup,
            "cache_size": self._cache_size,
        }
        return (cls or type(self))(**{**arguments, **changes})

    # --- constructors ------------------------------------------------------------------

    @classmethod
    def from_tiktoken_ranks(
        cls, ranks: Mapping[bytes, int], pattern: str, special_tokens: Mapping[str, int] | None = None
    ) -> ByteLevelBPE:
        """tiktoken's `mergeable_ranks`: rank = id = merge priority, with whole-chunk lookup."""
        token_bytes = {rank: data for data, rank in ranks.items()}
        if len(token_bytes) != len(ranks):
            raise ValueError("ranks repeats a rank; accepted: distinct ranks")
        return cls(token_bytes, pattern, special_tokens=special_tokens, whole_chunk_lookup=True)

    @classmethod
    def from_hf(
        cls,
        vocab: Mapping[str, int],
        merges: Sequence[tuple[str, str]],
        pattern: str,
        *,
        special_tokens: Mapping[str, int] | None = None,
        ignore_merges: bool = False,
    ) -> ByteLevelBPE:
        """An HF byte-level BPE (`model.vocab`, `model.merges` of a tokenizer.json).

        Tokens are spelt through `bytes_to_unicode`; merge i has rank i. As in HF, a pair listed
        twice keeps its last rank. Vocab entries outside the byte-level alphabet must be special
        tokens; they are skipped here (pass them in `special_tokens`). `ignore_merges` is HF's name
        for whole-chunk lookup.
        """
        byte_of = {char: b for b, char in bytes_to_unicode().items()}
        specials = dict(special_tokens or {})
        token_bytes: dict[int, bytes] = {}
        for token, token_id in vocab.items():
            if token in specials:
                continue
            if any(char not in byte_of for char in token):
                raise ValueError(f"vocab token {token!r} is not byte-level text; accepted: bytes_to_unicode() chars")
            token_bytes[token_id] = bytes(byte_of[char] for char in token)
        pair_merges: dict[tuple[int, int], tuple[int, int]] = {}
        for rank, pair in enumerate(merges):
            if len(pair) != 2 or any(part not in vocab for part in (*pair, "".join(pair))):
                raise ValueError(f"merges[{rank}] = {pair!r}: both parts and their concatenation must be in vocab")
            left, right = pair
            pair_merges[(vocab[left], vocab[right])] = (rank, vocab[left + right])
        return cls(token_bytes, pattern, merges=pair_merges, special_tokens=specials, whole_chunk_lookup=ignore_merges)

    @classmethod
    def from_tekken(cls, path: str | os.PathLike[str]) -> ByteLevelBPE:
        """mistral_common's tekken JSON: concatenation ranks with special tokens first.

        As in mistral_common's Tekkenizer: the vocab is cut to `default_vocab_size -
        default_num_special_tokens` entries, token id = rank + default_num_special_tokens, and ids
        below that are special tokens (listed in "special_tokens", or TEKKEN_LEGACY_SPECIAL_TOKENS
        then "<SPECIAL_{id}>" fillers). Tekken never matches special strings in text.
        """
        with open(path, encoding="utf-8") as file:
            model = json.load(file)
        config = _tekken_field(path, model, "config", "")
        num_special = _tekken_field(path, config, "default_num_special_tokens", "config.")
        vocab_size = _tekken_field(path, config, "default_vocab_size", "config.")
        entries = _tekken_field(path, model, "vocab", "")[: vocab_size - num_special]
        token_bytes: dict[int, bytes] = {}
        for index, entry in enumerate(entries):
            rank = _tekken_field(path, entry, "rank", f"vocab[{index}].")
            if rank != index:
                raise ValueError(f"{path}: vocab[{index}] has rank {rank}; accepted: ranks 0, 1, 2, ... in order")
            token_bytes[num_special + index] = base64.b64decode(
                _tekken_field(path, entry, "token_bytes", f"vocab[{index}].")
            )
        listed = model.get("special_tokens")
        if listed is None:
            specials = {name: token_id for token_id, name in enumerate(TEKKEN_LEGACY_SPECIAL_TOKENS)}
        else:
            specials = {}
            for i, entry in enumerate(listed):
                name = _tekken_field(path, entry, "token_str", f"special_tokens[{i}].")
                specials[name] = _tekken_field(path, entry, "rank", f"special_tokens[{i}].")
        specials.update({f"<SPECIAL_{i}>": i for i in range(len(specials), num_special)})
        pattern = _tekken_field(path, config, "pattern", "config.")
        return cls(token_bytes, pattern, special_tokens=specials, whole_chunk_lookup=True)

    @classmethod
    def from_merges(
        cls, merges: Sequence[tuple[bytes, bytes]], pattern: str, special_tokens: Mapping[str, int] | None = None
    ) -> ByteLevelBPE:
        """The format `train` produces: byte b has id b, merge i makes id 256 + i (TOK-TRAIN-03).

        >>> bpe = ByteLevelBPE.from_merges([(b"a", b"b"), (b"ab", b"c")], "gpt2")
        >>> bpe.encode("abc abd")
        [257, 32, 256, 100]
        """
        token_bytes = {b: bytes([b]) for b in range(256)}
        id_of = {data: token_id for token_id, data in token_bytes.items()}
        pair_merges: dict[tuple[int, int], tuple[int, int]] = {}
        for rank, (left, right) in enumerate(merges):
            if left not in id_of or right not in id_of:
                raise ValueError(f"merges[{rank}] = {(left, right)!r} uses a part no earlier merge made")
            new_id = 256 + rank
            token_bytes[new_id] = left + right
            id_of.setdefault(left + right, new_id)
            pair_merges[(id_of[left], id_of[right])] = (rank, new_id)
        return cls(token_bytes, pattern, merges=pair_merges, special_tokens=special_tokens)

    # --- encoding ----------------------------------------------------------------------

    def encode(self, text: str, *, allowed_special: Collection[str] | Literal["all"] = ()) -> list[int]:
        """Token ids of `text`.

        Special tokens: by default their surface strings are ordinary text (TOK-SPECIAL-02's `text`).
        Those in `allowed_special` ("all" for every one) become their ids; where allowed specials overlap the
        leftmost, then longest, match wins (TOK-SPECIAL-01). Ordinary text between them is encoded on
        its own. Lone surrogates raise ValueError naming their index (TOK-GEN-03); tiktoken instead
        replaces them with U+FFFD and HF tokenizers raises TypeError.
        """
        check_scalar_values(text)
        allowed = self._allowed_specials(allowed_special)
        if not allowed:
            return self._encode_ordinary(text)
        # Longest first, so that at any position the regex's first matching alternative is the longest.
        specials = regex.compile("|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True)))
        ids: list[int] = []
        start = 0
        for match in specials.finditer(text):
            ids += self._encode_ordinary(text[start : match.start()])
            ids.append(self._special_tokens[match.group()])
            start = match.end()
        return ids + self._encode_ordinary(text[start:])

    def encode_bytes(self, data: bytes) -> list[int]:
        """Token ids of arbitrary bytes, so that `decode_bytes(encode_bytes(data)) == data`.

        Invalid UTF-8 bytes are carried through pre-tokenization as the surrogates U+DC80..U+DCFF
        (Python's "surrogateescape") and turned back into those bytes before merging; valid UTF-8
        gives `encode(data.decode())`. tiktoken's `_encode_bytes` treats an invalid tail differently.
        No special tokens are matched.
        """
        return self._encode_ordinary(data.decode("utf-8", errors="surrogateescape"))

    def _allowed_specials(self, allowed_special: Collection[str] | Literal["all"]) -> set[str]:
        if allowed_special == "all":
            return set(self._special_tokens)
        unknown = [s for s in allowed_special if s not in self._special_tokens]
        if isinstance(allowed_special, str) or unknown:
            raise ValueError(
                f"allowed_special has {unknown or allowed_special!r}, not special tokens of this vocabulary; "
                f"accepted: 'all' or a collection of {sorted(self._special_tokens)[:8]}..."
            )
        return set(allowed_special)

    def _encode_ordinary(self, text: str) -> list[int]:
        chunks = self._compiled.findall(text)
        _check_chunks_cover(chunks, text, self._compiled)
        ids: list[int] = []
        cache = self._cache
        for chunk in chunks:
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = tuple(self.encode_chunk(chunk.encode("utf-8", errors="surrogateescape")))
                if len(cache) < self._cache_size:
                    cache[chunk] = chunk_ids
            ids.extend(chunk_ids)
        return ids

    def encode_chunk(self, piece: bytes) -> list[int]:
        """Token ids of one chunk's bytes, as `encode` does for each chunk: whole-chunk lookup if enabled,
        else the merges. No pre-tokenization, no cache.

        >>> ByteLevelBPE.from_merges([(b"a", b"b")], "gpt2").encode_chunk(b"abab a")
        [256, 256, 32, 97]
        """
        if self._whole_chunk_lookup and piece in self._encoder:
            return [self._encoder[piece]]
        return self.apply_merges([self._byte_ids[b] for b in piece])

    def merge_of(self, left: int, right: int) -> tuple[int, int] | None:
        """(priority, merged id) if the adjacent pair merges, else None."""
        if self._merges is not None:
            return self._merges.get((left, right))
        merged = self._encoder.get(self._decoder[left] + self._decoder[right])
        return None if merged is None else (merged, merged)

    # Which of equally ranked pairs merges first (TOK-BPE-02): 1, the leftmost; -1, the rightmost.
    tie_direction = 1

    def apply_merges(self, symbols: list[int]) -> list[int]:
        """Merge adjacent symbols, lowest priority first and leftmost first on ties, until none merges.

        This is the loop of tiktoken's `_byte_pair_merge` and HF's `Word::merge_all`; GPT-2's `bpe`
        merges every occurrence of the lowest pair at once, which gives the same ids on well-formed
        tables. A heap of candidate pairs over a linked list keeps it O(n log n) in the chunk length
        n: "x" * 10**6 is a single chunk.

        >>> bpe = ByteLevelBPE.from_merges([(b"a", b"b"), (b"b", b"c"), (b"ab", b"c")], "gpt2")
        >>> bpe.apply_merges([97, 98, 99, 98, 99])  # a b c b c -> ab c b c -> ab c bc -> abc bc
        [258, 257]
        """
        n = len(symbols)
        symbols = list(symbols)  # symbols[i] becomes _MERGED_AWAY once position i merged into its left neighbour
        next_position = list(range(1, n + 1))
        previous_position = list(range(-1, n - 1))
        direction = self.tie_direction
        heap: list[tuple[int, int, int, int, int]] = []  # (priority, ±left position, left, right, merged)

        def push(i: int) -> None:
            left, right = symbols[i], symbols[next_position[i]]
            merge = self.merge_of(left, right)
            if merge is not None:
                heapq.heappush(heap, (merge[0], direction * i, left, right, merge[1]))

        for i in range(n - 1):
            push(i)
        while heap:
            _, key, left, right, merged = heapq.heappop(heap)
            i = direction * key
            j = next_position[i]
            # subtle: entries go stale when a neighbour merges first. A symbol's bytes only grow, so
            # an entry is current iff both positions still hold the very symbols it was made from.
            if symbols[i] != left or j >= n or symbols[j] != right:
                continue
            symbols[i], symbols[j] = merged, _MERGED_AWAY
            next_position[i] = next_position[j]
            if next_position[i] < n:
                previous_position[next_position[i]] = i
                push(i)
            if previous_position[i] >= 0:
                push(previous_position[i])
        return [s for s in symbols if s != _MERGED_AWAY]

    # --- decoding ----------------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The concatenated bytes of the tokens; a special token gives its surface string's UTF-8."""
        try:
            return b"".join(self._decoder[token_id] for token_id in ids)
        except KeyError as error:
            raise ValueError(
                f"ids contains {error.args[0]!r}, not a token id; accepted: the ids of this vocabulary "
                f"(in 0..{self.n_vocab - 1})"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of the tokens: all bytes joined first, then decoded as UTF-8 with errors="replace",
        like tiktoken's `decode` (TOK-BL-07): a sequence cut mid-character decodes to U+FFFD."""
        return self.decode_bytes(list(ids)).decode("utf-8", errors="replace")

    # --- inspection --------------------------------------------------------------------

    @property
    def merges(self) -> list[tuple[int, int]] | None:
        """The merge table as (left id, right id) pairs in rank order (the first merges first), or
        None for concatenation ranks (tiktoken's form: x and y merge when x + y is a token, with that
        token's id as the priority). A copy: changing it changes nothing here.

        >>> ByteLevelBPE.from_merges([(b"a", b"b"), (b"ab", b"c")], "gpt2").merges[0]
        (97, 98)
        """
        if self._merges is None:
            return None
        return [pair for pair, _ in sorted(self._merges.items(), key=lambda item: item[1][0])]

    @property
    def special_tokens(self) -> dict[str, int]:
        """Surface string -> id of the special tokens (a copy)."""
        return dict(self._special_tokens)

    @property
    def whole_chunk_lookup(self) -> bool:
        """Whether a chunk that is itself a token is emitted as that token (fixed: the cache depends on it)."""
        return self._whole_chunk_lookup

    @property
    def n_vocab(self) -> int:
        """One more than the largest id, specials included (tiktoken's `n_vocab`)."""
        return max(self._decoder) + 1

    def unreachable_tokens(self) -> list[int]:
        """Ids of ordinary tokens that no sequence of merges starting from single bytes produces.

        encode emits them only through whole-chunk lookup. With pair ranks a token is reachable if
        some merge of two reachable tokens makes it; with concatenation ranks, if its bytes split
        into two reachable tokens. Reachable does not mean that encoding its own bytes gives it.

        >>> bpe = ByteLevelBPE.from_merges([(b"a", b"b")], "gpt2")
        >>> bpe.unreachable_tokens()
        []
        """
        reachable = set(self._byte_ids)
        if self._merges is not None:
            changed = True
            while changed:  # a fixpoint: a merge may use a token a later-listed merge makes
                size = len(reachable)
                reachable.update(m for (a, b), (_, m) in self._merges.items() if a in reachable and b in reachable)
                changed = len(reachable) != size
        else:
            reachable_bytes = {self._decoder[i] for i in reachable}
            for data in sorted(self._encoder, key=len):  # parts are shorter than the whole
                if any(data[:k] in reachable_bytes and data[k:] in reachable_bytes for k in range(1, len(data))):
                    reachable_bytes.add(data)
            reachable.update(self._encoder[data] for data in reachable_bytes)
        ordinary = set(self._decoder) - set(self._special_tokens.values())
        return sorted(ordinary - reachable)


# ---------------------------------------------------------------------------------------
# Training


def train(
    text: str, num_merges: int, pattern: str, *, tie_break: str = "first-occurrence"
) -> list[tuple[bytes, bytes]]:
    """Learn up to `num_merges` merges from `text`: repeatedly merge the most frequent adjacent pair,
    counting pairs inside pre-tokenized chunks only (TOK-TRAIN-01). Stops early when no pair is left.

    Ties between equally frequent pairs (TOK-TRAIN-02):
    - "first-occurrence": the pair seen first in the text (chunk order, then position), which is
      what Python's `max` over an insertion-ordered dict gives: minbpe, tiktoken's `_educational`.
    - "smallest-ids": the smallest (left id, right id) in HF's id order, as HF tokenizers'
      BpeTrainer (`Merge::cmp` in models/bpe/trainer.rs). HF numbers single bytes by the code point
      of their `bytes_to_unicode` character, which is not byte order: "!" < "a" < "ÿ" < NUL ("Ā")
      < space ("Ġ"); merged tokens come after all bytes, in creation order. Not modelled: a merge
      that recreates an existing token (HF reuses the old id, this gets a new one), HF's
      min_frequency, limit_alphabet and max_token_length.

    Returns the merges as byte pairs, in order; `ByteLevelBPE.from_merges` makes a tokenizer.

    >>> train("aaabdaaabac", 3, "gpt2")
    [(b'a', b'a'), (b'aa', b'a'), (b'aaa', b'b')]
    >>> train("ba ab", 1, "gpt2"), train("ba ab", 1, "gpt2", tie_break="smallest-ids")
    ([(b'b', b'a')], [(b'a', b'b')])

    Clauses: TOK-TRAIN-01..03.
    """
    if isinstance(num_merges, bool) or not isinstance(num_merges, int) or num_merges < 0:
        raise ValueError(f"num_merges must be an integer >= 0, got {num_merges!r}")
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    check_scalar_values(text)
    chunk_counts = Counter(pretokenize(text, pattern))  # insertion order: first occurrence
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    counts = list(chunk_counts.values())
    token_bytes = {b: bytes([b]) for b in range(256)}
    merges: list[tuple[bytes, bytes]] = []
    for new_id in range(256, 256 + num_merges):
        stats = pair_counts(words, counts)
        if not stats:
            break
        if tie_break == "first-occurrence":
            pair = max(stats, key=stats.__getitem__)  # subtle: max keeps the first of equal maxima
        else:
            pair = min(stats, key=lambda p: (-stats[p], _hf_order(p[0]), _hf_order(p[1])))
        words = [merge_pair(word, pair, new_id) for word in words]
        token_bytes[new_id] = token_bytes[pair[0]] + token_bytes[pair[1]]
        merges.append((token_bytes[pair[0]], token_bytes[pair[1]]))
    return merges


# Byte b's position when the 256 byte-level characters are sorted by code point (HF's alphabet ids).
_HF_BYTE_ORDER = {b: n for n, b in enumerate(sorted(range(256), key=lambda b: bytes_to_unicode()[b]))}


def _hf_order(token_id: int) -> int:
    """Where HF's BpeTrainer would number the token: bytes by character, merges after (in order).

    >>> _hf_order(ord("!")), _hf_order(ord("a")), _hf_order(ord(" ")), _hf_order(256)
    (0, 64, 220, 256)
    """
    return _HF_BYTE_ORDER[token_id] if token_id < 256 else token_id
