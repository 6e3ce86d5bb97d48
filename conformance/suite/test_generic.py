"""Generic properties, derived for every operation in operations.py: layouts, state, boundaries, size.

Nothing here is written for one operation: each test reads the operation's row of the table
(operations.OPERATIONS) and cites its clauses. See operations.py for what each property means and
for the opt-outs (each with its reason).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
import torch

from specformer.conformance.adapters.protocols import OPTIONAL_PARAMETERS
from specformer.conformance.cache import cached, key_of
from specformer.conformance.numerics import ConformanceFailure, annotate, assert_close, fail
from specformer.conformance.plugin import clause, not_applicable, require, supports
from specformer.conformance.suite.heads_inputs import with_output_rounding
from specformer.conformance.suite.operations import DISABLED, OPERATIONS, PRODUCTION, SMALL, Operation, Param
from specformer.conformance.suite.production_sizes import PLAIN_CROSS_ENTROPY_OF, PRODUCTION_CASES, case_id

LAYOUTS = ("slice", "transpose", "expanded", "offset")
# Two layouts per operation, in turn over the table, so that every family meets every layout within
# CI's budget: a strided row (slice or transpose) and a view with an unusual storage (expanded: stride 0,
# or offset); a heavy operation (a whole model, a 30 s front end) runs the first of its two.
LAYOUT_PAIRS = (("slice", "expanded"), ("transpose", "offset"), ("transpose", "expanded"), ("slice", "offset"))


def _layouts_of(index: int, op: Operation) -> tuple[str, ...]:
    pair = LAYOUT_PAIRS[index % len(LAYOUT_PAIRS)]
    return pair[:1] if op.heavy else pair


def _cases(property_name: str, extra: tuple[str, ...] = ()) -> list[Any]:
    cases = []
    for index, op in enumerate(OPERATIONS):
        if property_name in op.opt_out:
            continue
        for suffix in (_layouts_of(index, op) if extra == LAYOUTS else extra) or ("",):
            ident = f"{op.id}-{suffix}" if suffix else op.id
            cited = op.clauses + (op.state_clauses if property_name == "state" else ())
            cases.append(pytest.param(op, suffix, id=ident, marks=clause(*cited)))
    return cases


def _boundary_cases() -> list[Any]:
    cases = []
    for op in OPERATIONS:
        for param in op.params:
            for label, value, inside in param.cases():
                # In the domain: the value clause holds there; outside: the domain clause's ValueError.
                cited = (param.value_clause or op.clauses[0]) if inside else param.clause
                ident = f"{op.id}-{param.name}-{label}"
                cases.append(pytest.param(op, param, value, inside, id=ident, marks=clause(cited)))
    return cases


# ---------------------------------------------------------------------------------------
# Calling an operation the same way everywhere


def _dtype(adapter, op: Operation) -> torch.dtype:
    for dtype in op.dtypes:
        if adapter.supports_dtype(dtype):
            return dtype
    not_applicable(f"{adapter.name} declares none of {op.dtypes}")
    raise AssertionError("unreachable")


def _defaults(adapter, op: Operation) -> dict[str, Any]:
    """The operation's default parameters, an optional one the adapter lacks set to its disabled value
    (the generic properties are about layouts, state and sizes, never about an optional feature)."""
    optional = OPTIONAL_PARAMETERS.get(op.name, ())
    return {
        name: DISABLED[name] if name in optional and name in DISABLED and not supports(adapter, op.name, name) else v
        for name, v in op.defaults.items()
    }


def _inputs(op: Operation, seed: int, size: str = SMALL) -> tuple[Any, ...]:
    return op.inputs(torch.Generator().manual_seed(seed), size)


def _cast(op: Operation, inputs: tuple[Any, ...], dtype: torch.dtype) -> tuple[Any, ...]:
    """The float inputs (tensors, weight dataclasses, state dicts) in the working dtype; the rest as they are."""

    def cast(x: Any) -> Any:
        if isinstance(x, dict):
            return {
                k: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in x.items()
            }
        return x.to(dtype)

    return tuple(cast(x) if i in op.float_inputs else x for i, x in enumerate(inputs))


def _leaves(x: Any) -> list[Any]:
    """The values an answer is made of, in a fixed order: tensors, numbers, strings, None."""
    if isinstance(x, torch.Tensor):
        return [x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return [leaf for f in dataclasses.fields(x) for leaf in _leaves(getattr(x, f.name))]
    if isinstance(x, dict):
        keys = sorted(x, key=lambda key: (type(key).__name__, key))  # insertion order is not part of the answer
        return [leaf for key in keys for leaf in (key, *_leaves(x[key]))]
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        a, b = torch.as_tensor(a), torch.as_tensor(b)
        return (
            a.shape == b.shape
            and a.dtype == b.dtype
            and bool(
                torch.equal(a, b) or ((a.isnan() == b.isnan()).all() and torch.equal(a.nan_to_num(), b.nan_to_num()))
            )
        )
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _show(leaves: list[Any]) -> str:
    return ", ".join(f"{x.flatten()[:6].tolist()}" if isinstance(x, torch.Tensor) else repr(x) for x in leaves)[:300]


def _run(adapter, op: Operation, inputs: tuple[Any, ...], params: dict[str, Any], seed: int = 0) -> Any:
    bound = require(adapter, op.name, *op.needs)
    if op.seeded:
        return op.call(bound, inputs, params, adapter, torch.Generator().manual_seed(seed))
    return op.call(bound, inputs, params, adapter)


def _check_value(
    adapter,
    op: Operation,
    actual: Any,
    inputs64: tuple[Any, ...],
    params: dict[str, Any],
    what: str,
    dtype=None,
    inputs_from: tuple[int, str] | None = None,
):
    """actual against the reference on the same inputs: exactly, or under the numerical policy.

    Float tensors of the answer are checked under numerics' rule against the float64 oracle; every
    other part (ids, masks, counts, strings) must equal the reference's answer in the working dtype.
    inputs_from: the (seed, size) inputs64 was drawn with, where the reference's answers may be kept
    on disk (_reference_answers).
    """
    got = _leaves(actual)
    dtype = dtype or next((x.dtype for x in got if isinstance(x, torch.Tensor) and x.is_floating_point()), None)
    in_dtype, oracle = _reference_answers(adapter, op, inputs64, params, dtype, inputs_from)
    if len(got) != len(in_dtype):
        fail(f"{what}: got {len(got)} values ({_show(got)}), expected {len(in_dtype)} ({_show(in_dtype)})")
    for index, (a, ref64, ref) in enumerate(zip(got, oracle, in_dtype, strict=True)):
        part = f"{what}, part {index}" if len(got) > 1 else what
        if isinstance(a, torch.Tensor) and a.is_floating_point() and not op.exact and isinstance(ref64, torch.Tensor):
            # the answer's own rounding to its dtype is allowed (heads_inputs.with_output_rounding)
            in_dtype_ref = with_output_rounding(ref64, ref.to(a.dtype))
            assert_close(a, ref64.to(torch.float64), in_dtype_ref, what=part)
        elif not _equal(a if not isinstance(ref, torch.Tensor) else torch.as_tensor(a), ref):
            fail(f"{part}: got {_show([a])}, expected {_show([ref])}")


def _inputs_identity(op: Operation) -> tuple[Any, ...]:
    """What tells two rows of one operation apart beyond their clauses: the inputs function and the
    plain values it closes over (production_sizes.py's cases share one operation and differ by shapes)."""
    function = op.inputs
    cells = tuple(c.cell_contents for c in (getattr(function, "__closure__", None) or ()))
    name = (getattr(function, "__module__", None), getattr(function, "__qualname__", repr(function)))
    return (*name, tuple(v for v in cells if _plain(v)))


def _reference_answers(
    adapter,
    op: Operation,
    inputs64: tuple[Any, ...],
    params: dict[str, Any],
    dtype,
    inputs_from: tuple[int, str] | None,
) -> tuple[list[Any], list[Any]]:
    """The reference's answer in the working dtype and in float64 (the same list for an exact operation).

    At production size these cost more than most adapters' answers, and they are the same for every
    adapter declaring the same variants: with inputs_from given, they are kept on disk
    (conformance/cache.py), keyed by the operation, the seed and size of its inputs, the parameters,
    the dtype and the adapter's declared variants (the only part of an adapter a reference reads).
    Parameters that are not plain values (a tensor's repr is cut short) are never keyed on: computed.
    What is kept is computed from inputs drawn afresh, never from inputs64, which the adapter under
    test was given and may have written into.
    """

    def compute(inputs: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
        in_dtype = _leaves(op.reference(_cast(op, inputs, dtype) if dtype else inputs, params, adapter))
        oracle = in_dtype if op.exact or dtype is None else _leaves(op.reference(inputs, params, adapter))
        return in_dtype, oracle

    if inputs_from is None or not all(_plain(v) for v in params.values()):
        return compute(inputs64)
    variants = sorted(adapter.capabilities.variants.items())
    key = key_of(op.id, op.clauses, _inputs_identity(op), inputs_from, sorted(params.items()), str(dtype), variants)
    seed, size = inputs_from
    return cached("generic-reference", key, lambda: compute(_inputs(op, seed=seed, size=size)))


def _plain(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _answers_right(adapter, op: Operation, answer: Any, dtype: torch.dtype) -> bool:
    """Whether `answer` (to seed 1's inputs) passes the value check against the reference."""
    try:
        _check_value(adapter, op, answer, _inputs(op, seed=1), _defaults(adapter, op), f"{op.name}(A)", dtype)
    except (ConformanceFailure, AssertionError):
        return False
    return True


def _same(first: Any, second: Any, what: str) -> None:
    a, b = _leaves(first), _leaves(second)
    if len(a) != len(b) or not all(_equal(x, y) for x, y in zip(a, b, strict=True)):
        fail(f"{what}: got {_show(b)} ..., the first call gave {_show(a)} ...")


def _write_into(answer: Any) -> bool:
    """Change the answer's first tensor in place, as a caller may; False when it is not writable."""
    for leaf in _leaves(answer):
        if isinstance(leaf, torch.Tensor) and leaf.numel():
            try:
                leaf.copy_(~leaf if leaf.dtype == torch.bool else leaf + 1)
            except RuntimeError:  # an expanded or read-only view: no caller can write into it
                return False
            return True
    return False


# ---------------------------------------------------------------------------------------
# Layouts


def _layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """A view of x (or of x's first row repeated, for "expanded") that is not plain contiguous."""
    if layout == "slice":  # every other row of a batch twice as large
        big = torch.stack([x, torch.zeros_like(x)], dim=1).flatten(0, 1)
        return big[::2]
    if layout == "transpose":  # same values, last two dimensions' strides swapped
        return x.transpose(-1, -2).contiguous().transpose(-1, -2) if x.dim() >= 2 else x.flip(0).flip(0)
    if layout == "expanded":  # the first row repeated with stride 0
        return x[:1].expand_as(x)
    storage = torch.zeros(x.numel() + 7, dtype=x.dtype)  # "offset": a view at storage offset 7
    return storage[7:].view(x.shape).copy_(x)


@pytest.mark.parametrize(("op", "layout"), _cases("layout", LAYOUTS))
def test_layouts_do_not_change_the_answer(adapter, op: Operation, layout: str) -> None:
    dtype = _dtype(adapter, op)
    require(adapter, op.name, *op.needs)  # before drawing inputs, which may be production-size models
    inputs64 = _inputs(op, seed=1)
    viewed = tuple(_layout(x, layout) if isinstance(x, torch.Tensor) else x for x in _cast(op, inputs64, dtype))
    contiguous64 = tuple(
        x.contiguous().to(inputs64[i].dtype) if isinstance(x, torch.Tensor) else inputs64[i]
        for i, x in enumerate(viewed)
    )
    with annotate(operation=op.id, layout=layout, dtype=str(dtype)):
        actual = _run(adapter, op, viewed, _defaults(adapter, op))
        _check_value(adapter, op, actual, contiguous64, _defaults(adapter, op), f"{op.name} on a {layout} view", dtype)
        if op.exact:
            contiguous = tuple(x.contiguous() if isinstance(x, torch.Tensor) else x for x in viewed)
            _same(_run(adapter, op, contiguous, _defaults(adapter, op)), actual, f"{op.name} ({layout})")


# ---------------------------------------------------------------------------------------
# State across calls


@pytest.mark.parametrize(("op", "suffix"), _cases("state"))
def test_calls_are_independent(adapter, op: Operation, suffix: str) -> None:
    """A, B, A: inputs unchanged, A's answer the same, B's the one B gives alone (seed 2 is another
    vocabulary, model or cache configuration), and writing into an answer changes no later one."""
    dtype = _dtype(adapter, op)
    require(adapter, op.name, *op.needs)  # before drawing inputs, which may be production-size models
    first, second = _cast(op, _inputs(op, seed=1), dtype), _cast(op, _inputs(op, seed=2), dtype)
    kept = [x.clone() if isinstance(x, torch.Tensor) else x for x in _leaves(first)]
    with annotate(operation=op.id, dtype=str(dtype)):
        a1 = _run(adapter, op, first, _defaults(adapter, op))
        for index, (x, original) in enumerate(zip(_leaves(first), kept, strict=True)):
            if isinstance(x, torch.Tensor) and not _equal(x, original):
                fail(f"{op.name} modified its input in place (input part {index}, shape {tuple(x.shape)})")
        b1 = _run(adapter, op, second, _defaults(adapter, op))
        a2 = _run(adapter, op, first, _defaults(adapter, op))
        _same(a1, a2, f"{op.name}(A) after {op.name}(B)")
        if "reference" not in op.opt_out and _answers_right(adapter, op, a1, dtype):
            # A is answered right, so a wrong B right after it is state carried over from A; where A is
            # wrong too the operation's own value is wrong, which its value clauses' tests report.
            what = f"{op.name}(B) right after {op.name}(A), two configurations through one adapter"
            _check_value(adapter, op, b1, _inputs(op, seed=2), _defaults(adapter, op), what, dtype)
        expected = [x.clone() if isinstance(x, torch.Tensor) else x for x in _leaves(a2)]
        if _write_into(a2):  # a caller writing into its answer must not change what the next call returns
            _same(
                expected, _run(adapter, op, first, _defaults(adapter, op)), f"{op.name}(A) after writing into an answer"
            )


@pytest.mark.parametrize(
    "op", [pytest.param(op, id=op.id, marks=clause(*op.clauses, *op.state_clauses)) for op in OPERATIONS if op.seeded]
)
def test_seeded_draws_use_only_the_given_generator(adapter, op: Operation) -> None:
    bound = require(adapter, op.name, *op.needs)
    dtype = _dtype(adapter, op)
    if op.family == "sampling":  # 64 rows at temperature 5: two seeds cannot draw the same 64 tokens
        inputs = _cast(
            op, (torch.randn(64, 50, generator=torch.Generator().manual_seed(3), dtype=torch.float64),), dtype
        )
        params = {**_defaults(adapter, op), "temperature": 5.0}
    else:
        inputs, params = _cast(op, _inputs(op, seed=3), dtype), _defaults(adapter, op)

    def draw(seed: int) -> tuple[Any, torch.Generator]:
        generator = torch.Generator().manual_seed(seed)
        return op.call(bound, inputs, params, adapter, generator), generator

    global_state = torch.get_rng_state()
    with annotate(operation=op.id, dtype=str(dtype)):
        first, generator = draw(11)
        if torch.equal(generator.get_state(), torch.Generator().manual_seed(11).get_state()):
            fail(f"{op.name}: the given generator did not advance (its state is the seed's)")
        if not torch.equal(global_state, torch.get_rng_state()):
            fail(f"{op.name}: the global RNG advanced; randomness must come only from the given generator")
        _same(first, draw(11)[0], f"{op.name} with the same seed")
        if all(_equal(a, b) for a, b in zip(_leaves(first), _leaves(draw(12)[0]), strict=False)):
            fail(f"{op.name}: seeds 11 and 12 drew the same answer ({_show(_leaves(first))})")


# ---------------------------------------------------------------------------------------
# Boundary values of every parameter


@pytest.mark.parametrize(("op", "param", "value", "inside"), _boundary_cases())
def test_parameter_boundaries(adapter, op: Operation, param: Param, value: Any, inside: bool) -> None:
    dtype = _dtype(adapter, op)
    require(adapter, op.name, *op.needs)  # before drawing inputs, which may be production-size models
    inputs64 = _inputs(op, seed=4)
    if param.name in OPTIONAL_PARAMETERS.get(op.name, ()):
        require(adapter, op.name, param.name)  # unsupported where the adapter lacks the parameter
    params = {**_defaults(adapter, op), param.name: value}
    what = f"{op.name} with {param.name}={value!r}"
    with annotate(operation=op.id, dtype=str(dtype)):
        if inside:
            answer = _run(adapter, op, _cast(op, inputs64, dtype), params)
            if "reference" not in op.opt_out:  # a statistical operation must answer there; its clauses judge the draws
                _check_value(adapter, op, answer, inputs64, params, what, dtype)
            return
        try:
            result = _run(adapter, op, _cast(op, inputs64, dtype), params)
        except ValueError as exc:
            if param.name not in str(exc):
                fail(f"{what} (outside its domain): the ValueError does not name {param.name}: {exc}")
            return
        except Exception as exc:
            fail(f"{what} (outside its domain) raised {type(exc).__name__} ({exc}), expected ValueError")
        fail(f"{what} (outside its domain) was accepted (returned {type(result).__name__}), expected ValueError")


# ---------------------------------------------------------------------------------------
# Production sizes


# The table's rows at their production size, then the cases of production_sizes.py (one clause's
# parameters at production size each: masks at 1,031 keys, ties over 128,256 tokens, ignored rows).
_PRODUCTION = _cases("production") + [
    pytest.param(op, "", id=case_id(op), marks=clause(*op.clauses)) for op in PRODUCTION_CASES
]


@pytest.mark.parametrize(("op", "suffix"), _PRODUCTION)
def test_production_size_values(adapter, op: Operation, suffix: str, request) -> None:
    if "reference" in op.opt_out:
        not_applicable(f"{op.id}: {op.opt_out['reference']}")
    dtype = _dtype(adapter, op)
    require(adapter, op.name, *op.needs)  # before drawing inputs, which may be production-size models
    # production_sizes.py's cases run small under the quick profile (a developer's loop); ci runs them at size
    # (the table's rows run at size under quick too: CI's quick mutant runs catch SoftmaxThenLog and
    # SpanEndBeforeStart only there)
    quick = op in PRODUCTION_CASES and request.config.getoption("--specformer-profile") == "quick"
    inputs64 = _inputs(op, seed=5, size=SMALL if quick else PRODUCTION)
    params = dict(_defaults(adapter, op))
    if op.params and not op.inputs(torch.Generator(), SMALL):  # sized by its parameters (a table)
        params = {**params, **{p.name: p.special[-1] for p in op.params if p.special}}
    with annotate(operation=op.id, size=PRODUCTION, dtype=str(dtype)):
        actual = _run(adapter, op, _cast(op, inputs64, dtype), params)
        what = f"{op.name} at production size"
        try:
            _check_value(
                adapter, op, actual, inputs64, params, what, dtype, inputs_from=(5, SMALL if quick else PRODUCTION)
            )
        except ConformanceFailure as failure:
            _blame_the_plain_loss(adapter, op, inputs64, dtype, failure)
            raise


def _blame_the_plain_loss(
    adapter, op: Operation, inputs64: tuple[Any, ...], dtype, failure: ConformanceFailure
) -> None:
    """A loss case whose clause is a rule on top of the plain cross-entropy (production_sizes.PLAIN_CROSS_ENTROPY_OF)
    says nothing about that rule when the plain cross-entropy of the same rows fails too (of each row alone, for
    reduction="none"): the error is then the loss's own accumulation over the vocabulary, LOSS-CE-01's (its
    production row judges it), so this case is n/a.
    Otherwise (or where the adapter has no cross_entropy to tell) the failure stands."""
    plain_inputs = PLAIN_CROSS_ENTROPY_OF.get(case_id(op)) if op in PRODUCTION_CASES else None
    if plain_inputs is None or not adapter.declares("losses") or adapter.operation("cross_entropy") is None:
        return
    plain = next(o for o in OPERATIONS if o.family == "losses" and o.name == "cross_entropy")
    checks = plain_inputs(inputs64)
    for index, inputs in enumerate(checks):
        which = f"the same {inputs[1].numel()} counted targets"
        if len(checks) > 1:
            which = f"row {index} of the {len(checks)} counted targets alone"
        try:
            answer = _run(adapter, plain, _cast(plain, inputs, dtype), dict(plain.defaults))
            _check_value(adapter, plain, answer, inputs, dict(plain.defaults), "the plain cross-entropy", dtype)
        except ConformanceFailure as plain_failure:
            not_applicable(
                f"{failure.args[0]}; the plain cross-entropy of {which} (LOSS-CE-01: mean, no smoothing) fails too "
                f"({plain_failure.args[0]}): the loss's accumulation over the vocabulary, judged by LOSS-CE-01's "
                f"production row, not a rule of {', '.join(op.clauses)}"
            )
        except Exception:  # the adapter cannot tell (it raised): the case's own failure stands
            return
