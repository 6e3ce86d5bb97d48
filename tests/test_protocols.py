"""The family Protocols are the operation lists the suite uses, not documentation beside them.

`FAMILY_OPERATIONS` decides what `require` looks up and what an adapter "implements"; the
Protocol classes state the same operations with their tensor layouts. A family whose Protocol
and operation list disagree (an operation added to one only) fails here.
"""

from __future__ import annotations

import inspect
import re

from specformer.conformance.adapters import load_adapter, protocols
from specformer.conformance.mutants import Mutant


def family_protocols() -> dict[str, type]:
    found = {}
    for _, cls in inspect.getmembers(protocols, inspect.isclass):
        if cls is not protocols.Adapter and protocols.Adapter in cls.__mro__:
            family = re.search(r"\(spec/([a-z_]+)\.md", cls.__doc__ or "")
            assert family is not None, f"{cls.__name__}'s docstring must name its spec file"
            found[family[1]] = cls
    return found


def test_each_family_has_one_protocol_stating_exactly_its_operations() -> None:
    protocols_by_family = family_protocols()
    assert set(protocols_by_family) == set(protocols.FAMILY_OPERATIONS)
    for family, cls in protocols_by_family.items():
        methods = tuple(name for name, value in vars(cls).items() if callable(value) and not name.startswith("_"))
        assert methods == protocols.FAMILY_OPERATIONS[family], family


def test_the_reference_adapter_and_mutants_are_adapters() -> None:
    reference = load_adapter("reference").impl
    assert isinstance(reference, protocols.Adapter)
    assert issubclass(Mutant, type(reference))
