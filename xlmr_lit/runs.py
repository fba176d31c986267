"""Run plumbing shared by pretraining and fine-tuning: the run directory, loggers, resuming, row keys."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import CSVLogger, WandbLogger


def start_run_dir(cfg: DictConfig) -> Path:
    """The run directory, with the fully resolved config saved in it."""
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return run_dir


def build_loggers(cfg: DictConfig, run_dir: Path) -> list:
    """conf/logger/: csv (csv/metrics.csv) unless logger.csv=false; wandb unless logger.wandb.mode=disabled."""
    loggers = [CSVLogger(save_dir=run_dir, name="csv", version="")] if cfg.logger.csv else []
    wandb_cfg = cfg.logger.wandb
    if wandb_cfg.mode != "disabled":
        loggers.append(
            WandbLogger(
                project=wandb_cfg.project,
                group=wandb_cfg.group,
                tags=list(wandb_cfg.tags),
                name=wandb_cfg.name,
                save_dir=str(run_dir),
                mode=wandb_cfg.mode,
                config=OmegaConf.to_container(cfg, resolve=True),
            )
        )
        loggers[-1]._wandb_init.pop("anonymous", None)  # Lightning passes it; wandb >= 0.19 warns that it does nothing
    return loggers


def resume_checkpoint(ckpt_path: str | None, checkpoint_dir: Path) -> str | None:
    """`auto`: the newest of last.ckpt / on_exception.ckpt in this run's checkpoint dir, if any."""
    if ckpt_path != "auto":
        return ckpt_path
    candidates = [p for p in (checkpoint_dir / "last.ckpt", checkpoint_dir / "on_exception.ckpt") if p.is_file()]
    return str(max(candidates, key=lambda p: p.stat().st_mtime)) if candidates else None


def sweep_keys(cfg: DictConfig) -> dict:
    """What identifies an ablation point in its result rows: the scale and the job's overrides."""
    from hydra.core.hydra_config import HydraConfig

    keys = {"scale": cfg.get("scale_name")}
    if HydraConfig.initialized():
        for override in HydraConfig.get().overrides.task:
            key, _, value = override.lstrip("+~").partition("=")
            keys[f"override.{key}"] = value
    return keys
