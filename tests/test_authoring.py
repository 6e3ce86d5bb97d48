"""What adapter authors rely on: optional parameters, custom behaviour, bytes decoders, the
skeleton, what each test needs, reproduce lines and labels, the public helpers.

One suite run (module-scoped, slow) covers the statuses; everything else runs in-process.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch

from specformer.conformance.adapters import AdapterLoadError, load_adapter, reproduce_prefix
from specformer.conformance.adapters.protocols import (
    FAMILY_OPERATIONS,
    Capabilities,
    repaired_text,
    sampling_parameters_used,
)
from specformer.conformance.authoring import needs_of, skeleton
from specformer.conformance.results import (
    CUSTOM,
    ERROR,
    FAIL,
    PASS,
    UNSUPPORTED,
    AdapterResult,
    ClauseResult,
    RunResult,
)
from specformer.conformance.runner import add_load_errors
from specformer.reference.sampling import SamplingParams

UNKNOWN = "-".join(["SAMP", "NOPE", "01"])  # spelt so that the clause-link check does not read it
ADAPTERS = ["NoMinP", "CustomTopK", "BrokenTopK", "BytesDecoder", "BareAttention", "BareCache"]
# The tests that show each feature, and no more (this file's CPU budget is a few seconds).
SELECTED = (
    "test_order_worked_examples or test_top_p_min_tokens_to_keep or test_vocabulary_of_one "
    "or test_draws_follow_the_processed_distribution or test_top_k_keeps_removed_tokens_removed "
    "or test_invalid_utf8_decodes_to_replacement_characters"
)
# BareAttention: the attention tests and the generic attention rows, less the slow Hypothesis ones.
ATTENTION = (
    "(test_attention and not softmax_of_scaled and not grouped_query and not test_weights_sum) "
    "or (test_generic and attention and not production and not boundaries)"
)
# BareCache: the kv_cache tests and the generic kv_cache rows, less the 1,100-token case and the
# decode-cost ladder (unsupported for it anyway: it lacks grouped_query).
KV_CACHE = "(test_kv_cache and not long_sequence and not decode_step_cost) or (test_generic and kv_cache)"


@pytest.fixture(scope="module")
def authoring_run(module_run_suite):
    code, run, output = module_run_suite(
        [f"authoring_adapters:{name}" for name in ADAPTERS],
        "-k",
        f"(not test_generic and ({SELECTED})) or {ATTENTION} or {KV_CACHE}",
        families=("sampling", "tokenizers", "attention", "kv_cache"),
    )
    assert run is not None, output
    return code, run, output


def _adapter(run: RunResult, name: str) -> AdapterResult:
    (found,) = [a for a in run.adapters if a.name == f"authoring_adapters:{name}"]
    return found


def _clauses_without_parameters(run: RunResult, name: str, missing: dict[str, str]) -> dict[str, ClauseResult]:
    """The clauses of `name`, an adapter whose operations lack optional parameters, by id, once checked:
    no test of it failed or errored, and each clause of `missing` is unsupported with a message naming
    the parameter that clause's test needs."""
    clauses = {c.id: c for c in _adapter(run, name).clauses}
    wrong = [(c.id, t.nodeid, t.message[:200]) for c in clauses.values() for t in c.tests if t.status in (ERROR, FAIL)]
    assert not wrong
    for clause, parameter in missing.items():
        assert clauses[clause].status == UNSUPPORTED, clause
        assert f"does not support {parameter}" in clauses[clause].tests[0].message, clause
    return clauses


def _assert_passed(clauses: dict[str, ClauseResult], ids: tuple[str, ...], tests: set[str] | None = None) -> None:
    """Each clause of `ids` passed; given `tests`, its tests ended with exactly those statuses (some
    unsupported ones where a test needed what the adapter lacks, passes where none did)."""
    for clause in ids:
        assert clauses[clause].status == PASS, clause
        assert tests is None or {t.status for t in clauses[clause].tests} == tests, clause


@pytest.mark.slow
def test_missing_optional_parameters_are_unsupported_and_never_put_into_other_tests(authoring_run) -> None:
    _, run, _ = authoring_run
    clauses = {c.id: c for c in _adapter(run, "NoMinP").clauses}
    errors = [(c.id, t.message[:200]) for c in clauses.values() for t in c.tests if t.status == ERROR]
    assert not errors  # NoMinP raises on min_p / min_tokens_to_keep: nothing handed it one
    assert clauses["SAMP-TOPP-04"].status == UNSUPPORTED
    assert "does not support min_tokens_to_keep" in clauses["SAMP-TOPP-04"].tests[0].message
    assert clauses["SAMP-ORDER-01"].status == PASS  # the worked examples without min-p still ran
    _assert_passed(clauses, ("SAMP-DRAW-01",), {PASS, UNSUPPORTED})
    assert clauses["SAMP-EDGE-03"].status == PASS


