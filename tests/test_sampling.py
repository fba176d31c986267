import numpy as np
import pytest

from xlmr_lit.sampling import AlphaBlockSampler, ShardedSequentialSampler, alpha_sampling_probs, apportion


def test_alpha_sampling_probs_hand_computed():
    counts = [900, 100]
    np.testing.assert_allclose(alpha_sampling_probs(counts, 1.0), [0.9, 0.1])
    np.testing.assert_allclose(alpha_sampling_probs(counts, 0.0), [0.5, 0.5])
    a, b = 0.9**0.3, 0.1**0.3
    np.testing.assert_allclose(alpha_sampling_probs(counts, 0.3), [a / (a + b), b / (a + b)])
    assert alpha_sampling_probs(counts, 0.3)[1] > 0.1  # low-resource languages are up-sampled


def test_alpha_needs_blocks_for_every_language():
    with pytest.raises(ValueError, match="at least one block"):
        alpha_sampling_probs([10, 0], 0.3)


def test_apportion_sums_exactly():
    counts = apportion(np.array([0.5, 0.3, 0.2]), 7)
    assert counts.sum() == 7 and counts.tolist() == [4, 2, 1]


def test_epoch_plan_follows_probabilities_and_upsamples():
    sampler = AlphaBlockSampler([1000, 10], alpha=0.0, samples_per_epoch=400, seed=1)
    plan = sampler.epoch_plan(0)
    langs = plan[:, 0]
    assert (langs == 0).sum() == 200 and (langs == 1).sum() == 200  # uniform at alpha 0
    small = plan[langs == 1, 1]
    assert set(small.tolist()) == set(range(10))  # 20 whole passes over the small language
    big = plan[langs == 0, 1]
    assert len(set(big.tolist())) == 200  # down-sampled without replacement
    assert len(set(langs[:40].tolist())) == 2  # languages mixed within a batch-sized window


def test_fresh_blocks_each_epoch_same_plan_for_same_seed():
    sampler = AlphaBlockSampler([1000, 500], alpha=0.3, samples_per_epoch=100, seed=3)
    assert not np.array_equal(sampler.epoch_plan(0), sampler.epoch_plan(1))
    again = AlphaBlockSampler([1000, 500], alpha=0.3, samples_per_epoch=100, seed=3)
    assert np.array_equal(sampler.epoch_plan(1), again.epoch_plan(1))


def test_ranks_split_the_plan_without_overlap():
    ranks = [AlphaBlockSampler([50, 30], 0.3, 40, seed=0, rank=r, world_size=2) for r in range(2)]
    seen = [list(s) for s in ranks]
    positions = [p for items in seen for (_, p, _, _) in items]
    assert sorted(positions) == list(range(40))
    plan = ranks[0].epoch_plan(0)
    for items in seen:
        for _, position, lang, block_id in items:
            assert (lang, block_id) == tuple(plan[position])


def test_resume_skips_consumed_samples_only_in_the_resumed_epoch():
    full = AlphaBlockSampler([50, 30], 0.3, 40, seed=0)
    resumed = AlphaBlockSampler([50, 30], 0.3, 40, seed=0)
    resumed.resume_from(epoch=0, samples_done_on_this_rank=12)
    assert list(resumed) == list(full)[12:]
    resumed.set_epoch(1)
    full.set_epoch(1)
    assert list(resumed) == list(full)


def test_validation_sampler_covers_everything_once():
    items = [list(ShardedSequentialSampler([3, 2], rank=r, world_size=2)) for r in range(2)]
    pairs = sorted((lang, b) for part in items for (_, _, lang, b) in part)
    assert pairs == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
