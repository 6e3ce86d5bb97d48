"""Conformance tests for spec/audio.md: Whisper's log-mel front end.

Waveforms are built in float64 from fixed seeds (frontend_inputs.py) and handed to the adapter
as float32, the dtype Whisper's extractor computes in; features are compared with the float64
reference under the numerical policy. Padding, trimming and batching are checked as properties
of the adapter against itself, so that each failure points at one clause.
"""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from specformer.conformance.numerics import annotate, assert_close, fail, max_abs_error
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite.checks import expect_value_error
from specformer.conformance.suite.frontend_inputs import assert_invariant, waveform
from specformer.reference import audio as ref

SECOND = 16_000
CHUNK = 30 * SECOND


def _expect_value_error(call, what: str, names: tuple[str, ...]) -> None:
    """`call()` must raise ValueError whose message names one of `names` (in any case)."""
    expect_value_error(call, *names, what=what, any_of=True, ignore_case=True)


# The reference's features per input, kept for the session: every adapter (and every mutant)
# of a run is checked on the same waveforms, and a 30 s log-mel costs a few tenths of a second.
_REFERENCE_CACHE: dict[tuple[object, ...], torch.Tensor] = {}


def _reference(waves: list[torch.Tensor], n_mels: int, dtype: torch.dtype) -> torch.Tensor:
    key = (n_mels, dtype, tuple(hashlib.sha1(w.double().numpy().tobytes()).hexdigest() for w in waves))
    if key not in _REFERENCE_CACHE:
        inputs = waves if dtype == torch.float64 else [w.to(dtype) for w in waves]
        _REFERENCE_CACHE[key] = ref.log_mel_spectrogram(inputs, n_mels, dtype=dtype)
    return _REFERENCE_CACHE[key]


def _check_features(adapter, waves: list[torch.Tensor], n_mels: int, what: str) -> torch.Tensor:
    op = require(adapter, "log_mel")
    given = [w.float() for w in waves]
    actual = op(given, n_mels)
    if any(not torch.equal(g, w.float()) for g, w in zip(given, waves, strict=True)):
        fail(f"{what}: log_mel changed its input waveforms")
    assert_close(actual, _reference(waves, n_mels, torch.float64), _reference(waves, n_mels, torch.float32), what=what)
    return actual


def _reference_error(waves: list[torch.Tensor], n_mels: int = 80) -> float:
    """The reference's own float32 error on these waveforms: what a float32 front end may differ by."""
    return max_abs_error(_reference(waves, n_mels, torch.float32), _reference(waves, n_mels, torch.float64))


# ---------------------------------------------------------------------------------------
# Input


@clause("AUD-IN-01")
@pytest.mark.parametrize("rate", [8_000, 44_100, 16_001])
def test_other_sampling_rates_are_rejected(adapter, rate: int) -> None:
    op = require(adapter, "log_mel")
    wave = waveform("noise", SECOND).float()
    _expect_value_error(lambda: op([wave], 80, rate), f"audio at {rate} Hz", ("sampling", "rate"))


@clause("AUD-IN-02")
def test_stereo_is_rejected(adapter) -> None:
    op = require(adapter, "log_mel")
    stereo = torch.stack([waveform("noise", SECOND), waveform("sweep", SECOND)]).float()  # (2, S)
    _expect_value_error(lambda: op([stereo], 80), "a (2, S) stereo waveform", ("mono", "channel"))


@clause("AUD-IN-03")
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_samples_are_rejected(adapter, bad: float) -> None:
    op = require(adapter, "log_mel")
    wave = waveform("noise", SECOND).float()
    wave[1234] = bad
    _expect_value_error(lambda: op([wave], 80), f"a waveform with a {bad} sample", ("nan", "finite", "inf", "sample"))


# ---------------------------------------------------------------------------------------
# Padding and trimming


@clause("AUD-PAD-01")
@pytest.mark.parametrize(("kind", "samples"), [("noise", 3 * SECOND + 17), ("impulses", 250)])
def test_short_audio_is_zero_padded_before_the_stft(adapter, kind: str, samples: int) -> None:
    op = require(adapter, "log_mel")
    wave = waveform(kind, samples, seed=1)
    padded = torch.nn.functional.pad(wave, (0, CHUNK - samples))
    assert_invariant(
        op([wave.float()], 80),
        op([padded.float()], 80),
        _reference_error([wave]),
        what=f"{samples} samples of {kind} vs the same zero-padded to 30 s",
        kind=kind,
        samples=samples,
    )


@clause("AUD-PAD-02")
@pytest.mark.parametrize(("kind", "samples"), [("noise", 40 * SECOND), ("sweep", CHUNK + 1)])
def test_long_audio_is_trimmed(adapter, kind: str, samples: int) -> None:
    op = require(adapter, "log_mel")
    wave = waveform(kind, samples, seed=2)
    assert_invariant(
        op([wave.float()], 80),
        op([wave[:CHUNK].float()], 80),
        _reference_error([wave[:CHUNK]]),
        what=f"{samples} samples of {kind} vs its first 30 s",
        kind=kind,
        samples=samples,
    )


