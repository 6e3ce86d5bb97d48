"""Mutants of the audio family: the reference adapter with one plausible bug each.

tests/test_mutants_vision.py runs the audio suite on every mutant and checks that exactly the
clauses in `breaks` fail (the first one is the clause the bug targets). Most bugs are written as
a change to one step of a copy of the reference pipeline (`_pipeline`), so each mutant shows
only its own bug.
"""

from __future__ import annotations

import math

import torch

from specformer.conformance.mutants import Mutant, reference_capabilities
from specformer.reference import audio


class _Mutant(Mutant):
    capabilities = reference_capabilities("audio", "AUD-")

    # The steps of the pipeline; a mutant overrides one.
    def _window(self, length: int, dtype: torch.dtype) -> torch.Tensor:
        return audio.hann_window(length, dtype=dtype)

    def _frames_padded(self, batch: torch.Tensor) -> torch.Tensor:
        half = audio.N_FFT // 2
        left = batch[:, 1 : half + 1].flip(-1)
        right = batch[:, -half - 1 : -1].flip(-1)
        return torch.cat([left, batch, right], dim=1)

    def _power(self, batch: torch.Tensor, drop_last: bool = True) -> torch.Tensor:
        frames = self._frames_padded(batch).unfold(1, audio.N_FFT, audio.HOP_LENGTH)  # (B, 1 + S // hop, n_fft)
        if drop_last:
            frames = frames[:, :-1]
        spectrum = torch.fft.rfft(frames * self._window(audio.N_FFT, batch.dtype), dim=-1)
        return (spectrum.abs() ** 2).transpose(1, 2)  # (B, F, T)

    def _filters(self, n_mels: int) -> torch.Tensor:
        return audio.mel_filters(n_mels)

    def _log(self, mel: torch.Tensor) -> torch.Tensor:
        return torch.clamp(mel, min=1e-10).log10()

    def _clamp(self, log_spec: torch.Tensor) -> torch.Tensor:
        return torch.maximum(log_spec, log_spec.amax(dim=(1, 2), keepdim=True) - 8.0)

    def _scale(self, log_spec: torch.Tensor) -> torch.Tensor:
        return (log_spec + 4.0) / 4.0

    def _batch(self, waveforms: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
        return torch.stack([audio.pad_or_trim(w.to(dtype)) for w in waveforms])

    def _pipeline(self, waveforms: list[torch.Tensor], n_mels: int, sampling_rate: int) -> torch.Tensor:
        if sampling_rate != audio.SAMPLING_RATE:
            raise ValueError(f"sampling_rate must be {audio.SAMPLING_RATE}; got {sampling_rate}")
        for index, waveform in enumerate(waveforms):
            audio.check_waveform(waveform, index)
        dtype = waveforms[0].dtype
        power = self._power(self._batch(waveforms, dtype))
        mel = self._filters(n_mels).to(dtype) @ power
        return self._scale(self._clamp(self._log(mel)))

    def hann_window(self, length):
        return self._window(length, torch.float32)

    def power_spectrogram(self, waveform):
        return self._power(waveform)

    def mel_filters(self, n_mels):
        return self._filters(n_mels).float()

    def log_mel(self, waveforms, n_mels=80, sampling_rate=16000):
        return self._pipeline(waveforms, n_mels, sampling_rate)


class ResampledSilently(_Mutant):
    """Accepts any sampling rate (as if the audio had been resampled) instead of raising."""

    breaks = ("AUD-IN-01",)

    def log_mel(self, waveforms, n_mels=80, sampling_rate=16000):
        return self._pipeline(waveforms, n_mels, 16000)  # bug: the rate is ignored


class StereoAveraged(_Mutant):
    """Averages the channels of a stereo waveform instead of rejecting it."""

    breaks = ("AUD-IN-02",)

    def log_mel(self, waveforms, n_mels=80, sampling_rate=16000):
        mono = [w.mean(dim=0) if w.dim() == 2 else w for w in waveforms]  # bug
        return self._pipeline(mono, n_mels, sampling_rate)


class NonFiniteAccepted(_Mutant):
    """Lets NaN and infinite samples through to the features."""

    breaks = ("AUD-IN-03",)

    def log_mel(self, waveforms, n_mels=80, sampling_rate=16000):
        if all(torch.isfinite(w).all() for w in waveforms):
            return self._pipeline(waveforms, n_mels, sampling_rate)
        return torch.full((len(waveforms), n_mels, audio.CHUNK_FRAMES), math.nan)  # bug: NaN out, no error


class PaddedAfterTheStft(_Mutant):
    """Computes the STFT of the unpadded audio and pads the spectrogram with silence afterwards."""

    breaks = ("AUD-PAD-01", "AUD-FEAT-01", "AUD-FEAT-02", "AUD-LOG-02")  # FEAT-02: a 1-sample input cannot reflect

    def _batch(self, waveforms, dtype):
        return [w.to(dtype)[: audio.CHUNK_SAMPLES] for w in waveforms]  # padded in _power

    def _power(self, batch, drop_last=True):
        if isinstance(batch, torch.Tensor):
            return super()._power(batch, drop_last)
        powers = []
        for waveform in batch:
            power = super()._power(waveform.reshape(1, -1))  # (1, F, S // hop): the edge reflects real audio
            powers.append(torch.nn.functional.pad(power, (0, audio.CHUNK_FRAMES - power.shape[-1])))  # bug
        return torch.cat(powers)


class NotTrimmedBeforeTheStft(_Mutant):
    """Runs the STFT over the whole long input and keeps the first 3000 frames."""

    breaks = ("AUD-PAD-02", "AUD-FEAT-01")

    def _batch(self, waveforms, dtype):
        longest = max(w.shape[-1] for w in waveforms)
        length = max(longest, audio.CHUNK_SAMPLES)
        return torch.stack([audio.pad_or_trim(w.to(dtype), length) for w in waveforms])  # bug: not trimmed

    def _power(self, batch, drop_last=True):
        return super()._power(batch, drop_last)[..., : batch.shape[-1] // audio.HOP_LENGTH][..., : audio.CHUNK_FRAMES]


class SymmetricHann(_Mutant):
    """Uses the symmetric Hann window (divides by N - 1), as numpy.hanning does."""

    breaks = ("AUD-STFT-01", "AUD-STFT-02", "AUD-STFT-03", "AUD-STFT-04", "AUD-FEAT-01", "AUD-LOG-02")

    def _window(self, length, dtype):
        n = torch.arange(length, dtype=torch.float64)
        return (0.5 - 0.5 * torch.cos(2 * math.pi * n / max(length - 1, 1))).to(dtype)  # bug


class ZeroPaddedEdges(_Mutant):
    """Centres the frames with zero padding instead of reflect padding."""

    breaks = ("AUD-STFT-02", "AUD-STFT-03", "AUD-STFT-04", "AUD-FEAT-01", "AUD-LOG-02")

    def _frames_padded(self, batch):
        half = audio.N_FFT // 2
        return torch.nn.functional.pad(batch, (half, half))  # bug


class LastFrameKept(_Mutant):
    """Returns all 1 + S // hop frames of the centred STFT from the power spectrogram."""

    breaks = ("AUD-STFT-02", "AUD-STFT-03", "AUD-STFT-04")

    def power_spectrogram(self, waveform):
        return self._power(waveform, drop_last=False)  # bug


class HtkMelScale(_Mutant):
    """Places the filters on the HTK mel scale while keeping the Slaney normalisation."""

    breaks = ("AUD-MEL-01", "AUD-MEL-03", "AUD-FEAT-01", "AUD-LOG-02")

    def _filters(self, n_mels):
        return audio.mel_filters(n_mels, scale="htk")  # bug


class MelWithoutSlaneyNorm(_Mutant):
    """Leaves the triangles at peak 1 (norm=None)."""

    breaks = ("AUD-MEL-01", "AUD-MEL-02", "AUD-FEAT-01", "AUD-LOG-02")

    def _filters(self, n_mels):
        return audio.mel_filters(n_mels, norm=None)  # bug


class LogOfZeroUnclamped(_Mutant):
    """Takes log10 of the mel power without the 1e-10 floor."""

    breaks = ("AUD-LOG-01", "AUD-LOG-02")  # LOG-02: a quiet example's floor is then max - 8 < -10

    def _log(self, mel):
        return mel.log10()  # bug: log10(0) = -inf


class NaturalLog(_Mutant):
    """Uses the natural log instead of log10."""

    breaks = ("AUD-LOG-01", "AUD-LOG-03", "AUD-FEAT-01", "AUD-LOG-02")

    def _log(self, mel):
        return torch.clamp(mel, min=1e-10).log()  # bug


class ClampPerFrame(_Mutant):
    """Clamps each frame to 8 below its own maximum instead of the example's."""

    breaks = ("AUD-LOG-02", "AUD-LOG-03", "AUD-LOG-04", "AUD-FEAT-01")

    def _clamp(self, log_spec):
        return torch.maximum(log_spec, log_spec.amax(dim=1, keepdim=True) - 8.0)  # bug


class ClampOverTheBatch(_Mutant):
    """Clamps every example to 8 below the loudest example of the batch."""

    breaks = ("AUD-LOG-02", "AUD-MASK-02", "AUD-FEAT-01")

    def _clamp(self, log_spec):
        return torch.maximum(log_spec, log_spec.amax() - 8.0)  # bug


class ScaledByEight(_Mutant):
    """Scales the clamped log as (x + 4) / 8."""

    breaks = ("AUD-LOG-01", "AUD-LOG-03", "AUD-FEAT-01", "AUD-LOG-02")

    def _scale(self, log_spec):
        return (log_spec + 4.0) / 8.0  # bug


class PaddedToTheLongest(_Mutant):
    """Pads a batch to its longest waveform instead of to 30 s (trimming what is longer)."""

    breaks = ("AUD-FEAT-02", "AUD-PAD-01", "AUD-LOG-01", "AUD-FEAT-01", "AUD-LOG-02", "AUD-MASK-02")

    def _batch(self, waveforms, dtype):
        length = min(max(w.shape[-1] for w in waveforms), audio.CHUNK_SAMPLES)
        length = max(length, audio.N_FFT)
        return torch.stack([audio.pad_or_trim(w.to(dtype), length) for w in waveforms])  # bug


class FrameMaskFloor(_Mutant):
    """Counts only the frames whose whole hop is audio (floor(S / hop)) in the frame mask."""

    breaks = ("AUD-MASK-01",)

    def frame_mask(self, waveforms):
        lengths = [w.shape[-1] for w in waveforms]
        frames = torch.arange(audio.CHUNK_FRAMES) * audio.HOP_LENGTH
        return ((frames[None, :] + audio.HOP_LENGTH) <= torch.tensor(lengths)[:, None]).to(torch.int64)  # bug


ALL: tuple[type[_Mutant], ...] = (
    ResampledSilently,
    StereoAveraged,
    NonFiniteAccepted,
    PaddedAfterTheStft,
    NotTrimmedBeforeTheStft,
    SymmetricHann,
    ZeroPaddedEdges,
    LastFrameKept,
    HtkMelScale,
    MelWithoutSlaneyNorm,
    LogOfZeroUnclamped,
    NaturalLog,
    ClampPerFrame,
    ClampOverTheBatch,
    ScaledByEight,
    PaddedToTheLongest,
    FrameMaskFloor,
)
