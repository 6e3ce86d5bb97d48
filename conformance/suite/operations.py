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
from dataclasses import dataclass, field, replace
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
    # inf is tried as out of the domain of a float without an upper bound, unless the clause states no
    # finiteness (False: inf is not tried, the clause says nothing about it)
    inf_invalid: bool = True
    # the clause an in-domain value's answer belongs to (label smoothing's value is LOSS-CE-06's), so that a
    # wrong answer there blames it; the operation's first clause when empty
    value_clause: str = ""

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
            if self.high is None and self.inf_invalid:
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
    # A whole model or a 30-second front end per call: one layout instead of two (CI's budget).
    heavy: bool = False
    # Optional parameters (Capabilities.parameters) every call of the row needs: LSH's n_buckets,
    # since its answers are checked under the bucket count the suite's rotations give.
    needs: tuple[str, ...] = ()

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


def _enabled(p: dict[str, Any], *names: str) -> dict[str, Any]:
    """The named optional parameters whose value is not the disabled one (DISABLED): an implementation
    without them is called as it can be."""
    return {name: p[name] for name in names if p[name] is not DISABLED[name]}


def _causal_flag(p: dict[str, Any]) -> dict[str, bool]:
    """causal=True, or nothing: an implementation without `causal` is never handed causal=False."""
    return {"causal": True} if p["causal"] else {}


def _qkv(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    batch, heads, length, dim = (2, 2, 9, 8) if size == SMALL else (1, 1, PRODUCTION_KEYS, 64)
    return tuple(torch.randn(batch, heads, length, dim, generator=generator, dtype=torch.float64) for _ in range(3))


ATTENTION = (
    Operation(
        "attention",
        "attention",
        ("ATTN-SDPA-01", "ATTN-CAUSAL-01"),
        _qkv,
        lambda op, inputs, p, adapter: op(*inputs, **_causal_flag(p), **_enabled(p, "scale")),
        lambda inputs, p, adapter: ref_attention.scaled_dot_product_attention(
            *inputs,
            causal=p["causal"],
            scale=p["scale"],
            causal_alignment=adapter.variant("ATTN-CAUSAL-02"),
            empty_rows=adapter.variant("ATTN-PAD-02"),
        ),
        defaults={"causal": True, "scale": None},
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


_TEXT = Param("text", str, special=("", "a", "  ", "\n"), clause="TOK-GEN-04")
_AS_GIVEN = "as-given"


def _text(inputs: tuple[Any, ...], p: dict[str, Any], index: int = 1) -> Any:
    return inputs[index] if p.get("text", _AS_GIVEN) == _AS_GIVEN else p["text"]


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

    return tokenizer_inputs.reference_sentencepiece(inputs[0]).encode(_text(inputs, p))


TOKENIZERS = (
    Operation(
        "tokenizers",
        "bpe_encode",
        ("TOK-BPE-01",),
        _bpe_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], _text(inputs, p)),
        lambda inputs, p, adapter: inputs[0].encode(_text(inputs, p)),
        params=(_TEXT,),
        defaults={"text": _AS_GIVEN},
        exact=True,
        float_inputs=(),
        opt_out={"layout": _NOT_TENSORS, "production": _REAL_VOCABULARIES},
    ),
    Operation(
        "tokenizers",
        "wordpiece_encode",
        ("TOK-WP-01",),
        _wordpiece_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], _text(inputs, p))[0],
        lambda inputs, p, adapter: [inputs[0].vocab[t] for t, _ in inputs[0].tokens_with_offsets(_text(inputs, p))],
        params=(_TEXT,),
        defaults={"text": _AS_GIVEN},
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
        lambda op, inputs, p, adapter: op(inputs[0], _text(inputs, p)),
        _sentencepiece_reference,
        params=(_TEXT,),
        defaults={"text": _AS_GIVEN},
        exact=True,
        float_inputs=(),
        opt_out={"layout": _NOT_TENSORS, "production": _REAL_VOCABULARIES},
    ),
)


# ---------------------------------------------------------------------------------------
# Every other operation: the answer is the reference adapter's on the same call, with the
# adapter's declared variants (so a row is its inputs and its call, nothing computed twice).


def oracle(adapter: Any) -> Any:
    """A plain ReferenceAdapter declaring `adapter`'s variants (the spec's default where it declares none).

    A mutant subclasses ReferenceAdapter: this is a fresh ReferenceAdapter, so its bug never reaches the oracle.
    """
    from specformer.conformance.adapters.reference import ReferenceAdapter

    declared = dict(adapter.capabilities.variants)
    variants = {
        clause_id: declared.get(clause_id, adapter.variant(clause_id))
        for clause_id in ReferenceAdapter.capabilities.variants
    }
    impl = ReferenceAdapter()
    impl.capabilities = replace(ReferenceAdapter.capabilities, variants={**variants, **declared})
    impl.variant = lambda clause_id: impl.capabilities.variants.get(clause_id) or adapter.variant(clause_id)
    return impl


def row(
    family: str, name: str, clauses: tuple[str, ...], inputs: Callable[..., Any], call: Callable[..., Any], **kw: Any
) -> Operation:
    """An Operation whose reference is the same call on oracle(adapter)."""

    def reference(inputs_: tuple[Any, ...], p: dict[str, Any], adapter: Any, *generator: Any) -> Any:
        impl = oracle(adapter)
        return call(getattr(impl, name), inputs_, p, impl, *generator)

    return Operation(family, name, clauses, inputs, call, reference, **kw)