@pytest.mark.slow
def test_attention_without_optional_parameters_is_unsupported_only_where_a_test_needs_one(authoring_run) -> None:
    _, run, _ = authoring_run
    # its operations take no optional parameter: nothing handed it one
    missing = {
        "ATTN-SDPA-03": "mask",
        "ATTN-PAD-01": "mask",
        "ATTN-CAUSAL-02": "causal",
        "ATTN-MHA-04": "key_padding_mask",
        "ATTN-CROSS-03": "context",
        "ATTN-LOCAL-06": "padding_mask",
        "ATTN-LSH-01": "n_buckets",
    }
    clauses = _clauses_without_parameters(run, "BareAttention", missing)
    # Tests of other clauses ran without the missing parameters: scale only where it is the point,
    # Longformer on unpadded rows, the block without causal, LSH where buckets do not matter.
    _assert_passed(
        clauses, ("ATTN-HEADS-01", "ATTN-CROSS-01", "ATTN-MHA-02", "ATTN-LOCAL-04", "ATTN-LOCAL-05", "ATTN-LSH-06")
    )
    _assert_passed(clauses, ("ATTN-SDPA-02", "ATTN-MHA-03", "ATTN-LSH-07"), {PASS, UNSUPPORTED})


@pytest.mark.slow
def test_kv_cache_without_optional_parameters_is_unsupported_only_where_a_test_needs_one(authoring_run) -> None:
    _, run, _ = authoring_run
    # no mask, no cache_kind, only multi-head Llama models: nothing handed it another
    missing = {
        "KV-PAD-01": "attention_mask",
        "KV-PAD-02": "attention_mask",
        "KV-EQ-02": "static_cache",
        "KV-STATIC-01": "static_cache",
        "KV-STATIC-02": "static_cache",
        "KV-SLIDE-01": "sliding_window",
        "KV-SLIDE-02": "sliding_window",
        "KV-SLIDE-03": "sliding_window",
    }
    clauses = _clauses_without_parameters(run, "BareCache", missing)
    # Tests of other clauses ran without them: unpadded rows, the dynamic cache, the multi-head twin.
    _assert_passed(clauses, ("KV-MODEL-02", "KV-SHAPE-02"), {PASS})
    _assert_passed(
        clauses,
        ("KV-MODEL-01", "KV-SHAPE-01", "KV-LEN-01", "KV-SIZE-01", "KV-EQ-01", "KV-EQ-03", "KV-PREFIX-01"),
        {PASS, UNSUPPORTED},
    )
    _assert_passed(clauses, ("KV-STATE-01",))  # on unpadded rows


@pytest.mark.slow
def test_declared_custom_behaviour_is_its_own_status(authoring_run) -> None:
    code, run, _ = authoring_run
    custom = {c.id: c for c in _adapter(run, "CustomTopK").clauses}
    assert custom["SAMP-TOPK-05"].status == CUSTOM
    assert custom["SAMP-TOPK-05"].tests[0].message.startswith("custom: keeps the k + 1 largest logits")
    assert not _adapter(run, "CustomTopK").failures()
    assert {c.id: c.status for c in _adapter(run, "BrokenTopK").clauses}["SAMP-TOPK-05"] == FAIL
    assert code == 1  # BrokenTopK fails the run; CustomTopK does not


@pytest.mark.slow
def test_the_reproduce_line_carries_directory_and_import_path(authoring_run) -> None:
    _, run, _ = authoring_run
    failing = [t for c in _adapter(run, "BrokenTopK").clauses for t in c.tests if t.status == FAIL]
    assert failing
    fixtures = Path(__file__).parent / "fixtures"
    assert failing[0].reproduce.startswith(f"cd {Path.cwd()} && PYTHONPATH={fixtures} python -m pytest ")


@pytest.mark.slow
def test_a_decoder_returning_bytes_is_repaired_by_the_suite(authoring_run) -> None:
    _, run, _ = authoring_run
    clauses = {c.id: c.status for c in _adapter(run, "BytesDecoder").clauses}
    assert clauses["TOK-BL-07"] == PASS


