"""Faults for real: a run resumed from the checkpoint a kill -9 leaves behind, at every step; checkpoints that do not
load; kill -9 of real `xlmr-train` processes (pretraining, fine-tuning, a sweep) and the same command again; reruns
into a complete run's directory."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from conftest import TINY
from test_bad_input import alive, children_of
from test_train import Interrupt, LossRecorder
from xlmr_lit.cli import train
from xlmr_lit.checkpoints import PAUSE_AT_STEP_ENV, PAUSE_FILE_ENV

# 3 optimizer steps per epoch of 2 micro-batches each; loader workers on, as in the default config
RESUMABLE = ["data.num_workers=2", "trainer.max_steps=8", "data.samples_per_epoch=24", "train.checkpoint_every_n_steps=1"]


class SnapshotLastCheckpoint(Callback):
    """A copy of last.ckpt as it stood after each step: what a kill -9 just before the next step leaves behind."""

    def __init__(self, checkpoint_dir: Path, out: Path):
        self.checkpoint_dir, self.out = checkpoint_dir, out

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        last = self.checkpoint_dir / "last.ckpt"
        if last.is_file():
            shutil.copyfile(last, self.out / f"step{trainer.global_step}.ckpt")


def test_a_run_resumed_from_last_ckpt_at_any_step_repeats_the_uninterrupted_losses(make_cfg, tmp_path):
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    full = LossRecorder()
    train(make_cfg(*RESUMABLE, run_dir=tmp_path / "full"),
          callbacks=[full, SnapshotLastCheckpoint(tmp_path / "full" / "checkpoints", snaps)])
    for step in range(1, 8):  # mid-epoch, at epoch ends (3, 6), before and after validations (every 3)
        snap = snaps / f"step{step}.ckpt"
        assert torch.load(snap, map_location="cpu", weights_only=True)["global_step"] == step
        resumed = LossRecorder()
        train(make_cfg(*RESUMABLE, f"train.ckpt_path={snap}", run_dir=tmp_path / f"resumed{step}"), callbacks=[resumed])
        assert sorted({s for s, _ in resumed.losses}) == list(range(step + 1, 9)), step
        assert resumed.losses == full.losses[-len(resumed.losses):], step  # bit-identical


class InterruptMidAccumulation(Callback):
    """Dies on the second micro-batch of step `at` + 1, half-way through its gradient accumulation."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at and batch_idx % trainer.accumulate_grad_batches == 1:
            raise RuntimeError("simulated crash")


def test_no_exception_checkpoint_where_resuming_from_it_would_be_inexact(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(make_cfg(*RESUMABLE, run_dir=run_dir), callbacks=[InterruptMidAccumulation(at=4)])
    assert not (run_dir / "checkpoints" / "on_exception.ckpt").exists()  # the step-5 gradient is half-accumulated
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4
    with pytest.raises(RuntimeError, match="simulated crash"):  # before the first step: no checkpoint at all
        train(make_cfg(*RESUMABLE, run_dir=tmp_path / "early"), callbacks=[Interrupt(at=0)])
    assert not (tmp_path / "early" / "checkpoints").exists() or not list((tmp_path / "early" / "checkpoints").iterdir())


def test_a_checkpoint_that_does_not_load_is_named_and_passed_over(make_cfg, tmp_path, caplog):
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(make_cfg(*RESUMABLE, "train.checkpoint_every_n_steps=2", run_dir=run_dir), callbacks=[Interrupt(at=3)])
    checkpoints = run_dir / "checkpoints"
    assert torch.load(checkpoints / "on_exception.ckpt", weights_only=True)["global_step"] == 3
    (checkpoints / "on_exception.ckpt").write_bytes((checkpoints / "on_exception.ckpt").read_bytes()[:5000])  # truncated
    resumed = LossRecorder()
    train(make_cfg(*RESUMABLE, "train.checkpoint_every_n_steps=2", run_dir=run_dir), callbacks=[resumed])
    assert f"checkpoint {checkpoints / 'on_exception.ckpt'} does not load" in caplog.text
    assert f"resuming from {checkpoints / 'last.ckpt'}" in caplog.text
    assert min(step for step, _ in resumed.losses) == 3  # from last.ckpt's step 2, not from scratch

    for name in ("last.ckpt", "on_exception.ckpt"):
        (checkpoints / name).write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="no checkpoint in .* loads, so this run can neither resume nor silently"):
        train(make_cfg(*RESUMABLE, run_dir=run_dir))
    with pytest.raises(ValueError, match=r"train.ckpt_path='.*last.ckpt': expected a training checkpoint to resume from; "
                                         r"this one cannot be read \(.*Error"):
        train(make_cfg(*RESUMABLE, f"train.ckpt_path={checkpoints / 'last.ckpt'}", run_dir=tmp_path / "other"))
    assert not (tmp_path / "other" / "checkpoints").exists()  # refused before any work: no step-0 checkpoint


