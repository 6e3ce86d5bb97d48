"""The `specformer` command end to end: exit codes, one-line errors, reports, baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MUTANT = "specformer.conformance.mutants.sampling:TopKOffByOne"
QUICK = ("--profile", "quick", "--no-bench", "--family", "sampling")


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
    from specformer.conformance.registry import families

    done = cli("run", "--family", "nope")
    assert done.returncode == 2 and f"unknown family nope; known: {', '.join(families())}" in done.stderr


@pytest.mark.slow
def test_run_writes_reports_that_validate_and_a_baseline_regression_exits_3(cli, tmp_path: Path) -> None:
    import jsonschema

    out = tmp_path / "builtin"
    done = cli("run", "--adapter", "reference", "--adapter", "hf", *QUICK, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in out.iterdir()} == {"results.json", "report.md", "report.html"}
    schema = json.loads((Path(__file__).resolve().parents[1] / "conformance" / "results.schema.json").read_text())
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, schema)

    # The reference's clauses, as if the mutant had passed them all last time.
    baseline = {**results, "adapters": [{**results["adapters"][0], "name": MUTANT}]}
    baseline_path = tmp_path / "baseline.json"
    baseline_path.write_text(json.dumps(baseline))
    done = cli("run", "--adapter", MUTANT, *QUICK, "--baseline", str(baseline_path), "--out", str(tmp_path / "m"))
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"regression: {MUTANT} SAMP-TOPK-01: pass -> fail" in done.stdout

    done = cli("compare", str(baseline_path), str(tmp_path / "m" / "results.json"))
    assert done.returncode == 0 and "SAMP-TOPK-01" in done.stdout


@pytest.mark.slow
def test_failures_exit_1_say_where_and_how_to_reproduce_and_a_crash_spares_the_rest(cli, tmp_path: Path) -> None:
    done = cli("run", "--adapter", "fake_adapters:Crashing", "--adapter", MUTANT, *QUICK, "--out", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SAMP-TOPK-01" in done.stdout
    assert "python -m pytest" in done.stdout and f"--specformer-adapter={MUTANT}" in done.stdout
    crashing, mutant = json.loads((tmp_path / "results.json").read_text())["adapters"]
    assert "killed by signal" in crashing["load_error"]
    assert {c["id"] for c in mutant["clauses"] if c["status"] == "fail"} == {"SAMP-TOPK-01", "SAMP-TOPK-05"}


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


def test_bench_on_cuda_without_a_device_exits_2_with_a_clear_line(cli) -> None:
    import torch

    if torch.cuda.is_available():
        return
    done = cli("bench", "--device", "cuda")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "specformer: error: --device cuda: no CUDA device is available here (torch.cuda.is_available() is False)"
    )


@pytest.mark.slow
def test_bench_measures_ceilings_and_checks_answers(cli, tmp_path: Path) -> None:
    done = cli("bench", "--adapter", "reference", "--family", "sampling", "--profile", "quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert {"matmul-float32", "copy"} <= set(results["ceilings"])
    (adapter,) = results["adapters"]
    assert adapter["clauses"] == []
    names = {b["name"] for b in adapter["benchmarks"]}
    assert names == {f"sampling.{op}" for op in ("temperature", "top_k", "top_p", "min_p", "process")}
    assert all(b["correct"] and b["ceiling_fraction"] is not None for b in adapter["benchmarks"])

    # The same run again, as its own baseline: same environment, so the benchmarks are compared.
    done = cli(
        "bench",
        "--adapter",
        "reference",
        "--family",
        "sampling",
        "--profile",
        "quick",
        "--baseline",
        str(tmp_path / "results.json"),
        "--threshold",
        "10",
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_bench_flags_a_wrong_answer_and_exits_1(cli) -> None:
    mutant = "specformer.conformance.mutants.sampling:TopKOffByOne"
    done = cli("bench", "--adapter", mutant, "--family", "sampling", "--profile", "quick")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "wrong answer (not a result)" in done.stdout and "sampling.top_k" in done.stdout
