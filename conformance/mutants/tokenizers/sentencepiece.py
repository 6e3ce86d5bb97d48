"""Tokenizer mutants of SentencePiece and Unigram (TOK-SP, TOK-UNI)."""

from __future__ import annotations

import dataclasses
from typing import Any

import regex

from specformer.conformance.mutants.tokenizers.base import (
    TokenizerMutant,
)
from specformer.reference.tokenizers import sentencepiece as spm
from specformer.reference.tokenizers.sentencepiece import PieceType, SentencePieceModel

# ---------------------------------------------------------------------------------------
# SentencePiece


class _SentencePieceMutant(TokenizerMutant):
    """Changes the reference tokenizer built for a model, or the model it is built from."""

    def change_model(self, model: SentencePieceModel) -> SentencePieceModel:
        return model

    def change_tokenizer(self, tokenizer: Any) -> None:
        pass

    def build(self, model: SentencePieceModel) -> spm.Unigram | spm.SentencePieceBPE:
        return spm.tokenizer(model)

    def sentencepiece_tokenizer(self, model: SentencePieceModel) -> Any:
        cache = self.__dict__.setdefault("_mutated", {})
        if id(model) not in cache:
            changed = self.change_model(model)
            tokenizer = self.build(changed)
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


class DecodeKeepsDummySpace(TokenizerMutant):
    """Does not drop the dummy prefix's space when decoding."""

    breaks = ("TOK-SP-07", "TOK-SP-08", "TOK-SP-10", "TOK-UNI-05")

    def sentencepiece_decode(self, model: SentencePieceModel, ids: list[int]) -> str:
        def keep(m: SentencePieceModel) -> SentencePieceModel:
            spec = dataclasses.replace(m.normalizer_spec, add_dummy_prefix=False, remove_extra_whitespaces=False)
            return dataclasses.replace(m, normalizer_spec=spec)  # bug: decoding as if there were no prefix

        return super().sentencepiece_decode(self._derived(model, "keep", keep), ids)


class ControlSymbolsMatched(TokenizerMutant):
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
                score = spm.f32(self.piece_score(piece_id) + best[start][0])
                if best[end] is None or score >= best[end][0]:  # bug: >= lets later starts win ties
                    best[end] = [score, start, piece_id]
                has_single |= end == start + 1
            if not has_single:
                score = spm.f32(self.unk_score + best[start][0])
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

    def build(self, model: SentencePieceModel) -> spm.Unigram | spm.SentencePieceBPE:
        unigram = model.trainer_spec.model_type == spm.ModelType.UNIGRAM
        return self.unigram_class(model) if unigram else spm.tokenizer(model)


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
