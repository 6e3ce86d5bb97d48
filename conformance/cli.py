"""The `specformer` command: run, clauses, compare, adapters.

Exit codes (the interface CI scripts rely on):
    0  every applicable clause holds, or deviates as an expectations file documents
    1  a clause fails (or an adapter errors or crashes)
    2  usage error, or an adapter that cannot be loaded
    3  regression against --baseline: a clause that passed there fails now, or is unsupported,
       n/a or missing now (lost coverage, unless --accept-lost-coverage), an adapter that loaded
       there fails to load, or (same environment only) a benchmark is slower by more than the
       threshold and the combined spread

A user-facing failure is one line on stderr; --verbose adds the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:  # the adapters import torch: a usage error exits before that
    from specformer.conformance.adapters import LoadedAdapter

from specformer.conformance.plugin import PROFILES
from specformer.conformance.results import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_USAGE,
    AdapterResult,
    Interrupted,
    RunResult,
    neutralise,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specformer", description="Check implementations of transformer building blocks against the spec."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the conformance suite on adapters and report")
    run.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="A",
        help="built-in name, module:attribute or entry point (repeatable; default: reference, hf)",
    )
    run.add_argument("--family", action="append", default=[], metavar="F", help="only this family (repeatable)")
    run.add_argument("--profile", choices=PROFILES, default="ci", help="Hypothesis profile (default: ci)")
    run.add_argument("--out", type=Path, metavar="DIR", help="write results.json, report.md and report.html here")
    _add_baseline_options(run)
    run.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="per-test timeout in seconds, > 0 (default 120); a benchmark family gets 5 times it",
    )
    run.add_argument("--no-bench", action="store_true", help="skip the timing of operations")
    _add_benchmark_json_option(run)
    run.add_argument("--verbose", action="store_true", help="show pytest's output and tracebacks")

    bench = commands.add_parser("bench", help="benchmarks only: ceilings, then each adapter's operations")
    bench.add_argument("--adapter", action="append", default=[], metavar="A", help="as for run (repeatable)")
    bench.add_argument("--family", action="append", default=[], metavar="F", help="only this family (repeatable)")
    bench.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    bench.add_argument("--profile", choices=PROFILES, default="ci", help="timing precision (default: ci)")
    bench.add_argument("--out", type=Path, metavar="DIR", help="write results.json, report.md and report.html here")
    _add_baseline_options(bench)
    _add_benchmark_json_option(bench)
    bench.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="a benchmark family may take 5 times S (default 120)"
    )
    bench.add_argument("--verbose", action="store_true", help="tracebacks on errors")

    clauses = commands.add_parser("clauses", help="list the spec's clauses with the tests that cite each")
    clauses.add_argument("--family", action="append", default=[], metavar="F")
    clauses.add_argument(
        "--id", metavar="CLAUSE", help="one clause's whole chain: spec, reference, tests, mutants, adapters"
    )

    compare = commands.add_parser("compare", help="compare two results.json files clause by clause")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    compare.add_argument("--markdown", action="store_true", help="print Markdown instead of a table")

    commands.add_parser("adapters", help="list the adapters that can be named")

    new_adapter = commands.add_parser("new-adapter", help="write a skeleton adapter for one family (docs/adapters.md)")
    new_adapter.add_argument("family", help="the family it adapts")
    new_adapter.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="where to write it (default: ./my_FAMILY_adapter.py)"
    )
    new_adapter.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    return parser


def _add_baseline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="exit 3 on a regression against this results.json (clauses; benchmarks from the same environment)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.10,
        metavar="F",
        help="a benchmark regresses when slower than the baseline by this fraction and the combined spread (0.10)",
    )
    parser.add_argument(
        "--accept-lost-coverage",
        action="store_true",
        help="with --baseline: a clause that passed there and is unsupported, n/a or missing now is not a regression",
    )
    parser.add_argument(
        "--baseline-adapter",
        metavar="A",
        help="the adapter the report's speedups are measured against (default: reference where it has benchmarks)",
    )


def _add_benchmark_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--benchmark-json",
        type=Path,
        metavar="FILE",
        help="also write the benchmarks as pytest-benchmark JSON (for `pytest-benchmark compare` and dashboards)",
    )


def console_main() -> int:
    """The `specformer` command: main(), then an exit that does not collect the heap (results.settle_before_exit)."""
    code = main()
    from specformer.conformance.results import settle_before_exit

    settle_before_exit()
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    try:
        commands = {"run": _run, "bench": _bench, "clauses": _clauses, "compare": _compare, "adapters": _adapters}
        commands["new-adapter"] = _new_adapter
        return commands[args.command](args)
    except UsageError as exc:
        _error(str(exc), verbose)
        return EXIT_USAGE
    except (KeyboardInterrupt, Interrupted) as exc:
        number = exc.signal_number if isinstance(exc, Interrupted) else signal.SIGINT
        kept = f"; {args.out} is as it was" if getattr(args, "out", None) is not None else ""
        print(
            f"specformer: interrupted by {signal.Signals(number).name}: child processes stopped{kept}", file=sys.stderr
        )
        return 128 + number


class UsageError(Exception):
    """Bad arguments or an adapter that cannot be loaded: exit 2 with one line."""


def _error(message: str, verbose: bool) -> None:
    if verbose:  # the traceback quotes the adapter's messages: neutralised like them
        print(neutralise(traceback.format_exc()), file=sys.stderr, end="")
    print(f"specformer: error: {neutralise(message)}", file=sys.stderr)


def _check_baseline_adapter(args: argparse.Namespace, defaults: list[str]) -> None:
    """--baseline-adapter must name one of the run's built-in adapters (checked before any work;
    an adapter given as module:attribute is known by name only once loaded)."""
    specs = args.adapter or defaults
    if args.baseline_adapter is not None and all(":" not in s for s in specs) and args.baseline_adapter not in specs:
        raise UsageError(
            f"--baseline-adapter {args.baseline_adapter!r} is not one of this run's adapters: {', '.join(specs)}"
        )


def _check_out(out: Path | None) -> None:
    """--out must be a folder that exists or can be made, and that can be written: checked before any work."""
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out}: {existing} is a file, so no folder can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: {existing} is not writable")


def _check_benchmark_json(path: Path | None) -> None:
    """--benchmark-json must name a file whose folder exists or can be made: checked before any work."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"--benchmark-json {path}: is a folder; name the JSON file to write")
    _check_out(path.parent if str(path.parent) else Path("."))


