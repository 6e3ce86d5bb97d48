"""The gate sees lost coverage: a clause that passed in the baseline and is no longer checked is exit 3.

A clause that passed and is now unsupported (a vocabulary package not installed, an operation
dropped) or absent from a family the adapter ran would otherwise pass the gate silently. The
explicit --accept-lost-coverage lets it through, listed. Hand-built runs; the CLI in-process
with the suite replaced by the run under test, so nothing is spawned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specformer.conformance.report import gate
from specformer.conformance.report.compare import lost_coverage
from specformer.conformance.results import AdapterResult, ClauseResult, RunResult

ENVIRONMENT = {"python": "3.11.7", "device": "cpu"}


def _run(statuses: dict[str, str], adapter: str = "hf", load_error: str | None = None) -> RunResult:
    """One adapter; clause ids TOK-* are in family tokenizers, SAMP-* in sampling."""
    families = {"TOK": "tokenizers", "SAMP": "sampling"}
    clauses = [ClauseResult(cid, families[cid.split("-")[0]], cid, status) for cid, status in statuses.items()]
    return RunResult(
        environment=ENVIRONMENT,
        profile="quick",
        adapters=[AdapterResult(name=adapter, clauses=clauses, load_error=load_error)],
    )


BASELINE = {"TOK-GEN-01": "pass", "TOK-GEN-02": "pass", "TOK-BPE-01": "unsupported", "SAMP-TOPK-01": "pass"}


def test_pass_to_unsupported_or_to_no_result_is_lost_coverage() -> None:
    current = _run({"TOK-GEN-01": "unsupported", "TOK-BPE-01": "unsupported", "SAMP-TOPK-01": "pass"})
    assert lost_coverage(_run(BASELINE), current) == [
        "hf TOK-GEN-01: pass -> unsupported (lost coverage)",
        "hf TOK-GEN-02: pass -> no result (lost coverage)",
    ]
    result = gate(_run(BASELINE), current)
    assert result.failed and "hf TOK-GEN-01: pass -> unsupported (lost coverage)" in result.regressions
    assert result.accepted == []


def test_n_a_is_lost_coverage_too() -> None:
    assert lost_coverage(_run({"SAMP-TOPK-01": "pass"}), _run({"SAMP-TOPK-01": "n/a"})) == [
        "hf SAMP-TOPK-01: pass -> n/a (lost coverage)"
    ]


def test_what_the_current_run_did_not_ask_for_is_not_lost() -> None:
    # --family sampling: no tokenizer result at all; another adapter of the baseline not run.
    baseline = _run(BASELINE)
    baseline.adapters.append(_run(BASELINE, adapter="tiktoken").adapters[0])
    assert lost_coverage(baseline, _run({"SAMP-TOPK-01": "pass"})) == []
    # An unsupported clause that stays unsupported, or a clause that was failing, lost nothing.
    assert lost_coverage(_run({"TOK-BPE-01": "unsupported"}), _run({"TOK-BPE-01": "unsupported"})) == []
    # An adapter that stopped loading is a regression of its own, not also a list of lost clauses.
    assert lost_coverage(_run(BASELINE), _run({}, load_error="ImportError: no tokenizers")) == []


def test_accepting_lost_coverage_lists_it_and_keeps_other_regressions() -> None:
    current = _run({"TOK-GEN-01": "unsupported", "TOK-GEN-02": "pass", "SAMP-TOPK-01": "fail"})
    result = gate(_run(BASELINE), current, accept_lost_coverage=True)
    assert result.regressions == ["hf SAMP-TOPK-01: pass -> fail"]
    assert result.accepted == ["hf TOK-GEN-01: pass -> unsupported (lost coverage)"]


@pytest.fixture
def cli_with_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """cli.main in this process, its suite replaced by the given run: (exit code, stdout)."""
    from specformer.conformance.cli import main

    def run(current: RunResult, *args: str) -> tuple[int, str]:
        monkeypatch.setattr("specformer.conformance.runner.run_suite", lambda *a, **k: current)
        baseline = tmp_path / "baseline.json"
        baseline.write_text(json.dumps(_run(BASELINE).to_dict()))
        code = main(["run", "--adapter", "reference", "--no-bench", "--baseline", str(baseline), *args])
        return code, capsys.readouterr().out

    return run


def test_the_cli_exits_3_on_lost_coverage_and_0_when_it_is_accepted(cli_with_run) -> None:
    current = _run({"TOK-GEN-01": "unsupported", "TOK-GEN-02": "pass", "SAMP-TOPK-01": "pass"})
    code, out = cli_with_run(current)
    assert code == 3, out
    assert "regression: hf TOK-GEN-01: pass -> unsupported (lost coverage)" in out
    code, out = cli_with_run(current, "--accept-lost-coverage")
    assert code == 0, out
    assert "accepted (--accept-lost-coverage): hf TOK-GEN-01: pass -> unsupported (lost coverage)" in out


def test_accepting_lost_coverage_without_a_baseline_is_a_usage_error(capsys) -> None:
    from specformer.conformance.cli import main

    assert main(["run", "--adapter", "reference", "--accept-lost-coverage"]) == 2
    assert capsys.readouterr().err.strip() == (
        "specformer: error: --accept-lost-coverage applies to a --baseline, and none was given"
    )
