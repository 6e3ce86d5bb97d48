"""The suite's shared checks: one way to say each thing that the tests of every family say.

- `expect_value_error`: bad input raises ValueError naming the parameter (CONVENTIONS 7);
- `assert_unchanged`: a tensor is bitwise what it was (inputs left alone, identities);
- `use_dtype`: run a test in a dtype, or record it as n/a where the adapter does not declare it;
- `spec_examples`: a clause's worked examples from the spec (its `examples` blocks) that apply to
  the adapter's variants, so the spec's examples and the tested ones are the same.

Numerical comparisons live in conformance/numerics (`assert_close`), which records its error,
tolerance and ratio on passing tests too; other measurements a passing test leaves for the
report (agreement counts, scaling fits) go through `specformer.conformance.evidence.note`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from specformer.conformance.numerics import fail
from specformer.conformance.plugin import not_applicable
from specformer.conformance.registry import Example, registry


def expect_value_error(
    call: Callable[[], object], *names: str, what: str, any_of: bool = False, ignore_case: bool = False
) -> None:
    """`call()` must raise ValueError whose message names every one of `names` (with `any_of`,
    at least one: for a parameter implementations spell differently, such as `dim` or `width`;
    with `ignore_case`, in any case: "NaN" names "nan")."""
    wanted = f"{' or '.join(names) if any_of else ' and '.join(names)}"
    try:
        result = call()
    except ValueError as exc:
        message = str(exc).lower() if ignore_case else str(exc)
        missing = [n for n in names if (n.lower() if ignore_case else n) not in message]
        if missing and (not any_of or len(missing) == len(names)):
            fail(f"{what}: the ValueError does not name {wanted}: {exc}", call=what, raised=str(exc))
        return
    except Exception as exc:
        fail(f"{what}: raised {type(exc).__name__} ({exc}), expected a ValueError naming {wanted}", call=what)
    shown = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
    fail(f"{what}: was accepted (returned {shown}), expected a ValueError naming {wanted}", call=what)


def assert_unchanged(actual: torch.Tensor, original: torch.Tensor, what: str) -> None:
    """`actual` must be bitwise `original`: same shape and values (-inf included)."""
    if actual.shape != original.shape or not torch.equal(actual, original):
        fail(
            f"{what}: expected the tensor unchanged (bitwise), got {actual.tolist()} from {original.tolist()}",
            shape=tuple(actual.shape),
            dtype=str(actual.dtype),
        )


def use_dtype(adapter: Any, dtype: torch.dtype) -> None:
    """The dtype fixture's guard: a dtype the adapter does not declare makes the test n/a."""
    if not adapter.supports_dtype(dtype):
        not_applicable(f"{adapter.name} does not declare {dtype}")


def spec_examples(adapter: Any, clause_id: str) -> list[Example]:
    """The worked examples of a clause that apply to the adapter's declared variants.

    An example's "variant" names, per clause, the variant (or list of variants) it holds for;
    an example without one holds for every adapter.
    """
    found = registry()[clause_id].examples
    if not found:
        raise LookupError(f"{clause_id} has no worked examples in the spec")
    applying = []
    for example in found:
        wanted = example.data.get("variant", {})
        if all(adapter.variant(cid) in ([v] if isinstance(v, str) else v) for cid, v in wanted.items()):
            applying.append(example)
    return applying
