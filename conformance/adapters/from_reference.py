"""What the tokenizer adapters read from the reference's model objects, and a cache of what they build.

The tokenizer adapters receive the reference's model objects (ByteLevelBPE, WordPiece,
SentencePieceModel) and build their own library's tokenizer from each (TokenizerAdapter in
protocols.py). Two helpers shared by them live here:

- `PerModel`: what an adapter built, kept per model object. Building a tokenizer from a
  130k-token vocabulary takes a second. The key is the object's identity, not its value:
  hashing a frozen SentencePieceModel walks its 32k pieces on every call. The cache holds the
  objects it keys on, so an id is never reused while its entry lives, and forgets the least
  recently used entry beyond `size`.
- `PerModelAndKey`: the same, per model object and key (a dtype, a config): what the models
  adapters build from one weights object or state dict in each dtype or config it is called with.
- `byte_level_tables`: a ByteLevelBPE's ordinary tokens and merge list, the data every
  library's byte-level BPE is built from.
- `available_cpus`: the thread count a library's batch calls use by default, which the
  adapters declare in their `threads` mapping for the benchmarks (conformance/bench/tokenizers.py).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE

Built = TypeVar("Built")
Model = TypeVar("Model")


class PerModel(Generic[Built]):
    """`cache.get(model, build)` returns `build(model)`, computed once per model object."""

    def __init__(self, size: int = 32) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._size = size
        self._entries: OrderedDict[int, tuple[object, Built]] = OrderedDict()

    def get(self, model: Model, build: Callable[[Model], Built]) -> Built:
        key = id(model)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is model:
            self._entries.move_to_end(key)
            return entry[1]
        built = build(model)
        self._entries[key] = (model, built)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return built


class PerModelAndKey(Generic[Built]):
    """`cache.get(model, key, build)` returns `build()`, computed once per model object and key: a
    PerModel of dicts by key, forgetting a whole model object's entries beyond `size` objects.

    >>> cache, weights = PerModelAndKey(), object()
    >>> first = cache.get(weights, "float32", lambda: ["built"])
    >>> cache.get(weights, "float32", lambda: ["again"]) is first, cache.get(weights, "float64", lambda: ["again"])
    (True, ['again'])
    """

    def __init__(self, size: int = 32) -> None:
        self._per_model: PerModel[dict[Hashable, Built]] = PerModel(size)

    def get(self, model: object, key: Hashable, build: Callable[[], Built]) -> Built:
        per_key = self._per_model.get(model, lambda _: {})
        if key not in per_key:
            per_key[key] = build()
        return per_key[key]


def byte_level_tables(model: ByteLevelBPE) -> tuple[dict[int, bytes], list[tuple[int, int]] | None]:
    """(id -> bytes of every ordinary token, the model's merges as (left id, right id) in rank order,
    or None for a concatenation-rank model, whose tokens merge when their bytes join into a token).

    The merges are the model's own table (`ByteLevelBPE.merges`), so that a library gets the very
    table the reference runs, not a reconstruction.

    >>> byte_level_tables(ByteLevelBPE.from_merges([(b"a", b"b")], "gpt2"))[1]
    [(97, 98)]
    """
    special_ids = set(model.special_tokens.values())
    token_bytes: dict[int, bytes] = {}
    for token_id in range(model.n_vocab):
        if token_id in special_ids:
            continue
        try:
            token_bytes[token_id] = model.decode_bytes([token_id])
        except ValueError:  # an id the vocabulary skips
            continue
    return token_bytes, model.merges


def available_cpus() -> int:
    """CPUs this process may run on: what rayon (HF tokenizers) sizes its pool by by default."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
