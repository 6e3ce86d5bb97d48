"""The `hf` adapter: Hugging Face transformers, run for real.

Sampling goes through transformers' own logits warpers (TemperatureLogitsWarper,
TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper) in the order and under the conditions
generate() uses (transformers 5.x `GenerationMixin._get_logits_processor`): temperature only
when != 1, top-k only when set and != 0, top-p only when < 1, min-p only when set. Greedy is
torch.argmax and a draw is softmax + torch.multinomial, as generate()'s `_sample` does; the
suite's generator is passed to torch.multinomial where generate() uses the global RNG.

The single-operation entry points call the warper classes directly, so they show what a user
of those classes gets; where that differs from the spec, expectations/hf.toml says why.

Attention goes through `eager_attention_forward` of the Llama model file (the eager path every
decoder model copies) with the masks transformers itself builds for eager attention: an
additive mask of 0 and `torch.finfo(dtype).min`, causal masks aligned bottom-right as in
decoding with a cache (`masking_utils`), and key/value heads repeated with `repeat_kv`.

Attention blocks are the model files' own modules with the suite's weights copied in, in
evaluation mode, eager attention, masks from `masking_utils`: `BertSelfAttention` (encoder
self-attention; its output projection lives in `BertSelfOutput` together with the residual
and LayerNorm, so the adapter applies that one `nn.Linear` itself), `GPT2Attention` (decoder
self-attention; the three projections fused in one `Conv1D` of transposed layout),
`BartAttention` with `key_value_states` (cross-attention), `LongformerSelfAttention` (the
hidden states padded to a multiple of `attention_window` and the 0/1/2 mask encoded as
`LongformerModel.forward` does; output projection applied as for BERT) and Reformer's
`LSHSelfAttention`, whose random rotations are replaced, for the duration of one call, by the
suite's (`torch.randn` returns them when asked for the rotation shape: the public helper
specformer.conformance.randomness.injected_randn); its query-key and value
projections are identities over the suite's inputs laid side by side.

Embeddings: `GPT2Model` (the input to its first block, `wte + wpe`), `BertEmbeddings`,
`MarianSinusoidalPositionalEmbedding` (sines then cosines: variant `halves`) and Reformer's
`AxialPositionEmbeddings`.

Tokenizers, through the v5 tokenizer classes (each backed by an HF `tokenizers` pipeline, which
transformers configures and wraps with its own encode/decode layer):

- WordPiece and the BERT pipeline: `BertTokenizer(vocab=<the model's vocab dict>,
  do_lower_case, tokenize_chinese_chars, strip_accents, unk_token)`, the class v5 builds in
  memory (in v5 it is BertTokenizerFast). `wordpiece_encode` is `tokenizer(text,
  add_special_tokens=False, return_offsets_mapping=True)`; `encode_batch` is `tokenizer(batch,
  truncation=strategy or False, max_length, padding="longest", pad_to_multiple_of,
  padding_side, return_offsets_mapping=True, return_special_tokens_mask=True)` on the list of
  texts and (text, text) pairs. BertTokenizer always cleans text (no `clean_text` switch) and
  takes no `max_input_chars_per_word` argument; a model with another limit has it set on the
  backend model (`backend_tokenizer.model`). It
  matches special-token strings in user text (variant `match` of TOK-SPECIAL-02), lowercases
  as tokenizers does (`tokenizers` of TOK-BERT-05), and gives an odd token of the budget to
  the longer sequence (`longer` of TOK-TRUNC-03).
- Byte-level BPE: the byte -> character table is transformers' own
  `convert_slow_tokenizer.bytes_to_unicode()`, the one its converters spell vocabularies with.
  Encoding and decoding go through `PreTrainedTokenizerFast(tokenizer_object=...)` over the
  tokenizer.json pipeline that `TikTokenConverter`/`MistralConverter` write for tiktoken and
  tekken vocabularies (built by the hf-tokenizers adapter's `byte_level_tokenizer`, which says
  how), called as a user calls it: `encode(text, add_special_tokens=False,
  split_special_tokens=True)` (special strings are text here, as the protocol asks) and
  `decode(ids)` with transformers' defaults.

Left out: `bert_normalize` (transformers has no normalisation call; BertTokenizer delegates to
tokenizers' BertNormalizer, which the hf-tokenizers adapter tests), `pretokenize` and
`bpe_train` (tokenizers' Split and BpeTrainer, reached through `train_new_from_iterator`: again
hf-tokenizers), and SentencePiece (v5 converts a `.model` into a tokenizers pipeline, the one
hf-tokenizers builds). The slow Python BERT tokenizer v5 still ships is the `hf-slow` adapter.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from specformer.conformance.adapters.from_reference import PerModel
from specformer.conformance.adapters.hf_audio import HFAudio
from specformer.conformance.adapters.hf_generation import HFGeneration
from specformer.conformance.adapters.hf_heads import HFHeads
from specformer.conformance.adapters.hf_kv_cache import HFKVCache
from specformer.conformance.adapters.hf_losses import HFLosses
from specformer.conformance.adapters.hf_models import HFModels
from specformer.conformance.adapters.hf_objectives import HFObjectives
from specformer.conformance.adapters.hf_vision import HFVision
from specformer.conformance.adapters.protocols import Capabilities
from specformer.conformance.randomness import injected_randn
from specformer.reference.attention import MultiHeadWeights, merge_heads, split_heads
from specformer.reference.embeddings import BertEmbeddingWeights
from specformer.reference.local import LongformerWeights
from specformer.reference.sampling import SamplingParams
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE
from specformer.reference.tokenizers.templates import Encoding
from specformer.reference.tokenizers.wordpiece import WordPiece


class HFAdapter(HFLosses, HFHeads, HFObjectives, HFModels, HFKVCache, HFGeneration, HFVision, HFAudio):
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
        from transformers.generation import logits_process
        from transformers.models.llama import modeling_llama

        self._warpers = logits_process
        self._eager_attention = modeling_llama.eager_attention_forward
        self._bert_tokenizers: PerModel[object] = PerModel()
        self._byte_level_tokenizers: PerModel[object] = PerModel()
        self.description = (
            f"Hugging Face transformers {transformers.__version__}: logits warpers, eager attention, "
            "BERT/GPT-2/BART/Longformer/Reformer attention modules, embedding modules, "
            "BertTokenizer (fast), PreTrainedTokenizerFast for byte-level BPE"
        )

    @staticmethod
    def _input_ids(logits: torch.Tensor) -> torch.Tensor:
        # The warpers take the token history as input_ids (B, T) and ignore it.
        return torch.zeros((logits.shape[0], 1), dtype=torch.long, device=logits.device)

    def temperature(self, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        warper = self._warpers.TemperatureLogitsWarper(temperature)
        return warper(self._input_ids(logits), logits)

    def top_k(self, logits: torch.Tensor, top_k: int) -> torch.Tensor:
        warper = self._warpers.TopKLogitsWarper(top_k)
        return warper(self._input_ids(logits), logits)

    def top_p(self, logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        warper = self._warpers.TopPLogitsWarper(top_p, min_tokens_to_keep=min_tokens_to_keep)
        return warper(self._input_ids(logits), logits)

    def min_p(self, logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
        warper = self._warpers.MinPLogitsWarper(min_p, min_tokens_to_keep=min_tokens_to_keep)
        return warper(self._input_ids(logits), logits)

    def process(self, logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
        w = self._warpers
        processors = w.LogitsProcessorList()
        keep = params.min_tokens_to_keep
        if params.temperature != 1.0:
            processors.append(w.TemperatureLogitsWarper(params.temperature))
        if params.top_k is not None and params.top_k != 0:
            processors.append(w.TopKLogitsWarper(params.top_k, min_tokens_to_keep=keep))
        if params.top_p < 1.0:
            processors.append(w.TopPLogitsWarper(params.top_p, min_tokens_to_keep=keep))
        # generate() adds MinPLogitsWarper whenever min_p is set (it validates [0, 1]); MinP(0) is the
        # identity, so only 0 is skipped here and an out-of-range or NaN min_p reaches the validation.
        if params.min_p is not None and params.min_p != 0.0:
            processors.append(w.MinPLogitsWarper(params.min_p, min_tokens_to_keep=keep))
        return processors(self._input_ids(logits), logits)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.argmax(logits, dim=-1)

    def sample(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(self.process(logits, params), dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)

    def attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        *,
        causal: bool = False,
        mask: torch.Tensor | None = None,
        scale: float | None = None,
    ) -> torch.Tensor:
        length, keys = query.shape[-2], key.shape[-2]
        if causal:  # as masking_utils builds it: query i sits at position i + S - L
            mask = torch.ones(length, keys, dtype=torch.bool, device=query.device).tril(diagonal=keys - length)
        if mask is not None and mask.dtype == torch.bool:  # as eager attention receives it
            mask = torch.zeros(mask.shape, dtype=query.dtype, device=query.device).masked_fill(
                ~mask, torch.finfo(query.dtype).min
            )
        if mask is not None:  # eager attention wants (B, 1 or H, L, S)
            mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape)).expand(query.shape[0], -1, length, keys)
        module = _EagerModule(query.shape[1] // key.shape[1])
        scaling = query.shape[-1] ** -0.5 if scale is None else scale
        output, _weights = self._eager_attention(module, query, key, value, mask, scaling)
        return output.transpose(1, 2)  # eager returns (B, L, H, Dv)

    # -----------------------------------------------------------------------------------
    # Attention blocks

    def multi_head_attention(
        self,
        hidden: torch.Tensor,
        weights: MultiHeadWeights,
        *,
        context: torch.Tensor | None = None,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from transformers import masking_utils

        if context is not None:
            return self._bart_cross_attention(hidden, weights, context, key_padding_mask)
        if causal:
            module, config = self._gpt2_attention(weights, hidden.dtype)
            mask = masking_utils.create_causal_mask(
                config, hidden, _long_mask(key_padding_mask), None, allow_is_causal_skip=False
            )
            with torch.no_grad():
                return module(hidden, attention_mask=mask)[0]
        module, config = self._bert_self_attention(weights, hidden.dtype)
        mask = masking_utils.create_bidirectional_mask(config, hidden, _long_mask(key_padding_mask))
        with torch.no_grad():
            output = module(hidden, attention_mask=mask)[0]
            return F.linear(output, weights.output, weights.output_bias)

    def _bert_self_attention(self, weights: MultiHeadWeights, dtype: torch.dtype):
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertSelfAttention

        config = BertConfig(
            hidden_size=weights.embed_dim,
            num_attention_heads=weights.heads,
            attention_probs_dropout_prob=weights.dropout,
            attn_implementation="eager",
        )
        module = BertSelfAttention(config).to(dtype).eval()
        with torch.no_grad():
            for name in ("query", "key", "value"):
                getattr(module, name).weight.copy_(getattr(weights, name))
                getattr(module, name).bias.copy_(getattr(weights, f"{name}_bias"))
        return module, config

    def _gpt2_attention(self, weights: MultiHeadWeights, dtype: torch.dtype):
        from transformers import GPT2Config
        from transformers.models.gpt2.modeling_gpt2 import GPT2Attention

        config = GPT2Config(
            n_embd=weights.embed_dim, n_head=weights.heads, attn_pdrop=weights.dropout, attn_implementation="eager"
        )
        module = GPT2Attention(config, layer_idx=0).to(dtype).eval()
        with torch.no_grad():  # Conv1D weights are (in, out): the transpose of nn.Linear's
            module.c_attn.weight.copy_(torch.cat([weights.query, weights.key, weights.value]).T)
            module.c_attn.bias.copy_(torch.cat([weights.query_bias, weights.key_bias, weights.value_bias]))
            module.c_proj.weight.copy_(weights.output.T)
            module.c_proj.bias.copy_(weights.output_bias)
        return module, config

    def _bart_cross_attention(
        self,
        hidden: torch.Tensor,
        weights: MultiHeadWeights,
        context: torch.Tensor,
        key_padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        from transformers import BartConfig, masking_utils
        from transformers.models.bart.modeling_bart import BartAttention

        if weights.context_dim != weights.embed_dim:
            # BART's k_proj and v_proj are (E, E): the encoder and decoder widths are one d_model.
            raise ValueError(
                f"BartAttention needs the context width ({weights.context_dim}) to equal the model width "
                f"({weights.embed_dim})"
            )
        config = BartConfig(d_model=weights.embed_dim, attention_dropout=weights.dropout, attn_implementation="eager")
        module = BartAttention(
            weights.embed_dim, weights.heads, dropout=weights.dropout, is_decoder=True, config=config, layer_idx=0
        )
        module = module.to(hidden.dtype).eval()
        with torch.no_grad():
            for ours, theirs in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"), ("output", "out_proj")):
                getattr(module, theirs).weight.copy_(getattr(weights, ours))
                getattr(module, theirs).bias.copy_(getattr(weights, f"{ours}_bias"))
            mask = masking_utils.create_bidirectional_mask(
                config, hidden, _long_mask(key_padding_mask), encoder_hidden_states=context
            )
            return module(hidden, key_value_states=context, attention_mask=mask)[0]

    def longformer_attention(
        self,
        hidden: torch.Tensor,
        weights: LongformerWeights,
        *,
        window: int,
        global_mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from transformers import LongformerConfig
        from transformers.models.longformer.modeling_longformer import LongformerSelfAttention

        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        local = weights.local
        config = LongformerConfig(
            hidden_size=local.embed_dim, num_attention_heads=local.heads, attention_window=[2 * window]
        )
        config.attention_probs_dropout_prob = 0.0
        module = LongformerSelfAttention(config, layer_id=0).to(hidden.dtype).eval()
        projections = {
            "query": (local.query, local.query_bias),
            "key": (local.key, local.key_bias),
            "value": (local.value, local.value_bias),
            "query_global": (weights.global_query, weights.global_query_bias),
            "key_global": (weights.global_key, weights.global_key_bias),
            "value_global": (weights.global_value, weights.global_value_bias),
        }
        batch, length, _ = hidden.shape
        real = torch.ones(batch, length, dtype=torch.bool) if padding_mask is None else padding_mask
        # As LongformerModel.forward: pad to a multiple of attention_window, then encode
        # 0 = padding, 1 = local, 2 = global as finfo.min, 0 and finfo.max.
        extra = (-length) % (2 * window)
        padded_hidden = F.pad(hidden, (0, 0, 0, extra))
        padded_real = F.pad(real, (0, extra))
        padded_global = F.pad(global_mask, (0, extra)) & padded_real
        mask = torch.zeros(batch, length + extra, dtype=hidden.dtype)
        mask[~padded_real] = torch.finfo(hidden.dtype).min
        mask[padded_global] = torch.finfo(hidden.dtype).max
        with torch.no_grad():
            for name, (weight, bias) in projections.items():
                getattr(module, name).weight.copy_(weight)
                getattr(module, name).bias.copy_(bias)
            output = module(
                padded_hidden,
                attention_mask=mask,
                is_index_masked=mask < 0,
                is_index_global_attn=mask > 0,
                is_global_attn=bool((mask > 0).any()),
            )[0]
        return F.linear(output[:, :length], local.output, local.output_bias)

    def lsh_attention(
        self, query_key: torch.Tensor, value: torch.Tensor, *, rotations: torch.Tensor, chunk_length: int
    ) -> torch.Tensor:
        module, hidden, rotations = self._lsh_module(query_key, value, rotations, chunk_length)
        with torch.no_grad(), injected_randn(rotations):
            output = module(hidden).hidden_states  # (B, N, H * D)
        return split_heads(output, query_key.shape[1])

    def lsh_buckets(self, vectors: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
        batch, heads, length, _ = vectors.shape
        module, _hidden, rotations = self._lsh_module(vectors, vectors, rotations, chunk_length=1)
        rounds = rotations.shape[2]
        with torch.no_grad(), injected_randn(rotations):
            offset = module._hash_vectors(vectors, rounds, None)  # (B, H, n_rounds * N), round r + r * n_buckets
        n_buckets = 2 * rotations.shape[-1]
        offsets = torch.arange(rounds).view(1, 1, rounds, 1) * n_buckets
        return offset.view(batch, heads, rounds, length) - offsets

    def _lsh_module(self, query_key: torch.Tensor, value: torch.Tensor, rotations: torch.Tensor, chunk_length: int):
        """LSHSelfAttention whose query_key and value projections pick the suite's inputs out of
        hidden states that lay them side by side: hidden = [merge(query_key) | merge(value)]."""
        from transformers import ReformerConfig
        from transformers.models.reformer.modeling_reformer import LSHSelfAttention

        _batch, heads, _length, dim = query_key.shape
        if rotations.dim() == 2:  # (D, R): one round shared by every head, in Reformer's layout
            rotations = rotations.view(1, rotations.shape[0], 1, -1).expand(heads, -1, -1, -1)
        if rotations.dim() != 4 or rotations.shape[:2] != (heads, dim):
            raise ValueError(f"rotations must be (H, D, n_rounds, R) or (D, R), got {tuple(rotations.shape)}")
        width = heads * dim
        config = ReformerConfig(
            hidden_size=2 * width,
            num_attention_heads=heads,
            attention_head_size=dim,
            lsh_attn_chunk_length=chunk_length,
            num_hashes=rotations.shape[2],
            num_buckets=2 * rotations.shape[-1],
            lsh_num_chunks_before=1,
            lsh_num_chunks_after=0,
            lsh_attention_probs_dropout_prob=0.0,
            is_decoder=False,
            attn_layers=["lsh"],
        )
        module = LSHSelfAttention(config).to(query_key.dtype).eval()
        identity = torch.eye(width, dtype=query_key.dtype)
        zeros = torch.zeros_like(identity)
        with torch.no_grad():
            module.query_key.weight.copy_(torch.cat([identity, zeros], dim=1))
            module.value.weight.copy_(torch.cat([zeros, identity], dim=1))
        hidden = torch.cat([merge_heads(query_key), merge_heads(value)], dim=-1)  # (B, N, 2 * H * D)
        return module, hidden, rotations.to(query_key.dtype).contiguous()

    # -----------------------------------------------------------------------------------
    # Embeddings

    def absolute_position_embedding(
        self, token_ids: torch.Tensor, token_table: torch.Tensor, position_table: torch.Tensor
    ) -> torch.Tensor:
        from transformers import GPT2Config, GPT2Model

        (vocab, dim), positions = token_table.shape, position_table.shape[0]
        config = GPT2Config(
            vocab_size=vocab,
            n_positions=positions,
            n_embd=dim,
            n_layer=1,
            n_head=1,
            embd_pdrop=0.0,
            bos_token_id=None,
            eos_token_id=None,
        )
        model = GPT2Model(config).to(token_table.dtype).eval()
        with torch.no_grad():
            model.wte.weight.copy_(token_table)
            model.wpe.weight.copy_(position_table)
            return model(input_ids=token_ids, output_hidden_states=True).hidden_states[0]  # the first block's input

    def bert_embedding(
        self, token_ids: torch.Tensor, token_type_ids: torch.Tensor | None, weights: BertEmbeddingWeights
    ) -> torch.Tensor:
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertEmbeddings

        config = BertConfig(
            vocab_size=weights.token.shape[0],
            hidden_size=weights.token.shape[1],
            max_position_embeddings=weights.position.shape[0],
            type_vocab_size=weights.token_type.shape[0],
            layer_norm_eps=weights.eps,
            hidden_dropout_prob=0.0,
        )
        module = BertEmbeddings(config).to(weights.token.dtype).eval()
        with torch.no_grad():
            module.word_embeddings.weight.copy_(weights.token)
            module.position_embeddings.weight.copy_(weights.position)
            module.token_type_embeddings.weight.copy_(weights.token_type)
            module.LayerNorm.weight.copy_(weights.norm_weight)
            module.LayerNorm.bias.copy_(weights.norm_bias)
            return module(input_ids=token_ids, token_type_ids=token_type_ids)

    def sinusoidal_position_encoding(self, length: int, dim: int) -> torch.Tensor:
        from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

        module = MarianSinusoidalPositionalEmbedding(length, dim)
        with torch.no_grad():
            module.weight.copy_(module.create_weight())  # what the model's _init_weights does
            return module((1, length)).float()

    def axial_position_encoding(
        self, first_axis: torch.Tensor, second_axis: torch.Tensor, length: int, hidden_size: int
    ) -> torch.Tensor:
        module = self._axial_module(
            (first_axis.shape[0], second_axis.shape[0]), (first_axis.shape[1], second_axis.shape[1]), hidden_size
        )
        module = module.to(first_axis.dtype)
        with torch.no_grad():
            module.weights[0].copy_(first_axis.unsqueeze(1))  # (n1, 1, d1)
            module.weights[1].copy_(second_axis.unsqueeze(0))  # (1, n2, d2)
            return module(torch.arange(length).unsqueeze(0))[0]

    def axial_parameter_count(self, shape: tuple[int, int], dims: tuple[int, int]) -> int:
        return sum(p.numel() for p in self._axial_module(shape, dims, sum(dims)).parameters())

    @staticmethod
    def _axial_module(shape: tuple[int, int], dims: tuple[int, int], hidden_size: int) -> torch.nn.Module:
        from transformers import ReformerConfig
        from transformers.models.reformer.modeling_reformer import AxialPositionEmbeddings

        config = ReformerConfig(
            hidden_size=hidden_size,
            axial_pos_shape=tuple(shape),
            axial_pos_embds_dim=tuple(dims),
            max_position_embeddings=shape[0] * shape[1],
            hidden_dropout_prob=0.0,
        )
        return AxialPositionEmbeddings(config).eval()

    # -----------------------------------------------------------------------------------
    # Tokenizers

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        tokenizer = self._byte_level_tokenizers.get(model, _byte_level_tokenizer)
        return tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)

    def bpe_encode_batch(self, model: ByteLevelBPE, texts: list[str]) -> list[list[int]]:
        """Not a protocol operation: the tokenizer called on a batch, for the benchmarks' batched rows."""
        tokenizer = self._byte_level_tokenizers.get(model, _byte_level_tokenizer)
        return tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    @property
    def threads(self) -> dict[str, int]:
        """Threads per operation, for the benchmarks: batches run on HF tokenizers' rayon pool."""
        from specformer.conformance.adapters.hf_tokenizers import rayon_threads

        return {"encode_batch": rayon_threads(), "bpe_encode_batch": rayon_threads()}

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        return self._byte_level_tokenizers.get(model, _byte_level_tokenizer).decode(ids)

    def bytes_to_unicode(self) -> dict[int, str]:
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        return dict(bytes_to_unicode())

    def wordpiece_encode(self, model: WordPiece, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        tokenizer = self._bert_tokenizers.get(model, _bert_tokenizer)
        out = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return out["input_ids"], [tuple(span) for span in out["offset_mapping"]]

    def encode_batch(
        self,
        model: WordPiece,
        inputs: list[str | tuple[str, str]],
        *,
        max_length: int | None = None,
        truncation: str = "longest_first",
        padding_side: str = "right",
        pad_to_multiple_of: int | None = None,
    ) -> list[Encoding]:
        tokenizer = self._bert_tokenizers.get(model, _bert_tokenizer)
        out = tokenizer(
            list(inputs),
            truncation=False if max_length is None else truncation,
            max_length=max_length,
            padding="longest",
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_token_type_ids=True,
            return_attention_mask=True,
            return_special_tokens_mask=True,
            return_offsets_mapping=True,
        )
        return [
            Encoding(
                ids=out["input_ids"][i],
                token_type_ids=out["token_type_ids"][i],
                attention_mask=out["attention_mask"][i],
                special_tokens_mask=out["special_tokens_mask"][i],
                offsets=[tuple(span) for span in out["offset_mapping"][i]],
            )
            for i in range(len(inputs))
        ]


def _bert_tokenizer(model: WordPiece):
    """transformers v5 BertTokenizer built in memory from the model's vocabulary and normaliser switches."""
    from transformers import BertTokenizer

    config = model.normalizer
    tokenizer = BertTokenizer(
        vocab=dict(model.vocab),
        do_lower_case=config.lowercase,
        tokenize_chinese_chars=config.handle_chinese_chars,
        strip_accents=config.strip_accents,
        unk_token=model.unk_token,
    )
    if model.max_input_chars_per_word != tokenizer.backend_tokenizer.model.max_input_chars_per_word:
        tokenizer.backend_tokenizer.model.max_input_chars_per_word = model.max_input_chars_per_word
    extra = [token for token in model.special_tokens if token not in tokenizer.all_special_tokens]
    if extra:
        tokenizer.add_tokens(extra, special_tokens=True)
    return tokenizer


def _byte_level_tokenizer(model: ByteLevelBPE):
    """PreTrainedTokenizerFast over the tokenizer.json pipeline the tiktoken/tekken converters write."""
    import tokenizers
    from transformers import PreTrainedTokenizerFast

    from specformer.conformance.adapters.hf_tokenizers import byte_level_tokenizer

    backend = byte_level_tokenizer(tokenizers, model)
    backend.encode_special_tokens = False  # transformers' own split_special_tokens says it per call
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def _long_mask(key_padding_mask: torch.Tensor | None) -> torch.Tensor | None:
    """transformers' 2-D attention_mask: 1 on real tokens, 0 on padding."""
    return None if key_padding_mask is None else key_padding_mask.long()


class _EagerModule(torch.nn.Module):
    """The attributes transformers' eager attention reads from its calling module."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.num_key_value_groups = groups
        self.eval()