def _positional(op: Callable[..., Any], inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
    return op(*inputs)


def _draw(generator: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale


def _ids(generator: torch.Generator, high: int, *shape: int, low: int = 0) -> torch.Tensor:
    return torch.randint(low, high, shape, generator=generator)


_WEIGHTS_NOT_VIEWS = "weights arrive as the reference's dataclasses; the tensor inputs are laid out as views"
_STATISTICAL = "the draws are checked statistically by the family's clause tests, not by equality with the reference"
_ONE_GENERATOR = "the draws depend on how the generator is consumed, which a view does not change but a kernel may"
_PRODUCTION_IN_CLAUSE = "the family's clause tests already value-check this operation at a real model's size"


# attention: the other operations


def _lsh_inputs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    length = 12 if size == SMALL else PRODUCTION_KEYS  # past 1,024, a multiple of the chunk length 4, not of 64
    return _draw(generator, 2, 2, length, 8), _draw(generator, 2, 2, length, 8), _draw(generator, 2, 8, 2, 4)


def _mha_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    length, width = (5, 8) if size == SMALL else (1_100, 64)
    return _draw(generator, 2, length, width), ref_attention.MultiHeadWeights.random(width, 2, generator)


def _longformer_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    batch, length, width = (2, 8, 8) if size == SMALL else (1, PRODUCTION_KEYS, 16)
    hidden = _draw(generator, batch, length, width)
    global_mask = torch.zeros(batch, length, dtype=torch.bool)
    global_mask[:, 0] = True
    if size != SMALL:
        global_mask[:, length // 2 + 1] = True  # a global position inside the sequence too
    return hidden, ref_local.LongformerWeights.random(width, 2, generator), global_mask


ATTENTION += (
    row(
        "attention",
        "lsh_buckets",
        ("ATTN-LSH-01",),
        lambda g, size: _lsh_inputs(g, size)[::2],
        _positional,
        exact=True,
        float_inputs=(0, 1),
        dtypes=(torch.float64, torch.float32),
        needs=("n_buckets",),
    ),
    row(
        "attention",
        "lsh_attention",
        ("ATTN-LSH-04",),
        _lsh_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1], rotations=inputs[2], chunk_length=p["chunk_length"]),
        params=(Param("chunk_length", int, low=1, special=(12,), invalid=(5,), clause="ATTN-LSH-07"),),
        defaults={"chunk_length": 4},
        float_inputs=(0, 1, 2),
        opt_out={"production": "its value mixes LSH-02..05: production_sizes.py says why no size case blames one"},
        needs=("n_buckets",),
    ),
    row(
        "attention",
        "multi_head_attention",
        ("ATTN-MHA-01",),
        _mha_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1], **_causal_flag(p)),
        defaults={"causal": True},
        float_inputs=(0, 1),
    ),
    row(
        "attention",
        "longformer_attention",
        ("ATTN-LOCAL-04", "ATTN-LOCAL-05"),
        _longformer_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1], window=p["window"], global_mask=inputs[2]),
        params=(Param("window", int, low=1, special=(4,), clause="ATTN-LOCAL-03"),),
        defaults={"window": 2},
        float_inputs=(0, 1),
        opt_out={"production": "its value mixes LOCAL-04 and LOCAL-05: production_sizes.py says why"},
    ),
)


# embeddings: the other operations


def _bert_embedding_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    vocab, length = (30, 7) if size == SMALL else (PRODUCTION_TABLE, 512)
    weights = ref_embeddings.BertEmbeddingWeights.random(vocab, 512, 2, 8, generator, torch.float64)
    return _ids(generator, vocab, 2, length), _ids(generator, 2, 2, length), weights


EMBEDDINGS += (
    row(
        "embeddings",
        "bert_embedding",
        ("EMB-SEG-01",),
        _bert_embedding_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1] if p["token_type_ids"] == "given" else None, inputs[2]),
        # None is "all zeros" (EMB-SEG-02), the legal value code may mistake for "no types at all"
        params=(Param("token_type_ids", object, special=(None,), clause="EMB-SEG-02"),),
        defaults={"token_type_ids": "given"},
        float_inputs=(2,),
    ),
    row(
        "embeddings",
        "axial_parameter_count",
        ("EMB-AXIAL-02",),
        _nothing,
        lambda op, inputs, p, adapter: op((p["rows"], 64), (16, 48)),
        params=(Param("rows", int, special=(1, 512)),),
        defaults={"rows": 64},
        exact=True,
        float_inputs=(),
        opt_out={"layout": "its inputs are integers", "production": "an integer formula: the size is a parameter"},
    ),
)


# tokenizers: the other operations. Text parameters get their non-numeric boundaries: the empty string,
# one character, whitespace only.


def _normalizer_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig

    pick = int(torch.randint(0, 2, (1,), generator=generator))
    return BertNormalizerConfig(lowercase=bool(pick)), ("Héllo  Wörld\t中文!", "ÀB c\u0301 d")[pick]