def _check_timeout(seconds: float) -> None:
    if not 0 < seconds < float("inf"):
        raise UsageError(f"--timeout must be a positive number of seconds, got {seconds:g}")


def _check_families(families: list[str]) -> None:
    from specformer.conformance.registry import families as known_families

    unknown = sorted(set(families) - set(known_families()))
    if unknown:
        raise UsageError(f"unknown family {', '.join(unknown)}; known: {', '.join(known_families())}")


def _run(args: argparse.Namespace) -> int:
    _check_families(args.family)
    _check_timeout(args.timeout)
    _check_out(args.out)
    _check_benchmark_json(args.benchmark_json)
    if args.benchmark_json is not None and args.no_bench:
        raise UsageError("--benchmark-json writes the benchmarks, and --no-bench skips them: choose one")
    baseline = _read_baseline(args)
    # Imported after the checks above: the adapters import torch, and a mistake is told before that.
    from specformer.conformance.adapters import DEFAULT_ADAPTERS
    from specformer.conformance.runner import (
        RunOptions,
        add_load_errors,
        previous_family_times,
        run_suite,
    )

    _check_baseline_adapter(args, list(DEFAULT_ADAPTERS))
    options = RunOptions(
        adapters=args.adapter or list(DEFAULT_ADAPTERS),
        families=args.family,
        profile=args.profile,
        timeout_s=args.timeout,
        bench=not args.no_bench,
        verbose=args.verbose,
        previous_family_s=previous_family_times(args.out / "results.json") if args.out is not None else {},
    )
    adapters, not_loaded = _load_adapters(args, options.adapters)
    console = _console()
    run = add_load_errors(run_suite(options, adapters, console), not_loaded, options.adapters, adapters)
    return _report(run, baseline, args, console)


