"""The spec registry: parsing, strictness, and the clause <-> test links in both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from specformer.conformance.registry import SpecError, citations, load_clauses, parse_family, registry

GOOD = """# Demo

## Section

### DEMO-TOPIC-01  First clause

Implementations MUST do it.

Variants:
- `one` (default) — library A: this.
- `two` — library B: that.

### DEMO-TOPIC-02  Second clause

Implementations SHOULD do the other.
"""


def test_parses_ids_titles_text_and_variants() -> None:
    first, second = parse_family(GOOD, "demo", "demo.md")
    assert (first.id, first.title, first.family, first.source) == ("DEMO-TOPIC-01", "First clause", "demo", "demo.md:5")
    assert first.variant_names() == ["one", "two"] and first.default_variant == "one"
    assert "MUST do it" in first.text
    assert second.variants == [] and second.default_variant is None


@pytest.mark.parametrize(
    "heading",
    ["### DEMO-TOPIC-1  One digit", "### DEMO-TOPIC-01 One space", "### demo-topic-01  Lower case", "### Notes"],
)
def test_malformed_heading_is_an_error_naming_file_and_line(heading: str) -> None:
    with pytest.raises(SpecError, match=r"demo\.md:3: malformed clause heading"):
        parse_family(f"# Demo\n\n{heading}\n\ntext\n", "demo", "demo.md")


def test_duplicate_id_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(GOOD)
    (tmp_path / "b.md").write_text("### DEMO-TOPIC-02  Again\n\ntext\n")
    with pytest.raises(SpecError, match="duplicate clause ID DEMO-TOPIC-02"):
        load_clauses(tmp_path)


def test_variants_need_exactly_one_default() -> None:
    text = "### DEMO-TOPIC-01  T\n\nVariants:\n- `one` — a\n- `two` — b\n"
    with pytest.raises(SpecError, match="exactly one variant"):
        parse_family(text, "demo", "demo.md")


def test_readme_is_not_a_family(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("### NOT A CLAUSE\n")
    (tmp_path / "demo.md").write_text(GOOD)
    assert list(load_clauses(tmp_path)) == ["DEMO-TOPIC-01", "DEMO-TOPIC-02"]


def test_installed_spec_has_the_sampling_family() -> None:
    sampling = [c for c in registry().values() if c.family == "sampling"]
    assert len(sampling) >= 25
    assert all(c.id.startswith("SAMP-") for c in sampling)


def test_every_clause_has_a_test() -> None:
    cited = citations()
    untested = sorted(set(registry()) - set(cited))
    assert not untested, f"clauses without a test: {untested}"


def test_every_test_cites_a_known_clause() -> None:
    unknown = {clause: tests for clause, tests in citations().items() if clause not in registry()}
    assert not unknown, f"tests citing unknown clauses: {unknown}"


def test_every_conformance_test_cites_a_clause() -> None:
    import importlib

    from specformer.conformance.registry import cited_by, suite_modules

    for module_name in suite_modules():
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if name.startswith("test_") and callable(obj) and "adapter" in obj.__code__.co_varnames:
                assert cited_by(obj), f"{module_name}.{name} takes an adapter but cites no clause"


def test_complexity_bands_in_the_suite_are_the_spec_text() -> None:
    from specformer.conformance.suite.test_complexity import BANDS

    clauses = registry()
    for key, (low, high) in BANDS.items():
        clause_id, _, variant = key.partition("/")
        text = clauses[clause_id].text
        if variant:
            text = next(v.text for v in clauses[clause_id].variants if v.name == variant)
        assert f"[{low}, {high}]" in " ".join(text.split()), (key, low, high)