def _bpe_ids(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    model, text = _bpe_inputs(generator, size)
    return model, model.encode(text)


def _sentencepiece_ids(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    model, text = _sentencepiece_inputs(generator, size)
    from specformer.conformance.suite import tokenizer_inputs

    return model, tokenizer_inputs.reference_sentencepiece(model).encode(text)


def _batch_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    model, text = _wordpiece_inputs(generator, size)
    return model, [text, "b"]


def _with_text(name: str) -> dict[str, Any]:
    return {"params": (_TEXT,), "defaults": {"text": _AS_GIVEN}}


_TOKENS = {"exact": True, "float_inputs": (), "opt_out": {"layout": _NOT_TENSORS, "production": _REAL_VOCABULARIES}}

TOKENIZERS += (
    row(
        "tokenizers",
        "pretokenize",
        ("TOK-BL-02",),
        lambda g, size: (_TEXTS[int(torch.randint(0, 2, (1,), generator=g))],),
        lambda op, inputs, p, adapter: op(_text(inputs, p, 0), "gpt2"),
        **_with_text("pretokenize"),
        **_TOKENS,
    ),
    row(
        "tokenizers",
        "bpe_decode",
        ("TOK-BL-06",),
        _bpe_ids,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1][: p["count"]]),
        params=(Param("count", int, special=(0, 1)),),
        defaults={"count": 100},
        **_TOKENS,
    ),
    row(
        "tokenizers",
        "bert_normalize",
        ("TOK-BERT-01", "TOK-BERT-03"),
        _normalizer_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], _text(inputs, p)),
        **_with_text("bert_normalize"),
        **_TOKENS,
    ),
    row(
        "tokenizers",
        "sentencepiece_normalize",
        ("TOK-SP-02",),
        _sentencepiece_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], _text(inputs, p)),
        **_with_text("sentencepiece_normalize"),
        **_TOKENS,
    ),
    row(
        "tokenizers",
        "sentencepiece_decode",
        ("TOK-SP-07",),
        _sentencepiece_ids,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1][: p["count"]]),
        params=(Param("count", int, special=(0, 1)),),
        defaults={"count": 100},
        **_TOKENS,
    ),
    row("tokenizers", "bytes_to_unicode", ("TOK-BL-01",), _nothing, lambda op, inputs, p, adapter: op(), **_TOKENS),
    row(
        "tokenizers",
        "encode_batch",
        ("TOK-POST-01", "TOK-PAD-01"),
        _batch_inputs,
        # ids, types and masks (the cited clauses); offsets are TOK-OFF-01..03's, checked by their tests
        lambda op, inputs, p, adapter: [
            (e.ids, e.token_type_ids, e.attention_mask, e.special_tokens_mask)
            for e in op(inputs[0], inputs[1], max_length=p["max_length"])
        ],
        # None is "no limit", the legal value code mistakes for 0; 3 is the pair template's floor + 0
        params=(Param("max_length", int, special=(None, 512)),),
        defaults={"max_length": None},
        **_TOKENS,
    ),
    row(
        "tokenizers",
        "bpe_train",
        ("TOK-TRAIN-01", "TOK-TRAIN-03"),
        lambda g, size: (_TEXTS[int(torch.randint(0, 2, (1,), generator=g))] * 3,),
        lambda op, inputs, p, adapter: op(_text(inputs, p, 0), p["num_merges"], "gpt2"),
        params=(Param("num_merges", int, special=(0, 1)),),
        defaults={"num_merges": 4},
        **_TOKENS,
    ),
)


# ---------------------------------------------------------------------------------------
# losses: logits (N, V), labels (N,)


