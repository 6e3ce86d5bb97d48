"""Whisper's Hann window from the third-party `scipy` (scipy.signal.get_window).

scipy 1.17 is installed here (a dependency of the environment, not built into specformer).
Run it:  PYTHONPATH=examples specformer run --adapter audio_scipy:ScipyAudio --family audio \
             --profile quick --no-bench
Only hann_window is implemented; scipy has no mel filter bank (librosa does), so the rest is
"unsupported".
"""

from __future__ import annotations

import scipy.signal
import torch

from specformer.conformance.adapters.protocols import Capabilities


class ScipyAudio:
    name = "scipy-audio"
    description = "scipy.signal.get_window('hann', N) (periodic, fftbins=True)"
    capabilities = Capabilities(families=frozenset({"audio"}), dtypes=(torch.float32,))

    def hann_window(self, length: int) -> torch.Tensor:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be an integer >= 1, got {length!r}")
        return torch.from_numpy(scipy.signal.get_window("hann", length, fftbins=True)).to(torch.float32)
