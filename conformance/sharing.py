"""Sharing one adapter's families between suite processes, and joining the results again.

`specformer run` deals whole adapters to its suite processes (runner.adapter_groups). On two cores
with seven built-in adapters the best whole-adapter split of the quick profile is 62 s against 51 s
(hf and torch in one process). `share_families` then moves some families of one adapter from the
most loaded process to the least loaded one, by the seconds per (adapter, family) of an earlier run
or of the built-in table: the adapter runs in both, each process on its own families
(`--specformer-split=ADAPTER:only=FAMILY,...` and `ADAPTER:except=...`, which the plugin applies with
`family_of_test`, so every test runs in exactly one of them). `join_results` makes one AdapterResult of the parts.

Adapters without per-family seconds (a third-party adapter's first run) are never split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specformer.conformance.results import AdapterResult, ClauseResult, Status, clause_status

# Seconds per family of the built-in adapters, quick profile (`specformer run --profile quick --no-bench`,
# wall_s in results.json, 2-core machine, nothing else running, 2026-12-04): a first run's weights, when
# --out holds no earlier results, for dealing adapters (runner.adapter_groups, by their sums) and for
# sharing families. Only the ratios matter.
# fmt: off
BUILTIN_FAMILY_SECONDS: dict[str, dict[str, float]] = {
    "reference": {"tokenizers": 11.4, "complexity": 9.5, "kv_cache": 3.0, "audio": 2.9, "generation": 1.8,
                  "objectives": 1.6, "models": 1.5, "heads": 1.2, "losses": 1.0, "sampling": 0.9,
                  "attention": 0.7, "embeddings": 0.4, "vision": 0.3},
    "hf": {"tokenizers": 8.4, "complexity": 5.6, "attention": 3.7, "kv_cache": 3.1, "audio": 3.0, "models": 2.6,
           "generation": 2.2, "heads": 2.0, "embeddings": 1.3, "objectives": 1.2, "losses": 1.0, "sampling": 0.9,
           "vision": 0.6},
    "torch": {"complexity": 15.0, "attention": 3.3, "kv_cache": 2.7, "models": 1.5, "generation": 1.5,
              "losses": 1.0, "audio": 0.4, "objectives": 0.3, "sampling": 0.3, "tokenizers": 0.3, "vision": 0.2,
              "heads": 0.1, "embeddings": 0.1},
    # The tokenizer libraries, too small to share: all their seconds (mostly unsupported tests of the
    # other families) under the one family they declare.
    "hf-tokenizers": {"tokenizers": 6.4},
    "tiktoken": {"tokenizers": 3.6},
    "sentencepiece": {"tokenizers": 2.5},
    "hf-slow": {"tokenizers": 2.1},
}
# fmt: on
# A process is not split for less than this many seconds of imbalance (an adapter loaded twice costs
# its import and constructor again: about 1.5 s for transformers).
MIN_GAIN_S = 3.0


@dataclass(frozen=True)
class Share:
    """One adapter in one suite process: all its tests, only those of `families`, or all but those
    (`excluded`: the share that keeps the rest, tests of no known family included)."""

    adapter: Any  # LoadedAdapter
    families: tuple[str, ...] | None = None
    excluded: bool = False

    @property
    def spec(self) -> str:
        return self.adapter.spec

    def option(self) -> str | None:
        """The plugin option that restricts this process to the share's tests."""
        if self.families is None:
            return None
        return f"--specformer-split={self.spec}:{'except' if self.excluded else 'only'}={','.join(self.families)}"


def share_families(groups: list[list[Any]], family_seconds: dict[str, dict[str, float]]) -> list[list[Share]]:
    """The groups as shares, with one adapter's families moved from the most to the least loaded
    group when that narrows the gap by at least MIN_GAIN_S (repeated while it does, each adapter
    split at most once). An adapter without seconds weighs the mean of the known ones and stays whole.

    >>> class A:
    ...     def __init__(self, spec): self.spec = spec
    >>> a, b, c = A("a"), A("b"), A("c")
    >>> shares = share_families([[a, b], [c]], {"a": {"x": 10, "y": 8}, "b": {"x": 6}, "c": {"x": 9}})
    >>> [[s.option() or s.spec for s in g] for g in shares]
    [['--specformer-split=a:except=x', 'b'], ['c', '--specformer-split=a:only=x']]
    """
    shares = [[Share(adapter) for adapter in group] for group in groups]
    if len(shares) < 2:
        return shares

    known = [sum(seconds.values()) for seconds in family_seconds.values()]
    default = sum(known) / len(known) if known else 0.0

    def load(group: list[Share]) -> float:
        return sum(_seconds(s, family_seconds) if s.spec in family_seconds else default for s in group)

    split: set[str] = set()
    for _ in range(len(shares)):
        loads = [load(group) for group in shares]
        heavy, light = loads.index(max(loads)), loads.index(min(loads))
        gap = loads[heavy] - loads[light]
        best: tuple[float, int, tuple[str, ...]] | None = None
        for index, share in enumerate(shares[heavy]):
            seconds = family_seconds.get(share.spec)
            if share.spec in split or share.families is not None or not seconds or len(seconds) < 2:
                continue
            moved, total = [], 0.0
            for family, cost in sorted(seconds.items(), key=lambda item: -item[1]):
                # Moving `total` seconds turns the gap into |gap - 2 total|.
                if abs(gap - 2 * (total + cost)) < abs(gap - 2 * total) and len(moved) < len(seconds) - 1:
                    moved.append(family)
                    total += cost
            gain = gap - abs(gap - 2 * total)
            if moved and gain >= MIN_GAIN_S and (best is None or gain > best[0]):
                best = (gain, index, tuple(sorted(moved)))
        if best is None:
            break
        _, index, moved_families = best
        share = shares[heavy][index]
        shares[heavy][index] = Share(share.adapter, moved_families, excluded=True)
        shares[light].append(Share(share.adapter, moved_families))
        split.add(share.spec)
    return shares


def _seconds(share: Share, family_seconds: dict[str, dict[str, float]]) -> float:
    seconds = family_seconds.get(share.spec, {})
    families = set(seconds) if share.families is None else set(share.families)
    if share.excluded:
        families = set(seconds) - families
    return sum(seconds.get(family, 0.0) for family in families)


def join_results(parts: list[AdapterResult]) -> AdapterResult:
    """One adapter's result from the results of its shares (disjoint tests; a clause whose tests ran
    in both processes gets the tests of both, and its status again from them)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    clauses: dict[str, ClauseResult] = {}
    for part in parts:
        for clause in part.clauses:
            if clause.id not in clauses:
                clauses[clause.id] = clause
                continue
            joined = clauses[clause.id]
            joined.tests = joined.tests + clause.tests
            joined.status = clause_status([t.status for t in joined.tests])
            # Stale: some test the entry names passed, and no test deviated (plugin._stale, over both parts).
            deviated = any(t.status == Status.DEVIATES for t in joined.tests)
            joined.stale_expectation = (joined.stale_expectation or clause.stale_expectation) and not deviated
    families: dict[str, float] = {}
    for part in parts:
        families.update({k: v for k, v in part.wall_s.items() if k != "suite"})
    first.clauses = [clauses[i] for i in sorted(clauses)]
    first.load_error = next((p.load_error for p in parts if p.load_error), None)
    first.wall_s = {"suite": round(sum(families.values()), 3), **dict(sorted(families.items()))}
    return first
