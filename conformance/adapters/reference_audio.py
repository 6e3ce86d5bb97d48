"""The reference adapter's audio operations (spec/audio.md): specformer.reference.audio.

Waveforms are computed in the dtype they come in (float32 from the suite) and features returned
in it, as a float32 front end would.
"""

from __future__ import annotations

import torch

from specformer.reference import audio


class ReferenceAudio:
    """Mixin for ReferenceAdapter."""

    def hann_window(self, length: int) -> torch.Tensor:
        return audio.hann_window(length, dtype=torch.float32)

    def power_spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        return audio.power_spectrogram(waveform)

    def mel_filters(self, n_mels: int) -> torch.Tensor:
        return audio.mel_filters(n_mels).float()

    def log_mel(self, waveforms: list[torch.Tensor], n_mels: int = 80, sampling_rate: int = 16000) -> torch.Tensor:
        dtype = waveforms[0].dtype if waveforms and waveforms[0].is_floating_point() else torch.float32
        return audio.log_mel_spectrogram(waveforms, n_mels, sampling_rate=sampling_rate, dtype=dtype)

    def frame_mask(self, waveforms: list[torch.Tensor]) -> torch.Tensor:
        return audio.frame_mask([w.shape[-1] for w in waveforms])