def _bench(args: argparse.Namespace) -> int:
    _check_families(args.family)
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise UsageError(f"--device must be cpu or cuda, got {args.device!r}")
    _check_timeout(args.timeout)
    _check_out(args.out)
    _check_benchmark_json(args.benchmark_json)
    baseline = _read_baseline(args)
    import torch

    from specformer.conformance.adapters import DEFAULT_ADAPTERS
    from specformer.conformance.runner import RunOptions, add_load_errors, run_benchmarks

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here (torch.cuda.is_available() is False)")
    _check_baseline_adapter(args, list(DEFAULT_ADAPTERS))
    options = RunOptions(
        adapters=args.adapter or list(DEFAULT_ADAPTERS),
        families=args.family,
        profile=args.profile,
        device=args.device,
        timeout_s=args.timeout,
    )
    adapters, not_loaded = _load_adapters(args, options.adapters)
    console = _console()
    run = add_load_errors(run_benchmarks(options, adapters, console), not_loaded, options.adapters, adapters)
    code = _report(run, baseline, args, console)
    wrong = [f"{a.name} {b.name} {b.params}" for a in run.adapters for b in a.benchmarks if b.correct is False]
    for line in wrong:
        console.print(Text(f"wrong answer (not a result): {line}", style="bold red"))
    return code if code != EXIT_OK or not wrong else EXIT_FAIL


def _read_baseline(args: argparse.Namespace) -> RunResult | None:
    if args.threshold < 0:
        raise UsageError(f"--threshold must be >= 0, got {args.threshold}")
    if args.baseline is None:
        if args.accept_lost_coverage:
            raise UsageError("--accept-lost-coverage applies to a --baseline, and none was given")
        return None
    try:
        return RunResult.read_json(args.baseline)
    except ValueError as exc:
        raise UsageError(f"--baseline: {exc}") from exc


def _load_adapters(args: argparse.Namespace, specs: list[str]) -> tuple[list[LoadedAdapter], list[AdapterResult]]:
    """The adapters named with --adapter (any failure: exit 2), or the defaults (a missing library: a row)."""
    if args.adapter:
        return _load(specs, args.timeout), []
    return _load_defaults(specs, args.timeout)


def _load(specs: list[str], timeout_s: float) -> list[LoadedAdapter]:
    from specformer.conformance.adapters import AdapterLoadError
    from specformer.conformance.expectations import ExpectationsError
    from specformer.conformance.runner import load_all

    try:
        return load_all(specs, timeout_s)
    except (AdapterLoadError, ExpectationsError) as exc:
        raise UsageError(str(exc)) from exc


def _load_defaults(specs: list[str], timeout_s: float) -> tuple[list[LoadedAdapter], list[AdapterResult]]:
    """The default adapters: one whose optional library is missing becomes a row with its load error
    (reported, and the run goes on); a malformed expectations file is still a usage error."""
    from specformer.conformance.expectations import ExpectationsError
    from specformer.conformance.runner import load_available

    try:
        return load_available(specs, timeout_s)
    except ExpectationsError as exc:
        raise UsageError(str(exc)) from exc


def _report(run: RunResult, baseline: RunResult | None, args: argparse.Namespace, console: Console) -> int:
    """Print and write the reports; the exit code from the run and the gate against the baseline."""
    from specformer.conformance.report import build_report, gate, render_gate_terminal, render_terminal, write_reports

    accept = args.accept_lost_coverage
    result = gate(baseline, run, args.threshold, accept_lost_coverage=accept) if baseline is not None else None
    try:
        report = build_report(run, args.baseline_adapter, result)
    except ValueError as exc:
        raise UsageError(f"--baseline-adapter: {exc}") from exc
    render_terminal(report, console)
    if args.out is not None:
        paths = write_reports(run, args.out, result, report)
        console.print(Text("wrote " + ", ".join(str(p) for p in paths)), highlight=False)
    if getattr(args, "benchmark_json", None) is not None:
        from specformer.conformance.bench.pytest_format import write_pytest_benchmark_json

        path = write_pytest_benchmark_json(run, args.benchmark_json)
        console.print(Text(f"wrote {path} (pytest-benchmark JSON)"), highlight=False)
    if result is not None:
        render_gate_terminal(result, console)
        if result.failed:
            return EXIT_REGRESSION
    return EXIT_FAIL if run.exit_code() else EXIT_OK


def _console() -> Console:
    """A console for reports: the terminal's width, or 120 columns when piped to a file."""
    return Console() if sys.stdout.isatty() else Console(width=120)


