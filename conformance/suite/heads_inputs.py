"""Input builders shared by test_losses.py and test_heads.py.

Everything is drawn in float64 from a fixed seed (the seed is in every failure's evidence) and
handed to the adapter in float32 unless a test says otherwise; the float64 draw is the oracle's
input. Padding layouts are explicit so the tests read as their cases.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from specformer.conformance.numerics import Comparison, assert_close, fail

IGNORE = -100


def draw(generator: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale


def labels_for(
    generator: torch.Generator, rows: int, vocab: int, ignored_fraction: float = 0.0, *, keep_one: bool = True
) -> torch.Tensor:
    """(rows,) int64 labels in [0, vocab), a share of them -100 (at least one counted if keep_one)."""
    labels = torch.randint(0, vocab, (rows,), generator=generator)
    ignored = torch.rand(rows, generator=generator) < ignored_fraction
    if keep_one:
        ignored[0] = False
    return labels.masked_fill(ignored, IGNORE)


def padding_mask(lengths: list[int], length: int, side: str) -> torch.Tensor:
    """(B, L) attention mask with `lengths[b]` real tokens per row, padded on `side`.

    >>> padding_mask([2, 3], 3, "left").tolist()
    [[0, 1, 1], [1, 1, 1]]
    """
    positions = torch.arange(length)
    lengths_t = torch.tensor(lengths)[:, None]
    mask = positions < lengths_t if side == "right" else positions >= length - lengths_t
    return mask.long()


def close(actual: torch.Tensor, oracle: torch.Tensor, in_dtype: torch.Tensor, what: str) -> Comparison:
    """assert_close that first checks the adapter returned a tensor."""
    if not isinstance(actual, torch.Tensor):
        fail(f"{what}: expected a tensor, got {type(actual).__name__}")
    return assert_close(actual, oracle, in_dtype, what=what)


def expect_value_error(call: Callable[[], object], what: str, *names: str) -> None:
    """`call()` must raise ValueError whose message names one of `names`."""
    try:
        result = call()
    except ValueError as exc:
        if not any(name in str(exc) for name in names):
            fail(f"{what}: the ValueError does not name {' or '.join(names)}: {exc}")
        return
    except Exception as exc:
        fail(f"{what} raised {type(exc).__name__} ({exc}), expected a ValueError naming {' or '.join(names)}")
    shown = tuple(result.shape) if isinstance(result, torch.Tensor) and result.dim() else result
    fail(f"{what} was accepted (returned {shown}), expected a ValueError naming {' or '.join(names)}")
