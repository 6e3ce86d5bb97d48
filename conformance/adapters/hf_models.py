"""The hf adapter's models family: transformers' own layers and models, eager attention, evaluation mode.

- `encoder_layer`: BertLayer (BertConfig with the weights' width, heads, epsilon and
  `hidden_act` "gelu" or "gelu_new" for the tanh form), mask from
  `masking_utils.create_bidirectional_mask`.
- `decoder_block`: GPT2Block (Conv1D weights: the transpose of nn.Linear's), mask from
  `masking_utils.create_causal_mask`.
- `cross_decoder_layer`: BartDecoderLayer (BART's LayerNorms have no configurable epsilon; the
  adapter sets each LayerNorm's `eps` to the weights').
- `encoder_decoder`: BertLayer encoder layers and BartDecoderLayer decoder layers, every decoder
  layer reading the last encoder output (as BartModel and EncoderDecoderModel do).
- `bert_model` / `gpt2_model`: BertModel (without pooler) and GPT2Model loaded with the state
  dict, called as a user calls `model(input_ids, attention_mask=...)`: GPT2Model then numbers
  positions from the first slot even under left padding (expectations/hf.toml, MODEL-GPT2-02).
- `bart_for_conditional_generation` / `t5_for_conditional_generation`: BartForConditionalGeneration
  and T5ForConditionalGeneration from small configs, loading the suite's state dict with
  load_state_dict (BART's LayerNorm epsilon set on each module: the config has none);
  `t5_relative_position_bucket`: T5Attention._relative_position_bucket.
"""

from __future__ import annotations

from typing import Any

import torch

from specformer.conformance.adapters.from_reference import PerModelAndKey
from specformer.reference.attention import MultiHeadWeights
from specformer.reference.models import (
    CrossDecoderLayerWeights,
    DecoderBlockWeights,
    EncoderLayerWeights,
    FeedForwardWeights,
    LayerNormWeights,
    ModelConfig,
    Seq2SeqConfig,
    check_hidden,
)

_HF_ACTIVATION = {"gelu": "gelu", "gelu_tanh": "gelu_new"}


