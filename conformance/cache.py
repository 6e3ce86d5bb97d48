"""An on-disk cache for the suite's costly, deterministic values: trained models and oracle answers.

Each suite process (`specformer run` starts one per CPU core, pytest-xdist one per worker) would
otherwise train the same sentencepiece models and compute the same reference answers over the
same corpus; a developer's next run would do it all again. `cached(kind, key, compute)` keeps
the value under the user's cache folder, in a file named by the SHA-256 of

- the key the caller gives (what the value is computed from: a model's bytes, a file's bytes,
  a library's version),
- the source of every module of specformer.reference and specformer.conformance (but those that
  only run, show and report the suite: RUN_AND_REPORT), and the spec's text, so that any edit of
  the code that computes a value (or of the suite that asks for it) makes a new entry,
- the versions of Python and torch.

What is cached is what the suite itself would compute from fixed inputs (the expected side of a
comparison, or a model trained from the fixed corpus), never an adapter's answer: a cached value
is the value a fresh computation gives, so no check is weakened.

Where: $SPECFORMER_CACHE_DIR, else $XDG_CACHE_HOME/specformer, else ~/.cache/specformer.
SPECFORMER_CACHE_DIR=off (or empty) turns the cache off. An entry that cannot be read (cut short,
written by another version) is computed again; a folder that cannot be written leaves the value
uncached. Entries are written to a temporary file and renamed, so processes that compute the
same entry at once never read half of one. Entries live in one folder per source version; the
first entry of a new version removes all but the KEEP most recent versions.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

CACHE_ENV = "SPECFORMER_CACHE_DIR"
# Source versions whose entries are kept (conformance/cache.py's _prune).
KEEP = 3
_OFF = ("", "0", "off", "none")
T = TypeVar("T")
# Modules of specformer.conformance (paths under it) that never compute a cached value: they start
# the suite processes, deal and join their work, and write the reports. An edit there keeps the
# cache (reference tokenizers' quick run: 19 s with a cold cache, 11 s warm).
RUN_AND_REPORT = ("report/", "cli.py", "runner.py", "progress.py", "sharing.py", "isolation.py")


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in _OFF else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "specformer"


@functools.cache
def source_fingerprint() -> str:
    """SHA-256 of every Python module of specformer.reference and specformer.conformance (RUN_AND_REPORT
    aside), of the spec's Markdown, and of the interpreter's and torch's versions: part of every key."""
    import specformer
    import specformer.conformance
    import specformer.reference

    digest = hashlib.sha256(sys.version.encode())
    digest.update(_version("torch").encode())  # whether or not this process has imported torch yet
    sources = [(root, "*.py") for root in (*specformer.reference.__path__, *specformer.conformance.__path__)]
    sources += [(root, "*.md") for root in specformer.__path__]  # the spec: its default variants
    conformance = {str(Path(root)) for root in specformer.conformance.__path__}
    for root, pattern in sources:
        for path in sorted(Path(root).rglob(pattern)):
            relative = path.relative_to(root).as_posix()
            if str(Path(root)) in conformance and relative.startswith(RUN_AND_REPORT):
                continue
            digest.update(relative.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return ""


def key_of(*parts: Any) -> str:
    """A key from bytes, strings, numbers and tuples of them (repr of anything else)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode("utf-8", errors="surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cached(kind: str, key: str, compute: Callable[[], T]) -> T:
    """compute(), or the value an earlier compute() with the same kind, key and source stored."""
    folder = cache_dir()
    if folder is None:
        return compute()
    path = folder / source_fingerprint()[:16] / kind / f"{key_of(kind, key, source_fingerprint())}.pickle"
    try:
        with path.open("rb") as file:
            return pickle.load(file)
    except FileNotFoundError:
        pass
    except Exception:  # cut short or unreadable: computed again and written over
        pass
    value = compute()
    _store(path, value)
    return value


def _store(path: Path, value: Any) -> None:
    try:
        generation = path.parent.parent
        if not generation.exists():
            generation.mkdir(parents=True, exist_ok=True)
            _prune(generation.parent, keep=generation)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:  # a read-only or full disk: the value is used, not kept
        pass


def _prune(folder: Path, keep: Path) -> None:
    """Remove the entries of all but the KEEP most recently written source versions (the newest
    first): each edit of the code makes a new version, and the production-size answers weigh
    about 200 MB per version; several checkouts sharing the folder keep theirs while recent."""
    import shutil

    try:
        versions = [p for p in folder.iterdir() if p.is_dir() and p != keep]
        versions.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in versions[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
