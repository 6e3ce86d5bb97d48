"""Conformance tests for spec/tokenizers.md, byte-level BPE (reference/tokenizers/byte_bpe.py).

Bytes and pre-tokenization (TOK-BL), merges (TOK-BPE), training (TOK-TRAIN).

The kinds of test and the evidence they record are described in test_tokenizers.py.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specformer.conformance.cache import cached, key_of
from specformer.conformance.numerics import every_case, fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite import checks
from specformer.conformance.suite import tokenizer_inputs as inputs
from specformer.conformance.suite.tokenizer_checks import (
    PATTERN_NAMES,
    check,
    check_round_trip_agreement,
    need,
    real_or_small_bpe,
    small_bpe,
    small_merges,
    token_bytes,
)
from specformer.conformance.suite.tokenizer_inputs import (
    TEKKEN_FILES,
    byte_level,
    byte_level_ranks,
    pattern_text,
    scalar_text,
)
from specformer.reference.tokenizers import byte_bpe
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE

# ---------------------------------------------------------------------------------------
# Byte-level BPE: bytes and pre-tokenization


def _gpt2_table() -> dict[int, str]:
    """TOK-BL-01 written out from the clause (not from the reference)."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(0x100 + n) for n, b in enumerate(others)}}


@clause("TOK-BL-01")
def test_byte_to_character_table(adapter) -> None:
    table = dict(require(adapter, "bytes_to_unicode")())
    expected = _gpt2_table()
    check(sorted(table), list(range(256)), "the table's bytes")
    with every_case("bytes_to_unicode known characters") as cases:
        for byte, char in [(0x20, "Ġ"), (0x0A, "Ċ"), (0x00, "Ā"), (0xAD, "Ń"), (0x41, "A"), (0xA0, "ł"), (0xFF, "ÿ")]:
            with cases.case(f"0x{byte:02X}"):
                check(table[byte], char, f"bytes_to_unicode()[0x{byte:02X}]")
    wrong = {b: (table[b], expected[b]) for b in range(256) if table[b] != expected[b]}
    check(wrong, {}, "bytes whose character differs (got, expected)")


@clause("TOK-BL-02")
@pytest.mark.parametrize("pattern", PATTERN_NAMES)
@given(text=pattern_text)
def test_chunks_tile_the_text(adapter, pattern: str, text: str) -> None:
    chunks = require(adapter, "pretokenize")(text, pattern)
    check("".join(chunks), text, f"concatenated {pattern} chunks", chunks=chunks)
    check([c for c in chunks if not c], [], f"empty {pattern} chunks", chunks=chunks)


def pattern_examples(clause_id: str) -> list[tuple[str, str, list[str]]]:
    """The clause's worked examples from spec/tokenizers.md, as (pattern, text, chunks)."""
    return [(e.data["pattern"], e.data["text"], e.data["chunks"]) for e in checks.registry()[clause_id].examples]


def check_pattern_examples(adapter, clause_id: str) -> None:
    """Pre-tokenize each worked example of the clause and compare with the chunks the spec gives."""
    pretokenize = require(adapter, "pretokenize")
    for pattern, text, chunks in pattern_examples(clause_id):
        check(pretokenize(text, pattern), chunks, f"{pattern} chunks of {text!r} (spec example)")


@clause("TOK-BL-03")
@pytest.mark.parametrize(("pattern", "text", "chunks"), pattern_examples("TOK-BL-03"))
def test_named_patterns_known_answers(adapter, pattern: str, text: str, chunks: list[str]) -> None:
    check(require(adapter, "pretokenize")(text, pattern), chunks, f"{pattern} chunks of {text!r}")


@clause("TOK-BL-03")
@pytest.mark.parametrize("pattern", PATTERN_NAMES)
@given(text=pattern_text)
def test_named_patterns_equal_their_expressions(adapter, pattern: str, text: str) -> None:
    check(require(adapter, "pretokenize")(text, pattern), byte_bpe.pretokenize(text, pattern), f"{pattern} chunks")


@clause("TOK-BL-04")
def test_cl100k_forms_differ_at_the_end_of_text(adapter) -> None:
    check_pattern_examples(adapter, "TOK-BL-04")  # at the end of the text they differ
    pretokenize = require(adapter, "pretokenize")
    for text in ["x\r\ty", "a \n\tb c"]:  # mid-text they agree
        check(pretokenize(text, "cl100k-tiktoken"), pretokenize(text, "cl100k"), f"both cl100k forms on {text!r}")


