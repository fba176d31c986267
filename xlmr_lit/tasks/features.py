"""Examples -> token ids, cached as Arrow datasets, and the loaders that batch them.

Features are cached under `<cache_dir>/features/<key>` (HF `datasets` Arrow files), keyed by
the source files, the SentencePiece model and the settings, and reused across runs.
"""

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from xlmr_lit.prepare import atomic_dir, cache_key
from xlmr_lit.tasks.readers import SentencePair
from xlmr_lit.tokenizer import XLMR_SPECIALS, Specials, XLMRTokenizer


@dataclass
class TaskSplits:
    """What a fine-tuning task provides: training examples and evaluation sets by (split, language)."""

    labels: list[str]  # empty for regression
    train: list
    evals: dict[tuple[str, str], list]
    metric: str  # the dev metric that model selection maximises
    sources: dict = field(default_factory=dict)  # what the examples were read from, for cache keys
    score_options: dict = field(default_factory=dict)  # keyword arguments of the task's score function


def subsample(examples: list, max_examples: int | None, seed: int) -> list:
    """At most max_examples (`task.max_train_examples`), drawn with `seed` and kept in their original order."""
    if max_examples is None or len(examples) <= max_examples:
        return examples
    keep = np.sort(np.random.default_rng(seed).choice(len(examples), size=max_examples, replace=False))
    return [examples[i] for i in keep]


def cached_features(spec: dict, cache_dir: Path, build: Callable[[], dict[str, list]]):
    """An Arrow dataset of features: loaded from the cache, or built with `build()` and saved."""
    import datasets

    final = cache_dir / "features" / cache_key(spec)
    if not (final / "dataset_info.json").is_file():
        with atomic_dir(final) as scratch:
            datasets.Dataset.from_dict(build()).save_to_disk(str(scratch))
    return datasets.load_from_disk(str(final))


def frame_pair(specials: Specials, ids_a: list[int], ids_b: list[int] | None, max_length: int) -> list[int]:
    """`<s> A </s></s> B </s>` (or the tokenizer's own framing), truncating the longer text first to fit max_length."""
    if ids_b is None:
        budget = max_length - len(specials.prefix) - len(specials.suffix)
        return [*specials.prefix, *ids_a[:budget], *specials.suffix]
    budget = max_length - len(specials.prefix) - len(specials.middle) - len(specials.suffix)
    keep_a, keep_b = len(ids_a), len(ids_b)
    while keep_a + keep_b > budget:  # one token at a time off the longer text
        if keep_a >= keep_b:
            keep_a -= 1
        else:
            keep_b -= 1
    return [*specials.prefix, *ids_a[:keep_a], *specials.middle, *ids_b[:keep_b], *specials.suffix]


def language_id(tokenizer, language: str) -> int:
    """The id that a model with language embeddings (XLM) gives `language` (its config's lang2id)."""
    if language not in tokenizer.lang2id:
        raise ValueError(f"model.init has language embeddings for {' '.join(tokenizer.lang2id)}, not for {language!r}")
    return tokenizer.lang2id[language]


class LengthGroupedSampler(Sampler):
    """Evaluation order by length, longest first, so batches carry little padding."""

    def __init__(self, lengths):
        self.order = np.argsort(-np.asarray(lengths), kind="stable").tolist()

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        return iter(self.order)


def pad_collate(rows: list[dict], specials: Specials = XLMR_SPECIALS) -> dict[str, torch.Tensor]:
    """Pad `input_ids` (and per-token `labels` if present) to the longest row.

    A model with token types (BERT) gets `token_type_ids`: 1 from the first token after the pair's middle
    separator, 0 elsewhere. A model with language embeddings (XLM) gets `langs`: each row's language id
    (its `langs` column) at every position.
    """
    longest = max(len(r["input_ids"]) for r in rows)
    input_ids = torch.full((len(rows), longest), specials.pad_id, dtype=torch.long)
    batch: dict[str, torch.Tensor] = {}
    token_labels = "token_labels" in rows[0]
    if token_labels:
        batch["labels"] = torch.full((len(rows), longest), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, : len(r["input_ids"])] = torch.as_tensor(r["input_ids"])
        if token_labels:
            batch["labels"][i, : len(r["token_labels"])] = torch.as_tensor(r["token_labels"])
    batch["input_ids"] = input_ids
    batch["attention_mask"] = input_ids.ne(specials.pad_id).long()
    if specials.token_types:
        middle = input_ids.eq(specials.middle[0]).int().argmax(1, keepdim=True)  # (B, 1): the first separator
        second = torch.arange(longest).unsqueeze(0) >= middle + len(specials.middle)
        batch["token_type_ids"] = (second & batch["attention_mask"].bool()).long()
    if "langs" in rows[0]:
        batch["langs"] = torch.tensor([r["langs"] for r in rows]).unsqueeze(1).expand(-1, longest).clone()
    batch["index"] = torch.tensor([r["index"] for r in rows])
    if "sentence" in rows[0]:  # token classification: the sentence a window belongs to
        batch["sentence"] = torch.tensor([r["sentence"] for r in rows])
    if "label" in rows[0]:
        dtype = torch.float if isinstance(rows[0]["label"], float) else torch.long
        batch["label"] = torch.tensor([r["label"] for r in rows], dtype=dtype)
    return batch


