"""debug=overfit (conf/debug/overfit.yaml): train on the same few batches every step."""

import itertools

import pytorch_lightning as pl
from torch.utils.data import DataLoader


class OverfitBatches(pl.LightningDataModule):
    """`datamodule` whose training epochs are its first `num_batches` batches, repeated to the length of a real epoch
    (so the step, validation and learning-rate schedules are unchanged); validation reads the real data.

    Lightning's own `overfit_batches` swaps the sampler for a SequentialSampler, which our block samplers cannot take.
    """

    def __init__(self, datamodule: pl.LightningDataModule, num_batches: int):
        super().__init__()
        self.datamodule, self.num_batches = datamodule, num_batches
        self.batches: list | None = None

    def train_dataloader(self) -> DataLoader:
        if self.batches is None:
            loader = self.datamodule.train_dataloader()
            self.batches = list(itertools.islice(loader, self.num_batches))
            self.epoch_length = len(loader)
        return DataLoader([self.batches[i % len(self.batches)] for i in range(self.epoch_length)], batch_size=None)

    def val_dataloader(self):
        return self.datamodule.val_dataloader()