# ---------------------------------------------------------------------------------------
# STFT


@clause("AUD-STFT-01")
@pytest.mark.parametrize("length", [400, 512, 3])
def test_periodic_hann_window(adapter, length: int) -> None:
    op = require(adapter, "hann_window")
    with annotate(length=length):
        assert_close(
            op(length), ref.hann_window(length), ref.hann_window(length, dtype=torch.float32), what="Hann window"
        )


def _check_power(adapter, wave: torch.Tensor, what: str) -> None:
    op = require(adapter, "power_spectrogram")
    assert_close(op(wave.float()), ref.power_spectrogram(wave), ref.power_spectrogram(wave.float()), what=what)


@clause("AUD-STFT-02")
@pytest.mark.parametrize(
    ("kind", "samples", "view"),
    [("noise", SECOND + 37, "contiguous"), ("sweep", 4000, "batch-slice"), ("clipped", 2001, "strided")],
)
def test_power_spectrogram(adapter, kind: str, samples: int, view: str) -> None:
    batch = torch.stack([waveform(kind, samples, seed=s) for s in (3, 4)])  # (2, S)
    if view == "batch-slice":
        batch = torch.cat([batch, batch.flip(0), batch])[2:4].flip(0)
    elif view == "strided":
        batch = torch.stack([batch, batch], dim=-1)[..., 0]  # every other element of a buffer
    with annotate(kind=kind, samples=samples, view=view):
        _check_power(adapter, batch, "power spectrogram")


@clause("AUD-STFT-03")
@pytest.mark.parametrize("samples", [CHUNK, 1600, 1601, 1759])
def test_the_last_frame_is_dropped(adapter, samples: int) -> None:
    op = require(adapter, "power_spectrogram")
    wave = waveform("noise", samples, seed=5).reshape(1, -1)
    frames = op(wave.float()).shape[-1]
    if frames != samples // 160:
        fail(f"{samples} samples gave {frames} frames, expected {samples // 160} (the last frame dropped)")
    with annotate(samples=samples):
        _check_power(adapter, wave, "power spectrogram frames")


@clause("AUD-STFT-04")
@pytest.mark.parametrize("kind", ["constant", "ramp"])
def test_edges_are_reflect_padded(adapter, kind: str) -> None:
    samples = 4000
    if kind == "constant":
        wave = torch.full((1, samples), 0.25, dtype=torch.float64)
    else:
        wave = torch.linspace(-0.5, 0.5, samples, dtype=torch.float64).reshape(1, -1)
    with annotate(kind=kind):
        _check_power(adapter, wave, f"power spectrogram of a {kind} signal (edge frames)")


# ---------------------------------------------------------------------------------------
# Mel filters


@clause("AUD-MEL-01")
@pytest.mark.parametrize("n_mels", [80, 128])
def test_slaney_filter_bank(adapter, n_mels: int) -> None:
    op = require(adapter, "mel_filters")
    expected = ref.mel_filters(n_mels)
    with annotate(n_mels=n_mels):
        assert_close(op(n_mels), expected, expected.float(), what="mel filter bank")


@clause("AUD-MEL-02")
@pytest.mark.parametrize("n_mels", [80, 128])
def test_filters_have_unit_area(adapter, n_mels: int) -> None:
    op = require(adapter, "mel_filters")
    filters = op(n_mels).double()  # (M, 201)
    bin_hz = 8000 / 200
    areas = filters.sum(dim=1) * bin_hz  # a Riemann sum over 40 Hz bins
    wide = (filters > 0).sum(dim=1) >= 6  # narrow triangles are too coarsely sampled to integrate
    if wide.sum() < 10:
        fail(f"only {int(wide.sum())} of {n_mels} filters span 6 bins or more")
    worst = float((areas[wide] - 1).abs().max())
    if worst > 0.03:
        fail(
            f"filter areas over frequency range from {float(areas[wide].min()):.3g} to {float(areas[wide].max()):.3g}; "
            f"Slaney normalisation gives 1",
            n_mels=n_mels,
        )


@clause("AUD-MEL-03")
@pytest.mark.parametrize("n_mels", [80, 128])
def test_filter_centres_on_the_slaney_scale(adapter, n_mels: int) -> None:
    op = require(adapter, "mel_filters")
    shape = ref.mel_filters(n_mels, norm=None)
    shape = shape / shape.amax(dim=1, keepdim=True)  # each triangle peak-normalised
    actual = op(n_mels)
    actual = actual / actual.amax(dim=1, keepdim=True)
    with annotate(n_mels=n_mels):
        assert_close(actual, shape, shape.float(), what="peak-normalised mel filters (their placement)")


# ---------------------------------------------------------------------------------------
# Log compression


