"""Conformance tests for spec/generation.md: penalties, stopping, greedy, sampling, beam search.

Processors are checked on logits (known answers from the spec, then comparison with the
reference on generated inputs). The loop is checked on a small random decoder
(generation_inputs), whose logits spread over several units so that greedy and beam choices are
never decided by rounding: tokens must equal the float64 reference's exactly, scores within
the numerical policy. Scores are also checked by teacher forcing: the reference's processed
logits recomputed on the adapter's own sequences, so a sampled run is checked too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch

from specformer.conformance.bench.timer import torch_threads
from specformer.conformance.numerics import annotate, assert_close, chi_square_p_value, fail
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite import checks
from specformer.conformance.suite import generation_inputs as inputs
from specformer.conformance.suite.checks import use_dtype
from specformer.conformance.suite.generation_inputs import BASE, MODEL_IDS, MODELS, TINY_VOCAB
from specformer.reference import generation as ref
from specformer.reference import kv_cache
from specformer.reference.generation import GenerationConfig
from specformer.reference.sampling import SamplingParams

DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
ALPHA, DRAWS = 1e-3, 4000
VARIANT_CLAUSES = {
    "GEN-REP-04": "repetition_scope",
    "GEN-FREQ-03": "penalty_scope",
    "GEN-STOP-03": "stop_scope",
    "GEN-STOP-04": "stop_text",
}
# Token texts for stop strings: 64 distinct two-letter pieces.
TOKEN_STRINGS = tuple(a + b for a, b in itertools.islice(itertools.product("abcdefgh", "ijklmnop"), BASE.vocab_size))


def variants(adapter) -> dict[str, str]:
    return {keyword: adapter.variant(clause_id) for clause_id, keyword in VARIANT_CLAUSES.items()}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared CPU: a thread pool only adds contention (seconds instead of milliseconds)."""
    with torch_threads(1):
        yield


def expect_value_error(call: Callable[[], object], parameter: str, value: object) -> None:
    """The call must raise ValueError whose message names the parameter."""
    checks.expect_value_error(call, parameter, what=f"{parameter}={value!r}")


def random_logits(batch: int, vocab: int, *, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.randn(batch, vocab, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3).to(dtype)


def compare_processor(
    actual: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor], logits: torch.Tensor, what: str
) -> None:
    assert_close(actual, compute(logits.double()), compute(logits), what=what)


def reference_output(config: GenerationConfig, prompt: torch.Tensor, adapter, model_config=BASE, **kwargs):
    return ref.generate(inputs.model(model_config, dtype=torch.float64), prompt, config, **variants(adapter), **kwargs)