def _classification(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    rows, vocab = (6, 11) if size == SMALL else (64, PRODUCTION_VOCAB)
    labels = _ids(generator, vocab, rows)
    labels[1] = -100  # one ignored row
    return _draw(generator, rows, vocab, scale=3.0), labels


def _sequence_labels(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    batch, length, vocab = (2, 6, 11) if size == SMALL else (1, 64, PRODUCTION_VOCAB)
    labels = _ids(generator, vocab, batch, length)
    labels[:, 1] = -100
    return _draw(generator, batch, length, vocab, scale=3.0), labels


def _pairs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    return _draw(generator, 4, 3), _draw(generator, 4, 3)


def _binary(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    return _draw(generator, 4, 3, scale=5.0), torch.rand(4, 3, generator=generator, dtype=torch.float64).round()


_NUM_ITEMS = Param("num_items_in_batch", int, low=1, special=(None, 10**6), clause="LOSS-CLM-04")
_ELEMENTWISE = {"production": "an elementwise mean: no size-dependent path"}


def _token_loss(name: str, clause: str, **kw: Any) -> Operation:
    """A loss of (B, L, V) logits and (B, L) labels, given num_items_in_batch or not."""
    return row(
        "losses",
        name,
        (clause,),
        _sequence_labels,
        lambda op, inputs, p, adapter: op(*inputs, num_items_in_batch=p["num_items_in_batch"]),
        params=(_NUM_ITEMS,),
        defaults={"num_items_in_batch": None},
        **kw,
    )


LOSSES = (
    row(
        "losses",
        "cross_entropy",
        ("LOSS-CE-01",),
        _classification,
        lambda op, inputs, p, adapter: op(*inputs, label_smoothing=p["label_smoothing"], reduction=p["reduction"]),
        params=(
            Param("label_smoothing", float, low=0.0, high=1.0, clause="LOSS-CE-09", value_clause="LOSS-CE-06"),
            Param(
                "reduction",
                str,
                special=("sum", "none"),
                invalid=("average",),
                clause="LOSS-CE-09",
                value_clause="LOSS-CE-07",
            ),
        ),
        defaults={"label_smoothing": 0.0, "reduction": "mean"},
        float_inputs=(0,),
    ),
    _token_loss("causal_lm_loss", "LOSS-CLM-01"),
    _token_loss(
        "masked_lm_loss",
        "LOSS-MLM-01",
        opt_out={"production": "causal_lm_loss's production case runs the same loss over the same 128k vocabulary"},
    ),
    row(
        "losses",
        "mse_loss",
        ("LOSS-MSE-01",),
        _pairs,
        _positional,
        float_inputs=(0, 1),
        opt_out=_ELEMENTWISE,
    ),
    row(
        "losses",
        "bce_with_logits_loss",
        ("LOSS-BCE-01",),
        _binary,
        _positional,
        float_inputs=(0, 1),
        opt_out=_ELEMENTWISE,
    ),
    row(
        "losses",
        "sequence_classification_loss",
        ("LOSS-SEQ-01",),
        lambda g, size: (_draw(g, 4, 3), _ids(g, 3, 4)),
        _positional,
        opt_out={"production": "a (B, C) cross-entropy: cross_entropy's production case covers the large-C path"},
    ),
)


# ---------------------------------------------------------------------------------------
# heads: hidden (B, L, D), weights BertHeadWeights


def _head_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.reference.heads import BertHeadWeights

    vocab, length = (13, 5) if size == SMALL else (30_522, 32)  # BERT's vocabulary (the MLM decoder's size)
    labels = _ids(generator, vocab, 2, length)
    labels[:, ::2] = -100
    weights = BertHeadWeights.random(vocab, 8, 3, generator)
    return _draw(generator, 2, length, 8), weights, labels


def _lm_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    vocab = 17 if size == SMALL else PRODUCTION_VOCAB
    mask = torch.ones(2, 5, dtype=torch.int64)
    mask[1, :2] = 0  # left padding
    return _draw(generator, 2, 5, 8), _draw(generator, vocab, 8), mask


def _span_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    length = 12 if size == SMALL else 4_096
    context = torch.zeros(length, dtype=torch.bool)
    context[:-3] = True  # starts at 0, so that the expanded layout (every entry the first) is still a context
    return _draw(generator, length), _draw(generator, length), context


def _last_token_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    ids = _ids(generator, 20, 2, 6, low=1)
    mask = torch.ones(2, 6, dtype=torch.int64)
    mask[1, 4:] = 0
    ids[1, 4:] = 0  # pad id 0 on the right
    return _draw(generator, 2, 6, 8), _draw(generator, 3, 8), ids, mask


def _head(name: str, clauses: tuple[str, ...], *, labels: bool = True, **kw: Any) -> Operation:
    def call(op: Callable[..., Any], inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
        return op(inputs[0], inputs[1], inputs[2] if p["labels"] == "given" else None) if labels else op(*inputs[:2])

    params = (Param("labels", object, special=(None,)),) if labels else ()
    return row(
        "heads",
        name,
        clauses,
        _head_inputs,
        call,
        params=params,
        defaults={"labels": "given"},
        float_inputs=(0, 1),
        **kw,
    )


_HEAD_SIZE = {"production": "reads (B, L, D) states and a small classifier: no vocabulary, no size-dependent path"}

HEADS = (
    row(
        "heads",
        "lm_logits",
        ("HEAD-LM-01",),
        _lm_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1]),
        float_inputs=(0, 1),
    ),
    row(
        "heads",
        "generation_logits",
        ("HEAD-GEN-01",),
        _lm_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[2], inputs[1]),
        float_inputs=(0, 1),
    ),
    _head("pooler", ("HEAD-POOL-01",), labels=False, opt_out=_HEAD_SIZE),
    _head("masked_lm_head", ("HEAD-MLM-01",)),
    _head("sequence_classification", ("HEAD-SEQ-01",), labels=False, opt_out=_HEAD_SIZE),
    _head("token_classification", ("HEAD-TOK-01",), labels=False, opt_out=_HEAD_SIZE),
    row(
        "heads",
        "last_token_classification",
        ("HEAD-SEQ-02",),
        _last_token_inputs,
        lambda op, inputs, p, adapter: op(*inputs, pad_token_id=0),
        float_inputs=(0, 1),
        opt_out=_HEAD_SIZE,
    ),
    row(
        "heads",
        "best_span",
        ("HEAD-QA-04", "HEAD-QA-05", "HEAD-QA-06"),
        _span_inputs,
        lambda op, inputs, p, adapter: tuple(op(*inputs, p["max_answer_length"])),
        params=(Param("max_answer_length", int, low=1, special=(30, 10**6), clause="HEAD-QA-05"),),
        defaults={"max_answer_length": 4},
        exact=True,
        float_inputs=(0, 1),
        dtypes=(torch.float64, torch.float32),
    ),
    row(
        "heads",
        "align_word_labels",
        ("HEAD-TOK-02",),
        lambda g, size: ([None, 0, 0, 1, 2, 2, 2, None], [3, 1, 4]),
        _positional,
        exact=True,
        float_inputs=(),
        opt_out={
            "layout": "its inputs are Python lists: no tensor layout to vary",
            "production": "a list walk: no size-dependent path",
        },
    ),
)


# ---------------------------------------------------------------------------------------
# generation: logits (B, V), input_ids (B, L) with a prompt of 3 tokens


def _penalty_inputs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    vocab, length = (20, 7) if size == SMALL else (PRODUCTION_VOCAB, 1_100)
    return _draw(generator, 2, vocab, scale=3.0), _ids(generator, min(vocab, 20), 2, length)


GENERATION = (
    row(
        "generation",
        "repetition_penalty",
        ("GEN-REP-01", "GEN-REP-02"),
        _penalty_inputs,
        lambda op, inputs, p, adapter: op(*inputs, p["penalty"], prompt_length=3),
        params=(Param("penalty", float, low=0.0, low_open=True, special=(1.0,), clause="GEN-REP-06"),),
        defaults={"penalty": 1.3},
    ),
    row(
        "generation",
        "frequency_presence_penalty",
        ("GEN-FREQ-01", "GEN-PRES-01"),
        _penalty_inputs,
        lambda op, inputs, p, adapter: op(
            *inputs, prompt_length=3, frequency_penalty=p["frequency_penalty"], presence_penalty=p["presence_penalty"]
        ),
        params=(
            Param("frequency_penalty", float, low=-2.0, high=2.0, special=(0.0,), clause="GEN-FREQ-02"),
            Param("presence_penalty", float, low=-2.0, high=2.0, special=(0.0,), clause="GEN-FREQ-02"),
        ),
        defaults={"frequency_penalty": 0.5, "presence_penalty": 0.3},
    ),
    row(
        "generation",
        "no_repeat_ngram",
        ("GEN-NGRAM-01",),
        lambda g, size: (_draw(g, 2, 6, scale=3.0), _ids(g, 3, 2, 9) if size == SMALL else _ids(g, 3, 2, 1_100)),
        lambda op, inputs, p, adapter: op(*inputs, p["ngram_size"]),
        params=(Param("ngram_size", int, low=1, special=(9, 100), clause="GEN-NGRAM-03"),),
        defaults={"ngram_size": 2},
    ),
    row(
        "generation",
        "min_new_tokens",
        ("GEN-MIN-01",),
        _penalty_inputs,
        lambda op, inputs, p, adapter: op(
            *inputs, prompt_length=3, min_new_tokens=p["min_new_tokens"], eos_token_ids=(1, 5)
        ),
        params=(Param("min_new_tokens", int, special=(0, 4, 5, 100)),),
        defaults={"min_new_tokens": 5},
        opt_out={"production": "a mask of the EOS ids: no size-dependent path"},
    ),
)


# ---------------------------------------------------------------------------------------
# audio: waveforms 1-D float32 at 16 kHz


def _waveforms(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    samples = 4_000 if size == SMALL else 480_000  # a quarter second; 30 s, Whisper's window
    return (_draw(generator, 2, samples, scale=0.3),)


AUDIO = (
    row(
        "audio",
        "hann_window",
        ("AUD-STFT-01",),
        _nothing,
        lambda op, inputs, p, adapter: op(p["length"]),
        params=(Param("length", int, special=(2, 400)),),
        defaults={"length": 400},
        float_inputs=(),
        dtypes=(torch.float32,),
        opt_out={"layout": "its input is an integer", "production": "Whisper's 400 samples are its default"},
    ),
    row(
        "audio",
        "power_spectrogram",
        ("AUD-STFT-02", "AUD-STFT-03"),
        _waveforms,
        _positional,
        dtypes=(torch.float32,),
    ),
    row(
        "audio",
        "mel_filters",
        ("AUD-MEL-01", "AUD-MEL-02"),
        _nothing,
        lambda op, inputs, p, adapter: op(p["n_mels"]),
        params=(Param("n_mels", int, special=(80, 128)),),
        defaults={"n_mels": 80},
        float_inputs=(),
        dtypes=(torch.float32,),
        opt_out={"layout": "its input is an integer", "production": "80 and 128 mel bins are Whisper's sizes"},
    ),
    row(
        "audio",
        "log_mel",
        ("AUD-FEAT-01",),
        _waveforms,
        lambda op, inputs, p, adapter: op(list(inputs[0][:, : p["samples"]].unbind(0)), p["n_mels"]),
        params=(Param("n_mels", int, special=(128,)), Param("samples", int, special=(1,))),
        defaults={"n_mels": 80, "samples": 4_000},
        dtypes=(torch.float32,),
        heavy=True,
        opt_out={"production": "AUD-FEAT-01's own tests run 30-second waveforms"},
    ),
    row(
        "audio",
        "frame_mask",
        ("AUD-MASK-01",),
        _waveforms,
        lambda op, inputs, p, adapter: op([inputs[0][0], inputs[0][1, :1_000]]),
        exact=True,
        dtypes=(torch.float32,),
        opt_out={"production": "a mask of lengths: no size-dependent path"},
    ),
)


# ---------------------------------------------------------------------------------------
# vision: images (B, C, H, W)


def _patch_inputs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    side = 8 if size == SMALL else 224  # ViT-B/16's 224 x 224 images, 196 patches
    patch = 4 if size == SMALL else 16
    return _draw(generator, 2, 3, side, side), _draw(generator, 8, 3, patch, patch, scale=0.2), _draw(generator, 8)


def _vit_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.reference.vision import ViTConfig, ViTWeights

    config = ViTConfig()
    return _draw(generator, 2, 3, config.image_size, config.image_size), ViTWeights.random(config, generator)


def _convnext_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.reference.vision import ConvNextHeadWeights

    return _draw(generator, 2, 8, 3, 5), ConvNextHeadWeights.random(8, 4, generator)


def _position_inputs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    return (_draw(generator, 1 + 3 * 3, 8),)  # a square 3 x 3 source grid, as ViT's tables are


VISION = (
    row(
        "vision",
        "patch_embedding",
        ("VIS-PATCH-01",),
        _patch_inputs,
        _positional,
        float_inputs=(0, 1, 2),
    ),
    row(
        "vision",
        "interpolate_position_embeddings",
        ("VIS-POS-04", "VIS-POS-06"),
        _position_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], (3, 3), p["target_grid"]),
        params=(Param("target_grid", object, special=((3, 3), (1, 1), (5, 2))),),
        defaults={"target_grid": (6, 7)},
        opt_out={"production": "VIS-POS-04's own tests interpolate ViT-B's 14 x 14 table"},
    ),
    row(
        "vision",
        "vit_embeddings",
        ("VIS-CLS-01", "VIS-POS-01"),
        _vit_inputs,
        lambda op, inputs, p, adapter: op(inputs[0], inputs[1].embedding_weights()),
        float_inputs=(0, 1),
        opt_out={"production": "patch_embedding's production case runs ViT-B/16's patching at 224 x 224"},
    ),
    row(
        "vision",
        "vit_classify",
        ("VIS-ENC-01", "VIS-POOL-01"),
        _vit_inputs,
        _positional,
        float_inputs=(0, 1),
        heavy=True,
        opt_out={"production": "a ViT encoder at real width is out of CI's budget; vit_encode's stack is the same"},
    ),
    row(
        "vision",
        "convnext_head",
        ("VIS-CNX-01",),
        _convnext_inputs,
        _positional,
        float_inputs=(0, 1),
        opt_out={"production": "pooling then a linear map: no size-dependent path"},
    ),
)


