"""Conformance tests for spec/tokenizers.md, templates (reference/tokenizers/templates.py).

Offsets (TOK-OFF), special tokens (TOK-SPECIAL), templates (TOK-POST), truncation (TOK-TRUNC),
padding (TOK-PAD).

The kinds of test and the evidence they record are described in test_tokenizers.py.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from specformer.conformance.numerics import fail
from specformer.conformance.plugin import clause, not_applicable, require
from specformer.conformance.suite import checks
from specformer.conformance.suite.checks import expect_value_error
from specformer.conformance.suite.tokenizer_checks import (
    check,
    ids_of,
    letters_model,
    outcome,
)
from specformer.conformance.suite.tokenizer_inputs import (
    BERT_SPECIAL_TOKENS,
    pair_lengths,
    scalar_text,
)
from specformer.reference.tokenizers import templates, wordpiece
from specformer.reference.tokenizers.templates import Encoding

# ---------------------------------------------------------------------------------------
# Offsets


@clause("TOK-OFF-01")
def test_offsets_are_code_point_spans_of_the_original_text(adapter) -> None:
    encode = require(adapter, "wordpiece_encode")
    model = letters_model(adapter)
    for text, spans in [
        ("Café x\x00y", [(0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (7, 8)]),
        ("😀 ab\u200bc", [(0, 1), (2, 3), (3, 4), (5, 6)]),
        # The stripped accent belongs to no token; under NFC (TOK-BERT-05 transformers-slow) it is
        # composed into "á" first, which spans both characters.
        ("a\u0301b q€r", {"tokenizers": [(0, 1), (2, 3), (4, 7)], "transformers-slow": [(0, 2), (2, 3), (4, 7)]}),
    ]:
        expected = spans[adapter.variant("TOK-BERT-05")] if isinstance(spans, dict) else spans
        check(encode(model, text)[1], expected, f"offsets of {text!r}")


@clause("TOK-OFF-01")
@given(text=scalar_text)
def test_offsets_cover_what_each_token_spells(adapter, text: str) -> None:
    """Each token's span, normalised on its own, spells the token (without "##"); spans stay in the
    text and never go back. Checked against the adapter's own tokens, whatever they are."""
    encode = require(adapter, "wordpiece_encode")
    model = letters_model(adapter)
    result = outcome(lambda: encode(model, text))
    if str(result).startswith("raised ValueError") and adapter.variant("TOK-SPECIAL-02") == "raise":
        return  # a special token's spelling under `raise`: TOK-SPECIAL-02's business
    ids, offsets = result
    check(len(offsets), len(ids), "one span per id")
    starts = [start for start, _ in offsets]
    if starts != sorted(starts) or any(not 0 <= s <= e <= len(text) for s, e in offsets):
        fail(f"offsets {offsets} of {text!r} decrease or leave [0, {len(text)}]")
    for token_id, (start, end) in zip(ids, offsets, strict=True):
        token = model.id_to_token[token_id]
        if token == model.unk_token or token in model.special_tokens:
            continue
        spelled = wordpiece.normalize(text[start:end], model.normalizer)
        check(spelled, token.removeprefix("##"), f"{token!r} at {(start, end)} in {text!r}: its span normalised")


@clause("TOK-OFF-02")
def test_template_tokens_and_pads_have_no_span(adapter) -> None:
    encodings = require(adapter, "encode_batch", "pairs")(
        letters_model(adapter), [("ab cd", "ef"), "a much longer text here"]
    )
    pair = encodings[0]
    content = [i for i, special in enumerate(pair.special_tokens_mask) if not special]
    check([pair.offsets[i] for i in range(len(pair)) if i not in content], [(0, 0)] * (len(pair) - len(content)),
          "offsets of template tokens and pads")  # fmt: skip
    check(pair.offsets[0], (0, 0), "offsets of [CLS]")