def assert_same_tokens(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    if actual.shape != expected.shape or not torch.equal(actual, expected):
        fail(
            f"{what}: sequences {actual.tolist()}, expected {expected.tolist()}",
            actual=actual.tolist(),
            expected=expected.tolist(),
        )


def teacher_forced_scores(
    sequences: torch.Tensor,
    prompt_length: int,
    steps: int,
    config: GenerationConfig,
    adapter,
    dtype: torch.dtype,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The reference's processed logits for each step of the given sequences: (B, steps, V)."""
    weights = inputs.model(BASE, dtype=dtype)
    mask = None
    if attention_mask is not None:
        mask = torch.cat([attention_mask, torch.ones(len(sequences), steps, dtype=torch.long)], dim=1)
    logits = kv_cache.decoder_forward(weights, sequences[:, : prompt_length + steps], attention_mask=mask)
    keywords = {k: v for k, v in variants(adapter).items() if k in ("repetition_scope", "penalty_scope")}
    rows = []
    for t in range(steps):
        step = logits[:, prompt_length - 1 + t]
        step = step.float() if dtype != torch.float64 else step
        rows.append(
            ref.process_step(
                step,
                sequences[:, : prompt_length + t],
                config,
                prompt_length=prompt_length,
                attention_mask=attention_mask,
                **keywords,
            )
        )
    return torch.stack(rows, dim=1)


def live_steps(sequences: torch.Tensor, prompt_length: int, eos: tuple[int, ...]) -> list[int]:
    """Per row, how many generated steps precede and include its first EOS (all if none)."""
    out = []
    for row in sequences[:, prompt_length:].tolist():
        ends = [i for i, t in enumerate(row) if t in eos]
        out.append(ends[0] + 1 if ends else len(row))
    return out


# ---------------------------------------------------------------------------------------
# Repetition penalty


def check_spec_examples(adapter, clause_id: str) -> None:
    """Run the clause's worked examples (spec/generation.md): a logits processor on float32 logits
    and int64 ids with the example's arguments, compared with the logits it gives (`processed`,
    under the numerical policy) or the tokens it bans (`banned`, -inf per row)."""
    for example in checks.spec_examples(adapter, clause_id):
        data = example.data
        logits, ids = torch.tensor(data["logits"]), torch.tensor(data["input_ids"])
        actual = require(adapter, data["operation"])(logits.clone(), ids, *data["positional"], **data["keywords"])
        what = f"spec example {example.source}: {data['operation']} of {data['logits']} after {data['input_ids']}"
        if "banned" in data:
            banned = [torch.isneginf(row).nonzero().flatten().tolist() for row in actual]
            if banned != data["banned"]:
                fail(f"{what}: banned {banned}, expected {data['banned']}", banned=banned)
        else:
            expected = torch.tensor(data["processed"])
            assert_close(actual, expected.double(), expected, what=what)


@clause("GEN-REP-01")
def test_repetition_known_answer(adapter) -> None:
    check_spec_examples(adapter, "GEN-REP-01")


@clause("GEN-REP-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("penalty", [0.5, 1.3, 7.0])
def test_repetition_matches_reference(adapter, dtype, penalty) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "repetition_penalty")
    logits = random_logits(4, 50, seed=1, dtype=dtype)
    ids = inputs.token_ids(8, 4, seed=2, vocab=50).T  # (4, 8), non-contiguous
    scope = variants(adapter)["repetition_scope"]
    with annotate(penalty=penalty):
        compare_processor(
            op(logits.clone(), ids, penalty, prompt_length=3),
            lambda x: ref.repetition_penalty(x, ids, penalty, prompt_length=3, repetition_scope=scope),
            logits,
            "repetition penalty",
        )


@clause("GEN-REP-02")
def test_repetition_once_per_token(adapter) -> None:
    op = require(adapter, "repetition_penalty")
    actual = op(torch.tensor([[3.0, -3.0, 1.0]]), torch.tensor([[0, 0, 0, 1, 1]]), 1.5, prompt_length=0)
    if actual.tolist() != [[2.0, -4.5, 1.0]]:
        fail(f"token 0 seen 3 times, token 1 twice, penalty 1.5: got {actual.tolist()}, expected [2.0, -4.5, 1.0]")


@clause("GEN-REP-03")
def test_repetition_identity_and_unseen(adapter) -> None:
    op = require(adapter, "repetition_penalty")
    logits = random_logits(2, 30, seed=3)
    ids = torch.tensor([[1, 2, 3], [4, 4, 5]])
    same = op(logits.clone(), ids, 1.0, prompt_length=0)
    if not torch.equal(same, logits):
        fail("penalty 1.0 changed the logits")
    changed = op(logits.clone(), ids, 2.0, prompt_length=0)
    unseen = torch.ones_like(logits, dtype=torch.bool)
    unseen[0, [1, 2, 3]] = False
    unseen[1, [4, 5]] = False
    if not torch.equal(changed[unseen], logits[unseen]):
        fail("penalty 2.0 changed the logits of tokens that were never seen")


@clause("GEN-REP-04")
def test_repetition_prompt_scope(adapter) -> None:
    op = require(adapter, "repetition_penalty")
    logits = torch.tensor([[4.0, 4.0, 4.0, 4.0]])
    actual = op(logits.clone(), torch.tensor([[0, 1, 2]]), 2.0, prompt_length=2)  # prompt [0, 1], generated [2]
    scope = variants(adapter)["repetition_scope"]
    expected = [[2.0, 2.0, 2.0, 4.0]] if scope == "prompt-and-generated" else [[4.0, 4.0, 2.0, 4.0]]
    if actual.tolist() != expected:
        fail(f"scope {scope}: prompt [0, 1], generated [2]: got {actual.tolist()}, expected {expected}")


@clause("GEN-REP-05")
def test_repetition_ignores_left_padding(adapter) -> None:
    op = require(adapter, "repetition_penalty")
    logits = torch.tensor([[4.0, 4.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0]])
    ids = torch.tensor([[3, 3, 1, 2], [3, 0, 1, 2]])
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])  # row 0: two pads of id 3
    actual = op(logits.clone(), ids, 2.0, prompt_length=4, attention_mask=mask)
    expected = [[4.0, 2.0, 2.0, 4.0], [2.0, 2.0, 2.0, 2.0]]
    if actual.tolist() != expected:
        fail(f"pad id 3 counted as a token: got {actual.tolist()}, expected {expected}")


@clause("GEN-REP-06")
@pytest.mark.parametrize("penalty", [0.0, -1.0, math.nan, math.inf])
def test_repetition_rejects_bad_penalty(adapter, penalty) -> None:
    op = require(adapter, "repetition_penalty")
    expect_value_error(
        lambda: op(torch.zeros(1, 4), torch.tensor([[1]]), penalty, prompt_length=0), "repetition_penalty", penalty
    )


