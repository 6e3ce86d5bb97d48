"""Helpers for specformer's own tests: running the suite and the CLI in subprocesses."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from specformer.conformance.results import ERROR, FAIL, RunResult

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    """specformer's own tests run under its Hypothesis profile, as the suite does; the plugin
    loads the profile by itself only for the suite, so that it stays inert in other projects."""
    from specformer.conformance.plugin import use_profile

    use_profile(config.getoption("--specformer-profile"))
    _share_the_cores(config)


def _share_the_cores(config: pytest.Config) -> None:
    """An xdist worker takes its share of the cores for torch's intra-op threads, and so do the suite
    processes it starts (through the environment, as `specformer run` does for its own): workers of
    all the cores' threads each spin against each other on a small machine."""
    workers = getattr(config, "workerinput", {}).get("workercount")
    if not workers or "OMP_NUM_THREADS" in os.environ:
        return  # one process, or the caller chose a count
    import torch

    from specformer.conformance.runner import suite_threads

    threads = suite_threads(int(workers))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))
    torch.set_num_threads(threads)


def _runs_alone(item: pytest.Item) -> bool:
    """A slow test (a suite or CLI run in a subprocess) that shares no module-scoped fixture: xdist may
    run it on any worker, apart from the rest of its file."""
    if item.get_closest_marker("slow") is None:
        return False
    definitions = getattr(item, "_fixtureinfo", None)
    scopes = {d.scope for defs in (definitions.name2fixturedefs.values() if definitions else ()) for d in defs}
    return not scopes & {"module", "package", "class"}


@pytest.hookimpl(tryfirst=True)  # before xdist's worker turns the xdist_group marks into node IDs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """How `pytest -n auto --dist loadgroup` (pyproject addopts) shares the tests between workers.

    A file of specformer's own tests is one unit (one xdist_group), so its module-scoped fixtures
    (a shared suite run, parsed vocabularies) are built once; each slow test that runs alone is a
    unit of its own, and those go first (with --no-loadscope-reorder the units are dealt in this
    order), so that no worker is left with a long subprocess run at the end. The conformance
    suite's tests are left ungrouped (an xdist_group renames the node ID, which expectations files
    match) and are dealt one by one.
    """
    if not (hasattr(config, "workerinput") and getattr(config.option, "loadgroup", False)):
        return  # not an xdist worker under --dist loadgroup (the workers collect; the controller deals)
    tests = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(tests) and not _runs_alone(item):
            item.add_marker(pytest.mark.xdist_group(item.path.name))
    items.sort(key=lambda item: not (item.path.is_relative_to(tests) and _runs_alone(item)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is loaded once collected (torch, transformers, the suite's tables) lives to the end: the
    garbage collector need not scan it again after every test (as the suite's own processes do)."""
    gc.freeze()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FIXTURES), env.get("PYTHONPATH", "")) if p)
    return env


def suite_runner(tmp_path: Path) -> Callable[..., tuple[int, RunResult | None, str]]:
    """A function that runs the conformance suite on adapters in one pytest process and returns
    (exit code, results, output)."""

    def run(
        adapters: list[str], *extra: str, families: tuple[str, ...] = ("sampling",), profile: str = "quick"
    ) -> tuple[int, RunResult | None, str]:
        # Imported here: the runner imports the adapters, hence torch, which xdist's controller never needs.
        from specformer.conformance.runner import RunOptions, suite_command

        results = tmp_path / "results.json"
        options = RunOptions(adapters=adapters, families=list(families), profile=profile)
        command = suite_command(adapters[0], options, results)
        command += [f"--specformer-adapter={a}" for a in adapters[1:]] + list(extra)
        done = subprocess.run(command, capture_output=True, text=True, env=_env(), check=False)
        run_result = RunResult.read_json(results) if results.exists() else None
        return done.returncode, run_result, done.stdout + done.stderr

    return run


@pytest.fixture
def run_suite(tmp_path: Path) -> Callable[..., tuple[int, RunResult | None, str]]:
    return suite_runner(tmp_path)


