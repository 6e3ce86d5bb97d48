"""Production sizes, clause by clause: each clause is value-checked at the size users run, or says why not.

A clause is covered at production size in one of three ways, and tests/test_production_sizes.py fails
when a clause of the registry is in none (or in two):

- an operation of operations.OPERATIONS cites it and does not opt out of "production" (the generic
  test runs the row at its PRODUCTION size: 128,256-token vocabularies, 1,100 keys, 50,257-row tables);
- a case below (PRODUCTION_CASES) cites it: a row of the same shape as operations.py's, with its own
  inputs and parameters, run by test_generic.py::test_production_size_values at production size under
  the ci and thorough profiles (a fraction of a second each), at QUICK_KEYS / QUICK_VOCAB under quick;
- a clause test runs it at a real size (AT_SIZE_IN_CLAUSE_TESTS: the test, which must cite the clause).

Otherwise the clause is in NO_PRODUCTION_SIZE with the reason: it rejects bad input (no value to
check), it is a scaling or timing claim (measured over a ladder of sizes), it is statistical (the
draws' count, not the vocabulary, sets the test's power), it is a declaration (parameter identity, a
formula of sizes), or the value it constrains is value-checked at size under the clause named.

Sizes here: 1,031 and 1,500 keys (past 1,024, not a multiple of 64 or 128), 128,256-token
vocabularies (Llama 3), 64 to 128 rows.
"""

from __future__ import annotations

from typing import Any

import torch

from specformer.conformance.suite.operations import PRODUCTION_VOCAB, SMALL, Operation, row

ODD_KEYS = 1_031  # prime: past 1,024 and a multiple of no block size
LONG_KEYS = 1_500  # a multiple of 4 (LSH chunks), not of 64
# Under the quick profile (a developer's loop, and specformer's own tests of the suite) the cases run at
# these sizes instead; the ci profile (CI's main job) and thorough run them at production size.
QUICK_KEYS, QUICK_VOCAB = 67, 3_001


def _keys(size: str, production: int = ODD_KEYS) -> int:
    return QUICK_KEYS if size == SMALL else production


def _vocab(size: str) -> int:
    return QUICK_VOCAB if size == SMALL else PRODUCTION_VOCAB


