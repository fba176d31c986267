"""A sweep point as one job: pretrain (or reuse an identical earlier pretraining), then fine-tune its best
checkpoint on the `downstream` task; DONE / FAILED markers let a re-run sweep skip or retry points."""

import json
import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_only

from xlmr_lit.config_checks import ARCHITECTURE_KEYS
from xlmr_lit.finetune import finetune
from xlmr_lit.prepare import cache_key
from xlmr_lit.pretrain import pretrain, pretraining_rows
from xlmr_lit.results import write_rows
from xlmr_lit.runs import start_run_dir, sweep_keys

log = logging.getLogger(__name__)
DONE_FILE, FAILED_FILE, REFUSED_FILE, STARTED_FILE = "DONE", "FAILED", "REFUSED", "STARTED"
PRETRAINING_SETTINGS = ("seed", "data", "tokenizer", "model", "optim", "train", "trainer")


def pretrain_then_finetune(cfg: DictConfig, callbacks: list[Callback] | None = None):
    """Pretraining; with a `downstream` task (`+task@downstream=xnli`), followed by fine-tuning its best
    checkpoint in `<run_dir>/finetune`: one job per ablation point. `downstream.init` set (the tables'
    experiments) fine-tunes that encoder instead, with no pretraining; so does a point whose pretraining
    settings match a complete earlier run's (`train.reuse_pretraining`).
    """
    if cfg.get("downstream") and cfg.downstream.get("init"):
        return finetune(downstream_config(cfg, cfg.downstream.init), callbacks, row_keys=sweep_keys(cfg))
    shared = shared_pretraining(cfg) if cfg.get("downstream") and cfg.train.reuse_pretraining else None
    if shared:
        results, languages = shared
        log.info(f"pretraining: reusing {results['checkpoint']}, a complete run with the same pretraining settings")
        write_rows(pretraining_rows(results, languages, sweep_keys(cfg)), start_run_dir(cfg))
    else:
        results = pretrain(cfg, callbacks)
        if rank_zero_only.rank == 0:
            record_pretraining(cfg, results, results["languages"])
    if cfg.get("downstream"):
        results["downstream"] = finetune(downstream_config(cfg, results["checkpoint"]), row_keys=sweep_keys(cfg))
    return results


def pretraining_record(cfg: DictConfig) -> Path:
    """Where a complete pretraining with `cfg`'s settings is recorded; the key leaves out what only
    fine-tuning, logging and paths use, so the points of Table 2 (one model, five fine-tuning setups) agree."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    settings = {key: plain.get(key) for key in PRETRAINING_SETTINGS}
    settings["train"] = {k: v for k, v in settings["train"].items() if k not in ("ckpt_path", "reuse_pretraining")}
    return Path(cfg.paths.cache_dir).expanduser() / "pretrained" / f"{cache_key(settings)}.json"


def record_pretraining(cfg: DictConfig, results: dict, languages: list[str]) -> None:
    record = pretraining_record(cfg)
    record.parent.mkdir(parents=True, exist_ok=True)
    scratch = record.with_suffix(f".tmp-{os.getpid()}")
    scratch.write_text(json.dumps({"results": results, "languages": languages}))
    os.replace(scratch, record)


def shared_pretraining(cfg: DictConfig) -> tuple[dict, list[str]] | None:
    """(results, languages) of a recorded pretraining with the same settings whose checkpoint still exists."""
    record = pretraining_record(cfg)
    if not record.is_file():
        return None
    shared = json.loads(record.read_text())
    return (shared["results"], shared["languages"]) if Path(shared["results"]["checkpoint"]).is_file() else None


def downstream_config(cfg: DictConfig, checkpoint: str) -> DictConfig:
    """The fine-tuning job's config: `downstream` becomes `task`; `downstream.seed`, if set, is its seed."""
    container = OmegaConf.to_container(cfg, resolve=True)
    container["task"] = container.pop("downstream")
    if container["task"].get("seed") is not None:
        container["seed"] = container["task"]["seed"]
    container["model"]["init"] = checkpoint
    container["paths"]["run_dir"] = str(Path(cfg.paths.run_dir) / "finetune")
    container["train"]["ckpt_path"] = "auto"
    return OmegaConf.create(container)


# What a DONE marker leaves out of a run's settings: where things are written, how fast and how verbosely it runs, and
# the resume checkpoint; none of them changes the results. Every other resolved key must match for a rerun to skip it.
NOT_SETTINGS = ("paths.", "threads", "logger.", "language_sets.", "train.ckpt_path", "data.num_workers", "data.num_proc",
                "trainer.enable_progress_bar", "trainer.enable_model_summary")