@clause("TOK-BL-05")
def test_a_merge_across_a_chunk_boundary_never_fires(adapter) -> None:
    encode = require(adapter, "bpe_encode")
    model = byte_level([("a", "Ġ"), ("Ġ", "b"), ("b", "Ġ")])  # "a " and "b " exist only across chunks
    for text, tokens in [
        ("a b", [b"a", b" b"]),
        ("a b a", [b"a", b" b", b" ", b"a"]),
        ("ab  b", [b"a", b"b", b" ", b" b"]),
    ]:
        check(
            token_bytes(model, encode(model, text)),
            tokens,
            f"gpt2 chunks of {text!r} with the merges (a, ' ') (' ', b)",
        )


@clause("TOK-BL-05")
@given(text=pattern_text)
def test_tokens_never_cross_chunks(adapter, text: str) -> None:
    encode = require(adapter, "bpe_encode")
    for name, model in real_or_small_bpe():
        whole = encode(model, text)
        by_chunk = [i for chunk in byte_bpe.pretokenize(text, model.pattern) for i in encode(model, chunk)]
        check(whole, by_chunk, f"{name}: ids of {text!r} against its chunks encoded one by one")


ROUND_TRIP_EXAMPLES = ["Hello , world . It 's", "a .", " ' s", "  \t\n ", "x" * 300, "👩\u200d💻 ünïcödé 中文 \x00\x7f"]


def _check_round_trip(adapter, text: str) -> None:
    encode, decode = require(adapter, "bpe_encode"), require(adapter, "bpe_decode")
    for name, model in real_or_small_bpe():
        ids = encode(model, text)
        check(decode(model, ids), text, f"{name}: decode(encode({text!r}))")
        check(b"".join(token_bytes(model, ids)), text.encode(), f"{name}: bytes of encode({text!r})")


@clause("TOK-BL-06")
@pytest.mark.parametrize("text", ROUND_TRIP_EXAMPLES, ids=range(len(ROUND_TRIP_EXAMPLES)))
def test_decode_inverts_encode_known_texts(adapter, text: str) -> None:
    _check_round_trip(adapter, text)


@clause("TOK-BL-06")
@given(text=scalar_text)
def test_decode_inverts_encode(adapter, text: str) -> None:
    _check_round_trip(adapter, text)


@clause("TOK-BL-07")
def test_invalid_utf8_decodes_to_replacement_characters(adapter) -> None:
    decode = require(adapter, "bpe_decode")
    model = small_bpe()

    def single_byte_ids(data: bytes) -> list[int]:
        return [model.encode_chunk(bytes([b]))[0] for b in data]

    for data in [
        b"\xe4\xbd\xa0",
        b"\xe4\xbd",
        b"a\xffb",
        b"\xf0\x9f\x98a",
        b"\xed\xa0\x80",
        b"\xc0\xaf",
        b"\xe4\xbd\xa0\xe5",
    ]:
        expected = data.decode("utf-8", errors="replace")
        check(decode(model, single_byte_ids(data)), expected, f"decode of the single-byte ids of {data!r}")


# ---------------------------------------------------------------------------------------
# Byte-level BPE: merges


@clause("TOK-BPE-01")
def test_lowest_rank_merges_first(adapter) -> None:
    encode = require(adapter, "bpe_encode")
    for reversed_ids in (False, True):
        model = byte_level([("b", "c"), ("a", "b")], merged_ids_reversed=reversed_ids)
        check(token_bytes(model, encode(model, "abc")), [b"a", b"bc"], f"'abc', merged ids reversed={reversed_ids}")
        model = byte_level([("c", "d"), ("a", "b"), ("ab", "cd"), ("b", "c")], merged_ids_reversed=reversed_ids)
        got = token_bytes(model, encode(model, "abcd"))
        check(got, [b"abcd"], f"'abcd' with (b, c) ranked last, merged ids reversed={reversed_ids}")


