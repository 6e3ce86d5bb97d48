"""Conformance tests for spec/sampling.md: logits processors, composition, greedy, draws.

Three kinds of test, as fits each clause: hand-worked known answers (the spec's examples),
comparison with the reference on generated logits (float64 oracle, numerical policy of
conformance/numerics), and properties. Tests whose outcome depends on a named variant read
the adapter's declared variant and expect that variant's behaviour.

Generated cases whose decision sits within rounding of a boundary (a token's mass almost
exactly top_p, a probability almost exactly min_p times the top one) are discarded with
`assume`, because there the float64 oracle and a float32 implementation may both be right;
exact boundaries are tested by hand with inputs that are exact in binary.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from specformer.conformance.adapters.protocols import sampling_parameters_used
from specformer.conformance.numerics import (
    annotate,
    assert_close,
    chi_square_p_value,
    every_case,
    fail,
)
from specformer.conformance.plugin import clause, require, supports
from specformer.conformance.suite.checks import assert_unchanged, expect_value_error, spec_examples, use_dtype
from specformer.conformance.suite.strategies import DTYPES, LogitsCase, kept, logits_cases, probs_row, row
from specformer.reference import sampling as ref
from specformer.reference.sampling import SamplingParams

NEG_INF = -math.inf
DTYPE_IDS = [str(d).removeprefix("torch.") for d in DTYPES]
# Chi-square false-alarm rate of the statistical clauses, and the number of draws.
ALPHA = 1e-3
DRAWS = 20_000


def variants(adapter) -> dict[str, str]:
    """The reference's variant arguments for what the adapter declares."""
    return ref.variant_arguments(adapter.variant)


def assert_matches_reference(
    actual: torch.Tensor, reference: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, what: str
) -> None:
    """`actual` against the reference run on x in float64 (the oracle) and in x's own dtype."""
    assert_close(actual, reference(x.double()), reference(x), what=what)


def _example_needs(data: dict) -> tuple[str, ...]:
    """The optional parameters a spec example enables: SamplingParams fields for process, the
    arguments after the first for a filter (min_tokens_to_keep)."""
    if data["operation"] == "process":
        return sampling_parameters_used(SamplingParams(**data["arguments"]))
    return tuple(data["arguments"])[1:]


def check_spec_examples(adapter, clause_id: str, dtype: torch.dtype) -> None:
    """Run the clause's worked examples from spec/sampling.md (its `examples` blocks). An example
    of an operation the adapter lacks is left out; with none left, the test is unsupported."""
    applying = spec_examples(adapter, clause_id)
    runnable = [e for e in applying if adapter.declares("sampling") and adapter.operation(e.data["operation"])]
    # An example needing an optional parameter the operation lacks is left out too.
    runnable = [e for e in runnable if all(supports(adapter, e.data["operation"], p) for p in _example_needs(e.data))]
    if applying and not runnable:
        require(adapter, applying[0].data["operation"])  # skips as unsupported
    for example in runnable:
        data = example.data
        op = adapter.operation(data["operation"])
        if "probabilities" in data:
            x = probs_row(*data["probabilities"], dtype=dtype)
        else:
            x = row(*data["logits"], dtype=dtype)
        x = x / data.get("temperature", 1.0)  # an example at T != 1 gives the scaled distribution
        arguments = data["arguments"]
        what = f"spec example {example.source}: {data['operation']} {arguments}"
        if data["operation"] == "process":
            result = op(x.clone(), SamplingParams(**arguments))
        else:
            result = op(x.clone(), *arguments.values())
        survivors = kept(result)[0]
        if "kept" in data and survivors != data["kept"]:
            fail(f"{what}: kept {survivors}, expected {data['kept']}", kept=survivors, expected=data["kept"])
        if "kept_count" in data and len(survivors) != data["kept_count"]:
            fail(f"{what}: kept {len(survivors)} tokens, expected {data['kept_count']}", kept=survivors)