@pytest.fixture
def run_mutants(run_suite) -> Callable[..., tuple[RunResult, dict[str, list[str]]]]:
    """run_mutants(mutants, family, profile, *extra, expected=) runs one suite process with each
    mutant ({import string: class}, or a module's ALL) as an adapter of `family`, asserts that it exited 1, and returns
    (run, wrong): each mutant whose failed or errored clauses are not `expected(mutant)` (default: its
    `breaks`), with the clauses it did fail."""

    def run(
        mutants: dict[str, type] | ModuleType,
        family: str,
        profile: str,
        *extra: str,
        expected: Callable[[type], list[str]] | None = None,
    ) -> tuple[RunResult, dict[str, list[str]]]:
        if isinstance(mutants, ModuleType):  # all of a module's mutants
            mutants = {f"{mutants.__name__}:{m.__name__}": m for m in mutants.ALL}
        code, result, output = run_suite(list(mutants), *extra, families=(family,), profile=profile)
        assert result is not None, output
        assert code == 1, output
        wrong = {}
        for adapter in result.adapters:
            failed = sorted(c.id for c in adapter.clauses if c.status in (FAIL, ERROR))
            mutant = mutants[adapter.name]
            if failed != sorted(expected(mutant) if expected else mutant.breaks):
                wrong[adapter.name] = failed
        return result, wrong

    return run


@pytest.fixture
def mutant_profile(request: pytest.FixtureRequest) -> str:
    """The profile the mutants run under: quick, unless the session asks for thorough.

    Every mutant's `breaks` was measured exact under quick and ci; ci only adds Hypothesis
    examples, and with more than a hundred mutants, each a suite run in its own process, quick is
    what keeps the full test run inside CI's time budget.
    """
    return "thorough" if request.config.getoption("--specformer-profile") == "thorough" else "quick"


@pytest.fixture
def mutants_to_run(mutant_profile: str) -> Callable[[ModuleType, Sequence[str]], dict[str, type]]:
    """mutants_to_run(module, in_ci): {import string: class} of the module's mutants that run under
    mutant_profile, in ALL's order: every one under thorough, else the ones `in_ci` names (all of them
    must exist)."""

    def chosen(module: ModuleType, in_ci: Sequence[str]) -> dict[str, type]:
        mutants = [m for m in module.ALL if mutant_profile == "thorough" or m.__name__ in in_ci]
        assert {m.__name__ for m in module.ALL} >= set(in_ci), sorted(set(in_ci) - {m.__name__ for m in module.ALL})
        return {f"{module.__name__}:{m.__name__}": m for m in mutants}

    return chosen


@pytest.fixture(scope="module")
def module_run_suite(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple[int, RunResult | None, str]]:
    """run_suite for module-scoped fixtures that share one run between tests."""
    return suite_runner(tmp_path_factory.mktemp("suite"))


@pytest.fixture
def main_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, list[str]]]:
    """cli.main in this process with tests/fixtures importable: (exit code, stderr lines). The run
    itself never starts: run_suite and run_benchmarks fail the test if reached (a user or load
    error must stop the command before any work)."""
    from specformer.conformance.cli import main

    monkeypatch.syspath_prepend(str(FIXTURES))

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run started: a user or load error must stop it before any work")

    monkeypatch.setattr("specformer.conformance.runner.run_suite", never)
    monkeypatch.setattr("specformer.conformance.runner.run_benchmarks", never)

    def run(*args: str) -> tuple[int, list[str]]:
        code = main(list(args))
        return code, capsys.readouterr().err.strip().splitlines()

    return run


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m specformer ARGS` with the test fixtures importable."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "specformer", *args],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=cwd,
            check=False,
        )

    return run


@pytest.fixture
def statuses() -> Callable[[RunResult, str], dict[str, str]]:
    """statuses(run, adapter): clause ID -> status for one adapter of a run."""

    def of(run: RunResult, adapter: str) -> dict[str, str]:
        (result,) = [a for a in run.adapters if a.name == adapter]
        return {c.id: c.status for c in result.clauses}

    return of
