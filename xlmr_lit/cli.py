"""`xlmr-train`: the thin Hydra entry point. `train(cfg)` pretrains (task=pretrain, the default, optionally
followed by a `downstream` fine-tuning: xlmr_lit/pipeline.py) or fine-tunes (any other task: xlmr_lit/finetune.py)."""

import hashlib
import logging
import os
import re
import shlex
import signal
import sys
import threading
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from xlmr_lit import sweep_report
from xlmr_lit.config_checks import ConfigError, check_config, check_machine, check_override_keys
from xlmr_lit.corpus import CorpusError
from xlmr_lit.quiet import silence_noise
from xlmr_lit.tasks.readers import DataFormatError
from xlmr_lit.threads import configure_threads, points_at_once
from xlmr_lit.tokenizer import VocabularyTooLargeError, VocabularyTooSmallError

# torch, Lightning and the modules that import them (finetune, pipeline, checkpoints) are imported inside the
# functions that run a job: `xlmr-train --help` and a mistyped key then answer in about a second
# (tests/test_ux.py::test_help_and_a_mistyped_key_import_no_torch).
log = logging.getLogger(__name__)
USER_ERRORS = (ConfigError, CorpusError, DataFormatError, VocabularyTooLargeError,
               VocabularyTooSmallError)  # the message says it all; anything else is a bug, shown with its traceback
USER_ERROR_EXIT = 2
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
SIGTERM_EXIT = 128 + signal.SIGTERM  # 143, the shell's and SLURM's convention for a job ended by SIGTERM
_sigterm_received = False


def note_sigterm(signum, frame) -> None:
    """This process's SIGTERM handler; Lightning's, while a Trainer runs, calls it too. It remembers the signal, so that
    what the same signal breaks elsewhere still stops the run as preempted: SLURM and `kill -- -PGID` also kill the
    data loader's workers, and the loader then raises RuntimeError, which a sweep would otherwise count as a failed
    point and go on to the next. Outside a Trainer (data preparation) it stops the run at once."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    global _sigterm_received
    _sigterm_received = True
    if signal.getsignal(signal.SIGTERM) is note_sigterm:
        raise SIGTERMException()


def safe_dirname(overrides: str, limit: int = 120) -> str:
    """A sweep point's directory name from its overrides (hydra.job.override_dirname): no slashes or spaces."""
    name = re.sub(r"[^\w=,.+@:-]", "_", overrides) or "defaults"
    return name if len(name) <= limit else name[: limit - 9] + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]


def init_dirname(init: str | None) -> str:
    """`/<model name>` of a given encoder (hf:google-bert/bert-base-multilingual-cased -> /bert-base-multilingual-cased),
    so that the tables' sweeps of different encoders (XLM-R and its baselines) keep apart; "" without one."""
    if not init:
        return ""
    location = str(init).split(":", 1)[-1].rstrip("/")
    return "/" + safe_dirname(Path(location).name)


OmegaConf.register_new_resolver("safe_dirname", safe_dirname, replace=True)
OmegaConf.register_new_resolver("init_dirname", init_dirname, replace=True)


def train(cfg: DictConfig, callbacks: list | None = None):
    """`callbacks`: extra Lightning callbacks for the run's trainer(s)."""
    from xlmr_lit.finetune import finetune
    from xlmr_lit.pipeline import pretrain_then_finetune

    check_config(cfg)
    if cfg.task.name != "pretrain":
        return finetune(cfg, callbacks)
    return pretrain_then_finetune(cfg, callbacks)


def main() -> float | None:
    """Mistyped override keys are refused with "did you mean ...?" before Hydra composes, and a single run's config
    (with its run dir) is checked before Hydra creates anything there; a user error prints its message alone and exits
    2 (HYDRA_FULL_ERROR=1 shows the traceback). A sweep with a failed point exits 1 once every point has run."""
    try:
        check_override_keys(sys.argv[1:], CONF_DIR)
        check_single_run(sys.argv[1:])
    except USER_ERRORS as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        sys.stderr.write(f"error: {err}\n")
        sys.exit(USER_ERROR_EXIT)
    objective = hydra_main()
    if sweep_report.failed_points:
        sys.exit(f"error: {len(sweep_report.failed_points)} sweep point(s) failed (listed above)")
    return objective


