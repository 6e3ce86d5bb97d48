"""Mutants of the tokenizers family: the reference adapter with one plausible bug each.

Each class lists in `breaks` the clauses its bug violates (the first is the one it targets, the
others follow from the same bug, as measured by running the suite on it); tests/test_mutants.py
checks that exactly those clauses fail. Most bugs are ones real tokenizers or their ports have
had: a decoder that decodes token by token, merges read from token ids, shortest-match WordPiece,
truncation that forgets the template, the HF and tiktoken behaviours the spec rejects.

The reference's tokenizers are objects the suite builds; a mutant changes a copy of one (an
attribute, a method) or post-processes the reference's answer, so each bug stays a few lines.

    specformer run --adapter specformer.conformance.mutants.tokenizers:DecodePerToken --family tokenizers
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import unicodedata
from collections.abc import Callable
from typing import Any

import regex

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.conformance.suite.tokenizer_inputs import UNICODE_DRIFT_RANGES
from specformer.reference.tokenizers import byte_bpe, templates, wordpiece
from specformer.reference.tokenizers import sentencepiece as spm
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.sentencepiece import PieceType, SentencePieceModel
from specformer.reference.tokenizers.templates import Encoding
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece


class _Mutant(Mutant):
    capabilities = reference_capabilities("tokenizers", "TOK-")

    def _copy(self, obj: Any, key: str, change: Callable[[Any], None]) -> Any:
        """A shallow copy of a model the suite built, changed once by `change`, cached per object."""
        cache = self.__dict__.setdefault("_copies", {})
        if (key, id(obj)) not in cache:
            changed = copy.copy(obj)
            change(changed)
            cache[(key, id(obj))] = (obj, changed)  # obj is kept, so its id is not reused
        return cache[(key, id(obj))][1]


def _protect(text: str, predicate: Callable[[str], bool]) -> tuple[str, Callable[[str], str]]:
    """Replace each character for which `predicate` holds by a Yi syllable (a plain letter to BERT:
    no case, no decomposition, not CJK, not punctuation), and return the text and the inverse."""
    chosen = sorted({c for c in text if predicate(c)})
    to_placeholder = {c: chr(0xA000 + i) for i, c in enumerate(chosen)}
    back = {v: k for k, v in to_placeholder.items()}
    return "".join(to_placeholder.get(c, c) for c in text), lambda s: "".join(back.get(c, c) for c in s)


def _in_drift(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in UNICODE_DRIFT_RANGES)


def _rank_of(model: ByteLevelBPE, left: int, right: int) -> tuple[int, int] | None:
    return model._merge_of(left, right)


class _Restoring(WordPiece):
    """WordPiece that looks words up with the characters `_protect` hid put back."""

    restore: Callable[[str], str]

    def _pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        return super()._pieces(self.restore(word))


class _ProtectingMutant(_Mutant):
    """Runs the BERT steps with some characters hidden from the normaliser as plain letters, so
    they are neither deleted, split off, isolated nor stripped; words are looked up with them."""

    def hidden(self, char: str) -> bool:
        raise NotImplementedError

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        protected, restore = _protect(text, self.hidden)
        return restore(super().bert_normalize(config, protected))

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        protected, restore = _protect(text, self.hidden)
        restoring = copy.copy(model)
        restoring.__class__, restoring.restore = _Restoring, restore
        return super().wordpiece_encode(restoring, protected)


# ---------------------------------------------------------------------------------------
# General


class StaleUnicodeTables(_ProtectingMutant):
    """BERT normalisation from character tables older than Unicode 14: code points assigned or
    recategorised since (U+061D, U+0898, ...) are plain letters, as in HF tokenizers' tables."""

    breaks = ("TOK-GEN-01",)

    def hidden(self, char: str) -> bool:
        return _in_drift(char)  # bug