@clause("GEN-REP-06")
@pytest.mark.parametrize("penalty", [0.0, -1.0])
def test_generate_rejects_bad_repetition_penalty(adapter, penalty) -> None:
    """The same bound through generate(), where a user sets it: the error names the config's parameter."""
    op = require(adapter, "generate")
    config = GenerationConfig(max_new_tokens=2, repetition_penalty=penalty)
    expect_value_error(
        lambda: op(inputs.model(), inputs.token_ids(1, 3, seed=13), config), "repetition_penalty", penalty
    )


# ---------------------------------------------------------------------------------------
# Frequency and presence


@clause("GEN-FREQ-01")
def test_frequency_worked_example(adapter) -> None:
    check_spec_examples(adapter, "GEN-FREQ-01")


def check_frequency_presence(adapter, dtype, frequency, presence) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "frequency_presence_penalty")
    logits = random_logits(3, 20, seed=4, dtype=dtype)
    ids = inputs.token_ids(3, 12, seed=5, vocab=20)
    scope = variants(adapter)["penalty_scope"]
    with annotate(frequency=frequency, presence=presence):
        compare_processor(
            op(logits.clone(), ids, prompt_length=4, frequency_penalty=frequency, presence_penalty=presence),
            lambda x: ref.frequency_presence_penalty(
                x, ids, prompt_length=4, frequency_penalty=frequency, presence_penalty=presence, penalty_scope=scope
            ),
            logits,
            "frequency and presence penalties",
        )


