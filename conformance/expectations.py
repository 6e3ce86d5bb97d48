"""Expectations files: an adapter's documented deviations from the spec.

Format (TOML), one table per deviation:

    [[deviation]]
    clause = "SAMP-TOPP-03"
    tests = ["test_sampling.py::test_top_p_one_is_identity[*]"]   # the failing tests it covers
    message = "top_p=1.0 with underflowing probabilities"           # a regex its failure message matches
    reason = "TopPLogitsWarper(1.0) removes tokens whose probability underflows to 0"
    link = "https://github.com/huggingface/transformers/..."      # optional

A deviation covers a failing (or erroring) test of its clause only when the test matches one
of `tests` and its message matches `message`; any other failure of the same clause is still a
failure, so a documented bug cannot hide a new one. `tests` are patterns over the test's id
without its directory, "file.py::name[params]", where `*` stands for any run of characters
(brackets are literal); a pattern without "::" is matched against "name[params]". `message`
is searched (re.search) in the failure message; absent, any message matches.

A test that the entry covers and that now passes makes the entry stale: the report flags
it so the entry can be removed.

An entry without `tests` (the format before scoping) still loads and covers every failure
of its clause; the built-in files all name their tests, and specformer's own tests hold
them to it. A malformed file is an error naming the file and line; so is a clause ID the
spec does not have, a clause listed twice, or a `message` that is not a regular expression.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from specformer.conformance.results import Expectation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_KEYS = ("clause", "tests", "message", "reason", "link")


class ExpectationsError(ValueError):
    """A malformed expectations file; the message names the file and line."""


def load_expectations(path: Path) -> dict[str, Expectation]:
    """Clause ID -> Expectation. A missing file means no documented deviations."""
    from specformer.conformance.registry import registry

    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a folder, unreadable, not UTF-8
        raise ExpectationsError(f"expectations file {path}: cannot be read: {type(exc).__name__}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExpectationsError(f"{path}: {exc}") from exc
    unknown_keys = sorted(set(data) - {"deviation"})
    if unknown_keys:
        raise ExpectationsError(f"{path}: unknown top-level keys {unknown_keys}; expected [[deviation]] tables")
    lines = _table_lines(text)
    known = registry()
    expectations: dict[str, Expectation] = {}
    for index, entry in enumerate(data.get("deviation", [])):
        where = f"{path}:{lines[index] if index < len(lines) else '?'}"
        extra = sorted(set(entry) - set(_KEYS))
        if extra:
            raise ExpectationsError(f"{where}: unknown keys {extra}; accepted: {', '.join(_KEYS)}")
        clause, reason = entry.get("clause"), entry.get("reason")
        if not isinstance(clause, str) or not isinstance(reason, str) or not reason.strip():
            raise ExpectationsError(f"{where}: each [[deviation]] needs a string `clause` and a non-empty `reason`")
        if clause not in known:
            raise ExpectationsError(f"{where}: unknown clause {clause!r}")
        if clause in expectations:
            raise ExpectationsError(f"{where}: clause {clause} is listed twice")
        tests, message = entry.get("tests", []), entry.get("message", "")
        if not isinstance(tests, list) or not all(isinstance(t, str) and t.strip() for t in tests):
            raise ExpectationsError(f"{where}: `tests` must be a list of non-empty test-id patterns")
        if not isinstance(message, str):
            raise ExpectationsError(f"{where}: `message` must be a string (a regular expression)")
        try:
            re.compile(message)
        except re.error as exc:
            raise ExpectationsError(f"{where}: `message` is not a regular expression: {exc}") from exc
        expectations[clause] = Expectation(
            clause=clause, reason=reason.strip(), link=str(entry.get("link", "")), tests=list(tests), message=message
        )
    return expectations


def short_nodeid(nodeid: str) -> str:
    """A pytest node id without its directory: 'dir/test_x.py::test_y[a-b]' -> 'test_x.py::test_y[a-b]'."""
    path, sep, rest = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}{sep}{rest}"


def names_test(expectation: Expectation, nodeid: str) -> bool:
    """Whether the entry is about this test (every test, for an entry without `tests`).

    >>> e = Expectation("X-Y-01", "r", tests=["test_s.py::test_a[*-0.0]", "test_b"])
    >>> names_test(e, "conformance/suite/test_s.py::test_a[hf-0.0]"), names_test(e, "test_s.py::test_a[hf-1.0]")
    (True, False)
    >>> names_test(e, "test_s.py::test_b"), names_test(e, "test_s.py::test_b[hf]")
    (True, False)
    """
    if not expectation.tests:
        return True
    key = short_nodeid(nodeid)
    name = key.partition("::")[2]
    return any(_glob(p).fullmatch(key if "::" in p else name) for p in expectation.tests)


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` matches any run of characters; everything else, brackets included, is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def covers(expectation: Expectation, nodeid: str, message: str) -> bool:
    """Whether the entry documents this failure: its test is named and its message matches."""
    return names_test(expectation, nodeid) and re.search(expectation.message, message) is not None


def _table_lines(text: str) -> list[int]:
    """Line numbers of each `[[deviation]]` header, to point errors at the right entry."""
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[deviation]]"]