def _clauses(args: argparse.Namespace) -> int:
    """One line per clause (ID, title, variants; * marks the default), then the tests citing it."""
    from specformer.conformance.registry import citations, registry

    if args.id:
        return _clause_chain(args.id)
    _check_families(args.family)
    cited = citations()
    console = _console()
    family = None
    for clause in registry().values():
        if args.family and clause.family not in args.family:
            continue
        if clause.family != family:
            family = clause.family
            console.print(Text(f"\n{family} (spec/{family}.md)", style="bold"))
        line = Text(f"{clause.id:16} ", style="bold cyan") + Text(clause.title)
        if clause.variants:
            names = ", ".join(f"{v.name}{'*' if v.default else ''}" for v in clause.variants)
            line += Text(f"  [variants: {names}]", style="dim")
        console.print(line)
        for test in cited.get(clause.id, []):
            console.print(Text(f"    {test}", style="green"), soft_wrap=True)
        if clause.id not in cited:
            console.print(Text("    NO TEST CITES THIS CLAUSE", style="bold red"))
    return EXIT_OK


def _clause_chain(clause_id: str) -> int:
    """Everything that links to one clause, one section each (`specformer clauses --id ID`)."""
    from specformer.conformance.adapters import BUILTIN, declared_variants
    from specformer.conformance.registry import breaking_mutants, citations, reference_symbols, registry

    clause = registry().get(clause_id)
    if clause is None:
        raise UsageError(f"unknown clause {clause_id!r}; `specformer clauses` lists them")
    print(f"{clause.id}  {clause.title}\nspec: spec/{clause.source}\n")
    print(clause.text, "\n")
    sections = {
        "variants": [f"{v.name}{' (default)' if v.default else ''}" for v in clause.variants],
        "reference": reference_symbols().get(clause.id, []),
        "tests": citations().get(clause.id, []),
        "mutants": breaking_mutants().get(clause.id, []),
    }
    for title, lines in sections.items():
        print(f"{title}:" + "".join(f"\n    {line}" for line in lines or ["(none)"]))
        if title == "tests":
            _print_test_needs(sections["tests"])
    print("adapters:")
    for name in BUILTIN:
        variant, expectation = declared_variants(name, clause)
        line = f"    {name:14} {variant}"
        if expectation is not None:
            line += f"; expectation: {expectation.reason}" + (f" <{expectation.link}>" if expectation.link else "")
        print(line)
    return EXIT_OK


def _print_test_needs(tests: list[str]) -> None:
    """Per test of the clause, the operations and optional parameters it needs (an adapter without
    one of them gets "unsupported" at that test)."""
    from specformer.conformance.authoring import clause_test_needs

    print("needs (operation(optional parameters) per test; absent ones make that test unsupported):")
    for test, needs in clause_test_needs(tests):
        print(f"    {test.partition('::')[2]}: {', '.join(needs) or '(no adapter operation)'}")


def _new_adapter(args: argparse.Namespace) -> int:
    from specformer.conformance.adapters.protocols import FAMILY_OPERATIONS
    from specformer.conformance.authoring import skeleton

    if args.family not in FAMILY_OPERATIONS:
        raise UsageError(f"unknown family {args.family!r}; families with operations: {', '.join(FAMILY_OPERATIONS)}")
    out = args.out if args.out is not None else Path(f"my_{args.family}_adapter.py")
    if out.suffix != ".py":
        raise UsageError(f"--out must name a .py file, got {str(out)!r}")
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; give --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(skeleton(args.family, module=out.stem))
    command = f"specformer run --adapter {out.stem}:MyAdapter --family {args.family} --profile quick --no-bench"
    print(f"wrote {out}; run it with:\n    PYTHONPATH={out.parent} {command}")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from specformer.conformance.report import compare_runs, render_comparison_markdown, render_comparison_terminal

    try:
        a, b = RunResult.read_json(args.a), RunResult.read_json(args.b)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    comparison = compare_runs(a, b, labels=(args.a.name if args.a.name != args.b.name else str(args.a), str(args.b)))
    if args.markdown:
        print(render_comparison_markdown(comparison))
    else:
        render_comparison_terminal(comparison)
    return EXIT_OK


def _adapters(args: argparse.Namespace) -> int:
    from specformer.conformance.adapters import BUILTIN, entry_point_names

    for name, target in BUILTIN.items():
        print(f"{name:12} built-in     {target}")
    for name in entry_point_names():
        print(f"{name:12} entry point  (group specformer.adapters)")
    print("or any third-party adapter as module:attribute")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