def test_capabilities_per_parameter() -> None:
    capabilities = Capabilities(families=frozenset({"sampling"}), parameters={"process": frozenset({"top_k"})})
    assert capabilities.supports("process", "top_k") and not capabilities.supports("process", "min_p")
    assert capabilities.supports("top_p", "min_tokens_to_keep")  # not named: all of its own
    assert capabilities.to_dict()["parameters"] == {"process": ["top_k"]}
    assert "parameters" not in Capabilities(families=frozenset()).to_dict()  # old results unchanged
    assert sampling_parameters_used(SamplingParams(temperature=0.5, min_p=0.1)) == ("temperature", "min_p")


def test_bad_declarations_are_load_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "declared.py").write_text(
        "from specformer.conformance.adapters.reference import ReferenceAdapter as R\n"
        "from specformer.conformance.adapters.protocols import Capabilities as C\n"
        "F = frozenset({'sampling'})\n"
        "class Op(R):\n    capabilities = C(families=F, parameters={'greedy': frozenset()})\n"
        "class Name(R):\n    capabilities = C(families=F, parameters={'process': frozenset({'min-p'})})\n"
        f"class Clause(R):\n    capabilities = C(families=F, custom={{'{UNKNOWN}': 'x'}})\n"
        "class Lines(R):\n    capabilities = C(families=F, custom={'SAMP-TOPK-01': 'a\\nb'})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for attribute, message in [
        ("Op", "has no optional parameters"),
        ("Name", "no optional parameters ['min-p']"),
        ("Clause", f"unknown clause {UNKNOWN}"),
        ("Lines", "one-line description"),
    ]:
        with pytest.raises(AdapterLoadError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_adapter(f"declared:{attribute}")


def test_bytes_are_repaired_as_utf8_with_replacement() -> None:
    assert repaired_text(b"a\xc3\xa9\xff") == "aé\ufffd"
    assert repaired_text("text") == "text"


def test_what_each_test_needs_is_read_from_its_source() -> None:
    module = "specformer.conformance.suite.test_sampling"
    assert needs_of(module, "test_top_p_min_tokens_to_keep") == ["top_p(min_tokens_to_keep)"]
    assert needs_of(module, "test_removed_tokens_are_never_drawn") == ["sample(top_k)"]
    assert needs_of(module, "test_draws_follow_the_processed_distribution") == [
        "sample(the optional parameters its inputs enable)"
    ]


@pytest.mark.parametrize("family", list(FAMILY_OPERATIONS))
def test_the_skeleton_loads_declares_nothing_and_its_stubs_compile(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"skeleton_{family}"
    source = skeleton(family, module=module)
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load_adapter(f"{module}:MyAdapter")
    assert loaded.capabilities.families == frozenset() and loaded.implemented(family) == []
    # Uncommented, the stubs are the protocol's methods with their exact signatures.
    uncommented = "\n".join(
        line.replace("    # ", "    ", 1) if line.startswith("    # ") else ("" if line == "    #" else line)
        for line in source.splitlines()
    ).replace("families=frozenset(),", f'families=frozenset({{"{family}"}}),')
    (tmp_path / f"{module}_done.py").write_text(uncommented)
    done = load_adapter(f"{module}_done:MyAdapter")
    assert done.implemented(family) == list(FAMILY_OPERATIONS[family])
    sys.modules.pop(module, None), sys.modules.pop(f"{module}_done", None)


def test_reproduce_prefix_and_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "labelled.py").write_text(
        "from specformer.conformance.adapters.reference import ReferenceAdapter\n"
        "class Mine(ReferenceAdapter):\n    name = 'my-lib'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load_adapter("labelled:Mine")
    assert reproduce_prefix("labelled:Mine") == f"cd {Path.cwd()} && PYTHONPATH={tmp_path} "
    assert reproduce_prefix("reference") == ""
    run = RunResult(environment={}, profile="quick", adapters=[AdapterResult(name="labelled:Mine")])
    labelled = add_load_errors(run, [], ["labelled:Mine"], [loaded])
    assert (labelled.adapters[0].name, labelled.adapters[0].spec) == ("my-lib", "labelled:Mine")
    sys.modules.pop("labelled", None)


def test_injected_randn_returns_the_tensor_for_its_shape_only() -> None:
    from specformer.conformance.randomness import injected_randn

    rotations = torch.arange(6.0).view(2, 3)
    with injected_randn(rotations):
        assert torch.equal(torch.randn(2, 3), rotations)
        assert torch.equal(torch.randn((2, 3), dtype=torch.float64), rotations.double())
        assert torch.randn(3, 2).shape == (3, 2)
    assert not torch.equal(torch.randn(2, 3, generator=torch.Generator().manual_seed(0)), rotations)
    importlib.import_module("specformer.conformance.fixtures")  # importable without tokenizers loaded
