"""Loading adapters and their expectations files: every failure is one clear line."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from specformer.conformance import adapters as adapters_module
from specformer.conformance.adapters import AdapterLoadError, load_adapter
from specformer.conformance.adapters.protocols import FAMILY_OPERATIONS
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
        (
            "no-such-adapter",
            r"unknown adapter 'no-such-adapter'; known adapters: reference, hf, torch, hf-tokenizers, hf-slow, "
            r"sentencepiece, tiktoken;",
        ),
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
    with pytest.raises(AdapterLoadError, match=r"known adapters: reference, hf, torch, .*, tiktoken, mine;"):
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


# The tokenizer libraries' adapters: (name, library module, operations they implement).
TOKENIZER_ADAPTERS = [
    # every tokenizers operation, in the protocol's order, but GPT-2's byte table
    ("hf-tokenizers", "tokenizers", [op for op in FAMILY_OPERATIONS["tokenizers"] if op != "bytes_to_unicode"]),
    ("hf-slow", "transformers", ["encode_batch"]),
    ("sentencepiece", "sentencepiece", ["sentencepiece_normalize", "sentencepiece_encode", "sentencepiece_decode"]),
    ("tiktoken", "tiktoken", ["bpe_encode", "bpe_decode", "bpe_train"]),
]


@pytest.mark.parametrize(("name", "library", "operations"), TOKENIZER_ADAPTERS)
def test_tokenizer_adapters_load_with_their_declarations(name: str, library: str, operations: list[str]) -> None:
    pytest.importorskip(library)
    adapter = load_adapter(name)
    assert adapter.capabilities.families == frozenset({"tokenizers"}) and adapter.name == name
    assert adapter.implemented("tokenizers") == operations
    assert adapter.expectations and all(clause.startswith("TOK-") for clause in adapter.expectations)
    assert library in adapter.description  # the library (and its version) it runs


def test_hf_declares_tokenizers_next_to_its_other_families() -> None:
    adapter = load_adapter("hf")
    assert {"sampling", "attention", "embeddings", "tokenizers"} <= adapter.capabilities.families
    assert adapter.implemented("tokenizers") == [
        "bpe_encode",
        "bpe_decode",
        "wordpiece_encode",
        "encode_batch",
        "bytes_to_unicode",
    ]
    assert adapter.variant("TOK-TRUNC-03") == "longer" and load_adapter("hf-slow").variant("TOK-TRUNC-03") == "first"


@pytest.mark.parametrize(("name", "library"), [(name, library) for name, library, _ in TOKENIZER_ADAPTERS])
def test_a_missing_tokenizer_library_is_one_clear_line(
    name: str, library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, library, None)  # `import library` now raises ModuleNotFoundError
    with pytest.raises(
        AdapterLoadError, match=rf"adapter '{name}': constructing it failed: ModuleNotFoundError"
    ) as err:
        load_adapter(name)
    assert "\n" not in str(err.value) and library in str(err.value)


def test_default_adapters_that_do_not_load_become_rows_and_the_rest_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from specformer.conformance.results import AdapterResult, RunResult
    from specformer.conformance.runner import add_load_errors, load_available

    monkeypatch.setitem(sys.modules, "tiktoken", None)
    loaded, failed = load_available(["reference", "tiktoken", "torch"])
    assert [a.spec for a in loaded] == ["reference", "torch"]
    assert [f.name for f in failed] == ["tiktoken"] and "ModuleNotFoundError" in (failed[0].load_error or "")
    run = RunResult(environment={}, profile="quick", adapters=[AdapterResult(name=a.spec) for a in loaded])
    assert [a.name for a in add_load_errors(run, failed, ["reference", "tiktoken", "torch"]).adapters] == [
        "reference",
        "tiktoken",
        "torch",
    ]
    assert run.exit_code() == 1
