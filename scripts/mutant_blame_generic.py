"""Run every mutant of conformance/mutants against test_generic.py alone; report blame outside `breaks`.

The mutant tests (tests/test_mutants*.py) leave the generic properties out (`-k "not test_generic"`)
to stay inside CI's budget, so a generic test that fails a mutant at a clause its bug does not
break (wrong blame) would go unseen there. This script runs them, one pytest process per mutant
module (all its mutants as adapters, so each process pays for the imports once), and prints, for
each mutant, the clauses test_generic failed that are not in its `breaks`, with the failing tests.

    python scripts/mutant_blame_generic.py [module ...]   # e.g. attention sampling; default: all
    python scripts/mutant_blame_generic.py --profile ci -k "production" attention   # a selection, at size

Outside CI (all modules: tens of minutes of CPU); exit 1 when some failure is outside its mutant's `breaks`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# every module of conformance/mutants (the tokenizers subpackage included), by name
MODULES = tuple(sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "conformance" / "mutants")])))


def _mutants(module: str) -> dict[str, tuple[str, ...]]:
    mod = importlib.import_module(f"specformer.conformance.mutants.{module}")
    return {f"specformer.conformance.mutants.{module}:{m.__name__}": tuple(m.breaks) for m in mod.ALL}


def run_module(
    module: str, profile: str = "quick", select: str | None = None
) -> tuple[dict[str, list[tuple[str, str, str]]], int]:
    """Mutant spec -> (clause, test, message) for each generic failure outside its breaks; and how many
    (mutant, clause) failures were inside the breaks (what the generic tests do catch)."""
    mutants = _mutants(module)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        command = [sys.executable, "-m", "pytest", "conformance/suite/test_generic.py", "-q", "-n", "0"]
        command += ["-c", "conformance/suite/pytest.ini", "-p", "specformer.conformance.plugin", "--tb=no"]
        command += [f"--specformer-profile={profile}", f"--specformer-results={results}", "-p", "no:cacheprovider"]
        for spec in mutants:
            command += ["--specformer-adapter", spec]
        if select:
            command += ["-k", select]
        subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if not results.exists():  # nothing selected for this module's families
            return {}, 0
        data = json.loads(results.read_text())
    wrong: dict[str, list[tuple[str, str, str]]] = {}
    inside = 0
    for adapter in data["adapters"]:
        spec = next(s for s in mutants if s.endswith(":" + adapter["name"].split(":", 1)[-1]))
        for clause in adapter["clauses"]:
            inside += clause["status"] in ("fail", "error") and clause["id"] in mutants[spec]
            if clause["status"] in ("fail", "error") and clause["id"] not in mutants[spec]:
                for test in clause["tests"]:
                    if test["status"] in ("fail", "error"):
                        wrong.setdefault(spec, []).append((clause["id"], test["nodeid"], test.get("message", "")[:200]))
    return wrong, inside


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES))
    parser.add_argument("--profile", default="quick", choices=("quick", "ci", "thorough"))
    parser.add_argument("-k", dest="select", default=None, help="a pytest -k selection of test_generic's tests")
    args = parser.parse_args(argv)
    status = 0
    for module in args.modules:
        wrong, inside = run_module(module, args.profile, args.select)
        print(
            f"{module}: {len(_mutants(module))} mutants, {inside} (mutant, clause) failures inside breaks, "
            f"{len(wrong)} mutants with failures outside breaks"
        )
        for spec, failures in wrong.items():
            status = 1
            for clause_id, nodeid, message in failures:
                print(f"  {spec.rsplit(':', 1)[1]}: {clause_id} {nodeid}\n      {message}")
        sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
