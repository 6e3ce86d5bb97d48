"""The `hf` adapter: Hugging Face transformers, run for real.

One class composes one mixin per family, each in its own module, which says what it calls and
what it leaves out: hf_sampling (logits warpers), hf_attention (eager attention, the BERT, GPT-2,
BART, Longformer and Reformer attention modules), hf_embeddings, hf_tokenizer_classes (the v5
tokenizer classes), hf_losses, hf_heads, hf_objectives, hf_models, hf_kv_cache, hf_generation,
hf_vision and hf_audio. Where transformers differs from the spec, expectations/hf.toml says why.
"""

from __future__ import annotations

from pathlib import Path

import torch

from specformer.conformance.adapters.hf_attention import HFAttention
from specformer.conformance.adapters.hf_audio import HFAudio
from specformer.conformance.adapters.hf_embeddings import HFEmbeddings
from specformer.conformance.adapters.hf_generation import HFGeneration
from specformer.conformance.adapters.hf_heads import HFHeads
from specformer.conformance.adapters.hf_kv_cache import HFKVCache
from specformer.conformance.adapters.hf_losses import HFLosses
from specformer.conformance.adapters.hf_models import HFModels
from specformer.conformance.adapters.hf_objectives import HFObjectives
from specformer.conformance.adapters.hf_sampling import HFSampling
from specformer.conformance.adapters.hf_tokenizer_classes import HFTokenizerClasses
from specformer.conformance.adapters.hf_vision import HFVision
from specformer.conformance.adapters.protocols import Capabilities


class HFAdapter(
    HFSampling,
    HFAttention,
    HFEmbeddings,
    HFTokenizerClasses,
    HFLosses,
    HFHeads,
    HFObjectives,
    HFModels,
    HFKVCache,
    HFGeneration,
    HFVision,
    HFAudio,
):
    name = "hf"
    capabilities = Capabilities(
        families=frozenset(
            {
                "sampling",
                "attention",
                "embeddings",
                "tokenizers",
                "losses",
                "heads",
                "objectives",
                "models",
                "kv_cache",
                "generation",
                "vision",
                "audio",
            }
        ),
        dtypes=(torch.float32, torch.float64),
        devices=("cpu", "cuda"),
        variants={
            "SAMP-TOPK-02": "keep-ties",
            "SAMP-TOPP-02": "strict",
            "SAMP-ORDER-01": "transformers",
            "ATTN-CAUSAL-02": "bottom-right",
            "ATTN-PAD-02": "uniform",
            "CPLX-ATTN-02": "materialised",
            "ATTN-LOCAL-05": "separate",
            "EMB-SIN-01": "halves",
            "TOK-BERT-05": "tokenizers",
            "TOK-TRUNC-03": "longer",
            "TOK-SPECIAL-02": "match",
            "HEAD-GEN-02": "last-position",
            "OBJ-WWM-03": "mask-only",
            "GEN-STOP-03": "prompt-and-generated",
        },
    )
    expectations_file = Path(__file__).parent / "expectations" / "hf.toml"

    def __init__(self) -> None:
        import transformers

        self.description = (
            f"Hugging Face transformers {transformers.__version__}: logits warpers, eager attention, "
            "BERT/GPT-2/BART/Longformer/Reformer attention modules, embedding modules, "
            "BertTokenizer (fast), PreTrainedTokenizerFast for byte-level BPE"
        )
