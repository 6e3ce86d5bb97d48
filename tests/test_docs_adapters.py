"""docs/adapters.md is tested for what it shows: every operation and optional parameter is
documented, every `specformer` command it shows parses with the real CLI (and the cheap ones run),
every Python block compiles and its specformer imports exist, every file it names exists."""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from pathlib import Path

import pytest

from specformer.conformance.adapters.protocols import FAMILY_OPERATIONS, OPTIONAL_PARAMETERS
from specformer.conformance.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adapters.md"
TEXT = DOC.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, flags=re.DOTALL)


def specformer_commands() -> list[list[str]]:
    """Each `specformer ...` command in the sh blocks, without environment prefixes and comments."""
    commands = []
    for block in blocks("sh"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0]:
                words = words[1:]  # PYTHONPATH=... prefixes
            if words[:1] == ["specformer"]:
                commands.append(words[1:])
    return commands


def test_every_operation_and_optional_parameter_is_documented() -> None:
    for family, operations in FAMILY_OPERATIONS.items():
        assert f"### {family}" in TEXT, family
        for operation in operations:
            assert re.search(rf"def {operation}\(", TEXT), f"{family}.{operation} is not in docs/adapters.md"
    for operation, parameters in OPTIONAL_PARAMETERS.items():
        row = f"| `{operation}` | {', '.join(f'`{p}`' for p in parameters)} |"
        assert row in TEXT, row


def test_the_shown_commands_parse_with_the_real_cli() -> None:
    commands = specformer_commands()
    assert {c[0] for c in commands} >= {"new-adapter", "run", "clauses", "compare"}
    parser = build_parser()
    for command in commands:
        parser.parse_args(command)  # SystemExit on an unknown command or option


def test_the_cheap_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (new_adapter,) = [c for c in specformer_commands() if c[0] == "new-adapter"]
    assert main(new_adapter) == 0
    out = Path(new_adapter[new_adapter.index("--out") + 1])
    assert out.is_file() and "class MyAdapter" in out.read_text()
    (clauses,) = [c for c in specformer_commands() if c[0] == "clauses"]
    assert main(clauses) == 0
    assert "needs (operation(optional parameters) per test" in capsys.readouterr().out


def test_python_blocks_compile_and_their_imports_exist() -> None:
    for block in blocks("python"):
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("specformer"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), (
                        f"{node.module}.{alias.name}"
                    )


def test_the_files_it_names_exist() -> None:
    for name in set(re.findall(r"`((?:examples|tests|spec|docs)/[\w./-]+\.(?:py|md|toml))`", TEXT)):
        assert (ROOT / name).exists(), name