def _copy_linear(module: torch.nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    module.weight.copy_(weight)
    module.bias.copy_(bias)


def _copy_norm(module: torch.nn.LayerNorm, norm: LayerNormWeights) -> None:
    _copy_linear(module, norm.weight, norm.bias)
    module.eps = norm.eps


def _copy_attention(modules: dict[str, torch.nn.Linear], weights: MultiHeadWeights) -> None:
    for ours, theirs in modules.items():
        _copy_linear(theirs, getattr(weights, ours), getattr(weights, f"{ours}_bias"))


def _long(mask: torch.Tensor | None, hidden: torch.Tensor) -> torch.Tensor:
    return torch.ones(hidden.shape[:2], dtype=torch.long) if mask is None else mask.long()


_BUILT: PerModelAndKey[Any] = PerModelAndKey(size=64)  # a module, or GPT-2's (block, config)


def _built(weights, dtype: torch.dtype, build):
    """The module built from `weights` in `dtype`, once per weights object (building a layer
    costs more than running it at the suite's sizes, and would dominate the benchmarks)."""
    return _BUILT.get(weights, dtype, lambda: build(weights, dtype))


def _load_tied(model: torch.nn.Module, state: dict[str, torch.Tensor], tied: tuple[str, ...]) -> None:
    """load_state_dict where the state dict may leave out the tied copies `tied` of the shared embedding."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise ValueError(f"state dict does not fit {type(model).__name__}: missing {missing}, unexpected {unexpected}")


_SEQ2SEQ_BUILT: PerModelAndKey[torch.nn.Module] = PerModelAndKey(size=8)


def _seq2seq_model(state: dict[str, torch.Tensor], config: Seq2SeqConfig, build):
    """The model loaded with `state`, built once per state dict object and config (building and
    loading cost more than a forward at the suite's sizes, and would dominate the benchmarks).
    The model holds copies: changing the state dict's tensors in place afterwards is not seen."""
    return _SEQ2SEQ_BUILT.get(state, config, lambda: build(state, config))


def _seq2seq_call(model, input_ids, attention_mask, decoder_input_ids, labels):
    with torch.no_grad():
        output = model(
            input_ids=input_ids,
            attention_mask=attention_mask.long(),
            decoder_input_ids=decoder_input_ids,
            labels=labels,
            use_cache=False,
        )
    return output.encoder_last_hidden_state, output.logits, output.loss


class HFSeq2Seq:
    """Mixin of HFAdapter: BartForConditionalGeneration and T5ForConditionalGeneration from small
    configs, eager attention, loading the suite's state dict; called as a user calls
    `model(input_ids, attention_mask=..., decoder_input_ids=..., labels=...)`."""

    def bart_for_conditional_generation(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        config: Seq2SeqConfig,
        *,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        model = _seq2seq_model(state, config, self._build_bart)
        return _seq2seq_call(model, input_ids, attention_mask, decoder_input_ids, labels)

    def _build_bart(self, state: dict[str, torch.Tensor], config: Seq2SeqConfig):
        from transformers import BartConfig, BartForConditionalGeneration

        vocab, width = state["model.shared.weight"].shape
        hf_config = BartConfig(
            vocab_size=vocab,
            d_model=width,
            encoder_layers=config.layers,
            decoder_layers=config.layers,
            encoder_attention_heads=config.heads,
            decoder_attention_heads=config.heads,
            encoder_ffn_dim=state["model.encoder.layers.0.fc1.weight"].shape[0],
            decoder_ffn_dim=state["model.decoder.layers.0.fc1.weight"].shape[0],
            max_position_embeddings=state["model.encoder.embed_positions.weight"].shape[0] - 2,
            activation_function=_HF_ACTIVATION[config.activation],
            scale_embedding=config.scale_embedding,
            pad_token_id=config.pad_token_id,
            bos_token_id=0,
            eos_token_id=config.decoder_start_token_id,
            decoder_start_token_id=config.decoder_start_token_id,
            dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
            attn_implementation="eager",
        )
        model = BartForConditionalGeneration(hf_config).to(state["model.shared.weight"].dtype).eval()
        # BART's LayerNorms are nn.LayerNorm(E) with the default eps 1e-5; the config has no epsilon
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.eps = config.eps
        tied = ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight")
        _load_tied(model, state, tied)
        return model

    def t5_for_conditional_generation(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        config: Seq2SeqConfig,
        *,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        model = _seq2seq_model(state, config, self._build_t5)
        return _seq2seq_call(model, input_ids, attention_mask, decoder_input_ids, labels)

    def _build_t5(self, state: dict[str, torch.Tensor], config: Seq2SeqConfig):
        from transformers import T5Config, T5ForConditionalGeneration

        vocab, width = state["shared.weight"].shape
        hf_config = T5Config(
            vocab_size=vocab,
            d_model=width,
            d_kv=width // config.heads,
            d_ff=state["encoder.block.0.layer.1.DenseReluDense.wo.weight"].shape[1],
            num_layers=config.layers,
            num_heads=config.heads,
            relative_attention_num_buckets=config.num_buckets,
            relative_attention_max_distance=config.max_distance,
            layer_norm_epsilon=config.eps,
            feed_forward_proj=config.activation,  # "relu" or "gated-gelu" (T5DenseGatedActDense: wi_0, wi_1, wo)
            tie_word_embeddings=config.tie_word_embeddings,
            pad_token_id=config.pad_token_id,
            decoder_start_token_id=config.decoder_start_token_id,
            dropout_rate=0.0,
            attn_implementation="eager",
        )
        model = T5ForConditionalGeneration(hf_config).to(state["shared.weight"].dtype).eval()
        _load_tied(model, state, ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"))
        return model

    def t5_relative_position_bucket(
        self, relative_position: torch.Tensor, *, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
    ) -> torch.Tensor:
        from transformers.models.t5.modeling_t5 import T5Attention

        return T5Attention._relative_position_bucket(
            relative_position, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
        )


class HFModels(HFSeq2Seq):
    """Mixin of HFAdapter; each layer is built once per weights object and dtype."""

    def _bert_layer(self, weights: EncoderLayerWeights, dtype: torch.dtype):
        return _built(weights, dtype, self._build_bert_layer)

    def _build_bert_layer(self, weights: EncoderLayerWeights, dtype: torch.dtype):
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertLayer

        config = BertConfig(
            hidden_size=weights.attention.embed_dim,
            num_attention_heads=weights.attention.heads,
            intermediate_size=weights.feed_forward.inner.shape[0],
            hidden_act=_HF_ACTIVATION[weights.feed_forward.activation],
            layer_norm_eps=weights.attention_norm.eps,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            attn_implementation="eager",
        )
        layer = BertLayer(config).to(dtype).eval()
        with torch.no_grad():
            self_attention = layer.attention.self
            _copy_attention(
                {
                    "query": self_attention.query,
                    "key": self_attention.key,
                    "value": self_attention.value,
                    "output": layer.attention.output.dense,
                },
                weights.attention,
            )
            _copy_norm(layer.attention.output.LayerNorm, weights.attention_norm)
            ffn: FeedForwardWeights = weights.feed_forward
            _copy_linear(layer.intermediate.dense, ffn.inner, ffn.inner_bias)
            _copy_linear(layer.output.dense, ffn.outer, ffn.outer_bias)
            _copy_norm(layer.output.LayerNorm, weights.output_norm)
        return layer, config

    def encoder_layer(
        self, hidden: torch.Tensor, weights: EncoderLayerWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        from transformers import masking_utils

        check_hidden(hidden, weights.attention.embed_dim, padding_mask)  # BertLayer would broadcast a wrong mask
        layer, config = self._bert_layer(weights, hidden.dtype)
        mask = masking_utils.create_bidirectional_mask(config, hidden, _long(padding_mask, hidden))
        with torch.no_grad():
            return layer(hidden, attention_mask=mask)

    def decoder_block(
        self, hidden: torch.Tensor, weights: DecoderBlockWeights, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        from transformers import masking_utils

        check_hidden(hidden, weights.attention.embed_dim, padding_mask)
        block, config = _built(weights, hidden.dtype, self._build_gpt2_block)
        with torch.no_grad():
            mask = masking_utils.create_causal_mask(
                config, hidden, _long(padding_mask, hidden), None, allow_is_causal_skip=False
            )
            output = block(hidden, attention_mask=mask)
        return output[0] if isinstance(output, tuple) else output

    def _build_gpt2_block(self, weights: DecoderBlockWeights, dtype: torch.dtype):
        from transformers import GPT2Config
        from transformers.models.gpt2.modeling_gpt2 import GPT2Block

        width = weights.attention.embed_dim
        config = GPT2Config(
            n_embd=width,
            n_head=weights.attention.heads,
            n_inner=weights.feed_forward.inner.shape[0],
            activation_function=_HF_ACTIVATION[weights.feed_forward.activation],
            layer_norm_epsilon=weights.norm_1.eps,
            resid_pdrop=0.0,
            attn_pdrop=0.0,
            embd_pdrop=0.0,
            attn_implementation="eager",
        )
        block = GPT2Block(config, layer_idx=0).to(dtype).eval()
        attention, ffn = weights.attention, weights.feed_forward
        with torch.no_grad():  # Conv1D weights are (in, out)
            block.attn.c_attn.weight.copy_(torch.cat([attention.query, attention.key, attention.value]).T)
            block.attn.c_attn.bias.copy_(torch.cat([attention.query_bias, attention.key_bias, attention.value_bias]))
            block.attn.c_proj.weight.copy_(attention.output.T)
            block.attn.c_proj.bias.copy_(attention.output_bias)
            block.mlp.c_fc.weight.copy_(ffn.inner.T)
            block.mlp.c_fc.bias.copy_(ffn.inner_bias)
            block.mlp.c_proj.weight.copy_(ffn.outer.T)
            block.mlp.c_proj.bias.copy_(ffn.outer_bias)
            _copy_norm(block.ln_1, weights.norm_1)
            _copy_norm(block.ln_2, weights.norm_2)
        return block, config

    def _bart_decoder_layer(self, weights: CrossDecoderLayerWeights, dtype: torch.dtype):
        return _built(weights, dtype, self._build_bart_decoder_layer)

    def _build_bart_decoder_layer(self, weights: CrossDecoderLayerWeights, dtype: torch.dtype):
        from transformers import BartConfig
        from transformers.models.bart.modeling_bart import BartDecoderLayer

        config = BartConfig(
            d_model=weights.self_attention.embed_dim,
            decoder_attention_heads=weights.self_attention.heads,
            decoder_ffn_dim=weights.feed_forward.inner.shape[0],
            activation_function=_HF_ACTIVATION[weights.feed_forward.activation],
            dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
            attn_implementation="eager",
        )
        layer = BartDecoderLayer(config, layer_idx=0).to(dtype).eval()
        with torch.no_grad():
            names = {"query": "q_proj", "key": "k_proj", "value": "v_proj", "output": "out_proj"}
            _copy_attention({ours: getattr(layer.self_attn, n) for ours, n in names.items()}, weights.self_attention)
            _copy_attention(
                {ours: getattr(layer.encoder_attn, n) for ours, n in names.items()}, weights.cross_attention
            )
            _copy_norm(layer.self_attn_layer_norm, weights.self_norm)
            _copy_norm(layer.encoder_attn_layer_norm, weights.cross_norm)
            _copy_linear(layer.fc1, weights.feed_forward.inner, weights.feed_forward.inner_bias)
            _copy_linear(layer.fc2, weights.feed_forward.outer, weights.feed_forward.outer_bias)
            _copy_norm(layer.final_layer_norm, weights.output_norm)
        return layer, config

    def cross_decoder_layer(
        self,
        hidden: torch.Tensor,
        memory: torch.Tensor,
        weights: CrossDecoderLayerWeights,
        *,
        padding_mask: torch.Tensor | None = None,
        memory_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        from transformers import masking_utils

        check_hidden(hidden, weights.self_attention.embed_dim, padding_mask)
        check_hidden(memory, weights.cross_attention.context_dim, memory_padding_mask, "memory")
        layer, config = self._bart_decoder_layer(weights, hidden.dtype)
        with torch.no_grad():
            self_mask = masking_utils.create_causal_mask(
                config, hidden, _long(padding_mask, hidden), None, allow_is_causal_skip=False
            )
            cross_mask = masking_utils.create_bidirectional_mask(
                config, hidden, _long(memory_padding_mask, memory), encoder_hidden_states=memory
            )
            output = layer(
                hidden, attention_mask=self_mask, encoder_hidden_states=memory, encoder_attention_mask=cross_mask
            )
        return output[0] if isinstance(output, tuple) else output

    def encoder_decoder(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        encoder_layers: list[EncoderLayerWeights],
        decoder_layers: list[CrossDecoderLayerWeights],
        *,
        source_padding_mask: torch.Tensor | None = None,
        target_padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        memory = source
        for layer in encoder_layers:
            memory = self.encoder_layer(memory, layer, padding_mask=source_padding_mask)
        output = target
        for layer in decoder_layers:
            output = self.cross_decoder_layer(
                output, memory, layer, padding_mask=target_padding_mask, memory_padding_mask=source_padding_mask
            )
        return memory, output

    def bert_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        from transformers import BertConfig, BertModel

        width = state["embeddings.word_embeddings.weight"].shape[1]
        hf_config = BertConfig(
            vocab_size=state["embeddings.word_embeddings.weight"].shape[0],
            hidden_size=width,
            num_hidden_layers=config.layers,
            num_attention_heads=config.heads,
            intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
            max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
            type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0],
            hidden_act=_HF_ACTIVATION[config.activation],
            layer_norm_eps=config.eps,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            attn_implementation="eager",
        )
        dtype = state["embeddings.word_embeddings.weight"].dtype
        model = BertModel(hf_config, add_pooling_layer=False).to(dtype).eval()
        _load(model, {k: v for k, v in state.items() if not k.startswith("pooler.")})  # the pooler is a head
        with torch.no_grad():
            return model(input_ids=input_ids, attention_mask=attention_mask.long()).last_hidden_state

    def gpt2_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, state: dict[str, torch.Tensor], config: ModelConfig
    ) -> torch.Tensor:
        from transformers import GPT2Config, GPT2Model

        hf_config = GPT2Config(
            vocab_size=state["wte.weight"].shape[0],
            n_positions=state["wpe.weight"].shape[0],
            n_embd=state["wte.weight"].shape[1],
            n_layer=config.layers,
            n_head=config.heads,
            activation_function=_HF_ACTIVATION[config.activation],
            layer_norm_epsilon=config.eps,
            resid_pdrop=0.0,
            attn_pdrop=0.0,
            embd_pdrop=0.0,
            bos_token_id=0,
            eos_token_id=0,
            attn_implementation="eager",
        )
        model = GPT2Model(hf_config).to(state["wte.weight"].dtype).eval()
        _load(model, state)
        with torch.no_grad():
            return model(input_ids=input_ids, attention_mask=attention_mask.long()).last_hidden_state


def _load(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """load_state_dict, tolerating only buffers the state dict may lack (position_ids, bias masks)."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(("position_ids", "attn.bias", "attn.masked_bias"))]
    if missing or unexpected:
        raise ValueError(f"state dict does not fit {type(model).__name__}: missing {missing}, unexpected {unexpected}")
