import numpy as np
import pytest

from xlmr_lit.masking import IGNORE_INDEX, NUM_SPECIAL, MaskedLMCollator, mask_tokens

MASK_ID = 999


def block(n: int, seed: int = 0) -> np.ndarray:
    body = np.random.default_rng(seed).integers(NUM_SPECIAL, MASK_ID, n - 2)
    return np.concatenate([[0], body, [2]]).astype(np.int32)


def test_exact_target_count_per_sequence():
    tokens = block(130)  # 128 maskable tokens
    for seed in range(50):
        rng = np.random.default_rng(seed)
        expected = int(0.15 * 128 + np.random.default_rng(seed).random())
        _, labels = mask_tokens(tokens, rng, MASK_ID)
        assert (labels != IGNORE_INDEX).sum() == expected


def test_specials_never_targets_and_labels_are_originals():
    tokens = np.array([0, 10, 11, 2, 12, 13, 2, 1, 1], dtype=np.int32)
    for seed in range(30):
        inputs, labels = mask_tokens(tokens, np.random.default_rng(seed), MASK_ID, mask_prob=0.5)
        targets = labels != IGNORE_INDEX
        assert not targets[[0, 3, 6, 7, 8]].any()
        assert (labels[targets] == tokens[targets]).all()
        assert (inputs[~targets] == tokens[~targets]).all()


def test_80_10_10_split_and_random_tokens_from_real_vocabulary():
    tokens = block(1002)
    kinds = np.zeros(3)
    for seed in range(40):
        inputs, labels = mask_tokens(tokens, np.random.default_rng(seed), MASK_ID)
        t = labels != IGNORE_INDEX
        masked = inputs[t] == MASK_ID
        unchanged = inputs[t] == tokens[t]
        replaced = ~masked & ~unchanged
        kinds += [masked.sum(), unchanged.sum(), replaced.sum()]
        assert ((inputs[t][replaced] >= NUM_SPECIAL) & (inputs[t][replaced] < MASK_ID)).all()
    share = kinds / kinds.sum()
    # a random replacement can draw the original token (~0.1%): "unchanged" is slightly above 10%
    assert abs(share[0] - 0.8) < 0.02 and abs(share[1] - 0.1) < 0.015 and abs(share[2] - 0.1) < 0.015


def test_collator_is_reproducible_from_seed_epoch_position_and_varies_across_epochs():
    collate = MaskedLMCollator(mask_id=MASK_ID, seed=7)
    items = [{"tokens": block(64, i), "epoch": 0, "position": i, "language": i % 2} for i in range(4)]
    a, b = collate(items), collate(list(reversed(items)))
    assert (a["labels"] == b["labels"].flip(0)).all()  # each row depends on its own (epoch, position) only
    next_epoch = collate([{**item, "epoch": 1} for item in items])
    assert not (next_epoch["labels"] == a["labels"]).all()
    assert a["input_ids"].shape == (4, 64) and "attention_mask" not in a


def test_collator_pads_shorter_blocks():
    collate = MaskedLMCollator(mask_id=MASK_ID, seed=0)
    batch = collate([
        {"tokens": block(10), "epoch": 0, "position": 0, "language": 0},
        {"tokens": block(6), "epoch": 0, "position": 1, "language": 1},
    ])
    assert batch["input_ids"][1, 6:].tolist() == [1, 1, 1, 1]
    assert batch["attention_mask"].tolist()[1] == [1] * 6 + [0] * 4
    assert (batch["labels"][1, 6:] == IGNORE_INDEX).all()


@pytest.mark.parametrize("n", [1, 3])
def test_short_sequences_get_at_most_their_length_in_targets(n):
    tokens = block(n + 2)
    _, labels = mask_tokens(tokens, np.random.default_rng(0), MASK_ID)
    assert (labels != IGNORE_INDEX).sum() <= n
