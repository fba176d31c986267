"""Language sampling: p_i proportional to q_i^alpha, and the samplers that draw each epoch's blocks.

No torch import here: data preparation workers use alpha_sampling_probs and start faster without it.
"""

from collections.abc import Iterator

import numpy as np


def alpha_sampling_probs(counts, alpha: float) -> np.ndarray:
    """q_i = n_i / sum(n); p_i = q_i^alpha / sum_j q_j^alpha. alpha=1 keeps natural sizes, alpha=0 is uniform."""
    counts = np.asarray(counts, dtype=np.float64)
    if (counts <= 0).any():
        raise ValueError(f"every language needs at least one block to sample from, got counts {counts.tolist()}")
    q = counts / counts.sum()
    p = q**alpha
    return p / p.sum()


def apportion(probs: np.ndarray, total: int) -> np.ndarray:
    """Integer counts summing to `total`, as close to probs * total as possible (largest remainder)."""
    exact = probs * total
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: total - counts.sum()]] += 1
    return counts


class AlphaBlockSampler:
    """Each epoch draws `samples_per_epoch` (language, block) pairs with the alpha-smoothed mix.

    A language gets round(p_i * samples_per_epoch) blocks: a fresh random subset of its blocks
    when down-sampled, whole shuffled passes plus a subset when up-sampled. All pairs are then
    shuffled together, so batches mix languages. Everything derives from (seed, epoch), so every
    rank computes the same plan and takes every world_size-th entry; resuming skips what the
    checkpointed steps already consumed. Yields (epoch, position, language, block).
    """

    def __init__(
        self,
        block_counts: list[int],
        alpha: float,
        samples_per_epoch: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        if samples_per_epoch % world_size:
            raise ValueError(f"samples_per_epoch={samples_per_epoch} must be divisible by world_size={world_size}")
        self.block_counts = np.asarray(block_counts, dtype=np.int64)
        self.probs = alpha_sampling_probs(self.block_counts, alpha)
        self.samples_per_epoch = samples_per_epoch
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.resume_epoch, self.resume_skip = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_from(self, epoch: int, samples_done_on_this_rank: int) -> None:
        self.resume_epoch, self.resume_skip = epoch, samples_done_on_this_rank

    def epoch_plan(self, epoch: int) -> np.ndarray:
        """(samples_per_epoch, 2) array of (language, block) for one epoch, identical on every rank."""
        per_language = apportion(self.probs, self.samples_per_epoch)
        parts = []
        for lang, (n_blocks, n_draw) in enumerate(zip(self.block_counts, per_language)):
            rng = np.random.default_rng([self.seed, epoch, lang])
            passes = -(-n_draw // n_blocks)
            blocks = np.concatenate([rng.permutation(n_blocks) for _ in range(passes)])[:n_draw] if n_draw else []
            parts.append(np.stack([np.full(n_draw, lang), np.asarray(blocks, dtype=np.int64)], axis=1))
        plan = np.concatenate(parts)
        return plan[np.random.default_rng([self.seed, epoch]).permutation(len(plan))]

    def realised_mix(self, epoch: int = 0) -> np.ndarray:
        counts = np.bincount(self.epoch_plan(epoch)[:, 0], minlength=len(self.block_counts))
        return counts / counts.sum()

    def __len__(self) -> int:
        return self.samples_per_epoch // self.world_size

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        epoch = self.epoch
        plan = self.epoch_plan(epoch)
        start = self.resume_skip if epoch == self.resume_epoch else 0
        for local in range(start, len(self)):
            position = local * self.world_size + self.rank
            lang, block = plan[position]
            yield epoch, position, int(lang), int(block)


class ShortThenFullSampler:
    """A run's samples in order: the first `short_samples` (all ranks together) from `short`'s plan of short blocks,
    the rest from `full`'s plan of full-length blocks (the short-then-long schedule of BERT, Devlin et al. 2019, App.
    A.2). A sample's place in the run, epoch * full.samples_per_epoch + position, decides its phase, so the switch
    falls on a step boundary and a resumed run finds it again from global_step. Lightning's epochs are `full`'s.
    Yields (short, epoch, position, language, block), epoch and position counted within that phase's plans; with no
    short phase the same (epoch, position, language, block) as `full` alone.
    """

    def __init__(self, full: AlphaBlockSampler, short: AlphaBlockSampler | None = None, short_samples: int = 0):
        self.full, self.short, self.short_samples = full, short, short_samples if short is not None else 0
        self.rank, self.world_size = full.rank, full.world_size
        self.epoch = 0
        self.resume_epoch, self.resume_skip = 0, 0
        self._plans: dict[tuple[bool, int], np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_from(self, epoch: int, samples_done_on_this_rank: int) -> None:
        self.resume_epoch, self.resume_skip = epoch, samples_done_on_this_rank

    def __len__(self) -> int:
        return len(self.full)

    def locate(self, sample: int) -> tuple[bool, int, int]:
        """(short, epoch, position) of the run's `sample`-th sample."""
        short = sample < self.short_samples
        sampler = self.short if short else self.full
        epoch, position = divmod(sample if short else sample - self.short_samples, sampler.samples_per_epoch)
        return short, epoch, position

    def _plan(self, short: bool, epoch: int) -> np.ndarray:
        if (short, epoch) not in self._plans:
            self._plans = {(short, epoch): (self.short if short else self.full).epoch_plan(epoch)}
        return self._plans[short, epoch]

    def __iter__(self) -> Iterator[tuple[bool, int, int, int, int]]:
        epoch = self.epoch
        start = self.resume_skip if epoch == self.resume_epoch else 0
        for local in range(start, len(self)):
            short, plan_epoch, position = self.locate(epoch * self.full.samples_per_epoch + local * self.world_size + self.rank)
            lang, block = self._plan(short, plan_epoch)[position]
            yield short, plan_epoch, position, int(lang), int(block)


class ShardedSequentialSampler:
    """Every validation block once, in order, split across ranks: yields (0, position, language, block)."""

    def __init__(self, block_counts: list[int], rank: int = 0, world_size: int = 1):
        self.items = [(lang, b) for lang, n in enumerate(block_counts) for b in range(n)]
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return len(range(self.rank, len(self.items), self.world_size))

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        for position in range(self.rank, len(self.items), self.world_size):
            yield (0, position, *self.items[position])
