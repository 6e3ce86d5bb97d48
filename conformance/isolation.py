"""Loading a third-party adapter where a crash in its import or constructor cannot take specformer down.

The parent process of `specformer run` and `specformer bench` loads each adapter once, to read
its declaration and report a loading error as one line (exit 2) before anything runs. An
ordinary exception there is caught (adapters.load_adapter), SystemExit too; but a segfault, an
os._exit, a KeyboardInterrupt raised by the adapter or a hang would end or freeze specformer
itself. So a third-party adapter (module:attribute or entry point) is first loaded in a forked
child, under a deadline (--timeout): only when that child loads it, or fails with an ordinary
exception the parent can report itself, does the parent load it too.

fork, not a new interpreter: the child starts with everything the parent imported (torch, the
registry), so the probe costs the adapter's own import and constructor, no more. The built-in
adapters are specformer's own code and are loaded directly (their libraries' import is the
costly part, and would be paid twice); so is any adapter where fork is missing (Windows).
"""

from __future__ import annotations

import faulthandler
import os
import select
import signal
import sys
import time

from specformer.conformance.adapters import BUILTIN, AdapterLoadError, LoadedAdapter, load_adapter

# What the child writes when the parent may load the adapter itself.
_SAFE = "safe"


def load_isolated(spec: str, timeout_s: float) -> LoadedAdapter:
    """load_adapter(spec), after a forked child has shown that loading it does not end or hang the process."""
    if spec not in BUILTIN and hasattr(os, "fork"):
        problem = probe_load(spec, timeout_s)
        if problem is not None:
            raise AdapterLoadError(f"adapter {spec!r}: {problem}")
    return load_adapter(spec)


def probe_load(spec: str, timeout_s: float) -> str | None:
    """None when loading `spec` in a forked child ended as Python code ends (loaded, or raised an
    Exception or SystemExit, which load_adapter reports); else what it did to the process."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # else the child's exit could write the parent's buffered output twice
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(spec, write_end)
    os.close(write_end)
    reaped = False
    try:
        message, finished = _read_until(read_end, time.monotonic() + timeout_s)
        if not finished:
            _kill(pid)
            os.waitpid(pid, 0)
            reaped = True
            return f"loading it did not finish within {timeout_s:g} s (--timeout): a hang in its import or constructor"
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        os.close(read_end)
        if not reaped:  # interrupted while waiting (Ctrl-C): the child goes too
            _kill(pid)
            os.waitpid(pid, 0)
    if message == _SAFE:
        return None
    if message:
        return message
    if os.WIFSIGNALED(status):
        name = _signal_name(os.WTERMSIG(status))
        return f"loading it crashed the process ({name}) in its import or constructor"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return f"loading it ended the process (exit code {code}, as os._exit does) in its import or constructor"


def _child(spec: str, write_end: int) -> None:
    """Load the adapter and say how it went; output goes nowhere; the process ends here, always."""
    try:
        faulthandler.disable()  # a crash here is the finding, reported by the parent, not a traceback
        os.setsid()  # its own process group, deaf to the terminal's Ctrl-C; killed as one
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            load_adapter(spec)
            message = _SAFE
        except Exception:  # an ordinary loading error: the parent meets it again and reports it
            message = _SAFE
        except BaseException as exc:  # KeyboardInterrupt, GeneratorExit...: would end the parent
            arguments = ", ".join(repr(a) for a in exc.args)
            message = f"loading it raised {type(exc).__name__}({arguments}) in its import or constructor"
        os.write(write_end, (message + "\n").encode("utf-8", errors="replace"))
    finally:
        os._exit(0)


def _read_until(fd: int, deadline: float) -> tuple[str, bool]:
    """The child's one line (or "" if it died first), and whether it ended before the deadline."""
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "", False
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # the child is gone without a word
            data += chunk
    return data.decode("utf-8", errors="replace").strip(), True


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