class BatchOffsetsRunOn(_Mutant):
    """Encodes a batch as one joined text, so each input's offsets count the texts before it."""

    breaks = ("TOK-GEN-02",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        encodings = super().encode_batch(model, inputs, **options)
        shift = 0
        for item, encoding in zip(inputs, encodings, strict=True):
            encoding.offsets = [(s + shift, e + shift) if e else (s, e) for s, e in encoding.offsets]  # bug
            shift += sum(map(len, (item,) if isinstance(item, str) else item)) + 1
        return encodings


class SurrogatesReplaced(_Mutant):
    """Replaces lone surrogates with U+FFFD before encoding, as tiktoken does."""

    breaks = ("TOK-GEN-03",)

    @staticmethod
    def _repair(text: str) -> str:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return super().bpe_encode(model, self._repair(text))

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        return super().sentencepiece_encode(model, self._repair(text))


class EmptyTextGetsDummyPrefix(_Mutant):
    """Puts SentencePiece's dummy prefix in front of text even when nothing is left to prefix."""

    breaks = ("TOK-GEN-04", "TOK-SP-03", "TOK-SP-10", "TOK-UNI-05")

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        ids = super().sentencepiece_encode(model, text)
        space = self._sentencepiece(model).piece_to_id.get(spm.SPACE_SYMBOL)
        add = model.normalizer_spec.add_dummy_prefix and space is not None
        return ids if ids or not add else [space]  # bug


# ---------------------------------------------------------------------------------------
# Byte-level BPE: bytes and pre-tokenization


class SoftHyphenPrintable(_Mutant):
    """Counts the soft hyphen 0xAD as printable (it is in Latin-1's printable range)."""

    breaks = ("TOK-BL-01",)

    def bytes_to_unicode(self) -> dict[int, str]:
        printable = [*range(0x21, 0x7F), *range(0xA1, 0x100)]  # bug: 0xAD included
        others = [b for b in range(256) if b not in printable]
        return {**{b: chr(b) for b in printable}, **{b: chr(0x100 + n) for n, b in enumerate(others)}}


class PretokenizeDropsWhitespace(_Mutant):
    """Drops whitespace-only chunks, as `str.split` would."""

    breaks = ("TOK-BL-02", "TOK-BL-03", "TOK-BL-04")

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        return [chunk for chunk in super().pretokenize(text, pattern) if chunk.strip()]  # bug


class Gpt2IgnoreCase(_Mutant):
    """Adds the re.IGNORECASE that GPT-2's source says it should have had."""

    breaks = ("TOK-BL-03",)

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        if pattern != "gpt2":
            return super().pretokenize(text, pattern)
        return regex.findall(byte_bpe.PATTERNS["gpt2"], text, flags=regex.IGNORECASE)  # bug


class Cl100kFormsConflated(_Mutant):
    """Takes tiktoken's cl100k pattern for the tokenizer.json one, trusting the claim they match."""

    breaks = ("TOK-BL-04", "TOK-BL-03")

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        return super().pretokenize(text, "cl100k" if pattern == "cl100k-tiktoken" else pattern)  # bug


class MergesAcrossChunks(_Mutant):
    """Skips pre-tokenization and runs BPE on the text's bytes as one chunk."""

    breaks = ("TOK-BL-05", "TOK-BPE-05", "TOK-BPE-06")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        byte_bpe._check_scalar_values(text)
        return model.encode_chunk(text.encode()) if text else []  # bug


class DecodeCleansUpSpaces(_Mutant):
    """Decodes with transformers' `clean_up_tokenization_spaces`: " ." becomes "." and so on."""

    breaks = ("TOK-BL-06", "TOK-BPE-06")

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        text = super().bpe_decode(model, ids)
        for spaced in (" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"):
            text = text.replace(spaced, spaced.lstrip())  # bug
        return text


class DecodePerToken(_Mutant):
    """Decodes each token on its own and joins the strings, so a split character is lost."""

    breaks = ("TOK-BL-07", "TOK-BL-06", "TOK-BPE-06")

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        return "".join(model.decode_bytes([i]).decode("utf-8", errors="replace") for i in ids)  # bug


# ---------------------------------------------------------------------------------------
# Byte-level BPE: merges


class MergeRankFromTokenId(_Mutant):
    """Reads a pair-rank merge's priority from the merged token's id, as with tiktoken ranks."""

    breaks = ("TOK-BPE-01", "TOK-BPE-03")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        def by_id(m: ByteLevelBPE) -> None:
            if m._merges is not None:
                m._merges = {pair: (merged, merged) for pair, (_, merged) in m._merges.items()}  # bug
            m._cache = {}

        return super().bpe_encode(self._copy(model, "by_id", by_id), text)


class RightmostFirst(_Mutant):
    """Merges the rightmost occurrence first among equal ranks."""

    breaks = ("TOK-BPE-02", "TOK-BPE-06")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        byte_bpe._check_scalar_values(text)
        return [i for chunk in byte_bpe.pretokenize(text, model.pattern) for i in _rightmost(model, chunk.encode())]


def _rightmost(model: ByteLevelBPE, data: bytes) -> list[int]:
    """The reference's merge loop (whole-chunk lookup, heap, linked list) with one change."""
    if model.whole_chunk_lookup and data in model._encoder:
        return [model._encoder[data]]
    symbols = [model._byte_ids[b] for b in data]
    n = len(symbols)
    next_position, previous_position = list(range(1, n + 1)), list(range(-1, n - 1))
    heap: list[tuple[int, int, int, int, int]] = []

    def push(i: int) -> None:
        j = next_position[i]
        merge = _rank_of(model, symbols[i], symbols[j]) if j < n else None
        if merge is not None:
            heapq.heappush(heap, (merge[0], -i, symbols[i], symbols[j], merge[1]))  # bug: -i, rightmost first

    for i in range(n - 1):
        push(i)
    while heap:
        _, negative_i, left, right, merged = heapq.heappop(heap)
        i = -negative_i
        j = next_position[i]
        if symbols[i] != left or j >= n or symbols[j] != right:
            continue
        symbols[i], symbols[j] = merged, -1
        next_position[i] = next_position[j]
        if next_position[i] < n:
            previous_position[next_position[i]] = i
            push(i)
        if previous_position[i] >= 0:
            push(previous_position[i])
    return [s for s in symbols if s != -1]


class PairTablesByConcatenation(_Mutant):
    """Applies a pair-rank table as if it were concatenation ranks (merges any pair whose bytes
    form a token), the quick way to run a tokenizer.json on a tiktoken-style engine."""

    breaks = ("TOK-BPE-04", "TOK-BPE-01", "TOK-BPE-03")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        def concatenation(m: ByteLevelBPE) -> None:
            m._merges, m._cache = None, {}  # bug

        return super().bpe_encode(self._copy(model, "concatenation", concatenation), text)


class NoWholeChunkLookup(_Mutant):
    """Ignores whole-chunk lookup (HF's ignore_merges left at its default)."""

    breaks = ("TOK-BPE-05",)

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        def no_lookup(m: ByteLevelBPE) -> None:
            m._whole_chunk_lookup, m._cache = False, {}  # bug

        return super().bpe_encode(self._copy(model, "no_lookup", no_lookup), text)


# ---------------------------------------------------------------------------------------
# Byte-level BPE: training


class CountsPairsAcrossChunks(_Mutant):
    """Counts pairs over the whole text, across chunk boundaries."""

    breaks = ("TOK-TRAIN-01", "TOK-TRAIN-03")

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        return super().bpe_train(text, num_merges, r"[\s\S]+")  # bug: one chunk


class TieBreakLastPair(_Mutant):
    """Breaks ties by the pair seen last (a sort by count, then taking the last)."""

    breaks = ("TOK-TRAIN-02",)

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        chunks = byte_bpe.pretokenize(text, pattern)
        words = [list(chunk.encode()) for chunk in dict.fromkeys(chunks)]
        counts = [chunks.count(chunk) for chunk in dict.fromkeys(chunks)]
        token_bytes = {b: bytes([b]) for b in range(256)}
        merges = []
        for new_id in range(256, 256 + num_merges):
            stats = byte_bpe.pair_counts(words, counts)
            if not stats:
                break
            pair = sorted(stats, key=stats.__getitem__)[-1]  # bug: the last of the tied pairs
            words = [byte_bpe.merge_pair(word, pair, new_id) for word in words]
            token_bytes[new_id] = token_bytes[pair[0]] + token_bytes[pair[1]]
            merges.append((token_bytes[pair[0]], token_bytes[pair[1]]))
        return merges


class OneMergeShort(_Mutant):
    """Makes `num_merges - 1` merges, mixing up the merge count and `vocab_size - 256`."""

    breaks = ("TOK-TRAIN-03",)

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        return super().bpe_train(text, max(num_merges - 1, 0), pattern)  # bug


# ---------------------------------------------------------------------------------------
# BERT normalisation and pre-tokenization


class CleanTextOnlyCc(_ProtectingMutant):
    """Deletes only Cc controls, keeping format characters (ZWSP, ZWJ, bidi marks, BOM) and
    private-use ones."""

    breaks = ("TOK-BERT-01", "TOK-OFF-01", "TOK-WP-05")

    def hidden(self, char: str) -> bool:
        return unicodedata.category(char) in ("Cf", "Co")  # bug


class CjkBmpOnly(_ProtectingMutant):
    """Isolates only the BMP block U+4E00..U+9FFF, missing the extensions and compatibility blocks."""

    breaks = ("TOK-BERT-02", "TOK-GEN-01", "TOK-WP-05")

    def hidden(self, char: str) -> bool:
        return wordpiece.is_cjk(char) and not 0x4E00 <= ord(char) <= 0x9FFF  # bug


class AlwaysLowercase(_Mutant):
    """Lower-cases cased models too."""

    breaks = ("TOK-BERT-03",)

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        forced = dataclasses.replace(config, lowercase=True, strip_accents=config.stripping_accents)  # bug
        return super().bert_normalize(forced, text)


class StripAccentsNoneMeansFalse(_Mutant):
    """Reads an unset `strip_accents` as false instead of following `lowercase`."""

    breaks = ("TOK-BERT-04", "TOK-OFF-01", "TOK-WP-05")

    def _fixed(self, config: BertNormalizerConfig) -> BertNormalizerConfig:
        return dataclasses.replace(config, strip_accents=bool(config.strip_accents))  # bug

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return super().bert_normalize(self._fixed(config), text)

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        def fix(m: WordPiece) -> None:
            m.normalizer = self._fixed(m.normalizer)

        return super().wordpiece_encode(self._copy(model, "accents", fix), text)


class FinalSigmaInTokenizersVariant(_Mutant):
    """Lower-cases with Python's `str.lower` (final sigma) while declaring the `tokenizers` variant."""

    breaks = ("TOK-BERT-05", "TOK-WP-05")

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return super().bert_normalize(dataclasses.replace(config, final_sigma=True), text)  # bug

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        def sigma(m: WordPiece) -> None:
            m.normalizer = dataclasses.replace(m.normalizer, final_sigma=True)  # bug

        return super().wordpiece_encode(self._copy(model, "sigma", sigma), text)


class PunctuationCategoryPOnly(_ProtectingMutant):
    """Tests punctuation by General_Category P* only, so the ASCII symbols $ + < = > ^ ` | ~ stay
    inside words."""

    breaks = ("TOK-BERT-06", "TOK-SPECIAL-01", "TOK-WP-05")

    def hidden(self, char: str) -> bool:
        return char in "$+<=>^`|~"  # bug

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return super(_ProtectingMutant, self).bert_normalize(config, text)  # normalising is unaffected


class SurrogatesRaiseInBert(_Mutant):
    """Encodes the text to UTF-8 first, so a lone surrogate raises instead of being cleaned away."""

    breaks = ("TOK-BERT-07",)

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        text.encode("utf-8")  # bug
        return super().bert_normalize(config, text)

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        text.encode("utf-8")  # bug
        return super().wordpiece_encode(model, text)


# ---------------------------------------------------------------------------------------
# WordPiece


class _WordPieceMutant(_Mutant):
    """Runs WordPiece through a subclass of the reference's with `_pieces` replaced."""

    wordpiece_class: type[WordPiece]

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        def swap(m: WordPiece) -> None:
            m.__class__ = self.wordpiece_class

        return super().wordpiece_encode(self._copy(model, "wordpiece", swap), text)


class _ShortestMatch(WordPiece):
    def _pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        if len(word) > self.max_input_chars_per_word:
            return None
        pieces, start = [], 0
        while start < len(word):
            for end in range(start + 1, len(word) + 1):  # bug: shortest first
                piece = word[start:end] if start == 0 else self.continuing_prefix + word[start:end]
                if piece in self.vocab:
                    pieces.append((piece, start, end))
                    start = end
                    break
            else:
                return None
        return pieces


class WordPieceShortestMatch(_WordPieceMutant):
    """Takes the shortest vocabulary entry at each position."""

    breaks = ("TOK-WP-01", "TOK-WP-02", "TOK-WP-05")
    wordpiece_class = _ShortestMatch


class _NoPrefix(WordPiece):
    def _pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        if len(word) > self.max_input_chars_per_word:
            return None
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                if word[start:end] in self.vocab:  # bug: no "##" after the first piece
                    pieces.append((word[start:end], start, end))
                    start = end
                    break
            else:
                return None
        return pieces


class ContinuationPrefixDropped(_WordPieceMutant):
    """Looks pieces after the first up without the `##` prefix."""

    breaks = (
        "TOK-WP-02",
        "TOK-BERT-06",
        "TOK-BERT-07",
        "TOK-OFF-01",
        "TOK-POST-01",
        "TOK-SPECIAL-02",
        "TOK-TRUNC-01",
        "TOK-WP-01",
        "TOK-WP-03",
        "TOK-WP-04",
        "TOK-WP-05",
    )
    wordpiece_class = _NoPrefix


class _UnkOnlyTheRest(WordPiece):
    def _pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        if len(word) > self.max_input_chars_per_word:
            return None
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self.continuing_prefix + word[start:end]
                if piece in self.vocab:
                    pieces.append((piece, start, end))
                    start = end
                    break
            else:
                return [*pieces, (self.unk_token, start, len(word))] if pieces else None  # bug
        return pieces


class UnkOnlyTheRest(_WordPieceMutant):
    """Keeps the pieces matched before a position with no match and puts [UNK] for the rest."""

    breaks = ("TOK-WP-03", "TOK-OFF-01", "TOK-WP-05")
    wordpiece_class = _UnkOnlyTheRest


class _MaxCharsOffByOne(WordPiece):
    def _pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        if len(word) >= self.max_input_chars_per_word:  # bug: >= instead of >
            return None
        return super()._pieces(word)


class MaxCharsOffByOne(_WordPieceMutant):
    """Makes a word of exactly max_input_chars_per_word characters [UNK]."""

    breaks = ("TOK-WP-04", "TOK-WP-05")
    wordpiece_class = _MaxCharsOffByOne


# ---------------------------------------------------------------------------------------
# Offsets


class OffsetsIntoNormalizedText(_Mutant):
    """Reports offsets into the normalised text instead of the caller's text."""

    breaks = ("TOK-OFF-01", "TOK-GEN-01", "TOK-WP-05")

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        ids, offsets = super().wordpiece_encode(model, text)
        position = [start for _, start, _ in wordpiece.normalize_aligned(text, model.normalizer)]
        # bug: a span is where its first character landed after normalisation
        spans = []
        for start, end in offsets:
            at = position.index(start) if start in position else start
            spans.append((at, at + (end - start)))
        return ids, spans


class SepOffsetAtEndOfText(_Mutant):
    """Gives the final [SEP] the empty span at the end of the text instead of (0, 0)."""

    breaks = ("TOK-OFF-02",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        encodings = super().encode_batch(model, inputs, **options)
        for item, encoding in zip(inputs, encodings, strict=True):
            last = len(item if isinstance(item, str) else item[-1])
            real = [i for i, m in enumerate(encoding.attention_mask) if m]
            encoding.offsets[real[-1]] = (last, last)  # bug
        return encodings


class PairOffsetsShifted(_Mutant):
    """Reports B's offsets into "A B", as if the pair had been joined with a space."""

    breaks = ("TOK-OFF-03",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        encodings = super().encode_batch(model, inputs, **options)
        sep = model.vocab["[SEP]"]
        for item, encoding in zip(inputs, encodings, strict=True):
            if isinstance(item, str):
                continue
            shift, in_b = len(item[0]) + 1, False
            for i, (token, special) in enumerate(zip(encoding.ids, encoding.special_tokens_mask, strict=True)):
                if in_b and not special:
                    start, end = encoding.offsets[i]
                    encoding.offsets[i] = (start + shift, end + shift)  # bug
                in_b = in_b or (token == sep and bool(special))
        return encodings


# ---------------------------------------------------------------------------------------
# SentencePiece


class _SentencePieceMutant(_Mutant):
    """Changes the reference tokenizer built for a model, or the model it is built from."""

    def change_model(self, model: SentencePieceModel) -> SentencePieceModel:
        return model

    def change_tokenizer(self, tokenizer: Any) -> None:
        pass

    def _sentencepiece(self, model: SentencePieceModel) -> Any:
        cache = self.__dict__.setdefault("_mutated", {})
        if id(model) not in cache:
            changed = self.change_model(model)
            tokenizer = copy.copy(super()._sentencepiece(changed))
            self.change_tokenizer(tokenizer)
            cache[id(model)] = (model, changed, tokenizer)
        return cache[id(model)][2]


class CharsmapIgnored(_SentencePieceMutant):
    """Ignores the model's precompiled character map (no NFKC, no NMT rules)."""

    breaks = ("TOK-SP-01", "TOK-SP-03", "TOK-SP-04", "TOK-UNI-05")

    def change_model(self, model: SentencePieceModel) -> SentencePieceModel:
        spec = dataclasses.replace(model.normalizer_spec, precompiled_charsmap=b"")  # bug
        return dataclasses.replace(model, normalizer_spec=spec)


class WhitespaceNotCollapsed(_SentencePieceMutant):
    """Never removes extra whitespace."""

    breaks = ("TOK-SP-02", "TOK-SP-03", "TOK-SP-07", "TOK-UNI-05")

    def change_model(self, model: SentencePieceModel) -> SentencePieceModel:
        spec = dataclasses.replace(model.normalizer_spec, remove_extra_whitespaces=False)  # bug
        return dataclasses.replace(model, normalizer_spec=spec)


class UserDefinedScoredAsStored(_SentencePieceMutant):
    """Treats user-defined pieces as normal pieces with their stored scores."""

    breaks = ("TOK-SP-04", "TOK-SP-10")

    def change_model(self, model: SentencePieceModel) -> SentencePieceModel:
        pieces = tuple(
            dataclasses.replace(p, type=PieceType.NORMAL) if p.type == PieceType.USER_DEFINED else p  # bug
            for p in model.pieces
        )
        return dataclasses.replace(model, pieces=pieces)


class ByteFallbackOff(_SentencePieceMutant):
    """Ignores byte_fallback: unknown text becomes <unk>."""

    breaks = ("TOK-SP-05", "TOK-GEN-01", "TOK-SP-08", "TOK-SP-10", "TOK-UNI-01", "TOK-UNI-02", "TOK-UNI-05")

    def change_tokenizer(self, tokenizer: Any) -> None:
        tokenizer.byte_fallback = False  # bug


class SentencePieceBpeLowestScoreFirst(_SentencePieceMutant):
    """Merges the lowest-scoring piece first, carrying "lowest rank first" over from byte-level BPE."""

    breaks = ("TOK-SP-06", "TOK-SP-10")

    def change_model(self, model: SentencePieceModel) -> SentencePieceModel:
        if model.trainer_spec.model_type != spm.ModelType.BPE:
            return model
        pieces = tuple(dataclasses.replace(p, score=-p.score) for p in model.pieces)  # bug
        return dataclasses.replace(model, pieces=pieces)


class DecodeKeepsDummySpace(_Mutant):
    """Does not drop the dummy prefix's space when decoding."""

    breaks = ("TOK-SP-07", "TOK-SP-08", "TOK-SP-10", "TOK-UNI-05")

    def sentencepiece_decode(self, model: SentencePieceModel, ids: list[int]) -> str:
        def keep(m: SentencePieceModel) -> None:
            spec = dataclasses.replace(m.normalizer_spec, add_dummy_prefix=False, remove_extra_whitespaces=False)
            object.__setattr__(m, "normalizer_spec", spec)  # bug: decoding as if there were no prefix

        return super().sentencepiece_decode(self._copy(model, "keep", keep), ids)


class ControlSymbolsMatched(_Mutant):
    """Matches the spellings of control pieces (<s>, </s>, <unk>) in text as those pieces."""

    breaks = ("TOK-SP-09", "TOK-SP-10", "TOK-UNI-05")

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        controls = {p.piece: i for i, p in enumerate(model.pieces) if p.type in (PieceType.CONTROL, PieceType.UNKNOWN)}
        if not controls:
            return super().sentencepiece_encode(model, text)
        ids: list[int] = []
        pattern = "|".join(regex.escape(c) for c in sorted(controls, key=len, reverse=True))
        for part in regex.split(f"({pattern})", text):
            if part in controls:
                ids.append(controls[part])  # bug
            elif part:
                ids += super().sentencepiece_encode(model, part)
        return ids


# ---------------------------------------------------------------------------------------
# Unigram


class _Greedy(spm.Unigram):
    def segment(self, normalized: str) -> list[tuple[str, int]]:
        segments, start = [], 0
        while start < len(normalized):
            for end in range(min(len(normalized), start + self.max_piece_length), start, -1):  # bug: longest
                piece_id = self.vocab.get(normalized[start:end])
                if piece_id is not None and self.pieces[piece_id].type != PieceType.UNUSED:
                    break
            else:
                end, piece_id = start + 1, self.unk_id
            segments.append((normalized[start:end], piece_id))
            start = end
        return segments


class _LatestStart(spm.Unigram):
    def segment(self, normalized: str) -> list[tuple[str, int]]:
        n = len(normalized)
        best: list[list | None] = [None] * (n + 1)
        best[0] = [0.0, -1, -1]
        for start in range(n):
            has_single = False
            for end in range(start + 1, min(n, start + self.max_piece_length) + 1):
                piece_id = self.vocab.get(normalized[start:end])
                if piece_id is None or self.pieces[piece_id].type == PieceType.UNUSED:
                    continue
                score = spm._f32(self.piece_score(piece_id) + best[start][0])
                if best[end] is None or score >= best[end][0]:  # bug: >= lets later starts win ties
                    best[end] = [score, start, piece_id]
                has_single |= end == start + 1
            if not has_single:
                score = spm._f32(self.unk_score + best[start][0])
                if best[start + 1] is None or score >= best[start + 1][0]:
                    best[start + 1] = [score, start, self.unk_id]
        segments, end = [], n
        while end > 0:
            _, start, piece_id = best[end]
            segments.append((normalized[start:end], piece_id))
            end = start
        return segments[::-1]


class _Unfused(spm.Unigram):
    def ids_from_segments(self, segments: list[tuple[str, int]]) -> list[int]:
        if self.byte_fallback:
            return super().ids_from_segments(segments)
        return [piece_id for _, piece_id in segments]  # bug: one unknown per character


class _UnigramMutant(_SentencePieceMutant):
    unigram_class: type[spm.Unigram]

    def change_tokenizer(self, tokenizer: Any) -> None:
        if isinstance(tokenizer, spm.Unigram):
            tokenizer.__class__ = self.unigram_class


class UnigramGreedyLongest(_UnigramMutant):
    """Segments Unigram text greedily, longest piece first, instead of by Viterbi."""

    breaks = ("TOK-UNI-01", "TOK-UNI-02", "TOK-UNI-03", "TOK-UNI-05")
    unigram_class = _Greedy


class UnigramTiesLatestStart(_UnigramMutant):
    """Replaces the best path on equal scores (>= for >), so later-starting last pieces win ties."""

    breaks = ("TOK-UNI-02", "TOK-UNI-05")
    unigram_class = _LatestStart


class UnkScoreIsMinScore(_SentencePieceMutant):
    """Scores an unknown character at the minimum piece score, without the penalty of 10."""

    breaks = ("TOK-UNI-03",)

    def change_tokenizer(self, tokenizer: Any) -> None:
        if isinstance(tokenizer, spm.Unigram):
            tokenizer.unk_score = tokenizer.min_score  # bug


class UnknownsNotFused(_UnigramMutant):
    """Emits one unknown id per unknown character."""

    breaks = ("TOK-UNI-04", "TOK-UNI-05")
    unigram_class = _Unfused


# ---------------------------------------------------------------------------------------
# Special tokens and templates


class _ShortestSpecials(WordPiece):
    def tokens_with_offsets(self, text: str, *, special_policy: str = "raise") -> list[tuple[str, tuple[int, int]]]:
        if special_policy != "match":
            return super().tokens_with_offsets(text, special_policy=special_policy)
        shortest = sorted(self.special_tokens, key=len)  # bug: the first (shortest) special that matches
        out, position, i = [], 0, 0
        while i < len(text):
            found = next((s for s in shortest if text.startswith(s, i)), None)
            if found is None:
                i += 1
                continue
            out += self._plain(text[position:i], position)
            out.append((found, (i, i + len(found))))
            position = i = i + len(found)
        return out + self._plain(text[position:], position)

    def _plain(self, segment: str, offset: int) -> list[tuple[str, tuple[int, int]]]:
        tokens = super().tokens_with_offsets(segment, special_policy="text")
        return [(token, (start + offset, end + offset)) for token, (start, end) in tokens]


class SpecialsShortestFirst(_Mutant):
    """Matches overlapping special tokens shortest first, as tiktoken's alternation happened to."""

    breaks = ("TOK-SPECIAL-01",)

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        def swap(m: WordPiece) -> None:
            m.__class__ = _ShortestSpecials

        return super().wordpiece_encode(self._copy(model, "specials", swap), text)


class SpecialStringsAsText(_Mutant):
    """Tokenizes special-token spellings as text while declaring `match`."""

    breaks = ("TOK-SPECIAL-02", "TOK-SPECIAL-01", "TOK-WP-05")

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        tokens = model.tokens_with_offsets(text, special_policy="text")  # bug
        return [model.vocab[t] for t, _ in tokens], [span for _, span in tokens]


def _retemplate(encodings: list[Encoding], change: Callable[[Encoding], None]) -> list[Encoding]:
    for encoding in encodings:
        change(encoding)
    return encodings


class ClsAndSepSwapped(_Mutant):
    """Looks the ids of [CLS] and [SEP] up the wrong way round (both are in every template)."""

    breaks = ("TOK-POST-01", "TOK-GEN-04", "TOK-POST-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        cls, sep = model.vocab["[CLS]"], model.vocab["[SEP]"]
        swap = {cls: sep, sep: cls}

        def change(e: Encoding) -> None:
            template = [bool(s and m) for s, m in zip(e.special_tokens_mask, e.attention_mask, strict=True)]
            e.ids = [swap.get(i, i) if t else i for i, t in zip(e.ids, template, strict=True)]  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class TokenTypesAllZero(_Mutant):
    """Gives every token type id 0, pairs included."""

    breaks = ("TOK-POST-02", "TOK-POST-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.token_type_ids = [0] * len(e)  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class SpecialMaskZeroOnPads(_Mutant):
    """Marks only template tokens in special_tokens_mask, not pads."""

    breaks = ("TOK-POST-03", "TOK-PAD-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.special_tokens_mask = [
                s if m else 0 for s, m in zip(e.special_tokens_mask, e.attention_mask, strict=True)
            ]

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class EmptyPairDropsSep(_Mutant):
    """Takes a pair with an empty second text for a single sequence (transformers#26123)."""

    breaks = ("TOK-POST-04", "TOK-GEN-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        inputs = [item[0] if not isinstance(item, str) and item[1] == "" else item for item in inputs]  # bug
        return super().encode_batch(model, inputs, **options)


# ---------------------------------------------------------------------------------------
# Truncation and padding


class _LengthsMutant(_Mutant):
    """encode_batch with the reference's truncation lengths replaced by `lengths`."""

    def lengths(self, len_a: int, len_b: int | None, max_length: int, strategy: str) -> tuple[int, int | None]:
        raise NotImplementedError

    def encode_batch(self, model, inputs, *, max_length=None, truncation="longest_first", **options):
        if max_length is None:
            return super().encode_batch(model, inputs, **options)
        encodings = []
        for item in inputs:
            first, second = (item, None) if isinstance(item, str) else item
            ids_a, offsets_a = self.wordpiece_encode(model, first)
            ids_b, offsets_b = self.wordpiece_encode(model, second) if second is not None else (None, None)
            keep_a, keep_b = self.lengths(len(ids_a), None if ids_b is None else len(ids_b), max_length, truncation)
            cut_b = None if ids_b is None else ids_b[:keep_b]
            encodings.append(
                templates.apply_template(
                    ids_a[:keep_a],
                    cut_b,
                    cls_id=model.vocab["[CLS]"],
                    sep_id=model.vocab["[SEP]"],
                    offsets_a=offsets_a[:keep_a],
                    offsets_b=None if offsets_b is None else offsets_b[:keep_b],
                )
            )
        side, multiple = options.get("padding_side", "right"), options.get("pad_to_multiple_of")
        return templates.pad_batch(encodings, pad_to_multiple_of=multiple, pad_id=model.vocab["[PAD]"], side=side)

    def reference(self, len_a, len_b, max_length, strategy, **kw) -> tuple[int, int | None]:
        odd = self.capabilities.variants["TOK-TRUNC-03"]
        return templates.truncation_lengths(len_a, len_b, max_length, strategy, odd_budget=odd, **kw)


class BudgetIgnoresSpecials(_LengthsMutant):
    """Truncates the content to max_length, then adds [CLS] and [SEP] on top."""

    breaks = ("TOK-TRUNC-01", "TOK-TRUNC-02", "TOK-TRUNC-03", "TOK-TRUNC-04", "TOK-TRUNC-05", "TOK-TRUNC-06")

    def lengths(self, len_a, len_b, max_length, strategy):
        return self.reference(len_a, len_b, max_length, strategy, num_special=0)  # bug


class LongestFirstCutsBothEqually(_LengthsMutant):
    """Cuts a pair that does not fit by the same number of tokens from each side."""

    breaks = ("TOK-TRUNC-02", "TOK-TRUNC-01", "TOK-TRUNC-03")

    def lengths(self, len_a, len_b, max_length, strategy):
        kept = self.reference(len_a, len_b, max_length, strategy)  # keeps the reference's errors
        if strategy != "longest_first" or len_b is None:
            return kept
        excess = len_a + len_b + 3 - max_length
        if excess <= 0:
            return len_a, len_b
        cut_a = min(len_a, (excess + 1) // 2)  # bug: half each, whatever the lengths
        return len_a - cut_a, max(len_b - (excess - cut_a), 0)


class OddBudgetToLonger(_LengthsMutant):
    """Gives the odd token to the longer sequence (HF's rule) while declaring `first`."""

    breaks = ("TOK-TRUNC-03",)

    def lengths(self, len_a, len_b, max_length, strategy):
        return templates.truncation_lengths(len_a, len_b, max_length, strategy, odd_budget="longer")  # bug


class OnlyFirstCutsTheLonger(_LengthsMutant):
    """Treats only_first and only_second as longest_first."""

    breaks = ("TOK-TRUNC-04", "TOK-TRUNC-05")

    def lengths(self, len_a, len_b, max_length, strategy):
        return self.reference(len_a, len_b, max_length, "longest_first")  # bug


class ShortSequenceEmptiedSilently(_LengthsMutant):
    """Empties the named sequence when it is too short to absorb the cut, instead of raising."""

    breaks = ("TOK-TRUNC-05",)

    def lengths(self, len_a, len_b, max_length, strategy):
        try:
            return self.reference(len_a, len_b, max_length, strategy)
        except ValueError:
            if max_length < (2 if len_b is None else 3):
                raise
            if strategy == "only_first":
                return 0, len_b  # bug
            return len_a, None if len_b is None else 0  # bug


class TinyMaxLengthSkipsTruncation(_LengthsMutant):
    """Does not truncate at all when max_length is below the number of template tokens (HF)."""

    breaks = ("TOK-TRUNC-06",)

    def lengths(self, len_a, len_b, max_length, strategy):
        if max_length < (2 if len_b is None else 3):
            return len_a, len_b  # bug
        return self.reference(len_a, len_b, max_length, strategy)


class PadToMultipleIgnored(_Mutant):
    """Pads to the longest but ignores pad_to_multiple_of."""

    breaks = ("TOK-PAD-01",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        return super().encode_batch(model, inputs, **{**options, "pad_to_multiple_of": None})  # bug


class PaddingAlwaysRight(_Mutant):
    """Pads on the right whatever padding_side says."""

    breaks = ("TOK-PAD-02", "TOK-PAD-03", "TOK-PAD-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        return super().encode_batch(model, inputs, **{**options, "padding_side": "right"})  # bug


class AttentionOnPads(_Mutant):
    """Sets the attention mask to 1 on pads too."""

    breaks = ("TOK-PAD-03",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.attention_mask = [1] * len(e)  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class PadIdZero(_Mutant):
    """Pads with id 0, where BERT vocabularies happen to keep [PAD]."""

    breaks = ("TOK-PAD-04",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.ids = [i if m else 0 for i, m in zip(e.ids, e.attention_mask, strict=True)]  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)


ALL: tuple[type[_Mutant], ...] = (
    StaleUnicodeTables,
    BatchOffsetsRunOn,
    SurrogatesReplaced,
    EmptyTextGetsDummyPrefix,
    SoftHyphenPrintable,
    PretokenizeDropsWhitespace,
    Gpt2IgnoreCase,
    Cl100kFormsConflated,
    MergesAcrossChunks,
    DecodeCleansUpSpaces,
    DecodePerToken,
    MergeRankFromTokenId,
    RightmostFirst,
    PairTablesByConcatenation,
    NoWholeChunkLookup,
    CountsPairsAcrossChunks,
    TieBreakLastPair,
    OneMergeShort,
    CleanTextOnlyCc,
    CjkBmpOnly,
    AlwaysLowercase,
    StripAccentsNoneMeansFalse,
    FinalSigmaInTokenizersVariant,
    PunctuationCategoryPOnly,
    SurrogatesRaiseInBert,
    WordPieceShortestMatch,
    ContinuationPrefixDropped,
    UnkOnlyTheRest,
    MaxCharsOffByOne,
    OffsetsIntoNormalizedText,
    SepOffsetAtEndOfText,
    PairOffsetsShifted,
    CharsmapIgnored,
    WhitespaceNotCollapsed,
    UserDefinedScoredAsStored,
    ByteFallbackOff,
    SentencePieceBpeLowestScoreFirst,
    DecodeKeepsDummySpace,
    ControlSymbolsMatched,
    UnigramGreedyLongest,
    UnigramTiesLatestStart,
    UnkScoreIsMinScore,
    UnknownsNotFused,
    SpecialsShortestFirst,
    SpecialStringsAsText,
    ClsAndSepSwapped,
    TokenTypesAllZero,
    SpecialMaskZeroOnPads,
    EmptyPairDropsSep,
    BudgetIgnoresSpecials,
    LongestFirstCutsBothEqually,
    OddBudgetToLonger,
    OnlyFirstCutsTheLonger,
    ShortSequenceEmptiedSilently,
    TinyMaxLengthSkipsTruncation,
    PadToMultipleIgnored,
    PaddingAlwaysRight,
    AttentionOnPads,
    PadIdZero,
)
