"""The hf adapter's objectives family: transformers' own data collators and shift-right.

- `mlm_mask`: DataCollatorForLanguageModeling.torch_mask_tokens (the method its __call__ uses),
  with a BertTokenizerFast whose vocabulary has exactly `vocab_size` tokens and [MASK] at
  `mask_token_id`, and the collator's generator set to the suite's.
- `whole_word_mask`: the same collator with `whole_word_mask=True` (transformers 5 replaced
  DataCollatorForWholeWordMask with this flag); it finds words from the offset mapping, which
  the adapter builds from the suite's word ids (a gap before the first piece of each word).
  transformers forces mask_replace_prob = 1 there: variant `mask-only` of OBJ-WWM-03.
- `shift_tokens_right`: transformers.models.bart.modeling_bart.shift_tokens_right (T5's
  `_shift_right` is the same computation on a config).

T5 span corruption, BART noising and NSP pair building live only in transformers' example
scripts (`run_t5_mlm_flax.py`, `run_bart_dlm_flax.py`), which the package does not ship: those
operations are unsupported.
"""

from __future__ import annotations

import functools
import warnings

import torch


@functools.cache
def _tokenizer(vocab_size: int, mask_token_id: int):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokens = [f"t{i}" for i in range(vocab_size)]
    named = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    for name, index in named.items():
        if index != mask_token_id and index < vocab_size:
            tokens[index] = name
    tokens[mask_token_id] = "[MASK]"
    backend = Tokenizer(
        models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token=tokens[1 if vocab_size > 1 else 0])
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        mask_token="[MASK]",
        **{
            k: v
            for k, v in {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]"}.items()
            if v in tokens
        },
    )


def _offsets_from_word_ids(word_ids: torch.Tensor) -> torch.Tensor:
    """(B, L) word ids -> (B, L, 2) character offsets: pieces of a word touch, words are separated by a gap.

    Token t covers [t + w, t + w + 1) where w counts the words started up to t, so a new word
    starts one character after the previous token ends; special tokens get (0, 0).
    """
    real = word_ids >= 0
    previous = torch.cat([torch.full_like(word_ids[:, :1], -1), word_ids[:, :-1]], dim=1)
    new_word = real & (word_ids != previous)
    starts = torch.arange(word_ids.shape[1]) + new_word.long().cumsum(1)  # (B, L)
    offsets = torch.stack([starts, starts + 1], dim=-1)  # (B, L, 2)
    return offsets.masked_fill(~real[..., None], 0)


class HFObjectives:
    """Mixin of HFAdapter."""

    def _collator(self, vocab_size: int, mask_token_id: int, generator: torch.Generator, **kwargs):
        from transformers import DataCollatorForLanguageModeling

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # whole_word_mask warns that it forces mask_replace_prob = 1
            collator = DataCollatorForLanguageModeling(_tokenizer(vocab_size, mask_token_id), **kwargs)
        collator.generator = generator  # what __call__ would set from `seed`
        return collator

    def mlm_mask(
        self,
        input_ids: torch.Tensor,
        special_tokens_mask: torch.Tensor,
        *,
        mask_token_id: int,
        vocab_size: int,
        generator: torch.Generator,
        mlm_probability: float = 0.15,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        collator = self._collator(
            vocab_size,
            mask_token_id,
            generator,
            mlm_probability=mlm_probability,
            mask_replace_prob=mask_replace_prob,
            random_replace_prob=random_replace_prob,
        )
        # __call__ masks the batch tensor it has just built; the caller's tensor plays that role here
        return collator.torch_mask_tokens(input_ids.clone(), special_tokens_mask=special_tokens_mask.long())

    def whole_word_mask(
        self,
        input_ids: torch.Tensor,
        word_ids: torch.Tensor,
        *,
        mask_token_id: int,
        vocab_size: int,
        generator: torch.Generator,
        mlm_probability: float = 0.15,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        collator = self._collator(
            vocab_size, mask_token_id, generator, mlm_probability=mlm_probability, whole_word_mask=True
        )
        inputs, labels = collator.torch_mask_tokens(
            input_ids.clone(),
            special_tokens_mask=(word_ids < 0).long(),
            offset_mapping=_offsets_from_word_ids(word_ids),
        )
        return torch.as_tensor(inputs), torch.as_tensor(labels)

    def shift_tokens_right(
        self, labels: torch.Tensor, *, pad_token_id: int | None, decoder_start_token_id: int | None
    ) -> torch.Tensor:
        from transformers.models.bart.modeling_bart import shift_tokens_right

        return shift_tokens_right(labels, pad_token_id, decoder_start_token_id)
