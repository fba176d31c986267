"""The plateau gauge (val/order_gap_<lang>: the validation loss with each block's context shuffled minus the loss in
order) and the short-then-long block schedule (data.short_blocks): the gauge reads ~0 on a model that cannot see
order and > 0 on one that copies its neighbours; the schedule switches the block length at the configured step and
a run resumed across the switch repeats the uninterrupted losses exactly."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from test_faults import SnapshotLastCheckpoint, finish, kill_when_paused, metrics, xlmr_train
from test_train import LossRecorder
from xlmr_lit.cli import train
from xlmr_lit.datamodule import unigram_cross_entropy
from xlmr_lit.masked_lm_module import MaskedLMLitModule
from xlmr_lit.masking import IGNORE_INDEX, MaskedLMCollator, shuffle_context
from xlmr_lit.sampling import AlphaBlockSampler, ShortThenFullSampler
from xlmr_lit.tokenizer import BOS_ID, EOS_ID, PAD_ID

VOCAB = 40  # ids 4..38 are pieces, 39 is <mask>
MASK_ID = VOCAB - 1
TINY_MODEL = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                  max_position_embeddings=66, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def paired_blocks(n: int, seed: int, length: int = 32) -> list[dict]:
    """Blocks of pieces in identical neighbouring pairs (a a b b ...): a masked piece is its neighbour."""
    rng = np.random.default_rng(seed)
    items = []
    for position in range(n):
        pairs = rng.integers(4, MASK_ID, length // 2)
        tokens = np.concatenate([[BOS_ID], np.repeat(pairs, 2), [EOS_ID]]).astype(np.int32)
        items.append({"tokens": tokens, "epoch": 0, "position": position, "language": 0})
    return items


def gauge(module: MaskedLMLitModule, items: list[dict]) -> float:
    """val/order_gap_en of `module` on `items`, through Trainer.validate and the validation collator."""
    loader = DataLoader(items, batch_size=16, collate_fn=MaskedLMCollator(MASK_ID, seed=0, order_gauge=True))
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    return trainer.validate(module, loader, verbose=False)[0]["val/order_gap_en"]


def test_shuffled_context_keeps_targets_specials_and_the_bag_of_pieces():
    rng = np.random.default_rng(0)
    inputs = np.array([BOS_ID, 5, 6, MASK_ID, 8, 9, EOS_ID, 10, 11, 12, PAD_ID, PAD_ID])
    labels = np.full(len(inputs), IGNORE_INDEX)
    labels[[3, 8]] = [7, 11]
    shuffled = shuffle_context(inputs, labels, rng)
    assert shuffled[0] == BOS_ID and (shuffled[10:] == PAD_ID).all() and shuffled[3] == MASK_ID and shuffled[8] == 11
    assert sorted(shuffled) == sorted(inputs) and not (shuffled == inputs).all()


def test_order_gap_is_zero_for_a_model_without_positions():
    torch.manual_seed(0)
    module = MaskedLMLitModule(TINY_MODEL, ["en"], tokenizer_path="unused")
    embeddings = module.model.roberta.embeddings.position_embeddings
    embeddings.weight.data.zero_()  # what is left is permutation-equivariant: it cannot see order
    assert abs(gauge(module, paired_blocks(32, seed=1))) < 1e-4


def test_order_gap_is_large_for_a_model_trained_to_copy_its_neighbours():
    torch.manual_seed(0)
    module = MaskedLMLitModule(TINY_MODEL, ["en"], tokenizer_path="unused")
    optimizer = torch.optim.AdamW(module.model.parameters(), lr=3e-3)
    collate = MaskedLMCollator(MASK_ID, seed=0, mask_prob=0.3)
    for step in range(300):
        batch = collate(paired_blocks(16, seed=1000 + step))
        _, loss = module.model(batch["input_ids"], None, batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss < 1.0  # it learned the pairs
    assert gauge(module, paired_blocks(32, seed=1)) > 1.0


def test_unigram_cross_entropy_of_the_validation_pieces(tmp_path):
    train, valid = tmp_path / "train.bin", tmp_path / "valid.bin"
    np.array([BOS_ID, 4, 4, 4, 5, EOS_ID, 4], dtype=np.int32).tofile(train)  # counts 4: 4, 5: 1; others 0
    np.array([4, 5, EOS_ID], dtype=np.int32).tofile(valid)
    vocab = 8  # add-one: p(4) = 5/13, p(5) = 2/13
    expected = -(np.log(5 / 13) + np.log(2 / 13)) / 2
    assert unigram_cross_entropy(train, valid, vocab) == pytest.approx(expected)


def test_validation_reads_at_most_valid_max_tokens_of_a_language(tmp_path):
    from xlmr_lit.datamodule import TokenBlocks

    shard = tmp_path / "valid.bin"
    np.arange(4, 1004, dtype=np.int32).tofile(shard)  # a held-out document of 1000 pieces
    blocks = TokenBlocks([shard], block_len=64, keep_partial=True, max_tokens=300)
    assert blocks.block_counts == [5]
    read = np.concatenate([blocks[(0, 0, 0, b)]["tokens"][1:] for b in range(5)])
    assert (read == np.arange(4, 304)).all()  # the first 300 pieces, the last block cut short


def test_without_a_short_phase_the_sampler_yields_the_alpha_samplers_blocks():
    full = AlphaBlockSampler([50, 30], 0.3, 40, seed=0, rank=1, world_size=2)
    scheduled = ShortThenFullSampler(full)
    for epoch in (0, 1):
        full.set_epoch(epoch)
        scheduled.set_epoch(epoch)
        assert [(False, *item) for item in full] == list(scheduled)


def test_the_short_phase_covers_exactly_the_first_short_samples_of_the_run():
    full = AlphaBlockSampler([50, 30], 0.3, 16, seed=0)
    short = AlphaBlockSampler([200, 120], 0.3, 24, seed=0)
    sampler = ShortThenFullSampler(full, short, short_samples=40)  # 40 short samples: 2.5 of the full epochs
    run = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        run += list(sampler)
    assert [item[0] for item in run] == [True] * 40 + [False] * 24
    assert [item[1:3] for item in run[:40]] == [(e, p) for e in (0, 1) for p in range(24)][:40]
    assert [item[1:3] for item in run[40:]] == [(e, p) for e in (0, 1) for p in range(16)][:24]
    resumed = ShortThenFullSampler(full, short, short_samples=40)
    resumed.set_epoch(2)
    resumed.resume_from(2, 5)
    assert list(resumed) == run[37:48]


SCHEDULED = ["data.short_blocks.tokens_per_sample=16", "data.short_blocks.share_of_steps=0.5"]


def step_rows(run_dir: Path, key: str) -> dict[int, float]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return {int(r["step"]): float(r[key]) for r in csv.DictReader(file) if r.get(key)}


class TokensPerStep(pl.Callback):
    """What the progress bar multiplies its steps/s by, read from the run's datamodule at steps 0-5."""

    def on_train_start(self, trainer, pl_module):
        self.tokens = [trainer.datamodule.tokens_per_step(step) for step in range(6)]


