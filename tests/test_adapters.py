"""Loading adapters and their expectations files: every failure is one clear line."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from specformer.conformance import adapters as adapters_module
from specformer.conformance.adapters import AdapterLoadError, load_adapter
from specformer.conformance.expectations import ExpectationsError, load_expectations

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def fixtures_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))


def test_builtin_reference_loads_with_its_capabilities() -> None:
    adapter = load_adapter("reference")
    assert adapter.declares("sampling") and adapter.variant("SAMP-TOPK-02") == "keep-ties"
    assert adapter.implemented("sampling") == ["temperature", "top_k", "top_p", "min_p", "process", "greedy", "sample"]


def test_undeclared_variant_falls_back_to_the_spec_default() -> None:
    adapter = load_adapter("fake_adapters:Partial")
    assert adapter.variant("SAMP-ORDER-01") == "transformers"
    assert adapter.implemented("sampling") == ["greedy"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-adapter", r"unknown adapter 'no-such-adapter'; known adapters: reference, hf, torch"),
        ("no.such:thing", r"cannot import module 'no.such': ModuleNotFoundError"),
        ("fake_adapters:Missing", r"has no attribute 'Missing'; its public names: .*Partial"),
        ("fake_adapters:Broken", r"constructing it failed: OSError: no such device"),
        ("fake_adapters:not_an_adapter", r"neither an adapter nor a class"),
        ("fake_adapters:BadVariant", r"SAMP-TOPK-02 has no variant 'some-ties'; named variants: keep-ties, exactly-k"),
    ],
)
def test_loading_errors_say_what_failed(spec: str, message: str) -> None:
    with pytest.raises(AdapterLoadError, match=message) as error:
        load_adapter(spec)
    assert "\n" not in str(error.value)


def test_entry_point_adapters_load_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    point = metadata.EntryPoint(name="mine", value="fake_adapters:Partial", group="specformer.adapters")
    monkeypatch.setattr(adapters_module.metadata, "entry_points", lambda group: [point] if group == point.group else [])
    assert load_adapter("mine").name == "partial"
    with pytest.raises(AdapterLoadError, match="known adapters: reference, hf, torch, mine"):
        load_adapter("yours")


def test_expectations_file_loads(tmp_path: Path) -> None:
    expectations = load_expectations(FIXTURES / "documented.toml")
    assert set(expectations) == {"SAMP-TOPK-01", "SAMP-TOPK-05"}
    assert load_expectations(tmp_path / "absent.toml") == {}


ENTRY = '[[deviation]]\nclause = "SAMP-TOPK-01"\nreason = "r"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[deviation]]\nclause = "SAMP-TOPK-01"\nreason = \n', r"bad\.toml: .*line 3"),
        (
            ENTRY + '\n[[deviation]]\nclause = "SAMP-NOPE-01"\nreason = "r"\n',
            r"bad\.toml:5: unknown clause 'SAMP-NOPE-01'",
        ),
        ('[[deviation]]\nclause = "SAMP-TOPK-01"\n', r"bad\.toml:1: .*non-empty `reason`"),
        ('[[deviation]]\nclause = "SAMP-TOPK-01"\nreason = "r"\nurl = "x"\n', r"bad\.toml:1: unknown keys \['url'\]"),
        (
            ENTRY + ENTRY,
            r"bad\.toml:4: clause SAMP-TOPK-01 is listed twice",
        ),
    ],
)
def test_malformed_expectations_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ExpectationsError, match=message):
        load_expectations(path)


def test_builtin_expectations_parse() -> None:
    assert "SAMP-TOPP-03" in load_adapter("hf").expectations
    assert load_adapter("reference").expectations == {}
