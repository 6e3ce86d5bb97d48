"""Tokenizer mutants of offsets, special tokens, templates, truncation and padding
(TOK-OFF, TOK-SPECIAL, TOK-POST, TOK-TRUNC, TOK-PAD)."""

from __future__ import annotations

from collections.abc import Callable

from specformer.conformance.mutants.tokenizers.base import (
    TokenizerMutant,
)
from specformer.reference.tokenizers import templates, wordpiece
from specformer.reference.tokenizers.templates import Encoding
from specformer.reference.tokenizers.wordpiece import WordPiece

# ---------------------------------------------------------------------------------------
# Offsets


class OffsetsIntoNormalizedText(TokenizerMutant):
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


class SepOffsetAtEndOfText(TokenizerMutant):
    """Gives the final [SEP] the empty span at the end of the text instead of (0, 0)."""

    breaks = ("TOK-OFF-02",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        encodings = super().encode_batch(model, inputs, **options)
        for item, encoding in zip(inputs, encodings, strict=True):
            last = len(item if isinstance(item, str) else item[-1])
            real = [i for i, m in enumerate(encoding.attention_mask) if m]
            encoding.offsets[real[-1]] = (last, last)  # bug
        return encodings


class PairOffsetsShifted(TokenizerMutant):
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


class SpecialsShortestFirst(TokenizerMutant):
    """Matches overlapping special tokens shortest first, as tiktoken's alternation happened to."""

    breaks = ("TOK-SPECIAL-01",)

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        rebuilt = self._derived(model, "specials", lambda m: m.rebuilt(_ShortestSpecials))
        return super().wordpiece_encode(rebuilt, text)


class SpecialStringsAsText(TokenizerMutant):
    """Tokenizes special-token spellings as text while declaring `match`."""

    breaks = ("TOK-SPECIAL-02", "TOK-SPECIAL-01", "TOK-WP-05")

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        tokens = model.tokens_with_offsets(text, special_policy="text")  # bug
        return [model.vocab[t] for t, _ in tokens], [span for _, span in tokens]


def _retemplate(encodings: list[Encoding], change: Callable[[Encoding], None]) -> list[Encoding]:
    for encoding in encodings:
        change(encoding)
    return encodings


class ClsAndSepSwapped(TokenizerMutant):
    """Looks the ids of [CLS] and [SEP] up the wrong way round (both are in every template)."""

    breaks = ("TOK-POST-01", "TOK-GEN-04", "TOK-POST-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        cls, sep = model.vocab["[CLS]"], model.vocab["[SEP]"]
        swap = {cls: sep, sep: cls}

        def change(e: Encoding) -> None:
            template = [bool(s and m) for s, m in zip(e.special_tokens_mask, e.attention_mask, strict=True)]
            e.ids = [swap.get(i, i) if t else i for i, t in zip(e.ids, template, strict=True)]  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class TokenTypesAllZero(TokenizerMutant):
    """Gives every token type id 0, pairs included."""

    breaks = ("TOK-POST-02", "TOK-POST-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.token_type_ids = [0] * len(e)  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class SpecialMaskZeroOnPads(TokenizerMutant):
    """Marks only template tokens in special_tokens_mask, not pads."""

    breaks = ("TOK-POST-03", "TOK-PAD-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.special_tokens_mask = [
                s if m else 0 for s, m in zip(e.special_tokens_mask, e.attention_mask, strict=True)
            ]

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class EmptyPairDropsSep(TokenizerMutant):
    """Takes a pair with an empty second text for a single sequence (transformers#26123)."""

    breaks = ("TOK-POST-04", "TOK-GEN-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        inputs = [item[0] if not isinstance(item, str) and item[1] == "" else item for item in inputs]  # bug
        return super().encode_batch(model, inputs, **options)


# ---------------------------------------------------------------------------------------
# Truncation and padding


class _LengthsMutant(TokenizerMutant):
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


class PadToMultipleIgnored(TokenizerMutant):
    """Pads to the longest but ignores pad_to_multiple_of."""

    breaks = ("TOK-PAD-01",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        return super().encode_batch(model, inputs, **{**options, "pad_to_multiple_of": None})  # bug


class PaddingAlwaysRight(TokenizerMutant):
    """Pads on the right whatever padding_side says."""

    breaks = ("TOK-PAD-02", "TOK-PAD-03", "TOK-PAD-04")

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        return super().encode_batch(model, inputs, **{**options, "padding_side": "right"})  # bug


class AttentionOnPads(TokenizerMutant):
    """Sets the attention mask to 1 on pads too."""

    breaks = ("TOK-PAD-03",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.attention_mask = [1] * len(e)  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)


class PadIdZero(TokenizerMutant):
    """Pads with id 0, where BERT vocabularies happen to keep [PAD]."""

    breaks = ("TOK-PAD-04",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        def change(e: Encoding) -> None:
            e.ids = [i if m else 0 for i, m in zip(e.ids, e.attention_mask, strict=True)]  # bug

        return _retemplate(super().encode_batch(model, inputs, **options), change)
