"""Every operation of every family, declared once: its parameters' domains, its inputs, its reference.

The generic tests (test_generic.py) derive from this table what a hand-written suite never varies:

- layout: the operation on a non-contiguous view (a slice of a larger batch, a transposed copy,
  an expanded row, a view at a storage offset) equals the operation on the contiguous tensor;
- state: A, B, A gives the same A; inputs are unchanged; writing into an output changes no later
  result; a seeded operation reproduces its draws, differs across seeds, advances the generator it
  is given and leaves the global one alone;
- boundaries: each parameter's bounds, just inside and just outside them, and its special values
  (0, None, huge), from the declared domain: in-domain values are checked against the reference,
  out-of-domain ones must raise ValueError naming the parameter;
- production size: one value check at the size real users run.

An operation opts out of a property only with a reason (`opt_out`). Each generated test cites the
operation's clauses (`clauses`: the value clauses; a parameter's `clause`: its domain clause).
This module leaves out tokenizer parameters that are choices (a pattern name, a truncation
strategy): their clauses test them one by one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from specformer.reference import attention as ref_attention
from specformer.reference import embeddings as ref_embeddings
from specformer.reference import local as ref_local
from specformer.reference import sampling as ref_sampling
from specformer.reference.sampling import SamplingParams

SMALL, PRODUCTION = "small", "production"
# Production sizes, within CI's budget: a 128k vocabulary (Llama 3), 1,100 keys (past 1,024 and not
# a multiple of 64 or 128), a 50k-row embedding table.
PRODUCTION_VOCAB = 128_256
PRODUCTION_KEYS = 1_100
PRODUCTION_TABLE = 50_257


@dataclass(frozen=True)
class Param:
    """A parameter's domain: type, bounds (open or closed) and the legal values code often mishandles."""

    name: str
    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    special: tuple[Any, ...] = ()  # legal values a lazy implementation mistakes for "not given" or "too big"
    clause: str = ""  # the clause stating the domain (a ValueError naming the parameter outside it)
    step: int | float | None = None  # the distance to "just inside/outside" (1 for int, 1e-6 for float)
    invalid: tuple[Any, ...] = ()  # out-of-domain values between the bounds (an odd width)

    def cases(self) -> list[tuple[str, Any, bool]]:
        """(label, value, in the domain) for each bound, just inside, just outside, and the specials."""
        step = self.step if self.step is not None else (1 if self.kind is int else 1e-6)
        cases: list[tuple[str, Any, bool]] = []
        if self.low is not None:
            low = self.kind(self.low)
            cases += [("at-low", low, not self.low_open), ("inside-low", low + step, True)]
            cases += [("outside-low", low - step, False)]
        if self.high is not None:
            high = self.kind(self.high)
            cases += [("at-high", high, not self.high_open), ("inside-high", high - step, True)]
            cases += [("outside-high", high + step, False)]
        if self.kind is float:
            cases += [("nan", math.nan, False)]
            if self.high is None:
                cases += [("inf", math.inf, False)]
        cases += [(f"special-{v}", v, True) for v in self.special]
        cases += [(f"invalid-{v}", v, False) for v in self.invalid]
        return cases


@dataclass(frozen=True)
class Operation:
    """One adapter operation: how to build its inputs, call it, and compute its reference answer.

    inputs(generator, size) returns the tensor inputs (the ones layouts vary), in call order.
    call(op, inputs, params, adapter) calls the adapter's bound operation; reference(inputs, params,
    adapter) computes the answer in float64 (or exactly), with the adapter's declared variants.
    params: the parameters the table varies, with `defaults` the values used when another is varied.
    exact: outputs compared bitwise (ids, -inf patterns, integers) rather than under numerics' rule.
    seeded: the operation takes a torch.Generator (the last positional argument of `call`).
    """

    family: str
    name: str
    clauses: tuple[str, ...]
    inputs: Callable[[torch.Generator, str], tuple[Any, ...]]
    call: Callable[..., Any]
    reference: Callable[..., Any]
    params: tuple[Param, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    exact: bool = False
    seeded: bool = False
    float_inputs: tuple[int, ...] = (0,)  # which inputs are float tensors cast to the working dtype
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64)  # preferred working dtypes, in order
    opt_out: dict[str, str] = field(default_factory=dict)  # property -> the reason it does not apply
    # Clauses the state test cites besides `clauses` (inputs unchanged, outputs fresh: SAMP-EDGE-05).
    state_clauses: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.family}.{self.name}"


