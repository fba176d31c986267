"""fairseq MaskTokensDataset semantics, applied in the collator.

Per sequence exactly int(mask_prob * n + U[0,1)) of the n maskable tokens become targets, chosen
uniformly without replacement; of those, 80% become <mask>, 10% a random non-special token and
10% stay unchanged. Special tokens (<s>, </s>, <pad>) are never chosen, as in HF (fairseq can
pick them). The random state is derived from (seed, epoch, position), so a mask is reproducible
on resume and on any worker, and differs between epochs.
"""

from dataclasses import dataclass

import numpy as np
import torch

from xlmr_lit.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID

IGNORE_INDEX = -100
NUM_SPECIAL = UNK_ID + 1  # ids 0..3; random replacements come from [4, mask_id)


def mask_tokens(
    tokens: np.ndarray,
    rng: np.random.Generator,
    mask_id: int,
    mask_prob: float = 0.15,
    random_token_prob: float = 0.1,
    leave_unmasked_prob: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (inputs, labels) for one sequence; labels are IGNORE_INDEX except at targets."""
    maskable = np.flatnonzero((tokens != BOS_ID) & (tokens != EOS_ID) & (tokens != PAD_ID))
    n_targets = min(int(mask_prob * len(maskable) + rng.random()), len(maskable))
    targets = rng.choice(maskable, n_targets, replace=False)
    labels = np.full(len(tokens), IGNORE_INDEX, dtype=np.int64)
    labels[targets] = tokens[targets]
    inputs = tokens.astype(np.int64)
    decision = rng.random(n_targets)
    to_mask = decision < 1.0 - random_token_prob - leave_unmasked_prob
    to_random = decision >= 1.0 - random_token_prob
    inputs[targets[to_mask]] = mask_id
    inputs[targets[to_random]] = rng.integers(NUM_SPECIAL, mask_id, int(to_random.sum()))
    return inputs, labels


def shuffle_context(inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`inputs` with the pieces at the positions that are neither targets nor <s> nor <pad> shuffled among those
    positions: the same targets at the same positions, seen through the same bag of context pieces in another order.
    A model that ignores word order predicts them exactly as well (the order gauge, MaskedLMLitModule)."""
    context = np.flatnonzero((labels == IGNORE_INDEX) & (inputs != BOS_ID) & (inputs != PAD_ID))
    shuffled = inputs.copy()
    shuffled[context] = inputs[rng.permutation(context)]
    return shuffled


@dataclass
class MaskedLMCollator:
    """Masks each block with a random state of its own; `order_gauge` adds `shuffled_input_ids` (shuffle_context)."""

    mask_id: int
    seed: int
    mask_prob: float = 0.15
    random_token_prob: float = 0.1
    leave_unmasked_prob: float = 0.1
    order_gauge: bool = False

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(item["tokens"]) for item in items)
        input_ids = np.full((len(items), longest), PAD_ID, dtype=np.int64)
        labels = np.full((len(items), longest), IGNORE_INDEX, dtype=np.int64)
        shuffled_ids = np.full((len(items), longest), PAD_ID, dtype=np.int64) if self.order_gauge else None
        for row, item in enumerate(items):
            stream = 2 if item.get("short") else 1  # apart from the sampler streams, and short blocks from full ones
            rng = np.random.default_rng([self.seed, item["epoch"], item["position"], stream])
            inputs, targets = mask_tokens(
                item["tokens"], rng, self.mask_id, self.mask_prob, self.random_token_prob, self.leave_unmasked_prob
            )
            input_ids[row, : len(inputs)] = inputs
            labels[row, : len(targets)] = targets
            if self.order_gauge:
                shuffled_ids[row, : len(inputs)] = shuffle_context(inputs, targets, rng)
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "labels": torch.from_numpy(labels),
            "language": torch.tensor([item["language"] for item in items]),
            "position": torch.tensor([item["position"] for item in items]),
        }
        if self.order_gauge:
            batch["shuffled_input_ids"] = torch.from_numpy(shuffled_ids)
        if any(len(item["tokens"]) < longest for item in items):
            batch["attention_mask"] = batch["input_ids"].ne(PAD_ID).long()
        return batch
