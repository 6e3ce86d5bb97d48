"""spec/README.md's layout rule holds: each family's spec, reference and tests share its name."""

from __future__ import annotations

from pathlib import Path

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
