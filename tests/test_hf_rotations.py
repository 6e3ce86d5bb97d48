"""The hf adapter's Reformer rotations are injected for one call, in one thread, and nowhere else.

A stand-in module plays modeling_reformer (whose module-level `torch` the injection replaces), so
the test needs no transformers import; the suite's LSH tests run the real module.
"""

from __future__ import annotations

import threading
import types

import pytest
import torch

from specformer.conformance.adapters.hf_attention import reformer_rotations


def test_rotations_reach_the_module_only_in_the_calling_thread_and_only_within_the_block() -> None:
    module = types.SimpleNamespace(torch=torch)
    rotations = torch.arange(24, dtype=torch.float64).view(2, 3, 1, 4)
    seen_elsewhere: list[torch.Tensor] = []
    with reformer_rotations(rotations, module):
        assert torch.equal(module.torch.randn((2, 3, 1, 4), dtype=torch.float64), rotations)
        assert module.torch.randn(2, 3, 1, 4).dtype == torch.float64  # the rotations' own dtype
        assert not torch.equal(torch.randn(2, 3, 1, 4, dtype=torch.float64), rotations)  # torch itself untouched
        assert module.torch.randn(5).shape == (5,)  # another shape: a real draw
        assert module.torch.float16 is torch.float16  # everything else is torch's
        other = threading.Thread(target=lambda: seen_elsewhere.append(module.torch.randn((2, 3, 1, 4))))
        other.start()
        other.join()
    assert not torch.equal(seen_elsewhere[0].double(), rotations)
    assert module.torch is torch


def test_the_module_is_restored_when_the_call_raises() -> None:
    module = types.SimpleNamespace(torch=torch)
    with pytest.raises(RuntimeError), reformer_rotations(torch.zeros(1, 1, 1, 1), module):
        raise RuntimeError("the forward failed")
    assert module.torch is torch
