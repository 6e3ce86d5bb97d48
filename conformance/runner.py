"""`specformer run`: the conformance suite over several adapters, one process each.

Each adapter runs the suite in its own pytest subprocess (the specformer plugin writes its
results file), so an adapter that crashes the interpreter, or leaks state, cannot take the
others down: its row reports the crash and the run goes on. The parent loads each adapter
once first, so a loading error is one clear line and exit code 2 before anything runs, and
then times the adapters' operations (conformance/bench.py) in-process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from specformer import __version__
from specformer.conformance import bench
from specformer.conformance.adapters import AdapterLoadError, LoadedAdapter, load_adapter
from specformer.conformance.bench.generation import generation_benchmarks
from specformer.conformance.environment import environment
from specformer.conformance.results import AdapterResult, RunResult

# Exit codes: part of the interface (README, DESIGN).
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_REGRESSION = 0, 1, 2, 3


@dataclass
class RunOptions:
    adapters: list[str]
    families: list[str]
    profile: str = "ci"
    timeout_s: float = 120.0
    bench: bool = True
    verbose: bool = False
    device: str = "cpu"


def suite_directory() -> Path:
    from specformer.conformance import suite

    return Path(suite.__file__).parent


def load_all(specs: list[str]) -> list[LoadedAdapter]:
    """Load every adapter; the first failure propagates as AdapterLoadError."""
    return [load_adapter(spec) for spec in specs]


def load_available(specs: list[str]) -> tuple[list[LoadedAdapter], list[AdapterResult]]:
    """Load each adapter on its own: (those that loaded, a result row for each that did not).

    For the built-in adapters run by default, whose libraries are optional extras: one whose
    library is missing is reported with its one-line load error, and the others still run.
    """
    loaded, failed = [], []
    for spec in specs:
        try:
            loaded.append(load_adapter(spec))
        except AdapterLoadError as exc:
            failed.append(AdapterResult(name=spec, load_error=str(exc)))
    return loaded, failed


def add_load_errors(run: RunResult, failed: list[AdapterResult], order: list[str]) -> RunResult:
    """Put the rows of adapters that did not load into the run, in the order the adapters were asked for."""
    position = {spec: index for index, spec in enumerate(order)}
    run.adapters = sorted([*run.adapters, *failed], key=lambda a: position.get(a.name, len(order)))
    return run


def run_suite(options: RunOptions, adapters: list[LoadedAdapter], console: Console) -> RunResult:
    """The conformance suite on each adapter (one process each), then their benchmarks."""
    results = []
    for adapter in adapters:
        console.print(f"[dim]running the suite on {adapter.spec} ...[/dim]", highlight=False)
        results.append(_run_one(adapter.spec, options, console))
    run = _new_run(options, results)
    if options.bench:
        _add_benchmarks(run, options, adapters, console)
    return run


def run_benchmarks(options: RunOptions, adapters: list[LoadedAdapter], console: Console) -> RunResult:
    """Benchmarks only (`specformer bench`): ceilings first, then each adapter's families."""
    run = _new_run(options, [AdapterResult(name=a.spec, description=a.description) for a in adapters])
    _add_benchmarks(run, options, adapters, console)
    return run


def _new_run(options: RunOptions, adapters: list[AdapterResult]) -> RunResult:
    return RunResult(
        environment=environment(),
        profile=options.profile,
        adapters=adapters,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        specformer_version=__version__,
    )


# Benchmark functions per operation family; each returns [] for an adapter without the operations.
BENCHMARKS = {
    "sampling": bench.sampling_benchmarks,
    "attention": bench.attention_benchmarks,
    "tokenizers": bench.tokenizer_benchmarks,
    "generation": generation_benchmarks,
}
# Which benchmark families a spec family selected with --family runs.
BENCHMARKS_OF_SPEC_FAMILY = {
    "sampling": ("sampling",),
    "attention": ("attention",),
    "complexity": ("attention",),
    "tokenizers": ("tokenizers",),
    "generation": ("generation",),
    "kv_cache": ("generation",),
}


def _add_benchmarks(run: RunResult, options: RunOptions, adapters: list[LoadedAdapter], console: Console) -> None:
    console.print(f"[dim]measuring the ceilings of {options.device} ...[/dim]", highlight=False)
    run.ceilings = bench.measure_ceilings(options.device, bench.POLICIES[options.profile])
    wanted = _benchmark_families(options.families)
    for adapter, result in zip(adapters, run.adapters, strict=True):
        if result.load_error is not None:
            continue
        for family in wanted:
            if family not in adapter.capabilities.families:
                continue
            console.print(f"[dim]benchmarking {adapter.spec}: {family} ...[/dim]", highlight=False)
            try:
                result.benchmarks += BENCHMARKS[family](
                    adapter, options.profile, device=options.device, ceilings=run.ceilings
                )
            except Exception as exc:  # a benchmark never fails the run; conformance already judged it
                console.print(
                    f"[yellow]{family} benchmarks of {adapter.spec} skipped: {type(exc).__name__}: {exc}[/yellow]",
                    highlight=False,
                )


def _benchmark_families(spec_families: list[str]) -> list[str]:
    if not spec_families:
        return list(BENCHMARKS)
    return [f for family in spec_families for f in BENCHMARKS_OF_SPEC_FAMILY.get(family, ())]


def suite_command(spec: str, options: RunOptions, results_path: Path) -> list[str]:
    """The pytest invocation for one adapter, isolated from the caller's pytest configuration."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(suite_directory()),
        "-c",
        str(suite_directory() / "pytest.ini"),
        "--rootdir",
        str(suite_directory()),
        "-p",
        "specformer.conformance.plugin",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "-q" if options.verbose else "-qq",
        "--no-header",
        "-rN",
        "--tb=no",
        f"--specformer-adapter={spec}",
        f"--specformer-profile={options.profile}",
        f"--specformer-timeout={options.timeout_s:g}",
        f"--specformer-results={results_path}",
    ]
    command += [f"--specformer-family={family}" for family in options.families]
    return command


def _run_one(spec: str, options: RunOptions, console: Console) -> AdapterResult:
    with tempfile.TemporaryDirectory(prefix="specformer-") as tmp:
        results_path = Path(tmp) / "results.json"
        completed = subprocess.run(
            suite_command(spec, options, results_path),
            capture_output=not options.verbose,
            text=True,
            check=False,
        )
        if results_path.exists() and completed.returncode in (0, 1):
            adapters = RunResult.read_json(results_path).adapters
            if adapters:
                return adapters[0]
    tail = ((completed.stderr or "") + (completed.stdout or "")).strip().splitlines()[-5:]
    reason = f"the suite process ended with exit code {completed.returncode}"
    if completed.returncode < 0:
        reason = f"the suite process was killed by signal {-completed.returncode}"
    return AdapterResult(name=spec, load_error=f"{reason}; last output: {' | '.join(tail) or '(none)'}")