# ---------------------------------------------------------------------------------------
# models: hidden (B, L, E) and weights; the whole models from Hugging Face state dicts


def _seed_of(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))


def _layer_inputs(kind: str) -> Callable[[torch.Generator, str], tuple[Any, ...]]:
    def inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
        from specformer.reference import models

        hidden = _draw(generator, 2, 5, 16)
        if kind == "encoder":
            return hidden, models.EncoderLayerWeights.random(16, 2, 32, generator)
        if kind == "decoder":
            return hidden, models.DecoderBlockWeights.random(16, 2, 32, generator)
        memory = _draw(generator, 2, 4, 16)
        return hidden, memory, models.CrossDecoderLayerWeights.random(16, 2, 32, generator)

    return inputs


def _whole_model(kind: str) -> Callable[[torch.Generator, str], tuple[Any, ...]]:
    def inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
        from specformer.conformance.suite import models_inputs

        seed = _seed_of(generator)
        state = (models_inputs.bert_state_dict if kind == "bert" else models_inputs.gpt2_state_dict)(seed)
        state = {name: tensor.double() if tensor.is_floating_point() else tensor for name, tensor in state.items()}
        mask = torch.ones(2, 6, dtype=torch.bool)
        mask[1, -2:] = False  # right padding
        if kind == "gpt2":  # GPT-2 padding has its own clause (MODEL-GPT2-02); its value clause runs unpadded
            mask[:] = True
        return _ids(generator, 50, 2, 6, low=1), mask, state

    return inputs


