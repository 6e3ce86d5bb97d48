"""Which benchmark is timing now and which rows a family has finished, for `specformer run`/`bench`'s progress.

A benchmark function builds its rows in a loop and returns them all at once; the worker process
(worker.py) wants to say, while the family runs, what it is timing and how far it got. Before it
times a benchmark, the function calls `starting(name, params)`; each row's constructor (the
harness's `roofline.measured_result`, and the generation and tokenizer rows built without it)
calls `row_done(result)`. The worker wraps each family in `observing(on_row, on_start)` and
writes one "timing" event per start and one "row" event per row to its stream. Outside
`observing` (the suite, a user's script, pytest) both do nothing.

The observers live in a context variable, not a module global, so a thread or task that did not
ask for them never sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_Observers = tuple[Callable[[Any], None], Callable[[str, dict[str, Any]], None] | None]
_observer: ContextVar[_Observers | None] = ContextVar("specformer_benchmark_observer", default=None)


@contextmanager
def observing(
    callback: Callable[[Any], None], on_start: Callable[[str, dict[str, Any]], None] | None = None
) -> Iterator[None]:
    """Call `callback(result)` for each benchmark row finished inside the block, and
    `on_start(name, params)` as each benchmark starts timing.

    >>> seen = []
    >>> with observing(seen.append, lambda name, params: seen.append(f"timing {name}")):
    ...     starting("sampling.top_k", {"vocab": 8})
    ...     _ = row_done("a row")
    >>> _ = row_done("outside")
    >>> seen
    ['timing sampling.top_k', 'a row']
    """
    token = _observer.set((callback, on_start))
    try:
        yield
    finally:
        _observer.reset(token)


def row_done(result: Any) -> Any:
    """Tell the observer (if any) that `result` (a BenchmarkResult) is finished; return it unchanged."""
    observers = _observer.get()
    if observers is not None:
        observers[0](result)
    return result


def starting(name: str, params: dict[str, Any] | None = None) -> None:
    """Tell the observer (if any) that the benchmark `name` (with `params`) starts timing now."""
    observers = _observer.get()
    if observers is not None and observers[1] is not None:
        observers[1](name, dict(params or {}))
