"""Deliberately broken adapters, one bug each, that prove the suite can fail.

A clause that no mutant breaks may have tests that assert too little. Each module mirrors a
spec family; each mutant lists the clauses it breaks in `breaks`, and tests/test_mutants.py
checks that the suite fails exactly there.

A mutant changes the reference only through its public seams: a subclass overriding public
methods (built with `rebuilt(cls)` where the suite hands over a model object), keyword
arguments, dataclasses.replace, or a module function swapped while an operation runs
(`run_broken`). No private field, `__class__` swap or object.__setattr__: tests/test_layout.py
fails on one, so a refactoring of the reference's internals cannot silently change a mutant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specformer.conformance.adapters.protocols import Capabilities
from specformer.conformance.adapters.reference import ReferenceAdapter


class Mutant(ReferenceAdapter):
    """The reference adapter, to be broken in one place by a subclass."""

    breaks: tuple[str, ...] = ()
    expectations_file = None  # a mutant documents nothing: its bug must show as a failure

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"mutant:{type(self).__name__}"


def run_broken(cls: type, *operations: str) -> None:
    """Make each named operation of `cls` run the reference's inside `self.broken()`, the mutant's
    context manager that puts its broken piece in place (so the processors and the loop both see it)."""

    def forward(name: str) -> Callable[..., Any]:
        def operation(self: Any, *args: Any, **kwargs: Any) -> Any:
            with self.broken():
                return getattr(super(cls, self), name)(*args, **kwargs)

        operation.__name__ = operation.__qualname__ = name
        return operation

    for name in operations:
        setattr(cls, name, forward(name))


def reference_capabilities(family: str, *clause_prefixes: str) -> Capabilities:
    """The reference's declaration, limited to one family and the variants of its clauses."""
    reference = ReferenceAdapter.capabilities
    return Capabilities(
        families=frozenset({family}),
        dtypes=reference.dtypes,
        variants={k: v for k, v in reference.variants.items() if k.startswith(clause_prefixes)},
    )
