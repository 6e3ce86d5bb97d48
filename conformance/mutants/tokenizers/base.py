"""What the tokenizer mutants share: the base class, which copies a model the suite built, and the
helpers that hide characters from the BERT normaliser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.conformance.suite.tokenizer_inputs import UNICODE_DRIFT_RANGES
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece


class TokenizerMutant(Mutant):
    capabilities = reference_capabilities("tokenizers", "TOK-")

    def _derived(self, obj: Any, key: str, derive: Callable[[Any], Any]) -> Any:
        """`derive(obj)` for a model the suite built (through the model's public seams: `rebuilt`,
        dataclasses.replace), computed once per object."""
        cache = self.__dict__.setdefault("_copies", {})
        if (key, id(obj)) not in cache:
            cache[(key, id(obj))] = (obj, derive(obj))  # obj is kept, so its id is not reused
        return cache[(key, id(obj))][1]


def protect(text: str, predicate: Callable[[str], bool]) -> tuple[str, Callable[[str], str]]:
    """Replace each character for which `predicate` holds by a Yi syllable (a plain letter to BERT:
    no case, no decomposition, not CJK, not punctuation), and return the text and the inverse."""
    chosen = sorted({c for c in text if predicate(c)})
    to_placeholder = {c: chr(0xA000 + i) for i, c in enumerate(chosen)}
    back = {v: k for k, v in to_placeholder.items()}
    return "".join(to_placeholder.get(c, c) for c in text), lambda s: "".join(back.get(c, c) for c in s)


def in_drift(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in UNICODE_DRIFT_RANGES)


def rank_of(model: ByteLevelBPE, left: int, right: int) -> tuple[int, int] | None:
    return model.merge_of(left, right)


class Restoring(WordPiece):
    """WordPiece that looks words up with the characters `protect` hid put back."""

    restore: Callable[[str], str]

    def pieces(self, word: str) -> list[tuple[str, int, int]] | None:
        return super().pieces(self.restore(word))


class ProtectingMutant(TokenizerMutant):
    """Runs the BERT steps with some characters hidden from the normaliser as plain letters, so
    they are neither deleted, split off, isolated nor stripped; words are looked up with them."""

    def hidden(self, char: str) -> bool:
        raise NotImplementedError

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        protected, restore = protect(text, self.hidden)
        return restore(super().bert_normalize(config, protected))

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        protected, restore = protect(text, self.hidden)
        restoring = self._derived(model, "restoring", lambda m: m.rebuilt(Restoring))
        restoring.restore = restore
        return super().wordpiece_encode(restoring, protected)
