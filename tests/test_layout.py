"""spec/README.md's layout rule holds: each family's spec, reference and tests share its name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from specformer.conformance.registry import registry

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suite"
# The families whose reference departs from reference/FAMILY.py, as spec/README.md says.
ATTENTION_MODULES = ["attention.py", "local.py", "lsh.py"]
REFERENCE_MODULES = {"complexity": ATTENTION_MODULES, "attention": ATTENTION_MODULES}
LONGEST_TEST_FILE = 800


def families() -> list[str]:
    return sorted({c.family for c in registry().values()})


def test_every_family_has_its_reference_and_its_tests() -> None:
    for family in families():
        modules = REFERENCE_MODULES.get(family, [f"{family}.py"])
        has_reference = all((ROOT / "reference" / m).is_file() for m in modules)
        assert has_reference or (ROOT / "reference" / family / "__init__.py").is_file(), family
        assert (SUITE / f"test_{family}.py").is_file(), family


def test_split_test_files_are_named_after_a_family() -> None:
    names = set(families())
    for path in SUITE.glob("test_*.py"):
        stem = path.stem.removeprefix("test_")
        assert stem in names or stem.split("_")[0] in names or stem == "generic", path.name


def test_no_conformance_test_or_mutant_file_is_longer_than_the_split_threshold() -> None:
    files = [*SUITE.glob("test_*.py"), *(ROOT / "conformance" / "mutants").rglob("*.py")]
    long = {p.name: n for p in files if (n := len(p.read_text(encoding="utf-8").splitlines())) > LONGEST_TEST_FILE}
    assert not long, f"split these along the reference's modules (spec/README.md): {long}"


def _private_names_defined(paths: list[Path]) -> set[str]:
    """Names starting with one underscore that these modules define: functions, classes, methods,
    class attributes and `self._x = ...` fields."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def reaches_into_the_reference(source: str, private: set[str]) -> list[str]:
    """What in a mutant's source reaches past the reference's public seams: an attribute named like a
    private name of the reference or its adapter, a `__class__` assignment, object.__setattr__, or a
    module attribute swapped while a call runs (mock.patch, setattr on a name imported from the reference)."""
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("specformer.reference")
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in imported:
                found.append(f"line {node.lineno}: setattr on {node.args[0].id}")
        if isinstance(node, ast.Attribute) and node.attr == "patch" and getattr(node.value, "id", None) == "mock":
            found.append(f"line {node.lineno}: mock.patch")
        if isinstance(node, ast.Attribute):
            if node.attr in private:
                found.append(f"line {node.lineno}: .{node.attr}")
            elif node.attr == "__class__" and isinstance(node.ctx, ast.Store):
                found.append(f"line {node.lineno}: __class__ assigned")
            elif node.attr == "__setattr__" and isinstance(node.value, ast.Name) and node.value.id == "object":
                found.append(f"line {node.lineno}: object.__setattr__")
    return found


@pytest.fixture(scope="module")
def reference_private_names() -> set[str]:
    return _private_names_defined(
        [*(ROOT / "reference").rglob("*.py"), *(ROOT / "conformance" / "adapters").glob("reference*.py")]
    )


def test_mutants_use_public_seams_of_the_reference(reference_private_names: set[str]) -> None:
    """A mutant changes the reference through its public API (subclassing public methods, keyword
    arguments, constructors), so a refactoring of the reference's internals cannot silently change
    what a mutant breaks."""
    touching = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "conformance" / "mutants").rglob("*.py"))
        if (found := reaches_into_the_reference(path.read_text(encoding="utf-8"), reference_private_names))
    }
    assert set(touching) == SWAPS_MODULE_GLOBALS, touching


# TODO(#11): the seq2seq mutants still swap specformer.reference.models globals during a call (_patched);
# they need seams like kv_cache's `cache_class` and generation's `generation_steps`.
SWAPS_MODULE_GLOBALS = {"conformance/mutants/models.py"}


def test_a_mutant_that_touches_a_private_field_is_caught(reference_private_names: set[str]) -> None:
    assert "_merges" in reference_private_names
    bad = "def f(model):\n    model._merges = None\n    model.__class__ = int\n    object.__setattr__(model, 'a', 1)\n"
    assert reaches_into_the_reference(bad, reference_private_names) == [
        "line 2: ._merges",
        "line 3: __class__ assigned",
        "line 4: object.__setattr__",
    ]
    swaps = (
        "from specformer.reference import kv_cache\n"
        "with mock.patch.object(kv_cache, 'KVCache', int):\n    pass\n"
        "setattr(kv_cache, 'decoder_forward', len)\n"
    )
    assert sorted(reaches_into_the_reference(swaps, reference_private_names)) == [
        "line 2: mock.patch",
        "line 4: setattr on kv_cache",
    ]