@clause("TOK-OFF-03")
def test_a_pair_has_offsets_per_sequence(adapter) -> None:
    encoding = require(adapter, "encode_batch", "pairs")(letters_model(adapter), [("ab cd", "ef g")])[0]
    # [CLS] a ##b c ##d [SEP] e ##f g [SEP]
    check(encoding.offsets[1:5], [(0, 1), (1, 2), (3, 4), (4, 5)], "offsets of A's tokens in ('ab cd', 'ef g')")
    check(encoding.offsets[6:9], [(0, 1), (1, 2), (3, 4)], "offsets of B's tokens in ('ab cd', 'ef g')")


# ---------------------------------------------------------------------------------------
# Special tokens


@clause("TOK-SPECIAL-01")
def test_overlapping_special_tokens_match_leftmost_longest(adapter) -> None:
    if adapter.variant("TOK-SPECIAL-02") != "match":
        not_applicable("special tokens in text are matched only under TOK-SPECIAL-02 'match'")
    encode = require(adapter, "wordpiece_encode")
    model = letters_model(adapter, specials=[*BERT_SPECIAL_TOKENS, "<|end", "<|endoftext|>", "[SEP]x"])
    for text, tokens in [
        ("a<|endoftext|>b", ["a", "<|endoftext|>", "b"]),
        ("<|end|>", ["<|end", "|", ">"]),
        ("[SEP]xy [SEP]", ["[SEP]x", "y", "[SEP]"]),
    ]:
        check(encode(model, text)[0], ids_of(model, *tokens), f"wordpiece_encode({text!r}), tokens {tokens}")


@clause("TOK-SPECIAL-02")
def test_special_token_strings_in_user_text(adapter) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter)
    variant = adapter.variant("TOK-SPECIAL-02")
    text = "hi [SEP] x"
    if variant == "raise":
        expect_value_error(lambda: encode_batch(model, [text]), "text", what=f"encode_batch([{text!r}]) ({variant})")
        expect_value_error(lambda: encode_batch(model, [("a", "[CLS]")]), "text", what="a special in B (raise)")
        return
    encoding = encode_batch(model, [text])[0]
    if variant == "match":
        content = ["h", "##i", "[SEP]", "x"]
        spans = [(0, 1), (1, 2), (3, 8), (9, 10)]
    else:
        content = ["h", "##i", "[", "s", "##e", "##p", "]", "x"]
        spans = [(0, 1), (1, 2), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (9, 10)]
    check(encoding.ids[1:-1], ids_of(model, *content), f"ids of the content of {text!r} ({variant})")
    check(encoding.special_tokens_mask, [1] + [0] * len(content) + [1], f"special_tokens_mask of {text!r}")
    check(encoding.token_type_ids, [0] * (len(content) + 2), f"token_type_ids of {text!r}")
    check(encoding.offsets[1:-1], spans, f"offsets of the content of {text!r} ({variant})")


# ---------------------------------------------------------------------------------------
# Templates


@clause("TOK-POST-01")
def test_bert_templates(adapter) -> None:
    encode_batch = require(adapter, "encode_batch", "pairs")
    model = letters_model(adapter)
    single, pair = encode_batch(model, ["ab", ("ab", "c d")])
    check(single.ids[:4], ids_of(model, "[CLS]", "a", "##b", "[SEP]"), "'ab'")
    check(pair.ids, ids_of(model, "[CLS]", "a", "##b", "[SEP]", "c", "d", "[SEP]"), "('ab', 'c d')")


@clause("TOK-POST-01")
@given(a=st.integers(0, 12), b=st.one_of(st.none(), st.integers(1, 12)))  # an empty B is TOK-POST-04's
def test_template_lengths(adapter, a: int, b: int | None) -> None:
    model = letters_model(adapter)
    item = "x" * a if b is None else ("x" * a, "y" * b)
    (encoding,) = require(adapter, "encode_batch", *(() if b is None else ("pairs",)))(model, [item])
    check(len(encoding), a + (b or 0) + (2 if b is None else 3), f"length of the encoding of {item!r}")
    check(encoding.ids[0], model.vocab["[CLS]"], f"first id of {item!r}")
    check(encoding.ids.count(model.vocab["[SEP]"]), 1 if b is None else 2, f"[SEP]s in {item!r}")


