"""Fine-tuning LightningModules: scores every (split, language) evaluation set after each epoch.

The per-epoch scores (`history`) are what model selection reads: `single` picks one epoch by the
average dev score over languages, `per_language` picks each language's best dev epoch.
"""

from collections import defaultdict
from collections.abc import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from xlmr_lit.hf_encoder import HFEncoderForSequenceClassification, HFEncoderForTokenClassification
from xlmr_lit.masked_lm_module import linear_warmup_decay
from xlmr_lit.model import XLMRConfig, XLMRForSequenceClassification, XLMRForTokenClassification
from xlmr_lit.tokenizer import XLMR_SPECIALS, Specials

ENCODER_INPUTS = ("token_type_ids", "langs")  # what a transformers encoder takes besides ids and mask (BERT, XLM)


class FineTuneModule(pl.LightningModule):
    """model_config: our XLMRConfig's fields; with `hf_config` (a transformers config.json's contents: BERT, XLM,
    ...) the encoder is transformers' AutoModel of that config instead, and model_config gives the task head's
    hidden_dropout_prob. specials: the tokenizer's framing (tokenizer.Specials fields), XLM-R's when None."""

    def __init__(
        self,
        model_config: dict,
        labels: list[str],
        eval_sets: list[tuple[str, str]],
        metric: str,
        lr: float = 2e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        total_steps: int = 1000,
        warmup_steps: int | None = None,  # replaces warmup_ratio
        adam_betas: tuple[float, float] = (0.9, 0.98),
        adam_eps: float = 1e-6,
        hf_config: dict | None = None,
        specials: dict | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["score_fn"])  # a function would break weights_only loading
        self.specials = Specials(**{k: tuple(v) if isinstance(v, list) else v for k, v in specials.items()}) \
            if specials else XLMR_SPECIALS
        self.eval_sets = [tuple(s) for s in eval_sets]
        self.labels = list(labels)
        self.history: list[dict] = []  # per validation epoch: {"epoch", "scores": {"split/lang": {metric: value}}}
        self._collected: dict[int, list] = defaultdict(list)

    def task_model(self, xlmr_class, hf_class, *args) -> torch.nn.Module:
        """Our XLM-R encoder with the task's head, or a transformers encoder with the same head (hf_config)."""
        if self.hparams.hf_config:
            return hf_class(self.hparams.hf_config, *args, dropout=self.hparams.model_config["hidden_dropout_prob"])
        return xlmr_class(XLMRConfig(**self.hparams.model_config), *args)

    def forward_batch(self, batch: dict) -> torch.Tensor:
        extra = {name: batch[name] for name in ENCODER_INPUTS if name in batch}
        return self.model(batch["input_ids"], batch["attention_mask"], **extra)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": self.hparams.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        hp = self.hparams
        optimizer = torch.optim.AdamW(groups, lr=hp.lr, betas=tuple(hp.adam_betas), eps=hp.adam_eps)
        warmup = int(hp.warmup_ratio * hp.total_steps) if hp.warmup_steps is None else hp.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_decay(max(warmup, 1), hp.total_steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collected[dataloader_idx].append(self.collect(batch))

    def on_validation_epoch_end(self) -> None:
        scores = {}
        for idx, (split, lang) in enumerate(self.eval_sets):
            parts = self._collected.pop(idx, [])
            if parts:
                scores[f"{split}/{lang}"] = self.score(idx, parts)
        self._collected.clear()
        if not scores or self.trainer.sanity_checking:
            return
        flat = {f"{name}/{metric}": value for name, values in scores.items() for metric, value in values.items()}
        dev = [v[self.hparams.metric] for name, v in scores.items() if name.startswith("dev/")]
        if dev:
            flat[f"dev/avg_{self.hparams.metric}"] = sum(dev) / len(dev)
        self.log_dict(flat, sync_dist=False)
        self.history.append({"epoch": self.current_epoch, "step": self.global_step, "scores": scores})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["score_history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = checkpoint.get("score_history", [])

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.trainer.world_size == 1:
            return tensor
        return self.all_gather(tensor).flatten(0, 1)

    # subclasses: collect(batch) -> what score needs; score(eval index, collected parts) -> {metric: value}
    def collect(self, batch: dict):
        raise NotImplementedError

    def score(self, idx: int, parts: list) -> dict[str, float]:
        raise NotImplementedError


class SequenceClassificationModule(FineTuneModule):
    """Sentence-pair classification (XNLI, GLUE, the bundled pair task); one label = regression."""

    def __init__(self, *args, score_fn: Callable | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.score_fn = score_fn
        num_labels = max(len(self.labels), 1)
        self.model = self.task_model(XLMRForSequenceClassification, HFEncoderForSequenceClassification, num_labels)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if not self.labels:
            return F.mse_loss(logits.squeeze(-1), labels)
        return F.cross_entropy(logits, labels)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self.forward_batch(batch)
        loss = self.loss(logits, batch["label"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def collect(self, batch: dict):
        logits = self.forward_batch(batch)
        preds = logits.squeeze(-1) if not self.labels else logits.argmax(-1)
        return batch["index"], preds.float(), batch["label"].float()

    def score(self, idx: int, parts: list) -> dict[str, float]:
        index, preds, gold = (self.gather(torch.cat(p)) for p in zip(*parts))
        order = _unique_order(index)
        return self.score_fn(preds[order].cpu().numpy(), gold[order].cpu().numpy())


class TokenClassificationModule(FineTuneModule):
    """NER: a label on the first sub-token of each word, the others ignored; no CRF.

    A feature row is one window of a sentence (`sentence` in the batch); each word is labelled in
    exactly one window, so a sentence's tags are its windows' labelled positions in row order.
    """

    def __init__(self, *args, score_fn: Callable | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.score_fn = score_fn
        self.model = self.task_model(XLMRForTokenClassification, HFEncoderForTokenClassification, len(self.labels))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self.forward_batch(batch)  # (B, T, num_labels)
        loss = F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def collect(self, batch: dict):
        preds = self.forward_batch(batch).argmax(-1)  # (B, T)
        # a fixed width, so that ranks can all_gather batches of different lengths
        width = self.model.config.max_position_embeddings
        pad = (0, width - preds.size(1))
        return batch["index"], batch["sentence"], F.pad(preds, pad, value=0), F.pad(batch["labels"], pad, value=-100)

    def score(self, idx: int, parts: list) -> dict[str, float]:
        index, sentence, preds, labels = (self.gather(torch.cat(p)) for p in zip(*parts))
        gold_tags, pred_tags = defaultdict(list), defaultdict(list)
        for i in _unique_order(index).tolist():
            keep = labels[i].ne(-100)
            number = int(sentence[i])
            gold_tags[number] += [self.labels[t] for t in labels[i][keep].tolist()]
            pred_tags[number] += [self.labels[t] for t in preds[i][keep].tolist()]
        numbers = sorted(gold_tags)
        return self.score_fn([gold_tags[n] for n in numbers], [pred_tags[n] for n in numbers])


def _unique_order(index: torch.Tensor) -> torch.Tensor:
    """Positions of each example index once, in index order (DDP samplers repeat a few)."""
    order = torch.argsort(index, stable=True)
    keep = torch.ones_like(order, dtype=torch.bool)
    keep[1:] = index[order][1:] != index[order][:-1]
    return order[keep]
