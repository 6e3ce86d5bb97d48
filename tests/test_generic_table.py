"""The generic properties' table (conformance/suite/operations.py) covers every operation of every family.

An operation is in the table, or in NOT_TABLED with the reason it is not; an opt-out always says why;
an out-of-domain boundary always cites the clause that requires the ValueError.
"""

from __future__ import annotations

import math

from specformer.conformance.adapters.protocols import FAMILY_OPERATIONS
from specformer.conformance.registry import registry
from specformer.conformance.suite.operations import NOT_TABLED, OPERATIONS, Param


def test_every_operation_is_tabled_or_says_why_not() -> None:
    declared = {f"{family}.{name}" for family, names in FAMILY_OPERATIONS.items() for name in names}
    tabled = {op.id for op in OPERATIONS}
    assert len(tabled) == len(OPERATIONS), "an operation is tabled twice"
    assert declared - tabled == set(NOT_TABLED), sorted(declared - tabled ^ set(NOT_TABLED))
    assert not tabled - declared, sorted(tabled - declared)
    assert all(reason.strip() for reason in NOT_TABLED.values())


def test_opt_outs_give_reasons_and_boundaries_cite_clauses() -> None:
    clauses = registry()
    properties = {"layout", "state", "production", "reference"}
    for op in OPERATIONS:
        assert set(op.opt_out) <= properties and all(len(r) > 20 for r in op.opt_out.values()), op.id
        assert all(c in clauses for c in op.clauses + op.state_clauses), op.id
        for param in op.params:
            if any(not inside for _, _, inside in param.cases()):
                assert param.clause in clauses, (op.id, param.name)
            assert not param.value_clause or param.value_clause in clauses, (op.id, param.name)


def test_boundary_cases_come_from_the_domain() -> None:
    cases = {
        label: (value, inside) for label, value, inside in Param("p", float, low=0.0, high=1.0, low_open=True).cases()
    }
    assert cases["at-low"] == (0.0, False) and cases["inside-low"][1] and cases["outside-low"][1] is False
    assert cases["at-high"] == (1.0, True) and cases["outside-high"][1] is False
    assert math.isnan(cases["nan"][0]) and not cases["nan"][1]
    text = Param("text", str, special=("", "a"), invalid=(None,)).cases()
    assert text == [("special-", "", True), ("special-a", "a", True), ("invalid-None", None, False)]


def _numeric(annotation: object) -> bool:
    import types
    import typing

    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(a in (int, float) for a in typing.get_args(annotation))
    return False


def test_every_numeric_parameter_declares_its_domain_or_says_why_not() -> None:
    """Each int or float parameter of a tabled operation's protocol signature is a Param of its row
    (its boundary cases are derived from the domain) or in NOT_VARIED with the reason."""
    import inspect
    import typing

    from specformer.conformance.adapters import protocols
    from specformer.conformance.suite.operations import NOT_VARIED

    methods = {
        name: function
        for cls in vars(protocols).values()
        if inspect.isclass(cls) and cls.__name__.endswith("Adapter") and cls is not protocols.Adapter
        for name, function in vars(cls).items()
        if callable(function) and not name.startswith("_")
    }
    undeclared, found = [], set()
    for op in OPERATIONS:
        hints = typing.get_type_hints(methods[op.name])
        declared = {p.name for p in op.params}
        for name in inspect.signature(methods[op.name]).parameters:
            if name != "self" and _numeric(hints.get(name)) and name not in declared:
                found.add(f"{op.id}.{name}")
                if f"{op.id}.{name}" not in NOT_VARIED:
                    undeclared.append(f"{op.id}.{name}")
    assert not undeclared, f"numeric parameters with no declared domain and no reason in NOT_VARIED: {undeclared}"
    assert set(NOT_VARIED) <= found, f"stale NOT_VARIED entries: {sorted(set(NOT_VARIED) - found)}"
    assert all(len(reason) > 30 for reason in NOT_VARIED.values())
