"""The benchmark process: one adapter's benchmark families, away from the parent's process.

`specformer run` and `specformer bench` start this module in a child process per adapter
(runner._benchmark_one), so an adapter that exits, segfaults or hangs while it is timed takes
only this process down. It appends one JSON line to the stream file as each family starts and
ends, with the family's rows, so the parent keeps the families that finished, names the one that
was running, and starts a new worker for the rest; one "timing" line as each benchmark starts
timing and one "row" line as each row finishes (name and parameters only: the progress display's
"what now" and "how far").

An exception from the adapter (Exception) is an error at the family, and so are SystemExit and
KeyboardInterrupt raised by the adapter (marked fatal: the adapter tried to end the process); the
runner records each in benchmark_errors, which fails the run. A benchmark function calls only the
operations an adapter implements, so an exception is never a mere "unsupported".
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from specformer.conformance.bench.attention import attention_benchmarks
from specformer.conformance.bench.frontends import audio_benchmarks, vision_benchmarks
from specformer.conformance.bench.generation import generation_benchmarks
from specformer.conformance.bench.losses import loss_benchmarks
from specformer.conformance.bench.models import models_benchmarks, objectives_benchmarks
from specformer.conformance.bench.observe import observing
from specformer.conformance.bench.sampling import sampling_benchmarks
from specformer.conformance.bench.tokenizers import tokenizer_benchmarks

# Benchmark functions per operation family; each returns [] for an adapter without the operations.
BENCHMARKS = {
    "sampling": sampling_benchmarks,
    "attention": attention_benchmarks,
    "tokenizers": tokenizer_benchmarks,
    "losses": loss_benchmarks,
    "objectives": objectives_benchmarks,
    "models": models_benchmarks,
    "vision": vision_benchmarks,
    "audio": audio_benchmarks,
    "generation": generation_benchmarks,
}


def main(argv: list[str]) -> int:
    from specformer.conformance.adapters import load_adapter

    parser = argparse.ArgumentParser(prog="specformer.conformance.bench.worker")
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--family", action="append", default=[], choices=sorted(BENCHMARKS))
    parser.add_argument("--profile", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ceilings", type=Path, required=True)
    parser.add_argument("--stream", type=Path, required=True)
    args = parser.parse_args(argv)
    ceilings = json.loads(args.ceilings.read_text())
    adapter = load_adapter(args.adapter)
    for family in args.family:
        _write(args.stream, {"event": "start", "family": family, "time": time.time()})
        rows, error, fatal = [], None, False
        try:
            on_row, on_start = (functools.partial(f, args.stream, family) for f in (_row_event, _timing_event))
            with observing(on_row, on_start):  # the progress display's "what now" and "how far"
                rows = BENCHMARKS[family](adapter, args.profile, device=args.device, ceilings=ceilings)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: the adapter tried to end the process
            error, fatal = f"the adapter raised {type(exc).__name__}({_argument(exc)})", True
        event = {"event": "end", "family": family, "benchmarks": [asdict(r) for r in rows], "error": error}
        _write(args.stream, {**event, "fatal": fatal, "time": time.time()})
    return 0


def process_main(argv: list[str]) -> int:
    """The benchmark process's entry (runner._benchmark_one): main(), then an exit that does not
    collect the heap (results.settle_before_exit). main() itself is also called in-process by tests."""
    from specformer.conformance.results import settle_before_exit

    code = main(argv)
    settle_before_exit()
    return code


def _row_event(stream: Path, family: str, row: Any) -> None:
    """A finished row of the family: its name and parameters, so the display can say how far it got."""
    _write(stream, {"event": "row", "family": family, "name": row.name, "params": row.params, "time": time.time()})


def _timing_event(stream: Path, family: str, name: str, params: dict[str, Any]) -> None:
    """A benchmark of the family starts timing: the display says which, and for how long it has been."""
    _write(stream, {"event": "timing", "family": family, "name": name, "params": params, "time": time.time()})


def _argument(exc: BaseException) -> str:
    return ", ".join(repr(a) for a in exc.args)


def _write(path: Path, event: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(event, default=str) + "\n")