def assert_kept(actual: torch.Tensor, expected: list[list[int]], what: str) -> None:
    if kept(actual) != expected:
        fail(f"{what}: kept tokens {kept(actual)}, expected {expected}", kept=kept(actual), expected=expected)


def clear_decision(decide: Callable[[float], torch.Tensor], value: float, relative: float = 1e-4) -> bool:
    """True when the kept set does not change if `value` moves by a relative `relative`."""
    centre = torch.isfinite(decide(value))
    return all(torch.equal(centre, torch.isfinite(decide(value * (1 + s * relative)))) for s in (-1, 1))


# ---------------------------------------------------------------------------------------
# Temperature


@clause("SAMP-TEMP-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@given(case=logits_cases(), temperature=st.sampled_from([0.05, 0.3, 0.7, 1.5, 2.0, 20.0]))
def test_temperature_divides_logits(adapter, dtype, case: LogitsCase, temperature: float) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "temperature")
    x = case.tensor(dtype)
    with annotate(inputs=repr(case), temperature=temperature):
        assert_matches_reference(
            op(x.clone(), temperature),
            lambda t: ref.apply_temperature(t, temperature),
            x,
            what=f"temperature {temperature}",
        )


@clause("SAMP-TEMP-02")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_temperature_one_is_identity(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "temperature")
    x = LogitsCase(seed=7, batch=3, vocab=50, scale=3.0, removed_fraction=0.2).tensor(dtype)
    assert_unchanged(op(x.clone(), 1.0), x, "temperature 1.0")


