"""The example adapters in examples/: each loads (its declaration is valid) where its library is
installed, and is skipped, naming the missing package, where it is not; each expectations file
next to an example is valid; examples/README.md lists every example.

Loading only: no suite run (examples/README.md has each example's command and what it found), so
the cost is importing the installed libraries; CI, which installs none of them, skips them all.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

from specformer.conformance.adapters import load_adapter
from specformer.conformance.expectations import load_expectations

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = sorted(EXAMPLES.glob("*.py"))
OURS = {"specformer", "torch", "numpy", "__future__"}  # what every install of specformer has


def _third_party(path: Path) -> list[str]:
    """The top-level packages the example imports that are neither stdlib, specformer's own nor
    another example (generation_litgpt.py takes kv_cache_litgpt.py's Llama conversion)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    examples = {p.stem for p in FILES}
    return sorted(n for n in names if n not in OURS | examples and n not in sys.stdlib_module_names)


def _adapter_classes(path: Path) -> list[str]:
    """Classes of the example with a `capabilities` attribute: its adapters."""
    tree = ast.parse(path.read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(item, (ast.Assign, ast.AnnAssign))
            and "capabilities"
            in {getattr(t, "id", None) for t in getattr(item, "targets", [getattr(item, "target", None)])}
            for item in node.body
        )
    ]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_example_loads_where_its_library_is_installed(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = [name for name in _third_party(path) if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"examples/{path.name} needs {', '.join(missing)} (not installed): pip install it to check it")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    classes = _adapter_classes(path)
    assert classes, f"examples/{path.name} declares no adapter class"
    for name in classes:
        loaded = load_adapter(f"{path.stem}:{name}")  # a bad declaration or expectations file raises
        assert loaded.impl.capabilities.families


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_example_expectations_are_valid(path: Path) -> None:
    assert load_expectations(path)  # known clauses, valid patterns; needs no library


def test_the_examples_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    assert [p.name for p in FILES if f"`{p.name}`" not in readme] == []