@clause("GEN-FREQ-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("frequency", [0.7, -0.4, 2.0])
def test_frequency_matches_reference(adapter, dtype, frequency) -> None:
    check_frequency_presence(adapter, dtype, frequency, 0.0)


@clause("GEN-PRES-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("presence", [1.1, -2.0])
def test_presence_matches_reference(adapter, dtype, presence) -> None:
    check_frequency_presence(adapter, dtype, 0.0, presence)


@clause("GEN-PRES-01")
def test_presence_once(adapter) -> None:
    op = require(adapter, "frequency_presence_penalty")
    actual = op(torch.tensor([[1.0, 1.0, 1.0]]), torch.tensor([[2, 0, 0, 0, 1]]), prompt_length=1, presence_penalty=0.5)
    if actual.tolist() != [[0.5, 0.5, 1.0]]:
        fail(f"presence 0.5, token 0 generated 3 times, token 1 once: got {actual.tolist()}, expected [0.5, 0.5, 1]")


@clause("GEN-FREQ-02")
@pytest.mark.parametrize("parameter", ["frequency_penalty", "presence_penalty"])
@pytest.mark.parametrize("value", [2.5, -2.01, math.nan])
def test_penalty_range(adapter, parameter, value) -> None:
    op = require(adapter, "frequency_presence_penalty")
    expect_value_error(
        lambda: op(torch.zeros(1, 4), torch.tensor([[1, 2]]), prompt_length=1, **{parameter: value}), parameter, value
    )


@clause("GEN-FREQ-02")
@pytest.mark.parametrize(("parameter", "value"), [("frequency_penalty", 2.5), ("presence_penalty", -2.01)])
def test_generate_rejects_penalty_out_of_range(adapter, parameter, value) -> None:
    """The range through generate(); an adapter without these penalties is not asked."""
    require(adapter, "frequency_presence_penalty")
    op = require(adapter, "generate")
    config = GenerationConfig(max_new_tokens=2, **{parameter: value})
    expect_value_error(lambda: op(inputs.model(), inputs.token_ids(1, 3, seed=13), config), parameter, value)


@clause("GEN-FREQ-03")
def test_frequency_scope(adapter) -> None:
    op = require(adapter, "frequency_presence_penalty")
    actual = op(torch.tensor([[1.0, 1.0, 1.0]]), torch.tensor([[0, 0, 1]]), prompt_length=2, frequency_penalty=0.5)
    scope = variants(adapter)["penalty_scope"]
    expected = [[1.0, 0.5, 1.0]] if scope == "generated-only" else [[0.0, 0.5, 1.0]]
    if actual.tolist() != expected:
        fail(f"scope {scope}: prompt [0, 0], generated [1]: got {actual.tolist()}, expected {expected}")


# ---------------------------------------------------------------------------------------
# No-repeat n-grams


@clause("GEN-NGRAM-01")
def test_ngram_known_answer(adapter) -> None:
    check_spec_examples(adapter, "GEN-NGRAM-01")


@clause("GEN-NGRAM-01")
@pytest.mark.parametrize("ngram_size", [2, 3, 4])
def test_ngram_matches_reference(adapter, ngram_size) -> None:
    op = require(adapter, "no_repeat_ngram")
    logits = random_logits(4, 6, seed=6)
    ids = inputs.token_ids(4, 20, seed=7, vocab=6, low=0)  # a small vocabulary: many repeats
    with annotate(ngram_size=ngram_size):
        compare_processor(
            op(logits.clone(), ids, ngram_size),
            lambda x: ref.no_repeat_ngram(x, ids, ngram_size),
            logits,
            "no-repeat n-gram",
        )


@clause("GEN-NGRAM-02")
def test_ngram_edges(adapter) -> None:
    op = require(adapter, "no_repeat_ngram")
    short = op(torch.zeros(1, 8), torch.tensor([[5, 6]]), 3)
    if torch.isneginf(short).any():
        fail(f"n = 3 after 2 tokens banned {torch.isneginf(short[0]).nonzero().flatten().tolist()}, expected none")
    unigram = op(torch.zeros(1, 8), torch.tensor([[5, 6, 5, 1]]), 1)
    banned = torch.isneginf(unigram[0]).nonzero().flatten().tolist()
    if banned != [1, 5, 6]:
        fail(f"n = 1 after [5, 6, 5, 1]: banned {banned}, expected [1, 5, 6]")


@clause("GEN-NGRAM-03")
@pytest.mark.parametrize("ngram_size", [0, -2])
def test_ngram_rejects_bad_size(adapter, ngram_size) -> None:
    op = require(adapter, "no_repeat_ngram")
    expect_value_error(
        lambda: op(torch.zeros(1, 4), torch.tensor([[1, 2]]), ngram_size), "no_repeat_ngram_size", ngram_size
    )


# ---------------------------------------------------------------------------------------
# Order and scores, on the model


@clause("GEN-ORDER-01")
def test_penalties_before_sampling_processors(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(3, 6, seed=8)
    config = GenerationConfig(
        max_new_tokens=4,
        do_sample=True,
        repetition_penalty=3.0,
        no_repeat_ngram_size=2,
        sampling=SamplingParams(temperature=0.7, top_k=5, top_p=0.9),
    )
    out = op(inputs.model(), prompt, config, generator=torch.Generator().manual_seed(0))
    steps = out.sequences.shape[1] - 6
    oracle = teacher_forced_scores(out.sequences, 6, steps, config, adapter, torch.float64)
    in_dtype = teacher_forced_scores(out.sequences, 6, steps, config, adapter, torch.float32)
    assert_close(out.scores[:, :steps], oracle, in_dtype, what="sampled run's scores, penalties then warpers")


@clause("GEN-SCORE-01")
def test_scores_line_up_with_tokens(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(2, 5, seed=9)
    config = GenerationConfig(max_new_tokens=6, repetition_penalty=1.4, no_repeat_ngram_size=3)
    out = op(inputs.model(), prompt, config)
    if out.scores.shape[:2] != (2, out.sequences.shape[1] - 5):
        fail(f"scores {tuple(out.scores.shape)} for {out.sequences.shape[1] - 5} generated tokens of 2 rows")
    chosen = out.scores.argmax(dim=-1)
    if not torch.equal(chosen, out.sequences[:, 5:]):
        fail(f"argmax of the scores {chosen.tolist()} is not the tokens {out.sequences[:, 5:].tolist()}")
    steps = out.sequences.shape[1] - 5
    oracle = teacher_forced_scores(out.sequences, 5, steps, config, adapter, torch.float64)
    in_dtype = teacher_forced_scores(out.sequences, 5, steps, config, adapter, torch.float32)
    assert_close(out.scores, oracle, in_dtype, what="greedy scores against the reference's processed logits")


# ---------------------------------------------------------------------------------------
# Length


@clause("GEN-LEN-01")
@pytest.mark.parametrize("max_new_tokens", [1, 7])
def test_max_new_tokens_counts_generated(adapter, max_new_tokens) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(2, 9, seed=10)
    out = op(inputs.model(), prompt, GenerationConfig(max_new_tokens=max_new_tokens))
    if tuple(out.sequences.shape) != (2, 9 + max_new_tokens):
        fail(f"prompt 9, max_new_tokens {max_new_tokens}: sequences {tuple(out.sequences.shape)}")
    if not torch.equal(out.sequences[:, :9], prompt):
        fail("the sequences do not start with the prompt")


@clause("GEN-LEN-02")
def test_max_new_tokens_edges(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(2, 4, seed=11)
    expect_value_error(lambda: op(inputs.model(), prompt, GenerationConfig(max_new_tokens=-1)), "max_new_tokens", -1)
    out = op(inputs.model(), prompt, GenerationConfig(max_new_tokens=0))
    if not torch.equal(out.sequences, prompt) or out.scores.shape[1] != 0:
        fail(
            f"max_new_tokens 0 returned {out.sequences.tolist()} (scores {tuple(out.scores.shape)}), "
            "expected the prompt"
        )


@clause("GEN-MIN-01")
@pytest.mark.parametrize("generated", [2, 3])
def test_min_new_tokens_mask(adapter, generated) -> None:
    op = require(adapter, "min_new_tokens")
    ids = torch.tensor([[1, 2, 3, 4, 5, 6][: 3 + generated]])
    actual = op(torch.zeros(1, 8), ids, prompt_length=3, min_new_tokens=3, eos_token_ids=(2, 7))
    banned = torch.isneginf(actual[0]).nonzero().flatten().tolist()
    expected = [2, 7] if generated < 3 else []
    if banned != expected:
        fail(f"{generated} generated, min_new_tokens 3: banned {banned}, expected {expected}")


@clause("GEN-MIN-01")
def test_min_new_tokens_in_generate(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(2, 4, seed=12)
    greedy = reference_output(GenerationConfig(max_new_tokens=6), prompt, adapter).sequences
    eos = (int(greedy[0, 4]), int(greedy[1, 5]))  # rows would end at their first and second step
    config = GenerationConfig(max_new_tokens=6, min_new_tokens=3, eos_token_ids=eos, pad_token_id=0)
    out = op(inputs.model(), prompt, config)
    assert_same_tokens(out.sequences, reference_output(config, prompt, adapter).sequences, "min_new_tokens 3")
    for step in range(min(3, out.scores.shape[1])):
        if not torch.isneginf(out.scores[:, step, list(eos)]).all():
            fail(f"step {step + 1} of min_new_tokens 3: EOS scores {out.scores[:, step, list(eos)].tolist()}")


@clause("GEN-MIN-02")
@pytest.mark.parametrize(("min_new", "max_new"), [(5, 4), (-1, 4)])
def test_min_new_tokens_bounds(adapter, min_new, max_new) -> None:
    op = require(adapter, "generate")
    config = GenerationConfig(max_new_tokens=max_new, min_new_tokens=min_new, eos_token_ids=(3,))
    expect_value_error(lambda: op(inputs.model(), inputs.token_ids(1, 3, seed=13), config), "min_new_tokens", min_new)


# ---------------------------------------------------------------------------------------
# Stopping


@clause("GEN-EOS-01", "GEN-EOS-03")
@pytest.mark.parametrize("pad_token_id", [0, 9])
def test_eos_ends_row_and_pads(adapter, pad_token_id) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(3, 5, seed=14)
    greedy = reference_output(GenerationConfig(max_new_tokens=6), prompt, adapter).sequences
    eos = (int(greedy[0, 6]),)  # row 0 ends at its second step
    config = GenerationConfig(max_new_tokens=6, eos_token_ids=eos, pad_token_id=pad_token_id)
    out = op(inputs.model(), prompt, config)
    expected = reference_output(config, prompt, adapter).sequences
    assert_same_tokens(out.sequences, expected, f"EOS {eos}, pad {pad_token_id}")


@clause("GEN-EOS-03")
@pytest.mark.parametrize(("seed", "pad_token_id"), [(23, 0), (23, 9), (22, 9)])
def test_beam_hypotheses_padded(adapter, seed, pad_token_id) -> None:
    """Pads inside a row and across rows (seed 22: row 0's hypotheses end before row 1's longest)."""
    out, _, _ = _beam_search(
        adapter, seed, max_new_tokens=6, num_beams=3, num_return_sequences=3, pad_token_id=pad_token_id
    )
    for row, length in enumerate(live_steps(out.sequences, 5, BEAM_EOS)):
        after = out.sequences[row, 5 + length :]
        if not (after == pad_token_id).all():
            fail(
                f"hypothesis {row} ends after {length} tokens, then holds {after.tolist()}, expected pad {pad_token_id}"
            )


@clause("GEN-EOS-02")
def test_several_eos_ids(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(3, 5, seed=15)
    greedy = reference_output(GenerationConfig(max_new_tokens=6), prompt, adapter).sequences
    eos = (int(greedy[0, 7]), int(greedy[1, 6]), int(greedy[2, 9]))
    config = GenerationConfig(max_new_tokens=6, eos_token_ids=eos, pad_token_id=0)
    out = op(inputs.model(), prompt, config)
    expected = reference_output(config, prompt, adapter).sequences
    if live_steps(expected, 5, eos) == [6, 6, 6]:
        fail("test input error: no row ends early")  # guards the test itself
    assert_same_tokens(out.sequences, expected, f"EOS ids {eos}")


def stop_case(adapter, split: int) -> tuple[torch.Tensor, str]:
    """A prompt and a stop string made of the end of generated piece `split` and the start of the
    next, so it spans a token boundary."""
    prompt = inputs.token_ids(1, 5, seed=16)
    greedy = reference_output(GenerationConfig(max_new_tokens=6), prompt, adapter).sequences[0, 5:].tolist()
    stop = TOKEN_STRINGS[greedy[split]][1:] + TOKEN_STRINGS[greedy[split + 1]][:1]
    return prompt, stop


@clause("GEN-STOP-01")
def test_stop_string_across_tokens(adapter) -> None:
    op = require(adapter, "generate", "stop_strings")
    prompt, stop = stop_case(adapter, 2)
    config = GenerationConfig(max_new_tokens=6, stop_strings=(stop,), token_strings=TOKEN_STRINGS)
    out = op(inputs.model(), prompt, config)
    expected = reference_output(config, prompt, adapter)
    with annotate(stop_string=stop):
        assert_same_tokens(out.sequences, expected.sequences, "stop string spanning tokens 3 and 4")


@clause("GEN-STOP-02")
def test_empty_stop_string(adapter) -> None:
    op = require(adapter, "generate")
    config = GenerationConfig(max_new_tokens=3, stop_strings=("",), token_strings=TOKEN_STRINGS)
    expect_value_error(lambda: op(inputs.model(), inputs.token_ids(1, 3, seed=17), config), "stop_strings", "")


@clause("GEN-STOP-03")
def test_stop_string_scope(adapter) -> None:
    op = require(adapter, "generate", "stop_strings")
    prompt = inputs.token_ids(1, 5, seed=16)
    first = reference_output(GenerationConfig(max_new_tokens=1), prompt, adapter).sequences[0, 5].item()
    stop = TOKEN_STRINGS[prompt[0, -1].item()][1:] + TOKEN_STRINGS[first][:1]  # spans prompt and output
    config = GenerationConfig(max_new_tokens=4, stop_strings=(stop,), token_strings=TOKEN_STRINGS)
    out = op(inputs.model(), prompt, config)
    expected = reference_output(config, prompt, adapter)
    with annotate(stop_string=stop, scope=variants(adapter)["stop_scope"]):
        assert_same_tokens(out.sequences, expected.sequences, "stop string across the prompt boundary")


@clause("GEN-STOP-04")
def test_stop_string_text(adapter) -> None:
    op = require(adapter, "generate", "stop_strings")
    prompt, stop = stop_case(adapter, 1)
    config = GenerationConfig(max_new_tokens=6, stop_strings=(stop,), token_strings=TOKEN_STRINGS)
    out = op(inputs.model(), prompt, config)
    expected = reference_output(config, prompt, adapter).texts
    if out.texts != expected:
        fail(f"stop string {stop!r} ({variants(adapter)['stop_text']}): texts {out.texts}, expected {expected}")


# ---------------------------------------------------------------------------------------
# Search


@clause("GEN-GREEDY-01")
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cache_kind", ["dynamic", "static"])
def test_greedy_is_argmax_loop(adapter, dtype, cache_kind, model) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "generate")
    prompt = inputs.transposed_ids(3, 6, seed=18)
    config = GenerationConfig(max_new_tokens=8, cache_kind=cache_kind)
    out = op(inputs.model(model, dtype=dtype), prompt, config)
    expected = reference_output(config, prompt, adapter, model_config=model).sequences
    assert_same_tokens(out.sequences, expected, "greedy")


@clause("GEN-BATCH-01")
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_left_padded_batch_rows_match_alone(adapter, model) -> None:
    op = require(adapter, "generate")
    lengths = [7, 2, 4]
    prompt, mask = inputs.left_padded(lengths, seed=19)
    config = GenerationConfig(max_new_tokens=5, repetition_penalty=1.5)
    out = op(inputs.model(model), prompt, config, attention_mask=mask)
    for row, length in enumerate(lengths):
        alone = prompt[row : row + 1, 7 - length :]
        expected = reference_output(config, alone, adapter, model_config=model).sequences
        with annotate(row=row, prompt_length=length):
            assert_same_tokens(out.sequences[row : row + 1, 7 - length :], expected, "left-padded row against alone")


@clause("GEN-BATCH-01")
def test_left_padded_beam_rows_match_alone(adapter) -> None:
    """Beam search over a left-padded batch: each prompt's hypotheses (after its padding) are those the
    adapter gives it alone (an invariance: the search itself is checked against the reference by GEN-BEAM-*)."""
    op = require(adapter, "generate", "num_beams")
    lengths = [7, 2, 4]
    prompt, mask = inputs.left_padded(lengths, seed=19)
    config = GenerationConfig(
        max_new_tokens=5, num_beams=3, num_return_sequences=2, eos_token_ids=BEAM_EOS[:3], pad_token_id=5
    )
    out = op(inputs.model(inputs.GPT2), prompt, config, attention_mask=mask)
    for row, length in enumerate(lengths):
        alone = prompt[row : row + 1, 7 - length :]
        expected = op(inputs.model(inputs.GPT2), alone, config).sequences
        actual = out.sequences[2 * row : 2 * row + 2, 7 - length :]
        width = expected.shape[1]
        with annotate(row=row, prompt_length=length):
            if not (actual[:, width:] == config.pad_token_id).all():
                fail(f"hypotheses {actual.tolist()} hold more than the {width - length} tokens generated alone")
            assert_same_tokens(actual[:, :width], expected, "left-padded beam search against alone")


@clause("GEN-SAMPLE-01")
def test_seeded_sampling_reproducible(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(2, 4, seed=20)
    original = prompt.clone()
    config = GenerationConfig(max_new_tokens=6, do_sample=True, sampling=SamplingParams(temperature=1.5))
    first = op(inputs.model(), prompt, config, generator=torch.Generator().manual_seed(5)).sequences
    op(inputs.model(), inputs.token_ids(3, 2, seed=21), config, generator=torch.Generator().manual_seed(6))
    second = op(inputs.model(), prompt, config, generator=torch.Generator().manual_seed(5)).sequences
    if not torch.equal(prompt, original):
        fail("generate modified the prompt it was given")
    assert_same_tokens(second, first, "the same seed after an interleaved run")
    third = op(inputs.model(), prompt, config, generator=torch.Generator().manual_seed(7)).sequences
    if torch.equal(third, first):
        fail("a different seed gave the same 12 sampled tokens at temperature 1.5: the generator is ignored")


@clause("GEN-SAMPLE-02")
def test_sampled_tokens_follow_processed_distribution(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(1, 5, seed=22).expand(DRAWS, 5)  # an expanded view
    config = GenerationConfig(
        max_new_tokens=1, do_sample=True, repetition_penalty=2.0, sampling=SamplingParams(temperature=2.0, top_k=12)
    )
    out = op(inputs.model(), prompt, config, generator=torch.Generator().manual_seed(1))
    counts = torch.bincount(out.sequences[:, 5], minlength=BASE.vocab_size)
    processed = teacher_forced_scores(out.sequences[:1], 5, 1, config, adapter, torch.float64)[0, 0]
    p_value = chi_square_p_value(counts, torch.softmax(processed, dim=-1))
    if p_value < ALPHA:
        fail(f"first sampled token over {DRAWS} draws: chi-square p = {p_value:.2g} < {ALPHA}", counts=counts.tolist())


BEAM_EOS = (3, 7, 11, 20, 33, 40, 50, 60)
# A case where True, False and "never" all return different hypotheses (found by search).
# Seed 3 is a case where only the best running beam can still beat the worst kept hypothesis: an
# implementation that asks the second-best beam stops early under early_stopping=False (a mutation-testing survivor).
EARLY_STOPPING_SEEDS, EARLY_STOPPING_PENALTY = (19, 3), 2.0


def _beam_search(adapter, seed: int, **settings: object) -> tuple[ref.GenerationOutput, torch.Tensor, GenerationConfig]:
    """The adapter's beam search on two 5-token prompts drawn from `seed`, ending at BEAM_EOS and padding
    with 5 unless `settings` (the other GenerationConfig fields) say otherwise: (output, prompt, config)."""
    op = require(adapter, "generate", "num_beams")
    prompt = inputs.token_ids(2, 5, seed=seed)
    config = GenerationConfig(**({"eos_token_ids": BEAM_EOS, "pad_token_id": 5} | settings))
    return op(inputs.model(), prompt, config), prompt, config


@clause("GEN-BEAM-01")
@pytest.mark.parametrize(("num_beams", "returned"), [(2, 1), (4, 3)])
def test_beam_search_matches_reference(adapter, num_beams, returned) -> None:
    out, prompt, config = _beam_search(
        adapter, 23, max_new_tokens=6, num_beams=num_beams, num_return_sequences=returned
    )
    expected = reference_output(config, prompt, adapter)
    assert_same_tokens(out.sequences, expected.sequences, f"beam search, {num_beams} beams")


@clause("GEN-BEAM-02")
@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0, -1.0])
def test_beam_scores_are_length_normalised(adapter, length_penalty) -> None:
    out, _, _ = _beam_search(
        adapter, 24, max_new_tokens=6, num_beams=3, num_return_sequences=3, length_penalty=length_penalty
    )
    if out.sequence_scores is None:
        fail("beam search returned no sequence scores")

    def scores(dtype: torch.dtype) -> torch.Tensor:
        logits = kv_cache.decoder_forward(inputs.model(dtype=dtype), out.sequences)
        log_probs = torch.log_softmax(logits.double() if dtype == torch.float64 else logits.float(), dim=-1)
        values = []
        for row, length in enumerate(live_steps(out.sequences, 5, BEAM_EOS)):
            tokens = out.sequences[row, 5 : 5 + length]
            total = log_probs[row, 4 : 4 + length].gather(-1, tokens[:, None]).sum()
            values.append(total / length**length_penalty)
        return torch.stack(values).to(dtype)

    with annotate(length_penalty=length_penalty):
        assert_close(
            out.sequence_scores.float(),
            scores(torch.float64),
            scores(torch.float32),
            what="sequence score = sum log p / length ** length_penalty",
        )


@clause("GEN-BEAM-03")
@pytest.mark.parametrize("early_stopping", [True, False, "never"], ids=["true", "false", "never"])
@pytest.mark.parametrize("seed", EARLY_STOPPING_SEEDS)
def test_beam_early_stopping(adapter, seed, early_stopping) -> None:
    out, prompt, config = _beam_search(
        adapter,
        seed,
        max_new_tokens=7,
        num_beams=3,
        num_return_sequences=3,
        early_stopping=early_stopping,
        length_penalty=EARLY_STOPPING_PENALTY,
    )
    expected = reference_output(config, prompt, adapter)
    assert_same_tokens(out.sequences, expected.sequences, f"early_stopping={early_stopping!r}, prompt seed {seed}")


@clause("GEN-BEAM-04")
def test_beam_returns_best_first(adapter) -> None:
    out, _, _ = _beam_search(adapter, 25, max_new_tokens=5, num_beams=4, num_return_sequences=4)
    if out.sequences.shape[0] != 8 or out.sequence_scores is None:
        fail(f"4 return sequences of 2 prompts: got {tuple(out.sequences.shape)} sequences")
    scores = out.sequence_scores.view(2, 4)
    if not (scores[:, :-1] >= scores[:, 1:]).all():
        fail(f"sequence scores not in descending order: {scores.tolist()}")


@clause("GEN-BEAM-04")
def test_bad_beam_counts_rejected(adapter) -> None:
    """Every adapter rejects them, whether or not it does beam search."""
    op = require(adapter, "generate")
    prompt = inputs.token_ids(2, 5, seed=25)
    for bad, parameter in (
        ({"num_beams": 0}, "num_beams"),
        ({"num_beams": 2, "num_return_sequences": 3}, "num_return_sequences"),
    ):
        config = GenerationConfig(max_new_tokens=3, **bad)
        expect_value_error(lambda c=config: op(inputs.model(), prompt, c), parameter, bad)


@clause("GEN-BEAM-05")
def test_one_beam_is_greedy(adapter) -> None:
    op = require(adapter, "generate")
    prompt = inputs.token_ids(2, 5, seed=26)
    beam = op(inputs.model(), prompt, GenerationConfig(max_new_tokens=6, num_beams=1)).sequences
    greedy = reference_output(GenerationConfig(max_new_tokens=6), prompt, adapter).sequences
    assert_same_tokens(beam, greedy, "num_beams 1 against greedy")


@clause("GEN-BEAM-06")
@pytest.mark.parametrize("seed", [5, 3])
def test_enough_beams_find_best_sequence(adapter, seed) -> None:
    op = require(adapter, "generate", "num_beams")
    prompt = inputs.token_ids(1, 3, seed=seed, vocab=TINY_VOCAB.vocab_size, low=0)
    weights = inputs.model(TINY_VOCAB, dtype=torch.float64)
    best, best_score = None, -math.inf
    for continuation in itertools.product(range(TINY_VOCAB.vocab_size), repeat=3):
        sequence = torch.cat([prompt, torch.tensor([continuation])], dim=1)
        log_probs = torch.log_softmax(kv_cache.decoder_forward(weights, sequence), dim=-1)
        score = sum(log_probs[0, 2 + t, token].item() for t, token in enumerate(continuation))
        if score > best_score:
            best, best_score = list(continuation), score
    config = GenerationConfig(max_new_tokens=3, num_beams=TINY_VOCAB.vocab_size**2)
    out = op(inputs.model(TINY_VOCAB), prompt, config)
    if out.sequences[0, 3:].tolist() != best:
        fail(f"beam search found {out.sequences[0, 3:].tolist()}, the best of all 64 is {best}", seed=seed)
