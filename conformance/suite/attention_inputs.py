"""Inputs and shared checks of the attention suite (test_attention*.py): the drawn case, the
working dtype, the comparison with the reference under the adapter's declared variants."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from specformer.conformance.numerics import annotate, assert_close, fail
from specformer.conformance.plugin import require
from specformer.conformance.suite.strategies import DTYPES
from specformer.reference import attention as ref

DTYPE_IDS = [str(d).removeprefix("torch.") for d in DTYPES]


@dataclass(frozen=True)
class AttentionCase:
    """Query, key and value shapes, and the seed that fills them."""

    seed: int
    batch: int
    heads: int
    kv_heads: int
    length: int
    keys: int
    dim: int
    value_dim: int

    def tensors(self, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed)

        def draw(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)

        return (
            draw(self.batch, self.heads, self.length, self.dim),
            draw(self.batch, self.kv_heads, self.keys, self.dim),
            draw(self.batch, self.kv_heads, self.keys, self.value_dim),
        )

    def mask(self, *, keep: float = 0.6) -> torch.Tensor:
        """A boolean mask (B, 1, L, S) with at least one allowed key per query."""
        generator = torch.Generator().manual_seed(self.seed + 1)
        allowed = torch.rand(self.batch, 1, self.length, self.keys, generator=generator) < keep
        allowed[..., 0] = True
        return allowed


@st.composite
def attention_cases(draw: st.DrawFn, *, grouped: bool = False) -> AttentionCase:
    kv_heads = draw(st.integers(1, 2))
    heads = kv_heads * (draw(st.integers(1, 3)) if grouped else 1)
    return AttentionCase(
        seed=draw(st.integers(0, 2**31 - 1)),
        batch=draw(st.integers(1, 2)),
        heads=heads,
        kv_heads=kv_heads,
        length=draw(st.integers(1, 9)),
        keys=draw(st.integers(1, 9)),
        dim=draw(st.sampled_from([1, 4, 8, 16])),
        value_dim=draw(st.sampled_from([1, 3, 8])),
    )


def working_dtype(adapter) -> torch.dtype:
    """float32 where the adapter declares it (the dtype models run attention in), else its first
    declared dtype. ATTN-SDPA-01 is checked in every declared dtype."""
    dtypes = adapter.capabilities.dtypes
    return torch.float32 if torch.float32 in dtypes else dtypes[0]


def reference(adapter, *tensors: torch.Tensor, **kwargs: object) -> torch.Tensor:
    """The reference with the adapter's declared variants."""
    return ref.scaled_dot_product_attention(
        *tensors,
        causal_alignment=adapter.variant("ATTN-CAUSAL-02"),
        empty_rows=adapter.variant("ATTN-PAD-02"),
        **kwargs,
    )


def check_against_reference(adapter, case: AttentionCase, dtype: torch.dtype, what: str, **kwargs: object) -> None:
    """The adapter's attention on `case` against the reference; the caller requires the optional
    parameters (causal, mask, scale) it passes in `kwargs`."""
    op = require(adapter, "attention")
    unrequired = [name for name in kwargs if not adapter.capabilities.supports("attention", name)]
    assert not unrequired, f"suite bug: the test passes {unrequired} without require(adapter, 'attention', ...)"
    inputs = case.tensors(dtype)
    actual = op(*(t.clone() for t in inputs), **kwargs)
    with annotate(
        inputs=repr(case), **{k: (v if not isinstance(v, torch.Tensor) else "tensor") for k, v in kwargs.items()}
    ):
        assert_close(
            actual,
            reference(adapter, *(t.double() for t in inputs), **kwargs),
            reference(adapter, *inputs, **kwargs),
            what=what,
        )


def assert_same(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    if actual.shape != expected.shape:
        fail(f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)} (unchanged)")
    if not torch.equal(actual, expected):
        difference = (actual.double() - expected.double()).abs().max().item()
        fail(
            f"{what}: outputs changed (max difference {difference:.3g}); they must be unchanged", difference=difference
        )