# ---------------------------------------------------------------------------------------
# sampling: logits (B, V)


def _logits(generator: torch.Generator, size: str) -> tuple[torch.Tensor]:
    batch, vocab = (3, 50) if size == SMALL else (1, PRODUCTION_VOCAB)
    return (torch.randn(batch, vocab, generator=generator, dtype=torch.float64) * 3,)


def _variants(adapter: Any) -> dict[str, str]:
    return {
        "order": adapter.variant("SAMP-ORDER-01"),
        "top_k_ties": adapter.variant("SAMP-TOPK-02"),
        "top_p_boundary": adapter.variant("SAMP-TOPP-02"),
    }


# The value of each optional parameter that disables it (what a call without it means).
DISABLED: dict[str, Any] = {
    "temperature": 1.0,
    "top_k": None,
    "top_p": 1.0,
    "min_p": 0.0,
    "min_tokens_to_keep": 1,
    "causal": False,
    "mask": None,
    "scale": None,
}


def _filter(name: str) -> Callable[..., Any]:
    def call(op: Callable[..., Any], inputs: tuple[Any, ...], params: dict[str, Any], adapter: Any) -> Any:
        # The filter's own parameter by position; an optional one by keyword, and only when enabled,
        # so an adapter without it (Capabilities.parameters) is called as it can be.
        extra = {k: v for k, v in params.items() if k != name and v != DISABLED.get(k, object())}
        return op(inputs[0], params[name], **extra)

    return call


# Filters are value-checked in float64 where declared: a float32 keep-or-remove decision may flip at a
# boundary where the float64 oracle's does not (test_sampling.py checks float32 away from boundaries).
_SAMPLING_DTYPES = (torch.float64, torch.float32)

_TOP_K = Param("top_k", int, low=1, special=(50, 10**9), clause="SAMP-TOPK-04")
_TOP_P = Param("top_p", float, low=0.0, high=1.0, low_open=True, clause="SAMP-TOPP-05")
_MIN_P = Param("min_p", float, low=0.0, high=1.0, clause="SAMP-MINP-03")
_TEMPERATURE = Param("temperature", float, low=0.0, low_open=True, special=(1.0, 1e4), clause="SAMP-TEMP-03")
_KEEP = Param("min_tokens_to_keep", int, low=1, special=(10**9,), clause="SAMP-TOPP-04")

