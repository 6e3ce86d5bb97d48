r"""The `hf-tokenizers` adapter: Hugging Face `tokenizers` (the Rust library), run for real.

Written against tokenizers 0.23.3. Every operation builds a `tokenizers.Tokenizer` from the
reference model object the suite passes (once per object) and calls it; nothing is
re-implemented here except the conversion of a model's tables into HF's own form:

- Byte-level BPE: `models.BPE(vocab, merges, ignore_merges=model.whole_chunk_lookup,
  fuse_unk=False)`, pre-tokenized by `pre_tokenizers.Sequence([Split(Regex(pattern),
  "isolated"), ByteLevel(add_prefix_space=False, use_regex=False)])`, decoded by
  `decoders.ByteLevel()`: the tokenizer.json that transformers' `TikTokenConverter` and
  `MistralConverter` write. Vocabulary strings are the token bytes spelt through GPT-2's
  `bytes_to_unicode` (a bijection, so nothing is lost). Merges: a pair-rank model's own merge
  list in rank order; for a concatenation-rank model (tiktoken, tekken: no merge list) every
  split of every token into two tokens, ordered by the merged token's id and then the parts'
  ids, as `TikTokenConverter.extract_vocab_merges_from_model` derives them. Pair ranks and
  concatenation ranks agree on every well-formed table (TOK-BPE-03). Special tokens go into
  the vocabulary at their ids and are registered with `add_special_tokens` (as
  `MistralConverter` does), so they decode to their surface strings; `bpe_encode` sets
  `encode_special_tokens = True` so their strings in text are ordinary text, as the protocol
  asks. `bpe_decode` is `decode(ids, skip_special_tokens=False)` (HF skips them by default).
- Pre-tokenization alone: `pre_tokenizers.Split(Regex(pattern), behavior="isolated")
  .pre_tokenize_str(text)`, with the named patterns of `byte_bpe.PATTERNS` resolved to their
  regex; Oniguruma runs it, not Python's `regex`.
- Training: `trainers.BpeTrainer(vocab_size=256 + num_merges, initial_alphabet=
  ByteLevel.alphabet(), min_frequency=0, show_progress=False)` through
  `Tokenizer.train_from_iterator([text])` on the same Split + ByteLevel pre-tokenizer; the
  merges are read back from `to_str()` and spelt back into bytes. BpeTrainer breaks ties by
  the smallest (left id, right id) in its id order: variant `smallest-ids` of TOK-TRAIN-02.
- WordPiece: `models.WordPiece(vocab, unk_token, max_input_chars_per_word,
  continuing_subword_prefix)` + `normalizers.BertNormalizer(clean_text,
  handle_chinese_chars, strip_accents, lowercase)` + `pre_tokenizers.BertPreTokenizer()`, the
  model's special tokens added as special `AddedToken`s (matched in user text: variant
  `match` of TOK-SPECIAL-02), and `processors.TemplateProcessing(single="[CLS] $A [SEP]",
  pair="[CLS] $A [SEP] $B:1 [SEP]:1")`: the pipeline of BERT's tokenizer.json. HF's
  normaliser has fixed behaviour where the reference has switches (variant `tokenizers` of
  TOK-BERT-05: no NFC, per-character lowercasing, its own Unicode tables and CJK ranges); the
  config's variant switches are therefore not passed on. Offsets are `Encoding.offsets`
  (code points into the input).
- Pairs, truncation and padding: `enable_truncation(max_length, strategy=...)` or
  `no_truncation()`, `enable_padding(direction=padding_side, pad_id=[PAD]'s id,
  pad_to_multiple_of=...)` (no length: the batch's longest), then `encode_batch(inputs)`.
  LongestFirst gives an odd token of the budget to the longer sequence: variant `longer` of
  TOK-TRUNC-03. encode_batch runs on rayon's thread pool.
- SentencePiece: the tokenizers pipeline transformers 5.24.0 builds from a `.model`
  (`SpmConverter.build_tokenizer_from_spm_proto`, legacy mode), call for call:
  `models.Unigram([(piece, score)], unk_id, byte_fallback)` or, for BPE models,
  `models.BPE(vocab, merges ranked by the merged piece's score, unk_token, fuse_unk=True,
  byte_fallback, ignore_merges=<has user-defined pieces>)`; normaliser
  `Sequence([Precompiled(charsmap), Replace(r"\A +| +\z", ""), Replace(" {2,}", " "),
  Replace(" ", "▁"), Replace(r"\A▁", "▁▁")])` as the model's normalizer spec asks;
  `Metaspace(replacement="▁", prepend_scheme="always", split=False)` for the dummy prefix
  and a Split isolating user-defined pieces; decoder `Replace("▁", " ")`, `ByteFallback()`,
  `Fuse()`, `Strip(" ", left=1)`. CONTROL pieces are then added as special `AddedToken`s and
  USER_DEFINED pieces as plain ones, as `SpmConverter.tokenizer` does and as a model's
  `added_tokens_decoder` does for `<s>` and `</s>`. `sentencepiece_normalize` is the
  normaliser followed by the pre-tokenizer, joined: the string the model segments, which is
  what sentencepiece's `normalize` returns. `sentencepiece_decode` is `decode(ids)` with HF's
  default `skip_special_tokens=True`, so CONTROL pieces write nothing, as in sentencepiece.

For the benchmarks only (not protocol operations): `bpe_encode_batch` and
`sentencepiece_encode_batch` are `encode_batch(texts, add_special_tokens=False)`, and `threads`
says that batches and BpeTrainer run on rayon's pool (TOKENIZERS_PARALLELISM and
RAYON_NUM_THREADS respected).

Not offered, so left unsupported: `bytes_to_unicode` (tokenizers exposes the 256 characters of
its byte-level alphabet, `ByteLevel.alphabet()`, as an unordered list, and no call that maps a
byte to its character: bytes that never occur in UTF-8, such as 0xC0, cannot be observed).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specformer.conformance.adapters.from_reference import PerModel, available_cpus, byte_level_tables
from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE, bytes_to_unicode, resolve_pattern
from specformer.reference.tokenizers.sentencepiece import ModelType, PieceType, SentencePieceModel
from specformer.reference.tokenizers.templates import Encoding
from specformer.reference.tokenizers.wordpiece import BertNormalizerConfig, WordPiece

TOKENIZER_VARIANTS = {
    "TOK-TRAIN-02": "smallest-ids",
    "TOK-BERT-05": "tokenizers",
    "TOK-TRUNC-03": "longer",
    "TOK-SPECIAL-02": "match",
}
_BYTE_TO_CHAR = bytes_to_unicode()
_CHAR_TO_BYTE = {char: byte for byte, char in _BYTE_TO_CHAR.items()}


class HFTokenizersAdapter:
    name = "hf-tokenizers"
    capabilities = Capabilities(families=frozenset({"tokenizers"}), variants=dict(TOKENIZER_VARIANTS))
    expectations_file = Path(__file__).parent / "expectations" / "hf-tokenizers.toml"

    def __init__(self) -> None:
        import tokenizers

        self._tokenizers = tokenizers
        self._byte_level: PerModel[Any] = PerModel()
        self._wordpiece: PerModel[Any] = PerModel()
        self._sentencepiece: PerModel[Any] = PerModel()
        self.description = (
            f"Hugging Face tokenizers {tokenizers.__version__}: byte-level BPE (Split + ByteLevel), BpeTrainer, "
            "BertNormalizer + WordPiece, TemplateProcessing, truncation and padding, SentencePiece as Unigram/BPE"
        )

    @property
    def threads(self) -> dict[str, int]:
        """Threads per operation, for the benchmarks: batch calls and BpeTrainer run on rayon's pool."""
        pool = rayon_threads()
        batched = ("encode_batch", "bpe_encode_batch", "sentencepiece_encode_batch", "bpe_train")
        return {operation: pool for operation in batched}

    def _byte_level_tokenizer(self, model: ByteLevelBPE) -> Any:
        """The model's tokenizers.Tokenizer, built once per model object (as the next two)."""
        return self._byte_level.get(model, lambda m: byte_level_tokenizer(self._tokenizers, m))

    def _wordpiece_tokenizer(self, model: WordPiece) -> Any:
        return self._wordpiece.get(model, lambda m: wordpiece_tokenizer(self._tokenizers, m))

    def _sentencepiece_tokenizer(self, model: SentencePieceModel) -> Any:
        return self._sentencepiece.get(model, lambda m: sentencepiece_tokenizer(self._tokenizers, m))

    # --- byte-level BPE --------------------------------------------------------------------

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        split = split_pre_tokenizer(self._tokenizers, pattern)
        return [piece for piece, _ in split.pre_tokenize_str(text)]

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return self._byte_level_tokenizer(model).encode(text, add_special_tokens=False).ids

    def bpe_encode_batch(self, model: ByteLevelBPE, texts: list[str]) -> list[list[int]]:
        """Not a protocol operation: `encode_batch`, for the benchmarks' batched rows."""
        tokenizer = self._byte_level_tokenizer(model)
        return [encoding.ids for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)]

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        return self._byte_level_tokenizer(model).decode(ids, skip_special_tokens=False)

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        tk = self._tokenizers
        tokenizer = tk.Tokenizer(tk.models.BPE())
        tokenizer.pre_tokenizer = byte_level_pre_tokenizer(tk, pattern)
        trainer = tk.trainers.BpeTrainer(
            vocab_size=256 + num_merges,
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
            min_frequency=0,
            show_progress=False,
        )
        tokenizer.train_from_iterator([text], trainer=trainer)
        merges = json.loads(tokenizer.to_str())["model"]["merges"]
        # Older tokenizer.json files write a merge as "left right"; 0.23 writes [left, right].
        pairs = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
        return [(_bytes_of(left), _bytes_of(right)) for left, right in pairs[:num_merges]]

    # --- WordPiece ---------------------------------------------------------------------------

    def bert_normalize(self, config: BertNormalizerConfig, text: str) -> str:
        return bert_normalizer(self._tokenizers, config).normalize_str(text)

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        tokenizer = self._wordpiece_tokenizer(model)
        encoding = tokenizer.encode(text, add_special_tokens=False)
        return encoding.ids, [tuple(span) for span in encoding.offsets]

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
        tokenizer = self._wordpiece_tokenizer(model)
        if max_length is None:
            tokenizer.no_truncation()
        else:
            tokenizer.enable_truncation(max_length, strategy=truncation)
        tokenizer.enable_padding(
            direction=padding_side,
            pad_id=model.vocab["[PAD]"],
            pad_token="[PAD]",
            pad_to_multiple_of=pad_to_multiple_of,
        )
        try:
            return [encoding_of(e) for e in tokenizer.encode_batch(list(inputs), add_special_tokens=True)]
        finally:  # the cached tokenizer is shared with wordpiece_encode, which neither truncates nor pads
            tokenizer.no_truncation()
            tokenizer.no_padding()

    # --- SentencePiece -----------------------------------------------------------------------

    def sentencepiece_normalize(self, model: SentencePieceModel, text: str) -> str:
        tokenizer = self._sentencepiece_tokenizer(model)
        normalized = tokenizer.normalizer.normalize_str(text) if tokenizer.normalizer is not None else text
        if tokenizer.pre_tokenizer is None:
            return normalized
        return "".join(piece for piece, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized))

    def sentencepiece_encode(self, model: SentencePieceModel, text: str) -> list[int]:
        return self._sentencepiece_tokenizer(model).encode(text, add_special_tokens=False).ids

    def sentencepiece_encode_batch(self, model: SentencePieceModel, texts: list[str]) -> list[list[int]]:
        """Not a protocol operation: `encode_batch`, for the benchmarks' batched rows."""
        tokenizer = self._sentencepiece_tokenizer(model)
        return [encoding.ids for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)]

    def sentencepiece_decode(self, model: SentencePieceModel, ids: list[int]) -> str:
        # HF's default skips special tokens: CONTROL pieces write nothing
        return self._sentencepiece_tokenizer(model).decode(ids)


