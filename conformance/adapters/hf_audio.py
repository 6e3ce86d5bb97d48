"""The hf adapter's audio operations (spec/audio.md): transformers' `WhisperFeatureExtractor`.

- log_mel / frame_mask: `WhisperFeatureExtractor.__call__` (padding="max_length", truncation,
  return_attention_mask), which takes its torch path (`_torch_extract_fbank_features`) because
  torch is installed. The `hf-numpy` variant of this mixin (HFAudioNumpy) calls the numpy path
  `_np_extract_fbank_features` on the extractor's own padded batch instead.
- power_spectrogram: `audio_utils.spectrogram` (numpy, power=2, centred, reflect), last frame
  dropped as the extractor does.
- mel_filters: the extractor's `mel_filters` (audio_utils.mel_filter_bank, Slaney), transposed
  to (M, 201).
- hann_window: `audio_utils.window_function(N, "hann")` (periodic by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from specformer.conformance.adapters.protocols import Capabilities


class HFAudio:
    """Mixin for HFAdapter."""

    _extractors: dict[int, object]

    def _extractor(self, n_mels: int) -> object:
        from transformers import WhisperFeatureExtractor

        cache = self.__dict__.setdefault("_extractors", {})
        if n_mels not in cache:
            cache[n_mels] = WhisperFeatureExtractor(feature_size=n_mels)
        return cache[n_mels]

    def hann_window(self, length: int) -> torch.Tensor:
        from transformers.audio_utils import window_function

        return torch.from_numpy(window_function(length, "hann")).float()

    def power_spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        from transformers.audio_utils import spectrogram, window_function

        rows = [
            spectrogram(row.numpy().astype(np.float32), window_function(400, "hann"), 400, 160, power=2.0)[:, :-1]
            for row in waveform
        ]
        return torch.from_numpy(np.stack(rows)).float()

    def mel_filters(self, n_mels: int) -> torch.Tensor:
        return torch.from_numpy(self._extractor(n_mels).mel_filters.T.copy()).float()

    def _call(self, waveforms: list[torch.Tensor], n_mels: int, sampling_rate: int, **kwargs: object) -> dict:
        arrays = [w.numpy() for w in waveforms]
        return self._extractor(n_mels)(arrays, sampling_rate=sampling_rate, return_tensors="pt", **kwargs)

    def log_mel(self, waveforms: list[torch.Tensor], n_mels: int = 80, sampling_rate: int = 16000) -> torch.Tensor:
        return self._call(waveforms, n_mels, sampling_rate)["input_features"]

    def frame_mask(self, waveforms: list[torch.Tensor]) -> torch.Tensor:
        return self._call(waveforms, 80, 16000, return_attention_mask=True)["attention_mask"].to(torch.int64)


class HFWhisperNumpy(HFAudio):
    """`WhisperFeatureExtractor` on its numpy path, as a standalone audio adapter.

    transformers picks `_torch_extract_fbank_features` whenever torch is installed; this adapter
    points that attribute of its extractor instances at `_np_extract_fbank_features`, so the same
    `__call__` (checks, padding, mask) runs with the numpy STFT (`audio_utils.spectrogram`, float64
    window and filters). Load it as `specformer.conformance.adapters.hf_audio:HFWhisperNumpy`.
    """

    name = "hf-whisper-numpy"
    capabilities = Capabilities(families=frozenset({"audio"}), dtypes=(torch.float32,), devices=("cpu",))
    expectations_file = Path(__file__).parent / "expectations" / "hf-whisper-numpy.toml"

    def __init__(self) -> None:
        import transformers

        self.description = f"transformers {transformers.__version__} WhisperFeatureExtractor, numpy path"

    def _extractor(self, n_mels: int) -> object:
        extractor = super()._extractor(n_mels)
        extractor._torch_extract_fbank_features = extractor._np_extract_fbank_features  # the numpy path
        return extractor
