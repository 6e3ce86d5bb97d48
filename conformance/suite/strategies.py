"""Hypothesis strategies and input builders shared by the suite's test modules.

Generated tensors come from a drawn seed through a torch.Generator, so every failing example
is reproducible from the numbers the report prints (seed, shape, scale). Builders for
hand-worked inputs (`row`, `probs_row`) live here too, so tests read as their examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

# The dtypes the suite exercises, each test is run once per dtype the adapter declares.
DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class LogitsCase:
    """A batch of logits, described by how to regenerate it."""

    seed: int
    batch: int
    vocab: int
    scale: float
    removed_fraction: float  # share of tokens set to -inf before the test (a grammar mask)

    def tensor(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed)
        logits = torch.randn(self.batch, self.vocab, generator=generator, dtype=torch.float64) * self.scale
        removed = torch.rand(self.batch, self.vocab, generator=generator, dtype=torch.float64) < self.removed_fraction
        removed[:, 0] = False  # every row keeps at least one finite logit
        return logits.masked_fill(removed, -math.inf).to(dtype)

    def evidence(self) -> dict[str, object]:
        return {"inputs": repr(self)}


@st.composite
def logits_cases(draw: st.DrawFn, *, min_vocab: int = 2, max_vocab: int = 64, masked: bool = True) -> LogitsCase:
    return LogitsCase(
        seed=draw(st.integers(0, 2**31 - 1)),
        batch=draw(st.integers(1, 4)),
        vocab=draw(st.integers(min_vocab, max_vocab)),
        scale=draw(st.sampled_from([0.5, 1.0, 3.0, 10.0])),
        removed_fraction=draw(st.sampled_from([0.0, 0.0, 0.3])) if masked else 0.0,
    )


def row(*values: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A (1, V) logits tensor: row(1, 1, 1, 0)."""
    return torch.tensor([values], dtype=dtype)


def probs_row(*probabilities: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Logits whose softmax is the given distribution: probs_row(0.5, 0.3, 0.1, 0.1)."""
    return torch.log(torch.tensor([probabilities], dtype=torch.float64)).to(dtype)


def kept(logits: torch.Tensor) -> list[list[int]]:
    """Indices of the tokens not removed, per row."""
    return [torch.isfinite(r).nonzero().flatten().tolist() for r in logits]
