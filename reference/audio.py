"""Reference audio front end: Whisper's log-mel features, written out from their definitions.

Shapes: B batch, S samples (16 kHz), F = n_fft // 2 + 1 frequency bins (201), M mel bins (80 or
128), T frames (3000 for 30 s).

The pipeline (AUD-FEAT-01), in order:
1. check: 16 kHz, mono, finite samples (AUD-IN-*);
2. pad with zeros or trim to 480,000 samples (AUD-PAD-*);
3. power spectrogram: periodic Hann window of 400, frames every 160 samples, centred with
   reflect padding, |rfft|^2, the last frame dropped (AUD-STFT-*);
4. mel: the Slaney filter bank (Slaney scale, area-normalised), 0 to 8 kHz (AUD-MEL-*);
5. log10(max(mel, 1e-10)), raised to at least (example max - 8), then (x + 4) / 4 (AUD-LOG-*).

Left out: resampling (other rates are an error, not converted), dithering (Whisper's default
is 0), the zero-mean unit-variance option of transformers' extractor (off for Whisper), and
chunking of long audio into several 30 s windows.
"""

from __future__ import annotations

import math

import torch

SAMPLING_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160
CHUNK_SAMPLES = 30 * SAMPLING_RATE  # 480,000
CHUNK_FRAMES = CHUNK_SAMPLES // HOP_LENGTH  # 3,000
MEL_SCALES = ("slaney", "htk")


