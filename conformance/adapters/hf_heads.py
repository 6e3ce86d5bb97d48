"""The hf adapter's heads family (spec/heads.md): transformers' own head modules and forwards.

Each call builds the model class from a small config (random weights, evaluation mode, dropout
0), copies the suite's weights into its head modules, and replaces the encoder/decoder stack
(`model.bert`, `model.transformer`) by a stub that returns the suite's hidden states: the
model's own `forward` then runs its real head code, pooling and loss on them.

- `lm_logits`, `generation_logits`: `GPT2LMHeadModel` (its `lm_head` tied to `wte`);
  generation logits are `forward(logits_to_keep=1)` as `generate()` calls it: position L-1
  (variant `last-position` of HEAD-GEN-02).
- `tied_parameters`: `GPT2LMHeadModel` / `BertForMaskedLM` built with `tie_word_embeddings`,
  their `get_input_embeddings().weight` and `get_output_embeddings().weight`.
- `pooler`: `BertPooler`; `masked_lm_head`: `BertForMaskedLM`; `next_sentence_head`:
  `BertForNextSentencePrediction`; `pretraining_heads`: `BertForPreTraining`;
  `sequence_classification`: `BertForSequenceClassification`; `token_classification`:
  `BertForTokenClassification`; `question_answering`: `BertForQuestionAnswering`.
- `last_token_classification`: `GPT2ForSequenceClassification` with `pad_token_id`, which finds
  the last token by comparing ids with the pad id.
- `mean_pooling`: `ModernBertForSequenceClassification(classifier_pooling="mean")`, the pooled
  vector read at the input of its prediction head (transformers has no BERT mean pooler; this
  is its mask-weighted mean, as sentence-transformers computes for all-MiniLM-L6-v2).
- `best_span`: the QA pipelines' `select_starts_ends` + `decode_spans`
  (`pipelines/document_question_answering.py`), with `p_mask` = not context; `max_answer_len < 1`
  is rejected as the pipeline's `_sanitize_parameters` does before it gets there. Position 0 is
  never an answer there ([CLS] is the "no answer" slot); the suite's contexts never include it.

`align_word_labels` is left unsupported: transformers has no function for it (the course and the
`run_ner` example each write their own loop).
"""

from __future__ import annotations

import torch

from specformer.reference.heads import BertHeadWeights


