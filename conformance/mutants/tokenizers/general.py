"""Tokenizer mutants of the general clauses (TOK-GEN)."""

from __future__ import annotations

from specformer.conformance.mutants.tokenizers.base import (
    ProtectingMutant,
    TokenizerMutant,
    in_drift,
)
from specformer.reference.tokenizers import sentencepiece as spm
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.sentencepiece import SentencePieceModel
from specformer.reference.tokenizers.templates import Encoding

# ---------------------------------------------------------------------------------------
# General


class StaleUnicodeTables(ProtectingMutant):
    """BERT normalisation from character tables older than Unicode 14: code points assigned or
    recategorised since (U+061D, U+0898, ...) are plain letters, as in HF tokenizers' tables."""

    breaks = ("TOK-GEN-01",)

    def hidden(self, char: str) -> bool:
        return in_drift(char)  # bug


class BatchOffsetsRunOn(TokenizerMutant):
    """Encodes a batch as one joined text, so each input's offsets count the texts before it."""

    breaks = ("TOK-GEN-02",)

    def encode_batch(self, model, inputs, **options) -> list[Encoding]:
        encodings = super().encode_batch(model, inputs, **options)
        shift = 0
        for item, encoding in zip(inputs, encodings, strict=True):
            encoding.offsets = [(s + shift, e + shift) if e else (s, e) for s, e in encoding.offsets]  # bug
            shift += sum(map(len, (item,) if isinstance(item, str) else item)) + 1
        return encodings


class SurrogatesReplaced(TokenizerMutant):
    """Replaces lone surrogates with U+FFFD before encoding, as tiktoken does."""

    breaks = ("TOK-GEN-03",)

    @staticmethod
    def _repair(text: str) -> str:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return super().bpe_encode(model, self._repair(text))

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        return super().sentencepiece_encode(model, self._repair(text))


class EmptyTextGetsDummyPrefix(TokenizerMutant):
    """Puts SentencePiece's dummy prefix in front of text even when nothing is left to prefix."""

    breaks = ("TOK-GEN-04", "TOK-SP-03", "TOK-SP-10", "TOK-UNI-05")

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        ids = super().sentencepiece_encode(model, text)
        space = self.sentencepiece_tokenizer(model).piece_to_id.get(spm.SPACE_SYMBOL)
        add = model.normalizer_spec.add_dummy_prefix and space is not None
        return ids if ids or not add else [space]  # bug