def check_single_run(args: list[str]) -> None:
    """check_config, check_machine and the run dir's earlier run, for a single run given as key=value overrides, before
    Hydra creates the run dir, its .hydra/ and train.log. Sweeps and Hydra's own options are checked per point."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import open_dict

    if any(a.startswith("-") for a in args):
        return
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=args, return_hydra_config=True)
    except HydraException as err:  # an unknown option of a config group, a malformed override
        raise ConfigError(str(err).split("\nConfig search path:")[0].strip()) from None
    if cfg.hydra.mode == "MULTIRUN":
        return
    given = OmegaConf.to_container(cfg.paths, resolve=False)["run_dir"]
    run_dir = Path(cfg.hydra.run.dir if "${hydra:" in str(given) else cfg.paths.run_dir)
    with open_dict(cfg):
        del cfg["hydra"]
        cfg.paths.run_dir = str(run_dir)
    check_config(cfg)
    check_machine(cfg, run_dir)
    if message := refusal(run_dir, cfg):
        raise ConfigError(message)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    from xlmr_lit.checkpoints import NonFiniteLossError

    try:
        return run_job(cfg)
    except (*USER_ERRORS, NonFiniteLossError) as err:  # a single run's; a sweep marks its point FAILED or REFUSED
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        log_to_file(traceback.format_exc())
        sys.stderr.write(f"error: {err}\n")
        sys.exit(USER_ERROR_EXIT)


def run_job(cfg: DictConfig) -> float | None:
    """Marks the run dir DONE (with its settings) or FAILED. A complete run with the same settings is skipped, one with
    other settings is refused (kept as it is), as is an unfinished one; in a sweep, a failing or refused point does
    not stop the others (`sweep_report.ReportFailedPoints` lists them at the end)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from xlmr_lit.pipeline import (REFUSED_FILE, completed_run, mark_done, mark_failed, mark_started,
                                   restore_hydra_files, unfinished_run)

    run_dir = Path(cfg.paths.run_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        check_config(cfg)
        check_machine(cfg, run_dir)
    except ConfigError as err:
        if not multirun:
            raise
        log.error(f"this sweep point cannot run; the sweep goes on (details in {mark_failed(run_dir, str(err))}): {err}")
        return None
    done = completed_run(run_dir)
    if message := refusal(run_dir, cfg):  # the earlier run's .hydra/ files back, as Hydra rewrote them for this one
        restore_hydra_files(run_dir, done if done is not None else unfinished_run(run_dir))
        return refuse(run_dir, message, multirun)
    if done is not None:
        restore_hydra_files(run_dir, done)
        (run_dir / REFUSED_FILE).unlink(missing_ok=True)
        log.info(f"{run_dir} is complete (DONE exists): skipping")
        return None
    (run_dir / REFUSED_FILE).unlink(missing_ok=True)
    mark_started(run_dir, cfg)
    silence_noise()
    resume = resume_command(run_dir, multirun)
    log.info(f"if interrupted, the same command resumes this run: {resume}")
    link_latest(run_dir, multirun)
    points = points_at_once()
    threads = configure_threads(cfg.threads, points)
    log.info(f"torch CPU threads: {threads} (threads={cfg.threads}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
             + (f"; {points} sweep points at once, data loaded in each point's own process)" if points > 1 else ")"))
    def stop_on_sigterm() -> None:  # preemption, `timeout`, scancel: exit 143 so that the scheduler requeues, not DONE
        log.error(f"stopped by SIGTERM (exit {SIGTERM_EXIT}{', the sweep stops here' if multirun else ''}); "
                  f"resume with: {resume}")
        finish_wandb_run(exit_code=SIGTERM_EXIT)
        if points > 1:  # a joblib worker would catch SystemExit and wait for the next point, holding the sweep open
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(SIGTERM_EXIT)
        sys.exit(SIGTERM_EXIT)

    if threading.current_thread() is threading.main_thread():  # only the main thread may set a signal handler
        signal.signal(signal.SIGTERM, note_sigterm)
    try:
        results = train(cfg)
    except SIGTERMException:
        stop_on_sigterm()
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C (Lightning turns it into SystemExit(1))
        log.error(f"interrupted; resume with: {resume}")
        raise
    except Exception:
        if _sigterm_received:  # e.g. the loader's workers were killed by the same SIGTERM
            log.info("after SIGTERM: %s", traceback.format_exc().strip().splitlines()[-1])
            stop_on_sigterm()
        finish_wandb_run(exit_code=1)
        if not multirun:
            raise
        marker = mark_failed(run_dir, traceback.format_exc())
        log.exception(f"this sweep point failed; the sweep goes on (details in {marker})")
        return None
    finish_wandb_run(exit_code=0)
    mark_done(run_dir, cfg)
    return sweep_objective(results)


def refusal(run_dir: Path, cfg: DictConfig) -> str | None:
    """Why `run_dir` cannot take this run: it holds a complete run, or an unfinished one that a resume would continue,
    with other settings. None where it can (a complete run with the same settings is skipped)."""
    from xlmr_lit.pipeline import completed_run, differing_settings, unfinished_run

    done = completed_run(run_dir)
    if done is not None:
        earlier, what, advice = done, "a complete run", ""
    elif cfg.train.ckpt_path == "auto" and (earlier := unfinished_run(run_dir)) is not None:
        what, advice = "an unfinished run (checkpoints/ to resume from)", "resume it with its own settings, or "
    else:
        return None
    differ = differing_settings(earlier, cfg)
    if not differ:
        return None
    return (f"{run_dir} holds {what} with other settings, kept as it is; this one differs in\n  "
            + "\n  ".join(differ[:20]) + ("\n  ..." if len(differ) > 20 else "")
            + f"\n{advice}give it its own directory (hydra.run.dir=..., or hydra.sweep.dir=... for a sweep)")


def log_to_file(text: str) -> None:
    """`text` into the run's train.log only (Hydra's file handler), not onto the console."""
    record = logging.LogRecord(log.name, logging.ERROR, __file__, 0, text, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def refuse(run_dir: Path, message: str, multirun: bool) -> None:
    """The run dir is kept as it is: an error, or in a sweep a REFUSED point."""
    from xlmr_lit.pipeline import REFUSED_FILE

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
