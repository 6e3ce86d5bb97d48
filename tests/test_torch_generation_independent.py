"""The torch adapter's cache and generation loop are a second implementation, not a wrapper of the reference.

They may take the protocol's data classes from specformer.reference (the config and weights the
suite hands every adapter) and nothing else of it: a loop that called the reference's processors
or decoder would pass the suite by construction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTERS = Path(__file__).resolve().parents[1] / "conformance" / "adapters"
DATA_CLASSES = {"GenerationConfig", "GenerationOutput", "DecoderWeights", "SamplingParams"}


@pytest.mark.parametrize("module", ["torch_generation.py", "torch_kv_cache.py"])
def test_only_data_classes_come_from_the_reference(module: str) -> None:
    tree = ast.parse((ADAPTERS / module).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any("reference" in alias.name for alias in node.names), ast.unparse(node)
        if isinstance(node, ast.ImportFrom) and "reference" in (node.module or ""):
            names = {alias.name for alias in node.names}
            assert names <= DATA_CLASSES, f"{module} imports {sorted(names - DATA_CLASSES)} from {node.module}"