def _model_call(config_name: str) -> Callable[..., Any]:
    def call(op: Callable[..., Any], inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
        from specformer.conformance.suite import models_inputs

        return op(inputs[0], inputs[1], inputs[2], getattr(models_inputs, config_name))

    return call


_LAYER_SIZE = {"production": "the layers' value clauses run at width 32; real widths only scale the same matmuls"}

MODELS = (
    row(
        "models",
        "encoder_layer",
        ("MODEL-ENC-01",),
        _layer_inputs("encoder"),
        _positional,
        float_inputs=(0, 1),
        opt_out=_LAYER_SIZE,
    ),
    row(
        "models",
        "decoder_block",
        ("MODEL-DEC-01",),
        _layer_inputs("decoder"),
        _positional,
        float_inputs=(0, 1),
        opt_out=_LAYER_SIZE,
    ),
    row(
        "models",
        "cross_decoder_layer",
        ("MODEL-XATTN-01",),
        _layer_inputs("cross"),
        _positional,
        float_inputs=(0, 1, 2),
        opt_out=_LAYER_SIZE,
    ),
    row(
        "models",
        "bert_model",
        ("MODEL-BERT-01",),
        _whole_model("bert"),
        _model_call("BERT_CONFIG"),
        float_inputs=(2,),
        heavy=True,
        opt_out={"production": "MODEL-BERT-02 runs the real all-MiniLM-L6-v2 weights"},
    ),
    row(
        "models",
        "gpt2_model",
        ("MODEL-GPT2-01",),
        _whole_model("gpt2"),
        _model_call("GPT2_CONFIG"),
        float_inputs=(2,),
        heavy=True,
        opt_out=_LAYER_SIZE,
    ),
)


# ---------------------------------------------------------------------------------------
# kv_cache: two decoders (grouped-query, and sliding-window with its rolling cache), picked by the seed


def _decoder_inputs(generator: torch.Generator, size: str) -> tuple[Any, ...]:
    from specformer.conformance.suite import generation_inputs

    config = (generation_inputs.BASE, generation_inputs.SLIDING)[int(torch.randint(0, 2, (1,), generator=generator))]
    weights = generation_inputs.model(config, seed=_seed_of(generator), dtype=torch.float64)
    return weights, _ids(generator, config.vocab_size, 2, 7, low=1)


def _kv_model(operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, "unsupported" first where the drawn decoder needs an optional parameter (a sliding window,
    grouped-query heads) that the adapter's `operation` lacks."""
    from specformer.conformance.adapters.protocols import decoder_parameters_used
    from specformer.conformance.plugin import require

    def checked(op: Callable[..., Any], inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
        needs = decoder_parameters_used(inputs[0].config)
        # `adapter` is the loaded adapter, or the bare reference computing the oracle (which supports all)
        if not all(adapter.capabilities.supports(operation, name) for name in needs):
            require(adapter, operation, *needs)
        return call(op, inputs, p, adapter)

    return checked


_KV = {
    "float_inputs": (0,),
    "heavy": True,
    "opt_out": {"production": "KV-EQ-01..03 run the decoder at their own lengths"},
}

KV_CACHE = (
    row(
        "kv_cache", "decoder_logits", ("KV-MODEL-01",), _decoder_inputs, _kv_model("decoder_logits", _positional), **_KV
    ),
    row(
        "kv_cache",
        "cached_logits",
        ("KV-EQ-01", "KV-EQ-03"),
        _decoder_inputs,
        _kv_model("cached_logits", lambda op, inputs, p, adapter: op(*inputs, steps=p["steps"])),
        params=(Param("steps", object, special=((7,),)),),
        defaults={"steps": (4, 1, 2)},
        state_clauses=("KV-STATE-01",),
        **_KV,
    ),
    row(
        "kv_cache",
        "prefix_reuse_logits",
        ("KV-PREFIX-01",),
        _decoder_inputs,
        _kv_model(
            "prefix_reuse_logits",
            lambda op, inputs, p, adapter: op(inputs[0], inputs[1][:, :4], [inputs[1][:, 4:], inputs[1][:, 5:]]),
        ),
        state_clauses=("KV-STATE-01",),
        **_KV,
    ),
)


# ---------------------------------------------------------------------------------------
# objectives: the random corruptions draw from the given generator (checked statistically by their
# clauses, so here: state, seeds and boundaries run them, without value equality); the
# deterministic halves are value-checked.


def _mlm_inputs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    from specformer.conformance.suite import objectives_inputs

    return objectives_inputs.mlm_batch(_seed_of(generator), 4, 32)


def _word_inputs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    from specformer.conformance.suite import objectives_inputs

    return objectives_inputs.word_batch(_seed_of(generator), 4, 12)


def _sentences(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    ids = _ids(generator, 90, 30, low=10)
    ids[0], ids[-1] = 0, 2  # <s> ... </s>
    ids[[6, 13, 21, 28]] = 5  # full stops
    return (ids,)


def _but(p: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k != name}


_RANDOM = {"seeded": True, "exact": True, "opt_out": {"reference": _STATISTICAL, "layout": _ONE_GENERATOR}}
_PROBABILITY = {"kind": float, "low": 0.0, "high": 1.0}

OBJECTIVES = (
    row(
        "objectives",
        "mlm_mask",
        ("OBJ-MLM-01", "OBJ-MLM-03"),
        _mlm_inputs,
        lambda op, inputs, p, adapter, generator: op(
            *inputs, mask_token_id=4, vocab_size=100, generator=generator, **p
        ),
        # The replacement probabilities lie in [0, 1] and sum to at most 1 (OBJ-MLM-07): with the other at
        # its default the bound is 0.9 (or 0.2), reached exactly at the bound and exceeded just past it.
        params=(
            Param("mlm_probability", **_PROBABILITY, clause="OBJ-MLM-07"),
            Param("mask_replace_prob", float, low=0.0, high=0.9, clause="OBJ-MLM-07"),
            Param("random_replace_prob", float, low=0.0, high=0.2, clause="OBJ-MLM-07"),
        ),
        defaults={"mlm_probability": 0.15, "mask_replace_prob": 0.8, "random_replace_prob": 0.1},
        float_inputs=(),
        **_RANDOM,
    ),
    row(
        "objectives",
        "whole_word_mask",
        ("OBJ-WWM-01",),
        _word_inputs,
        lambda op, inputs, p, adapter, generator: op(
            *inputs, mask_token_id=4, vocab_size=100, generator=generator, mlm_probability=p["mlm_probability"]
        ),
        params=(Param("mlm_probability", **_PROBABILITY, clause="OBJ-MLM-07"),),
        defaults={"mlm_probability": 0.3},
        float_inputs=(),
        **_RANDOM,
    ),
    row(
        "objectives",
        "random_spans_noise_mask",
        ("OBJ-T5-01", "OBJ-T5-02"),
        _nothing,
        lambda op, inputs, p, adapter, generator: op(p["length"], generator=generator, **_but(p, "length")),
        params=(
            Param("length", int, low=2, special=(100, 4_096), clause="OBJ-T5-07"),
            Param("noise_density", float, low=0.0, high=1.0, low_open=True, high_open=True, clause="OBJ-T5-07"),
            # OBJ-T5-07 bounds it below only (inf, zero spans, is not named)
            Param("mean_noise_span_length", float, low=1.0, special=(3.0, 64.0), clause="OBJ-T5-07", inf_invalid=False),
        ),
        defaults={"length": 64, "noise_density": 0.15, "mean_noise_span_length": 3.0},
        float_inputs=(),
        **_RANDOM,
    ),
    row(
        "objectives",
        "sample_infilling_spans",
        ("OBJ-BART-01", "OBJ-BART-02"),
        _nothing,
        lambda op, inputs, p, adapter, generator: op(p["length"], generator=generator, **_but(p, "length")),
        params=(
            Param("mask_ratio", **_PROBABILITY, clause="OBJ-BART-06"),
            # [0.1, 16]: above ~16.12 the truncated table is {0} and no draws cover the budget; below 0.1 the
            # spans needed grow as budget / lambda (OBJ-BART-06's rationale)
            Param("poisson_lambda", float, low=0.1, high=16.0, special=(3.0,), clause="OBJ-BART-06"),
        ),
        defaults={"length": 64, "mask_ratio": 0.3, "poisson_lambda": 3.0},
        float_inputs=(),
        **_RANDOM,
    ),
    row(
        "objectives",
        "permute_sentences",
        ("OBJ-BART-04",),
        _sentences,
        lambda op, inputs, p, adapter, generator: op(inputs[0], full_stop_id=5, generator=generator),
        float_inputs=(),
        **_RANDOM,
    ),
    row(
        "objectives",
        "t5_span_corruption",
        ("OBJ-T5-04", "OBJ-T5-05"),
        lambda g, size: (_ids(g, 90, 20, low=5), torch.tensor([0, 0, 1, 1, 0, 0, 0, 1, 0, 0] * 2, dtype=torch.bool)),
        lambda op, inputs, p, adapter: op(*inputs, vocab_size=100, eos_token_id=1),
        exact=True,
        float_inputs=(),
        opt_out={"production": "an index walk over the noise mask: no size-dependent path"},
    ),
    row(
        "objectives",
        "t5_input_and_target_lengths",
        ("OBJ-T5-06",),
        _nothing,
        lambda op, inputs, p, adapter: tuple(op(p["inputs_length"], p["noise_density"], p["mean_noise_span_length"])),
        params=(
            Param("inputs_length", int, low=2, special=(512, 568), clause="OBJ-T5-07"),
            Param("noise_density", float, low=0.0, high=1.0, low_open=True, high_open=True, clause="OBJ-T5-07"),
            Param("mean_noise_span_length", float, low=1.0, special=(3.0,), clause="OBJ-T5-07", inf_invalid=False),
        ),
        defaults={"inputs_length": 128, "noise_density": 0.15, "mean_noise_span_length": 3.0},
        exact=True,
        float_inputs=(),
        opt_out={"layout": "its input is an integer", "production": "512 (T5's) is one of its boundary values"},
    ),
    row(
        "objectives",
        "text_infilling",
        ("OBJ-BART-03",),
        lambda g, size: (_sentences(g, size)[0], [2, 9, 20], [3, 0, 1]),  # spans as lists: the ids are laid out
        lambda op, inputs, p, adapter: op(inputs[0], torch.tensor(inputs[1]), torch.tensor(inputs[2]), mask_token_id=4),
        exact=True,
        float_inputs=(),
        opt_out={"production": "an index walk over the spans: no size-dependent path"},
    ),
    row(
        "objectives",
        "shift_tokens_right",
        ("OBJ-SHIFT-01",),
        lambda g, size: (_ids(g, 90, 3, 8, low=5).masked_fill(torch.eye(3, 8, dtype=torch.bool), -100),),
        lambda op, inputs, p, adapter: op(inputs[0], pad_token_id=p["pad_token_id"], decoder_start_token_id=2),
        # None is the value code mistakes for "no replacement needed": the clause makes it an error
        params=(Param("pad_token_id", int, special=(0,), invalid=(None,), clause="OBJ-SHIFT-02"),),
        defaults={"pad_token_id": 1},
        exact=True,
        float_inputs=(),
        opt_out={"production": "a shift: no size-dependent path"},
    ),
)

# Operations of FAMILY_OPERATIONS not in the table, each with the reason it is not.
NOT_TABLED = {
    "heads.tied_parameters": "builds a fresh model with random weights: HEAD-TIE-01/02 check parameter identity",
    "heads.next_sentence_head": "the pooled output and a 2-way linear map: pretraining_heads' clauses cover it",
    "heads.pretraining_heads": "the sum of masked_lm_head's and next_sentence_head's losses (HEAD-PRE-01)",
    "heads.question_answering": "a 2-way linear map like token_classification; best_span is tabled",
    "heads.mean_pooling": "HEAD-SEQ-04's tests vary the padding side, the layout (a transposed view), the pad values",
    "objectives.next_sentence_pairs": "its inputs are nested lists of documents; OBJ-NSP-01..03 check its draws",
    "kv_cache.cache_after_prefill": "its CacheState is checked field by field by KV-SHAPE/LEN/SIZE",
    "kv_cache.decode_step_runner": "returns a closure for timing; KV-COST-01 measures it",
    "generation.generate": "a whole loop over the processors tabled here; test_generation runs it end to end",
    "models.encoder_decoder": "a stack of the encoder_layer and cross_decoder_layer tabled here",
    "models.bart_for_conditional_generation": "whole model: MODEL-IO-02's test passes it a strided view, repeats it",
    "models.t5_for_conditional_generation": "whole model: MODEL-IO-02's test passes it a strided view, repeats it",
    "models.t5_relative_position_bucket": "integer in, integer out: MODEL-T5-02 checks every position in -300..299",
    "vision.vit_encode": "vit_classify runs the same encoder and pools it",
    "vision.preprocess": "takes uint8 images and resizes them; VIS-PRE-01..03 check it",
}

# Numeric parameters of tabled operations (int or float in the protocol's signature) that declare no
# domain above, each with the reason (tests/test_generic_table.py fails on one in neither place).
_TOKEN_ID = "a token id: any id of the vocabulary is legal; the value is an index, not a quantity with bounds"
NOT_VARIED = {
    "attention.attention.scale": "a default-scale bug would be blamed on the causal clause the row cites; "
    "production_sizes.py's cases pass 0.37, 0.125 and 0.0 (causal) explicitly",
    "embeddings.axial_position_encoding.hidden_size": "fixed by the axes (d1 + d2); EMB-AXIAL-03's tests pass "
    "another width for the ValueError",
    "tokenizers.encode_batch.pad_to_multiple_of": "TOK-PAD-01's tests vary it (None and multiples) on the strings "
    "that exercise it; the generic tokenizer rows vary text only",
    "losses.cross_entropy.ignore_index": "which values are legal depends on the labels (a -100 label with another "
    "ignore_index is out of range, LOSS-CE-08); LOSS-CE-04's and LOSS-CE-08's tests vary it",
    "heads.last_token_classification.pad_token_id": _TOKEN_ID + " (HEAD-SEQ-03: a real token equal to it counts)",
    "generation.repetition_penalty.prompt_length": "its domain is [0, L] of the given ids, not a constant; "
    "GEN-REP-04's tests set it to split the prompt from the generated tokens",
    "generation.frequency_presence_penalty.prompt_length": "its domain is [0, L] of the given ids; GEN-FREQ-03's "
    "tests set it to split the prompt from the generated tokens",
    "generation.min_new_tokens.prompt_length": "its domain is [0, L] of the given ids; GEN-MIN-01's tests set it",
    "audio.log_mel.sampling_rate": "one legal value (16,000); AUD-IN-01's tests try the others for the ValueError",
    "kv_cache.cached_logits.max_cache_len": "a static cache's capacity against the sequence: KV-STATIC-01/02 "
    "try one short of, exactly at and past the capacity",
    "objectives.mlm_mask.mask_token_id": _TOKEN_ID,
    "objectives.mlm_mask.vocab_size": "the range random replacements are drawn from; OBJ-MLM-05's tests vary it",
    "objectives.whole_word_mask.mask_token_id": _TOKEN_ID,
    "objectives.whole_word_mask.vocab_size": "the range random replacements are drawn from, as mlm_mask's",
    "objectives.sample_infilling_spans.length": "the text's length; the span budget is mask_ratio's, varied above",
    "objectives.permute_sentences.full_stop_id": _TOKEN_ID,
    "objectives.t5_span_corruption.vocab_size": "sets the sentinel ids (vocab_size - 1 down); OBJ-T5-03's tests "
    "check them",
    "objectives.t5_span_corruption.eos_token_id": _TOKEN_ID,
    "objectives.text_infilling.mask_token_id": _TOKEN_ID,
    "objectives.shift_tokens_right.decoder_start_token_id": _TOKEN_ID + " (None is OBJ-SHIFT-02's error, tested there)",
}

OPERATIONS: tuple[Operation, ...] = SAMPLING + ATTENTION + COMPLEXITY + EMBEDDINGS + TOKENIZERS
OPERATIONS += LOSSES + HEADS + GENERATION + AUDIO + VISION + MODELS + KV_CACHE + OBJECTIVES
