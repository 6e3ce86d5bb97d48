"""Reference post-processing for BERT-style models: special tokens in user text, the [CLS]/[SEP]
template, truncation and padding (spec clauses TOK-SPC-*, TOK-POST-*, TOK-TRUNC-*, TOK-PAD-*).

The order is HF tokenizers' `Tokenizer::post_process`: truncate the content to
`max_length - num_special_tokens`, then add the template's special tokens, then pad (a batch).
Everything works on token ids (and their offsets), so it does not depend on the model.

    single:  [CLS] A [SEP]            token_type_ids 0 ... 0
    pair:    [CLS] A [SEP] B [SEP]    token_type_ids 0 ... 0 0 | 1 ... 1 1

Offsets of template-added and padding tokens are (0, 0), as in HF (`None` is what the HF
`sequence_ids`/`word_ids` give them, not the offsets). Content offsets are into each
sequence's own text.

Where libraries differ, a keyword names the variant:
- `odd_budget` in longest_first truncation, when both sequences must shrink and the budget is
  odd: "first" gives the extra token to A (transformers' Python `truncate_sequences` and the
  original BERT `_truncate_seq_pair`, which pops from B on ties); "longer" gives it to the
  longer sequence, B on ties (HF tokenizers `utils/truncation.rs`).
- the policy for special-token strings typed by a user: "match" (HF tokenizers and
  transformers by default), "raise" (tiktoken's default, the spec's strict mode), "text"
  (HF `split_special_tokens=True` / `encode_special_tokens`).

Deliberately left out: overflow windows and `stride`, `return_overflowing_tokens`, templates
other than BERT's (RoBERTa's `<s> A </s></s> B </s>`), and the HF bugs the spec rejects:
with max_length below the number of special tokens HF silently skips truncation, and with a
content budget of 0 it empties both sequences whatever the strategy; here both raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

SPECIAL_TOKEN_POLICIES = ("match", "raise", "text")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
ODD_BUDGET_RULES = ("first", "longer")  # "first": transformers slow, original BERT; "longer": HF tokenizers
SIDES = ("right", "left")


def _check_choice(name: str, value: str, accepted: Sequence[str]) -> None:
    if value not in accepted:
        raise ValueError(f"{name} must be one of {list(accepted)}, got {value!r}")


# ---------------------------------------------------------------------------------------
# Special tokens inside user text.


def find_special_tokens(text: str, special_tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of special-token strings in `text`, leftmost-longest (TOK-SPECIAL-01): scan left to right,
    and where several specials start at the same position take the longest.

    >>> find_special_tokens("a[SEP]Xb [SEP]", ["[SEP]", "[SEP]X"])
    [(1, 7), (9, 14)]

    Clauses: TOK-SPECIAL-01.
    """
    if any(not token for token in special_tokens):
        raise ValueError(f"special_tokens must be non-empty strings, got {list(special_tokens)!r}")
    longest_first = sorted(set(special_tokens), key=len, reverse=True)
    first_chars = {token[0] for token in longest_first}
    spans, i = [], 0
    while i < len(text):
        match = None
        if text[i] in first_chars:
            match = next((token for token in longest_first if text.startswith(token, i)), None)
        if match is None:
            i += 1
        else:
            spans.append((i, i + len(match)))
            i += len(match)
    return spans


def split_on_special_tokens(
    text: str, special_tokens: Sequence[str], policy: str = "raise"
) -> list[tuple[str, int, bool]]:
    """Split `text` into (segment, start, is_special) at special-token strings, per `policy`.

    >>> split_on_special_tokens("hi [SEP] yo", ["[SEP]"], "match")
    [('hi ', 0, False), ('[SEP]', 3, True), (' yo', 8, False)]
    >>> split_on_special_tokens("hi [SEP] yo", ["[SEP]"], "text")
    [('hi [SEP] yo', 0, False)]

    Clauses: TOK-SPECIAL-02.
    """
    _check_choice("policy", policy, SPECIAL_TOKEN_POLICIES)
    spans = [] if policy == "text" else find_special_tokens(text, special_tokens)
    if spans and policy == "raise":
        start, end = spans[0]
        raise ValueError(
            f"text contains the special token {text[start:end]!r} at offset {start}; pass policy 'match' to "
            f"map it to its id (the HF default) or 'text' to tokenize it as ordinary text"
        )
    segments, position = [], 0
    for start, end in spans:
        if start > position:
            segments.append((text[position:start], position, False))
        segments.append((text[start:end], start, True))
        position = end
    if position < len(text):
        segments.append((text[position:], position, False))
    return segments