def rayon_threads() -> int:
    """Threads of HF tokenizers' parallel calls: 1 when TOKENIZERS_PARALLELISM is off (its own parse of
    the variable), else RAYON_NUM_THREADS or the CPUs available, as rayon sizes its global pool."""
    if os.environ.get("TOKENIZERS_PARALLELISM", "true").lower() in ("", "off", "false", "f", "no", "n", "0"):
        return 1
    configured = os.environ.get("RAYON_NUM_THREADS", "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else available_cpus()


# ---------------------------------------------------------------------------------------------
# Conversions from the reference's model objects; `tk` is the imported `tokenizers` module.
# The `hf` adapter (transformers) uses them too, where transformers wraps these pipelines.


def _spell(data: bytes) -> str:
    """Token bytes as HF byte-level vocabularies write them (GPT-2's bytes_to_unicode)."""
    return "".join(_BYTE_TO_CHAR[b] for b in data)


def _bytes_of(token: str) -> bytes:
    return bytes(_CHAR_TO_BYTE[char] for char in token)


def concatenation_merges(token_bytes: Mapping[int, bytes]) -> list[tuple[int, int]]:
    """Every split of every token into two tokens, ordered by (merged id, left id, right id): the merge
    list transformers' TikTokenConverter derives from tiktoken ranks (rank = id).

    >>> concatenation_merges({0: b"a", 1: b"b", 2: b"c", 3: b"ab", 4: b"abc"})
    [(0, 1), (3, 2)]
    """
    id_of = {data: token_id for token_id, data in token_bytes.items()}
    ranked = []
    for token_id, data in token_bytes.items():
        for cut in range(1, len(data)):
            left, right = id_of.get(data[:cut]), id_of.get(data[cut:])
            if left is not None and right is not None:
                ranked.append((token_id, left, right))
    return [(left, right) for _, left, right in sorted(ranked)]


def split_pre_tokenizer(tk: Any, pattern: str) -> Any:
    return tk.pre_tokenizers.Split(tk.Regex(resolve_pattern(pattern)), behavior="isolated")


def byte_level_pre_tokenizer(tk: Any, pattern: str) -> Any:
    byte_level = tk.pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return tk.pre_tokenizers.Sequence([split_pre_tokenizer(tk, pattern), byte_level])


def byte_level_tokenizer(tk: Any, model: ByteLevelBPE) -> Any:
    """An HF byte-level BPE tokenizer with the model's vocabulary, merges, pattern and special tokens."""
    token_bytes, merges = byte_level_tables(model)
    if merges is None:
        merges = concatenation_merges(token_bytes)
    vocab = {_spell(data): token_id for token_id, data in token_bytes.items()}
    if len(vocab) != len(token_bytes):
        raise ValueError("the model gives one byte string two ids; accepted by HF BPE: one id per token string")
    spelt = {token_id: token for token, token_id in vocab.items()}
    for surface, token_id in model.special_tokens.items():
        if surface in vocab:
            raise ValueError(f"special token {surface!r} spells an ordinary token too; HF BPE has one id per string")
        vocab[surface] = token_id
    bpe = tk.models.BPE(
        vocab=vocab,
        merges=[(spelt[left], spelt[right]) for left, right in merges],
        fuse_unk=False,
        ignore_merges=model.whole_chunk_lookup,
    )
    tokenizer = tk.Tokenizer(bpe)
    tokenizer.pre_tokenizer = byte_level_pre_tokenizer(tk, model.pattern)
    tokenizer.decoder = tk.decoders.ByteLevel()
    tokenizer.add_special_tokens([tk.AddedToken(s, special=True, normalized=False) for s in model.special_tokens])
    tokenizer.encode_special_tokens = True  # special strings in text are text (TokenizerAdapter.bpe_encode)
    return tokenizer


def bert_normalizer(tk: Any, config: BertNormalizerConfig) -> Any:
    return tk.normalizers.BertNormalizer(
        clean_text=config.clean_text,
        handle_chinese_chars=config.handle_chinese_chars,
        strip_accents=config.strip_accents,
        lowercase=config.lowercase,
    )


def wordpiece_tokenizer(tk: Any, model: WordPiece) -> Any:
    """BERT's tokenizer.json pipeline over the model's vocabulary: normaliser, pre-tokenizer,
    WordPiece, special tokens and the [CLS]/[SEP] template."""
    tokenizer = tk.Tokenizer(
        tk.models.WordPiece(
            vocab=dict(model.vocab),
            unk_token=model.unk_token,
            max_input_chars_per_word=model.max_input_chars_per_word,
            continuing_subword_prefix=model.continuing_prefix,
        )
    )
    tokenizer.normalizer = bert_normalizer(tk, model.normalizer)
    tokenizer.pre_tokenizer = tk.pre_tokenizers.BertPreTokenizer()
    tokenizer.add_special_tokens([tk.AddedToken(t, special=True, normalized=False) for t in model.special_tokens])
    tokenizer.post_processor = tk.processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", model.vocab["[CLS]"]), ("[SEP]", model.vocab["[SEP]"])],
    )
    return tokenizer


