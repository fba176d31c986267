"""The `launchers` extra: each sweep point as a SLURM job (Hydra's submitit launcher) and the Optuna
search over the fine-tuning learning rate, both with the repository's own configs."""

import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from test_train import run_cli

from xlmr_lit.cli import CONF_DIR
from xlmr_lit.threads import usable_cores


def test_slurm_launcher_takes_nodes_and_gpus_from_the_trainer():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", return_hydra_config=True, overrides=[
            "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "trainer=ddp", "trainer.devices=8",
            "trainer.num_nodes=4", "experiment=fig5_alpha", "scale=paper"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.nodes, launcher.gpus_per_node, launcher.tasks_per_node) == (4, 8, 8)
    assert launcher.partition == "gpu" and launcher.max_num_timeout == 3


@pytest.mark.slow
def test_submitit_launcher_runs_a_sweep_with_done_and_failed_points(cli_env, tmp_path):
    """The same plugin as SLURM with its local executor: points run as submitit jobs, a failing point
    is marked and reported, a re-run skips the complete one."""
    sweep = ["-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
             "model.num_attention_heads=2,3", f"hydra.sweep.dir={tmp_path / 'sweep'}",
             "hydra.sweep.subdir=heads${model.num_attention_heads}", "trainer.max_steps=2"]
    proc = run_cli(sweep, cli_env, tmp_path)
    assert proc.returncode == 1 and "1 sweep point(s) failed" in proc.stderr, proc.stderr[-3000:]
    good, bad = tmp_path / "sweep" / "heads2", tmp_path / "sweep" / "heads3"
    assert (good / "DONE").is_file() and (good / "checkpoints" / "last.ckpt").is_file()
    assert (bad / "FAILED").is_file() and not (bad / "DONE").exists()
    assert "1 point(s) complete, 1 failed" in proc.stdout
    assert list((tmp_path / "sweep" / ".submitit").glob("*/*_result.pkl"))  # they ran as submitit jobs

    trained_at = (good / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    again = run_cli(sweep, cli_env, tmp_path)
    assert again.returncode == 1 and (good / "checkpoints" / "last.ckpt").stat().st_mtime_ns == trained_at
    assert "is complete (DONE exists): skipping" in (good / "train.log").read_text()  # the job's own log


@pytest.mark.slow  # 46 s; CI runs it with -m slow
def test_optuna_searches_the_finetuning_learning_rate(make_cfg, cli_env, tmp_path):
    from xlmr_lit.cli import train

    train(make_cfg(run_dir=tmp_path / "pretrain"))
    ckpt = tmp_path / "pretrain" / "checkpoints" / "last.ckpt"
    proc = run_cli(["-m", "hydra/sweeper=finetune_lr", "hydra.sweeper.n_trials=2", "task=xnli",
                    "task.udhr_standin=true", f"model.init={ckpt}", "task.languages=[en,sw]", "task.epochs=1",
                    "task.max_train_examples=400", "task.batch_size=16", f"hydra.sweep.dir={tmp_path / 'search'}"], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "search").glob("*/results.jsonl"))) == 2  # two fine-tuning trials
    best = yaml.safe_load((tmp_path / "search" / "optimization_results.yaml").read_text())
    assert best["name"] == "optuna" and 3e-6 <= best["best_params"]["task.lr"] <= 1e-4
    assert 0.0 <= best["best_value"] <= 1.0  # the mean dev accuracy of the single selection


def test_points_at_once_share_the_cores_and_a_single_run_takes_them():
    from xlmr_lit.threads import configure_threads, points_at_once

    assert points_at_once() == 1  # no Hydra job here
    assert configure_threads("auto", points=usable_cores()) == 1
    assert configure_threads("auto", points=1) >= 1 and configure_threads(3, points=2) == 3


@pytest.mark.slow  # about 30 s; CI runs it with -m slow
def test_parallel_launcher_runs_two_points_at_once_and_reports_a_failed_one(cli_env, tmp_path):
    """hydra/launcher=parallel (joblib): both points run at the same time, each with its share of the cores and its
    data loaded in its own process (a joblib worker cannot start loader workers); a failing point is marked and
    reported, and a re-run skips the complete one."""
    sweep = ["-m", "hydra/launcher=parallel", "model.num_attention_heads=1,2,3",
             f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.sweep.subdir=heads${model.num_attention_heads}",
             "trainer.max_steps=4", "data.num_workers=1"]
    proc = run_cli(sweep, cli_env, tmp_path)
    assert proc.returncode == 1 and "1 sweep point(s) failed" in proc.stderr, proc.stderr[-3000:]
    first, good, bad = (tmp_path / "sweep" / f"heads{heads}" for heads in (1, 2, 3))
    assert (first / "DONE").is_file() and (good / "DONE").is_file()
    assert (bad / "FAILED").is_file() and not (bad / "DONE").exists()  # 32 is no multiple of 3 heads
    assert "2 point(s) complete, 1 failed" in proc.stdout
    cores = usable_cores()
    for point in (first, good):
        log = (point / "train.log").read_text()
        assert f"torch CPU threads: {max(1, cores // 2)} (threads=auto" in log and "2 sweep points at once" in log
    spans = {point: log_span(point / "train.log") for point in (first, good)}
    assert spans[first][0] < spans[good][1] and spans[good][0] < spans[first][1]  # one after the other: no overlap

    trained_at = (good / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    again = run_cli(sweep, cli_env, tmp_path)
    assert again.returncode == 1 and (good / "checkpoints" / "last.ckpt").stat().st_mtime_ns == trained_at
    assert "is complete (DONE exists): skipping" in (good / "train.log").read_text()


def log_span(log: Path) -> tuple[datetime, datetime]:
    """The first and last timestamps of a job's train.log."""
    stamps = re.findall(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", log.read_text(), re.M)
    return tuple(datetime.strptime(stamps[i], "%Y-%m-%d %H:%M:%S,%f") for i in (0, -1))
