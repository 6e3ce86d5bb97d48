"""The `tiktoken` adapter: OpenAI's tiktoken, run for real, built offline.

Written against tiktoken 0.14.0. Nothing is downloaded: the adapter never calls
`tiktoken.get_encoding` (which fetches a .tiktoken file); it builds
`tiktoken.Encoding(name, pat_str=model.pattern, mergeable_ranks={token bytes: id},
special_tokens=model.special_tokens)` from the reference ByteLevelBPE the suite passes, once
per model object, as mistral_common builds its Tekkenizer from a tekken file. tiktoken's ranks
are at once the token ids and the merge priorities (concatenation ranks), so:

- a concatenation-rank model (tiktoken, tekken) is handed over as it is: rank = id;
- a pair-rank model (a merge list: GPT-2 merges.txt, HF tokenizer.json, the reference's
  trainer) is handed over with ranks in merge order, as tiktoken's own
  `data_gym_to_mergeable_bpe_ranks` ranks GPT-2's merges: the single bytes first, then each
  merge's result in merge order, then tokens no merge makes; tiktoken's output ranks are
  mapped back to the model's ids (and ids to ranks before decoding), a bijection, so the ids
  are the model's whatever order they were assigned in. That is faithful on well-formed
  tables (TOK-BPE-03); on ill-formed ones tiktoken can only do what concatenation ranks say
  (TOK-BPE-04), and it always does whole-chunk lookup (a chunk that is a token is emitted
  whole, TOK-BPE-05), whatever the model's `whole_chunk_lookup` says. A model whose byte
  strings repeat (two ids, same bytes) cannot be expressed: ValueError.

Calls: `bpe_encode` is `encode_ordinary(text)`: special-token strings are ordinary text, as the
protocol asks (`encode(text)` would raise on them: variant `raise` of TOK-SPECIAL-02, a clause
about the BERT pipeline, which tiktoken does not have). `bpe_decode` is `decode(ids)` (bytes
joined, then UTF-8 with errors="replace"). `bpe_train`
is `tiktoken._educational.bpe_train(text, 256 + num_merges, pattern, visualise=None)`, the
trainer tiktoken ships for teaching (ties go to the pair seen first: variant
`first-occurrence` of TOK-TRAIN-02). It returns ranks, not pairs; each new token is split
into its pair by `_educational.bpe_encode` over the ranks learnt before it, which recovers the
pair that was merged (the token's bytes encode to exactly the two tokens the merge joined).

For the benchmarks only (not a protocol operation), `bpe_encode_batch` is
`encode_ordinary_batch(texts, num_threads=<available CPUs>)`.

Not offered by tiktoken, so left unsupported: pre-tokenization on its own (the regex runs
inside the Rust core; no public call returns the chunks), the byte -> character table (tiktoken
keeps token bytes as bytes and never spells them), and WordPiece, SentencePiece and the BERT
pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specformer.conformance.adapters.from_reference import PerModel, available_cpus, byte_level_tables
from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE, resolve_pattern


class TiktokenAdapter:
    name = "tiktoken"
    capabilities = Capabilities(families=frozenset({"tokenizers"}), variants={"TOK-TRAIN-02": "first-occurrence"})
    expectations_file = Path(__file__).parent / "expectations" / "tiktoken.toml"

    def __init__(self) -> None:
        import tiktoken

        self._tiktoken = tiktoken
        self._encodings: PerModel[TiktokenModel] = PerModel()
        self.description = (
            f"tiktoken {tiktoken.__version__}: Encoding built offline from the model's ranks "
            "(encode_ordinary, decode), _educational.bpe_train"
        )

    def encoding(self, model: ByteLevelBPE) -> TiktokenModel:
        """The tiktoken.Encoding of `model` and its rank <-> id maps (built once per model object)."""
        return self._encodings.get(model, lambda m: tiktoken_model(self._tiktoken, m))

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        built = self.encoding(model)
        return built.ids(built.encoding.encode_ordinary(text))

    def bpe_encode_batch(self, model: ByteLevelBPE, texts: list[str]) -> list[list[int]]:
        """Not a protocol operation: `encode_ordinary_batch`, for the benchmarks' batched rows."""
        built = self.encoding(model)
        batch = built.encoding.encode_ordinary_batch(texts, num_threads=self.threads["bpe_encode_batch"])
        return [built.ids(ranks) for ranks in batch]

    @property
    def threads(self) -> dict[str, int]:
        """Threads per operation, for the benchmarks: the batch call gets one per available CPU."""
        return {"bpe_encode_batch": available_cpus()}

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        built = self.encoding(model)
        return built.encoding.decode(built.ranks(ids))

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        from tiktoken import _educational

        ranks = _educational.bpe_train(text, 256 + num_merges, resolve_pattern(pattern), visualise=None)
        learnt = {bytes([b]): b for b in range(256)}
        by_rank = {b: bytes([b]) for b in range(256)}
        merges: list[tuple[bytes, bytes]] = []
        for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
            if rank < 256:
                continue
            parts = _educational.bpe_encode(learnt, token, visualise=None)
            if len(parts) != 2:  # cannot happen for a merge bpe_train made; refuse rather than guess
                raise RuntimeError(f"tiktoken token {token!r} (rank {rank}) does not split into one learnt pair")
            merges.append((by_rank[parts[0]], by_rank[parts[1]]))
            learnt[token], by_rank[rank] = rank, token
        return merges


@dataclass(frozen=True)
class TiktokenModel:
    """A tiktoken.Encoding and, where its ranks are not the model's ids, the maps between them."""

    encoding: Any
    id_of_rank: list[int] | None = None  # None: rank = id
    rank_of_id: dict[int, int] | None = None

    def ids(self, ranks: list[int]) -> list[int]:
        return ranks if self.id_of_rank is None else [self.id_of_rank[r] for r in ranks]

    def ranks(self, ids: list[int]) -> list[int]:
        return ids if self.rank_of_id is None else [self.rank_of_id[i] for i in ids]


def tiktoken_model(tiktoken: Any, model: ByteLevelBPE) -> TiktokenModel:
    """tiktoken.Encoding(pat_str, mergeable_ranks, special_tokens) of a reference model."""
    token_bytes, merges = byte_level_tables(model)
    id_of_bytes = {data: token_id for token_id, data in token_bytes.items()}
    if len(id_of_bytes) != len(token_bytes):
        raise ValueError("the model gives one byte string two ids; tiktoken's ranks map each byte string to one id")
    if merges is None:  # concatenation ranks: the ids are the ranks
        encoding = tiktoken.Encoding(
            "specformer", pat_str=model.pattern, mergeable_ranks=id_of_bytes, special_tokens=model.special_tokens
        )
        return TiktokenModel(encoding)
    order = sorted(i for i, data in token_bytes.items() if len(data) == 1)
    order += [id_of_bytes[token_bytes[left] + token_bytes[right]] for left, right in merges]
    order += sorted(token_bytes)
    order = list(dict.fromkeys(order))  # each id once, at its first (lowest) rank
    specials = list(model.special_tokens.items())
    rank_of_id = {token_id: rank for rank, token_id in enumerate(order + [i for _, i in specials])}
    encoding = tiktoken.Encoding(
        "specformer",
        pat_str=model.pattern,
        mergeable_ranks={token_bytes[token_id]: rank for rank, token_id in enumerate(order)},
        special_tokens={surface: rank_of_id[token_id] for surface, token_id in specials},
    )
    return TiktokenModel(encoding, order + [i for _, i in specials], rank_of_id)