def run_settings(cfg: DictConfig) -> dict:
    """The run's resolved config as flat `key: value` pairs, without NOT_SETTINGS."""
    flat = {}

    def walk(node, prefix: str) -> None:
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            name = f"{prefix}{key}"
            if isinstance(value, dict | list) and value:
                walk(value, f"{name}.")
            elif not any(name == skip or name.startswith(skip) for skip in NOT_SETTINGS):
                flat[name] = value

    container = OmegaConf.to_container(cfg, resolve=True)
    for task in (container.get("task"), container.get("downstream")):
        if isinstance(task, dict) and isinstance(task.get("recipes"), dict):  # only the recipe that runs is a setting
            selected = task.get("recipe")
            task["recipes"] = {selected: task["recipes"][selected]} if selected in task["recipes"] else None
    if not (container.get("extend") or {}).get("languages"):  # no extension: its other keys change nothing
        container.pop("extend", None)
    walk(container, "")
    return flat


def completed_run(run_dir: Path) -> dict | None:
    """What the DONE marker of `run_dir` records ({"settings": ..., "hydra_files": ...}), or None if not complete. A
    marker written before settings were recorded (empty) or damaged gives {}."""
    marker = run_dir / DONE_FILE
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text() or "{}")
    except json.JSONDecodeError:
        log.warning(f"{marker} cannot be read as the record of a complete run; its settings are not compared")
        return {}


def differing_settings(done: dict, cfg: DictConfig) -> list[str]:
    """`key: done value -> this value` for every setting in which `cfg` differs from the complete (or unfinished) run.
    With the same model.init, the architecture keys are left out: the checkpoint fixes them, and a run records them."""
    before, now = done.get("settings"), run_settings(cfg)
    if before is None:
        return []
    missing = object()
    from_init = {f"model.{key}" for key in ARCHITECTURE_KEYS} | {"tokenizer.vocab_size"}
    same_init = now.get("model.init") and before.get("model.init") == now.get("model.init")
    return [f"{key}: {before.get(key, '(unset)')!r} -> {now.get(key, '(unset)')!r}"
            for key in sorted(before.keys() | now.keys())
            if before.get(key, missing) != now.get(key, missing) and not (same_init and key in from_init)
            and not (key not in before and now[key] in (None, False, []))]  # a key added since the earlier run, left
                                                                              # null, false or empty: as it ran


def unfinished_run(run_dir: Path) -> dict | None:
    """What the attempt that left checkpoints in `run_dir` without finishing recorded ({"settings", "hydra_files"}, as
    DONE does, from its STARTED marker, or the settings of its config_resolved.yaml), or None if there is none."""
    if (run_dir / DONE_FILE).exists() or not list((run_dir / "checkpoints").glob("*.ckpt")):
        return None
    try:
        return json.loads((run_dir / STARTED_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        pass
    try:
        return {"settings": run_settings(OmegaConf.load(run_dir / "config_resolved.yaml"))}
    except Exception:  # no or damaged config: nothing to compare with
        return None


def mark_started(run_dir: Path, cfg: DictConfig) -> None:
    """STARTED, recording the settings an unfinished run is resumed with (and its .hydra/ files), compared by a rerun."""
    _write_record(run_dir, STARTED_FILE, cfg)


def restore_hydra_files(run_dir: Path, done: dict) -> None:
    """Put back the complete run's .hydra/ files, which Hydra rewrites for every job it starts in the directory."""
    for name, text in done.get("hydra_files", {}).items():
        (run_dir / ".hydra" / name).write_text(text)


def mark_done(run_dir: Path, cfg: DictConfig) -> None:
    """DONE, recording the run's settings (so a rerun with other settings is not skipped) and its .hydra/ files."""
    (run_dir / FAILED_FILE).unlink(missing_ok=True)
    (run_dir / REFUSED_FILE).unlink(missing_ok=True)
    _write_record(run_dir, DONE_FILE, cfg)
    (run_dir / STARTED_FILE).unlink(missing_ok=True)


def _write_record(run_dir: Path, name: str, cfg: DictConfig) -> None:
    hydra_dir = run_dir / ".hydra"
    hydra_files = {p.name: p.read_text() for p in sorted(hydra_dir.glob("*.yaml"))} if hydra_dir.is_dir() else {}
    run_dir.mkdir(parents=True, exist_ok=True)
    scratch = run_dir / f".{name}.tmp-{os.getpid()}"
    scratch.write_text(json.dumps({"settings": run_settings(cfg), "hydra_files": hydra_files}, indent=1, default=str))
    os.replace(scratch, run_dir / name)


def mark_failed(run_dir: Path, details: str) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / FAILED_FILE).write_text(details)
    return run_dir / FAILED_FILE