@clause("TOK-BPE-02")
def test_leftmost_occurrence_merges_first(adapter) -> None:
    encode = require(adapter, "bpe_encode")
    model = byte_level([("a", "a")])
    with every_case("leftmost merges") as cases:
        for text, tokens in [("aaa", [b"aa", b"a"]), ("aaaaa", [b"aa", b"aa", b"a"]), ("baaa", [b"b", b"aa", b"a"])]:
            with cases.case(repr(text)):
                check(token_bytes(model, encode(model, text)), tokens, f"{text!r} with the merge (a, a)")
    model = byte_level([("a", "b"), ("b", "a")])
    check(token_bytes(model, encode(model, "bab")), [b"b", b"ab"], "'bab' with (a, b) before (b, a)")
    model = byte_level([("b", "a"), ("a", "b")])
    check(token_bytes(model, encode(model, "aba")), [b"a", b"ba"], "'aba' with (b, a) before (a, b)")


@functools.cache
def _well_formed_forms() -> tuple[ByteLevelBPE, ByteLevelBPE]:
    """small_bpe's merges as pair ranks with merged ids in reverse merge order, and as
    concatenation ranks (ids in merge order); a merge that remakes an existing token is dropped."""
    merges, seen = [], set()
    for left, right in small_merges():
        if left + right not in seen:
            seen.add(left + right)
            merges.append((left, right))
    token_bytes_ = {b: bytes([b]) for b in range(256)}
    id_of = {bytes([b]): b for b in range(256)}
    for i, (left, right) in enumerate(merges):
        token_bytes_[256 + len(merges) - 1 - i] = left + right
        id_of[left + right] = 256 + len(merges) - 1 - i
    pair_ranks = {(id_of[left], id_of[right]): (i, id_of[left + right]) for i, (left, right) in enumerate(merges)}
    pair_form = ByteLevelBPE(token_bytes_, "gpt2", merges=pair_ranks)
    ranks = {bytes([b]): b for b in range(256)} | {left + right: 256 + i for i, (left, right) in enumerate(merges)}
    return pair_form, ByteLevelBPE.from_tiktoken_ranks(ranks, "gpt2")


def _check_forms_agree(adapter, texts: Sequence[str]) -> None:
    encode = require(adapter, "bpe_encode")
    pair_form, concatenation_form = _well_formed_forms()
    for text in texts:
        by_pairs = token_bytes(pair_form, encode(pair_form, text))
        check(by_pairs, token_bytes(concatenation_form, encode(concatenation_form, text)), f"tokens of {text!r}")


@clause("TOK-BPE-03")
def test_pair_and_concatenation_forms_agree_on_corpus_text(adapter) -> None:
    _check_forms_agree(adapter, inputs.corpus_texts()[:60])


@clause("TOK-BPE-03")
@given(text=scalar_text)
def test_pair_and_concatenation_forms_agree_on_well_formed_tables(adapter, text: str) -> None:
    _check_forms_agree(adapter, [text])


@clause("TOK-BPE-04")
def test_ill_formed_tables_are_applied_in_the_form_given(adapter) -> None:
    encode = require(adapter, "bpe_encode")
    pairs = byte_level([("a", "b"), ("b", "c"), ("a", "bc")])
    check(token_bytes(pairs, encode(pairs, "abc")), [b"ab", b"c"], "pair ranks (a,b) (b,c) (a,bc) on 'abc'")
    for lookup in (True, False):
        ranks = byte_level_ranks(["ab", "bc", "abc"], whole_chunk_lookup=lookup)
        got = token_bytes(ranks, encode(ranks, "abc"))
        check(got, [b"abc"], f"concatenation ranks ab < bc < abc on 'abc', whole-chunk lookup {lookup}")


@clause("TOK-BPE-05")
def test_whole_chunk_lookup(adapter) -> None:
    encode = require(adapter, "bpe_encode")
    with_lookup = byte_level_ranks(["abc", "xyz"], whole_chunk_lookup=True)
    without = byte_level_ranks(["abc", "xyz"], whole_chunk_lookup=False)
    check(token_bytes(with_lookup, encode(with_lookup, "abc")), [b"abc"], "'abc' with whole-chunk lookup")
    check(token_bytes(with_lookup, encode(with_lookup, "abc xyz")), [b"abc", b" ", b"x", b"y", b"z"], "'abc xyz'")
    check(token_bytes(without, encode(without, "abc")), [b"a", b"b", b"c"], "'abc' without whole-chunk lookup")


