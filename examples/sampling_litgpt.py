"""LitGPT's sampler (litgpt.generate.base): its fused `sample` (top-k, temperature, top-p, one
draw), its standalone top-p filter `sample_top_p`, and greedy decoding through `sample`.

Written from docs/adapters.md alone. Run it:
    PYTHONPATH=examples specformer run --adapter sampling_litgpt:LitGPTSampler --family sampling \
        --profile quick --no-bench

The adapter passes the parameters through unchanged (no validation of its own), so what the
suite finds is LitGPT's. Two pieces of glue: LitGPT's functions take one row ((1, T, V) for
`sample`, (V,) for `sample_top_p`), so the adapter loops over the batch; and `sample` draws with
torch.multinomial from the global generator, so the adapter forks the global RNG state and seeds
it from the suite's generator (docs/adapters.md, "Randomness").
"""

from __future__ import annotations

from pathlib import Path

import torch
from litgpt.generate.base import sample, sample_top_p

from specformer.conformance.adapters.protocols import Capabilities
from specformer.reference.sampling import SamplingParams


class LitGPTSampler:
    name = "litgpt-sampler"
    description = "litgpt.generate.base.sample / sample_top_p, CPU"
    capabilities = Capabilities(
        families=frozenset({"sampling"}),
        dtypes=(torch.float32,),
        # top-k, then temperature, then top-p: the same tokens as transformers' order (top-k does
        # not depend on a positive temperature).
        variants={"SAMP-ORDER-01": "transformers"},
        parameters={"sample": frozenset({"temperature", "top_k", "top_p"}), "top_p": frozenset()},
    )
    # What the suite found in LitGPT itself.
    expectations_file = Path(__file__).with_name("sampling_litgpt.toml")

    def top_p(self, logits: torch.Tensor, top_p: float) -> torch.Tensor:
        return torch.stack([sample_top_p(row, top_p) for row in logits])  # (B, V)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        # LitGPT takes the argmax only when both temperature and top_p are 0.
        rows = [sample(row.view(1, 1, -1), temperature=0.0, top_p=0.0) for row in logits]
        return torch.cat(rows).to(torch.int64)  # (B,)

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):  # LitGPT draws from the global RNG
            torch.manual_seed(seed)
            rows = [
                sample(row.view(1, 1, -1), temperature=params.temperature, top_k=params.top_k, top_p=params.top_p)
                for row in logits
            ]
        return torch.cat(rows).to(torch.int64)  # (B,)
