"""Shared helpers and vocabularies of the tokenizer suite (test_tokenizers*.py).

The tests are split along reference/tokenizers: test_tokenizers.py (general clauses),
test_tokenizers_byte_bpe.py, test_tokenizers_wordpiece.py, test_tokenizers_sentencepiece.py and
test_tokenizers_templates.py; what several of them use is here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from specformer.conformance.cache import cached, key_of
from specformer.conformance.evidence import note
from specformer.conformance.numerics import fail
from specformer.conformance.plugin import not_applicable
from specformer.conformance.suite import tokenizer_inputs as inputs
from specformer.conformance.suite.tokenizer_inputs import (
    BERT_SPECIAL_TOKENS,
    TEKKEN_FILES,
    wordpiece_model,
)
from specformer.reference.tokenizers import byte_bpe, wordpiece
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece

PATTERN_NAMES = ("gpt2", "cl100k", "cl100k-tiktoken", "o200k")
# A WordPiece vocabulary in which every ASCII letter and digit is a token with and without "##",
# so any ASCII word is one token per character: lengths under control for the template tests.
LETTERS = [*"abcdefghijklmnopqrstuvwxyz0123456789"]
PUNCTUATION = [*"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "¿", "«", "»", "€"]
LETTER_TOKENS = [*LETTERS, *(f"##{c}" for c in LETTERS), *PUNCTUATION, "é", "##é"]


# ---------------------------------------------------------------------------------------
# Helpers


def need(value: Any, what: str) -> Any:
    """The value, or mark the test n/a when the package that provides it is not installed."""
    if value is None:
        not_applicable(f"{what} is not available here (its package is not installed)")
    return value


def bert_config(adapter, **flags: object) -> BertNormalizerConfig:
    """BertNormalizer switches with the variant switches of the adapter's TOK-BERT-05 declaration."""
    return wordpiece.variant(adapter.variant("TOK-BERT-05"), **flags)


@functools.cache
def _letters(variant: str, pad_last: bool, max_chars: int, specials: tuple[str, ...]) -> WordPiece:
    config = wordpiece.variant(variant)
    return wordpiece_model(
        LETTER_TOKENS, normalizer=config, specials=specials, pad_last=pad_last, max_input_chars_per_word=max_chars
    )


def letters_model(
    adapter, *, pad_last: bool = False, max_chars: int = 100, specials: Sequence[str] = BERT_SPECIAL_TOKENS
) -> WordPiece:
    return _letters(adapter.variant("TOK-BERT-05"), pad_last, max_chars, tuple(specials))


def token_bytes(model: ByteLevelBPE, ids: Sequence[int]) -> list[bytes]:
    return [model.decode_bytes([i]) for i in ids]


def ids_of(model: WordPiece, *tokens: str) -> list[int]:
    return [model.vocab[t] for t in tokens]


def short(value: Any, limit: int = 300, start: int = 0) -> Any:
    """Evidence-sized: long strings are cut, and long lists are shown from `start` (a window of 24
    items, with a note of what was left out); tuples are cut element by element."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    if isinstance(value, tuple):
        return tuple(short(v, limit, start) for v in value)
    if isinstance(value, list) and len(value) > 24:
        begin = max(0, min(start, len(value) - 24))
        return [*(["..."] if begin else []), *value[begin : begin + 24], f"... ({len(value)} items, from {begin})"]
    return value


def first_difference(expected: Any, actual: Any) -> int:
    """Index of the first differing item of two id lists, or of the id lists inside two tuples."""
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        return next((first_difference(e, a) for e, a in zip(expected, actual, strict=False) if e != a), 0)
    if isinstance(expected, list) and isinstance(actual, list):
        return next((i for i, (e, a) in enumerate(zip(expected, actual, strict=False)) if e != a), len(expected))
    return 0


def check(actual: Any, expected: Any, what: str, **evidence: Any) -> None:
    if actual != expected:
        fail(f"{what}: got {short(actual)!r}, expected {short(expected)!r}", **evidence)


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or a description of the exception it raised (compared like a result)."""
    try:
        return call()
    except Exception as exc:
        return f"raised {type(exc).__name__}: {str(exc)[:200]}"


