"""Tokenizer mutants of BERT normalisation and WordPiece (TOK-BERT, TOK-WP)."""

from __future__ import annotations

import dataclasses
import unicodedata

from specformer.conformance.mutants.tokenizers.base import (
    ProtectingMutant,
    TokenizerMutant,
)
from specformer.reference.tokenizers import wordpiece
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece

# ---------------------------------------------------------------------------------------
# BERT normalisation and pre-tokenization


class CleanTextOnlyCc(ProtectingMutant):
    """Deletes only Cc controls, keeping format characters (ZWSP, ZWJ, bidi marks, BOM) and
    private-use ones."""

    breaks = ("TOK-BERT-01", "TOK-OFF-01", "TOK-WP-05")

    def hidden(self, char: str) -> bool:
        return unicodedata.category(char) in ("Cf", "Co")  # bug


class CjkBmpOnly(ProtectingMutant):
    """Isolates only the BMP block U+4E00..U+9FFF, missing the extensions and compatibility blocks."""

    breaks = ("TOK-BERT-02", "TOK-GEN-01", "TOK-WP-05")

    def hidden(self, char: str) -> bool:
        return wordpiece.is_cjk(char) and not 0x4E00 <= ord(char) <= 0x9FFF  # bug


class AlwaysLowercase(TokenizerMutant):
    """Lower-cases cased models too."""

    breaks = ("TOK-BERT-03",)

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        forced = dataclasses.replace(config, lowercase=True, strip_accents=config.stripping_accents)  # bug
        return super().bert_normalize(forced, text)


class StripAccentsNoneMeansFalse(TokenizerMutant):
    """Reads an unset `strip_accents` as false instead of following `lowercase`."""

    breaks = ("TOK-BERT-04", "TOK-OFF-01", "TOK-WP-05")

    def _fixed(self, config: BertNormalizerConfig) -> BertNormalizerConfig:
        return dataclasses.replace(config, strip_accents=bool(config.strip_accents))  # bug

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return super().bert_normalize(self._fixed(config), text)

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        fixed = self._derived(model, "accents", lambda m: m.rebuilt(normalizer=self._fixed(m.normalizer)))
        return super().wordpiece_encode(fixed, text)


class FinalSigmaInTokenizersVariant(TokenizerMutant):
    """Lower-cases with Python's `str.lower` (final sigma) while declaring the `tokenizers` variant."""

    breaks = ("TOK-BERT-05", "TOK-WP-05")

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return super().bert_normalize(dataclasses.replace(config, final_sigma=True), text)  # bug

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        def sigma(m: WordPiece) -> WordPiece:
            return m.rebuilt(normalizer=dataclasses.replace(m.normalizer, final_sigma=True))  # bug

        return super().wordpiece_encode(self._derived(model, "sigma", sigma), text)


class PunctuationCategoryPOnly(ProtectingMutant):
    """Tests punctuation by General_Category P* only, so the ASCII symbols $ + < = > ^ ` | ~ stay
    inside words."""

    breaks = ("TOK-BERT-06", "TOK-SPECIAL-01", "TOK-WP-05")

    def hidden(self, char: str) -> bool:
        return char in "$+<=>^`|~"  # bug

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return super(ProtectingMutant, self).bert_normalize(config, text)  # normalising is unaffected


class SurrogatesRaiseInBert(TokenizerMutant):
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


class _WordPieceMutant(TokenizerMutant):
    """Runs WordPiece through a subclass of the reference's with `pieces` replaced."""

    wordpiece_class: type[WordPiece]

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        rebuilt = self._derived(model, "wordpiece", lambda m: m.rebuilt(self.wordpiece_class))
        return super().wordpiece_encode(rebuilt, text)


class _ShortestMatch(WordPiece):
    def candidate_ends(self, word: str, start: int) -> range:
        return range(start + 1, len(word) + 1)  # bug: shortest first


class WordPieceShortestMatch(_WordPieceMutant):
    """Takes the shortest vocabulary entry at each position."""

    breaks = ("TOK-WP-01", "TOK-WP-02", "TOK-WP-05")
    wordpiece_class = _ShortestMatch


class _NoPrefix(WordPiece):
    def spelled(self, word: str, start: int, end: int) -> str:
        return word[start:end]  # bug: no "##" after the first piece


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
    def pieces(self, word: str) -> list[tuple[str, int, int]] | None:
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
    def pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        if len(word) >= self.max_input_chars_per_word:  # bug: >= instead of >
            return None
        return super().pieces(word)


class MaxCharsOffByOne(_WordPieceMutant):
    """Makes a word of exactly max_input_chars_per_word characters [UNK]."""

    breaks = ("TOK-WP-04", "TOK-WP-05")
    wordpiece_class = _MaxCharsOffByOne
