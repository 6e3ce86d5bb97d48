"""Every module's docstring examples run, and each module with examples really attempts them.

The modules are found by their text (a `>>>` line), so a new module with examples is picked up
without being listed; a module whose examples stopped being collected (a broken indentation, an
example moved into a string doctest does not read) fails here instead of passing silently.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PARTS = {"reference": "specformer.reference", "conformance": "specformer.conformance"}


def modules_with_examples() -> list[str]:
    names = []
    for folder, package in PARTS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if ">>> " in path.read_text(encoding="utf-8"):
                parts = path.relative_to(ROOT / folder).with_suffix("").parts
                names.append(".".join((package, *parts)).removesuffix(".__init__"))
    return names


def test_the_modules_with_examples_are_found() -> None:
    found = modules_with_examples()
    assert len(found) >= 20, found
    assert {"specformer.reference.sampling", "specformer.conformance.registry"} <= set(found)


@pytest.mark.parametrize("module_name", modules_with_examples())
def test_docstring_examples_are_attempted_and_hold(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0, f"{module_name} has '>>> ' lines but doctest collected no example"
    assert result.failed == 0