SAMPLING = (
    Operation(
        "sampling",
        "temperature",
        ("SAMP-TEMP-01",),
        _logits,
        _filter("temperature"),
        lambda inputs, p, adapter: ref_sampling.apply_temperature(inputs[0], p["temperature"]),
        params=(_TEMPERATURE,),
        defaults={"temperature": 0.7},
        dtypes=_SAMPLING_DTYPES,
        state_clauses=("SAMP-EDGE-05",),
    ),
    Operation(
        "sampling",
        "top_k",
        ("SAMP-TOPK-01",),
        _logits,
        _filter("top_k"),
        lambda inputs, p, adapter: ref_sampling.top_k_filter(
            inputs[0], p["top_k"], top_k_ties=adapter.variant("SAMP-TOPK-02")
        ),
        params=(_TOP_K,),
        defaults={"top_k": 5},
        dtypes=_SAMPLING_DTYPES,
        state_clauses=("SAMP-EDGE-05",),
    ),
    Operation(
        "sampling",
        "top_p",
        ("SAMP-TOPP-01",),
        _logits,
        _filter("top_p"),
        lambda inputs, p, adapter: ref_sampling.top_p_filter(
            inputs[0],
            p["top_p"],
            min_tokens_to_keep=p["min_tokens_to_keep"],
            top_p_boundary=adapter.variant("SAMP-TOPP-02"),
        ),
        params=(_TOP_P, _KEEP),
        defaults={"top_p": 0.9, "min_tokens_to_keep": 1},
        dtypes=_SAMPLING_DTYPES,
        state_clauses=("SAMP-EDGE-05",),
    ),
    Operation(
        "sampling",
        "min_p",
        ("SAMP-MINP-01",),
        _logits,
        _filter("min_p"),
        lambda inputs, p, adapter: ref_sampling.min_p_filter(
            inputs[0], p["min_p"], min_tokens_to_keep=p["min_tokens_to_keep"]
        ),
        params=(_MIN_P, Param("min_tokens_to_keep", int, low=1, special=(10**9,), clause="SAMP-MINP-04")),
        defaults={"min_p": 0.1, "min_tokens_to_keep": 1},
        dtypes=_SAMPLING_DTYPES,
        state_clauses=("SAMP-EDGE-05",),
    ),
    Operation(
        "sampling",
        "process",
        ("SAMP-ORDER-01",),
        _logits,
        lambda op, inputs, p, adapter: op(inputs[0], SamplingParams(**p)),
        lambda inputs, p, adapter: ref_sampling.process(inputs[0], SamplingParams(**p), **_variants(adapter)),
        # top_k=None is "no top-k", a legal value code often mistakes for 0; the others as for the filters.
        params=(
            Param("top_k", int, low=1, special=(None, 10**9), clause="SAMP-TOPK-04"),
            Param("top_p", float, low=0.0, high=1.0, low_open=True, clause="SAMP-TOPP-05"),
            Param("min_p", float, low=0.0, high=1.0, clause="SAMP-MINP-03"),
            Param("temperature", float, low=0.0, low_open=True, special=(1.0,), clause="SAMP-TEMP-03"),
        ),
        defaults={"temperature": 0.7, "top_k": 20, "top_p": 0.9, "min_p": 0.05},
        dtypes=_SAMPLING_DTYPES,
        state_clauses=("SAMP-EDGE-05",),
    ),
    Operation(
        "sampling",
        "greedy",
        ("SAMP-GREEDY-01",),
        _logits,
        lambda op, inputs, p, adapter: op(inputs[0]),
        lambda inputs, p, adapter: ref_sampling.greedy(inputs[0]),
        exact=True,
        dtypes=_SAMPLING_DTYPES,
        state_clauses=("SAMP-EDGE-05",),
    ),
    Operation(
        "sampling",
        "sample",
        ("SAMP-DRAW-03",),
        _logits,
        lambda op, inputs, p, adapter, generator: op(inputs[0], SamplingParams(**p), generator),
        lambda inputs, p, adapter, generator: ref_sampling.sample(
            inputs[0], SamplingParams(**p), generator, **_variants(adapter)
        ),
        defaults={"temperature": 0.8, "top_k": 20},
        exact=True,
        seeded=True,
        opt_out={
            "layout": "draws depend on the order the generator is consumed in, which the layout does not "
            "change, but a different kernel may consume it differently (SAMP-DRAW-03 fixes only the source)",
            "reference": "SAMP-DRAW-01 is statistical: draws are checked by the chi-square tests, not equality",
        },
        dtypes=_SAMPLING_DTYPES,
        state_clauses=("SAMP-EDGE-05",),
    ),
)


# ---------------------------------------------------------------------------------------
# attention: (B, H, L, D)


