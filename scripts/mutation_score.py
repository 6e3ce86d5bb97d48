"""Mutation score of reference/ against the conformance suite, with mutmut 3 (outside CI's budget).

mutmut 3 mutates the files under `source_paths` and imports them by their path below that folder, so
it needs `src/specformer/reference/X.py` where this repository has `reference/X.py` (setuptools'
package-dir maps specformer -> spec/, specformer.reference -> reference/, specformer.conformance ->
conformance/). This script builds that layout in a scratch folder (a copy, nothing here is touched),
writes the [tool.mutmut] settings there, and runs mutmut on one reference module against the tests
that check it (MODULES below: the family's suite files, reference adapter, quick profile, and the
tests/ unit tests written for that module):

    pip install mutmut==3.8.1                      # into your own virtualenv
    nice -n 15 python scripts/mutation_score.py lsh                      # every mutant of reference/lsh.py
    nice -n 15 python scripts/mutation_score.py all --sample 30 --seed 9 # 30 random mutants per module
    nice -n 15 python scripts/mutation_score.py tokenizers/wordpiece --sample 30 --seed 9
    nice -n 15 python scripts/mutation_score.py lsh --names 'specformer.reference.lsh.x__with_previous_chunks__mutmut_*'

--sample N --seed S draws N mutants uniformly at random (random.Random(S).sample over the sorted
mutant names of the module, so the same source and seed give the same draw) and runs only those,
by name. The score of a sample estimates the module's score; the script reports it with a 95%
Wilson score interval. Mutants listed as equivalent in docs/mutation.md (lines `- `NAME`: reason`
in its "Equivalent mutants" section) are taken out of the denominator. A mutant that times out or
crashes the test process counts as killed (the suite noticed it); one no test reaches
("no tests") counts as survived.

It prints every mutant that was not killed, and the score; --json FILE appends one line per module
with the counts. The scratch folder stays (default /tmp/mutation/<module>), so that
`python -m mutmut show NAME` can be run in it. One child at a time (--max-children 1) so that it does
not starve a shared machine. docs/mutation.md lists the scores measured, the survivors, and which are
equivalent (with the reason).
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = "src/specformer/conformance/suite"

# reference module (path below reference/, no .py) -> (suite files, tests/ unit tests, pytest -k or None).
# The suite files are the family's own; the unit tests are those written against the module itself.
MODULES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    "attention": (("test_attention.py",), (), None),
    "audio": (("test_audio.py",), ("test_reference_frontends.py",), None),
    "embeddings": (("test_embeddings.py",), (), None),
    "generation": (("test_generation.py", "test_generation_metrics.py"), (), None),
    "heads": (("test_heads.py",), (), None),
    "kv_cache": (("test_kv_cache.py", "test_generation.py", "test_generation_metrics.py"), (), None),
    "local": (("test_attention_local.py",), (), None),
    "losses": (("test_losses.py",), (), None),
    "lsh": (("test_attention_lsh.py",), (), None),
    "models": (("test_models.py",), (), None),
    "objectives": (("test_objectives.py",), (), None),
    "sampling": (("test_sampling.py",), (), None),
    "vision": (("test_vision.py",), ("test_reference_frontends.py",), None),
    "tokenizers/byte_bpe": (("test_tokenizers_byte_bpe.py",), ("test_reference_byte_bpe.py",), None),
    "tokenizers/sentencepiece": (("test_tokenizers_sentencepiece.py",), ("test_reference_sentencepiece.py",), None),
    # The tokenizer suites: only the files whose tests cite the module's clauses (test_tokenizers.py cites
    # TOK-GEN-*, which templates.py does not implement), and not wordpiece's sweep of every BMP code point
    # against HF tokenizers (115 s a run on a loaded machine; the per-script and corpus agreements stay).
    "tokenizers/templates": (("test_tokenizers_templates.py",), ("test_reference_templates.py",), None),
    "tokenizers/wordpiece": (
        ("test_tokenizers_wordpiece.py",),
        ("test_reference_wordpiece.py",),
        "not test_every_stable_bmp_code_point_agrees",
    ),
}

# Known answers for the reference itself (tests written against mutmut's survivors): run for every module.
ALWAYS = ("test_reference_known_answers.py",)

DETECTED = {"killed", "timeout", "segfault"}  # the tests noticed the mutant (failed, hung, or crashed)
UNCHECKED = {"not checked", "skipped", "check was interrupted by user"}


def wilson(killed: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion killed/n (Wilson 1927; sound for small n and p near 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def equivalent_mutants(doc: Path = ROOT / "docs" / "mutation.md") -> dict[str, str]:
    """The mutants docs/mutation.md lists as equivalent: `- `NAME`: reason` lines of its Equivalent section."""
    found: dict[str, str] = {}
    section = False
    for line in doc.read_text().splitlines() if doc.exists() else ():
        if line.startswith("#"):
            section = "equivalent mutants" in line.lower()
        elif section and (match := re.match(r"- `(specformer\.reference\.[\w.]+__mutmut_\d+)`:?\s*(.*)", line)):
            found[match.group(1)] = match.group(2)
    return found


def build(workdir: Path, module: str, extra: list[str]) -> None:
    suite_files, unit_tests, select = MODULES[module]
    package = workdir / "src" / "specformer"
    if workdir.exists():
        shutil.rmtree(workdir)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "spec", package, ignore=ignore)
    shutil.copytree(ROOT / "reference", package / "reference", ignore=ignore)
    shutil.copytree(ROOT / "conformance", package / "conformance", ignore=ignore)
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=ignore)
    tests = [f"{SUITE}/{t}" for t in (*suite_files, *extra)] + [f"tests/{t}" for t in (*unit_tests, *ALWAYS)]
    args = ["-p", "specformer.conformance.plugin", "-c", f"{SUITE}/pytest.ini", "--rootdir", ".", "-x", "-q"]
    args += ["--specformer-adapter", "reference", "--specformer-profile", "quick", "-p", "no:cacheprovider"]
    # mutmut's tracing slows every test several-fold (its stats pass failed a 120 s per-test watchdog on
    # Mistral's sentencepiece models): hangs are mutmut's timeout's job (timeout_multiplier below)
    args += ["--specformer-timeout", "3600"]
    args += ["-p", "no:xdist", "-p", "no:randomly"]
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


GENERATE = """
from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, create_mutants
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)
"""


def meta(workdir: Path, module: str) -> dict:
    return json.loads((workdir / "mutants" / "src" / "specformer" / "reference" / f"{module}.py.meta").read_text())


def score(module: str, options: argparse.Namespace, env: dict[str, str]) -> dict:
    workdir = (options.workdir or Path("/tmp/mutation")) / module.replace("/", "-")
    build(workdir, module, options.also)
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([sys.executable, "-c", GENERATE], cwd=workdir, env=env, check=True, capture_output=True)
    names = sorted(meta(workdir, module)["exit_code_by_key"])
    chosen = sorted(random.Random(options.seed).sample(names, options.sample)) if options.sample else []
    if options.sample and options.sample >= len(names):
        chosen = []  # the whole module
    if options.names:  # these mutants only (a survivor rerun after its test was written)
        chosen = sorted(n for n in names if any(fnmatch.fnmatch(n, p) for p in options.names))
        if not chosen:
            raise SystemExit(f"{module}: no mutant matches {options.names}")
    start = time.monotonic()
    cpu = os.times()
    run = subprocess.run(
        [*mutmut, "run", "--max-children", "1", *chosen], cwd=workdir, env=env, capture_output=True, text=True
    )
    after = os.times()
    from mutmut.stats import status_by_exit_code

    codes = meta(workdir, module)["exit_code_by_key"]
    selected = chosen or names
    status = {name: status_by_exit_code[codes.get(name)] for name in selected}
    if run.returncode != 0 and all(s in UNCHECKED for s in status.values()):
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        raise SystemExit(f"{module}: mutmut run failed (exit {run.returncode}); workdir {workdir}")
    equivalent = equivalent_mutants()
    counts = collections.Counter(status.values())
    eq = sorted(n for n in selected if n in equivalent and status[n] not in DETECTED)
    survivors = sorted(n for n in selected if status[n] not in DETECTED | UNCHECKED and n not in equivalent)
    killed = sum(1 for n in selected if status[n] in DETECTED)
    n = killed + len(survivors)
    low, high = wilson(killed, n)
    for name in survivors:
        print(f"  survived: {name} ({status[name]})")
    for name in eq:
        print(f"  equivalent: {name}")
    result = {
        "module": f"reference/{module}.py",
        "mutants_in_module": len(names),
        "checked": len(selected),
        "sample": options.sample or None,
        "seed": options.seed if options.sample else None,
        "statuses": dict(counts),
        "killed": killed,
        "survived": len(survivors),
        "equivalent": len(eq),
        "score": killed / n if n else None,
        "wilson95": [low, high],
        "survivors": survivors,
        "wall_s": round(time.monotonic() - start, 1),
        "cpu_s": round((after.children_user + after.children_system) - (cpu.children_user + cpu.children_system), 1),
        "workdir": str(workdir),
    }
    print(
        f"reference/{module}.py: {killed}/{n} killed = {result['score'] or 0:.1%} "
        f"(95% Wilson {low:.1%}-{high:.1%}); {len(eq)} equivalent; statuses {dict(counts)}; "
        f"{len(selected)} of {len(names)} mutants; {result['wall_s']} s wall, {result['cpu_s']} s CPU",
        flush=True,
    )
    if options.json:
        with options.json.open("a") as out:
            out.write(json.dumps(result) + "\n")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", nargs="+", help="reference module(s), e.g. lsh, tokenizers/wordpiece, or all")
    parser.add_argument("--sample", type=int, default=0, help="run N random mutants per module (default: all)")
    parser.add_argument("--seed", type=int, default=9, help="seed of the random sample")
    parser.add_argument("--names", nargs="+", default=[], help="run only these mutants (names or fnmatch patterns)")
    parser.add_argument("--also", action="append", default=[], help="another suite file, e.g. test_generic.py")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch root (default /tmp/mutation)")
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per module to this file")
    options = parser.parse_args()
    modules = list(MODULES) if options.module == ["all"] else options.module
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"module must be one of {', '.join(MODULES)} or all, not {', '.join(unknown)}")
    # One thread: mutmut forks a worker per mutant, and a forked child of a process whose OpenMP pool is
    # running can hang (every mutant then "times out").
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for module in modules:
        score(module, options, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