def _randn(generator: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale


# ---------------------------------------------------------------------------------------
# attention: one call of the adapter's `attention` per case, at 1,031 or 1,500 keys


def _attention(op: Any, inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
    query, key, value, *rest = inputs
    kwargs = {k: v for k, v in p.items() if v is not None}
    if rest:
        kwargs["mask"] = rest[0]
    return op(query, key, value, **kwargs)


def _qkv(heads: int, kv_heads: int, queries: int | None, keys: int, dim: int = 64, batch: int = 2):
    """queries None: as many queries as keys (self-attention)."""

    def inputs(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
        keys_here = _keys(size, keys)
        query = _randn(generator, batch, heads, queries or keys_here, dim)
        return (
            query,
            _randn(generator, batch, kv_heads, keys_here, dim),
            _randn(generator, batch, kv_heads, keys_here, dim),
        )

    return inputs


def _padded_keys(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    query, key, value = _qkv(2, 2, 64, ODD_KEYS)(generator, size)
    keys = key.shape[-2]
    real = torch.tensor([keys, keys * 2 // 3])  # the second row's last third of the keys is padding
    mask = (torch.arange(keys) < real[:, None])[:, None, None, :]  # (B, 1, 1, S)
    return query, key, value, mask


def _float_bias(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    query, key, value = _qkv(2, 2, 64, ODD_KEYS)(generator, size)
    return query, key, value, _randn(generator, 1, 2, 64, key.shape[-2], scale=2.0)  # (1, H, L, S), broadcast over B


def _constant_values(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    query, key, _ = _qkv(2, 2, 64, ODD_KEYS)(generator, size)
    # Every key's value is the same vector: the output is that vector exactly when the weights sum to one.
    value = _randn(generator, 2, 2, 1, 64).expand(2, 2, key.shape[-2], 64).contiguous()
    return query, key, value


def _attention_case(clauses: tuple[str, ...], inputs: Any, **defaults: Any) -> Operation:
    # an implementation without an optional parameter a case passes (Capabilities.parameters) is not handed it
    needs = tuple(name for name, value in defaults.items() if value is not None and value is not False)
    needs += ("mask",) if inputs in (_padded_keys, _float_bias) else ()
    return row(
        "attention", "attention", clauses, inputs, _attention, defaults=defaults, float_inputs=(0, 1, 2, 3), needs=needs
    )


ATTENTION_CASES = (
    _attention_case(("ATTN-SDPA-02",), _qkv(2, 2, 64, ODD_KEYS), scale=0.37),
    # the mask cases pass 1/sqrt(D) explicitly: a wrong default scale is SDPA-02's failure, not theirs
    _attention_case(("ATTN-SDPA-03", "ATTN-PAD-01"), _padded_keys, scale=0.125),
    _attention_case(("ATTN-SDPA-04",), _float_bias, scale=0.125),
    _attention_case(("ATTN-SDPA-05",), _constant_values),
    # a decode-like step: 17 queries at the end of 1,031 keys (the declared causal alignment)
    _attention_case(("ATTN-CAUSAL-02",), _qkv(2, 2, 17, ODD_KEYS), causal=True),
    # scale 0.0 is a legal explicit scale (uniform weights over the visible keys) that `scale or 1/sqrt(D)`
    # mistakes for "not given"; causal, so masked scores must stay out of the product with 0
    # (self-attention: with fewer queries than keys the causal alignment, CAUSAL-02, would be under test)
    _attention_case(("ATTN-CAUSAL-01",), _qkv(1, 1, None, ODD_KEYS), causal=True, scale=0.0),
    _attention_case(("ATTN-GQA-01",), _qkv(8, 2, 32, LONG_KEYS)),  # not causal: a causal bug is not GQA's
    _attention_case(("ATTN-CROSS-01",), _qkv(2, 2, 48, LONG_KEYS)),
)


# ---------------------------------------------------------------------------------------
# sampling: filters over a 128,256-token vocabulary, with ties where the clause is about ties


def _tied_logits(generator: torch.Generator, size: str) -> tuple[torch.Tensor]:
    # Logits rounded to 1/4: thousands of ties everywhere, at the k-th value and across the top-p boundary.
    return ((_randn(generator, 2, _vocab(size), scale=3.0) * 4).round() / 4,)


def _peaked_logits(generator: torch.Generator, size: str) -> tuple[torch.Tensor]:
    # One dominant token: top-p and min-p alone would keep one token, min_tokens_to_keep more.
    logits = _randn(generator, 1, _vocab(size), scale=1.0)
    logits[0, 1234] += 30.0
    return (logits,)


def _plain_logits(generator: torch.Generator, size: str) -> tuple[torch.Tensor]:
    return (_randn(generator, 2, _vocab(size), scale=3.0),)


def _sampling_case(name: str, clauses: tuple[str, ...], inputs: Any, call: Any, **defaults: Any) -> Operation:
    return row(
        "sampling",
        name,
        clauses,
        inputs,
        call,
        defaults=defaults,
        dtypes=(torch.float64, torch.float32),  # float64 first, as operations.py's filters (boundary flips)
    )


def _keyword_filter(name: str) -> Any:
    def call(op: Any, inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
        return op(inputs[0], p[name], **{k: v for k, v in p.items() if k != name})

    return call


def _process(op: Any, inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
    from specformer.reference.sampling import SamplingParams

    return op(inputs[0], SamplingParams(**p))


SAMPLING_CASES = (
    _sampling_case("top_k", ("SAMP-TOPK-02",), _tied_logits, _keyword_filter("top_k"), top_k=1_000),
    _sampling_case(
        "top_p", ("SAMP-TOPP-04",), _peaked_logits, _keyword_filter("top_p"), top_p=0.5, min_tokens_to_keep=700
    ),
    _sampling_case(
        "min_p", ("SAMP-MINP-04",), _peaked_logits, _keyword_filter("min_p"), min_p=0.5, min_tokens_to_keep=700
    ),
    # every filter on: each sees the survivors of the one before; two rows. Temperature 1: where temperature
    # goes in the order is SAMP-ORDER-01's (its row), and a case citing ORDER-02 must not blame that bug here
    _sampling_case(
        "process",
        ("SAMP-ORDER-02",),
        _plain_logits,
        _process,
        temperature=1.0,
        top_k=5_000,
        top_p=0.8,
        min_p=0.01,
    ),
)


# ---------------------------------------------------------------------------------------
# losses: 128,256-way cross-entropy with ignored rows, smoothing, reductions, token-level means


def _classification(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    vocab = _vocab(size)
    labels = torch.randint(0, vocab, (64,), generator=generator)
    labels[torch.rand(64, generator=generator) < 0.3] = -100  # about 30% ignored rows
    labels[0] = vocab - 1  # the last class
    return _randn(generator, 64, vocab, scale=3.0), labels


def _full_sequences(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    vocab = _vocab(size)
    labels = torch.randint(0, vocab, (2, 48), generator=generator)  # rows of equal length: nothing ignored
    return _randn(generator, 2, 48, vocab, scale=3.0), labels


def _padded_sequences(generator: torch.Generator, size: str) -> tuple[torch.Tensor, ...]:
    vocab = _vocab(size)
    labels = torch.randint(0, vocab, (2, 48), generator=generator)
    labels[1, 20:] = -100  # a shorter second sequence: the mean is over the batch's tokens
    return _randn(generator, 2, 48, vocab, scale=3.0), labels


def _loss_case(name: str, clauses: tuple[str, ...], inputs: Any, **defaults: Any) -> Operation:
    def call(op: Any, inputs: tuple[Any, ...], p: dict[str, Any], adapter: Any) -> Any:
        return op(*inputs, **p)

    return row("losses", name, clauses, inputs, call, defaults=defaults)


LOSS_CASES = (
    _loss_case("cross_entropy", ("LOSS-CE-04",), _classification),
    _loss_case("cross_entropy", ("LOSS-CE-06",), _classification, label_smoothing=0.1),
    _loss_case("cross_entropy", ("LOSS-CE-07",), _classification, reduction="none"),
    # apart: a mean of sequence means (LOSS-CLM-03) is the token mean when rows are equally long
    _loss_case("causal_lm_loss", ("LOSS-CLM-02",), _full_sequences),
    _loss_case("causal_lm_loss", ("LOSS-CLM-03",), _padded_sequences),
    _loss_case("causal_lm_loss", ("LOSS-CLM-04",), _padded_sequences, num_items_in_batch=1_000),
    _loss_case("masked_lm_loss", ("LOSS-MLM-01",), _padded_sequences),
)

PRODUCTION_CASES: tuple[Operation, ...] = ATTENTION_CASES + SAMPLING_CASES + LOSS_CASES


def case_id(op: Operation) -> str:
    return f"{op.id}-{'+'.join(op.clauses)}"


def _counted_rows(inputs: tuple[Any, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, V) logits and (N,) labels of the targets a cross-entropy case counts (ignored rows left out)."""
    logits, labels = inputs[0], inputs[1]
    kept = labels != -100
    return logits[kept], labels[kept]


def _counted_next_tokens(inputs: tuple[Any, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The same for a causal-LM case: position t's logits and label t + 1, ignored targets left out."""
    logits, labels = inputs[0], inputs[1]
    return _counted_rows((logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1)))


def _each_counted_row(inputs: tuple[Any, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each counted target alone, (1, V) and (1,): the plain cross-entropy of one row is that row's loss."""
    logits, labels = _counted_rows(inputs)
    return [(logits[i : i + 1], labels[i : i + 1]) for i in range(labels.numel())]


# The loss cases whose clause is a rule on top of the plain cross-entropy (ignored rows, smoothing, reduction,
# the shift, the token mean): case id -> the plain LOSS-CE-01 inputs of the same rows, at the case's own grain
# (one call for a mean; a call per row for reduction="none", whose error is each row's, which a mean of the
# rows averages away). Over 128,256 classes the float32 loss can miss the tolerance by its own accumulation;
# test_generic judges such a case's clause only where every plain cross-entropy of the same rows holds, and
# blames that accumulation on LOSS-CE-01 (whose production row judges it) otherwise.
def _plain_checks(op: Operation) -> Any:
    """The function from a case's inputs to its plain cross-entropy calls' inputs."""
    if op.name == "causal_lm_loss":
        return lambda inputs: [_counted_next_tokens(inputs)]
    if op.defaults.get("reduction") == "none":
        return _each_counted_row
    return lambda inputs: [_counted_rows(inputs)]


PLAIN_CROSS_ENTROPY_OF: dict[str, Any] = {
    case_id(op): _plain_checks(op)
    for op in LOSS_CASES
    if op.clauses[0] in ("LOSS-CE-04", "LOSS-CE-06", "LOSS-CE-07", "LOSS-CLM-02", "LOSS-CLM-03")
}


# ---------------------------------------------------------------------------------------
# Clause tests that value-check their clause at a real size (each cites the clause)

AT_SIZE_IN_CLAUSE_TESTS: dict[str, str] = {
    "KV-EQ-01": "test_kv_cache::test_dynamic_cache_long_sequence",  # 1,100 tokens, the last 4 decoded
    "MODEL-BERT-02": "test_models::test_minilm_real_weights",  # the real all-MiniLM-L6-v2 weights
    "TOK-BPE-06": "test_tokenizers_byte_bpe::test_tekken_vocabularies_agree",  # tekken's 131k vocabularies
    "TOK-WP-05": "test_tokenizers_wordpiece::test_minilm_vocabulary_agrees",  # MiniLM's 30,522 pieces
    "TOK-SP-10": "test_tokenizers_sentencepiece::test_mistral_sentencepiece_models_agree",  # Mistral's models
    "TOK-UNI-05": "test_tokenizers_sentencepiece::test_trained_unigram_models_agree",  # trained on the corpus
    "AUD-FEAT-01": "test_audio::test_log_mel_features",  # 30-second waveforms, 80 and 128 mel bins
    "VIS-POS-04": "test_vision::test_embeddings_interpolate_for_another_image_size",
}


# ---------------------------------------------------------------------------------------
# Clauses without a production-size value check, and why

_REJECTS = "a rejection clause: bad input raises a ValueError; there is no value to check at any size"
_SCALING = "a scaling claim: time or memory measured over a ladder of sizes up to production length, not a value"
_METRIC = "a measurement's definition (a timed run's TTFT, TPOT, throughput or memory split), not a value"
_STATISTICAL = (
    "a statistical clause: a test on the rate or distribution of draws, whose power the number of draws sets, "
    "not the vocabulary or the length"
)
_DECLARATION = "a declaration checked exactly (parameter identity, a shape, a count formula): no arithmetic grows"
_REAL_VOCABULARIES = (
    "a rule of the encoder that the agreement clauses (TOK-BPE-06 tekken, TOK-WP-05 MiniLM, TOK-SP-10 Mistral, "
    "TOK-UNI-05) apply to every chunk of a real vocabulary's corpus run, where a break of it is a disagreement"
)
_TEXT_RULE = (
    "a rule about the text (normalisation, templates, offsets, truncation, padding) checked exactly on the "
    "strings that exercise it; the vocabulary's size does not enter"
)
_TRAINING = (
    "training is checked exactly on corpora built to force each tie and stop; the bpe_train benchmark checks a "
    "trained table at corpus size against the reference and fails TOK-TRAIN-01 when it differs"
)
_PROPERTY = "a property checked by perturbing the inputs; the values it constrains are value-checked at size under "
_HEAD_SIZE = (
    "reads (B, L, D) states with a small classifier (2 to a few labels): no vocabulary and no size-dependent "
    "path; the vocabulary-sized heads (HEAD-LM-01, HEAD-MLM-01) are value-checked at 128,256 tokens"
)
_LAYER_SIZE = "whole layers at width 32 (real widths only scale the same matmuls); MODEL-BERT-02 runs real weights"
_DECODER_SIZE = (
    "the decoder's cache clauses run at their own lengths; KV-EQ-01's long case decodes past 1,100 tokens "
    "through the same cache"
)
_GENERATION_LOOP = (
    "a rule of the decoding loop (stopping, lengths, beams) checked exactly on short runs of a small model; "
    "the vocabulary-sized processors are value-checked at 128,256 tokens (GEN-REP-01, GEN-FREQ-01, GEN-NGRAM-01)"
)
_OBJECTIVE = "an index rule of a pretraining corruption checked exactly on every draw; no size-dependent arithmetic"
_AUDIO_FIXED = "Whisper's front end has one size: every call pads or trims to 30 s, so AUD-FEAT-01's case is it"
_VISION = "checked on ViT-B/16's 224 x 224 grid at narrow width; VIS-PATCH-01 is value-checked at that size"

# Measured with scripts/mutant_blame_generic.py: at production size these answers fail mutants at clauses
# their bug does not break, as one value mixes several rules; the pattern runs at size under ATTN-LOCAL-01.
_ONE_VALUE_TWO_RULES = (
    "Longformer's answer mixes local rows (ATTN-LOCAL-04) and global rows (ATTN-LOCAL-05): a value check "
    "at size cannot say which broke; local_global_attention's row runs the pattern at 1,100 keys"
)
_LSH_VALUE = (
    "LSH attention's answer combines chunking (LSH-04), self-exclusion (LSH-03) and the rounds' weights "
    "(LSH-05): a value check at size cannot say which broke; lsh_buckets runs at 1,100 positions"
)

NO_PRODUCTION_SIZE: dict[str, str] = {
    # attention
    "ATTN-PAD-02": "an empty row's variant (zeros, NaN, uniform) is a per-row rule checked exactly; size is irrelevant",
    "ATTN-HEADS-01": _PROPERTY + "ATTN-GQA-01's case (8 heads, 1,500 keys)",
    "ATTN-LOCAL-04": _ONE_VALUE_TWO_RULES,
    "ATTN-LOCAL-05": _ONE_VALUE_TWO_RULES,
    "ATTN-LOCAL-06": _ONE_VALUE_TWO_RULES,
    "ATTN-LSH-02": _LSH_VALUE,
    "ATTN-LSH-03": _LSH_VALUE,
    "ATTN-LSH-04": _LSH_VALUE,
    "ATTN-LSH-05": _LSH_VALUE,
    "ATTN-LSH-06": _PROPERTY + "attention.attention's production row (full attention at 1,100 keys)",
    "ATTN-LSH-07": _REJECTS,
    "ATTN-MHA-02": _PROPERTY + "attention.multi_head_attention's production row (1,100 positions)",
    "ATTN-MHA-03": _PROPERTY + "attention.multi_head_attention's production row (1,100 positions)",
    "ATTN-MHA-04": _PROPERTY + "ATTN-SDPA-03's case (padding masks at 1,031 keys)",
    "ATTN-MHA-05": _PROPERTY + "attention.multi_head_attention's production row (causal, 1,100 positions)",
    "ATTN-CROSS-02": _PROPERTY + "ATTN-SDPA-03's case (padding masks at 1,031 keys)",
    "ATTN-CROSS-03": _PROPERTY + "ATTN-CROSS-01's case (48 queries, 1,500 keys)",
    # audio
    "AUD-IN-01": _REJECTS,
    "AUD-IN-02": _REJECTS,
    "AUD-IN-03": _REJECTS,
    "AUD-PAD-01": _AUDIO_FIXED,
    "AUD-PAD-02": _AUDIO_FIXED,
    "AUD-STFT-01": _DECLARATION,
    "AUD-STFT-04": _AUDIO_FIXED,
    "AUD-MEL-01": "the filter bank's size is Whisper's (201 x 80 and 201 x 128), checked against librosa's at both",
    "AUD-MEL-02": "the filter bank's size is Whisper's (201 x 80 and 201 x 128), checked at both",
    "AUD-MEL-03": "the filter bank's size is Whisper's (201 x 80 and 201 x 128), checked at both",
    "AUD-LOG-01": _AUDIO_FIXED,
    "AUD-LOG-02": _AUDIO_FIXED,
    "AUD-LOG-03": _AUDIO_FIXED,
    "AUD-LOG-04": _AUDIO_FIXED,
    "AUD-FEAT-02": _DECLARATION,
    "AUD-MASK-01": _AUDIO_FIXED,
    "AUD-MASK-02": _AUDIO_FIXED,
    # complexity
    **{
        clause_id: _SCALING
        for clause_id in (
            "CPLX-ATTN-01",
            "CPLX-ATTN-02",
            "CPLX-LOCAL-01",
            "CPLX-LOCAL-02",
            "CPLX-LSH-01",
            "CPLX-LSH-02",
            "CPLX-GLOBAL-01",
            "CPLX-GLOBAL-02",
            "CPLX-DECODE-01",
            "CPLX-DECODE-02",
            "KV-COST-01",
        )
    },
    # embeddings
    "EMB-ABS-02": _REJECTS,
    "EMB-SEG-02": _PROPERTY + "embeddings.bert_embeddings' production row (50,257-row table, 512 positions)",
    "EMB-SIN-02": _REJECTS,
    "EMB-AXIAL-02": _DECLARATION,
    "EMB-AXIAL-03": _REJECTS,
    "EMB-AXIAL-04": _REJECTS,
    # generation
    "GEN-REP-03": _PROPERTY + "generation.repetition_penalty's production row (128,256 tokens)",
    "GEN-REP-04": _PROPERTY + "generation.repetition_penalty's production row (128,256 tokens)",
    "GEN-REP-05": _PROPERTY + "generation.repetition_penalty's production row (128,256 tokens)",
    "GEN-REP-06": _REJECTS,
    "GEN-FREQ-02": _REJECTS,
    "GEN-FREQ-03": _PROPERTY + "generation.frequency_penalty's production row (128,256 tokens)",
    "GEN-NGRAM-02": _PROPERTY + "generation.no_repeat_ngram's production row (128,256 tokens)",
    "GEN-NGRAM-03": _REJECTS,
    "GEN-ORDER-01": _GENERATION_LOOP,
    "GEN-LEN-01": _GENERATION_LOOP,
    "GEN-LEN-02": _GENERATION_LOOP,
    "GEN-MIN-01": _GENERATION_LOOP,
    "GEN-MIN-02": _REJECTS,
    "GEN-EOS-01": _GENERATION_LOOP,
    "GEN-EOS-02": _GENERATION_LOOP,
    "GEN-EOS-03": _GENERATION_LOOP,
    "GEN-STOP-01": _GENERATION_LOOP,
    "GEN-STOP-02": _REJECTS,
    "GEN-STOP-03": _GENERATION_LOOP,
    "GEN-STOP-04": _GENERATION_LOOP,
    "GEN-SCORE-01": _GENERATION_LOOP,
    "GEN-GREEDY-01": _GENERATION_LOOP,
    "GEN-BATCH-01": _GENERATION_LOOP,
    "GEN-SAMPLE-01": _STATISTICAL,
    "GEN-SAMPLE-02": _STATISTICAL,
    "GEN-BEAM-01": _GENERATION_LOOP,
    "GEN-BEAM-02": _GENERATION_LOOP,
    "GEN-BEAM-03": _GENERATION_LOOP,
    "GEN-BEAM-04": _GENERATION_LOOP,
    "GEN-BEAM-05": _GENERATION_LOOP,
    "GEN-BEAM-06": _GENERATION_LOOP,
    "GEN-MET-01": _METRIC,
    "GEN-MET-02": _METRIC,
    "GEN-MET-03": _METRIC,
    "GEN-MET-04": _METRIC,
    # heads
    "HEAD-TIE-01": _DECLARATION,
    "HEAD-TIE-02": _DECLARATION,
    "HEAD-GEN-02": _PROPERTY + "heads.generation_logits' production row (128,256 tokens)",
    "HEAD-POOL-01": _HEAD_SIZE,
    "HEAD-MLM-02": _DECLARATION,
    "HEAD-MLM-03": "the loss over labelled positions only is LOSS-CE-04's rule, value-checked at 128,256 tokens",
    "HEAD-NSP-01": _HEAD_SIZE,
    "HEAD-PRE-01": "a sum of two losses, each value-checked at size under LOSS-CE-04 and LOSS-MLM-01",
    "HEAD-SEQ-01": _HEAD_SIZE,
    "HEAD-SEQ-02": _HEAD_SIZE,
    "HEAD-SEQ-03": _HEAD_SIZE,
    "HEAD-SEQ-04": _HEAD_SIZE,
    "HEAD-TOK-01": _HEAD_SIZE,
    "HEAD-TOK-02": "an index alignment of word labels to pieces, checked exactly; no size-dependent arithmetic",
    "HEAD-QA-01": _HEAD_SIZE,
    "HEAD-QA-02": _HEAD_SIZE,
    "HEAD-QA-03": _HEAD_SIZE,
    "HEAD-ERR-01": _REJECTS,
    # kv_cache
    "KV-MODEL-01": _DECODER_SIZE,
    "KV-MODEL-02": _DECODER_SIZE,
    "KV-SHAPE-01": _DECLARATION,
    "KV-SHAPE-02": _DECODER_SIZE,
    "KV-LEN-01": _DECLARATION,
    "KV-SIZE-01": _DECLARATION,
    "KV-EQ-02": _DECODER_SIZE,
    "KV-EQ-03": _DECODER_SIZE,
    "KV-PAD-01": _DECODER_SIZE,
    "KV-PAD-02": _DECODER_SIZE,
    "KV-STATIC-01": _REJECTS,
    "KV-STATIC-02": _DECODER_SIZE,
    "KV-SLIDE-01": _DECODER_SIZE,
    "KV-SLIDE-02": _DECLARATION,
    "KV-SLIDE-03": _DECODER_SIZE,
    "KV-PREFIX-01": _DECODER_SIZE,
    "KV-STATE-01": _DECODER_SIZE,
    # losses
    "LOSS-CE-02": "extreme logits (+-1e4) are a per-row rule checked exactly; the row's width does not enter",
    "LOSS-CE-03": "half-precision upcasting is a dtype rule, checked at 128 classes in float16 and bfloat16",
    "LOSS-CE-05": "the mean over no counted rows is 0/0 by construction; size does not enter",
    "LOSS-CE-08": _REJECTS,
    "LOSS-CE-09": _REJECTS,
    "LOSS-CE-10": _PROPERTY + "LOSS-CE-01's production row (128,256 classes)",
    "LOSS-ACCUM-01": _PROPERTY + "LOSS-CLM-04's case (num_items_in_batch at 128,256 tokens)",
    "LOSS-MSE-01": "an elementwise mean: no size-dependent path",
    "LOSS-BCE-01": "an elementwise mean: no size-dependent path",
    "LOSS-SEQ-01": "a (B, C) cross-entropy: cross_entropy's production case covers the large-C path",
    # models
    **{
        clause_id: _LAYER_SIZE
        for clause_id in (
            "MODEL-ENC-01",
            "MODEL-ENC-02",
            "MODEL-ACT-01",
            "MODEL-ACT-02",
            "MODEL-DEC-01",
            "MODEL-DEC-02",
            "MODEL-DEC-03",
            "MODEL-XATTN-01",
            "MODEL-XATTN-02",
            "MODEL-ENCDEC-01",
            "MODEL-ENCDEC-02",
            "MODEL-ENCDEC-03",
            "MODEL-BERT-01",
            "MODEL-GPT2-01",
            "MODEL-GPT2-02",
            "MODEL-IO-02",
        )
    },
    "MODEL-IO-01": _REJECTS,
    "MODEL-IO-03": _REJECTS,
    # whole encoder-decoders for conditional generation: the same matmuls at width 32, 2 + 2 layers
    **{
        clause_id: _LAYER_SIZE
        for clause_id in (
            "MODEL-BART-01",
            "MODEL-BART-02",
            "MODEL-T5-01",
            "MODEL-T5-03",
            "MODEL-T5-04",
            "MODEL-S2S-01",
            "MODEL-S2S-02",
            "MODEL-S2S-03",
        )
    },
    "MODEL-T5-02": "an integer bucket formula, checked exactly over relative positions -300..299 (past max_distance)",
    # objectives
    "OBJ-MLM-01": _OBJECTIVE,
    "OBJ-MLM-02": _STATISTICAL,
    "OBJ-MLM-03": _OBJECTIVE,
    "OBJ-MLM-04": _STATISTICAL,
    "OBJ-MLM-05": _STATISTICAL,
    "OBJ-MLM-06": _OBJECTIVE,
    "OBJ-MLM-07": _REJECTS,
    "OBJ-WWM-01": _OBJECTIVE,
    "OBJ-WWM-02": _STATISTICAL,
    "OBJ-WWM-03": _STATISTICAL,
    "OBJ-NSP-01": _OBJECTIVE,
    "OBJ-NSP-02": _STATISTICAL,
    "OBJ-NSP-03": _OBJECTIVE,
    "OBJ-T5-01": _OBJECTIVE,
    "OBJ-T5-02": _OBJECTIVE,
    "OBJ-T5-03": _OBJECTIVE,
    "OBJ-T5-04": _OBJECTIVE,
    "OBJ-T5-05": _OBJECTIVE,
    "OBJ-T5-06": "an integer formula; 512 (T5's input length) is one of its boundary values",
    "OBJ-T5-07": _REJECTS,
    "OBJ-BART-01": _STATISTICAL,
    "OBJ-BART-02": _OBJECTIVE,
    "OBJ-BART-03": _OBJECTIVE,
    "OBJ-BART-04": _OBJECTIVE,
    "OBJ-BART-05": _STATISTICAL,
    "OBJ-BART-06": _REJECTS,
    "OBJ-SHIFT-01": _OBJECTIVE,
    "OBJ-SHIFT-02": _REJECTS,
    # sampling
    "SAMP-TEMP-02": _PROPERTY + "SAMP-TEMP-01's production row (128,256 tokens)",
    "SAMP-TEMP-03": _REJECTS,
    "SAMP-TOPK-03": _PROPERTY + "SAMP-TOPK-01's production row (128,256 tokens; k = 10**9 is a boundary value)",
    "SAMP-TOPK-04": _REJECTS,
    "SAMP-TOPK-05": _PROPERTY + "SAMP-TOPK-02's case (tied logits at 128,256 tokens)",
    "SAMP-TOPP-02": "an exact boundary needs probabilities that sum to p exactly: hand-built rows, size irrelevant",
    "SAMP-TOPP-06": (
        "which of the tokens tied across the boundary survive is unspecified, so there is no answer to compare "
        "(transformers 5.24 keeps other tied tokens than the reference at 128,256 tokens); the count is checked on "
        "hand-built ties, and top-p at 128,256 tokens is SAMP-TOPP-01's production row"
    ),
    "SAMP-TOPP-03": _PROPERTY + "SAMP-TOPP-01's production row (128,256 tokens)",
    "SAMP-TOPP-05": _REJECTS,
    "SAMP-MINP-02": _PROPERTY + "SAMP-MINP-01's production row (128,256 tokens)",
    "SAMP-MINP-03": _REJECTS,
    "SAMP-ORDER-03": _PROPERTY + "SAMP-ORDER-01's production row (128,256 tokens)",
    "SAMP-DRAW-01": _STATISTICAL,
    "SAMP-DRAW-02": _STATISTICAL,
    "SAMP-DRAW-03": _STATISTICAL,
    "SAMP-DRAW-04": _STATISTICAL,
    "SAMP-EDGE-01": _REJECTS,
    "SAMP-EDGE-02": "a row with nothing left is built by hand (every logit -inf); size does not enter",
    "SAMP-EDGE-03": "a vocabulary of one is its own size",
    "SAMP-KEEP-01": _PROPERTY + "SAMP-ORDER-02's case (every filter over 128,256 tokens, two rows)",
    "SAMP-EDGE-04": _PROPERTY + "SAMP-ORDER-02's case (every filter over 128,256 tokens, two rows)",
    "SAMP-EDGE-05": _PROPERTY + "every sampling production row (inputs unchanged, shape and dtype kept)",
    # tokenizers
    **{
        clause_id: _REAL_VOCABULARIES
        for clause_id in (
            "TOK-GEN-01",
            "TOK-GEN-02",
            "TOK-BL-01",
            "TOK-BL-02",
            "TOK-BL-03",
            "TOK-BL-05",
            "TOK-BL-06",
            "TOK-BPE-01",
            "TOK-BPE-02",
            "TOK-BPE-03",
            "TOK-BPE-05",
            "TOK-BERT-01",
            "TOK-BERT-02",
            "TOK-BERT-03",
            "TOK-BERT-04",
            "TOK-BERT-06",
            "TOK-WP-01",
            "TOK-WP-02",
            "TOK-WP-03",
            "TOK-WP-04",
            "TOK-SP-01",
            "TOK-SP-02",
            "TOK-SP-04",
            "TOK-SP-05",
            "TOK-SP-06",
            "TOK-SP-07",
            "TOK-SP-08",
            "TOK-UNI-01",
            "TOK-UNI-02",
            "TOK-UNI-03",
            "TOK-UNI-04",
        )
    },
    **{
        clause_id: _TEXT_RULE
        for clause_id in (
            "TOK-GEN-04",
            "TOK-BL-04",
            "TOK-BL-07",
            "TOK-BPE-04",
            "TOK-BERT-05",
            "TOK-BERT-07",
            "TOK-OFF-01",
            "TOK-OFF-02",
            "TOK-OFF-03",
            "TOK-SP-03",
            "TOK-SP-09",
            "TOK-SPECIAL-01",
            "TOK-SPECIAL-02",
            "TOK-POST-01",
            "TOK-POST-02",
            "TOK-POST-03",
            "TOK-POST-04",
            "TOK-TRUNC-01",
            "TOK-TRUNC-02",
            "TOK-TRUNC-03",
            "TOK-TRUNC-04",
            "TOK-PAD-01",
            "TOK-PAD-02",
            "TOK-PAD-03",
            "TOK-PAD-04",
        )
    },
    "TOK-GEN-03": _REJECTS,
    "TOK-TRUNC-05": _REJECTS,
    "TOK-TRUNC-06": _REJECTS,
    "TOK-TRAIN-01": _TRAINING,
    "TOK-TRAIN-02": _TRAINING,
    "TOK-TRAIN-03": _TRAINING,
    # vision
    "VIS-PATCH-02": _VISION,
    "VIS-PATCH-03": _REJECTS,
    "VIS-PATCH-04": _REJECTS,
    "VIS-CLS-01": _VISION,
    "VIS-CLS-02": _VISION,
    "VIS-POS-01": _VISION,
    "VIS-POS-02": _REJECTS,
    "VIS-POS-03": _VISION,
    "VIS-POS-05": _VISION,
    "VIS-POS-06": _VISION,
    "VIS-ENC-01": "a ViT encoder at real width is out of CI's budget; narrow width runs the same stack",
    "VIS-POOL-01": "pooling then a linear map: no size-dependent path",
    "VIS-POOL-02": _VISION,
    "VIS-POOL-03": _VISION,
    "VIS-CNX-01": "pooling, LayerNorm then a linear map: no size-dependent path",
    "VIS-CNX-02": "pooling, LayerNorm then a linear map: no size-dependent path",
    "VIS-PRE-01": _VISION,
    "VIS-PRE-02": _VISION,
    "VIS-PRE-03": _REJECTS,
}
