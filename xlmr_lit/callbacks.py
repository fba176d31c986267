"""The callbacks of conf/callbacks/ added to every run: the progress bar and, with callbacks=early_stopping, early
stopping. Checkpointing (best.ckpt by the validation score, last.ckpt) is set up in pretrain.py and finetune.py."""

from collections.abc import Callable

from omegaconf import DictConfig
from pytorch_lightning.callbacks import EarlyStopping

from xlmr_lit.progress import progress_bar


def run_callbacks(cfg: DictConfig, monitor: str, mode: str, tokens_per_step: Callable[[int], int] | None = None) -> list:
    """The progress bar (unless trainer.enable_progress_bar=false) and, when callbacks.early_stopping.patience > 0,
    early stopping on `monitor` (pretraining: val/loss; fine-tuning: the mean dev score over languages)."""
    callbacks = progress_bar(cfg, tokens_per_step)
    stopping = cfg.callbacks.early_stopping
    if stopping.patience:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=stopping.patience,
                                       min_delta=stopping.min_delta, verbose=True))
    return callbacks