@clause("SAMP-TEMP-03")
@pytest.mark.parametrize("temperature", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_temperature_rejects_non_positive_or_non_finite(adapter, temperature: float) -> None:
    op = require(adapter, "temperature")
    expect_value_error(
        lambda: op(row(1.0, 2.0, 3.0, dtype=torch.float32), temperature),
        "temperature",
        what=f"temperature={temperature!r}",
    )


# ---------------------------------------------------------------------------------------
# Top-k


@clause("SAMP-TOPK-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@given(case=logits_cases(min_vocab=2), data=st.data())
def test_top_k_keeps_the_k_largest(adapter, dtype, case: LogitsCase, data: st.DataObject) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "top_k")
    top_k = data.draw(st.integers(1, case.vocab - 1), label="top_k")
    x = case.tensor(dtype)
    with annotate(inputs=repr(case), top_k=top_k):
        ties = variants(adapter)["top_k_ties"]
        assert_matches_reference(
            op(x.clone(), top_k), lambda t: ref.top_k_filter(t, top_k, top_k_ties=ties), x, what=f"top_k={top_k}"
        )


@clause("SAMP-TOPK-02")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_top_k_ties_at_the_kth_value(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    check_spec_examples(adapter, "SAMP-TOPK-02", dtype)
    op = require(adapter, "top_k")
    variant = adapter.variant("SAMP-TOPK-02")
    # (logits, k, tokens strictly above the k-th value, tokens tied with it)
    examples = [((1.0, 1.0, 1.0, 0.0), 2, [], [0, 1, 2]), ((3.0, 1.0, 1.0, 1.0, 0.0), 2, [0], [1, 2, 3])]
    for values, top_k, above, tied in examples:
        survivors = kept(op(row(*values, dtype=dtype), top_k))[0]
        what = f"top_k={top_k} on {list(values)} ({variant})"
        if variant == "keep-ties":
            expected_count = len(above) + len(tied)
        else:
            expected_count = top_k
        if len(survivors) != expected_count or not set(above) <= set(survivors) <= set(above + tied):
            fail(
                f"{what}: kept {survivors}; expected {expected_count} tokens: all of {above} and "
                f"{'all' if variant == 'keep-ties' else 'some'} of {tied}",
                variant=variant,
            )


@clause("SAMP-TOPK-03")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_top_k_at_least_vocab_is_identity(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "top_k")
    x = LogitsCase(seed=3, batch=2, vocab=10, scale=2.0, removed_fraction=0.2).tensor(dtype)
    with every_case("top_k at least V") as cases:
        for top_k in (10, 11, 1000):
            with cases.case(f"top_k={top_k}"):
                assert_unchanged(op(x.clone(), top_k), x, f"top_k={top_k} with V=10")


@clause("SAMP-TOPK-04")
@pytest.mark.parametrize("top_k", [0, -1, 2.5])
def test_top_k_rejects_non_positive_or_non_integer(adapter, top_k) -> None:
    op = require(adapter, "top_k")
    expect_value_error(lambda: op(row(1.0, 2.0, 3.0, dtype=torch.float32), top_k), "top_k", what=f"top_k={top_k!r}")


@clause("SAMP-TOPK-05")
def test_top_k_keeps_removed_tokens_removed(adapter) -> None:
    op = require(adapter, "top_k")
    x = row(0.0, 1.0, NEG_INF, NEG_INF, dtype=torch.float32)
    assert_kept(op(x.clone(), 3), [[0, 1]], "top_k=3 with two finite logits")
    assert_kept(op(x.clone(), 1), [[1]], "top_k=1 with two finite logits")


# ---------------------------------------------------------------------------------------
# Top-p


@clause("SAMP-TOPP-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_top_p_keeps_the_token_that_crosses_p(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    check_spec_examples(adapter, "SAMP-TOPP-01", dtype)


@clause("SAMP-TOPP-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@given(case=logits_cases(), top_p=st.floats(0.05, 0.99))
def test_top_p_matches_reference(adapter, dtype, case: LogitsCase, top_p: float) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "top_p")
    x = case.tensor(dtype)
    boundary = variants(adapter)["top_p_boundary"]
    assume(clear_decision(lambda p: ref.top_p_filter(x.double(), p, top_p_boundary=boundary), top_p))
    with annotate(inputs=repr(case), top_p=top_p):
        assert_matches_reference(
            op(x.clone(), top_p),
            lambda t: ref.top_p_filter(t, top_p, top_p_boundary=boundary),
            x,
            what=f"top_p={top_p}",
        )


@clause("SAMP-TOPP-02")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_top_p_exact_boundary(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    # Four equal logits: probabilities 0.25 each, so every cumulative sum is exact.
    check_spec_examples(adapter, "SAMP-TOPP-02", dtype)


@clause("SAMP-TOPP-03")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_top_p_one_is_identity(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "top_p")
    # exp(-800) underflows to 0 even in float64; exp(-200) does in float32.
    x = row(0.0, -200.0, 1.0, -800.0, NEG_INF, dtype=dtype)
    assert_unchanged(op(x.clone(), 1.0), x, "top_p=1.0 with underflowing probabilities")


@clause("SAMP-TOPP-04")
def test_top_p_min_tokens_to_keep(adapter) -> None:
    op = require(adapter, "top_p", "min_tokens_to_keep")
    x = probs_row(0.9, 0.05, 0.03, 0.02, dtype=torch.float32)
    assert_kept(op(x.clone(), 0.5, min_tokens_to_keep=3), [[0, 1, 2]], "top_p=0.5, min_tokens_to_keep=3")
    assert_kept(op(x.clone(), 0.5, min_tokens_to_keep=1), [[0]], "top_p=0.5, min_tokens_to_keep=1")
    expect_value_error(
        lambda: op(x.clone(), 0.5, min_tokens_to_keep=0), "min_tokens_to_keep", what="min_tokens_to_keep=0"
    )


@clause("SAMP-TOPP-05")
@pytest.mark.parametrize("top_p", [0.0, -0.1, 1.5, math.nan])
def test_top_p_rejects_out_of_range(adapter, top_p: float) -> None:
    op = require(adapter, "top_p")
    expect_value_error(lambda: op(row(1.0, 2.0, 3.0, dtype=torch.float32), top_p), "top_p", what=f"top_p={top_p!r}")


@clause("SAMP-TOPP-06")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_top_p_ties_across_the_boundary_fix_the_count(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "top_p")
    x = probs_row(0.4, 0.2, 0.2, 0.2, dtype=dtype)
    # Mass above the ranks: 0, .4, .6, .8; with p = 0.5 two tokens stay, the first and one of the ties.
    survivors = kept(op(x.clone(), 0.5))[0]
    if len(survivors) != 2 or survivors[0] != 0:
        fail(f"top_p=0.5 on probs [.4, .2, .2, .2]: kept {survivors}, expected token 0 and one of 1, 2, 3")


# ---------------------------------------------------------------------------------------
# Min-p


@clause("SAMP-MINP-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_min_p_threshold_is_relative_to_the_top(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    check_spec_examples(adapter, "SAMP-MINP-01", dtype)
    op = require(adapter, "min_p")
    x = probs_row(0.5, 0.3, 0.15, 0.05, dtype=dtype)
    assert_kept(op(x.clone(), 0.5), [[0, 1]], "min_p=0.5 on probs [.5, .3, .15, .05] (threshold .25)")
    assert_kept(op(x.clone(), 0.2), [[0, 1, 2]], "min_p=0.2 (threshold .1)")
    # Equality keeps: logits 0 and -ln 2 give probabilities exactly 2:1, checked below.
    x = row(0.0, -math.log(2.0), -3.0, dtype=dtype)
    probs = torch.softmax(x, dim=-1)[0]
    assert probs[1] == 0.5 * probs[0], "test precondition: exp(-ln 2) is exactly 0.5 in this dtype"
    assert_kept(op(x.clone(), 0.5), [[0, 1]], "min_p=0.5 with a token exactly at the threshold")


@clause("SAMP-MINP-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@given(case=logits_cases(), min_p=st.floats(0.01, 0.99))
def test_min_p_matches_reference(adapter, dtype, case: LogitsCase, min_p: float) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "min_p")
    x = case.tensor(dtype)
    assume(clear_decision(lambda m: ref.min_p_filter(x.double(), m), min_p))
    with annotate(inputs=repr(case), min_p=min_p):
        assert_matches_reference(op(x.clone(), min_p), lambda t: ref.min_p_filter(t, min_p), x, what=f"min_p={min_p}")


@clause("SAMP-MINP-02")
def test_min_p_zero_and_one(adapter) -> None:
    op = require(adapter, "min_p")
    x = row(0.0, -200.0, 1.0, -800.0, NEG_INF, dtype=torch.float32)
    assert_unchanged(op(x.clone(), 0.0), x, "min_p=0")
    assert_kept(op(row(2.0, 2.0, 1.0, 2.0, dtype=torch.float32), 1.0), [[0, 1, 3]], "min_p=1 with three tied maxima")


@clause("SAMP-MINP-03")
@pytest.mark.parametrize("min_p", [-0.1, 1.1, math.nan])
def test_min_p_rejects_out_of_range(adapter, min_p: float) -> None:
    op = require(adapter, "min_p")
    expect_value_error(lambda: op(row(1.0, 2.0, 3.0, dtype=torch.float32), min_p), "min_p", what=f"min_p={min_p!r}")


@clause("SAMP-MINP-04")
def test_min_p_min_tokens_to_keep(adapter) -> None:
    op = require(adapter, "min_p", "min_tokens_to_keep")
    x = probs_row(0.9, 0.05, 0.03, 0.02, dtype=torch.float32)
    assert_kept(op(x.clone(), 0.5, min_tokens_to_keep=2), [[0, 1]], "min_p=0.5, min_tokens_to_keep=2")
    assert_kept(op(x.clone(), 0.5, min_tokens_to_keep=1), [[0]], "min_p=0.5, min_tokens_to_keep=1")


# ---------------------------------------------------------------------------------------
# Composition


# Worked examples of SAMP-ORDER-01 on probs [.5, .3, .12, .08] (no ties, which SAMP-TOPP-06
# leaves open): (params, kept set per order).
ORDER_EXAMPLES = [
    # min-p before or after top-p: top-p renormalises, so the order decides.
    (SamplingParams(top_p=0.6, min_p=0.25), {"transformers": [0, 1], "vllm": [0], "llama.cpp": [0, 1]}),
    # temperature before or after top-p: T = 2 flattens the distribution first.
    (SamplingParams(temperature=2.0, top_p=0.7), {"transformers": [0, 1, 2], "vllm": [0, 1, 2], "llama.cpp": [0, 1]}),
]
# The spec's example where all three orders differ, on probs [.45, .25, .2, .1].
ORDER_EXAMPLE_ALL_DIFFER = (
    SamplingParams(temperature=2.0, top_p=0.65, min_p=0.6),
    {"transformers": [0, 1, 2], "vllm": [0, 1], "llama.cpp": [0]},
)


@clause("SAMP-ORDER-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_order_worked_examples(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    check_spec_examples(adapter, "SAMP-ORDER-01", dtype)
    order = adapter.variant("SAMP-ORDER-01")
    first = probs_row(0.5, 0.3, 0.12, 0.08, dtype=dtype)
    examples = [(first, *e) for e in ORDER_EXAMPLES]
    examples.append((probs_row(0.45, 0.25, 0.2, 0.1, dtype=dtype), *ORDER_EXAMPLE_ALL_DIFFER))
    # A pipeline without one of the stages (no min-p) is checked on the examples it can run.
    runnable = [e for e in examples if _supports_all(adapter, "process", e[1])]
    op = require(adapter, "process", *([] if runnable else sampling_parameters_used(examples[0][1])))
    with every_case("the worked examples") as cases:
        for x, params, expected in runnable:
            with cases.case(f"{params}"):
                assert_kept(op(x.clone(), params), [expected[order]], f"{params} in the {order} order")


def _supports_all(adapter, operation: str, params: SamplingParams) -> bool:
    return all(supports(adapter, operation, p) for p in sampling_parameters_used(params))


@st.composite
def sampling_params(draw: st.DrawFn, vocab: int, adapter=None, operation: str = "process") -> SamplingParams:
    """Parameters enabling a random subset of the stages; with `adapter`, only stages its `operation`
    supports (a pipeline without min-p is tested on the others, never handed a min_p)."""

    def stage(name: str, enabled: st.SearchStrategy, disabled: object) -> object:
        if adapter is not None and not supports(adapter, operation, name):
            return disabled
        return draw(st.sampled_from([disabled]) | enabled)

    return SamplingParams(
        temperature=stage("temperature", st.sampled_from([0.5, 0.8, 1.3, 2.0]), 1.0),
        top_k=stage("top_k", st.integers(1, vocab), None),
        top_p=stage("top_p", st.floats(0.1, 0.99), 1.0),
        min_p=stage("min_p", st.floats(0.01, 0.5), 0.0),
    )


@clause("SAMP-ORDER-01")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@given(case=logits_cases(), data=st.data())
def test_process_matches_reference(adapter, dtype, case: LogitsCase, data: st.DataObject) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "process")
    params = data.draw(sampling_params(case.vocab, adapter), label="params")
    x = case.tensor(dtype)
    kwargs = variants(adapter)

    def pipeline(scale: float) -> torch.Tensor:
        moved = SamplingParams(
            temperature=params.temperature * scale,
            top_k=params.top_k,
            top_p=min(params.top_p * scale, 1.0),
            min_p=min(params.min_p * scale, 1.0),
        )
        return ref.process(x.double(), moved, **kwargs)

    assume(clear_decision(pipeline, 1.0))
    with annotate(inputs=repr(case), params=repr(params), order=kwargs["order"]):
        assert_matches_reference(
            op(x.clone(), params), lambda t: ref.process(t, params, **kwargs), x, what=f"process({params})"
        )


@clause("SAMP-ORDER-02")
def test_later_filters_see_renormalised_survivors(adapter) -> None:
    op = require(adapter, "process")
    x = probs_row(0.1, 0.2, 0.3, 0.4, dtype=torch.float32)
    # After top-k=2 the survivors have mass 3/7 and 4/7; top-p=0.5 then keeps only token 3.
    assert_kept(op(x.clone(), SamplingParams(top_k=2, top_p=0.5)), [[3]], "top_k=2 then top_p=0.5")


@clause("SAMP-ORDER-03")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_disabled_pipeline_is_identity(adapter, dtype) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, "process")
    # More tokens than any library's default top-k (transformers' generate() uses 50).
    x = LogitsCase(seed=11, batch=3, vocab=200, scale=5.0, removed_fraction=0.2).tensor(dtype)
    x[0, 1] = -800.0  # a probability that underflows must survive too
    assert_unchanged(op(x.clone(), SamplingParams()), x, "process with every stage disabled")


@clause("SAMP-KEEP-01")
@given(case=logits_cases(), data=st.data())
def test_filters_keep_a_most_probable_token(adapter, case: LogitsCase, data: st.DataObject) -> None:
    x = case.tensor(torch.float32)
    tied_max = x == x.amax(dim=-1, keepdim=True)  # (B, V)
    extreme = data.draw(st.sampled_from(["top_k", "top_p", "min_p"]), label="filter")
    op = require(adapter, extreme)
    argument = {"top_k": 1, "top_p": 1e-6, "min_p": 1.0}[extreme]
    survivors = torch.isfinite(op(x.clone(), argument))
    if not (survivors & tied_max).any(dim=-1).all():
        fail(f"{extreme}={argument} removed every token with the row's maximum logit", inputs=repr(case))


# ---------------------------------------------------------------------------------------
# Selection


@clause("SAMP-GREEDY-01")
def test_greedy_picks_lowest_index_on_ties(adapter) -> None:
    op = require(adapter, "greedy")
    x = torch.tensor([[1.0, 3.0, 3.0, 0.0], [5.0, 5.0, 5.0, 5.0], [NEG_INF, 2.0, NEG_INF, 2.0], [0.0, 1.0, 2.0, 7.0]])
    chosen = op(x.clone()).tolist()
    if chosen != [1, 0, 1, 3]:
        fail(f"greedy chose {chosen}, expected [1, 0, 1, 3] (argmax, lowest index among ties)", chosen=chosen)


def _processed_probs(adapter, x: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    return torch.softmax(ref.process(x.double(), params, **variants(adapter)), dim=-1)


DRAW_CASES = [
    SamplingParams(),
    SamplingParams(temperature=0.7, top_k=6, top_p=0.95),
    SamplingParams(temperature=1.5, min_p=0.05),
]


@clause("SAMP-DRAW-01")
@pytest.mark.parametrize("params", DRAW_CASES, ids=["plain", "T-topk-topp", "T-minp"])
def test_draws_follow_the_processed_distribution(adapter, params: SamplingParams) -> None:
    op = require(adapter, "sample", *sampling_parameters_used(params))
    x = torch.tensor([[2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, NEG_INF, 0.25]], dtype=torch.float32)
    expected = _processed_probs(adapter, x, params)[0]
    seed = 1234
    draws = op(x.expand(DRAWS, -1).clone(), params, torch.Generator().manual_seed(seed))
    counts = torch.bincount(draws, minlength=x.shape[-1])
    p_value = chi_square_p_value(counts, expected)
    if p_value < ALPHA:
        fail(
            f"{DRAWS} draws do not follow softmax of the processed logits: chi-square p={p_value:.2e} < {ALPHA}",
            p_value=p_value,
            seed=seed,
            counts=counts.tolist(),
            expected=(expected * DRAWS).round().tolist(),
        )


@clause("SAMP-DRAW-02")
def test_removed_tokens_are_never_drawn(adapter) -> None:
    op = require(adapter, "sample", "top_k")
    x = LogitsCase(seed=5, batch=1, vocab=12, scale=1.0, removed_fraction=0.0).tensor(torch.float32)
    params = SamplingParams(top_k=3)
    allowed = torch.isfinite(ref.process(x.double(), params, **variants(adapter)))[0]
    draws = op(x.expand(DRAWS, -1).clone(), params, torch.Generator().manual_seed(99))
    forbidden = sorted(set(draws[~allowed[draws]].tolist()))
    if forbidden:
        fail(f"drew removed tokens {forbidden} (top_k=3 keeps {allowed.nonzero().flatten().tolist()})", seed=99)


@clause("SAMP-DRAW-03")
def test_draws_use_only_the_given_generator(adapter) -> None:
    op = require(adapter, "sample")
    x = LogitsCase(seed=8, batch=64, vocab=30, scale=1.0, removed_fraction=0.0).tensor(torch.float32)
    # Stages the sampler lacks are left out: this clause is about the generator, not the filters.
    params = _supported(adapter, "sample", SamplingParams(temperature=0.9, top_p=0.9))
    torch.manual_seed(1)
    first = op(x.clone(), params, torch.Generator().manual_seed(42))
    torch.manual_seed(2)
    global_state = torch.get_rng_state()
    second = op(x.clone(), params, torch.Generator().manual_seed(42))
    if not torch.equal(first, second):
        fail("two draws with generators seeded 42 differ (the global seed differed between them)", seed=42)
    if not torch.equal(global_state, torch.get_rng_state()):
        fail("drawing consumed the global RNG instead of (or besides) the given generator")


@clause("SAMP-DRAW-04")
def test_each_row_draws_from_its_own_distribution(adapter) -> None:
    op = require(adapter, "sample")
    vocab, hot = 16, [3, 0, 15, 7, 7, 1]
    x = torch.full((len(hot), vocab), NEG_INF)
    x[torch.arange(len(hot)), torch.tensor(hot)] = 0.0
    drawn = op(x.clone(), SamplingParams(), torch.Generator().manual_seed(0)).tolist()
    if drawn != hot:
        fail(f"rows with a single finite logit at {hot} drew {drawn}", drawn=drawn, expected=hot)


# ---------------------------------------------------------------------------------------
# Edge cases

# Every operation with arguments that enable it: (operation, extra arguments).
OPERATIONS = [
    ("temperature", (0.7,)),
    ("top_k", (2,)),
    ("top_p", (0.9,)),
    ("min_p", (0.1,)),
    # Every stage enabled; one the adapter's pipeline lacks is left out (see _supported).
    ("process", (SamplingParams(temperature=0.7, top_k=3, top_p=0.9, min_p=0.05),)),
    ("greedy", ()),
    ("sample", (SamplingParams(), "generator")),
]
OPERATION_IDS = [name for name, _ in OPERATIONS]


def _supported(adapter, operation: str, params: SamplingParams) -> SamplingParams:
    """`params` with the stages `operation` lacks disabled: edge-case tests are about the edge case,
    so they never hand an optional feature to an implementation without it."""
    disabled = SamplingParams()
    kept_fields = {
        name: getattr(params if supports(adapter, operation, name) else disabled, name)
        for name in ("temperature", "top_k", "top_p", "min_p", "min_tokens_to_keep")
    }
    return SamplingParams(**kept_fields)


def _call(op: Callable[..., torch.Tensor], x: torch.Tensor, arguments: tuple, adapter, operation: str) -> torch.Tensor:
    args = tuple(torch.Generator().manual_seed(0) if a == "generator" else a for a in arguments)
    args = tuple(_supported(adapter, operation, a) if isinstance(a, SamplingParams) else a for a in args)
    return op(x, *args)


@clause("SAMP-EDGE-01")
@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "posinf"])
@pytest.mark.parametrize(("operation", "arguments"), OPERATIONS, ids=OPERATION_IDS)
def test_nan_and_posinf_logits_are_rejected(adapter, operation: str, arguments: tuple, bad: float) -> None:
    op = require(adapter, operation)
    x = row(1.0, bad, 0.5, -1.0, dtype=torch.float32)
    expect_value_error(
        lambda: _call(op, x, arguments, adapter, operation), "logits", what=f"{operation} with a {bad} logit"
    )


@clause("SAMP-EDGE-02")
@pytest.mark.parametrize(("operation", "arguments"), OPERATIONS[:5], ids=OPERATION_IDS[:5])
def test_row_with_nothing_left_is_unchanged(adapter, operation: str, arguments: tuple) -> None:
    op = require(adapter, operation)
    x = torch.tensor([[NEG_INF] * 4, [1.0, 2.0, 3.0, 4.0]])
    result = _call(op, x.clone(), arguments, adapter, operation)
    assert_unchanged(result[:1], x[:1], f"{operation} on a row of -inf")


@clause("SAMP-EDGE-02")
def test_drawing_from_a_row_with_nothing_left_raises(adapter) -> None:
    op = require(adapter, "sample")
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [NEG_INF] * 4])
    try:
        drawn = op(x, SamplingParams(), torch.Generator().manual_seed(0))
    except Exception:
        return
    fail(f"drawing from a row of -inf returned {drawn.tolist()} instead of raising")


@clause("SAMP-EDGE-03")
@pytest.mark.parametrize(("operation", "arguments"), OPERATIONS, ids=OPERATION_IDS)
def test_vocabulary_of_one(adapter, operation: str, arguments: tuple) -> None:
    op = require(adapter, operation)
    x = torch.tensor([[0.3], [-2.0]])
    result = _call(op, x.clone(), arguments, adapter, operation)
    if operation in ("greedy", "sample"):
        if result.tolist() != [0, 0]:
            fail(f"{operation} with V=1 returned {result.tolist()}, expected [0, 0]")
    elif operation in ("temperature", "process"):  # these rescale; nothing may be removed
        assert_kept(result, [[0], [0]], f"{operation} with V=1")
    else:
        assert_unchanged(result, x, f"{operation} with V=1")


@clause("SAMP-EDGE-04")
@given(case=logits_cases(), data=st.data())
def test_rows_are_processed_independently(adapter, case: LogitsCase, data: st.DataObject) -> None:
    op = require(adapter, "process")
    params = data.draw(sampling_params(case.vocab, adapter), label="params")
    x = case.tensor(torch.float32)
    batched = op(x.clone(), params)
    for i in range(case.batch):
        alone = op(x[i : i + 1].clone(), params)
        with annotate(inputs=repr(case), params=repr(params), row=i):
            assert_close(batched[i : i + 1], alone.double(), alone, what=f"row {i} batched vs alone")


@clause("SAMP-EDGE-05")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("operation", "arguments"), OPERATIONS[:5], ids=OPERATION_IDS[:5])
def test_inputs_untouched_shape_and_dtype_kept(adapter, dtype, operation: str, arguments: tuple) -> None:
    use_dtype(adapter, dtype)
    op = require(adapter, operation)
    x = LogitsCase(seed=2, batch=3, vocab=20, scale=2.0, removed_fraction=0.2).tensor(dtype)
    original = x.clone()
    result = _call(op, x, arguments, adapter, operation)
    if not torch.equal(x, original):
        fail(f"{operation} modified its input tensor in place")
    if result.shape != x.shape or result.dtype != x.dtype:
        fail(f"{operation} returned shape {tuple(result.shape)} {result.dtype}, expected {tuple(x.shape)} {x.dtype}")