@clause("AUD-LOG-01")
@pytest.mark.parametrize("samples", [SECOND, CHUNK])
def test_silence_is_the_clamped_log(adapter, samples: int) -> None:
    op = require(adapter, "log_mel")
    features = op([torch.zeros(samples)], 80)
    expected = torch.full((1, 80, 3000), -1.5, dtype=torch.float64)
    with annotate(samples=samples):
        assert_close(features, expected, expected.float(), what="features of digital silence")


def _loud_then_quiet(samples: int = 4 * SECOND) -> torch.Tensor:
    wave = waveform("noise", samples, seed=6)
    wave[samples // 2 :] *= 1e-5  # 100 dB quieter: below the 80 dB range of the clamp
    return wave


@clause("AUD-LOG-02")
def test_dynamic_range_is_clamped_per_example(adapter) -> None:
    waves = [_loud_then_quiet(), 1e-3 * waveform("sweep", 2 * SECOND, seed=7), waveform("impulses", SECOND)]
    _check_features(adapter, waves[:1], 80, "features of loud-then-quiet noise")
    _check_features(adapter, waves, 80, "a batch of a loud, a quiet and an impulsive example")


@clause("AUD-LOG-03")
@pytest.mark.parametrize("kind", ["sweep"])
def test_features_scale_as_a_quarter_decade(adapter, kind: str) -> None:
    op = require(adapter, "log_mel")
    wave = waveform(kind, CHUNK, seed=8) + 1e-3 * waveform("noise", CHUNK, seed=9)  # no exact zeros
    quiet, loud = op([wave.float()], 80), op([(math.sqrt(10) * wave).float()], 80)
    shifted = (loud.double() - 0.25).float()
    assert_invariant(shifted, quiet, _reference_error([wave]), what=f"features of {kind} x sqrt(10) minus 0.25")


@clause("AUD-LOG-04")
def test_features_span_at_most_two(adapter) -> None:
    op = require(adapter, "log_mel")
    kinds = ("noise", "sweep", "clipped", "impulses")
    waves = [waveform(kind, 5 * SECOND, seed=10).float() for kind in kinds] + [_loud_then_quiet().float()]
    features = op(waves, 80)
    spans = (features.amax(dim=(1, 2)) - features.amin(dim=(1, 2))).tolist()
    if max(spans) > 2.0 + 1e-5:
        fail(f"features of {kinds} and loud-then-quiet noise span {spans}, more than 2.0", spans=spans)


# ---------------------------------------------------------------------------------------
# The whole front end


@clause("AUD-FEAT-01")
@pytest.mark.parametrize(
    ("kinds", "samples", "n_mels"),
    [
        (("sweep", "noise"), CHUNK, 80),
        (("clipped", "impulses"), 7 * SECOND + 3, 80),
        (("noise",), 12 * SECOND, 128),
        (("sweep",), CHUNK + 5 * SECOND, 128),
    ],
)
def test_log_mel_features(adapter, kinds, samples: int, n_mels: int) -> None:
    waves = [waveform(kind, samples, seed=11) for kind in kinds]
    with annotate(kinds=kinds, samples=samples, n_mels=n_mels):
        _check_features(adapter, waves, n_mels, "log-mel features")


@clause("AUD-FEAT-02")
@pytest.mark.parametrize(("lengths", "n_mels"), [((1, 160, 12345), 80), ((400, CHUNK, CHUNK + 1), 128)])
def test_output_shape(adapter, lengths: tuple[int, ...], n_mels: int) -> None:
    op = require(adapter, "log_mel")
    features = op([waveform("noise", n, seed=12).float() for n in lengths], n_mels)
    if tuple(features.shape) != (len(lengths), n_mels, 3000):
        fail(
            f"inputs of {lengths} samples gave features {tuple(features.shape)}, "
            f"expected {(len(lengths), n_mels, 3000)}"
        )


@clause("AUD-MASK-01")
def test_frame_mask(adapter) -> None:
    op = require(adapter, "frame_mask")
    lengths = [1, 159, 160, 161, 16_000, 16_001, CHUNK - 1, CHUNK]
    mask = op([torch.zeros(n) for n in lengths])
    expected = ref.frame_mask(lengths)
    if tuple(mask.shape) != tuple(expected.shape) or not torch.equal(mask.to(torch.int64), expected):
        counts = mask.sum(dim=-1).tolist() if mask.dim() == 2 else mask.shape
        fail(f"frame masks for {lengths} samples mark {counts} frames, expected {expected.sum(dim=-1).tolist()}")


@clause("AUD-MASK-02")
def test_batch_members_are_independent(adapter) -> None:
    op = require(adapter, "log_mel")
    waves = [waveform("noise", 2 * SECOND, seed=13), 1e-4 * waveform("sweep", 20 * SECOND), waveform("impulses", 500)]
    batch = op([w.float() for w in waves], 80)
    reference_error = _reference_error(waves)
    for index, wave in enumerate(waves):
        with annotate(example=index):
            alone = op([wave.float()], 80)[0]
            assert_invariant(batch[index], alone, reference_error, what="an example in a batch vs alone")
