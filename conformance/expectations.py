"""Expectations files: an adapter's documented deviations from the spec.

Format (TOML), one table per deviation:

    [[deviation]]
    clause = "SAMP-TOPP-03"
    reason = "TopPLogitsWarper(1.0) removes tokens whose probability underflows to 0"
    link = "https://github.com/huggingface/transformers/..."   # optional

A listed clause whose tests fail is reported "deviates (documented)"; a listed clause that
now passes is flagged so the entry can be removed. A malformed file is an error naming the
file and line; so is a clause ID the spec does not have.
"""

from __future__ import annotations

import sys
from pathlib import Path

from specformer.conformance.results import Expectation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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
        extra = sorted(set(entry) - {"clause", "reason", "link"})
        if extra:
            raise ExpectationsError(f"{where}: unknown keys {extra}; accepted: clause, reason, link")
        clause, reason = entry.get("clause"), entry.get("reason")
        if not isinstance(clause, str) or not isinstance(reason, str) or not reason.strip():
            raise ExpectationsError(f"{where}: each [[deviation]] needs a string `clause` and a non-empty `reason`")
        if clause not in known:
            raise ExpectationsError(f"{where}: unknown clause {clause!r}")
        if clause in expectations:
            raise ExpectationsError(f"{where}: clause {clause} is listed twice")
        expectations[clause] = Expectation(clause=clause, reason=reason.strip(), link=str(entry.get("link", "")))
    return expectations


def _table_lines(text: str) -> list[int]:
    """Line numbers of each `[[deviation]]` header, to point errors at the right entry."""
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[deviation]]"]
