"""The hf adapter's tokenizers family (spec/tokenizers.md): transformers' tokenizer classes.

Tokenizers, through the v5 tokenizer classes (each backed by an HF `tokenizers` pipeline, which
transformers configures and wraps with its own encode/decode layer):

- WordPiece and the BERT pipeline: `BertTokenizer(vocab=<the model's vocab dict>,
  do_lower_case, tokenize_chinese_chars, strip_accents, unk_token)`, the class v5 builds in
  memory (in v5 it is BertTokenizerFast). `wordpiece_encode` is `tokenizer(text,
  add_special_tokens=False, return_offsets_mapping=True)`; `encode_batch` is `tokenizer(batch,
  truncation=strategy or False, max_length, padding="longest", pad_to_multiple_of,
  padding_side, return_offsets_mapping=True, return_special_tokens_mask=True)` on the list of
  texts and (text, text) pairs. BertTokenizer always cleans text (no `clean_text` switch) and
  takes no `max_input_chars_per_word` argument; a model with another limit has it set on the
  backend model (`backend_tokenizer.model`). It
  matches special-token strings in user text (variant `match` of TOK-SPECIAL-02), lowercases
  as tokenizers does (`tokenizers` of TOK-BERT-05), and gives an odd token of the budget to
  the longer sequence (`longer` of TOK-TRUNC-03).
- Byte-level BPE: the byte -> character table is transformers' own
  `convert_slow_tokenizer.bytes_to_unicode()`, the one its converters spell vocabularies with.
  Encoding and decoding go through `PreTrainedTokenizerFast(tokenizer_object=...)` over the
  tokenizer.json pipeline that `TikTokenConverter`/`MistralConverter` write for tiktoken and
  tekken vocabularies (built by the hf-tokenizers adapter's `byte_level_tokenizer`, which says
  how), called as a user calls it: `encode(text, add_special_tokens=False,
  split_special_tokens=True)` (special strings are text here, as the protocol asks) and
  `decode(ids)` with transformers' defaults.

Left out: `bert_normalize` (transformers has no normalisation call; BertTokenizer delegates to
tokenizers' BertNormalizer, which the hf-tokenizers adapter tests), `pretokenize` and
`bpe_train` (tokenizers' Split and BpeTrainer, reached through `train_new_from_iterator`: again
hf-tokenizers), and SentencePiece (v5 converts a `.model` into a tokenizers pipeline, the one
hf-tokenizers builds). The slow Python BERT tokenizer v5 still ships is the `hf-slow` adapter.
"""

from __future__ import annotations

import functools
from typing import Any

from specformer.conformance.adapters.from_reference import PerModel
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.templates import Encoding
from specformer.reference.tokenizers.wordpiece import WordPiece


class TransformersEncodeBatch:
    """`encode_batch` through a transformers BERT tokenizer's __call__, for the hf and hf-slow
    adapters: padded to the longest, truncated only with a max_length; offsets from its offset
    mapping, or (0, 0) per token for a tokenizer without one (`_batch_offsets = False`: the
    Python tokenizers). The adapter gives the tokenizer of a model (`_batch_tokenizer`)."""

    _batch_offsets = True

    def _batch_tokenizer(self, model: WordPiece) -> Any:
        raise NotImplementedError

    def encode_batch(
        self,
        model: WordPiece,
        inputs: list[str | tuple[str, str]],
        *,
        max_length: int | None = None,
        truncation: str = "longest_first",
        padding_side: str = "right",
        pad_to_multiple_of: int | None = None,
    ) -> list[Encoding]:
        offsets = self._batch_offsets
        out = self._batch_tokenizer(model)(
            list(inputs),
            truncation=False if max_length is None else truncation,
            max_length=max_length,
            padding="longest",
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_token_type_ids=True,
            return_attention_mask=True,
            return_special_tokens_mask=True,
            **({"return_offsets_mapping": True} if offsets else {}),
        )
        return [
            Encoding(
                ids=out["input_ids"][i],
                token_type_ids=out["token_type_ids"][i],
                attention_mask=out["attention_mask"][i],
                special_tokens_mask=out["special_tokens_mask"][i],
                offsets=[tuple(span) for span in out["offset_mapping"][i]]
                if offsets
                else [(0, 0)] * len(out["input_ids"][i]),
            )
            for i in range(len(inputs))
        ]


class HFTokenizerClasses(TransformersEncodeBatch):
    @functools.cached_property
    def _bert_tokenizers(self) -> PerModel[object]:
        return PerModel()

    @functools.cached_property
    def _byte_level_tokenizers(self) -> PerModel[object]:
        return PerModel()

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        tokenizer = self._byte_level_tokenizers.get(model, _byte_level_tokenizer)
        return tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)

    def bpe_encode_batch(self, model: ByteLevelBPE, texts: list[str]) -> list[list[int]]:
        """Not a protocol operation: the tokenizer called on a batch, for the benchmarks' batched rows."""
        tokenizer = self._byte_level_tokenizers.get(model, _byte_level_tokenizer)
        return tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    @property
    def threads(self) -> dict[str, int]:
        """Threads per operation, for the benchmarks: batches run on HF tokenizers' rayon pool."""
        from specformer.conformance.adapters.hf_tokenizers import rayon_threads

        return {"encode_batch": rayon_threads(), "bpe_encode_batch": rayon_threads()}

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        return self._byte_level_tokenizers.get(model, _byte_level_tokenizer).decode(ids)

    def bytes_to_unicode(self) -> dict[int, str]:
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        return dict(bytes_to_unicode())

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        tokenizer = self._bert_tokenizers.get(model, _bert_tokenizer)
        out = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return out["input_ids"], [tuple(span) for span in out["offset_mapping"]]

    def _batch_tokenizer(self, model: WordPiece) -> Any:
        return self._bert_tokenizers.get(model, _bert_tokenizer)


def _bert_tokenizer(model: WordPiece):
    """transformers v5 BertTokenizer built in memory from the model's vocabulary and normaliser switches."""
    from transformers import BertTokenizer

    config = model.normalizer
    tokenizer = BertTokenizer(
        vocab=dict(model.vocab),
        do_lower_case=config.lowercase,
        tokenize_chinese_chars=config.handle_chinese_chars,
        strip_accents=config.strip_accents,
        unk_token=model.unk_token,
    )
    if model.max_input_chars_per_word != tokenizer.backend_tokenizer.model.max_input_chars_per_word:
        tokenizer.backend_tokenizer.model.max_input_chars_per_word = model.max_input_chars_per_word
    extra = [token for token in model.special_tokens if token not in tokenizer.all_special_tokens]
    if extra:
        tokenizer.add_tokens(extra, special_tokens=True)
    return tokenizer


def _byte_level_tokenizer(model: ByteLevelBPE):
    """PreTrainedTokenizerFast over the tokenizer.json pipeline the tiktoken/tekken converters write."""
    import tokenizers
    from transformers import PreTrainedTokenizerFast

    from specformer.conformance.adapters.hf_tokenizers import byte_level_tokenizer

    backend = byte_level_tokenizer(tokenizers, model)
    backend.encode_special_tokens = False  # transformers' own split_special_tokens says it per call
    return PreTrainedTokenizerFast(tokenizer_object=backend)
