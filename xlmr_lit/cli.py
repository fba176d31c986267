"""`xlmr-train`: the thin Hydra entry point. `train(cfg)` pretrains (task=pretrain, the default, optionally
followed by a `downstream` fine-tuning: xlmr_lit/pipeline.py) or fine-tunes (any other task: xlmr_lit/finetune.py)."""

import hashlib
import logging
import os
import re
import shlex
import signal
import sys
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from xlmr_lit import sweep_report
from xlmr_lit.config_checks import ConfigError, check_config, check_override_keys
from xlmr_lit.finetune import finetune
from xlmr_lit.pipeline import (
    REFUSED_FILE,
    completed_run,
    differing_settings,
    mark_done,
    mark_failed,
    mark_started,
    pretrain_then_finetune,
    restore_hydra_files,
    unfinished_run,
)
from xlmr_lit.quiet import silence_noise
from xlmr_lit.threads import configure_threads

log = logging.getLogger(__name__)
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
SIGTERM_EXIT = 128 + signal.SIGTERM  # 143, the shell's and SLURM's convention for a job ended by SIGTERM


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
    """Marks the run dir DONE (with its settings) or FAILED. A complete run with the same settings is skipped, one with
    other settings is refused (kept as it is); in a sweep, a failing or refused point does not stop the others
    (`sweep_report.ReportFailedPoints` lists them at the end)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    run_dir = Path(cfg.paths.run_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    done = completed_run(run_dir)
    if done is not None:
        restore_hydra_files(run_dir, done)
        differ = differing_settings(done, cfg)
        if not differ:
            (run_dir / REFUSED_FILE).unlink(missing_ok=True)
            log.info(f"{run_dir} is complete (DONE exists): skipping")
            return None
        return refuse(run_dir, "a complete run", differ, multirun)
    try:
        check_config(cfg)
    except ConfigError as err:
        if not multirun:
            raise
        log.error(f"this sweep point cannot run; the sweep goes on (details in {mark_failed(run_dir, str(err))}): {err}")
        return None
    unfinished = unfinished_run(run_dir) if cfg.train.ckpt_path == "auto" else None
    if unfinished is not None:
        restore_hydra_files(run_dir, unfinished)
        if differ := differing_settings(unfinished, cfg):
            return refuse(run_dir, "an unfinished run (checkpoints/ to resume from)", differ, multirun,
                          "resume it with its own settings, or ")
    (run_dir / REFUSED_FILE).unlink(missing_ok=True)
    mark_started(run_dir, cfg)
    silence_noise()
    resume = resume_command(run_dir, multirun)
    log.info(f"if interrupted, the same command resumes this run: {resume}")
    link_latest(run_dir, multirun)
    threads = configure_threads(cfg.threads)
    log.info(f"torch CPU threads: {threads} (threads={cfg.threads}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    try:
        results = train(cfg)
    except SIGTERMException:  # preemption, `timeout`, scancel: exit 143 so that the scheduler requeues, not DONE
        log.error(f"stopped by SIGTERM (exit {SIGTERM_EXIT}{', the sweep stops here' if multirun else ''}); "
                  f"resume with: {resume}")
        finish_wandb_run(exit_code=SIGTERM_EXIT)
        sys.exit(SIGTERM_EXIT)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C (Lightning turns it into SystemExit(1))
        log.error(f"interrupted; resume with: {resume}")
        raise
    except Exception:
        finish_wandb_run(exit_code=1)
        if not multirun:
            raise
        marker = mark_failed(run_dir, traceback.format_exc())
        log.exception(f"this sweep point failed; the sweep goes on (details in {marker})")
        return None
    finish_wandb_run(exit_code=0)
    mark_done(run_dir, cfg)
    return sweep_objective(results)


def refuse(run_dir: Path, what: str, differ: list[str], multirun: bool, advice: str = "") -> None:
    """A run dir holding `what` with other settings is kept as it is: an error, or in a sweep a REFUSED point."""
    message = (f"{run_dir} holds {what} with other settings, kept as it is; this one differs in\n  "
               + "\n  ".join(differ[:20]) + ("\n  ..." if len(differ) > 20 else "")
               + f"\n{advice}give it its own directory (hydra.run.dir=..., or hydra.sweep.dir=... for a sweep)")
    if not multirun:
        raise ConfigError(message)
    (run_dir / REFUSED_FILE).write_text(message + "\n")
    log.error(f"this sweep point is refused; the sweep goes on: {message}")


def resume_command(run_dir: Path, multirun: bool) -> str:
    """The command line that continues this run (or sweep) in its directory: the same arguments with the directory
    pinned, as a timestamped default directory would otherwise start a new run."""
    from hydra.core.hydra_config import HydraConfig

    args = [a for a in sys.argv[1:] if not a.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    pin = f"hydra.sweep.dir={HydraConfig.get().sweep.dir}" if multirun else f"hydra.run.dir={run_dir}"
    return " ".join(["xlmr-train", *(shlex.quote(a) for a in args), pin])


def link_latest(run_dir: Path, multirun: bool) -> None:
    """`outputs/latest` (`multirun/latest` for a sweep) points at the newest run started in a default,
    timestamped directory (`<root>/<date>/<time>`): `hydra.run.dir=outputs/latest` resumes it."""
    from hydra.core.hydra_config import HydraConfig

    target = Path(HydraConfig.get().sweep.dir) if multirun else run_dir
    if not (re.fullmatch(r"\d{4}-\d\d-\d\d", target.parent.name) and re.fullmatch(r"\d\d-\d\d-\d\d", target.name)):
        return
    link = target.parents[1] / "latest"
    if link.is_symlink() or not link.exists():
        scratch = link.with_name(f".latest.tmp-{os.getpid()}")
        scratch.unlink(missing_ok=True)
        scratch.symlink_to(Path(target.parent.name) / target.name)
        os.replace(scratch, link)


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
