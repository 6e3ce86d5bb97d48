"""Which benchmark rows a family has finished, for the progress display of `specformer run`/`bench`.

A benchmark function builds its rows in a loop and returns them all at once; the worker process
(worker.py) wants to say, while the family runs, how far it got. Each row's constructor (the
harness's `roofline.measured_result`, and the generation and tokenizer rows built without it)
calls `row_done(result)`; the worker wraps each family in `observing(callback)` and writes one
"row" event per call to its stream. Outside `observing` (the suite, a user's script, pytest) a
`row_done` does nothing.

The observer lives in a context variable, not a module global, so a thread or task that did not
ask for it never sees it. It leaves out what is timing now: a row is known when it is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_observer: ContextVar[Callable[[Any], None] | None] = ContextVar("specformer_benchmark_observer", default=None)


@contextmanager
def observing(callback: Callable[[Any], None]) -> Iterator[None]:
    """Call `callback(result)` for each benchmark row finished inside the block.

    >>> seen = []
    >>> with observing(seen.append):
    ...     _ = row_done("a row")
    >>> _ = row_done("outside")
    >>> seen
    ['a row']
    """
    token = _observer.set(callback)
    try:
        yield
    finally:
        _observer.reset(token)


def row_done(result: Any) -> Any:
    """Tell the observer (if any) that `result` (a BenchmarkResult) is finished; return it unchanged."""
    callback = _observer.get()
    if callback is not None:
        callback(result)
    return result