@clause("TOK-POST-02")
def test_token_type_ids(adapter) -> None:
    encode_batch = require(adapter, "encode_batch", "pairs")
    model = letters_model(adapter)
    single, pair = encode_batch(model, ["ab cd", ("ab", "c d e")])
    check(single.token_type_ids, [0] * 8, "type ids of 'ab cd' (6 tokens, padded to 8)")
    check(pair.token_type_ids, [0, 0, 0, 0, 1, 1, 1, 1], "type ids of ('ab', 'c d e')")


@clause("TOK-POST-03")
def test_special_tokens_mask(adapter) -> None:
    encode_batch = require(adapter, "encode_batch", "pairs")
    model = letters_model(adapter)
    short_one, pair = encode_batch(model, ["a", ("ab", "c")])
    check(short_one.special_tokens_mask, [1, 0, 1, 1, 1, 1], "special_tokens_mask of 'a' padded to 6")
    check(pair.special_tokens_mask, [1, 0, 0, 1, 0, 1], "special_tokens_mask of ('ab', 'c')")


@clause("TOK-POST-04")
def test_an_empty_second_sequence_keeps_its_sep(adapter) -> None:
    (encoding,) = require(adapter, "encode_batch", "pairs")(letters_model(adapter), [("a", "")])
    model = letters_model(adapter)
    check(encoding.ids, ids_of(model, "[CLS]", "a", "[SEP]", "[SEP]"), "ids of ('a', '')")
    check(encoding.token_type_ids, [0, 0, 0, 1], "token_type_ids of ('a', '')")
    check(encoding.special_tokens_mask, [1, 0, 1, 1], "special_tokens_mask of ('a', '')")


# ---------------------------------------------------------------------------------------
# Truncation


def kept_lengths(adapter, a: int, b: int | None, max_length: int, truncation: str = "longest_first") -> tuple[int, ...]:
    """(tokens of A kept, tokens of B kept) after encoding A = 'x' * a and B = 'y' * b."""
    model = letters_model(adapter)
    item = "x" * a if b is None else ("x" * a, "y" * b)
    needs = ("max_length", "truncation", *(() if b is None else ("pairs",)))
    (encoding,) = require(adapter, "encode_batch", *needs)(model, [item], max_length=max_length, truncation=truncation)
    if len(encoding) > max_length:
        fail(f"{item!r} with max_length {max_length} ({truncation}) gave {len(encoding)} tokens")
    x, y = model.vocab["x"], model.vocab["y"]
    kept_a = sum(1 for i in encoding.ids if i in (x, model.vocab["##x"]))
    kept_b = sum(1 for i in encoding.ids if i in (y, model.vocab["##y"]))
    return (kept_a,) if b is None else (kept_a, kept_b)


@clause("TOK-TRUNC-01")
@given(lengths=pair_lengths(), single=st.booleans())
def test_truncation_keeps_the_content_budget(adapter, lengths: tuple[int, int, int], single: bool) -> None:
    a, b, max_length = lengths
    if single:
        check(kept_lengths(adapter, a, None, max_length), (min(a, max_length - 2),), f"A={a}, max_length={max_length}")
    else:
        kept = kept_lengths(adapter, a, b, max_length)
        check(sum(kept), min(a + b, max_length - 3), f"tokens kept of A={a}, B={b}, max_length={max_length}")
        if a + b + 3 <= max_length:
            check(kept, (a, b), "a pair that fits is not truncated")


