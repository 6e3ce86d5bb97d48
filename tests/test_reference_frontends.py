"""The vision and audio references against independent implementations, in float64.

The suite trusts reference/vision.py and reference/audio.py as its oracle; here each is checked
against what a library computes from the same definition: F.conv2d for patches, torch.stft for
the power spectrogram, transformers' mel_filter_bank for the filters, and the hand-worked values
the spec quotes.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from specformer.reference import audio, vision


def test_patch_embedding_is_a_strided_convolution() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 32, 48, generator=generator, dtype=torch.float64)
    weight = torch.randn(7, 3, 16, 16, generator=generator, dtype=torch.float64)
    bias = torch.randn(7, generator=generator, dtype=torch.float64)
    expected = F.conv2d(images, weight, bias, stride=16).flatten(2).transpose(1, 2)
    assert torch.allclose(vision.patch_embedding(images, weight, bias), expected, atol=1e-12)


def test_patches_worked_example() -> None:
    tokens = vision.patches(torch.arange(16.0).reshape(1, 1, 4, 4), 2)[0].tolist()
    assert tokens == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]


@pytest.mark.parametrize(("height", "width", "channels"), [(7, 8, 3), (8, 8, 1), (3, 3, 3)])
def test_patch_embedding_rejects_bad_images(height: int, width: int, channels: int) -> None:
    with pytest.raises(ValueError, match=r"patch_size|channels"):
        vision.patch_embedding(torch.zeros(1, channels, height, width), torch.zeros(2, 3, 4, 4), torch.zeros(2))


def test_interpolation_matches_transformers_vit() -> None:
    transformers = pytest.importorskip("transformers")
    from transformers.models.vit.modeling_vit import ViTEmbeddings

    config = transformers.ViTConfig(image_size=16, patch_size=4, num_channels=1, hidden_size=6)
    module = ViTEmbeddings(config)
    table = module.position_embeddings.detach()[0].double()
    expected = module.interpolate_pos_encoding(torch.zeros(1, 1 + 30, 6), 20, 24).detach()[0]
    actual = vision.interpolate_position_embeddings(table, (4, 4), (5, 6))
    assert torch.allclose(actual.float(), expected, atol=1e-6)


def test_hann_window_is_torch_periodic() -> None:
    assert torch.allclose(audio.hann_window(400), torch.hann_window(400, dtype=torch.float64), atol=1e-15)


def test_power_spectrogram_is_torch_stft() -> None:
    waveform = torch.randn(2, 16_037, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    stft = torch.stft(waveform, 400, 160, window=torch.hann_window(400, dtype=torch.float64), return_complex=True)
    expected = stft[..., :-1].abs() ** 2
    assert torch.allclose(audio.power_spectrogram(waveform), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filters_match_transformers_slaney_bank(n_mels: int) -> None:
    pytest.importorskip("transformers")
    from transformers.audio_utils import mel_filter_bank

    expected = mel_filter_bank(201, n_mels, 0.0, 8000.0, 16000, norm="slaney", mel_scale="slaney")
    assert torch.allclose(audio.mel_filters(n_mels), torch.from_numpy(expected).T, atol=1e-12)


def test_mel_scale_worked_values() -> None:
    hz = torch.tensor([0.0, 500.0, 1000.0, 6400.0], dtype=torch.float64)
    assert audio.hz_to_mel(hz).tolist() == pytest.approx([0.0, 7.5, 15.0, 42.0])
    assert audio.mel_to_hz(audio.hz_to_mel(hz)).tolist() == pytest.approx(hz.tolist())
    assert float(audio.hz_to_mel(torch.tensor(700.0), "htk")) == pytest.approx(2595 * math.log10(2))


def test_silence_gives_minus_one_and_a_half() -> None:
    features = audio.log_mel_spectrogram([torch.zeros(1600, dtype=torch.float64)])
    assert features.shape == (1, 80, 3000) and bool((features == -1.5).all())


def test_log_mel_matches_transformers_numpy_path() -> None:
    transformers = pytest.importorskip("transformers")
    waveform = 0.1 * torch.randn(3 * 16_000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    extractor = transformers.WhisperFeatureExtractor()
    padded = audio.pad_or_trim(waveform).numpy()[None]
    expected = torch.from_numpy(extractor._np_extract_fbank_features(padded.astype("float32"), "cpu"))
    assert torch.allclose(audio.log_mel_spectrogram([waveform]), expected.double(), atol=1e-5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: audio.log_mel_spectrogram([torch.zeros(100)], sampling_rate=8000), "sampling_rate"),
        (lambda: audio.log_mel_spectrogram([torch.zeros(2, 100)]), "mono"),
        (lambda: audio.log_mel_spectrogram([torch.tensor([0.0, math.nan])]), "non-finite"),
        (lambda: audio.mel_filters(0), "n_mels"),
    ],
)
def test_audio_bad_inputs_name_the_problem(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