# ---------------------------------------------------------------------------------------
# The template.


@dataclass
class Encoding:
    """Model inputs for one sequence or pair; all five lists have the same length.

    Clauses: TOK-POST-01..03.
    """

    ids: list[int]
    token_type_ids: list[int]  # 0 for [CLS], A and the first [SEP]; 1 for B and the last [SEP]
    attention_mask: list[int]  # 1 on real tokens (specials included), 0 on padding
    special_tokens_mask: list[int]  # 1 on template-added tokens and padding
    offsets: list[tuple[int, int]]  # into the sequence's own text; (0, 0) for specials and padding

    def __post_init__(self) -> None:
        lengths = {len(self.ids), len(self.token_type_ids), len(self.attention_mask)}
        lengths |= {len(self.special_tokens_mask), len(self.offsets)}
        if len(lengths) != 1:
            raise ValueError(f"Encoding fields must have equal lengths, got lengths {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.ids)


def num_special_tokens(is_pair: bool) -> int:
    """Tokens the BERT template adds: 2 for [CLS] A [SEP], 3 for [CLS] A [SEP] B [SEP].

    Clauses: TOK-TRUNC-01.
    """
    return 3 if is_pair else 2


def apply_template(
    ids_a: Sequence[int],
    ids_b: Sequence[int] | None = None,
    *,
    cls_id: int,
    sep_id: int,
    offsets_a: Sequence[tuple[int, int]] | None = None,
    offsets_b: Sequence[tuple[int, int]] | None = None,
) -> Encoding:
    """[CLS] A [SEP] or [CLS] A [SEP] B [SEP] (TOK-POST-01..03). An empty B still gets its [SEP].

    >>> e = apply_template([7, 8], [9], cls_id=101, sep_id=102)
    >>> e.ids, e.token_type_ids, e.special_tokens_mask
    ([101, 7, 8, 102, 9, 102], [0, 0, 0, 0, 1, 1], [1, 0, 0, 1, 0, 1])

    Clauses: TOK-POST-01..04, TOK-OFF-02, TOK-OFF-03.
    """
    offsets_a = list(offsets_a) if offsets_a is not None else [(0, 0)] * len(ids_a)
    if len(offsets_a) != len(ids_a):
        raise ValueError(f"offsets_a must have one span per id ({len(ids_a)}), got {len(offsets_a)}")
    ids = [cls_id, *ids_a, sep_id]
    type_ids = [0] * len(ids)
    special = [1, *[0] * len(ids_a), 1]
    offsets = [(0, 0), *offsets_a, (0, 0)]
    if ids_b is not None:
        offsets_b = list(offsets_b) if offsets_b is not None else [(0, 0)] * len(ids_b)
        if len(offsets_b) != len(ids_b):
            raise ValueError(f"offsets_b must have one span per id ({len(ids_b)}), got {len(offsets_b)}")
        ids += [*ids_b, sep_id]
        type_ids += [1] * (len(ids_b) + 1)
        special += [*[0] * len(ids_b), 1]
        offsets += [*offsets_b, (0, 0)]
    return Encoding(ids, type_ids, [1] * len(ids), special, offsets)


# ---------------------------------------------------------------------------------------
# Truncation.


def truncation_lengths(
    len_a: int,
    len_b: int | None,
    max_length: int,
    strategy: str = "longest_first",
    num_special: int | None = None,
    *,
    odd_budget: str = "first",
) -> tuple[int, int | None]:
    """How many tokens of A and B to keep so that A + B + specials fits in `max_length`.

    >>> truncation_lengths(10, 10, 12), truncation_lengths(10, 10, 12, odd_budget="longer")
    ((5, 4), (4, 5))
    >>> truncation_lengths(2, 10, 12)  # the longer absorbs the whole cut
    (2, 7)

    Clauses: TOK-TRUNC-01..06.
    """
    _check_choice("strategy", strategy, TRUNCATION_STRATEGIES)
    _check_choice("odd_budget", odd_budget, ODD_BUDGET_RULES)
    if strategy == "do_not_truncate":
        return len_a, len_b
    if num_special is None:
        num_special = num_special_tokens(len_b is not None)
    if num_special < 0:
        raise ValueError(f"num_special must be >= 0, got {num_special}")
    if max_length < num_special:
        raise ValueError(f"max_length must be >= the number of special tokens ({num_special}), got {max_length}")
    budget = max_length - num_special  # TOK-TRUNC-01
    to_remove = len_a + (len_b or 0) - budget
    if to_remove <= 0:
        return len_a, len_b
    if strategy == "only_first" or (strategy == "longest_first" and len_b is None):
        if strategy == "only_first" and len_a <= to_remove:
            raise ValueError(f"only_first: sequence A has {len_a} tokens, too few to remove {to_remove} (TOK-TRUNC-05)")
        return len_a - to_remove, len_b
    if strategy == "only_second":
        if len_b is None or len_b <= to_remove:
            raise ValueError(
                f"only_second: sequence B has {len_b or 0} tokens, too few to remove {to_remove} (TOK-TRUNC-05)"
            )
        return len_a, len_b - to_remove
    assert len_b is not None
    shorter = min(len_a, len_b)
    if budget - shorter >= shorter:  # keep the shorter whole, the longer absorbs the cut (TOK-TRUNC-02)
        return (len_a, budget - len_a) if len_a <= len_b else (budget - len_b, len_b)
    small, big = budget // 2, budget - budget // 2
    # subtle: the two rules differ only when the budget is odd and A is not longer than B.
    a_gets_big = odd_budget == "first" or len_a > len_b
    return (big, small) if a_gets_big else (small, big)


def _keep(sequence: Sequence[T], n: int, direction: str) -> list[T]:
    """The first n (direction "right" cuts the end) or last n ("left" cuts the start) items."""
    return list(sequence[:n]) if direction == "right" else list(sequence[len(sequence) - n :])


def truncate(
    ids_a: Sequence[T],
    ids_b: Sequence[T] | None,
    max_length: int,
    strategy: str = "longest_first",
    num_special: int | None = None,
    *,
    odd_budget: str = "first",
    direction: str = "right",
) -> tuple[list[T], list[T] | None]:
    """Truncate A (and B) so that, with `num_special` template tokens added, the result has at most
    `max_length` tokens (TOK-TRUNC-01..06). Raises ValueError when that cannot be done.

    >>> truncate([1, 2, 3], [4, 5, 6, 7], 8, odd_budget="longer", direction="left")
    ([2, 3], [5, 6, 7])

    Clauses: TOK-TRUNC-01..06.
    """
    _check_choice("direction", direction, SIDES)
    keep_a, keep_b = truncation_lengths(
        len(ids_a), None if ids_b is None else len(ids_b), max_length, strategy, num_special, odd_budget=odd_budget
    )
    new_b = None if ids_b is None or keep_b is None else _keep(ids_b, keep_b, direction)
    return _keep(ids_a, keep_a, direction), new_b


def post_process(
    ids_a: Sequence[int],
    ids_b: Sequence[int] | None = None,
    *,
    cls_id: int,
    sep_id: int,
    offsets_a: Sequence[tuple[int, int]] | None = None,
    offsets_b: Sequence[tuple[int, int]] | None = None,
    max_length: int | None = None,
    strategy: str = "longest_first",
    odd_budget: str = "first",
    direction: str = "right",
) -> Encoding:
    """Truncate (if `max_length` is given), then apply the template: HF's order, padding aside.

    >>> post_process([1, 2, 3], [4, 5, 6], cls_id=101, sep_id=102, max_length=6).ids
    [101, 1, 2, 102, 4, 102]

    Clauses: TOK-TRUNC-01, TOK-POST-01.
    """
    offsets_a = list(offsets_a) if offsets_a is not None else [(0, 0)] * len(ids_a)
    if ids_b is not None and offsets_b is None:
        offsets_b = [(0, 0)] * len(ids_b)
    _check_choice("direction", direction, SIDES)
    if max_length is not None:
        keep_a, keep_b = truncation_lengths(
            len(ids_a), None if ids_b is None else len(ids_b), max_length, strategy, odd_budget=odd_budget
        )
        ids_a, offsets_a = _keep(ids_a, keep_a, direction), _keep(offsets_a, keep_a, direction)
        if ids_b is not None and offsets_b is not None and keep_b is not None:
            ids_b, offsets_b = _keep(ids_b, keep_b, direction), _keep(offsets_b, keep_b, direction)
    return apply_template(ids_a, ids_b, cls_id=cls_id, sep_id=sep_id, offsets_a=offsets_a, offsets_b=offsets_b)


# ---------------------------------------------------------------------------------------
# Padding.


def padded_length(length: int, pad_to_multiple_of: int | None = None) -> int:
    """`length` rounded up to a multiple of `pad_to_multiple_of` (TOK-PAD-01).

    >>> padded_length(10, 8), padded_length(16, 8), padded_length(10)
    (16, 16, 10)

    Clauses: TOK-PAD-01.
    """
    if pad_to_multiple_of is None:
        return length
    if pad_to_multiple_of < 1:
        raise ValueError(f"pad_to_multiple_of must be >= 1 or None, got {pad_to_multiple_of}")
    return -(-length // pad_to_multiple_of) * pad_to_multiple_of


def pad(
    encoding: Encoding,
    *,
    length: int | None = None,
    pad_to_multiple_of: int | None = None,
    pad_id: int = 0,
    pad_type_id: int = 0,
    side: str = "right",
) -> Encoding:
    """Pad one encoding to `length` (default: its own length), rounded up to `pad_to_multiple_of`.
    Never truncates (TOK-PAD-01). Pads carry pad_id, pad_type_id (0 in BERT), attention 0,
    special 1 and offsets (0, 0) (TOK-PAD-03, TOK-PAD-04).

    >>> pad(apply_template([7], cls_id=101, sep_id=102), length=5, side="left").ids
    [0, 0, 101, 7, 102]

    Clauses: TOK-PAD-01..04, TOK-OFF-02.
    """
    _check_choice("side", side, SIDES)
    if length is not None and length < 0:
        raise ValueError(f"length must be >= 0 or None, got {length}")
    target = padded_length(len(encoding) if length is None else length, pad_to_multiple_of)
    n = max(0, target - len(encoding))

    def extend(values: list[T], pad_value: T) -> list[T]:
        return values + [pad_value] * n if side == "right" else [pad_value] * n + values

    return Encoding(
        ids=extend(encoding.ids, pad_id),
        token_type_ids=extend(encoding.token_type_ids, pad_type_id),
        attention_mask=extend(encoding.attention_mask, 0),
        special_tokens_mask=extend(encoding.special_tokens_mask, 1),
        offsets=extend(encoding.offsets, (0, 0)),
    )


def pad_batch(
    encodings: Sequence[Encoding],
    *,
    length: int | None = None,
    pad_to_multiple_of: int | None = None,
    pad_id: int = 0,
    pad_type_id: int = 0,
    side: str = "right",
) -> list[Encoding]:
    """Pad every encoding to `length`, or to the longest in the batch when `length` is None.

    Clauses: TOK-PAD-01..04.
    """
    target = max((len(e) for e in encodings), default=0) if length is None else length
    return [
        pad(e, length=target, pad_to_multiple_of=pad_to_multiple_of, pad_id=pad_id, pad_type_id=pad_type_id, side=side)
        for e in encodings
    ]


__all__ = [
    "ODD_BUDGET_RULES",
    "SIDES",
    "SPECIAL_TOKEN_POLICIES",
    "TRUNCATION_STRATEGIES",
    "Encoding",
    "apply_template",
    "find_special_tokens",
    "num_special_tokens",
    "pad",
    "pad_batch",
    "padded_length",
    "post_process",
    "split_on_special_tokens",
    "truncate",
    "truncation_lengths",
]
