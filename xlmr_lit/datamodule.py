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
from xlmr_lit.sampling import AlphaBlockSampler, ShardedSequentialSampler, ShortThenFullSampler
from xlmr_lit.tokenizer import BOS_ID, EOS_ID, PAD_ID

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

    def __init__(self, files: list, block_len: int, keep_partial: bool, max_tokens: int | None = None):
        self.files, self.block_len = [str(f) for f in files], block_len
        sizes = [min(_num_tokens(f), max_tokens or _num_tokens(f)) for f in self.files]
        self.block_counts = [(-(-n // block_len) if keep_partial else n // block_len) for n in sizes]
        self.max_tokens = max_tokens
        self._arrays: list[np.memmap] | None = None

    def __getitem__(self, index: tuple[int, int, int, int]) -> dict:
        epoch, position, lang, block = index
        if self._arrays is None:
            self._arrays = [np.memmap(f, dtype=np.int32, mode="r") for f in self.files]
        start = block * self.block_len
        tokens = np.empty(1 + self.block_len, dtype=np.int32)
        end = min(start + self.block_len, self.max_tokens or start + self.block_len)
        body = self._arrays[lang][start:end]
        tokens[0] = BOS_ID
        tokens[1 : 1 + len(body)] = body
        return {"tokens": tokens[: 1 + len(body)], "epoch": epoch, "position": position, "language": lang}

    def __len__(self) -> int:
        return sum(self.block_counts)


class ShortThenFullBlocks(Dataset):
    """Training blocks of the short-then-long schedule: indexed by ShortThenFullSampler's (short, epoch, position,
    language, block); the item records which length it has (its masks are drawn from a stream of their own)."""

    def __init__(self, full: TokenBlocks, short: TokenBlocks | None):
        self.full, self.short = full, short

    def __getitem__(self, index: tuple[bool, int, int, int, int]) -> dict:
        short, *rest = index
        return (self.short if short else self.full)[tuple(rest)] | {"short": short}

    def __len__(self) -> int:
        return len(self.full)


def unigram_cross_entropy(train_file, valid_file, vocab_size: int, max_train_tokens: int = 20_000_000,
                          max_valid_tokens: int | None = None) -> float:
    """Nats per piece of a language's maskable validation pieces under its training text's piece frequencies (add-one
    smoothed, counted in the first `max_train_tokens`): the masked-LM loss of a model that predicts every target from
    frequency alone, with no context."""
    def counts(path, limit: int | None = None) -> np.ndarray:
        n = min(_num_tokens(path), limit or _num_tokens(path))
        tokens = np.memmap(path, dtype=np.int32, mode="r", shape=(n,)) if n else np.zeros(0, dtype=np.int32)
        counted = np.bincount(tokens, minlength=vocab_size).astype(np.float64)
        counted[[BOS_ID, PAD_ID, EOS_ID]] = 0  # never masked
        return counted

    train, valid = counts(train_file, max_train_tokens), counts(valid_file, max_valid_tokens)
    log_probs = np.log((train + 1) / (train.sum() + vocab_size))
    return float(-(valid * log_probs).sum() / max(valid.sum(), 1))


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
        short_tokens_per_sample: int | None = None,
        short_steps: int = 0,
        valid_max_tokens: int | None = None,
    ):
        super().__init__()
        self.corpus, self.languages = corpus, corpus.languages
        self.micro_batch_size, self.global_batch_size = micro_batch_size, global_batch_size
        self.alpha, self.seed, self.num_workers = alpha, seed, num_workers
        block_len = tokens_per_sample - 1
        self.train_blocks = TokenBlocks([d / "train.bin" for d in corpus.shard_dirs], block_len, keep_partial=False)
        # prepare holds out whole documents until a language has valid_max_tokens; a long one (a man page) can go far
        # past it, so validation reads only the first valid_max_tokens of each language
        self.valid_max_tokens = valid_max_tokens
        self.valid_blocks = TokenBlocks([d / "valid.bin" for d in corpus.shard_dirs], block_len, keep_partial=True,
                                        max_tokens=valid_max_tokens)
        self.short_steps = short_steps if short_tokens_per_sample else 0
        self.tokens_per_sample, self.short_tokens_per_sample = tokens_per_sample, short_tokens_per_sample
        self.short_train_blocks = None
        if self.short_steps:
            self.short_train_blocks = TokenBlocks(
                [d / "train.bin" for d in corpus.shard_dirs], short_tokens_per_sample - 1, keep_partial=False
            )
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
        self.valid_collator = MaskedLMCollator(mask_id, seed, mask_prob, random_token_prob, leave_unmasked_prob,
                                               order_gauge=True)
        self.train_sampler: ShortThenFullSampler | None = None

    def tokens_per_step(self, global_step: int) -> int:
        """Tokens an optimizer step reads over all ranks: short blocks for the first short_steps steps."""
        short = global_step < self.short_steps
        return self.global_batch_size * (self.short_tokens_per_sample if short else self.tokens_per_sample)

    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def make_train_sampler(self) -> ShortThenFullSampler:
        rank, world = self._rank_world()
        full = AlphaBlockSampler(self.train_blocks.block_counts, self.alpha, self.samples_per_epoch, self.seed, rank, world)
        if not self.short_steps:
            return ShortThenFullSampler(full)
        counts = self.short_train_blocks.block_counts
        per_epoch = max(sum(counts) // self.global_batch_size, 1) * self.global_batch_size
        short = AlphaBlockSampler(counts, self.alpha, per_epoch, self.seed, rank, world)
        return ShortThenFullSampler(full, short, self.short_steps * self.global_batch_size)

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
        return self._loader(ShortThenFullBlocks(self.train_blocks, self.short_train_blocks), sampler, self.collator)

    def val_dataloader(self) -> DataLoader:
        """Every validation block at data.tokens_per_sample, also during the short-block steps, so that validation
        losses compare across the switch and cover the positions downstream tasks use."""
        rank, world = self._rank_world()
        sampler = ShardedSequentialSampler(self.valid_blocks.block_counts, rank, world)
        return self._loader(self.valid_blocks, sampler, self.valid_collator)

    def valid_unigram_losses(self) -> list[float]:
        """Per language, the validation loss of predicting from piece frequencies alone (unigram_cross_entropy)."""
        vocab_size = self.collator.mask_id + 1
        return [unigram_cross_entropy(d / "train.bin", d / "valid.bin", vocab_size, max_valid_tokens=self.valid_max_tokens)
                for d in self.corpus.shard_dirs]

    def _loader(self, dataset: Dataset, sampler, collator: MaskedLMCollator) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.micro_batch_size,
            sampler=sampler,
            collate_fn=collator,
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
