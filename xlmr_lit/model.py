"""The XLM-R encoder and its masked-LM head, in one file.

RoBERTa post-LN Transformer with learned positions offset by padding_idx + 1 and no
language embeddings. Module and parameter names follow `transformers`'
`XLMRobertaForMaskedLM`, so a state dict converts to HF by a key-for-key copy.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class XLMRConfig:
    vocab_size: int = 250002
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 514  # 512 positions + padding_idx + 1
    type_vocab_size: int = 1  # HF keeps one all-zero token type; fairseq has none
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    pad_token_id: int = 1

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"model.hidden_size={self.hidden_size} is not divisible by "
                f"model.num_attention_heads={self.num_attention_heads}"
            )


def position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    # real tokens count up from padding_idx + 1; padding keeps padding_idx
    not_pad = input_ids.ne(padding_idx).int()
    return torch.cumsum(not_pad, dim=1) * not_pad + padding_idx


class Embeddings(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.padding_idx = config.pad_token_id
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        position_ids = position_ids_from_input_ids(input_ids, self.padding_idx)  # (B, T)
        x = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)  # (B, T, H)
        x = x + self.token_type_embeddings.weight[0]  # the single token type, always id 0
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        B, T, H = x.shape
        # (B, T, H) -> (B, heads, T, head_dim)
        q, k, v = (proj(x).view(B, T, self.num_heads, -1).transpose(1, 2) for proj in (self.query, self.key, self.value))
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout_p if self.training else 0.0
        )  # (B, heads, T, head_dim)
        return y.transpose(1, 2).reshape(B, T, H)


class DenseResidualNorm(nn.Module):
    """Linear, dropout, add the residual, LayerNorm: the post-LN step after attention and FFN."""

    def __init__(self, in_features: int, config: XLMRConfig):
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(x)))


class Attention(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.self = SelfAttention(config)
        self.output = DenseResidualNorm(config.hidden_size, config)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(x, attn_mask), x)


class Intermediate(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = DenseResidualNorm(config.intermediate_size, config)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, attn_mask)  # (B, T, H)
        return self.output(self.intermediate(x), x)  # (B, T, H)


class Encoder(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, attn_mask)
        return x


class XLMRModel(nn.Module):
    """The bare encoder: token ids -> contextual vectors (HF `XLMRobertaModel` without pooler)."""

    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        # attention_mask: (B, T) with 1 for real tokens; None means no padding (the fast path)
        attn_mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            attn_mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T), True = attend
        return self.encoder(self.embeddings(input_ids), attn_mask)  # (B, T, H)


class LMHead(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)  # tied to word embeddings
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(F.gelu(self.dense(x)))
        return F.linear(x, self.decoder.weight, self.bias)  # (..., V)


def init_weights(module: nn.Module, std: float) -> None:
    """N(0, std) for weights, zeros for biases and the padding row, (1, 0) for LayerNorm."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=std)
        if module.padding_idx is not None:
            module.weight.data[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class XLMRForMaskedLM(nn.Module):
    def __init__(self, config: XLMRConfig):
        super().__init__()
        self.config = config
        self.roberta = XLMRModel(config)
        self.lm_head = LMHead(config)
        self.apply(lambda m: init_weights(m, config.initializer_range))
        self.lm_head.decoder.weight = self.roberta.embeddings.word_embeddings.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Without labels: logits for every position, (B, T, V).

        With labels (-100 = not a target): logits only at the target positions, (M, V), and the
        mean cross-entropy over them. Skipping the ~85% unmasked positions is the largest saving
        with a 250k vocabulary.
        """
        hidden = self.roberta(input_ids, attention_mask)  # (B, T, H)
        if labels is None:
            return self.lm_head(hidden), None
        is_target = labels.ne(-100)  # (B, T)
        logits = self.lm_head(hidden[is_target])  # (M, V)
        loss = F.cross_entropy(logits.float(), labels[is_target])
        return logits, loss

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            emb = self.roberta.embeddings
            n -= emb.word_embeddings.weight.numel() + emb.position_embeddings.weight.numel()
        return n


class ClassificationHead(nn.Module):
    """<s> features -> dropout -> dense -> tanh -> dropout -> out_proj (HF `classifier.dense/out_proj`)."""

    def __init__(self, hidden_size: int, dropout: float, num_labels: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])  # (B, H): the <s> token
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)  # (B, num_labels)


class XLMRForSequenceClassification(nn.Module):
    """Sentence(-pair) classification; num_labels=1 is regression (STS-B)."""

    def __init__(self, config: XLMRConfig, num_labels: int):
        super().__init__()
        self.config, self.num_labels = config, num_labels
        self.roberta = XLMRModel(config)
        self.classifier = ClassificationHead(config.hidden_size, config.hidden_dropout_prob, num_labels)
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.roberta(input_ids, attention_mask))  # (B, num_labels)


class XLMRForTokenClassification(nn.Module):
    """Per-token labels (NER): dropout -> linear (HF `classifier`), no CRF."""

    def __init__(self, config: XLMRConfig, num_labels: int):
        super().__init__()
        self.config, self.num_labels = config, num_labels
        self.roberta = XLMRModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.dropout(self.roberta(input_ids, attention_mask)))  # (B, T, num_labels)


class XLMRForQuestionAnswering(nn.Module):
    """Extractive QA: linear(H, 2) (HF `qa_outputs`) -> start and end logits."""

    def __init__(self, config: XLMRConfig, num_labels: int = 2):
        super().__init__()
        self.config, self.num_labels = config, 2
        self.roberta = XLMRModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.qa_outputs(self.roberta(input_ids, attention_mask))  # (B, T, 2): start, end


__all__ = [
    "XLMRConfig",
    "XLMRModel",
    "XLMRForMaskedLM",
    "XLMRForSequenceClassification",
    "XLMRForTokenClassification",
    "XLMRForQuestionAnswering",
    "position_ids_from_input_ids",
]