def _qkv(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    batch, heads, length, dim = (2, 2, 9, 8) if size == SMALL else (1, 1, PRODUCTION_KEYS, 64)
    return tuple(torch.randn(batch, heads, length, dim, generator=generator, dtype=torch.float64) for _ in range(3))


ATTENTION = (
    Operation(
        "attention",
        "attention",
        ("ATTN-SDPA-01", "ATTN-CAUSAL-01"),
        _qkv,
        lambda op, inputs, p, adapter: op(*inputs, causal=p["causal"]),
        lambda inputs, p, adapter: ref_attention.scaled_dot_product_attention(
            *inputs,
            causal=p["causal"],
            causal_alignment=adapter.variant("ATTN-CAUSAL-02"),
            empty_rows=adapter.variant("ATTN-PAD-02"),
        ),
        defaults={"causal": True},
        float_inputs=(0, 1, 2),
    ),
    Operation(
        "attention",
        "sliding_window_attention",
        ("ATTN-LOCAL-03",),
        _qkv,
        lambda op, inputs, p, adapter: op(*inputs, window=p["window"]),
        lambda inputs, p, adapter: ref_local.sliding_window_attention(*inputs, window=p["window"]),
        params=(Param("window", int, low=1, special=(10**6,), clause="ATTN-LOCAL-03"),),
        defaults={"window": 3},
        float_inputs=(0, 1, 2),
    ),
)


# ---------------------------------------------------------------------------------------
# embeddings


def _ids_and_tables(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    batch, length, vocab, positions, dim = (2, 7, 30, 16, 8) if size == SMALL else (2, 512, PRODUCTION_TABLE, 1024, 64)
    ids = torch.randint(0, vocab, (batch, length), generator=generator)
    tokens = torch.randn(vocab, dim, generator=generator, dtype=torch.float64)
    table = torch.randn(positions, dim, generator=generator, dtype=torch.float64)
    return ids, tokens, table


def _nothing(generator: torch.Generator, size: str) -> tuple[()]:
    return ()


def _axial_axes(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    (rows, first), (columns, second) = ((4, 6), (5, 10)) if size == SMALL else ((64, 64), (64, 192))
    return (
        torch.randn(rows, first, generator=generator, dtype=torch.float64),
        torch.randn(columns, second, generator=generator, dtype=torch.float64),
    )


def _axial_call(op: Callable[..., Any], inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
    length = inputs[0].shape[0] * inputs[1].shape[0] if p["length"] == "all" else p["length"]
    return op(inputs[0], inputs[1], length, inputs[0].shape[1] + inputs[1].shape[1])


def _axial_reference(inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
    return _axial_call(ref_embeddings.axial_position_encoding, inputs, p, adapter)


EMBEDDINGS = (
    Operation(
        "embeddings",
        "absolute_position_embedding",
        ("EMB-ABS-01",),
        _ids_and_tables,
        lambda op, inputs, p, adapter: op(*inputs),
        lambda inputs, p, adapter: ref_embeddings.absolute_position_embedding(*inputs),
        float_inputs=(1, 2),
    ),
    Operation(
        "embeddings",
        "sinusoidal_position_encoding",
        ("EMB-SIN-01",),
        _nothing,
        lambda op, inputs, p, adapter: op(p["length"], p["dim"]),
        lambda inputs, p, adapter: ref_embeddings.sinusoidal_position_encoding(
            p["length"], p["dim"], layout=adapter.variant("EMB-SIN-01")
        ),
        params=(
            Param("length", int, low=0, special=(1, 1024), clause="EMB-SIN-02"),
            Param("dim", int, low=2, step=2, special=(6, 512), invalid=(7,), clause="EMB-SIN-02"),
        ),
        defaults={"length": 12, "dim": 16},
        float_inputs=(),
        opt_out={"layout": "its inputs are two integers: there is no tensor to lay out"},
    ),
    Operation(
        "embeddings",
        "axial_position_encoding",
        ("EMB-AXIAL-01",),
        _axial_axes,
        _axial_call,
        _axial_reference,
        # length in [0, n1 * n2] = [0, 20] for the small axes; "all" is every position of the grid.
        params=(Param("length", int, low=0, high=20, special=(1, "all"), clause="EMB-AXIAL-04"),),
        defaults={"length": "all"},
        float_inputs=(0, 1),
    ),
)

# ---------------------------------------------------------------------------------------
# complexity: the operations spec/complexity.md times, value-checked here at small and production size


def _qkv_and_globals(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    query, key, value = _qkv(generator, size)
    global_mask = torch.zeros(query.shape[0], query.shape[-2], dtype=torch.bool)
    global_mask[:, :: max(query.shape[-2] // 4, 1)] = True  # (B, N): a few global positions
    return query, key, value, global_mask


COMPLEXITY = (
    Operation(
        "attention",
        "local_global_attention",
        ("ATTN-LOCAL-01", "ATTN-LOCAL-02"),
        _qkv_and_globals,
        lambda op, inputs, p, adapter: op(*inputs[:3], window=p["window"], global_mask=inputs[3]),
        lambda inputs, p, adapter: ref_local.local_global_attention(
            *inputs[:3], window=p["window"], global_mask=inputs[3]
        ),
        params=(Param("window", int, low=1, special=(10**6,), clause="ATTN-LOCAL-01"),),
        defaults={"window": 2},
        float_inputs=(0, 1, 2),
    ),
)


# ---------------------------------------------------------------------------------------
# tokenizers: models and strings, not tensors. Two configurations (seeds 1 and 2 give different
# vocabularies) go through one adapter in the state test.

_TEXTS = ("abc abcd bc", "hello abc, bcd!")
_NOT_TENSORS = "its inputs are a model and a string: there is no tensor layout to vary"
_REAL_VOCABULARIES = (
    "the agreement clauses (TOK-BPE-06, TOK-WP-05, TOK-SP-10) already value-check the real 150k-token "
    "vocabularies on the whole corpus"
)


def _bpe_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.conformance.suite import tokenizer_inputs as inputs

    pick = int(torch.randint(0, 2, (1,), generator=generator))
    tokens = (["ab", "bc", "abc"], ["ab", "cd", "abcd", "he", "ll"])[pick]
    return inputs.byte_level_ranks(tokens), _TEXTS[pick]


def _wordpiece_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.conformance.suite import tokenizer_inputs as inputs

    pick = int(torch.randint(0, 2, (1,), generator=generator))
    tokens = (["abc", "##d", "b", "##c", "a"], ["hello", "a", "##bc", "b", "##cd", ",", "!"])[pick]
    return inputs.wordpiece_model(tokens), _TEXTS[pick]


def _sentencepiece_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.conformance.suite import tokenizer_inputs as inputs

    pick = int(torch.randint(0, 2, (1,), generator=generator))
    pieces = ([("ab", -1.0), ("c", -2.0), ("a", -3.0), ("b", -3.0)], [("he", -1.0), ("llo", -1.5), ("a", -2.0)])[pick]
    singles = [(c, -5.0) for c in "abcdehlo ,!" if c not in {piece for piece, _ in pieces}]
    return inputs.sentencepiece_model(singles + pieces, byte_fallback=True), _TEXTS[pick]


def _sentencepiece_reference(inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
    from specformer.conformance.suite import tokenizer_inputs

    return tokenizer_inputs.reference_sentencepiece(inputs[0]).encode(inputs[1])


TOKENIZERS = (
    Operation(
        "tokenizers",
        "bpe_encode",
        ("TOK-BPE-01",),
        _bpe_inputs,
        lambda op, inputs, p, adapter: op(*inputs),
        lambda inputs, p, adapter: inputs[0].encode(inputs[1]),
        exact=True,
        float_inputs=(),
        opt_out={"layout": _NOT_TENSORS, "production": _REAL_VOCABULARIES},
    ),
    Operation(
        "tokenizers",
        "wordpiece_encode",
        ("TOK-WP-01",),
        _wordpiece_inputs,
        lambda op, inputs, p, adapter: op(*inputs)[0],
        lambda inputs, p, adapter: [inputs[0].vocab[t] for t, _ in inputs[0].tokens_with_offsets(inputs[1])],
        exact=True,
        float_inputs=(),
        opt_out={"layout": _NOT_TENSORS, "production": _REAL_VOCABULARIES},
    ),
)

TOKENIZERS += (
    Operation(
        "tokenizers",
        "sentencepiece_encode",
        ("TOK-UNI-01",),
        _sentencepiece_inputs,
        lambda op, inputs, p, adapter: op(*inputs),
        _sentencepiece_reference,
        exact=True,
        float_inputs=(),
        opt_out={"layout": _NOT_TENSORS, "production": _REAL_VOCABULARIES},
    ),
)

OPERATIONS: tuple[Operation, ...] = SAMPLING + ATTENTION + COMPLEXITY + EMBEDDINGS + TOKENIZERS
