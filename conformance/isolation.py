"""Loading adapters where a crash in an import or constructor cannot take specformer down.

The parent process of `specformer run` and `specformer bench` loads each adapter once, to read
its declaration and report a loading error as one line (exit 2) before anything runs. An
ordinary exception there is caught (adapters.load_adapter), SystemExit too; but a segfault, an
os._exit, a KeyboardInterrupt raised by the adapter or a hang would end or freeze specformer
itself. So every adapter, built-in ones too (the transformers import can crash as well as any
third-party module), is first loaded in a forked child, under a deadline (--timeout) per adapter:
only when that child loads it, or fails with an ordinary exception the parent can report itself,
does the parent load it too.

fork, not a new interpreter: the child starts with everything the parent imported (torch, the
registry), so the probe costs the adapters' own imports and constructors, no more; and one
child probes all the adapters of a run in turn (`probe_loads`), so their libraries are imported
twice per run (about a second of CPU for all the built-ins), not once per adapter more. Where
fork is missing (Windows) the adapters are loaded directly.
"""

from __future__ import annotations

import faulthandler
import os
import select
import signal
import sys
import time
from collections.abc import Callable

from specformer.conformance.adapters import AdapterLoadError, LoadedAdapter, load_adapter

# What the child writes when the parent may load the adapter itself.
_SAFE = "safe"


def load_isolated(spec: str, timeout_s: float) -> LoadedAdapter:
    """load_adapter(spec), after a forked child has shown that loading it does not end or hang the process."""
    problem = probe_loads([spec], timeout_s)[spec]
    if problem is not None:
        raise AdapterLoadError(f"adapter {spec!r}: {problem}")
    return load_adapter(spec)


def probe_load(spec: str, timeout_s: float) -> str | None:
    """None when loading `spec` in a forked child ended as Python code ends (loaded, or raised an
    Exception or SystemExit, which load_adapter reports); else what it did to the process."""
    return probe_loads([spec], timeout_s)[spec]


def probe_loads(
    specs: list[str], timeout_s: float, on_safe: Callable[[str], None] | None = None
) -> dict[str, str | None]:
    """probe_load for each spec, in one forked child that loads them in turn (each within timeout_s);
    after an adapter that ends or hangs the child, a new child goes on with the next one.

    on_safe(spec) is called as soon as the child has loaded `spec`, while it goes on with the next:
    the parent's own loading of the adapters probed so far overlaps the probe of the rest."""
    problems: dict[str, str | None] = dict.fromkeys(specs)
    if not hasattr(os, "fork"):
        return problems
    remaining = list(dict.fromkeys(specs))
    while remaining:
        answered, culprit, problem = _probe_in_child(remaining, timeout_s, on_safe)
        if culprit is None:
            break
        problems[culprit] = problem
        remaining = remaining[answered + 1 :]
    return problems


def _probe_in_child(
    specs: list[str], timeout_s: float, on_safe: Callable[[str], None] | None = None
) -> tuple[int, str | None, str | None]:
    """(how many specs the child answered for, the spec it failed at, what happened) — (n, None, None)
    when it answered for all; a BaseException such as KeyboardInterrupt is answered, and the child stops there."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # else the child's exit could write the parent's buffered output twice
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(specs, write_end)
    os.close(write_end)
    reaped = False
    answered = 0
    try:
        reader = _LineReader(read_end)
        while answered < len(specs):
            message, finished = reader.line(time.monotonic() + timeout_s)
            if not finished:
                _kill(pid)
                os.waitpid(pid, 0)
                reaped = True
                problem = (
                    f"loading it did not finish within {timeout_s:g} s (--timeout): a hang in its import or constructor"
                )
                return answered, specs[answered], problem
            if message != _SAFE:
                break  # a message (the child stopped there) or "" (the child died)
            answered += 1
            if on_safe is not None:
                on_safe(specs[answered - 1])
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        os.close(read_end)
        if not reaped:  # interrupted while waiting (Ctrl-C): the child goes too
            _kill(pid)
            os.waitpid(pid, 0)
    if answered == len(specs):
        return answered, None, None
    if message:
        return answered, specs[answered], message
    if os.WIFSIGNALED(status):
        name = _signal_name(os.WTERMSIG(status))
        return answered, specs[answered], f"loading it crashed the process ({name}) in its import or constructor"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    problem = f"loading it ended the process (exit code {code}, as os._exit does) in its import or constructor"
    return answered, specs[answered], problem


def _child(specs: list[str], write_end: int) -> None:
    """Load each adapter and say how it went, one line each; output goes nowhere; the process ends here, always."""
    try:
        faulthandler.disable()  # a crash here is the finding, reported by the parent, not a traceback
        os.setsid()  # its own process group, deaf to the terminal's Ctrl-C; killed as one
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        for spec in specs:
            try:
                load_adapter(spec)
                message = _SAFE
            except Exception:  # an ordinary loading error: the parent meets it again and reports it
                message = _SAFE
            except BaseException as exc:  # KeyboardInterrupt, GeneratorExit...: would end the parent
                arguments = ", ".join(repr(a) for a in exc.args)
                message = f"loading it raised {type(exc).__name__}({arguments}) in its import or constructor"
            os.write(write_end, (message + "\n").encode("utf-8", errors="replace"))
            if message != _SAFE:
                break
    finally:
        os._exit(0)


class _LineReader:
    """The child's lines, one at a time, each by a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd, self.data, self.closed = fd, b"", False

    def line(self, deadline: float) -> tuple[str, bool]:
        """The next line (or "" if the child died first), and whether it came before the deadline."""
        while b"\n" not in self.data and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "", False
            ready, _, _ = select.select([self.fd], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(self.fd, 65536)
                self.closed = not chunk  # the child is gone without a word
                self.data += chunk
        line, _, self.data = self.data.partition(b"\n")
        return line.decode("utf-8", errors="replace").strip(), True


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
