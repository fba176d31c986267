"""`xlmr-train`: the thin Hydra entry point. `train(cfg)` pretrains (task=pretrain, the default, optionally
followed by a `downstream` fine-tuning: xlmr_lit/pipeline.py) or fine-tunes (any other task: xlmr_lit/finetune.py)."""

import hashlib
import logging
import os
import re
import sys
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback

from xlmr_lit import sweep_report
from xlmr_lit.config_checks import ConfigError, check_config, check_override_keys
from xlmr_lit.finetune import finetune
from xlmr_lit.pipeline import is_done, mark_done, mark_failed, pretrain_then_finetune
from xlmr_lit.quiet import silence_noise
from xlmr_lit.threads import configure_threads

log = logging.getLogger(__name__)
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def safe_dirname(overrides: str, limit: int = 120) -> str:
    """A sweep point's directory name from its overrides (hydra.job.override_dirname): no slashes or spaces."""
    name = re.sub(r"[^\w=,.+@:-]", "_", overrides) or "defaults"
    return name if len(name) <= limit else name[: limit - 9] + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]


OmegaConf.register_new_resolver("safe_dirname", safe_dirname, replace=True)


def train(cfg: DictConfig, callbacks: list[Callback] | None = None):
    check_config(cfg)
    if cfg.task.name != "pretrain":
        return finetune(cfg, callbacks)
    return pretrain_then_finetune(cfg, callbacks)


def main() -> float | None:
    """Mistyped override keys are refused with "did you mean ...?" before Hydra composes; a sweep with a failed point
    exits non-zero once every point has run."""
    try:
        check_override_keys(sys.argv[1:], CONF_DIR)
    except ConfigError as err:
        sys.exit(f"error: {err}")
    objective = hydra_main()
    if sweep_report.failed_points:
        sys.exit(f"error: {len(sweep_report.failed_points)} sweep point(s) failed (listed above)")
    return objective


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    """Marks the run dir DONE or FAILED; in a sweep, done points are skipped and a failing point
    does not stop the others (`sweep_report.ReportFailedPoints` lists failures at the end)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    run_dir = Path(cfg.paths.run_dir)
    if is_done(run_dir):
        log.info(f"{run_dir} is complete (DONE exists): skipping")
        return None
    silence_noise()
    threads = configure_threads(cfg.threads)
    log.info(f"torch CPU threads: {threads} (threads={cfg.threads}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    try:
        results = train(cfg)
    except Exception:
        finish_wandb_run(exit_code=1)
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        marker = mark_failed(run_dir, traceback.format_exc())
        log.exception(f"this sweep point failed; the sweep goes on (details in {marker})")
        return None
    finish_wandb_run(exit_code=0)
    mark_done(run_dir)
    return sweep_objective(results)


def finish_wandb_run(exit_code: int) -> None:
    """One wandb run per job: Hydra's basic launcher runs a sweep's points in one process, and an
    unfinished run would take the next point's logs."""
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def sweep_objective(results) -> float | None:
    """What Hydra sweepers (Optuna) optimise: pretraining's mean validation loss (minimise), or a
    fine-tuning run's mean single-selection dev score (maximise)."""
    if isinstance(results, dict):
        return results["val/loss"]
    dev = [r["value"] for r in results if r["selection"] == "single" and r["split"] == "dev" and r["metric"] in ("accuracy", "f1")]
    return sum(dev) / len(dev) if dev else None


if __name__ == "__main__":
    main()