@clause("TOK-TRUNC-01")
def test_truncation_removes_tokens_from_the_end(adapter) -> None:
    model = letters_model(adapter)
    (encoding,) = require(adapter, "encode_batch")(model, ["abcdef"], max_length=5)
    check(encoding.ids[1:-1], ids_of(model, "a", "##b", "##c"), "the content of 'abcdef' with max_length 5")


def check_truncation_examples(adapter, clause_id: str) -> None:
    """Encode A = 'x' * lengths[0] (and B = 'y' * lengths[1]) as each worked example of the clause
    (spec/tokenizers.md) that holds for the adapter's variants says, and compare the tokens kept."""
    for example in checks.spec_examples(adapter, clause_id):
        data = example.data
        a, b = (*data["lengths"], None)[:2]
        kept = kept_lengths(adapter, a, b, data["max_length"], data["truncation"])
        what = (
            f"spec example {example.source}: {data['truncation']} of {data['lengths']}, max_length={data['max_length']}"
        )
        check(list(kept), data["kept"], what)


@clause("TOK-TRUNC-02")
def test_longest_first_keeps_the_shorter_whole(adapter) -> None:
    check_truncation_examples(adapter, "TOK-TRUNC-02")


@clause("TOK-TRUNC-02")
@given(lengths=pair_lengths())
def test_longest_first_against_the_closed_form(adapter, lengths: tuple[int, int, int]) -> None:
    a, b, max_length = lengths
    budget = max_length - 3
    assume(budget % 2 == 0 or min(a, b) <= budget - min(a, b) or a + b <= budget)  # odd splits: TOK-TRUNC-03
    expected = templates.truncation_lengths(a, b, max_length)
    check(kept_lengths(adapter, a, b, max_length), expected, f"longest_first A={a}, B={b}, max_length={max_length}")


@clause("TOK-TRUNC-03")
def test_odd_budget_in_longest_first(adapter) -> None:
    check_truncation_examples(adapter, "TOK-TRUNC-03")


@clause("TOK-TRUNC-03")
@given(lengths=pair_lengths())
def test_odd_budget_against_the_closed_form(adapter, lengths: tuple[int, int, int]) -> None:
    a, b, max_length = lengths
    variant = adapter.variant("TOK-TRUNC-03")
    expected = templates.truncation_lengths(a, b, max_length, odd_budget=variant)
    check(kept_lengths(adapter, a, b, max_length), expected, f"A={a}, B={b}, max_length={max_length} ({variant})")


@clause("TOK-TRUNC-04")
def test_only_first_and_only_second_cut_only_their_sequence(adapter) -> None:
    for truncation, a, b, max_length, expected in [
        ("only_first", 10, 3, 12, (6, 3)),
        ("only_first", 3, 10, 15, (2, 10)),
        ("only_second", 3, 10, 12, (3, 6)),
        ("only_second", 10, 3, 15, (10, 2)),
        ("only_first", 12, None, 6, (4,)),
    ]:
        got = kept_lengths(adapter, a, b, max_length, truncation)
        check(got, expected, f"{truncation} A={a}, B={b}, max_length={max_length}")


@clause("TOK-TRUNC-05")
def test_a_sequence_too_short_to_cut_is_an_error(adapter) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter)
    for truncation, item, max_length in [
        ("only_first", ("xx", "y" * 10), 12),
        ("only_second", ("x" * 10, "yyy"), 12),
        ("only_second", ("x" * 10, "yyy"), 10),
        ("only_first", ("x", "y"), 3),
        ("only_second", "x" * 20, 10),
    ]:
        expect_value_error(
            lambda: encode_batch(model, [item], max_length=max_length, truncation=truncation),  # noqa: B023
            truncation,
            what=f"{truncation} on {item!r} with max_length {max_length}",
        )