class _Stub(torch.nn.Module):
    """Stands in for the encoder stack: returns the given hidden states (and the real pooler's output)."""

    def __init__(self, hidden: torch.Tensor, pooler: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.hidden, self.pooler = hidden, pooler

    def forward(self, *args, **kwargs):
        from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

        pooled = self.pooler(self.hidden) if self.pooler is not None else None
        return BaseModelOutputWithPoolingAndCrossAttentions(last_hidden_state=self.hidden, pooler_output=pooled)


class _GPT2Stub(torch.nn.Module):
    """Stands in for GPT-2's decoder stack (`model.transformer`): returns the given hidden states."""

    def __init__(self, hidden: torch.Tensor) -> None:
        super().__init__()
        self.hidden = hidden

    def forward(self, *args, **kwargs):
        from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions

        return BaseModelOutputWithPastAndCrossAttentions(last_hidden_state=self.hidden)


def _bert(model_class, weights: BertHeadWeights, dtype: torch.dtype, **config):
    from transformers import BertConfig

    settings = dict(
        vocab_size=weights.vocab_size,
        hidden_size=weights.hidden_size,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=4,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=weights.num_labels,
        hidden_act="gelu",
        layer_norm_eps=weights.norm_eps,
    )
    model = model_class(BertConfig(**{**settings, **config})).to(dtype).eval()
    return model


def _copy(parameter: torch.nn.Parameter, value: torch.Tensor) -> None:
    with torch.no_grad():
        parameter.copy_(value)


def _copy_pooler(pooler, weights: BertHeadWeights) -> None:
    _copy(pooler.dense.weight, weights.pooler_weight)
    _copy(pooler.dense.bias, weights.pooler_bias)


def _copy_mlm(predictions, weights: BertHeadWeights) -> None:
    transform = predictions.transform
    _copy(transform.dense.weight, weights.transform_weight)
    _copy(transform.dense.bias, weights.transform_bias)
    _copy(transform.LayerNorm.weight, weights.norm_weight)
    _copy(transform.LayerNorm.bias, weights.norm_bias)
    _copy(predictions.decoder.weight, weights.word_embeddings)  # tied to the word embeddings
    _copy(predictions.bias, weights.decoder_bias)
    if predictions.decoder.bias is not predictions.bias:  # tied in v5; copy anyway if not
        _copy(predictions.decoder.bias, weights.decoder_bias)


def _dummy_ids(hidden: torch.Tensor) -> torch.Tensor:
    return torch.zeros(hidden.shape[:2], dtype=torch.long, device=hidden.device)


def _forward_on(model, hidden: torch.Tensor, *, pooled: bool, **labels: torch.Tensor | None):
    """The BERT head model's own forward (heads, pooling, loss) on `hidden` in place of its encoder
    stack; `pooled`: the stub keeps the real pooler (whose weights the caller has copied)."""
    model.bert = _Stub(hidden, model.bert.pooler if pooled else None)
    with torch.no_grad():
        return model(input_ids=_dummy_ids(hidden), **labels)


def _classify(model, weights: BertHeadWeights, hidden: torch.Tensor, labels: torch.Tensor | None, *, pooled: bool):
    """BertForSequenceClassification / BertForTokenClassification with the suite's classifier: (logits, loss)."""
    _copy(model.classifier.weight, weights.classifier_weight)
    _copy(model.classifier.bias, weights.classifier_bias)
    out = _forward_on(model, hidden, pooled=pooled, labels=labels)
    return out.logits, out.loss


class HFHeads:
    def lm_logits(self, hidden: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        model = self._gpt2_lm(hidden, embedding)
        with torch.no_grad():
            return model(input_ids=_dummy_ids(hidden)).logits

    def generation_logits(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, embedding: torch.Tensor
    ) -> torch.Tensor:
        model = self._gpt2_lm(hidden, embedding)
        with torch.no_grad():
            logits = model(input_ids=_dummy_ids(hidden), attention_mask=attention_mask, logits_to_keep=1).logits
        return logits[:, -1, :]

    @staticmethod
    def _gpt2_lm(hidden: torch.Tensor, embedding: torch.Tensor):
        from transformers import GPT2Config, GPT2LMHeadModel

        vocab, width = embedding.shape
        config = GPT2Config(vocab_size=vocab, n_embd=width, n_layer=1, n_head=1, n_positions=max(hidden.shape[1], 8))
        model = GPT2LMHeadModel(config).to(embedding.dtype).eval()
        _copy(model.lm_head.weight, embedding)  # tied: this is transformer.wte.weight too
        model.transformer = _GPT2Stub(hidden)
        return model

    def tied_parameters(
        self, vocab_size: int, hidden_size: int, *, tie: bool, architecture: str = "causal-lm"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

        if architecture == "causal-lm":
            config = GPT2Config(vocab_size=vocab_size, n_embd=hidden_size, n_layer=1, n_head=1, tie_word_embeddings=tie)
            model = GPT2LMHeadModel(config)
        elif architecture == "masked-lm":
            config = BertConfig(
                vocab_size=vocab_size,
                hidden_size=hidden_size,
                num_hidden_layers=1,
                num_attention_heads=1,
                intermediate_size=4,
                tie_word_embeddings=tie,
            )
            model = BertForMaskedLM(config)
        else:
            raise ValueError(f"architecture must be causal-lm or masked-lm, got {architecture!r}")
        return model.get_input_embeddings().weight, model.get_output_embeddings().weight

    def pooler(self, hidden: torch.Tensor, weights: BertHeadWeights) -> torch.Tensor:
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertPooler

        module = BertPooler(BertConfig(hidden_size=weights.hidden_size)).to(hidden.dtype).eval()
        _copy_pooler(module, weights)
        with torch.no_grad():
            return module(hidden)

    def masked_lm_head(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        from transformers import BertForMaskedLM

        model = _bert(BertForMaskedLM, weights, hidden.dtype)
        _copy_mlm(model.cls.predictions, weights)
        out = _forward_on(model, hidden, pooled=False, labels=labels)
        return out.logits, out.loss

    def next_sentence_head(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        from transformers import BertForNextSentencePrediction

        model = _bert(BertForNextSentencePrediction, weights, hidden.dtype)
        _copy_pooler(model.bert.pooler, weights)
        _copy(model.cls.seq_relationship.weight, weights.nsp_weight)
        _copy(model.cls.seq_relationship.bias, weights.nsp_bias)
        out = _forward_on(model, hidden, pooled=True, labels=labels)
        return out.logits, out.loss

    def pretraining_heads(
        self, hidden: torch.Tensor, weights: BertHeadWeights, mlm_labels: torch.Tensor, nsp_labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from transformers import BertForPreTraining

        model = _bert(BertForPreTraining, weights, hidden.dtype)
        _copy_pooler(model.bert.pooler, weights)
        _copy_mlm(model.cls.predictions, weights)
        _copy(model.cls.seq_relationship.weight, weights.nsp_weight)
        _copy(model.cls.seq_relationship.bias, weights.nsp_bias)
        out = _forward_on(model, hidden, pooled=True, labels=mlm_labels, next_sentence_label=nsp_labels)
        return out.prediction_logits, out.seq_relationship_logits, out.loss

    def sequence_classification(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        from transformers import BertForSequenceClassification

        model = _bert(BertForSequenceClassification, weights, hidden.dtype, classifier_dropout=0.0)
        _copy_pooler(model.bert.pooler, weights)
        return _classify(model, weights, hidden, labels, pooled=True)

    def last_token_classification(
        self,
        hidden: torch.Tensor,
        score_weight: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pad_token_id: int,
    ) -> torch.Tensor:
        from transformers import GPT2Config, GPT2ForSequenceClassification

        labels, width = score_weight.shape
        config = GPT2Config(
            vocab_size=max(int(input_ids.max()) + 1, pad_token_id + 1),
            n_embd=width,
            n_layer=1,
            n_head=1,
            num_labels=labels,
            pad_token_id=pad_token_id,
        )
        model = GPT2ForSequenceClassification(config).to(hidden.dtype).eval()
        _copy(model.score.weight, score_weight)
        model.transformer = _GPT2Stub(hidden)
        with torch.no_grad():
            return model(input_ids=input_ids, attention_mask=attention_mask).logits

    def mean_pooling(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        from transformers import ModernBertConfig, ModernBertForSequenceClassification
        from transformers.modeling_outputs import BaseModelOutput

        B, L, D = hidden.shape
        config = ModernBertConfig(
            vocab_size=8,
            hidden_size=D,
            intermediate_size=4,
            num_hidden_layers=1,
            num_attention_heads=1,
            classifier_pooling="mean",
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            sep_token_id=2,
            cls_token_id=1,
        )
        model = ModernBertForSequenceClassification(config).to(hidden.dtype).eval()

        class Encoder(torch.nn.Module):  # stands in for the encoder: the hidden states under test
            def forward(self, *args, **kwargs):
                return BaseModelOutput(last_hidden_state=hidden)

        model.model = Encoder()
        pooled: list[torch.Tensor] = []
        model.head.register_forward_pre_hook(lambda module, args: pooled.append(args[0].clone()))
        with torch.no_grad():
            model(input_ids=torch.ones(B, L, dtype=torch.long), attention_mask=attention_mask)
        return pooled[0]  # (B, D): what the classifier head reads

    def token_classification(
        self, hidden: torch.Tensor, weights: BertHeadWeights, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        from transformers import BertForTokenClassification

        model = _bert(BertForTokenClassification, weights, hidden.dtype, classifier_dropout=0.0)
        return _classify(model, weights, hidden, labels, pooled=False)

    def question_answering(
        self,
        hidden: torch.Tensor,
        weights: BertHeadWeights,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        from transformers import BertForQuestionAnswering

        model = _bert(BertForQuestionAnswering, weights, hidden.dtype, num_labels=2)
        _copy(model.qa_outputs.weight, weights.qa_weight)
        _copy(model.qa_outputs.bias, weights.qa_bias)
        out = _forward_on(model, hidden, pooled=False, start_positions=start_positions, end_positions=end_positions)
        return out.start_logits, out.end_logits, out.loss

    def best_span(
        self, start_logits: torch.Tensor, end_logits: torch.Tensor, context_mask: torch.Tensor, max_answer_length: int
    ) -> tuple[int, int]:
        from transformers.pipelines.document_question_answering import select_starts_ends

        if max_answer_length < 1:  # QuestionAnsweringPipeline._sanitize_parameters
            raise ValueError(f"max_answer_len parameter should be >= 1 (got {max_answer_length})")
        p_mask = (~context_mask.bool()).long().numpy()  # 1 = cannot be in the answer
        starts, ends, _scores, _null = select_starts_ends(
            start_logits[None].numpy(), end_logits[None].numpy(), p_mask, None, max_answer_len=max_answer_length
        )
        if len(starts) == 0:
            raise RuntimeError("decode_spans returned no span")
        return int(starts[0]), int(ends[0])
