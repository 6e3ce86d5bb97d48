"""The `hf-slow` adapter: transformers' Python ("slow") BERT tokenizer, run for real.

Written against transformers 5.24.0, which still ships the Python BERT tokenizer of the 4.x
series as `BertTokenizerLegacy` (`models/bert/tokenization_bert_legacy.py`: BasicTokenizer +
WordpieceTokenizer over `tokenization_python.py`); v5's `BertTokenizer` is the fast one (the
`hf` adapter). The adapter writes the model's tokens, in id order, to a temporary vocab.txt
(the only vocabulary the class accepts; the file is deleted once loaded) and builds
`BertTokenizerLegacy(vocab_file, do_lower_case, tokenize_chinese_chars, strip_accents,
unk_token)` once per model object, setting `wordpiece_tokenizer.max_input_chars_per_word` when
the model's limit is not the default 100.

Calls: `encode_batch` is `tokenizer(batch, truncation=strategy or False, max_length,
padding="longest", pad_to_multiple_of, padding_side, return_special_tokens_mask=True)` on the
list of texts and (text, text) pairs. Declared variants: `transformers-slow` of TOK-BERT-05
(Python `str.lower`, NFC, the Unicode 14 tables of CPython 3.11), `first` of TOK-TRUNC-03
(`truncate_sequences` removes from B on ties, leaving an odd token to A) and `match` of
TOK-SPECIAL-02 (special tokens in text are split out by its added-tokens trie).

Offsets: the Python tokenizers have none; `return_offsets_mapping=True` is silently ignored.
So `wordpiece_encode`, whose answer is ids and offsets, is left out (unsupported) rather than
answered with made-up spans; `encode_batch` is kept, because its subject is the template,
truncation and padding, whose fields (ids, type ids, masks) the library does return, and it
reports every span as (0, 0), the spec's "no span": the clauses that check offsets in a batch
record that as a documented deviation (expectations/hf-slow.toml).

Left out as well: `bert_normalize` (BasicTokenizer returns words, never the normalised text),
and every other family operation, which this class does not have.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from specformer.conformance.adapters.from_reference import PerModel
from specformer.conformance.adapters.hf_tokenizer_classes import TransformersEncodeBatch
from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.tokenizers.wordpiece import WordPiece


class HFSlowAdapter(TransformersEncodeBatch):
    name = "hf-slow"
    capabilities = Capabilities(
        families=frozenset({"tokenizers"}),
        variants={"TOK-BERT-05": "transformers-slow", "TOK-TRUNC-03": "first", "TOK-SPECIAL-02": "match"},
    )
    expectations_file = Path(__file__).parent / "expectations" / "hf-slow.toml"
    _batch_offsets = False  # the Python tokenizers have no offsets: every span (0, 0)

    def __init__(self) -> None:
        import transformers
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

        self._tokenizer_class = BertTokenizerLegacy
        self._tokenizers: PerModel[Any] = PerModel()
        self.description = f"transformers {transformers.__version__} BertTokenizerLegacy (the Python BERT tokenizer)"

    def tokenizer(self, model: WordPiece) -> Any:
        """The BertTokenizerLegacy of `model` (built once per model object)."""
        return self._tokenizers.get(model, self._build)

    def _build(self, model: WordPiece) -> Any:
        config = model.normalizer
        with tempfile.TemporaryDirectory(prefix="specformer-vocab-") as folder:
            path = os.path.join(folder, "vocab.txt")
            with open(path, "w", encoding="utf-8") as file:
                file.writelines(model.id_to_token[i] + "\n" for i in range(len(model.id_to_token)))
            tokenizer = self._tokenizer_class(
                vocab_file=path,
                do_lower_case=config.lowercase,
                tokenize_chinese_chars=config.handle_chinese_chars,
                strip_accents=config.strip_accents,
                unk_token=model.unk_token,
            )
        tokenizer.wordpiece_tokenizer.max_input_chars_per_word = model.max_input_chars_per_word
        extra = [token for token in model.special_tokens if token not in tokenizer.all_special_tokens]
        if extra:
            tokenizer.add_tokens(extra, special_tokens=True)
        return tokenizer

    def _batch_tokenizer(self, model: WordPiece) -> Any:
        return self.tokenizer(model)
