"""The `specformer` command end to end: exit codes, one-line errors, reports, baselines."""

from __future__ import annotations

import json
from pathlib import Path

MUTANT = "specformer.conformance.mutants.sampling:TopKOffByOne"
QUICK = ("--profile", "quick", "--no-bench")


def test_unknown_adapter_exits_2_with_one_line(cli) -> None:
    done = cli("run", "--adapter", "no.such:thing")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no.such" in lines[0] and "ModuleNotFoundError" in lines[0]
    assert "Traceback" not in done.stderr


def test_verbose_adds_the_traceback(cli) -> None:
    done = cli("run", "--adapter", "no.such:thing", "--verbose")
    assert done.returncode == 2 and "Traceback" in done.stderr


def test_unknown_family_exits_2(cli) -> None:
    done = cli("run", "--family", "nope")
    assert done.returncode == 2 and "unknown family nope; known: sampling" in done.stderr


def test_mutant_exits_1_and_the_report_says_where_and_how_to_reproduce(cli) -> None:
    done = cli("run", "--adapter", MUTANT, *QUICK)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SAMP-TOPK-01" in done.stdout
    assert "python -m pytest" in done.stdout and f"--specformer-adapter={MUTANT}" in done.stdout


def test_run_writes_reports_and_a_baseline_regression_exits_3(cli, tmp_path: Path) -> None:
    out = tmp_path / "reference"
    done = cli("run", "--adapter", "reference", *QUICK, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in out.iterdir()} == {"results.json", "report.md", "report.html"}

    # The same clauses, as if the mutant had passed them last time.
    baseline = json.loads((out / "results.json").read_text())
    baseline["adapters"][0]["name"] = MUTANT
    baseline_path = tmp_path / "baseline.json"
    baseline_path.write_text(json.dumps(baseline))
    done = cli("run", "--adapter", MUTANT, *QUICK, "--baseline", str(baseline_path), "--out", str(tmp_path / "m"))
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"regression: {MUTANT} SAMP-TOPK-01: pass -> fail" in done.stdout

    done = cli("compare", str(baseline_path), str(tmp_path / "m" / "results.json"))
    assert done.returncode == 0 and "SAMP-TOPK-01" in done.stdout


def test_bad_baseline_file_exits_2(cli, tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema_version": 999}))
    done = cli("run", "--adapter", "reference", "--baseline", str(path))
    assert done.returncode == 2 and "schema_version=999" in done.stderr


def test_clauses_lists_each_clause_with_its_tests(cli) -> None:
    done = cli("clauses", "--family", "sampling")
    assert done.returncode == 0
    assert "SAMP-TOPK-02" in done.stdout and "test_top_k_ties_at_the_kth_value" in done.stdout
    assert "NO TEST CITES" not in done.stdout


def test_adapters_lists_the_builtins(cli) -> None:
    done = cli("adapters")
    assert done.returncode == 0 and "reference" in done.stdout and "hf" in done.stdout


def test_a_crashing_adapter_is_reported_and_the_run_goes_on(cli, tmp_path: Path) -> None:
    done = cli("run", "--adapter", "fake_adapters:Crashing", "--adapter", "reference", *QUICK, "--out", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    crashing, reference = results["adapters"]
    assert "killed by signal" in crashing["load_error"]
    assert reference["clauses"] and all(c["status"] == "pass" for c in reference["clauses"])


def test_written_results_validate_against_the_schema(cli, tmp_path: Path) -> None:
    import jsonschema

    done = cli("run", "--adapter", "hf", "--profile", "quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    schema = json.loads((Path(__file__).resolve().parents[1] / "conformance" / "results.schema.json").read_text())
    results = json.loads((tmp_path / "results.json").read_text())
    jsonschema.validate(results, schema)
    assert results["adapters"][0]["benchmarks"], "the run records the sampling timings"
