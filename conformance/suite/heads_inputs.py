"""Input builders shared by test_losses.py and test_heads.py.

Everything is drawn in float64 from a fixed seed (the seed is in every failure's evidence) and
handed to the adapter in float32 unless a test says otherwise; the float64 draw is the oracle's
input. Padding layouts are explicit so the tests read as their cases.

Losses are scalars of magnitude ~log V (10 to 12 for real vocabularies), where float32's absolute
floor (1e-6) is about one unit in the last place: a correctly rounded float32 loss of 11 can be
4.8e-7 off, and a reference run that happens to round well makes "2 x its error" smaller than
one ulp. `close` therefore counts the reference's error in the adapter's dtype as at least the
error of the oracle rounded to that dtype and moved by one ulp, so the tolerance is never below
about two ulps of the value compared (the numerical policy's rule with the rounding of the
output included).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from specformer.conformance.numerics import Comparison, assert_close, fail
from specformer.conformance.suite import checks

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


def with_output_rounding(oracle: torch.Tensor, in_dtype: torch.Tensor) -> torch.Tensor:
    """in_dtype, where its error is below one ulp of the oracle in that dtype replaced by the
    oracle rounded and moved one ulp up (see the module docstring); non-finite oracle values kept."""
    rounded = oracle.to(in_dtype.dtype)
    bumped = torch.nextafter(rounded, torch.full_like(rounded, float("inf")))
    worse = (bumped.double() - oracle.double()).abs() > (in_dtype.double() - oracle.double()).abs()
    return torch.where(worse & torch.isfinite(oracle), bumped, in_dtype)


def close(actual: torch.Tensor, oracle: torch.Tensor, in_dtype: torch.Tensor, what: str) -> Comparison:
    """assert_close (with the output's rounding counted) after checking the adapter returned a tensor."""
    if not isinstance(actual, torch.Tensor):
        fail(f"{what}: expected a tensor, got {type(actual).__name__}")
    return assert_close(actual, oracle, with_output_rounding(oracle, in_dtype), what=what)


def expect_value_error(call: Callable[[], object], what: str, *names: str) -> None:
    """`call()` must raise ValueError whose message names one of `names`."""
    checks.expect_value_error(call, *names, what=what, any_of=True)