def encoding_of(encoding: Any) -> Encoding:
    """The reference's Encoding from an HF `tokenizers.Encoding`."""
    return Encoding(
        ids=list(encoding.ids),
        token_type_ids=list(encoding.type_ids),
        attention_mask=list(encoding.attention_mask),
        special_tokens_mask=list(encoding.special_tokens_mask),
        offsets=[tuple(span) for span in encoding.offsets],
    )


def sentencepiece_tokenizer(tk: Any, model: SentencePieceModel) -> Any:
    """The pipeline of transformers' `SpmConverter.build_tokenizer_from_spm_proto` (legacy mode)."""
    trainer, spec = model.trainer_spec, model.normalizer_spec
    if trainer.model_type not in (ModelType.UNIGRAM, ModelType.BPE):
        raise ValueError(f"model_type {trainer.model_type.name} has no tokenizers model; accepted: UNIGRAM, BPE")
    pieces, user_type = model.pieces, PieceType.USER_DEFINED
    user_defined = [p.piece for p in pieces if p.type == user_type]
    if trainer.model_type == ModelType.UNIGRAM:
        tokenizer = tk.Tokenizer(
            tk.models.Unigram([(p.piece, p.score) for p in pieces], trainer.unk_id, trainer.byte_fallback)
        )
    else:
        vocab = {p.piece: i for i, p in enumerate(pieces)}
        normal = {p.piece: (p.score, i) for i, p in enumerate(pieces) if p.type == PieceType.NORMAL}
        ranked = []
        for piece, (score, index) in normal.items():
            for cut in range(1, len(piece)):
                left, right = piece[:cut], piece[cut:]
                if left in normal and right in normal:
                    ranked.append((-score, index, left, right))
        bpe = tk.models.BPE(
            vocab=vocab,
            merges=[(left, right) for _, _, left, right in sorted(ranked)],
            unk_token=pieces[trainer.unk_id].piece,
            fuse_unk=True,
            byte_fallback=trainer.byte_fallback,
            dropout=None,
            ignore_merges=bool(user_defined),
        )
        tokenizer = tk.Tokenizer(bpe)
    normalizers = []
    if spec.precompiled_charsmap:
        normalizers.append(tk.normalizers.Precompiled(spec.precompiled_charsmap))
    if spec.remove_extra_whitespaces:
        normalizers += [
            tk.normalizers.Replace(tk.Regex(r"\A +| +\z"), ""),
            tk.normalizers.Replace(tk.Regex(" {2,}"), " "),
        ]
    if spec.escape_whitespaces:
        normalizers.append(tk.normalizers.Replace(" ", "▁"))
    if spec.add_dummy_prefix:  # Metaspace skips the prefix when the text starts with "▁"; sentencepiece does not
        normalizers.append(tk.normalizers.Replace(tk.Regex(r"\A▁"), "▁▁"))
    tokenizer.normalizer = tk.normalizers.Sequence(normalizers)
    pre_tokenizers = []
    if spec.add_dummy_prefix:
        pre_tokenizers.append(tk.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False))
    if user_defined:
        pattern = "|".join(re.escape(piece) for piece in sorted(user_defined, key=len, reverse=True))
        pre_tokenizers.append(tk.pre_tokenizers.Split(tk.Regex(pattern), behavior="isolated"))
    if pre_tokenizers:
        tokenizer.pre_tokenizer = tk.pre_tokenizers.Sequence(pre_tokenizers)
    decoders = [tk.decoders.Replace("▁", " ")]
    if trainer.byte_fallback:
        decoders.append(tk.decoders.ByteFallback())
    if spec.add_dummy_prefix:
        decoders += [tk.decoders.Fuse(), tk.decoders.Strip(content=" ", left=1)]
    elif trainer.byte_fallback:
        decoders.append(tk.decoders.Fuse())
    tokenizer.decoder = tk.decoders.Sequence(decoders)
    # As SpmConverter.tokenizer and a model's added_tokens_decoder register them: CONTROL pieces are
    # special added tokens, USER_DEFINED pieces plain added tokens (both keep their ids).
    added = [(p.piece, p.type == PieceType.CONTROL) for p in pieces if p.type in (PieceType.CONTROL, user_type)]
    tokenizer.add_tokens([tk.AddedToken(piece, normalized=False, special=special) for piece, special in added])
    return tokenizer
