"""Generic properties, derived for every operation in operations.py: layouts, state, boundaries, size.

Nothing here is written for one operation: each test reads the operation's row of the table
(operations.OPERATIONS) and cites its clauses. See operations.py for what each property means and
for the opt-outs (each with its reason).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from specformer.conformance.adapters.protocols import OPTIONAL_PARAMETERS
from specformer.conformance.numerics import annotate, assert_close, fail
from specformer.conformance.plugin import clause, not_applicable, require, supports
from specformer.conformance.suite.operations import DISABLED, OPERATIONS, PRODUCTION, SMALL, Operation, Param

LAYOUTS = ("slice", "transpose", "expanded", "offset")


def _cases(property_name: str, extra: tuple[str, ...] = ()) -> list[Any]:
    cases = []
    for op in OPERATIONS:
        if property_name in op.opt_out:
            continue
        for suffix in extra or ("",):
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
                cited = op.clauses[0] if inside else param.clause
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
    return tuple(x.to(dtype) if i in op.float_inputs else x for i, x in enumerate(inputs))


def _run(adapter, op: Operation, inputs: tuple[Any, ...], params: dict[str, Any], seed: int = 0) -> Any:
    bound = require(adapter, op.name)
    if op.seeded:
        return op.call(bound, inputs, params, adapter, torch.Generator().manual_seed(seed))
    return op.call(bound, inputs, params, adapter)


def _check_value(adapter, op: Operation, actual: Any, inputs64: tuple[Any, ...], params: dict[str, Any], what: str):
    """actual against the reference on the same inputs: exactly, or under the numerical policy."""
    if op.exact:
        expected = op.reference(inputs64, params, adapter)
        if not torch.equal(torch.as_tensor(actual), torch.as_tensor(expected)):
            fail(f"{what}: got {torch.as_tensor(actual).tolist()!s:.300}, expected {expected.tolist()!s:.300}")
        return
    dtype = actual.dtype
    oracle = op.reference(inputs64, params, adapter)
    in_dtype = op.reference(_cast(op, inputs64, dtype), params, adapter)
    assert_close(actual, oracle.to(torch.float64), in_dtype.to(dtype), what=what)


def _same(first: Any, second: Any, what: str) -> None:
    a, b = torch.as_tensor(first), torch.as_tensor(second)
    if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a, b):
        fail(f"{what}: got {b.flatten()[:8].tolist()} ..., the first call gave {a.flatten()[:8].tolist()} ...")


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
    inputs64 = _inputs(op, seed=1)
    viewed = tuple(_layout(x, layout) if isinstance(x, torch.Tensor) else x for x in _cast(op, inputs64, dtype))
    contiguous64 = tuple(x.contiguous().to(inputs64[i].dtype) for i, x in enumerate(viewed))
    with annotate(operation=op.id, layout=layout, dtype=str(dtype)):
        actual = _run(adapter, op, viewed, _defaults(adapter, op))
        _check_value(adapter, op, actual, contiguous64, _defaults(adapter, op), f"{op.name} on a {layout} view")
        if op.exact:
            _same(
                _run(adapter, op, tuple(x.contiguous() for x in viewed), _defaults(adapter, op)),
                actual,
                f"{op.name} ({layout})",
            )


# ---------------------------------------------------------------------------------------
# State across calls


@pytest.mark.parametrize(("op", "suffix"), _cases("state"))
def test_calls_are_independent(adapter, op: Operation, suffix: str) -> None:
    dtype = _dtype(adapter, op)
    first, second = _cast(op, _inputs(op, seed=1), dtype), _cast(op, _inputs(op, seed=2), dtype)
    kept = tuple(x.clone() if isinstance(x, torch.Tensor) else x for x in first)
    with annotate(operation=op.id, dtype=str(dtype)):
        a1 = _run(adapter, op, first, _defaults(adapter, op))
        for x, original in zip(first, kept, strict=True):
            if isinstance(x, torch.Tensor) and not torch.equal(x, original):
                fail(f"{op.name} modified its input {tuple(x.shape)} in place")
        _run(adapter, op, second, _defaults(adapter, op))
        a2 = _run(adapter, op, first, _defaults(adapter, op))
        _same(a1, a2, f"{op.name}(A) after {op.name}(B)")
        if isinstance(a2, torch.Tensor) and a2.numel():
            expected = a2.clone()
            a2.add_(1)  # a caller writing into its output must not change what the next call returns
            _same(
                expected, _run(adapter, op, first, _defaults(adapter, op)), f"{op.name}(A) after writing into an output"
            )


@pytest.mark.parametrize(
    "op", [pytest.param(op, id=op.id, marks=clause(*op.clauses, *op.state_clauses)) for op in OPERATIONS if op.seeded]
)
def test_seeded_draws_use_only_the_given_generator(adapter, op: Operation) -> None:
    bound = require(adapter, op.name)
    dtype = _dtype(adapter, op)
    (logits,) = _cast(
        op, (torch.randn(64, 50, generator=torch.Generator().manual_seed(3), dtype=torch.float64),), dtype
    )
    params = {**_defaults(adapter, op), "temperature": 5.0}

    def draw(seed: int) -> tuple[torch.Tensor, torch.Generator]:
        generator = torch.Generator().manual_seed(seed)
        return op.call(bound, (logits,), params, adapter, generator), generator

    global_state = torch.get_rng_state()
    first, generator = draw(11)
    if torch.equal(generator.get_state(), torch.Generator().manual_seed(11).get_state()):
        fail(f"{op.name}: the given generator did not advance (its state is the seed's)")
    if not torch.equal(global_state, torch.get_rng_state()):
        fail(f"{op.name}: the global RNG advanced; randomness must come only from the given generator")
    _same(first, draw(11)[0], f"{op.name} with the same seed")
    if torch.equal(first, draw(12)[0]):
        fail(f"{op.name}: seeds 11 and 12 drew the same 64 tokens at temperature 5 over 20 candidates")


# ---------------------------------------------------------------------------------------
# Boundary values of every parameter


@pytest.mark.parametrize(("op", "param", "value", "inside"), _boundary_cases())
def test_parameter_boundaries(adapter, op: Operation, param: Param, value: Any, inside: bool) -> None:
    dtype = _dtype(adapter, op)
    inputs64 = _inputs(op, seed=4)
    if param.name in OPTIONAL_PARAMETERS.get(op.name, ()):
        require(adapter, op.name, param.name)  # unsupported where the adapter lacks the parameter
    params = {**_defaults(adapter, op), param.name: value}
    what = f"{op.name} with {param.name}={value!r}"
    with annotate(operation=op.id, dtype=str(dtype)):
        if inside:
            _check_value(adapter, op, _run(adapter, op, _cast(op, inputs64, dtype), params), inputs64, params, what)
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


@pytest.mark.parametrize(("op", "suffix"), _cases("production"))
def test_production_size_values(adapter, op: Operation, suffix: str) -> None:
    if "reference" in op.opt_out:
        not_applicable(f"{op.id}: {op.opt_out['reference']}")
    dtype = _dtype(adapter, op)
    inputs64 = _inputs(op, seed=5, size=PRODUCTION)
    params = dict(_defaults(adapter, op))
    if op.params and not op.inputs(torch.Generator(), SMALL):  # sized by its parameters (a table)
        params = {**params, **{p.name: p.special[-1] for p in op.params if p.special}}
    with annotate(operation=op.id, size=PRODUCTION, dtype=str(dtype)):
        actual = _run(adapter, op, _cast(op, inputs64, dtype), params)
        _check_value(adapter, op, actual, inputs64, params, f"{op.name} at production size")
