"""keras-hub's MaskedLMMaskGenerator (BERT's masked-LM corruption), for the objectives family.

Written from docs/adapters.md alone. Run it:
    PYTHONPATH=examples specformer run --adapter objectives_keras_hub:KerasHubMLM --family objectives \
        --profile quick --no-bench

keras-hub 0.32 runs the layer in plain Python when TensorFlow is absent (`_call_python`: a
`random.random()` draw per eligible token, then one per selected token for mask / random /
unchanged), on Keras 3 with the torch backend. Its inputs differ from the protocol's in two ways
the glue bridges: special tokens are given as ids (`unselectable_token_ids`), not as a per-position
mask, so the adapter passes the ids found under the special-tokens mask (the same thing wherever a
special id never appears as an ordinary token); and it answers with the selected positions and
their original ids, which the adapter lays out as labels (B, L), -100 elsewhere. It draws from
Python's global `random`, so the adapter saves that state, seeds it from the suite's generator
and restores it (docs/adapters.md, "Randomness").
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import torch

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported: no TensorFlow here

from keras_hub.layers import MaskedLMMaskGenerator

from specformer.conformance.adapters.protocols import Capabilities


class KerasHubMLM:
    name = "keras-hub-mlm"
    description = "keras_hub.layers.MaskedLMMaskGenerator (Python path, Keras torch backend)"
    capabilities = Capabilities(families=frozenset({"objectives"}))
    # What the suite found in keras-hub itself.
    expectations_file = Path(__file__).with_name("objectives_keras_hub.toml")

    def mlm_mask(
        self,
        input_ids: torch.Tensor,
        special_tokens_mask: torch.Tensor,
        *,
        mask_token_id: int,
        vocab_size: int,
        generator: torch.Generator,
        mlm_probability: float = 0.15,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, length = input_ids.shape
        layer = MaskedLMMaskGenerator(
            vocabulary_size=vocab_size,
            mask_selection_rate=mlm_probability,
            mask_token_id=mask_token_id,
            mask_selection_length=length,  # rectangular outputs: positions padded with weight 0
            unselectable_token_ids=sorted(set(input_ids[special_tokens_mask.bool()].tolist())),
            mask_token_rate=mask_replace_prob,
            random_token_rate=random_replace_prob,
        )
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        state = random.getstate()
        random.seed(seed)
        try:
            out = layer(input_ids.tolist())
        finally:
            random.setstate(state)
        inputs = torch.as_tensor(out["token_ids"]).to(torch.long).reshape(batch, length)
        positions = torch.as_tensor(out["mask_positions"]).to(torch.long).reshape(batch, length)
        originals = torch.as_tensor(out["mask_ids"]).to(torch.long).reshape(batch, length)
        selected = torch.as_tensor(out["mask_weights"]).reshape(batch, length) > 0
        labels = torch.full_like(input_ids, -100, dtype=torch.long)
        for row in range(batch):
            labels[row, positions[row][selected[row]]] = originals[row][selected[row]]
        return inputs, labels