def _bpe_explanation(adapter, model: ByteLevelBPE, text: str) -> str:
    """The clause behind a byte-level difference: special-token spellings matched in text, chunking,
    chunk independence, or merging. Specials come first: a matched special spans chunks, so it would
    otherwise be blamed on chunking."""
    encode = adapter.operation("bpe_encode")
    specials = set(model.special_tokens.values())
    if inputs.has_special_spelling(text, list(model.special_tokens)) and specials & set(encode(model, text)):
        return "TOK-SPECIAL-02"
    chunks = byte_bpe.pretokenize(text, model.pattern)
    if encode(model, text) != [i for chunk in chunks for i in encode(model, chunk)]:
        return "TOK-BL-05"
    for chunk in chunks:
        if encode(model, chunk) != model.encode(chunk):
            data = chunk.encode()
            if model.whole_chunk_lookup and len(model.encode_chunk(data)) == 1:
                return "TOK-BPE-05"
            return "TOK-BPE-02" if any(a == b for a, b in itertools.pairwise(data)) else "TOK-BPE-01"
    return "TOK-BL-06"


@clause("TOK-BPE-06")
@pytest.mark.parametrize("name", TEKKEN_FILES)
def test_tekken_vocabularies_agree(adapter, name: str, request) -> None:
    encode, decode = require(adapter, "bpe_encode"), require(adapter, "bpe_decode")
    model = need(inputs.tekken(name), name)
    explain = functools.partial(_bpe_explanation, adapter, model)
    check_round_trip_agreement(request, name, model, encode, decode, _tekken_expected(name), explain)


@functools.cache
def _tekken_expected(name: str) -> list[tuple[list[int], str]]:
    """The reference's (ids, decoding) of every stable corpus text, once per machine (cache.py)."""

    def compute() -> list[tuple[list[int], str]]:
        model = inputs.fresh_tekken(name)  # never the object the adapters were given
        return [(model.encode(t), model.decode(model.encode(t))) for t in inputs.stable_texts()]

    key = key_of(inputs.file_key("mistral_common", "data", name), inputs.regex_key(), inputs.stable_texts())
    return cached("tekken-expected", key, compute)


# ---------------------------------------------------------------------------------------
# Byte-level BPE: training


def _pair_counts(chunks: list[list[bytes]]) -> dict[tuple[bytes, bytes], int]:
    """Adjacent pairs inside chunks, in order of first occurrence (chunk order, then position)."""
    counts: dict[tuple[bytes, bytes], int] = {}
    for chunk in chunks:
        for pair in itertools.pairwise(chunk):
            counts[pair] = counts.get(pair, 0) + 1
    return counts


def _training_states(text: str, merges: Sequence[tuple[bytes, bytes]], pattern: str = "gpt2"):
    """(step, pair counts before the merge, chunks) for each merge, training by the clauses: pairs
    are counted inside the pattern's chunks; symbols are byte strings."""
    chunks = [[bytes([b]) for b in chunk.encode()] for chunk in byte_bpe.pretokenize(text, pattern)]
    for step, (left, right) in enumerate(merges):
        yield step, _pair_counts(chunks), chunks
        chunks = [_merge_pair_bytes(chunk, left, right) for chunk in chunks]
    yield len(merges), _pair_counts(chunks), chunks


