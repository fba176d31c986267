"""Run plumbing shared by pretraining and fine-tuning: the run directory, loggers (with their history across
attempts), row keys. Checkpointing and resuming: xlmr_lit/checkpoints.py."""

import csv
import os
import secrets
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only

WANDB_ID_FILE = "wandb_run_id"


def start_run_dir(cfg: DictConfig) -> Path:
    """The run directory, with the fully resolved config saved in it; a different config that an earlier attempt saved
    there is kept as config_resolved.<n>.yaml."""
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if rank_zero_only.rank != 0:  # every DDP rank runs this; one writes
        return run_dir
    path = run_dir / "config_resolved.yaml"
    text = OmegaConf.to_yaml(cfg, resolve=True)
    if path.is_file() and path.read_text() != text:
        earlier = len(list(run_dir.glob("config_resolved.*.yaml")))
        os.replace(path, run_dir / f"config_resolved.{earlier + 1}.yaml")
    path.write_text(text)
    return run_dir


def build_loggers(cfg: DictConfig, run_dir: Path, resume_step: int = 0) -> list:
    """conf/logger/: csv (csv/metrics.csv, flushed at every log call, so a killed run loses no logged row) unless
    logger.csv=false; wandb unless logger.wandb.mode=disabled. A resumed run keeps the earlier attempts' rows for steps
    before `resume_step` and continues the same wandb run."""
    loggers = []
    if cfg.logger.csv:
        csv_logger = CSVLogger(save_dir=run_dir, name="csv", version="", flush_logs_every_n_steps=1)
        keep_metrics_history(csv_logger, resume_step)
        loggers.append(csv_logger)
    wandb_cfg = cfg.logger.wandb
    if wandb_cfg.mode != "disabled":
        import wandb

        loggers.append(
            WandbLogger(
                project=wandb_cfg.project,
                group=wandb_cfg.group,
                tags=list(wandb_cfg.tags),
                name=wandb_cfg.name,
                save_dir=str(run_dir),
                mode=wandb_cfg.mode,
                config=OmegaConf.to_container(cfg, resolve=True),
                id=wandb_run_id(run_dir) if rank_zero_only.rank == 0 else None,  # only rank 0 logs to wandb
                resume="allow",
                settings=wandb.Settings(quiet=True),  # no history and summary dump after the run's closing table
            )
        )
        loggers[-1]._wandb_init.pop("anonymous", None)  # Lightning passes it; wandb >= 0.19 warns that it does nothing
    return loggers


def keep_metrics_history(csv_logger: CSVLogger, resume_step: int) -> None:
    """Lightning deletes csv/metrics.csv when its writer starts; the rows of steps before `resume_step` (CSV step k is
    optimizer step k + 1) go back in. Later rows are dropped: the resumed run logs those steps again. The kept rows wait
    in metrics.csv.resuming meanwhile, so a kill in between loses nothing."""
    if rank_zero_only.rank != 0:  # only rank 0 writes metrics.csv
        return
    metrics = Path(csv_logger.log_dir) / "metrics.csv"
    waiting = metrics.with_name("metrics.csv.resuming")
    source = metrics if metrics.is_file() else waiting
    header: list[str] = []
    if source.is_file():
        with open(source, newline="") as file:
            reader = csv.DictReader(file)
            header = list(reader.fieldnames or [])
            rows = [row for row in reader if row.get("step") and int(row["step"]) < resume_step]
        scratch = metrics.with_name("metrics.csv.scratch")
        with open(scratch, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(scratch, waiting)
    writer = csv_logger.experiment  # deletes metrics.csv
    if waiting.is_file():
        if resume_step > 0:
            os.replace(waiting, metrics)
            writer.metrics_keys = sorted(header)
        else:
            waiting.unlink()


def wandb_run_id(run_dir: Path) -> str:
    """The run dir's wandb run id, made on its first attempt: every attempt logs to the same wandb run."""
    path = run_dir / WANDB_ID_FILE
    if not path.is_file():
        path.write_text(secrets.token_hex(4))
    return path.read_text().strip()


def sweep_keys(cfg: DictConfig) -> dict:
    """What identifies an ablation point in its result rows: the scale and the job's overrides."""
    from hydra.core.hydra_config import HydraConfig

    keys = {"scale": cfg.get("scale_name")}
    if HydraConfig.initialized():
        for override in HydraConfig.get().overrides.task:
            key, _, value = override.lstrip("+~").partition("=")
            keys[f"override.{key}"] = value
    return keys