@clause("TOK-TRUNC-06")
def test_max_length_below_the_template_is_an_error(adapter) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter)
    for item, max_length in [("ab", 1), ("ab", 0), (("a", "b"), 2), (("ab", "cd"), 1)]:
        expect_value_error(
            lambda: encode_batch(model, [item], max_length=max_length),  # noqa: B023
            "max_length",
            what=f"encode_batch([{item!r}], max_length={max_length})",
        )
    only_template = encode_batch(model, ["ab"], max_length=2)[0]
    check(only_template.special_tokens_mask, [1, 1], "'ab' with max_length 2: the template alone")


# ---------------------------------------------------------------------------------------
# Padding

batches = st.lists(
    st.one_of(st.integers(0, 20), st.tuples(st.integers(0, 10), st.integers(0, 10))), min_size=1, max_size=4
)


def _items(sizes: list) -> list[str | tuple[str, str]]:
    return [("x" * s) if isinstance(s, int) else ("x" * s[0], "y" * s[1]) for s in sizes]


@clause("TOK-PAD-01")
@given(sizes=batches, multiple=st.sampled_from([None, 1, 3, 8]))
def test_padding_to_the_longest_rounded_up(adapter, sizes: list, multiple: int | None) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter)
    items = _items(sizes)
    unpadded = [encode_batch(model, [item])[0] for item in items]
    longest = max(len(e) for e in unpadded)
    target = longest if multiple is None else -(-longest // multiple) * multiple
    padded = encode_batch(model, items, pad_to_multiple_of=multiple)
    for item, encoding in zip(items, padded, strict=True):
        lengths = {len(getattr(encoding, f.name)) for f in dataclasses.fields(Encoding)}
        check(lengths, {target}, f"lengths of the fields of {item!r} padded (multiple {multiple})")


@clause("TOK-PAD-02")
@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_side(adapter, side: str) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter)
    items = ["ab", ("abc", "de"), "a"]
    alone = [encode_batch(model, [item])[0].ids for item in items]
    padded = encode_batch(model, items, padding_side=side)
    for ids, encoding in zip(alone, padded, strict=True):
        pads = len(encoding) - len(ids)
        got = encoding.ids[: len(ids)] if side == "right" else encoding.ids[pads:]
        check(got, ids, f"the real ids of {ids} padded on the {side}")


@clause("TOK-PAD-03")
@given(sizes=batches, side=st.sampled_from(["right", "left"]))
def test_attention_mask_is_zero_exactly_on_pads(adapter, sizes: list, side: str) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter)
    items = _items(sizes)
    padded = encode_batch(model, items, padding_side=side)
    for item, encoding in zip(items, padded, strict=True):
        real = len(encode_batch(model, [item])[0])
        pads = len(encoding) - real
        expected = [1] * real + [0] * pads if side == "right" else [0] * pads + [1] * real
        check(encoding.attention_mask, expected, f"attention_mask of {item!r} ({side})")


@clause("TOK-PAD-04")
@pytest.mark.parametrize("side", ["right", "left"])
def test_values_at_pad_positions(adapter, side: str) -> None:
    encode_batch = require(adapter, "encode_batch")
    model = letters_model(adapter, pad_last=True)
    items = [("a", "b"), "a long single sequence"]
    real = len(encode_batch(model, items[:1])[0])
    short_pair = encode_batch(model, items, padding_side=side)[0]
    pads = range(real, len(short_pair)) if side == "right" else range(len(short_pair) - real)
    if not pads:
        fail("the short pair got no pads")
    pad_id = model.vocab["[PAD]"]
    check([short_pair.ids[i] for i in pads], [pad_id] * len(pads), f"pad ids ([PAD] is {pad_id}, {side})")
    check([short_pair.token_type_ids[i] for i in pads], [0] * len(pads), f"pad token type ids ({side})")
    check([short_pair.special_tokens_mask[i] for i in pads], [1] * len(pads), f"pad special_tokens_mask ({side})")
    check([short_pair.offsets[i] for i in pads], [(0, 0)] * len(pads), f"pad offsets ({side})")
