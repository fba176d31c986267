"""One progress bar over the whole run, as HF Trainer shows it: optimizer steps done of the total, it/s,
tokens/s (pretraining) or the epoch (fine-tuning), the loss and the time left. The same with or without rich."""

import sys
from collections.abc import Callable

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ProgressBar
from tqdm.auto import tqdm


class StepProgressBar(ProgressBar):
    def __init__(self, tokens_per_step: Callable[[int], int] | None = None):
        """tokens_per_step(global_step): the tokens an optimizer step reads (it changes with data.short_blocks)."""
        super().__init__()
        self.tokens_per_step = tokens_per_step
        self.enabled = True
        self.bar = None
        self.val_bar = None

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def total_steps(self, trainer: pl.Trainer) -> int | None:
        if trainer.max_steps and trainer.max_steps > 0:
            return trainer.max_steps
        return trainer.estimated_stepping_batches if trainer.max_epochs and trainer.max_epochs > 0 else None

    def on_train_start(self, trainer, pl_module) -> None:
        if not self.enabled:
            return
        total = self.total_steps(trainer)
        self.bar = tqdm(total=total, initial=trainer.global_step, desc="train", unit="it", dynamic_ncols=True,
                        file=sys.stderr, smoothing=0.1, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps "
                        "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.bar is None or trainer.global_step <= self.bar.n:
            return
        self.bar.update(trainer.global_step - self.bar.n)
        self.bar.set_postfix_str(self.postfix(trainer, pl_module), refresh=False)

    def postfix(self, trainer, pl_module) -> str:
        parts = []
        if self.tokens_per_step and self.bar.format_dict["rate"]:
            parts.append(f"{self.bar.format_dict['rate'] * self.tokens_per_step(trainer.global_step) / 1000:.1f}k tok/s")
        if trainer.max_epochs and trainer.max_epochs > 0 and not (trainer.max_steps and trainer.max_steps > 0):
            parts.append(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}")
        loss = self.get_metrics(trainer, pl_module).get("train/loss", trainer.callback_metrics.get("train/loss"))
        if loss is not None:
            parts.append(f"loss {float(loss):.3f}")
        return ", ".join(parts)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.enabled and not trainer.sanity_checking:
            total = sum(n for n in trainer.num_val_batches if n != float("inf")) or None
            self.val_bar = tqdm(total=total, desc="validation", unit="batch", leave=False, dynamic_ncols=True,
                                file=sys.stderr)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if self.val_bar is not None:
            self.val_bar.update(1)

    def on_validation_end(self, trainer, pl_module) -> None:
        if self.val_bar is not None:
            self.val_bar.close()
            self.val_bar = None


def progress_bar(cfg, tokens_per_step: Callable[[int], int] | None = None) -> list:
    """The run's progress bar callback (none with trainer.enable_progress_bar=false)."""
    return [StepProgressBar(tokens_per_step)] if cfg.trainer.get("enable_progress_bar", True) else []
