"""The hf adapter's embeddings family (spec/embeddings.md): the model files' embedding modules.

Embeddings: `GPT2Model` (the input to its first block, `wte + wpe`), `BertEmbeddings`,
`MarianSinusoidalPositionalEmbedding` (sines then cosines: variant `halves`) and Reformer's
`AxialPositionEmbeddings`.
"""

from __future__ import annotations

import torch

from specformer.reference.embeddings import BertEmbeddingWeights


class HFEmbeddings:
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
