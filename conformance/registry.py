"""The clause registry, parsed from the spec's Markdown files.

The spec is the source of truth: spec/FAMILY.md holds clauses in the format spec/README.md
describes, and this module turns them into `Clause` records. It also finds which tests of
the conformance suite cite each clause, by importing the suite's modules and reading the
`specformer_clause` marks, so `specformer clauses` and specformer's own tests can check
that every clause is tested and every citation names a real clause.

Deliberately strict: a malformed heading or a duplicate ID is an error naming the file and
line, never a clause silently dropped.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

# "### SAMP-TOPK-02  Ties at the k-th value": ID, two spaces, title.
CLAUSE_HEADING = re.compile(r"^### (?P<id>[A-Z][A-Z0-9]*-[A-Z][A-Z0-9]*-\d{2}) {2}(?P<title>\S.*)$")
# "- `keep-ties` (default) — who does it and what it means"
VARIANT_ITEM = re.compile(r"^- `(?P<name>[a-z0-9][a-z0-9.+-]*)`(?P<default> \(default\))?")

# Markdown files in the spec directory that hold no clauses.
NON_FAMILY_FILES = {"README.md"}


class SpecError(ValueError):
    """The spec text breaks the clause format; the message names file and line."""


@dataclass(frozen=True)
class Variant:
    name: str
    text: str
    default: bool = False


@dataclass
class Clause:
    id: str
    title: str
    family: str
    text: str
    source: str  # "sampling.md:42"
    variants: list[Variant] = field(default_factory=list)

    @property
    def default_variant(self) -> str | None:
        for variant in self.variants:
            if variant.default:
                return variant.name
        return None

    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]


def parse_family(text: str, family: str, filename: str) -> list[Clause]:
    """Parse one spec file. Every `### ` heading must be a well-formed clause heading."""
    clauses: list[Clause] = []
    current: Clause | None = None
    body: list[str] = []
    in_variants = False

    def finish() -> None:
        if current is not None:
            current.text = "\n".join(body).strip()
            if in_variants and not current.variants:
                raise SpecError(f"{current.source}: {current.id} has a 'Variants:' line but no variant items")
            defaults = [v.name for v in current.variants if v.default]
            if current.variants and len(defaults) != 1:
                raise SpecError(
                    f"{current.source}: {current.id} must mark exactly one variant '(default)', found {defaults}"
                )
            clauses.append(current)

    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("### "):
            finish()
            match = CLAUSE_HEADING.match(line)
            if match is None:
                raise SpecError(
                    f"{filename}:{number}: malformed clause heading {line!r}; expected "
                    "'### FAMILY-TOPIC-NN  Title' (two spaces before the title)"
                )
            current = Clause(match["id"], match["title"].strip(), family, "", f"{filename}:{number}")
            body, in_variants = [], False
        elif line.startswith("## ") or line.startswith("# "):
            finish()
            current, body, in_variants = None, [], False
        elif current is not None:
            body.append(line)
            if line.strip() == "Variants:":
                in_variants = True
            elif in_variants and line.startswith("- "):
                item = VARIANT_ITEM.match(line)
                if item is None:
                    raise SpecError(f"{filename}:{number}: malformed variant item {line!r}; expected '- `name` ...'")
                current.variants.append(Variant(item["name"], line[2:].strip(), bool(item["default"])))
    finish()
    return clauses


def spec_files(directory: Path | None = None) -> list[tuple[str, str, str]]:
    """(family, filename, text) for each family file, from `directory` or the installed spec."""
    if directory is not None:
        paths = sorted(p for p in Path(directory).glob("*.md") if p.name not in NON_FAMILY_FILES)
        return [(p.stem, p.name, p.read_text(encoding="utf-8")) for p in paths]
    root = resources.files("specformer")
    entries = sorted(
        (e for e in root.iterdir() if e.name.endswith(".md") and e.name not in NON_FAMILY_FILES),
        key=lambda e: e.name,
    )
    return [(e.name[:-3], e.name, e.read_text(encoding="utf-8")) for e in entries]


def load_clauses(directory: Path | None = None) -> dict[str, Clause]:
    """Every clause of the spec by ID; a duplicate ID anywhere is an error."""
    clauses: dict[str, Clause] = {}
    for family, filename, text in spec_files(directory):
        for clause in parse_family(text, family, filename):
            if clause.id in clauses:
                raise SpecError(
                    f"{clause.source}: duplicate clause ID {clause.id} (first at {clauses[clause.id].source})"
                )
            clauses[clause.id] = clause
    return clauses


@lru_cache(maxsize=1)
def registry() -> dict[str, Clause]:
    """The installed spec's clauses, parsed once per process."""
    return load_clauses()


def families() -> list[str]:
    return sorted({c.family for c in registry().values()})


def suite_modules() -> list[str]:
    """Import names of the conformance suite's test modules."""
    from specformer.conformance import suite

    return [
        f"{suite.__name__}.{info.name}"
        for info in pkgutil.iter_modules(suite.__path__)
        if info.name.startswith("test_")
    ]


def citations() -> dict[str, list[str]]:
    """Clause ID -> the suite tests ("module::function") whose marks cite it.

    IDs cited by a test but absent from the spec appear too, so a caller can report them.
    """
    cited: dict[str, list[str]] = {}
    for module_name in suite_modules():
        module = importlib.import_module(module_name)
        short = module_name.rsplit(".", 1)[-1]
        for name, obj in vars(module).items():
            if not name.startswith("test_") or not callable(obj):
                continue
            for clause_id in dict.fromkeys(cited_by(obj)):
                cited.setdefault(clause_id, []).append(f"{short}::{name}")
    return cited


def cited_by(test: object) -> list[str]:
    """The clause IDs a test function cites: its own marks, and those of its parametrized cases
    (the generic tests cite each operation's clauses per case)."""
    ids: list[str] = []
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "specformer_clause":
            ids += mark.args
        elif mark.name == "parametrize":
            for case in mark.args[1] if len(mark.args) > 1 else mark.kwargs.get("argvalues", []):
                ids += [i for m in getattr(case, "marks", ()) if m.name == "specformer_clause" for i in m.args]
    return ids