def test_the_schedule_switches_block_length_at_its_step_and_validation_reads_full_blocks(make_cfg, tmp_path, caplog):
    run_dir = tmp_path / "run"
    tokens = TokensPerStep()
    with caplog.at_level("INFO"):
        results = train(make_cfg(*SCHEDULED, "trainer.max_steps=6", run_dir=run_dir), callbacks=[tokens])
    assert tokens.tokens == [8 * 16] * 3 + [8 * 64] * 3  # the bar's tok/s: global batch x the block length then
    lengths = step_rows(run_dir, "train/tokens_per_sample")
    assert [lengths[s] for s in sorted(lengths)] == [16] * 3 + [64] * 3  # Lightning logs step s as s - 1
    assert "blocks of 16 tokens for steps 1-3, then of 64 (data.short_blocks)" in caplog.text
    assert {"val/order_gap_en", "val/unigram_loss_en", "val/order_gap_high"} <= set(results)
    assert step_rows(run_dir, "val/order_gap_en") and step_rows(run_dir, "val/unigram_loss_en")
    assert "order gap below 0.1 nat in en" in caplog.text  # six steps leave any model on the plateau
    table = caplog.text[caplog.text.index("validation, "):]
    assert "order gap" in table and "unigram" in table


RESUMABLE = ["data.num_workers=2", "trainer.max_steps=8", "data.samples_per_epoch=24", "train.checkpoint_every_n_steps=1"]


def test_a_run_resumed_across_the_switch_repeats_the_uninterrupted_losses(make_cfg, tmp_path):
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    full = LossRecorder()
    train(make_cfg(*RESUMABLE, *SCHEDULED, run_dir=tmp_path / "full"),
          callbacks=[full, SnapshotLastCheckpoint(tmp_path / "full" / "checkpoints", snaps)])
    lengths = step_rows(tmp_path / "full", "train/tokens_per_sample")
    assert [lengths[s] for s in sorted(lengths)] == [16] * 4 + [64] * 4
    for step in (3, 4, 6):  # before the switch, at it, after it (an epoch end is at 3 and 6)
        resumed = LossRecorder()
        train(make_cfg(*RESUMABLE, *SCHEDULED, f"train.ckpt_path={snaps / f'step{step}.ckpt'}",
                       run_dir=tmp_path / f"resumed{step}"), callbacks=[resumed])
        assert sorted({s for s, _ in resumed.losses}) == list(range(step + 1, 9)), step
        assert resumed.losses == full.losses[-len(resumed.losses):], step  # bit-identical


@pytest.mark.slow
def test_pretraining_killed_after_the_switch_resumes_exactly(tmp_path, cache_dir):
    env = dict(os.environ, XLMR_LIT_CACHE=str(cache_dir), WANDB_MODE="disabled", HYDRA_FULL_ERROR="1")
    args = [*RESUMABLE, *SCHEDULED, "train.checkpoint_every_n_steps=2", "data.num_workers=1", "logger=csv"]
    finish(xlmr_train([*args, f"hydra.run.dir={tmp_path / 'uninterrupted'}"], env, tmp_path))
    killed = [*args, f"hydra.run.dir={tmp_path / 'killed'}"]
    kill_when_paused(xlmr_train(killed, env, tmp_path, pause_at=7), tmp_path)  # last.ckpt at step 6, after the switch
    assert torch.load(tmp_path / "killed" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 6
    finish(xlmr_train(killed, env, tmp_path))
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "uninterrupted")
