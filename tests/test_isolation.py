"""An adapter that crashes, exits, interrupts or hangs in its import or constructor is one line and exit 2.

specformer loads every adapter (built-in ones too) in a forked child first (conformance/isolation.py), so the
parent survives what the adapter does to its process. In-process (cli.main), nothing else runs:
run_suite is replaced by a function that fails the test if reached (conftest.py's main_in_process).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from specformer.conformance.isolation import probe_load

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("named", "problem"),
    [
        ("segfault_at_import:anything", "loading it crashed the process (SIGSEGV) in its import or constructor"),
        ("hostile_adapters:SegfaultInConstructor", "loading it crashed the process (SIGSEGV)"),
        ("hostile_adapters:OsExitInConstructor", "loading it ended the process (exit code 0, as os._exit does)"),
        ("hostile_adapters:KeyboardInterruptInConstructor", "loading it raised KeyboardInterrupt()"),
        ("hostile_adapters:HangInConstructor", "loading it did not finish within 1 s (--timeout)"),
    ],
)
@pytest.mark.parametrize("command", ["run", "bench"])
def test_a_crash_or_hang_while_loading_is_exit_2_with_one_line_naming_the_adapter(
    main_in_process, named: str, problem: str, command: str
) -> None:
    code, err = main_in_process(command, "--adapter", "reference", "--adapter", named, "--timeout", "1")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"specformer: error: adapter {named!r}: ") and problem in err[0], err


def test_an_adapter_that_loads_or_fails_plainly_is_left_to_the_parent() -> None:
    import sys

    sys.path.insert(0, str(FIXTURES))
    try:
        assert probe_load("hostile_adapters:Hostile", 60) is None  # loads
        assert probe_load("exit_at_import:anything", 60) is None  # SystemExit: load_adapter reports it
        assert probe_load("no_such_module:Adapter", 60) is None
    finally:
        sys.path.remove(str(FIXTURES))


def test_the_probe_leaves_no_child_behind() -> None:
    import sys

    sys.path.insert(0, str(FIXTURES))
    try:
        assert "did not finish" in (probe_load("hostile_adapters:HangInConstructor", 0.5) or "")
    finally:
        sys.path.remove(str(FIXTURES))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


HOSTILE_TEXT = "[/yellow][bold]markup[/bold] \x1b[31mred\x1b[0m \x1b]0;pwned\x07"


def test_verbose_output_of_a_child_reaches_the_terminal_neutralised(capsys: pytest.CaptureFixture[str]) -> None:
    """--verbose relays the suite process's output (pytest's, and whatever an adapter prints or warns)."""
    import sys

    from specformer.conformance.runner import Children

    children = Children()
    command = [sys.executable, "-c", f"import sys; print({HOSTILE_TEXT!r}); print('err', file=sys.stderr)"]
    process = children.start(command, log=None)
    process.wait()
    children.finished(process)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "[/yellow][bold]markup[/bold] \\x1b[31mred\\x1b[0m \\x1b]0;pwned\\x07\n" in out and "err\n" in out


def test_the_verbose_traceback_of_a_load_error_is_neutralised(main_in_process, capsys) -> None:
    from specformer.conformance.cli import main

    code = main(["run", "--verbose", "--adapter", "hostile_adapters:EscapesInConstructor"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err, err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;pwned\\x07" in err


def test_one_child_probes_every_adapter_and_goes_on_past_one_that_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from specformer.conformance.isolation import probe_loads

    monkeypatch.syspath_prepend(str(FIXTURES))
    specs = ["reference", "hostile_adapters:OsExitInConstructor", "segfault_at_import:anything", "tiktoken"]
    problems = probe_loads(specs, 60)
    assert problems["reference"] is None and problems["tiktoken"] is None
    assert "ended the process (exit code 0" in (problems["hostile_adapters:OsExitInConstructor"] or "")
    assert "crashed the process (SIGSEGV)" in (problems["segfault_at_import:anything"] or "")


def test_a_builtin_adapter_whose_library_crashes_while_loading_is_one_row_and_the_others_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash inside a built-in adapter's import (say, of transformers) no longer takes the parent down."""
    from specformer.conformance import runner
    from specformer.conformance.adapters import BUILTIN

    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.setitem(BUILTIN, "hf", "segfault_at_import:anything")  # stands for a crash in the transformers import
    loaded, failed = runner.load_available(["reference", "hf", "tiktoken"], 60)
    assert [a.spec for a in loaded] == ["reference", "tiktoken"]
    ((name, error),) = [(row.name, row.load_error) for row in failed]
    assert name == "hf" and "loading it crashed the process (SIGSEGV) in its import or constructor" in error


def test_a_builtin_adapter_named_on_the_command_line_that_crashes_while_loading_is_exit_2(
    main_in_process, monkeypatch: pytest.MonkeyPatch
) -> None:
    from specformer.conformance.adapters import BUILTIN

    monkeypatch.setitem(BUILTIN, "hf", "segfault_at_import:anything")
    code, err = main_in_process("run", "--adapter", "hf", "--family", "sampling")
    assert code == 2 and err == [
        "specformer: error: adapter 'hf': loading it crashed the process (SIGSEGV) in its import or constructor"
    ], err