def _merge_pair_bytes(chunk: list[bytes], left: bytes, right: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(chunk):
        if i + 1 < len(chunk) and chunk[i] == left and chunk[i + 1] == right:
            out.append(left + right)
            i += 2
        else:
            out.append(chunk[i])
            i += 1
    return out


@clause("TOK-TRAIN-01")
def test_each_merge_is_a_most_frequent_pair_within_chunks(adapter) -> None:
    train = require(adapter, "bpe_train")
    # Across chunks, (a, " ") would tie with (" ", b) and come first; within chunks only (" ", b) is most frequent.
    check(train("a b a b", 2, "gpt2")[:1], [(b" ", b"b")], "first merge of train('a b a b', 2, 'gpt2')")
    check(train("abab cdcd cd", 2, "gpt2")[:1], [(b"c", b"d")], "first merge of train('abab cdcd cd', 2, 'gpt2')")


@clause("TOK-TRAIN-01")
@given(text=pattern_text, num_merges=st.integers(1, 12))
def test_training_merges_a_most_frequent_pair_each_step(adapter, text: str, num_merges: int) -> None:
    merges = require(adapter, "bpe_train")(text, num_merges, "gpt2")
    for step, counts, _ in _training_states(text, merges[:num_merges]):
        if step < len(merges) and counts.get(merges[step], 0) != max(counts.values(), default=0):
            fail(
                f"train({text!r}, {num_merges}): merge {step} {merges[step]} is seen {counts.get(merges[step], 0)} "
                f"times inside chunks; the most frequent pair is seen {max(counts.values(), default=0)} times"
            )


def check_training_examples(adapter, clause_id: str) -> None:
    """Train on each worked example of the clause (spec/tokenizers.md) that holds for the adapter's
    variant and compare the first merges with the ones the spec gives (how many merges come back is
    TOK-TRAIN-03's business)."""
    train = require(adapter, "bpe_train")
    for example in checks.spec_examples(adapter, clause_id):
        data = example.data
        expected = [(left.encode(), right.encode()) for left, right in data["first_merges"]]
        merges = train(data["text"], data["num_merges"], data["pattern"])[: len(expected)]
        check(merges, expected, f"spec example {example.source}: first merges of {data['text']!r}")


@clause("TOK-TRAIN-02")
def test_training_ties(adapter) -> None:
    check_training_examples(adapter, "TOK-TRAIN-02")


@clause("TOK-TRAIN-02")
@given(text=pattern_text, num_merges=st.integers(1, 10))
def test_training_equals_the_reference_with_ties(adapter, text: str, num_merges: int) -> None:
    """Where the adapter first parts from the reference, it must not have merged another most
    frequent pair (a less frequent one is TOK-TRAIN-01's failure; fewer merges TOK-TRAIN-03's)."""
    variant = adapter.variant("TOK-TRAIN-02")
    expected = byte_bpe.train(text, num_merges, "gpt2", tie_break=variant)
    merges = require(adapter, "bpe_train")(text, num_merges, "gpt2")
    step = next((i for i, (a, b) in enumerate(zip(merges, expected, strict=False)) if a != b), None)
    if step is None:
        return
    counts = next(c for i, c, _ in _training_states(text, expected) if i == step)
    top = max(counts.values(), default=0)
    if counts.get(merges[step]) == top:
        fail(
            f"train({text!r}, {num_merges}) ({variant}): merge {step} is {merges[step]}, the tie among the pairs seen "
            f"{top} times goes to {expected[step]}",
            tied=[p for p, c in counts.items() if c == top],
        )


@clause("TOK-TRAIN-03")
@given(text=pattern_text, num_merges=st.integers(0, 20))
def test_training_returns_the_merges_asked_for(adapter, text: str, num_merges: int) -> None:
    merges = require(adapter, "bpe_train")(text, num_merges, "gpt2")
    if len(merges) > num_merges:
        fail(f"train({text!r}, {num_merges}) returned {len(merges)} merges")
    made = {bytes([b]) for b in range(256)}
    for step, (left, right) in enumerate(merges):
        if not (isinstance(left, bytes) and isinstance(right, bytes) and left in made and right in made):
            fail(f"train({text!r}, {num_merges}): merge {step} {(left, right)!r} uses a part not made before it")
        made.add(left + right)
    if len(merges) < num_merges:
        *_, (_, counts, _) = _training_states(text, merges)
        if counts:
            fail(
                f"train({text!r}, {num_merges}) stopped after {len(merges)} merges with pairs left: {list(counts)[:5]}"
            )


@clause("TOK-TRAIN-03")
def test_training_stops_only_when_no_pair_is_left(adapter) -> None:
    train = require(adapter, "bpe_train")
    with every_case("merge counts") as cases:
        for text, num_merges, expected in [("aaabdaaabac", 3, 3), ("aaabdaaabac", 0, 0), ("ab ab", 5, 2), ("", 2, 0)]:
            with cases.case(repr(text)):
                check(
                    len(train(text, num_merges, "gpt2")), expected, f"number of merges of train({text!r}, {num_merges})"
                )
    merges = train("aaabdaaabac", 3, "gpt2")
    ids = ByteLevelBPE.from_merges(merges, "gpt2").encode("aaabdaaabac")
    check(max(ids) < 259 and 258 in ids, True, f"ids {ids}: merge i makes token 256 + i, the last one is used")
