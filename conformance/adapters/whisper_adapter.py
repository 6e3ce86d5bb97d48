"""openai-whisper as an audio adapter (spec/audio.md): `whisper.log_mel_spectrogram` and its
shipped filter bank.

Load it as `specformer.conformance.adapters.whisper_adapter:WhisperAudio` (openai-whisper is not
in an extra that CI installs, so it is not a built-in adapter).

- log_mel: each waveform through `whisper.pad_or_trim` (zeros to, or the first, 480,000
  samples), the batch stacked to (B, 480000) and passed to `whisper.log_mel_spectrogram(audio,
  n_mels)` in one call, as batched Whisper inference does. The function takes no sampling rate
  (it assumes 16 kHz), so `sampling_rate` is not passed on.
- mel_filters: `whisper.audio.mel_filters("cpu", n_mels)`, read from the package's
  `assets/mel_filters.npz` (80 and 128 bins only).

Whisper exposes no window, power spectrogram or attention mask of its own (its window is
`torch.hann_window(400)` inside `log_mel_spectrogram`), so those operations are unsupported.
"""

from __future__ import annotations

from pathlib import Path

import torch

from specformer.conformance.adapters.protocols import Capabilities


class WhisperAudio:
    """openai-whisper's log-mel front end."""

    name = "whisper"
    capabilities = Capabilities(families=frozenset({"audio"}), dtypes=(torch.float32,), devices=("cpu",))
    expectations_file = Path(__file__).parent / "expectations" / "whisper.toml"

    def __init__(self) -> None:
        from importlib.metadata import version

        import whisper.audio  # noqa: F401  (fails here, at load time, if the package is missing)

        self.description = f"openai-whisper {version('openai-whisper')} (audio.log_mel_spectrogram, mel_filters.npz)"

    def mel_filters(self, n_mels: int) -> torch.Tensor:
        from whisper.audio import mel_filters

        return mel_filters("cpu", n_mels).clone()

    def log_mel(self, waveforms: list[torch.Tensor], n_mels: int = 80, sampling_rate: int = 16000) -> torch.Tensor:
        from whisper.audio import log_mel_spectrogram, pad_or_trim

        audio = torch.stack([pad_or_trim(w) for w in waveforms])  # (B, 480000)
        return log_mel_spectrogram(audio, n_mels)
