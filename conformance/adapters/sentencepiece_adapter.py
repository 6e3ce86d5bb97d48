"""The `sentencepiece` adapter: Google's sentencepiece, run for real.

Written against sentencepiece 0.2.3. The suite passes a reference SentencePieceModel (read from
a real `.model` file, trained in memory, or written by hand); the adapter serialises it back
into a ModelProto with the reference's `write_model` and loads that with
`sentencepiece.SentencePieceProcessor(model_proto=...)`, once per model object. That round trip
is faithful: `write_model` writes every field `read_model` reads, which are all the fields
that affect encoding, and the reference's tests check `read_model` against the processor
field by field on trained models and on the `.model` files mistral_common ships.

Calls: `normalize(text)` (the processor's own normaliser, dummy prefix and "▁" escaping
included, as in 0.2.x), `encode(text)` (ids, no sampling, no BOS/EOS) and `decode(ids)`.
Control symbols typed in text are never matched as control pieces (TOK-SP-07). For the
benchmarks only (not a protocol operation), `sentencepiece_encode_batch` is `encode(texts,
num_threads=<available CPUs>)`.

Left out, because sentencepiece does not do them: byte-level BPE, WordPiece and the BERT
pipeline (special tokens, pairs, truncation, padding).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from specformer.conformance.adapters.from_reference import PerModel, available_cpus
from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.tokenizers.sentencepiece import SentencePieceModel, write_model


class SentencePieceAdapter:
    name = "sentencepiece"
    capabilities = Capabilities(families=frozenset({"tokenizers"}))
    expectations_file = Path(__file__).parent / "expectations" / "sentencepiece.toml"

    def __init__(self) -> None:
        import sentencepiece

        self._sentencepiece = sentencepiece
        self._processors: PerModel[Any] = PerModel()
        self.description = (
            f"sentencepiece {sentencepiece.__version__}: SentencePieceProcessor(model_proto=...) normalize, "
            "encode, decode"
        )

    def processor(self, model: SentencePieceModel) -> Any:
        """The SentencePieceProcessor of `model` (built once per model object)."""
        return self._processors.get(
            model, lambda m: self._sentencepiece.SentencePieceProcessor(model_proto=write_model(m))
        )

    def sentencepiece_normalize(self, model: SentencePieceModel, text: str) -> str:
        return self.processor(model).normalize(text)

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        return self.processor(model).encode(text)

    def sentencepiece_encode_batch(self, model: SentencePieceModel, texts: list[str]) -> list[list[int]]:
        """Not a protocol operation: the processor's batch encode, for the benchmarks' batched rows."""
        return self.processor(model).encode(texts, num_threads=self.threads["sentencepiece_encode_batch"])

    @property
    def threads(self) -> dict[str, int]:
        """Threads per operation, for the benchmarks: the batch call gets one per available CPU."""
        return {"sentencepiece_encode_batch": available_cpus()}

    def sentencepiece_decode(self, model: SentencePieceModel, ids: list[int]) -> str:
        return self.processor(model).decode(ids)
