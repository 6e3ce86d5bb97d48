"""Injecting the suite's randomness into a library that draws its own (docs/adapters.md, "Randomness").

The suite passes randomness in explicitly: a torch.Generator for draws, and tensors for the LSH
rotations (AttentionAdapter.lsh_attention / lsh_buckets take `rotations`). A library that draws its
rotations itself inside the call (transformers' Reformer, lucidrains' reformer-pytorch: both call
`torch.randn(shape, ...)` on every forward) is tested by making that draw return the suite's tensor:

    with injected_randn(rotations):        # rotations in the library's own layout
        output = library_lsh(query_key, value)

Within the block, a `torch.randn` call asking for exactly `rotations.shape` returns a copy of
`rotations` (in the dtype and on the device the call asks for); every other call draws as usual.
The patch is process-wide for the duration of the block: the suite calls one operation at a time
per process, and the block restores `torch.randn` even when the call raises.

`rotations_per_head` puts the suite's two layouts into the one most libraries use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from specformer.reference.lsh import per_head_rotations

__all__ = ["injected_randn", "rotations_per_head"]


@contextlib.contextmanager
def injected_randn(value: torch.Tensor) -> Iterator[None]:
    """torch.randn returns a copy of `value` when asked for its shape, within the block."""
    original = torch.randn
    wanted = tuple(value.shape)

    def randn(*size, **kwargs):
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)) else size
        if tuple(shape) == wanted and "out" not in kwargs:
            return value.clone().to(
                dtype=kwargs.get("dtype") or value.dtype, device=kwargs.get("device") or value.device
            )
        return original(*size, **kwargs)

    torch.randn = randn
    try:
        yield
    finally:
        torch.randn = original


def rotations_per_head(rotations: torch.Tensor, heads: int, dim: int) -> torch.Tensor:
    """The suite's rotations as (H, D, n_rounds, n_buckets / 2): a (D, n_buckets / 2) tensor (one round
    shared by every head) is expanded; an (H, D, n_rounds, n_buckets / 2) one is returned as is.

    >>> rotations_per_head(torch.zeros(4, 3), heads=2, dim=4).shape
    torch.Size([2, 4, 1, 3])
    """
    return per_head_rotations(rotations, heads, dim)