def check_agreement(
    request: pytest.FixtureRequest,
    vocabulary: str,
    texts: Sequence[str],
    expected: Sequence[Any],
    actual_of: Callable[[str], Any],
    explain: Callable[[str], str],
) -> None:
    """Compare the adapter with the reference on every text; record the agreement as evidence and
    fail when any text differs. `explain(text)` names the clause behind the first difference."""
    agreeing, first = 0, None
    for text, want in zip(texts, expected, strict=True):
        got = outcome(lambda: actual_of(text))  # noqa: B023 (called at once)
        if got == want:
            agreeing += 1
        elif first is None:
            index = first_difference(want, got)
            first = {"text": short(text), "index": index, "_text": text}
            first |= {"expected": short(want, start=index - 4), "actual": short(got, start=index - 4)}
    entry: dict[str, Any] = {
        "vocabulary": vocabulary,
        "strings": len(texts),
        "agreeing": agreeing,
        "percent": round(100.0 * agreeing / max(len(texts), 1), 3),
        "first_difference": None,
        "clause": None,
    }
    if first is not None:
        text = first.pop("_text")
        entry["first_difference"] = first
        entry["clause"] = outcome(lambda: explain(text))
    note("agreement", entry)
    if first is not None:
        fail(
            f"{vocabulary}: {len(texts) - agreeing} of {len(texts)} strings differ from the reference; first: "
            f"{first['text']!r}: expected {first['expected']!r}, got {first['actual']!r} "
            f"(explained by {entry['clause']})",
            agreement=entry,
        )


def check_round_trip_agreement(
    request: pytest.FixtureRequest,
    vocabulary: str,
    model: Any,
    encode: Callable[[Any, str], Any],
    decode: Callable[[Any, list[int]], Any],
    expected: Sequence[tuple[list[int], str]],
    explain: Callable[[str], str],
) -> None:
    """check_agreement of (ids, text) on every stable corpus text: the adapter's encoding of the text
    and its decoding of the reference's ids, against the reference's `expected` pairs."""
    texts = inputs.stable_texts()
    ids_of_text = {t: ids for t, (ids, _) in zip(texts, expected, strict=True)}
    check_agreement(
        request, vocabulary, texts, expected, lambda t: (encode(model, t), decode(model, ids_of_text[t])), explain
    )


# ---------------------------------------------------------------------------------------
# Vocabularies used by several tests


@functools.cache
def small_merges() -> tuple[tuple[bytes, bytes], ...]:
    """300 merges the reference learns (first-occurrence ties, gpt2 pattern) from 20 KB of the corpus;
    trained once per machine (conformance/cache.py: a second in pure Python)."""
    text = "".join(inputs.corpus_texts()[:400])[:20_000]
    return cached("small-merges", key_of(text, inputs.regex_key()), lambda: tuple(byte_bpe.train(text, 300, "gpt2")))


@functools.cache
def small_bpe() -> ByteLevelBPE:
    """A byte-level BPE in the reference's format from small_merges: always available, unlike tekken."""
    return ByteLevelBPE.from_merges(small_merges(), "gpt2")


def real_or_small_bpe() -> list[tuple[str, ByteLevelBPE]]:
    models = [("small trained", small_bpe())]
    tekken = inputs.tekken(TEKKEN_FILES[-1])
    return models + ([(TEKKEN_FILES[-1], tekken)] if tekken is not None else [])


def wordpiece_reference(model: WordPiece, text: str, policy: str = "text") -> Any:
    """The reference's (ids, offsets), or "raised ValueError" (special spellings under `raise`)."""
    try:
        tokens = model.tokens_with_offsets(text, special_policy=policy)
    except ValueError:
        return "raised ValueError"
    return [model.vocab[t] for t, _ in tokens], [span for _, span in tokens]


def wordpiece_outcome(encode: Callable[..., Any], model: WordPiece, text: str) -> Any:
    """The adapter's (ids, offsets), or "raised ValueError" whatever the message."""
    result = outcome(lambda: encode(model, text))
    return "raised ValueError" if str(result).startswith("raised ValueError") else result
