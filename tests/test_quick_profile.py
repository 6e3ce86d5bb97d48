"""What the quick profile (a developer's loop) trades for time, and what it must keep (issue 10 §5).

Pinned here: the scaling ladders per profile (ci's unchanged; quick's still five lengths over a factor
of eight, as spec/complexity.md asks), the Hypothesis settings per profile, and the suite process's
start-up options. No absolute times: those are measured (results.json's wall_s), never asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specformer.conformance.plugin import _PROFILE_SETTINGS, PROFILES
from specformer.conformance.runner import RunOptions, suite_command
from specformer.conformance.suite.test_complexity import LADDERS

CI_LADDERS = {
    "quadratic": [256, 431, 724, 1218, 2048],
    "memory": [512, 861, 1448, 2435, 4096],
    "linear": [1024, 1728, 2880, 4864, 8192],
    "linear memory": [1024, 1728, 2880, 4864, 8192],
    "decode": [2048, 3444, 5793, 9742, 16384],
    "global": [512, 832, 1472, 2432, 4096],
    "global memory": [512, 832, 1472, 2432, 4096],
}


def test_ci_and_thorough_ladders_are_unchanged() -> None:
    assert LADDERS["ci"] == CI_LADDERS
    assert LADDERS["thorough"] == CI_LADDERS


@pytest.mark.parametrize("profile", PROFILES)
def test_every_ladder_spans_five_lengths_over_a_factor_of_eight(profile: str) -> None:
    assert set(LADDERS[profile]) == set(CI_LADDERS)
    for name, sizes in LADDERS[profile].items():
        assert len(sizes) >= 5 and sizes == sorted(sizes), (profile, name, sizes)
        assert sizes[-1] >= 8 * sizes[0], (profile, name, sizes)


def test_quick_ladders_are_no_longer_than_ci_and_keep_ci_where_verdicts_differ() -> None:
    quick = LADDERS["quick"]
    for name, sizes in quick.items():
        assert sizes[-1] <= CI_LADDERS[name][-1], name
    # Shorter, fixed costs flatten a quadratic time (torch's eager FlexAttention, a linear-attention
    # mutant) and steepen hf's LSH; halved memory ladders saved no CPU time: only the decode step is shorter.
    assert {name for name in quick if quick[name] != CI_LADDERS[name]} == {"decode"}
    assert quick["decode"] == [1024, 1722, 2896, 4871, 8192]


def test_hypothesis_settings_per_profile() -> None:
    assert _PROFILE_SETTINGS == {"quick": (10, True), "ci": (40, True), "thorough": (500, False)}


@pytest.mark.parametrize("plugin", ["no:unraisableexception", "no:logging"])
def test_the_suite_process_skips_pytests_unraisable_exception_clean_up_and_log_capture(
    tmp_path: Path, plugin: str
) -> None:
    command = suite_command("reference", RunOptions(adapters=["reference"], families=[]), tmp_path / "r.json")
    assert plugin in command
    assert command[command.index(plugin) - 1] == "-p"
