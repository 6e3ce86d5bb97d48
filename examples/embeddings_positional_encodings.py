"""The embeddings family's sinusoidal table from the third-party `positional-encodings` package.

pip install positional-encodings   (6.0.3; not built into specformer)
Run it:  PYTHONPATH=examples specformer run --adapter embeddings_positional_encodings:PositionalEncodings \
             --family embeddings --profile quick --no-bench

The adapter passes the library's answer through unchanged: one module per width, kept between
calls, as a user of the library would keep it.
"""

from __future__ import annotations

import torch
from positional_encodings.torch_encodings import PositionalEncoding1D

from specformer.conformance.adapters.protocols import Capabilities


class PositionalEncodings:
    name = "positional-encodings"
    description = "positional-encodings 6.0.3 PositionalEncoding1D"
    capabilities = Capabilities(
        families=frozenset({"embeddings"}),
        dtypes=(torch.float32,),
        variants={"EMB-SIN-01": "interleaved"},  # sin(p w_i), cos(p w_i) intertwined, w_i = 10000^(-2i/D)
    )

    def __init__(self) -> None:
        self._modules: dict[int, PositionalEncoding1D] = {}

    def sinusoidal_position_encoding(self, length: int, dim: int) -> torch.Tensor:
        module = self._modules.setdefault(dim, PositionalEncoding1D(dim))
        return module(torch.zeros(1, length, dim))[0]  # (1, L, D) -> (L, D)
