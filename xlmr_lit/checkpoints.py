"""Saving and resuming training state: last.ckpt every N steps, on_exception.ckpt where a resume from it is exact,
atomic writes, the dropout RNG in every checkpoint, which checkpoint a rerun resumes from, and a pause hook that the
fault-injection tests kill runs at."""

import logging
import os
import shutil
import time
from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.plugins.io import TorchCheckpointIO

log = logging.getLogger(__name__)
PAUSE_AT_STEP_ENV, PAUSE_FILE_ENV = "XLMR_LIT_PAUSE_AT_STEP", "XLMR_LIT_PAUSE_FILE"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a scratch file and renames it into place: a kill mid-write leaves the previous one."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        scratch = path.with_name(f".{path.name}.partial-{os.getpid()}")
        super().save_checkpoint(checkpoint, scratch, storage_options)
        os.replace(scratch, path)


class CheckpointOnException(Callback):
    """checkpoints/on_exception.ckpt when training stops on an exception (Ctrl-C, SIGTERM, a crash), written only where
    a resume from it is exact: after an optimizer step (none before the first: there is nothing to resume), not inside
    a gradient accumulation window nor during validation. Elsewhere the run resumes from last.ckpt. (Not Lightning's
    OnExceptionCheckpoint: with that one present, fit(ckpt_path=None) resumes whatever checkpoint it finds.)"""

    def __init__(self, checkpoint_dir: Path):
        self.path = Path(checkpoint_dir) / "on_exception.ckpt"

    def on_exception(self, trainer, pl_module, exception) -> None:
        if isinstance(exception, NonFiniteLossError):  # the weights are no longer worth resuming from
            return
        micro_batches_done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
        at_step_boundary = micro_batches_done % trainer.accumulate_grad_batches == 0
        if trainer.state.fn == "fit" and trainer.global_step > 0 and at_step_boundary and not trainer.validating:
            trainer.save_checkpoint(self.path, weights_only=False)  # with the optimizer state, to resume from


class FinishStepOnSigterm(Callback):
    """SIGTERM inside a gradient-accumulation window is held until the window's last micro-batch, so that the run
    stops after an optimizer step, where on_exception.ckpt resumes it exactly. (Lightning checks for SIGTERM after
    every micro-batch; its flag is cleared meanwhile and set again.)"""

    def __init__(self):
        self.held = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        connector = trainer._signal_connector
        mid_window = (batch_idx + 1) % trainer.accumulate_grad_batches != 0
        if connector.received_sigterm and mid_window:
            if not self.held:
                log.warning("SIGTERM inside a gradient-accumulation window: stopping after its optimizer step")
            self.held, connector.received_sigterm = True, False
        elif self.held and not mid_window:
            self.held, connector.received_sigterm = False, True


class NonFiniteLossError(RuntimeError):
    """Training diverged: a loss is NaN or infinite."""


class StopOnNonFiniteLoss(Callback):
    """Stops a diverged run: a non-finite training loss (any micro-batch) or validation `monitor` raises
    NonFiniteLossError naming the step. It runs before the checkpoint callbacks of that step, so last.ckpt and
    best.ckpt stay the last finite ones (placed ahead of them in the callback list; ModelCheckpoint always runs last)."""

    def __init__(self, monitor: str, checkpoint_dir: Path):
        self.monitor, self.checkpoint_dir = monitor, Path(checkpoint_dir)

    def stop(self, what: str, value, step: int) -> None:
        kept = [p.name for p in (self.checkpoint_dir / "last.ckpt", self.checkpoint_dir / "best.ckpt") if p.is_file()]
        raise NonFiniteLossError(
            f"the run diverged: {what} is {value} at step {step}; stopped there, "
            + (f"keeping {' and '.join(kept)} from before it" if kept else "with no checkpoint written")
            + " (lower the learning rate, or raise warmup or trainer.gradient_clip_val)")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss).all():
            step_taken = (batch_idx + 1) % trainer.accumulate_grad_batches == 0
            self.stop("the training loss", float(loss.detach().float().mean()), trainer.global_step + (not step_taken))

    def on_validation_end(self, trainer, pl_module) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None and not trainer.sanity_checking and not torch.isfinite(torch.as_tensor(value)).all():
            self.stop(f"the validation {self.monitor}", float(value), trainer.global_step)


