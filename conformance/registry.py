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
import json
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


@dataclass(frozen=True)
class Example:
    """One worked example of a clause, from a fenced `examples` block: a JSON object per line,
    which the family's tests run against every adapter (spec/README.md, "Worked examples")."""

    clause: str
    source: str  # "sampling.md:175"
    data: dict


@dataclass
class Clause:
    id: str
    title: str
    family: str
    text: str
    source: str  # "sampling.md:42"
    variants: list[Variant] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)

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
    in_examples = False

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
        if in_examples:
            body.append(line)
            if line.strip() == "```":
                in_examples = False
            elif line.strip():
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SpecError(f"{filename}:{number}: an example must be one JSON object per line: {exc}") from exc
                if not isinstance(data, dict):
                    raise SpecError(f"{filename}:{number}: an example must be a JSON object, got {line!r}")
                assert current is not None
                current.examples.append(Example(current.id, f"{filename}:{number}", data))
            continue
        if line.strip() == "```examples":
            if current is None:
                raise SpecError(f"{filename}:{number}: an examples block outside a clause")
            body.append(line)
            in_examples = True
            continue
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
    if in_examples:
        raise SpecError(f"{filename}: an examples block is not closed with ```")
    finish()
    return clauses


def examples(clause_id: str) -> list[Example]:
    """The worked examples of a clause of the installed spec."""
    return registry()[clause_id].examples


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


# ---------------------------------------------------------------------------------------
# Clause IDs written in prose and code, and the links the registry follows from a clause


# An ID, optionally followed by a range ("TOK-PAD-01..04") or shorthand siblings ("TOK-OFF-01, -03").
CLAUSE_MENTION = re.compile(
    r"\b(?P<stem>[A-Z][A-Z0-9]*-[A-Z][A-Z0-9]*)-(?P<number>\d{2})(?P<more>(?:\.\.\d{2}|, -\d{2})*)"
)
# A reference function's declaration in its docstring: "Clauses: SAMP-TOPP-01, SAMP-TOPP-02.", one
# line, continued on indented lines that start with an ID when it is long.
CLAUSES_LINE = re.compile(r"^\s*Clauses: (?P<ids>[^\n]+(?:\n[ \t]+[A-Z][A-Z0-9]*-[^\n]*)*)", re.MULTILINE)


def mentioned_ids(text: str) -> list[tuple[int, str]]:
    """(line number, clause ID) for every clause-ID-shaped string in `text`, ranges expanded.

    >>> mentioned_ids("see SAMP-TOPK-01..03 and\\nTOK-OFF-01, -03")
    [(1, 'SAMP-TOPK-01'), (1, 'SAMP-TOPK-02'), (1, 'SAMP-TOPK-03'), (2, 'TOK-OFF-01'), (2, 'TOK-OFF-03')]
    """
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in CLAUSE_MENTION.finditer(line):
            stem, first = match["stem"], int(match["number"])
            numbers = [first]
            for part in re.findall(r"\.\.\d{2}|, -\d{2}", match["more"]):
                if part.startswith(".."):
                    numbers += range(numbers[-1] + 1, int(part[2:]) + 1)
                else:
                    numbers.append(int(part[3:]))
            found += [(number, f"{stem}-{n:02d}") for n in numbers]
    return found


def declared_clauses(docstring: str | None) -> list[str]:
    """The IDs on the `Clauses:` line of a reference symbol's docstring (spec/README.md)."""
    match = CLAUSES_LINE.search(docstring or "")
    return [clause_id for _, clause_id in mentioned_ids(match["ids"])] if match else []


def reference_declarations() -> dict[str, list[str]]:
    """Reference symbol ("specformer.reference.sampling.top_p_filter") -> the clauses it declares."""
    import inspect

    from specformer import reference

    declared: dict[str, list[str]] = {}
    for info in pkgutil.walk_packages(reference.__path__, f"{reference.__name__}."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                ids = declared_clauses(obj.__doc__)
                if ids:
                    declared[f"{module.__name__}.{name}"] = ids
    return declared


def reference_symbols() -> dict[str, list[str]]:
    """Clause ID -> the reference symbols that declare they implement it."""
    by_clause: dict[str, list[str]] = {}
    for symbol, ids in reference_declarations().items():
        for clause_id in ids:
            by_clause.setdefault(clause_id, []).append(symbol)
    return by_clause


def breaking_mutants() -> dict[str, list[str]]:
    """Clause ID -> the mutants ("module:Class") whose `breaks` names it."""
    from specformer.conformance import mutants

    broken: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(mutants.__path__):
        module = importlib.import_module(f"{mutants.__name__}.{info.name}")
        for mutant in getattr(module, "ALL", ()):
            for clause_id in mutant.breaks:
                broken.setdefault(clause_id, []).append(f"{module.__name__}:{mutant.__name__}")
    return broken


def spec_anchor(clause: Clause) -> str:
    """The relative link to a clause's heading, as GitHub renders spec/FAMILY.md's anchors.

    >>> spec_anchor(Clause("SAMP-TOPP-01", "Nucleus: keep the smallest set", "sampling", "", "sampling.md:10"))
    'spec/sampling.md#samp-topp-01--nucleus-keep-the-smallest-set'
    """
    heading = f"{clause.id}  {clause.title}".lower()
    slug = re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")
    return f"spec/{clause.source.split(':')[0]}#{slug}"
