"""State bugs: answers right on every first call, wrong only across calls.

Each mutant's bug shows only when an operation is called again (another configuration, another seed,
the caller writing into an answer), so the clause tests, which call once and check, pass it; the
generic properties (conformance/suite/test_generic.py) catch it. `breaks` lists the clauses the
generic tests fail (tests/test_verdicts.py runs them with its shared generic run).
"""

from __future__ import annotations

from typing import Any

import torch

from specformer.conformance.mutants import Mutant, reference_capabilities


class LogitsInOneBuffer(Mutant):
    """lm_logits copies every answer into one buffer it keeps and returns that buffer: the caller's
    earlier answer changes under it when the next call runs (an output aliased to internal state)."""

    capabilities = reference_capabilities("heads", "HEAD-")
    breaks = ("HEAD-LM-01",)

    def lm_logits(self, hidden: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        answer = super().lm_logits(hidden, embedding)
        buffer = self.__dict__.get("_buffer")
        if buffer is None or buffer.shape != answer.shape or buffer.dtype != answer.dtype:
            buffer = self.__dict__["_buffer"] = torch.empty_like(answer)
        return buffer.copy_(answer)


class GeneratorNotAdvanced(Mutant):
    """mlm_mask draws from a copy of the generator it is given, so the caller's generator never
    advances: two masks drawn in a row from one generator are the same mask."""

    capabilities = reference_capabilities("objectives", "OBJ-")
    breaks = ("OBJ-MLM-01", "OBJ-MLM-03")

    def mlm_mask(self, *args: Any, generator: torch.Generator, **kwargs: Any) -> Any:
        copy = torch.Generator().set_state(generator.get_state())
        return super().mlm_mask(*args, generator=copy, **kwargs)


class FirstVocabularyKept(Mutant):
    """bpe_encode keeps the first vocabulary it is given and encodes every later text with it
    (a cache keyed on nothing): right for one vocabulary, wrong as soon as a second one comes."""

    capabilities = reference_capabilities("tokenizers", "TOK-")
    breaks = ("TOK-BPE-01",)

    def bpe_encode(self, model: Any, text: str) -> list[int]:
        first = self.__dict__.setdefault("_first_model", model)
        return first.encode(text)


ALL = (LogitsInOneBuffer, GeneratorNotAdvanced, FirstVocabularyKept)
