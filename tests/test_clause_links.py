"""A clause ID is a checked link: every ID written anywhere names a clause of the spec.

The scan covers the spec's own prose, the reference, the conformance package (suite, adapters,
expectations files, mutants, benchmarks, reports), specformer's own tests, docs/ and the READMEs.
A few tests of specformer build fictional runs and specs; their IDs are listed below by file,
so a fictional ID cannot leak anywhere else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specformer.conformance.registry import (
    breaking_mutants,
    citations,
    declared_clauses,
    mentioned_ids,
    reference_declarations,
    reference_symbols,
    registry,
)

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("spec", "reference", "conformance", "tests", "docs")
SUFFIXES = {".py", ".md", ".toml", ".json", ".ini", ".txt"}

# IDs that name no clause on purpose: fixtures of a fictional spec or run.
FICTIONAL = {
    "tests/test_registry.py": {"DEMO-TOPIC-01", "DEMO-TOPIC-02"},
    "tests/test_adapters.py": {"SAMP-NOPE-01"},
    "tests/test_spec_examples.py": {"DEMO-TOPIC-01"},
    "tests/test_failure_paths.py": {"TOK-X-01"},
    "tests/test_verdicts.py": {"X-Y-01"},
    "conformance/expectations.py": {"X-Y-01"},
    "tests/test_reports.py": {
        "ATTN-MASK-01", "ATTN-SOFT-01", "ATTN-WIN-01", "SAMP-A-01", "SAMP-B-01", "SAMP-C-01", "SAMP-D-01"
    },
}  # fmt: skip
# This file names all of them, and a few of its own.
FICTIONAL["tests/test_clause_links.py"] = {"TOK-SPC-04", "DEMO-TOPIC-99", "SAMP-TOPP-99"}.union(*FICTIONAL.values())


def scanned_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "reports" / "README.md"]
    for directory in SCANNED:
        files += sorted(p for p in (ROOT / directory).rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return [p for p in files if p.exists() and "__pycache__" not in p.parts]


def test_every_clause_id_written_anywhere_exists() -> None:
    known = set(registry())
    unknown = []
    for path in scanned_files():
        relative = path.relative_to(ROOT).as_posix()
        allowed = FICTIONAL.get(relative, set())
        for line, clause_id in mentioned_ids(path.read_text(encoding="utf-8")):
            if clause_id not in known and clause_id not in allowed:
                unknown.append(f"{relative}:{line}: {clause_id}")
    assert not unknown, "unknown clause IDs (a typo, or an old numbering):\n" + "\n".join(unknown)


def test_the_scan_sees_the_places_ids_are_written() -> None:
    scanned = {p.relative_to(ROOT).as_posix() for p in scanned_files()}
    expected = {
        "README.md",
        "spec/sampling.md",
        "reference/tokenizers/byte_bpe.py",
        "conformance/suite/test_sampling.py",
        "conformance/adapters/expectations/hf.toml",
        "tests/test_reference_wordpiece.py",
        "docs/ci.md",
    }
    assert expected <= scanned
    # A stale ID in any of them would be found: the scan reads ranges and shorthand too.
    assert [i for _, i in mentioned_ids("(TOK-SPC-04) TOK-PAD-01..02, -04")] == [
        "TOK-SPC-04",
        "TOK-PAD-01",
        "TOK-PAD-02",
        "TOK-PAD-04",
    ]


def test_fictional_ids_are_really_fictional() -> None:
    clauses = set(registry())
    for path, ids in FICTIONAL.items():
        assert not ids & clauses, f"{path}: {sorted(ids & clauses)} are real clauses; drop them from FICTIONAL"


def test_reference_declarations_name_real_clauses() -> None:
    declared = reference_declarations()
    assert declared, "no reference symbol declares a `Clauses:` line"
    unknown = {symbol: [i for i in ids if i not in registry()] for symbol, ids in declared.items()}
    assert not any(unknown.values()), {s: ids for s, ids in unknown.items() if ids}


def test_every_reference_module_declares_what_it_implements() -> None:
    modules = {symbol.rsplit(".", 1)[0] for symbol in reference_declarations()}
    expected = {
        f"specformer.reference.{m}"
        for m in (
            "sampling",
            "attention",
            "local",
            "lsh",
            "embeddings",
            "tokenizers.byte_bpe",
            "tokenizers.wordpiece",
            "tokenizers.sentencepiece",
            "tokenizers.templates",
        )
    }
    assert expected <= modules, sorted(expected - modules)


def test_declared_clauses_reads_the_docstring_line() -> None:
    doc = """Keep the nucleus.

    Clauses: SAMP-TOPP-01, SAMP-TOPP-02..03.
    """
    assert declared_clauses(doc) == ["SAMP-TOPP-01", "SAMP-TOPP-02", "SAMP-TOPP-03"]
    assert declared_clauses("No declaration; DEMO-TOPIC-99 in prose is not one.") == []
    long = "Clauses: SAMP-TOPP-01,\n        SAMP-KEEP-01.\n\n    Not SAMP-TOPK-01 here."
    assert declared_clauses(long) == ["SAMP-TOPP-01", "SAMP-KEEP-01"]


def test_every_clause_is_implemented_by_a_declared_reference_symbol() -> None:
    undeclared = sorted(set(registry()) - set(reference_symbols()))
    assert not undeclared, f"no reference symbol declares these clauses on its `Clauses:` line: {undeclared}"


def test_reference_modules_declare_clauses_of_their_own_family() -> None:
    """A cheap check that a declaration means what it says: a module's clauses are its family's."""
    prefixes = {"sampling": "SAMP-", "attention": ("ATTN-", "CPLX-"), "local": ("ATTN-", "CPLX-")}
    prefixes |= {"lsh": ("ATTN-", "CPLX-"), "embeddings": "EMB-", "tokenizers": "TOK-"}
    prefixes |= {"losses": "LOSS-", "heads": "HEAD-", "objectives": "OBJ-", "models": "MODEL-"}
    prefixes |= {"kv_cache": ("KV-", "CPLX-"), "generation": "GEN-", "vision": "VIS-", "audio": "AUD-"}
    for symbol, ids in reference_declarations().items():
        part = symbol.split(".")[2]
        wrong = [i for i in ids if not i.startswith(prefixes[part])]
        assert not wrong, (symbol, wrong)


def test_every_mutant_breaks_known_clauses_and_cites_no_stale_one() -> None:
    unknown = {c: m for c, m in breaking_mutants().items() if c not in registry()}
    assert not unknown, unknown


def test_chain_links_every_clause_to_a_test() -> None:
    assert set(registry()) <= set(citations())


@pytest.mark.parametrize("clause_id", ["SAMP-TOPP-01", "TOK-BPE-05"])
def test_chain_command_prints_the_whole_chain(clause_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    from specformer.conformance.cli import main

    assert main(["clauses", "--id", clause_id]) == 0
    out = capsys.readouterr().out
    clause = registry()[clause_id]
    for expected in (clause.source, clause.title, "reference:", "tests:", "mutants:", "adapters:"):
        assert expected in out, (expected, out)
    assert any(test in out for test in citations()[clause_id])
    assert any(m in out for m in breaking_mutants()[clause_id])


def test_chain_command_rejects_an_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    from specformer.conformance.cli import main

    assert main(["clauses", "--id", "SAMP-TOPP-99"]) == 2
    assert "SAMP-TOPP-99" in capsys.readouterr().err
