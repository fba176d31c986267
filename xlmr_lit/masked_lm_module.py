"""MaskedLMLitModule: the pretraining objective, optimizer recipe and per-language validation."""

import math
import time

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics import Metric

from xlmr_lit.masking import IGNORE_INDEX
from xlmr_lit.model import XLMRConfig, XLMRForMaskedLM


class PerLanguageLoss(Metric):
    """Token-weighted mean masked-LM loss per language, summed across ranks."""

    def __init__(self, num_languages: int):
        super().__init__()
        self.add_state("loss_sum", torch.zeros(num_languages, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(num_languages, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, token_losses: torch.Tensor, token_languages: torch.Tensor) -> None:
        self.loss_sum.index_add_(0, token_languages, token_losses.double())
        self.count.index_add_(0, token_languages, torch.ones_like(token_losses, dtype=torch.float64))

    def compute(self) -> torch.Tensor:
        return self.loss_sum / self.count.clamp(min=1)


def linear_warmup_decay(warmup_steps: int, total_steps: int):
    """lr multiplier: 0 -> 1 over warmup_steps, then linearly to 0 at total_steps (fairseq polynomial_decay, power 1)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


class MaskedLMLitModule(pl.LightningModule):
    def __init__(
        self,
        model_config: dict,
        languages: list[str],
        tokenizer_path: str,
        lr: float = 5e-4,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        total_steps: int = 1000,
        report_groups: dict[str, list[str]] | None = None,
        compile: bool = False,
        valid_pieces_per_char: list[float | None] | None = None,
        valid_unigram_losses: list[float] | None = None,
        extension: dict | None = None,  # what xlmr_lit/extend.py added to model.init, recorded for later runs
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = XLMRForMaskedLM(XLMRConfig(**model_config))
        if compile:
            self.model.compile()  # in place, so state_dict keys stay model.*
        self.languages = list(languages)
        self.val_loss = PerLanguageLoss(len(languages))
        self.val_shuffled_loss = PerLanguageLoss(len(languages))  # the order gauge: same targets, context shuffled
        # counted on the device: a .cpu() per step would stall a GPU; read only when logged
        self.register_buffer("language_counts", torch.zeros(len(languages)), persistent=False)
        self._last_step_time: float | None = None

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        _, loss = self.model(batch["input_ids"], batch.get("attention_mask"), batch["labels"])
        self.log("train/loss", loss, prog_bar=True)
        self.language_counts += torch.bincount(batch["language"], minlength=len(self.languages))
        return loss

    def on_train_batch_end(self, outputs, batch: dict, batch_idx: int) -> None:
        now = time.perf_counter()
        if self._last_step_time is not None:
            tokens = batch["input_ids"].numel() * self.trainer.world_size
            self.log("train/tokens_per_s", tokens / (now - self._last_step_time), prog_bar=True)
        self._last_step_time = now
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        self.log("train/tokens_per_sample", float(batch["input_ids"].shape[1]))  # the block length schedule
        if self.trainer.global_step % max(self.trainer.log_every_n_steps, 1) == 0 and self.language_counts.sum() > 0:
            mix = (self.language_counts / self.language_counts.sum()).tolist()
            self.log_dict({f"train/mix_{lang}": mix[i] for i, lang in enumerate(self.languages)})
            self.language_counts.zero_()

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        labels = batch["labels"]
        is_target = labels.ne(IGNORE_INDEX)
        token_languages = batch["language"][:, None].expand_as(labels)[is_target]  # (M,)
        for input_ids, metric in ((batch["input_ids"], self.val_loss),
                                  (batch.get("shuffled_input_ids"), self.val_shuffled_loss)):
            if input_ids is not None:
                logits, _ = self.model(input_ids, batch.get("attention_mask"), labels)  # (M, V) at targets
                metric.update(F.cross_entropy(logits.float(), labels[is_target], reduction="none"), token_languages)

    def on_validation_epoch_end(self) -> None:
        per_language = self.val_loss.compute().reshape(-1)  # torchmetrics returns one language's loss as a scalar
        shuffled = self.val_shuffled_loss.compute().reshape(-1) if self.val_shuffled_loss.update_count else None
        self.val_loss.reset()
        self.val_shuffled_loss.reset()
        metrics = {}
        pieces_per_char = self.hparams.valid_pieces_per_char or [None] * len(self.languages)
        unigram = self.hparams.valid_unigram_losses or [None] * len(self.languages)
        for i, (lang, loss) in enumerate(zip(self.languages, per_language.tolist())):
            metrics[f"val/loss_{lang}"] = loss
            metrics[f"val/ppl_{lang}"] = math.exp(min(loss, 50.0))
            if pieces_per_char[i] is not None:  # comparable across tokenizers, whose pieces differ in length
                metrics[f"val/loss_per_char_{lang}"] = loss * pieces_per_char[i]
            if shuffled is not None:  # > 0 only for a model that uses word order, not just which pieces co-occur
                metrics[f"val/order_gap_{lang}"] = float(shuffled[i]) - loss
            if unigram[i] is not None:  # the loss of predicting from piece frequencies alone
                metrics[f"val/unigram_loss_{lang}"] = unigram[i]
        for group, members in (self.hparams.report_groups or {}).items():
            for name in ("loss", "loss_per_char", "order_gap"):
                present = [metrics[f"val/{name}_{lang}"] for lang in members if f"val/{name}_{lang}" in metrics]
                if present:
                    metrics[f"val/{name}_{group}"] = sum(present) / len(present)
        self.log_dict(metrics, sync_dist=False)  # already summed across ranks by the metric
        self.log("val/loss", float(per_language.mean()), prog_bar=True)  # languages weighted equally
        if shuffled is not None:
            self.log("val/order_gap", float((shuffled - per_language).mean()))

    def configure_optimizers(self):
        # no weight decay on biases and LayerNorm weights (the 1-d parameters)
        params = [p for p in self.model.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": self.hparams.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(
            groups,
            lr=self.hparams.lr,
            betas=tuple(self.hparams.betas),
            eps=self.hparams.eps,
            fused=self.device.type == "cuda",
        )
        schedule = linear_warmup_decay(self.hparams.warmup_steps, self.hparams.total_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
