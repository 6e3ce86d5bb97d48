"""Reference input embeddings: learned absolute positions, token types, sinusoids, axial positions.

Shapes: B batch, L sequence length, V vocabulary, P table positions, T token types, D width.

- Learned absolute positions (GPT-2): h = E_token[id] + E_position[p], p = 0 .. L-1. A sum of
  two D-wide vectors, not a concatenation (the course notes say "concatenated"; real models add).
- Token types (BERT's segment embeddings): h = LayerNorm(E_token[id] + E_position[p] + E_type[t]),
  t = 0 for the first segment (and when no types are given), 1 for the second.
- Sinusoidal (Vaswani et al. 2017): PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i) with
  w_i = 10000^(-2i / D); other layouts in use are variants (`SINUSOID_LAYOUTS`).
- Axial (Reformer): position p of an n1 x n2 grid is concat(E1[p // n2], E2[p % n2]) along the
  width, so n1*d1 + n2*d2 parameters stand in for (n1*n2)*D.

Left out: dropout (evaluation semantics), BART's position offset of 2, ViT's patch positions,
relative position biases (T5) and rotary embeddings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SINUSOID_LAYOUTS = ("interleaved", "halves", "tensor2tensor")


def _check_ids(ids: torch.Tensor, table: torch.Tensor, name: str) -> None:
    if ids.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"{name} must be an integer tensor, got {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= table.shape[0]):
        raise ValueError(
            f"{name} must lie in [0, {table.shape[0] - 1}] (the table has {table.shape[0]} rows); "
            f"got values in [{int(ids.min())}, {int(ids.max())}]"
        )


def absolute_position_embedding(
    token_ids: torch.Tensor, token_table: torch.Tensor, position_table: torch.Tensor
) -> torch.Tensor:
    """E_token[ids] + E_position[0 .. L-1]; (B, L) ids, (V, D), (P, D) -> (B, L, D).

    A sequence longer than the position table is an error, not a silent clamp or wrap.

    Clauses: EMB-ABS-01, EMB-ABS-02.
    """
    if token_ids.dim() != 2 or token_table.shape[1] != position_table.shape[1]:
        raise ValueError(
            f"token_ids must be (B, L) and both tables (rows, D); got {tuple(token_ids.shape)}, "
            f"{tuple(token_table.shape)}, {tuple(position_table.shape)}"
        )
    positions = torch.arange(token_ids.shape[1]).expand_as(token_ids)  # (B, L)
    _check_ids(token_ids, token_table, "token_ids")
    _check_ids(positions, position_table, "positions (the sequence length)")
    return token_table[token_ids] + position_table[positions]  # (B, L, D)


@dataclass(frozen=True)
class BertEmbeddingWeights:
    """BERT's embedding tables and the LayerNorm after their sum.

    Clauses: EMB-SEG-01.
    """

    token: torch.Tensor  # (V, D)
    position: torch.Tensor  # (P, D)
    token_type: torch.Tensor  # (T, D)
    norm_weight: torch.Tensor  # (D,)
    norm_bias: torch.Tensor  # (D,)
    eps: float = 1e-12

    @classmethod
    def random(
        cls, vocab: int, positions: int, types: int, dim: int, generator: torch.Generator, dtype: torch.dtype
    ) -> BertEmbeddingWeights:
        def draw(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)

        return cls(draw(vocab, dim), draw(positions, dim), draw(types, dim), 1 + draw(dim) / 4, draw(dim) / 4)

    def to(self, dtype: torch.dtype) -> BertEmbeddingWeights:
        return BertEmbeddingWeights(
            *(t.to(dtype) for t in (self.token, self.position, self.token_type, self.norm_weight, self.norm_bias)),
            eps=self.eps,
        )


def bert_embedding(
    token_ids: torch.Tensor, token_type_ids: torch.Tensor | None, weights: BertEmbeddingWeights
) -> torch.Tensor:
    """LayerNorm(E_token[ids] + E_position[p] + E_type[types]); types default to 0. -> (B, L, D).

    Clauses: EMB-SEG-01, EMB-SEG-02, EMB-ABS-02.
    """
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(token_ids)
    if token_type_ids.shape != token_ids.shape:
        raise ValueError(f"token_type_ids {tuple(token_type_ids.shape)} must match token_ids {tuple(token_ids.shape)}")
    _check_ids(token_type_ids, weights.token_type, "token_type_ids")
    summed = (
        absolute_position_embedding(token_ids, weights.token, weights.position) + weights.token_type[token_type_ids]
    )
    return F.layer_norm(summed, summed.shape[-1:], weights.norm_weight, weights.norm_bias, weights.eps)


def sinusoidal_position_encoding(
    length: int, dim: int, *, layout: str = "interleaved", dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The fixed sinusoidal table (L, D).

    Layouts (spec EMB-SIN-01's variants), with f = D / 2 frequencies per position:
    - "interleaved" (Vaswani et al.): sin at even features, cos at odd; w_i = 10000^(-2i/D).
    - "halves" (Marian): [sin(p w) | cos(p w)], the same w_i.
    - "tensor2tensor" (tensor2tensor, fairseq, Whisper's encoder): [sin | cos] with
      w_i = 10000^(-i / (f - 1)), so the slowest frequency is exactly 1/10000.

    >>> [round(v, 12) for v in sinusoidal_position_encoding(2, 4).tolist()[1]]  # sin 1, cos 1, sin .01, cos .01
    [0.841470984808, 0.540302305868, 0.009999833334, 0.999950000417]

    Clauses: EMB-SIN-01, EMB-SIN-02.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even integer >= 2, got {dim!r}")
    if layout not in SINUSOID_LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(SINUSOID_LAYOUTS)}, got {layout!r}")
    half = dim // 2
    index = torch.arange(half, dtype=torch.float64)
    if layout == "tensor2tensor":
        # subtle: f - 1 in the denominator; with one frequency (D = 2) it is 1, as in tensor2tensor.
        frequencies = torch.exp(-math.log(10000.0) * index / max(half - 1, 1))
    else:
        frequencies = torch.exp(-math.log(10000.0) * 2 * index / dim)
    angles = torch.arange(length, dtype=torch.float64).view(-1, 1) * frequencies  # (L, D/2)
    if layout == "interleaved":
        table = torch.stack([angles.sin(), angles.cos()], dim=-1).view(length, dim)  # sin, cos, sin, cos ...
    else:
        table = torch.cat([angles.sin(), angles.cos()], dim=-1)  # (L, D): all sines, then all cosines
    return table.to(dtype)


def axial_position_encoding(
    first_axis: torch.Tensor, second_axis: torch.Tensor, length: int, hidden_size: int
) -> torch.Tensor:
    """Axial positions for 0 .. length-1; E1 (n1, d1), E2 (n2, d2) -> (L, d1 + d2).

    Position p sits at row p // n2, column p % n2 of the n1 x n2 grid (axis 0 is the slow one).

    >>> e1, e2 = torch.tensor([[1.], [2.]]), torch.tensor([[10.], [20.], [30.]])
    >>> axial_position_encoding(e1, e2, 4, 2).tolist()
    [[1.0, 10.0], [1.0, 20.0], [1.0, 30.0], [2.0, 10.0]]

    Clauses: EMB-AXIAL-01, EMB-AXIAL-03, EMB-AXIAL-04.
    """
    (rows, first_dim), (columns, second_dim) = first_axis.shape, second_axis.shape
    if first_dim + second_dim != hidden_size:
        raise ValueError(f"the axial widths d1 + d2 = {first_dim} + {second_dim} must equal hidden_size={hidden_size}")
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= rows * columns:
        raise ValueError(f"length must be an integer in [0, n1 * n2] = [0, {rows * columns}], got {length!r}")
    positions = torch.arange(length)
    return torch.cat([first_axis[positions // columns], second_axis[positions % columns]], dim=-1)  # (L, D)


def axial_parameter_count(shape: tuple[int, int], dims: tuple[int, int]) -> int:
    """n1 * d1 + n2 * d2: the parameters of an axial table for n1 * n2 positions.

    >>> axial_parameter_count((64, 64), (64, 192)), 64 * 64 * 256  # Reformer's default vs a full table
    (16384, 1048576)

    Clauses: EMB-AXIAL-02.
    """
    (rows, columns), (first_dim, second_dim) = shape, dims
    return rows * first_dim + columns * second_dim
