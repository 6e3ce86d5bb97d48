"""How `pytest` shares specformer's own tests between xdist workers (pyproject addopts, tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def shared() -> list[str]:
    return []


def test_a_file_of_tests_is_one_unit_of_work(request: pytest.FixtureRequest, shared: list[str]) -> None:
    """Its module-scoped fixtures (a shared suite run, parsed vocabularies) are built on one worker, once."""
    if not hasattr(request.config, "workerinput"):
        pytest.skip("runs in one process (-n 0): nothing is dealt")
    assert request.node.nodeid.endswith("@test_xdist_layout.py"), request.node.nodeid


@pytest.mark.slow
def test_a_slow_test_without_module_fixtures_is_a_unit_of_its_own(request: pytest.FixtureRequest) -> None:
    """A suite or CLI run in a subprocess: dealt alone, first, so that the workers share them."""
    if not hasattr(request.config, "workerinput"):
        pytest.skip("runs in one process (-n 0): nothing is dealt")
    assert "@" not in request.node.nodeid, request.node.nodeid