def hann_window(length: int = N_FFT, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The periodic Hann window: w[n] = 0.5 - 0.5 cos(2 pi n / N), n = 0 .. N-1.

    subtle: periodic divides by N, not N - 1 (the symmetric window), so w[N-1] != 0.

    Clauses: AUD-STFT-01.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1; got {length}")
    n = torch.arange(length, dtype=torch.float64)
    return (0.5 - 0.5 * torch.cos(2 * math.pi * n / length)).to(dtype)


def power_spectrogram(waveform: torch.Tensor, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> torch.Tensor:
    """(B, S) -> (B, F, S // hop): |rfft(window * frame)|^2 of centred, reflect-padded frames,
    the last frame of the centred STFT dropped.

    Clauses: AUD-STFT-01, AUD-STFT-02, AUD-STFT-03, AUD-STFT-04.
    """
    if waveform.dim() != 2:
        raise ValueError(f"waveform must be (B, S); got shape {tuple(waveform.shape)}")
    if waveform.shape[1] <= n_fft // 2:
        raise ValueError(f"waveform must have more than n_fft // 2 = {n_fft // 2} samples for reflect padding")
    half = n_fft // 2
    # reflect: x[-k] = x[k], the edge sample itself not repeated.
    left = waveform[:, 1 : half + 1].flip(-1)
    right = waveform[:, -half - 1 : -1].flip(-1)
    padded = torch.cat([left, waveform, right], dim=1)  # (B, S + n_fft)
    frames = padded.unfold(1, n_fft, hop_length)  # (B, 1 + S // hop, n_fft)
    frames = frames[:, :-1]  # (B, S // hop, n_fft): the last frame dropped
    window = hann_window(n_fft, dtype=waveform.dtype)
    spectrum = torch.fft.rfft(frames * window, dim=-1)  # (B, T, F)
    return (spectrum.abs() ** 2).transpose(1, 2)  # (B, F, T): power |X|^2


def hz_to_mel(frequency: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Slaney: 3 f / 200 below 1 kHz, 15 + 27 ln(f / 1000) / ln(6.4) above; HTK: 2595 log10(1 + f / 700).

    >>> hz_to_mel(torch.tensor([1000.0, 6400.0], dtype=torch.float64)).tolist()
    [15.0, 42.0]

    Clauses: AUD-MEL-03.
    """
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + frequency / 700.0)
    if scale != "slaney":
        raise ValueError(f"scale must be one of {', '.join(MEL_SCALES)}; got {scale!r}")
    linear = 3.0 * frequency / 200.0
    logarithmic = 15.0 + 27.0 * torch.log(frequency.clamp(min=1e-12) / 1000.0) / math.log(6.4)
    return torch.where(frequency >= 1000.0, logarithmic, linear)


def mel_to_hz(mel: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """The inverse of hz_to_mel."""
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    if scale != "slaney":
        raise ValueError(f"scale must be one of {', '.join(MEL_SCALES)}; got {scale!r}")
    linear = 200.0 * mel / 3.0
    logarithmic = 1000.0 * torch.exp(math.log(6.4) * (mel - 15.0) / 27.0)
    return torch.where(mel >= 15.0, logarithmic, linear)


def mel_filters(
    n_mels: int = 80,
    *,
    n_fft: int = N_FFT,
    sampling_rate: int = SAMPLING_RATE,
    scale: str = "slaney",
    norm: str | None = "slaney",
) -> torch.Tensor:
    """(M, F) triangular filters in Hz between M + 2 points equally spaced on the mel scale from 0
    to sampling_rate / 2, each scaled by 2 / (f[m+2] - f[m]) when norm="slaney" (librosa's default).

    Clauses: AUD-MEL-01, AUD-MEL-02, AUD-MEL-03.
    """
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1; got {n_mels}")
    if norm not in ("slaney", None):
        raise ValueError(f"norm must be 'slaney' or None; got {norm!r}")
    bins = torch.linspace(0, sampling_rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # (F,) bin frequencies
    top = hz_to_mel(torch.tensor(sampling_rate / 2, dtype=torch.float64), scale)
    edges = mel_to_hz(torch.linspace(0.0, float(top), n_mels + 2, dtype=torch.float64), scale)  # (M + 2,)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (M, 1) each
    rising = (bins - lower) / (centre - lower)  # (M, F)
    falling = (upper - bins) / (upper - centre)  # (M, F)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (M, F)
    if norm == "slaney":
        filters = filters * (2.0 / (upper - lower))  # unit area over Hz
    return filters


def check_waveform(waveform: torch.Tensor, index: int) -> None:
    """ValueError unless waveform `index` of a batch is one mono channel, (S,)."""
    if waveform.dim() != 1:
        channels = waveform.shape[0] if waveform.dim() == 2 else "?"
        raise ValueError(
            f"waveform {index} must be mono (1-D samples); got shape {tuple(waveform.shape)} ({channels} channels)"
        )
    if not torch.isfinite(waveform).all():
        bad = int((~torch.isfinite(waveform)).sum())
        raise ValueError(f"waveform {index} has {bad} non-finite samples (NaN or inf)")


def pad_or_trim(waveform: torch.Tensor, length: int = CHUNK_SAMPLES) -> torch.Tensor:
    """(S,) -> (length,): zeros appended, or the first `length` samples.

    Clauses: AUD-PAD-01, AUD-PAD-02.
    """
    if waveform.shape[-1] >= length:
        return waveform[..., :length]
    return torch.nn.functional.pad(waveform, (0, length - waveform.shape[-1]))


def log_mel_spectrogram(
    waveforms: list[torch.Tensor],
    n_mels: int = 80,
    *,
    sampling_rate: int = SAMPLING_RATE,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """A batch of 1-D 16 kHz waveforms (any lengths) -> (B, M, 3000) Whisper log-mel features.

    Clauses: AUD-IN-01, AUD-IN-02, AUD-IN-03, AUD-PAD-01, AUD-PAD-02, AUD-LOG-01, AUD-LOG-02,
    AUD-LOG-03, AUD-LOG-04, AUD-FEAT-01, AUD-FEAT-02, AUD-MASK-02.
    """
    if sampling_rate != SAMPLING_RATE:
        raise ValueError(f"sampling_rate must be {SAMPLING_RATE} Hz (no resampling is done); got {sampling_rate}")
    if not waveforms:
        raise ValueError("waveforms must hold at least one waveform")
    for index, waveform in enumerate(waveforms):
        check_waveform(waveform, index)
    batch = torch.stack([pad_or_trim(w.to(dtype)) for w in waveforms])  # (B, 480000)
    power = power_spectrogram(batch)  # (B, F, 3000)
    mel = mel_filters(n_mels).to(dtype) @ power  # (M, F) @ (B, F, T) -> (B, M, T)
    log_spec = torch.clamp(mel, min=1e-10).log10()
    example_max = log_spec.amax(dim=(1, 2), keepdim=True)  # (B, 1, 1): per example, all bins and frames
    log_spec = torch.maximum(log_spec, example_max - 8.0)
    return (log_spec + 4.0) / 4.0  # (B, M, T)


def frame_mask(lengths: list[int], hop_length: int = HOP_LENGTH) -> torch.Tensor:
    """(B, 3000) int64: frame t is 1 when t * hop < S (its first sample is real audio).

    Clauses: AUD-MASK-01.
    """
    if any(length < 0 for length in lengths):
        raise ValueError(f"lengths must be >= 0; got {lengths}")
    frames = torch.arange(CHUNK_FRAMES) * hop_length  # (T,)
    return (frames[None, :] < torch.tensor(lengths)[:, None]).to(torch.int64)  # (B, T)