# ----------------------------------------------------------------------------------------------
# kill -9 of real xlmr-train processes, then the same command again


def xlmr_train(args: list[str], env: dict, cwd: Path, pause_at: int | None = None) -> subprocess.Popen:
    """`xlmr-train` with TINY settings (those `args` name excepted); with `pause_at`, it stops after that step. It
    leads its own process group, as a batch job does."""
    given = {a.split("=")[0] for a in args}
    overrides = [o for o in TINY if o.split("=")[0] not in given]
    env = dict(env)
    if pause_at is not None:
        env.update({PAUSE_AT_STEP_ENV: str(pause_at), PAUSE_FILE_ENV: str(cwd / "paused")})
    return subprocess.Popen([sys.executable, "-m", "xlmr_lit.cli", *args, *overrides, "threads=1"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: int = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def kill_when_paused(proc: subprocess.Popen, cwd: Path, timeout: int = 300) -> None:
    """Waits for the pause, then kill -9 of the process; its loader workers must not outlive it."""
    deadline = time.monotonic() + timeout
    while not (cwd / "paused").is_file():
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "the run never reached its pause"
        time.sleep(0.2)
    workers = children_of(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    (cwd / "paused").unlink()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), "loader workers outlived the killed run"


TIMING = ("train/tokens_per_s",)


def metrics(run_dir: Path) -> list[dict]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(file)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir) -> Path:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    env = dict(os.environ, XLMR_LIT_CACHE=str(cache_dir), WANDB_MODE="disabled")
    finish(xlmr_train([*KILLED, f"hydra.run.dir={cwd / 'run'}"], env, cwd))
    return cwd / "run"


# checkpoints every 2 steps and validation every 3: the kill after step 5 loses step 5, whose rows the rerun rewrites
KILLED = [*RESUMABLE, "train.checkpoint_every_n_steps=2", "data.num_workers=1"]


@pytest.mark.slow
def test_pretraining_killed_mid_epoch_resumes_exactly_with_its_whole_history(cli_env, tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    args, env = [*KILLED, "logger.wandb.mode=offline", f"hydra.run.dir={run_dir}"], dict(cli_env, WANDB_MODE="offline")
    kill_when_paused(xlmr_train(args, env, tmp_path, pause_at=5), tmp_path)
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4
    assert not (run_dir / "DONE").exists()
    out = finish(xlmr_train(args, env, tmp_path))
    assert "resuming from" in out and (run_dir / "DONE").is_file()
    attempts = sorted((run_dir / "wandb").glob("offline-run-*"))  # one wandb run, logged to by both attempts
    assert len(attempts) == 2 and all(p.name.endswith("-" + (run_dir / "wandb_run_id").read_text()) for p in attempts)
    assert metrics(run_dir) == metrics(uninterrupted)  # every step once, values identical, steps before the kill kept
    def values(d: Path) -> list:
        return [(row["language"], row["value"]) for row in map(json.loads, open(d / "results.jsonl"))]

    assert values(run_dir) == values(uninterrupted)


@pytest.mark.slow
def test_sweep_killed_in_its_first_point_resumes_it_and_runs_the_rest(cli_env, tmp_path, uninterrupted):
    sweep = ["-m", "data.alpha=0.3,1.0", f"hydra.sweep.dir={tmp_path / 'sweep'}", *KILLED]
    kill_when_paused(xlmr_train(sweep, cli_env, tmp_path, pause_at=5), tmp_path)
    out = finish(xlmr_train(sweep, cli_env, tmp_path))
    points = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert [p.name.split(",")[0] for p in points] == ["0_data.alpha=0.3", "1_data.alpha=1.0"]
    assert all((p / "DONE").is_file() for p in points)
    assert metrics(points[0]) == metrics(uninterrupted), out[-3000:]
    assert "2 point(s) complete, none failed" in out


@pytest.mark.slow
def test_finetuning_killed_mid_epoch_gives_the_uninterrupted_results(cli_env, tmp_path, uninterrupted):
    init = uninterrupted / "checkpoints" / "best.ckpt"
    ft = ["task=xnli", "task.udhr_standin=true", "task.languages=[en,fr]", "task.epochs=3", "task.batch_size=8",
          "task.max_train_examples=400", f"model.init={init}"]
    finish(xlmr_train([*ft, f"hydra.run.dir={tmp_path / 'full'}"], cli_env, tmp_path))
    steps_per_epoch = sum(1 for row in metrics(tmp_path / "full") if row.get("train/loss") and row["epoch"] == "0")
    run_dir = tmp_path / "killed"
    kill_when_paused(xlmr_train([*ft, f"hydra.run.dir={run_dir}"], cli_env, tmp_path, pause_at=steps_per_epoch + 1),
                     tmp_path)
    finish(xlmr_train([*ft, f"hydra.run.dir={run_dir}"], cli_env, tmp_path))

    def rows(d: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k != "checkpoint"} for line in open(d / "results.jsonl")]

    assert rows(run_dir) == rows(tmp_path / "full") and rows(run_dir)


def test_done_records_the_settings_that_a_rerun_is_compared_with(make_cfg, tmp_path):
    from xlmr_lit.pipeline import completed_run, differing_settings, mark_done, restore_hydra_files

    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("- trainer.max_steps=6\n")
    assert completed_run(run_dir) is None
    mark_done(run_dir, make_cfg(run_dir=run_dir))
    done = completed_run(run_dir)
    assert differing_settings(done, make_cfg("data.num_workers=2", "threads=1", run_dir=tmp_path / "elsewhere")) == []
    assert differing_settings(done, make_cfg("trainer.max_steps=7", "data.alpha=0.5", run_dir=run_dir)) == [
        "data.alpha: 0.3 -> 0.5", "tokenizer.alpha: 0.3 -> 0.5", "trainer.max_steps: 6 -> 7"]
    (run_dir / ".hydra" / "overrides.yaml").write_text("- trainer.max_steps=7\n")  # what Hydra writes for a rerun
    restore_hydra_files(run_dir, done)
    assert (run_dir / ".hydra" / "overrides.yaml").read_text() == "- trainer.max_steps=6\n"
    (run_dir / "DONE").write_text('{"settings": {"trainer.max')  # damaged: complete, settings unknown
    assert completed_run(run_dir) == {} and differing_settings({}, make_cfg(run_dir=run_dir)) == []


@pytest.mark.slow
def test_rerun_into_a_complete_run_with_other_settings_is_refused_and_the_run_kept(cli_env, tmp_path):
    run_dir = tmp_path / "run"
    first = finish(xlmr_train(["trainer.max_steps=2", f"hydra.run.dir={run_dir}"], cli_env, tmp_path))
    assert "the same command resumes this run: xlmr-train trainer.max_steps=2 " in first
    assert f"threads=1 hydra.run.dir={run_dir}\n" in first

    def kept_files() -> dict:
        paths = ["DONE", "config_resolved.yaml", "results.jsonl", "csv/metrics.csv", *(f".hydra/{n}" for n in
                 ("config.yaml", "hydra.yaml", "overrides.yaml"))]
        return {path: (run_dir / path).read_bytes() for path in paths}

    kept = kept_files()
    other = xlmr_train(["trainer.max_steps=3", "data.alpha=0.5", f"hydra.run.dir={run_dir}"], cli_env, tmp_path)
    out, _ = other.communicate(timeout=120)
    assert other.returncode == 1 and "holds a complete run with other settings" in out
    assert "trainer.max_steps: 2 -> 3" in out and "data.alpha: 0.3 -> 0.5" in out
    assert kept_files() == kept


@pytest.mark.slow
def test_the_latest_default_run_dir_is_linked_for_resuming(cli_env, tmp_path):
    out = finish(xlmr_train(["trainer.max_steps=1"], cli_env, tmp_path))
    latest = tmp_path / "outputs" / "latest"
    assert latest.is_symlink() and (latest / "DONE").is_file()
    assert f"hydra.run.dir={latest.resolve()}" in out


def test_finetuning_resumed_inside_an_epoch_repeats_the_uninterrupted_losses(make_cfg, tmp_path):
    train(make_cfg(run_dir=tmp_path / "pretrained"))
    ft = ["task=xnli", "task.udhr_standin=true", "task.languages=[en]", "task.standin_recipe.epochs=2",
          "task.max_train_examples=400", "data.num_workers=1",
          f"model.init={tmp_path / 'pretrained' / 'checkpoints' / 'best.ckpt'}"]
    assert_two_epoch_finetuning_resumes_inside_its_second_epoch_exactly(make_cfg, ft, tmp_path)


def assert_two_epoch_finetuning_resumes_inside_its_second_epoch_exactly(make_cfg, ft: list[str], tmp_path) -> None:
    """Fine-tune with overrides `ft` for 2 epochs; crash 2 steps into the second, rerun: the losses repeat."""
    full = LossRecorder()
    train(make_cfg(*ft, run_dir=tmp_path / "full"), callbacks=[full])
    steps_per_epoch = len(full.losses) // 2
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(make_cfg(*ft, run_dir=tmp_path / "killed"), callbacks=[Interrupt(at=steps_per_epoch + 2)])
    resumed = LossRecorder()
    train(make_cfg(*ft, run_dir=tmp_path / "killed"), callbacks=[resumed])
    assert [s for s, _ in resumed.losses] == list(range(steps_per_epoch + 3, 2 * steps_per_epoch + 1))
    assert resumed.losses == full.losses[-len(resumed.losses):]


@pytest.mark.slow
def test_sweep_point_whose_dir_holds_a_run_with_other_settings_is_refused_the_others_run(cli_env, tmp_path):
    from test_train import run_cli

    sweep = ["-m", "model.num_attention_heads=2,3", f"hydra.sweep.dir={tmp_path / 'sweep'}",
             "hydra.sweep.subdir=heads${model.num_attention_heads}", "trainer.max_steps=2"]
    assert run_cli(sweep, cli_env, tmp_path).returncode == 1  # heads3 fails (32 is not a multiple of 3)
    point = tmp_path / "sweep" / "heads2"
    done, overrides = (point / "DONE").read_text(), (point / ".hydra" / "overrides.yaml").read_text()
    third = run_cli([*sweep, "trainer.max_steps=3"], cli_env, tmp_path)  # same dirs, other settings
    refused = (point / "REFUSED").read_text()
    assert third.returncode == 1 and "2 sweep point(s) failed" in third.stderr
    assert "holds a complete run with other settings" in refused and "trainer.max_steps: 2 -> 3" in refused
    assert (point / "DONE").read_text() == done and (point / ".hydra" / "overrides.yaml").read_text() == overrides
    fourth = run_cli(sweep, cli_env, tmp_path)  # the original settings again: skipped, the refusal forgotten
    assert "is complete (DONE exists): skipping" in (fourth.stdout + fourth.stderr)
    assert not (point / "REFUSED").exists()


def test_an_attempt_with_another_config_keeps_the_earlier_config_and_wandb_run(make_cfg, tmp_path):
    wandb = pytest.importorskip("wandb")
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(make_cfg(*RESUMABLE, "logger.wandb.mode=offline", run_dir=run_dir), callbacks=[Interrupt(at=3)])
    wandb.finish(exit_code=1)  # as cli.hydra_main does; an unfinished run would take the next run's logs
    first_config = (run_dir / "config_resolved.yaml").read_text()
    train(make_cfg(*RESUMABLE, "logger.wandb.mode=offline", "data.num_workers=1", run_dir=run_dir))
    wandb.finish()
    assert (run_dir / "config_resolved.1.yaml").read_text() == first_config
    assert "num_workers: 1" in (run_dir / "config_resolved.yaml").read_text()
    run_id = (run_dir / "wandb_run_id").read_text()
    attempts = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(attempts) == 2 and all(p.name.endswith(f"-{run_id}") for p in attempts)  # one wandb run, two attempts
    steps = [int(row["step"]) for row in metrics(run_dir) if row.get("train/loss")]
    assert steps == sorted(set(steps)) == list(range(8))  # each step once, the first attempt's included


def test_checkpoints_can_be_kept_every_n_steps(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    train(make_cfg("trainer.max_steps=6", "train.checkpoint_every_n_steps=3", "callbacks.model_checkpoint.keep_every_n_steps=2",
                   run_dir=run_dir))
    kept = sorted(p.name for p in (run_dir / "checkpoints").glob("step=*.ckpt"))
    assert kept == ["step=000002.ckpt", "step=000004.ckpt", "step=000006.ckpt"]
    assert [torch.load(run_dir / "checkpoints" / name, weights_only=True)["global_step"] for name in kept] == [2, 4, 6]


# ----------------------------------------------------------------------------------------------
# SIGTERM (preemption, `timeout`, scancel): exit 143, on_exception.ckpt, neither DONE nor FAILED


def terminate_when_paused(proc: subprocess.Popen, cwd: Path, timeout: int = 300, group: bool = False) -> str:
    """SIGTERM to the run (group=False: as `timeout` sends it) or to its process group, its data loader workers
    included (group=True: as SLURM and `kill -- -PGID` send it)."""
    deadline = time.monotonic() + timeout
    while not (cwd / "paused").is_file():
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "the run never reached its pause"
        time.sleep(0.2)
    (os.killpg if group else os.kill)(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    (cwd / "paused").unlink()
    return out


def test_sigterm_during_pretraining_exits_143_with_an_exception_checkpoint_and_no_done(cli_env, tmp_path):
    run_dir = tmp_path / "run"
    args = ["train.global_batch_size=4", "trainer.max_steps=20", f"hydra.run.dir={run_dir}"]  # a step per micro-batch
    proc = xlmr_train(args, cli_env, tmp_path, pause_at=4)  # step 5 runs, then the run stops (validation: 3, 6)
    out = terminate_when_paused(proc, tmp_path)
    assert proc.returncode == 143, out[-3000:]
    assert "stopped by SIGTERM (exit 143); resume with: xlmr-train" in out
    assert torch.load(run_dir / "checkpoints" / "on_exception.ckpt", weights_only=True)["global_step"] == 5
    assert not (run_dir / "DONE").exists() and not (run_dir / "FAILED").exists()


@pytest.mark.parametrize("group", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["to the run", "to its process group, loader workers too"])
def test_sigterm_stops_a_sweep_leaving_the_point_to_resume_neither_done_nor_failed(cli_env, tmp_path, group):
    sweep = ["-m", "data.alpha=0.3,1.0", f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.sweep.subdir=a${data.alpha}",
             "train.global_batch_size=4", "trainer.max_steps=20", "data.num_workers=1"]
    proc = xlmr_train(sweep, cli_env, tmp_path, pause_at=4)
    out = terminate_when_paused(proc, tmp_path, group=group)
    assert proc.returncode == 143 and "stopped by SIGTERM (exit 143, the sweep stops here)" in out, out[-3000:]
    assert [p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir()] == ["a0.3"]  # the second point never started
    point = tmp_path / "sweep" / "a0.3"
    kept = ["on_exception.ckpt"] if not group else ["on_exception.ckpt", "last.ckpt"]  # killed workers: either
    assert any((point / "checkpoints" / name).is_file() for name in kept)
    assert not any((point / marker).exists() for marker in ("DONE", "FAILED", "REFUSED"))
    if group:  # the same command again finishes both points
        finish(xlmr_train(sweep, cli_env, tmp_path))
        assert all((tmp_path / "sweep" / p / "DONE").is_file() for p in ("a0.3", "a1.0"))


@pytest.mark.slow
def test_sigterm_to_a_parallel_sweep_stops_both_points_and_the_rerun_resumes_them(cli_env, tmp_path):
    """hydra/launcher=parallel: both points pause at step 4 in their joblib workers; SIGTERM to the process group (as
    SLURM and `kill -- -PGID` send it) stops each with a checkpoint and neither DONE nor FAILED; the rerun resumes both."""
    sweep = ["-m", "hydra/launcher=parallel", "data.alpha=0.3,1.0", f"hydra.sweep.dir={tmp_path / 'sweep'}",
             "hydra.sweep.subdir=a${data.alpha}", "train.global_batch_size=4", "trainer.max_steps=20",
             "train.checkpoint_every_n_steps=2"]
    points = [tmp_path / "sweep" / name for name in ("a0.3", "a1.0")]
    proc = xlmr_train(sweep, cli_env, tmp_path, pause_at=4)
    deadline = time.monotonic() + 300
    while not all((point / "checkpoints" / "last.ckpt").is_file() for point in points):  # written before the pause
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "the points never reached their pause"
        time.sleep(0.2)
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, out[-3000:]
    for point in points:
        assert "stopped by SIGTERM (exit 143" in (point / "train.log").read_text()
        assert any((point / "checkpoints" / name).is_file() for name in ("on_exception.ckpt", "last.ckpt"))
        assert not any((point / marker).exists() for marker in ("DONE", "FAILED", "REFUSED"))
    (tmp_path / "paused").unlink(missing_ok=True)
    finish(xlmr_train(sweep, cli_env, tmp_path))
    for point in points:
        assert (point / "DONE").is_file() and "resuming from" in (point / "train.log").read_text()


@pytest.mark.slow
def test_sigterm_during_finetuning_exits_143_with_an_exception_checkpoint(cli_env, tmp_path):
    from test_bad_input import CONFIG, tiny_lightning_checkpoint

    init = tiny_lightning_checkpoint(tmp_path / "init")
    run_dir = tmp_path / "run"
    ft = ["task=xnli", "task.udhr_standin=true", "task.languages=[en]", "task.batch_size=4", "task.max_length=64",
          "task.max_train_examples=400", f"model.init={init}",
          f"model.vocab_size={CONFIG.vocab_size}", f"model.hidden_size={CONFIG.hidden_size}", f"hydra.run.dir={run_dir}"]
    proc = xlmr_train(ft, cli_env, tmp_path, pause_at=2)
    out = terminate_when_paused(proc, tmp_path)
    assert proc.returncode == 143 and "stopped by SIGTERM (exit 143)" in out, out[-3000:]
    assert torch.load(run_dir / "checkpoints" / "on_exception.ckpt", weights_only=True)["global_step"] == 3
    assert not (run_dir / "DONE").exists() and not (run_dir / "FAILED").exists()


# ----------------------------------------------------------------------------------------------
# a diverged run stops with an error naming the step; its last finite checkpoints are kept


class PoisonWeights(Callback):
    """NaN in one weight once step `at` is done (after its validation with `before_validation=False`)."""

    def __init__(self, at: int, before_validation: bool = False):
        self.at, self.before_validation = at, before_validation

    def poison(self, pl_module):
        with torch.no_grad():
            next(pl_module.parameters()).fill_(float("nan"))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.before_validation and trainer.global_step == self.at:
            self.poison(pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if not self.before_validation and trainer.global_step == self.at:
            self.poison(pl_module)


def finite_checkpoint(path: Path) -> int:
    checkpoint = torch.load(path, weights_only=True)
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values() if v.is_floating_point())
    return checkpoint["global_step"]


def test_a_diverged_run_stops_naming_the_step_and_keeps_its_finite_checkpoints(make_cfg, tmp_path):
    from xlmr_lit.checkpoints import NonFiniteLossError

    with pytest.raises(NonFiniteLossError, match=r"the training loss is nan at step [1-6]; stopped there"):
        train(make_cfg("optim.lr=1e6", run_dir=tmp_path / "lr"))  # as given on the command line
    run_dir = tmp_path / "train"
    with pytest.raises(NonFiniteLossError, match="the training loss is nan at step 5; stopped there, keeping "
                                                 "last.ckpt and best.ckpt from before it"):
        train(make_cfg(run_dir=run_dir), callbacks=[PoisonWeights(at=4)])
    checkpoints = run_dir / "checkpoints"
    assert finite_checkpoint(checkpoints / "last.ckpt") == 3 and finite_checkpoint(checkpoints / "best.ckpt") == 3
    assert not (checkpoints / "on_exception.ckpt").exists()

    run_dir = tmp_path / "valid"
    with pytest.raises(NonFiniteLossError, match="the validation val/loss is nan at step 6"):
        train(make_cfg(run_dir=run_dir), callbacks=[PoisonWeights(at=6, before_validation=True)])
    checkpoints = run_dir / "checkpoints"
    assert finite_checkpoint(checkpoints / "last.ckpt") == 3 and finite_checkpoint(checkpoints / "best.ckpt") == 3
    assert not (checkpoints / "on_exception.ckpt").exists()


def test_rerun_into_a_killed_run_with_other_settings_is_refused_before_anything_is_touched(cli_env, tmp_path):
    run_dir = tmp_path / "run"
    kill_when_paused(xlmr_train(["model.hidden_size=64", f"hydra.run.dir={run_dir}"], cli_env, tmp_path, pause_at=4),
                     tmp_path)
    paths = ["config_resolved.yaml", "csv/metrics.csv", "checkpoints/last.ckpt", "STARTED",
             *(f".hydra/{n}" for n in ("config.yaml", "hydra.yaml", "overrides.yaml"))]
    kept = {path: (run_dir / path).read_bytes() for path in paths}
    rerun = xlmr_train([f"hydra.run.dir={run_dir}"], cli_env, tmp_path)  # the default hidden_size=32
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 1 and "holds an unfinished run (checkpoints/ to resume from) with other settings" in out
    assert "model.hidden_size: 64 -> 32" in out and "resume it with its own settings, or give it its own" in out
    assert {path: (run_dir / path).read_bytes() for path in paths} == kept
    assert not list(run_dir.glob("config_resolved.*.yaml"))


def test_an_unfinished_run_without_a_started_marker_is_compared_through_its_config(make_cfg, tmp_path):
    from omegaconf import OmegaConf

    from xlmr_lit.pipeline import differing_settings, unfinished_run

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(make_cfg("model.hidden_size=64", run_dir=run_dir),
                                                                    resolve=True))
    assert unfinished_run(run_dir) is None  # nothing to resume from: nothing to protect
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert differing_settings(unfinished_run(run_dir), make_cfg(run_dir=run_dir)) == ["model.hidden_size: 64 -> 32"]
    (run_dir / "DONE").write_text("{}")
    assert unfinished_run(run_dir) is None  # complete: compared through DONE


class SigtermAt(Callback):
    """SIGTERM to this process on the first micro-batch of step `at` + 1, as a preemption would send it."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at and batch_idx % trainer.accumulate_grad_batches == 0:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_inside_an_accumulation_window_stops_after_its_step_with_an_exact_checkpoint(make_cfg, tmp_path):
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    run_dir = tmp_path / "run"
    with pytest.raises(SIGTERMException):  # 2 micro-batches a step; SIGTERM on the first of step 5
        train(make_cfg(*RESUMABLE, run_dir=run_dir), callbacks=[SigtermAt(at=4)])
    assert torch.load(run_dir / "checkpoints" / "on_exception.ckpt", weights_only=True)["global_step"] == 5
    full, resumed = LossRecorder(), LossRecorder()
    train(make_cfg(*RESUMABLE, run_dir=tmp_path / "full"), callbacks=[full])
    train(make_cfg(*RESUMABLE, run_dir=run_dir), callbacks=[resumed])
    assert resumed.losses == full.losses[-len(resumed.losses):] and min(s for s, _ in resumed.losses) == 6
