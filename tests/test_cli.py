"""The `specformer` command end to end: exit codes, one-line errors, reports, baselines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

MUTANT = "specformer.conformance.mutants.sampling:TopKOffByOne"
QUICK = ("--profile", "quick", "--no-bench", "--family", "sampling")


@pytest.mark.slow  # a subprocess (or a whole benchmark family): out of the developer loop, in CI
def test_unknown_adapter_exits_2_with_one_line(cli) -> None:
    done = cli("run", "--adapter", "no.such:thing")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no.such" in lines[0] and "ModuleNotFoundError" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # a subprocess (or a whole benchmark family): out of the developer loop, in CI
def test_verbose_adds_the_traceback(cli) -> None:
    done = cli("run", "--adapter", "no.such:thing", "--verbose")
    assert done.returncode == 2 and "Traceback" in done.stderr


def test_unknown_family_exits_2(cli) -> None:
    from specformer.conformance.registry import families

    done = cli("run", "--family", "nope")
    # every family of spec/, in order, read from the registry (new families add themselves)
    assert done.returncode == 2 and f"unknown family nope; known: {', '.join(families())}" in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--family", "nope"],
        ["run", "--timeout", "0"],
        ["run", "--baseline", "{bad}"],
        ["bench", "--device", "tpu"],
        ["bench", "--baseline", "{bad}"],
    ],
    ids=["family", "timeout", "baseline", "device", "bench-baseline"],
)
def test_a_usage_error_exits_before_torch_is_imported(argv: list[str], tmp_path: Path) -> None:
    """A mistake is told at once: not after the seconds that importing torch and the adapters take."""
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text("[1]", encoding="utf-8")
    argv = [a.replace("{bad}", str(bad)) for a in argv]
    code = (
        "import sys; from specformer.conformance.cli import console_main; code = console_main(); "  # the command
        "sys.exit(10 if 'torch' in sys.modules else code)"
    )
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1


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
    # The baseline names the adapter by its import string, the run by its own name: the gate matches them.
    assert "regression: mutant:TopKOffByOne SAMP-TOPK-01: pass -> fail" in done.stdout

    done = cli("compare", str(baseline_path), str(tmp_path / "m" / "results.json"))
    assert done.returncode == 0 and "SAMP-TOPK-01" in done.stdout


@pytest.mark.slow
def test_failures_exit_1_say_where_and_how_to_reproduce_and_a_crash_spares_the_rest(cli, tmp_path: Path) -> None:
    done = cli("run", "--adapter", "fake_adapters:Crashing", "--adapter", MUTANT, *QUICK, "--out", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SAMP-TOPK-01" in done.stdout
    assert "python -m pytest" in done.stdout and f"--specformer-adapter={MUTANT}" in done.stdout
    crashing, mutant = json.loads((tmp_path / "results.json").read_text())["adapters"]
    # The crash is an error at the test it happened in; the tests before and after it still count.
    assert crashing["load_error"] is None
    crashed = [t for c in crashing["clauses"] for t in c["tests"] if t["message"].startswith("crash:")]
    assert len(crashed) == 1 and "killed by SIGABRT" in crashed[0]["message"] and "top_k" in crashed[0]["nodeid"]
    assert {c["id"]: c["status"] for c in crashing["clauses"]}["SAMP-TOPP-01"] == "pass"
    assert {c["id"] for c in mutant["clauses"] if c["status"] == "fail"} == {"SAMP-TOPK-01", "SAMP-TOPK-05"}
    # Progress in a log (no terminal): one line per finished (adapter, family), counted from the stream,
    # naming the adapter by its name, not its module:attribute string.
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("done mutant:TopKOffByOne sampling: ")]
    assert " fail" in line and line.endswith(" s"), line
    assert not [line for line in done.stdout.splitlines() if line.startswith(f"done {MUTANT}")]


def test_bad_baseline_file_exits_2(cli, tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema_version": 999}))
    done = cli("run", "--adapter", "reference", "--baseline", str(path))
    assert done.returncode == 2 and "schema_version=999" in done.stderr


def test_clauses_lists_each_clause_with_its_tests(capsys: pytest.CaptureFixture[str]) -> None:
    from specformer.conformance.cli import main

    assert main(["clauses", "--family", "sampling"]) == 0
    out = capsys.readouterr().out
    assert "SAMP-TOPK-02" in out and "test_top_k_ties_at_the_kth_value" in out
    assert "NO TEST CITES" not in out


def test_adapters_lists_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    from specformer.conformance.cli import main

    assert main(["adapters"]) == 0
    out = capsys.readouterr().out
    assert "reference" in out and "hf" in out


def test_bench_on_cuda_without_a_device_exits_2_with_a_clear_line(main_in_process) -> None:
    import torch

    if torch.cuda.is_available():
        return
    code, err = main_in_process("bench", "--device", "cuda")
    assert code == 2
    assert err == [
        "specformer: error: --device cuda: no CUDA device is available here (torch.cuda.is_available() is False)"
    ]


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
    assert "bench reference sampling: 5 rows in " in done.stdout  # progress in a log: one line per family

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


# ---------------------------------------------------------------------------------------
# User errors: one line on stderr, exit 2, before any work (in-process: nothing runs).


def _results_file(tmp_path: Path, content: object, name: str = "r.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(content)) if not isinstance(content, bytes) else path.write_bytes(content)
    return path


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_positive_is_rejected(main_in_process, seconds: str) -> None:
    code, err = main_in_process("run", "--adapter", "reference", f"--timeout={seconds}")
    assert code == 2 and err == [f"specformer: error: --timeout must be a positive number of seconds, got {seconds}"]


def test_out_that_is_a_file_or_under_one_is_rejected_before_the_run(main_in_process, tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    code, err = main_in_process("run", "--adapter", "reference", "--out", str(file))
    assert code == 2 and err == [f"specformer: error: --out {file}: exists and is not a folder"]
    code, err = main_in_process("bench", "--adapter", "reference", "--out", str(file / "sub" / "dir"))
    assert code == 2 and err == [
        f"specformer: error: --out {file / 'sub' / 'dir'}: {file} is a file, so no folder can be made under it"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_out_in_a_read_only_folder_is_rejected(main_in_process, tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        code, err = main_in_process("run", "--adapter", "reference", "--out", str(tmp_path / "out"))
    finally:
        tmp_path.chmod(0o700)
    assert code == 2 and err == [f"specformer: error: --out {tmp_path / 'out'}: {tmp_path} is not writable"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ([1, 2], "expected a JSON object (a specformer results file), got a list"),
        ({"schema_version": 2, "adapters": []}, "missing key 'environment'"),
        ({"schema_version": 2, "environment": {}, "profile": "ci", "adapters": [{"name": "x", "nope": 1}]}, "nope"),
        ({"schema_version": 2, "environment": {}, "profile": "ci", "adapters": {"a": 1}}, "not a specformer"),
        ({"schema_version": 999}, "schema_version=999 is not supported"),
        (b"\xff\xfe not utf-8", "cannot read results file"),
    ],
    ids=["list", "missing-key", "unknown-field", "wrong-type", "schema-version", "encoding"],
)
def test_a_malformed_baseline_or_compare_file_is_one_line_naming_it(
    main_in_process, tmp_path: Path, content: object, problem: str
) -> None:
    path = _results_file(tmp_path, content)
    for args in (("run", "--adapter", "reference", "--baseline", str(path)), ("compare", str(path), str(path))):
        code, err = main_in_process(*args)
        assert code == 2 and len(err) == 1, err
        assert str(path) in err[0] and problem in err[0], err


@pytest.mark.parametrize(
    ("named", "problem"),
    [
        ("exit_at_import:anything", "cannot import module 'exit_at_import': SystemExit: 3"),
        ("hostile_adapters:ExitInConstructor", "constructing it failed: SystemExit: 3"),
        ("hostile_adapters:ExpectationsFolder", "cannot be read: IsADirectoryError"),
        ("hostile_adapters:Stub", "declares the sampling family but implements none of its operations"),
    ],
)
def test_load_time_mistakes_are_exit_2_with_one_line(main_in_process, named: str, problem: str) -> None:
    code, err = main_in_process("run", "--adapter", named, "--family", "sampling")
    assert code == 2 and len(err) == 1 and problem in err[0], err
