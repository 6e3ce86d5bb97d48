"""Mutation score of reference/ against the conformance suite, with mutmut 3 (outside CI's budget).

mutmut 3 mutates the files under `source_paths` and imports them by their path below that folder, so
it needs `src/specformer/reference/X.py` where this repository has `reference/X.py` (setuptools'
package-dir maps specformer -> spec/, specformer.reference -> reference/, specformer.conformance ->
conformance/). This script builds that layout in a scratch folder (a copy, nothing here is touched),
writes the [tool.mutmut] settings there, and runs mutmut on one reference module against the
conformance suite of its family, reference adapter, quick profile:

    pip install mutmut==3.8.1                      # into your own virtualenv
    nice -n 15 python scripts/mutation_score.py lsh attention --select lsh --also test_generic.py
    nice -n 15 python scripts/mutation_score.py embeddings embeddings --also test_generic.py

It prints mutmut's results (killed / survived / timeout per mutant) and the score, and leaves the
scratch folder so that `mutmut show NAME` can be run in it. One child at a time (--max-children 1)
so that it does not starve a shared machine; expect minutes per module. docs/mutation.md lists the
scores measured, the survivors, and which are equivalent (with the reason).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(workdir: Path, module: str, family: str, extra: list[str], select: str | None) -> None:
    package = workdir / "src" / "specformer"
    if workdir.exists():
        shutil.rmtree(workdir)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "spec", package, ignore=ignore)
    shutil.copytree(ROOT / "reference", package / "reference", ignore=ignore)
    shutil.copytree(ROOT / "conformance", package / "conformance", ignore=ignore)
    suite = "src/specformer/conformance/suite"
    tests = [f"{suite}/test_{family}.py"] + [f"{suite}/{t}" for t in extra]
    args = ["-p", "specformer.conformance.plugin", "-c", f"{suite}/pytest.ini", "-x", "-q"]
    args += ["--specformer-adapter", "reference", "--specformer-profile", "quick", "-p", "no:cacheprovider"]
    args += ["-k", select] if select else []
    (workdir / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/specformer/reference/{module}.py"]\n'
        f"pytest_add_cli_args = {args!r}\n"
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
        # a shared machine slows every test: a mutant counts as timed out only at 50 x its tests' clean time
        "timeout_multiplier = 50.0\n".replace("'", '"')
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="reference module, e.g. lsh (reference/lsh.py)")
    parser.add_argument("family", help="the suite's test file it is checked by, e.g. attention (test_attention.py)")
    parser.add_argument("--also", action="append", default=[], help="another suite file, e.g. test_generic.py")
    parser.add_argument("--select", default=None, help="pytest -k expression, e.g. lsh (the module's tests only)")
    parser.add_argument("--workdir", type=Path, default=None)
    options = parser.parse_args()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix=f"mutation-{options.module}-"))
    build(workdir, options.module, options.family, options.also, options.select)
    mutmut = [sys.executable, "-m", "mutmut"]
    # One thread: mutmut forks a worker per mutant, and a forked child of a process whose OpenMP pool is
    # running can hang (every mutant then "times out").
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([*mutmut, "run", "--max-children", "1"], cwd=workdir, env=env, check=False)
    listing = subprocess.run(
        [*mutmut, "results", "--all", "true"], cwd=workdir, env=env, capture_output=True, text=True
    )
    counts: collections.Counter[str] = collections.Counter()
    for line in listing.stdout.splitlines():
        if ":" in line:
            _, status = line.rsplit(":", 1)
            counts[status.strip()] += 1
            if status.strip() != "killed":
                print(line.strip())
    checked = sum(n for status, n in counts.items() if status not in ("not checked", "skipped"))
    killed = counts["killed"]
    print(
        f"{options.module}: {dict(counts)}; killed {killed}/{checked} = {killed / max(checked, 1):.1%}",
        f"(workdir {workdir})",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
