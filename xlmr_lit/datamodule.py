"""MaskedLMDataModule: token shards -> alpha-sampled blocks -> masked batches."""

import logging
import os
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from xlmr_lit.corpus import CorpusError
from xlmr_lit.masking import MaskedLMCollator
from xlmr_lit.prepare import PreparedCorpus
from xlmr_lit.sampling import AlphaBlockSampler, ShardedSequentialSampler
from xlmr_lit.tokenizer import BOS_ID

log = logging.getLogger(__name__)

# Lightning cannot see that AlphaBlockSampler resumes mid-epoch (from global_step): its warning misleads
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")


def _num_tokens(path) -> int:
    return os.path.getsize(path) // np.dtype(np.int32).itemsize


class TokenBlocks(Dataset):
    """Blocks of `block_len` tokens cut from each language's memory-mapped stream, <s> prepended.

    Indexed by the samplers' (epoch, position, language, block) tuples. Files are mapped lazily,
    so each loader worker maps them itself and memory does not grow with the corpus.
    """

    def __init__(self, files: list, block_len: int, keep_partial: bool):
        self.files, self.block_len = [str(f) for f in files], block_len
        sizes = [_num_tokens(f) for f in self.files]
        self.block_counts = [(-(-n // block_len) if keep_partial else n // block_len) for n in sizes]
        self._arrays: list[np.memmap] | None = None

    def __getitem__(self, index: tuple[int, int, int, int]) -> dict:
        epoch, position, lang, block = index
        if self._arrays is None:
            self._arrays = [np.memmap(f, dtype=np.int32, mode="r") for f in self.files]
        start = block * self.block_len
        tokens = np.empty(1 + self.block_len, dtype=np.int32)
        body = self._arrays[lang][start : start + self.block_len]
        tokens[0] = BOS_ID
        tokens[1 : 1 + len(body)] = body
        return {"tokens": tokens[: 1 + len(body)], "epoch": epoch, "position": position, "language": lang}

    def __len__(self) -> int:
        return sum(self.block_counts)


class MaskedLMDataModule(pl.LightningDataModule):
    """Pretraining batches: `micro_batch_size` blocks of `tokens_per_sample` tokens per device.

    One training epoch is `samples_per_epoch` blocks over all ranks (default: as many as the
    corpus has, rounded down to whole optimizer steps), drawn afresh each epoch.
    """

    def __init__(
        self,
        corpus: PreparedCorpus,
        mask_id: int,
        tokens_per_sample: int,
        micro_batch_size: int,
        global_batch_size: int,
        alpha: float,
        seed: int,
        samples_per_epoch: int | None = None,
        num_workers: int = 0,
        mask_prob: float = 0.15,
        random_token_prob: float = 0.1,
        leave_unmasked_prob: float = 0.1,
    ):
        super().__init__()
        self.corpus, self.languages = corpus, corpus.languages
        self.micro_batch_size, self.global_batch_size = micro_batch_size, global_batch_size
        self.alpha, self.seed, self.num_workers = alpha, seed, num_workers
        block_len = tokens_per_sample - 1
        self.train_blocks = TokenBlocks([d / "train.bin" for d in corpus.shard_dirs], block_len, keep_partial=False)
        self.valid_blocks = TokenBlocks([d / "valid.bin" for d in corpus.shard_dirs], block_len, keep_partial=True)
        too_small = [
            f"{lang} ({_num_tokens(d / 'train.bin')} tokens)"
            for lang, d, n in zip(self.languages, corpus.shard_dirs, self.train_blocks.block_counts)
            if n == 0
        ]
        if too_small:
            raise CorpusError(
                f"data.tokens_per_sample={tokens_per_sample} is longer than the training text of {', '.join(too_small)}; "
                f"lower data.tokens_per_sample or add text"
            )
        total = sum(self.train_blocks.block_counts) if samples_per_epoch is None else samples_per_epoch
        self.samples_per_epoch = max(total // global_batch_size, 1) * global_batch_size
        self.collator = MaskedLMCollator(mask_id, seed, mask_prob, random_token_prob, leave_unmasked_prob)
        self.train_sampler: AlphaBlockSampler | None = None

    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def make_train_sampler(self) -> AlphaBlockSampler:
        rank, world = self._rank_world()
        return AlphaBlockSampler(self.train_blocks.block_counts, self.alpha, self.samples_per_epoch, self.seed, rank, world)

    def train_dataloader(self) -> DataLoader:
        sampler = self.make_train_sampler()
        trainer = self.trainer
        if trainer is not None and trainer.global_step > 0:
            # Resuming: the epoch and the samples this rank already fed to it follow from global_step alone. Set here,
            # not left to Lightning's set_epoch: loader workers draw from the sampler as soon as the loader is iterated,
            # and Lightning iterates it before calling set_epoch (and before counting an epoch that ended at the
            # checkpoint as complete).
            steps_per_epoch = self.samples_per_epoch // self.global_batch_size
            epoch = trainer.global_step // steps_per_epoch
            steps_done = trainer.global_step - epoch * steps_per_epoch
            sampler.set_epoch(epoch)
            sampler.resume_from(epoch, steps_done * (self.global_batch_size // sampler.world_size))
        self.train_sampler = sampler
        return self._loader(self.train_blocks, sampler)

    def val_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        return self._loader(self.valid_blocks, ShardedSequentialSampler(self.valid_blocks.block_counts, rank, world))

    def _loader(self, dataset: TokenBlocks, sampler) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.micro_batch_size,
            sampler=sampler,
            collate_fn=self.collator,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=False,
            generator=torch.Generator(),  # keeps loader seeding off the global RNG that dropout uses
        )

    def sampling_table(self) -> list[dict]:
        """Per language: blocks n_i, natural share q_i, target p_i and the realised share of epoch 0."""
        counts = np.asarray(self.train_blocks.block_counts)
        sampler = AlphaBlockSampler(counts, self.alpha, self.samples_per_epoch, self.seed)
        realised = sampler.realised_mix(0)
        q = counts / counts.sum()
        return [
            {"language": lang, "blocks": int(n), "q": float(qi), "p": float(pi), "realised": float(ri)}
            for lang, n, qi, pi, ri in zip(self.languages, counts, q, sampler.probs, realised)
        ]
