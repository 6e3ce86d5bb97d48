"""Deliberately broken adapters, one bug each, that prove the suite can fail.

A clause that no mutant breaks may have tests that assert too little. Each module mirrors a
spec family; each mutant lists the clauses it breaks in `breaks`, and tests/test_mutants.py
checks that the suite fails exactly there.

A mutant changes the reference only through its public seams: a subclass overriding public
methods (built with `rebuilt(cls)` where the suite hands over a model object), keyword
arguments, dataclasses.replace, or a broken piece handed to the reference adapter's seams
(`cache_class`, `generation_steps`). No private field, `__class__` swap, object.__setattr__ or
module attribute swapped during a call: tests/test_layout.py fails on one (the seq2seq mutants
of models.py still swap module globals, a listed exception), so a refactoring of the
reference's internals cannot silently change a mutant.
"""

from __future__ import annotations

from specformer.conformance.adapters.protocols import Capabilities
from specformer.conformance.adapters.reference import ReferenceAdapter


class Mutant(ReferenceAdapter):
    """The reference adapter, to be broken in one place by a subclass."""

    breaks: tuple[str, ...] = ()
    expectations_file = None  # a mutant documents nothing: its bug must show as a failure

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"mutant:{type(self).__name__}"


def reference_capabilities(family: str, *clause_prefixes: str) -> Capabilities:
    """The reference's declaration, limited to one family and the variants of its clauses."""
    reference = ReferenceAdapter.capabilities
    return Capabilities(
        families=frozenset({family}),
        dtypes=reference.dtypes,
        variants={k: v for k, v in reference.variants.items() if k.startswith(clause_prefixes)},
    )
