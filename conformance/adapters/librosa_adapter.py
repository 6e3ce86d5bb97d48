"""librosa as an audio adapter (spec/audio.md): the filter bank and STFT Whisper's features are built from.

Load it as `specformer.conformance.adapters.librosa_adapter:LibrosaAudio` (librosa is not in an
extra that CI installs, so it is not a built-in adapter).

- hann_window: `librosa.filters.get_window("hann", N, fftbins=True)` (scipy's periodic window).
- power_spectrogram: `librosa.stft(n_fft=400, hop_length=160, window="hann", center=True,
  pad_mode="reflect")`, |.|², the last frame dropped as Whisper does. subtle: librosa's own default
  has been `pad_mode="constant"` (zeros) since 0.10; Whisper's front end reflects, so the adapter
  asks for "reflect" the way a user reproducing Whisper's features must.
- mel_filters: `librosa.filters.mel(sr=16000, n_fft=400, n_mels=M)` (Slaney scale, Slaney area
  norm: librosa's defaults), which is how Whisper's shipped `mel_filters.npz` was generated.

librosa has no Whisper log-mel pipeline (its `power_to_db` is 10·log10 with a `top_db` floor, a
different scaling), so log_mel and frame_mask are unsupported rather than rebuilt here.
"""

from __future__ import annotations

import numpy as np
import torch

from specformer.conformance.adapters.protocols import Capabilities

SAMPLING_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160


class LibrosaAudio:
    """librosa's window, STFT and mel filter bank, configured as Whisper's front end."""

    name = "librosa"
    capabilities = Capabilities(families=frozenset({"audio"}), dtypes=(torch.float32,), devices=("cpu",))
    expectations_file = None  # no documented deviations

    def __init__(self) -> None:
        import librosa

        # librosa loads its submodules lazily: pay that import here, not inside a timed call.
        import librosa.core.spectrum
        import librosa.filters

        self.description = f"librosa {librosa.__version__} (filters.get_window, stft, filters.mel)"

    def hann_window(self, length: int) -> torch.Tensor:
        import librosa

        return torch.from_numpy(np.asarray(librosa.filters.get_window("hann", length, fftbins=True))).float()

    def power_spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        import librosa

        stft = librosa.stft(
            waveform.numpy(),
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            window="hann",
            center=True,
            pad_mode="reflect",
        )  # (B, 201, S // 160 + 1) complex
        return torch.from_numpy(np.abs(stft[..., :-1]) ** 2).float()

    def mel_filters(self, n_mels: int) -> torch.Tensor:
        import librosa

        return torch.from_numpy(librosa.filters.mel(sr=SAMPLING_RATE, n_fft=N_FFT, n_mels=n_mels)).float()