class ResumableShuffleSampler(DistributedSampler):
    """DistributedSampler's order (a permutation from seed + epoch, split across ranks), plus `resume_from`: a run
    resumed inside an epoch skips the samples its checkpointed steps consumed, so it sees the batches the
    uninterrupted run saw. A DistributedSampler, so Lightning's DDP set-up leaves it as it is.

    `samples_per_epoch` (per rank): epochs of that size cut one after the other from an endless stream of passes
    over the data, each pass in its own order (the fairseq#1367 recipe's "epoch of 5K batches randomly sampled from
    the training set"); None: an epoch is one pass."""

    def __init__(self, dataset, seed: int, rank: int = 0, world_size: int = 1, samples_per_epoch: int | None = None):
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self.resume_epoch, self.resume_skip = 0, 0
        self.samples_per_epoch = samples_per_epoch

    def resume_from(self, epoch: int, samples_done_on_this_rank: int) -> None:
        self.set_epoch(epoch)
        self.resume_epoch, self.resume_skip = epoch, samples_done_on_this_rank

    def __len__(self) -> int:
        return self.samples_per_epoch or super().__len__()

    def __iter__(self):
        indices = self.epoch_indices()
        return iter(indices[self.resume_skip:] if self.epoch == self.resume_epoch else indices)

    def epoch_indices(self) -> list[int]:
        if not self.samples_per_epoch:
            return list(super().__iter__())
        start = self.epoch * self.samples_per_epoch  # position in the stream of passes, each num_samples long
        number, offset = divmod(start, self.num_samples)
        indices = []
        while len(indices) < self.samples_per_epoch:
            indices += self.pass_indices(number)[offset:offset + self.samples_per_epoch - len(indices)]
            number, offset = number + 1, 0
        return indices

    def pass_indices(self, number: int) -> list[int]:
        """This rank's share of pass `number`, shuffled and padded as DistributedSampler does for epoch `number`."""
        generator = torch.Generator()
        generator.manual_seed(self.seed + number)
        order = torch.randperm(len(self.dataset), generator=generator).tolist()
        order += (order * math.ceil(self.total_size / len(order)))[:self.total_size - len(order)]
        return order[self.rank:self.total_size:self.num_replicas]


def train_loader(dataset, batch_size: int, sampler: ResumableShuffleSampler, num_workers: int = 0,
                 specials: Specials = XLMR_SPECIALS) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      collate_fn=functools.partial(pad_collate, specials=specials),
                      generator=torch.Generator())  # worker seeding off the global RNG that dropout uses


def eval_loader(dataset, batch_size: int, num_workers: int = 0, specials: Specials = XLMR_SPECIALS) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=LengthGroupedSampler([len(x) for x in dataset["input_ids"]]),
        collate_fn=functools.partial(pad_collate, specials=specials),
        num_workers=num_workers,
        generator=torch.Generator(),
    )


def featurize_pairs(examples: list[SentencePair], tokenizer: XLMRTokenizer, labels: list[str], max_length: int) -> dict:
    label_ids = {label: i for i, label in enumerate(labels)}
    # one call for all texts: a transformers tokenizer costs about half a millisecond a call
    ids_a = tokenizer.pieces_batch([e.text_a for e in examples])
    ids_b = iter(tokenizer.pieces_batch([e.text_b for e in examples if e.text_b is not None]))
    columns = {
        "input_ids": [frame_pair(tokenizer.specials, a, next(ids_b) if e.text_b is not None else None, max_length)
                      for e, a in zip(examples, ids_a)],
        "label": [label_ids[e.label] if labels else float(e.label) for e in examples],
        "index": list(range(len(examples))),
    }
    if tokenizer.lang2id:
        columns["langs"] = [language_id(tokenizer, e.language) for e in examples]
    return columns


def accuracy_score(preds: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    return {"accuracy": float((preds == gold).mean())}