class GlobalRNGState(Callback):
    """Dropout draws from torch's global generator: its state in every checkpoint makes a resumed run repeat the
    uninterrupted one. (Data loaders have generators of their own, so loader iteration does not move it.)"""

    def state_dict(self) -> dict:
        state = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class LastCheckpoint(Callback):
    """checkpoints/last.ckpt every `every_n_steps` optimizer steps and at the end of training, and a kept copy
    step=<N>.ckpt every `keep_every_n_steps` (0: none). At a step that also validates (every `val_every_n_steps`) it is
    written after the validation, so a run resumed from it has that validation in its history and best-checkpoint
    choice."""

    def __init__(self, checkpoint_dir: Path, every_n_steps: int, val_every_n_steps: int, keep_every_n_steps: int = 0):
        self.checkpoint_dir = Path(checkpoint_dir)
        self.every_n_steps, self.val_every_n_steps, self.keep_every_n_steps = every_n_steps, val_every_n_steps, keep_every_n_steps
        self.saved_step = -1

    def due(self, step: int) -> bool:
        return step > 0 and (step % self.every_n_steps == 0 or bool(self.keep_every_n_steps) and step % self.keep_every_n_steps == 0)

    def save(self, trainer) -> None:
        step = trainer.global_step
        if step == self.saved_step:
            return
        trainer.save_checkpoint(self.checkpoint_dir / "last.ckpt", weights_only=False)  # with the optimizer state
        self.saved_step = step
        if self.keep_every_n_steps and step % self.keep_every_n_steps == 0 and trainer.is_global_zero:
            kept = self.checkpoint_dir / f"step={step:06d}.ckpt"
            shutil.copyfile(self.checkpoint_dir / "last.ckpt", kept.with_name(f".{kept.name}.partial"))
            os.replace(kept.with_name(f".{kept.name}.partial"), kept)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        step_just_taken = (batch_idx + 1) % trainer.accumulate_grad_batches == 0
        validates_now = trainer.enable_validation and step % self.val_every_n_steps == 0
        if step_just_taken and self.due(step) and not validates_now:
            self.save(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking and self.due(trainer.global_step):
            self.save(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self.save(trainer)


def checkpoint_problem(path: Path) -> str | None:
    """Why `path` is no checkpoint to resume from (unreadable, truncated, not a training checkpoint), or None."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # torch raises RuntimeError, pickle and zip errors, EOFError, ...
        return f"cannot be read ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no details'})"
    if not isinstance(checkpoint, dict) or not {"global_step", "state_dict", "loops"} <= checkpoint.keys():
        return "is not a training checkpoint (no global_step, state_dict and loop state)"
    return None


def checkpoint_step(path: str | None) -> int:
    if path is None:
        return 0
    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


def resume_checkpoint(ckpt_path: str | None, checkpoint_dir: Path) -> str | None:
    """The checkpoint to resume from. `auto`: the newest of this run's last.ckpt / on_exception.ckpt that loads (one
    that does not is reported and passed over; none loading is an error, not a fresh start); None: none. Any other
    value is a file that must load."""
    if ckpt_path is None:
        return None
    if ckpt_path != "auto":
        path = Path(ckpt_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"train.ckpt_path={ckpt_path}: no such file")
        if problem := checkpoint_problem(path):
            raise ValueError(f"train.ckpt_path={ckpt_path} cannot be resumed from: it {problem}")
        return str(path)
    candidates = [p for p in (checkpoint_dir / "last.ckpt", checkpoint_dir / "on_exception.ckpt") if p.is_file()]
    problems = []
    for path in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        if problem := checkpoint_problem(path):
            log.warning(f"checkpoint {path} does not load (it {problem}); passing it over")
            problems.append(f"{path}: {problem}")
            continue
        log.warning(f"resuming from {path}" + (f" (newer checkpoints do not load: {'; '.join(problems)})" if problems else ""))
        return str(path)
    if problems:
        raise RuntimeError(
            f"no checkpoint in {checkpoint_dir} loads, so this run can neither resume nor silently start over:\n  "
            + "\n  ".join(problems)
            + "\nmove them away to start the run over, or name one with train.ckpt_path="
        )
    return None


class PauseAtStep(Callback):
    """Fault injection for tests: with XLMR_LIT_PAUSE_AT_STEP=N, once step N is done (logged, validated, checkpointed),
    touches XLMR_LIT_PAUSE_FILE and sleeps until killed or sent SIGTERM, so a test can stop the process at a known
    point."""

    def __init__(self, step: int, pause_file: Path):
        self.step, self.pause_file = step, pause_file

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            self.pause_file.write_text(str(os.getpid()))
            while not trainer.received_sigterm:
                time.sleep(0.1)


def fault_injection_callbacks() -> list[Callback]:
    step = os.environ.get(PAUSE_AT_STEP_ENV)
    return [PauseAtStep(int(step), Path(os.environ[PAUSE_FILE_ENV]))] if step else []
