"""The torch adapter's vision and audio operations: PyTorch built-ins where one exists.

- patch_embedding: `nn.Conv2d(C, D, kernel_size=P, stride=P)` with the weight copied in, then
  `.flatten(2).transpose(1, 2)`: the implementation every ViT uses. nn.Conv2d does not check
  that P divides the image (it drops the remainder): see expectations/torch.toml.
- interpolate_position_embeddings: `F.interpolate(mode="bicubic", align_corners=False)` on the
  patch grid, [CLS] kept, as a user writes it (variant `bicubic` of VIS-POS-04).
- hann_window: `torch.hann_window(N)` (periodic by default).
- power_spectrogram: `torch.stft(n_fft=400, hop_length=160, window=hann, center=True,
  pad_mode="reflect", return_complex=True)`, |X|^2, the last frame dropped.

The ViT encoder, the ConvNeXt head, preprocessing, the mel bank and the whole log-mel pipeline
have no PyTorch built-in (torchvision and torchaudio do not install with this torch), so they
are left unsupported.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class TorchFrontends:
    """Mixin for TorchAdapter."""

    def patch_embedding(self, images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        D, C, P, _ = weight.shape
        conv = torch.nn.Conv2d(C, D, kernel_size=P, stride=P, dtype=weight.dtype)
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(bias)
            return conv(images).flatten(2).transpose(1, 2)  # (B, N, D)

    def interpolate_position_embeddings(
        self, position: torch.Tensor, source_grid: tuple[int, int], target_grid: tuple[int, int]
    ) -> torch.Tensor:
        (h0, w0), (h, w) = source_grid, target_grid
        if (h0, w0) == (h, w):
            return position.clone()
        grid = position[1:].reshape(1, h0, w0, -1).permute(0, 3, 1, 2)  # (1, D, h0, w0)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([position[:1], grid.permute(0, 2, 3, 1).reshape(h * w, -1)])  # (1 + h*w, D)

    def hann_window(self, length: int) -> torch.Tensor:
        return torch.hann_window(length)

    def power_spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        stft = torch.stft(
            waveform,
            400,
            160,
            window=torch.hann_window(400, dtype=waveform.dtype),
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )  # (B, 201, 1 + S // 160)
        return stft[..., :-1].abs() ** 2  # (B, 201, S // 160)
