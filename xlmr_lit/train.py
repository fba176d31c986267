"""`train(cfg)`: pretrain a masked LM from raw multilingual text; `main` is the thin Hydra entry point."""

import dataclasses
import json
import logging
import os
import shutil
import traceback
from pathlib import Path

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, OnExceptionCheckpoint
from pytorch_lightning.loggers import CSVLogger, WandbLogger

from xlmr_lit.convert import load_pretrained, load_state_dict_checked
from xlmr_lit.corpus import check_languages, resolve_languages
from xlmr_lit.datamodule import MaskedLMDataModule
from xlmr_lit.hub_corpus import materialize_hub_corpus
from xlmr_lit.languages import BUNDLED_CORPUS_DIR, XLMR_LANGUAGES
from xlmr_lit.masked_lm_module import MaskedLMLitModule
from xlmr_lit.model import XLMRConfig
from xlmr_lit.prepare import PreparedCorpus, cache_key, prepare_corpus
from xlmr_lit.report import format_results, format_sampling_table
from xlmr_lit.results import write_rows
from xlmr_lit.tokenizer import XLMRTokenizer

log = logging.getLogger(__name__)
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def prepare_data(cfg: DictConfig, spm_path: Path | None = None) -> PreparedCorpus:
    """Tokenizer and token shards for the run's languages; `spm_path` (e.g. from model.init) wins over config."""
    if spm_path is None and cfg.tokenizer.spm_path:
        spm_path = Path(cfg.tokenizer.spm_path).expanduser()
    corpus_dir = Path(cfg.data.corpus_dir).expanduser() if cfg.data.corpus_dir else BUNDLED_CORPUS_DIR
    languages = resolve_languages(cfg.data.languages, cfg.language_sets)
    if cfg.data.hub.dataset:
        hub = cfg.data.hub
        corpus_dir = materialize_hub_corpus(
            hub.dataset,
            languages,
            Path(cfg.paths.cache_dir).expanduser(),
            config=hub.config,
            config_map=dict(hub.config_map),
            split=hub.split,
            text_field=hub.text_field,
            max_documents=hub.max_documents,
        )
    languages = check_languages(corpus_dir, languages, set(XLMR_LANGUAGES), cfg.data.skip_missing_languages)
    return prepare_corpus(
        corpus_dir,
        languages,
        Path(cfg.paths.cache_dir).expanduser(),
        spm_path=spm_path,
        vocab_size=cfg.tokenizer.vocab_size,
        model_type=cfg.tokenizer.model_type,
        sample_lines=cfg.tokenizer.sample_lines,
        character_coverage=cfg.tokenizer.character_coverage,
        alpha=cfg.tokenizer.alpha,
        seed=cfg.seed,
        valid_every=cfg.data.valid_every,
        valid_max_tokens=cfg.data.valid_max_tokens,
        num_proc=cfg.data.num_proc,
        skip_undecodable=cfg.data.skip_undecodable,
    )


def model_config(cfg: DictConfig, vocab_size: int) -> XLMRConfig:
    m = cfg.model
    return XLMRConfig(
        vocab_size=vocab_size,
        hidden_size=m.hidden_size,
        num_hidden_layers=m.num_hidden_layers,
        num_attention_heads=m.num_attention_heads,
        intermediate_size=m.intermediate_size or 4 * m.hidden_size,
        max_position_embeddings=m.max_position_embeddings,
        hidden_dropout_prob=m.hidden_dropout_prob,
        attention_probs_dropout_prob=m.attention_probs_dropout_prob,
    )


def gradient_accumulation(global_batch: int, micro_batch: int, world_size: int) -> int:
    per_pass = micro_batch * world_size
    if global_batch % per_pass:
        raise ValueError(
            f"train.global_batch_size={global_batch} is not a multiple of data.micro_batch_size={micro_batch} "
            f"x {world_size} device(s) = {per_pass}"
        )
    return global_batch // per_pass


def num_devices(trainer_cfg: DictConfig) -> int:
    """Processes per node that `pl.Trainer(devices=...)` will start: an int, a list of ids, or auto / -1."""
    devices = trainer_cfg.devices
    if isinstance(devices, int) and devices > 0:
        return devices
    if OmegaConf.is_list(devices) or isinstance(devices, list | tuple):
        return len(devices)
    if str(devices).isdigit():
        return int(devices)
    if trainer_cfg.accelerator in ("gpu", "cuda", "auto"):
        import torch

        return max(torch.cuda.device_count(), 1)
    return 1


def resume_checkpoint(ckpt_path: str | None, checkpoint_dir: Path) -> str | None:
    """`auto`: the newest of last.ckpt / on_exception.ckpt in this run's checkpoint dir, if any."""
    if ckpt_path != "auto":
        return ckpt_path
    candidates = [p for p in (checkpoint_dir / "last.ckpt", checkpoint_dir / "on_exception.ckpt") if p.is_file()]
    return str(max(candidates, key=lambda p: p.stat().st_mtime)) if candidates else None


def build_loggers(cfg: DictConfig, run_dir: Path) -> list:
    loggers = [CSVLogger(save_dir=run_dir, name="csv", version="")]
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
    return loggers


def train(cfg: DictConfig, callbacks: list[Callback] | None = None):
    """Pretraining (task=pretrain, the default); any other task fine-tunes (xlmr_lit/finetune.py).

    With a `downstream` task (`+task@downstream=xnli`), pretraining is followed by fine-tuning its
    best checkpoint in `<run_dir>/finetune`: one job per ablation point. `downstream.init` set (the
    tables' experiments) fine-tunes that encoder instead, with no pretraining; so does a point whose
    pretraining settings match a complete earlier run's (`train.reuse_pretraining`).
    """
    from xlmr_lit.finetune import finetune

    if cfg.task.name != "pretrain":
        return finetune(cfg, callbacks)
    if cfg.get("downstream") and cfg.downstream.get("init"):
        return finetune(downstream_config(cfg, cfg.downstream.init), callbacks, row_keys=sweep_keys(cfg))
    shared = shared_pretraining(cfg) if cfg.get("downstream") and cfg.train.reuse_pretraining else None
    if shared:
        results, languages = shared
        log.info(f"pretraining: reusing {results['checkpoint']}, a complete run with the same pretraining settings")
        write_rows(pretraining_rows(results, languages, sweep_keys(cfg)), start_run_dir(cfg))
    else:
        results = pretrain(cfg, callbacks)
    if cfg.get("downstream"):
        results["downstream"] = finetune(downstream_config(cfg, results["checkpoint"]), row_keys=sweep_keys(cfg))
    return results


PRETRAINING_SETTINGS = ("seed", "language_sets", "data", "tokenizer", "model", "optim", "train", "trainer")


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


def pretraining_rows(results: dict, languages: list[str], keys: dict) -> list[dict]:
    """Per-language validation MLM loss as result rows (split `valid`), next to the fine-tuning rows."""
    return [
        {"task": "pretrain", "setting": "mlm", "selection": "single", "split": "valid", "language": lang,
         "metric": "mlm_loss", "value": results[f"val/loss_{lang}"], "epoch": None, **keys}
        for lang in languages
    ]


def start_run_dir(cfg: DictConfig) -> Path:
    """The run directory, with the fully resolved config saved in it."""
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return run_dir


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


def sweep_keys(cfg: DictConfig) -> dict:
    """What identifies an ablation point in its result rows: the scale and the job's overrides."""
    from hydra.core.hydra_config import HydraConfig

    keys = {"scale": cfg.get("scale_name")}
    if HydraConfig.initialized():
        for override in HydraConfig.get().overrides.task:
            key, _, value = override.lstrip("+~").partition("=")
            keys[f"override.{key}"] = value
    return keys


def pretrain(cfg: DictConfig, callbacks: list[Callback] | None = None) -> dict[str, float]:
    pl.seed_everything(cfg.seed, workers=True)
    run_dir = start_run_dir(cfg)

    init = load_pretrained(cfg.model.init) if cfg.model.init else None  # (config, state dict, spm path)
    corpus = prepare_data(cfg, spm_path=init[2] if init else None)
    spm_copy = run_dir / "tokenizer" / "sentencepiece.bpe.model"
    spm_copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(corpus.tokenizer_path, spm_copy)
    tokenizer = XLMRTokenizer(spm_copy)

    world_size = num_devices(cfg.trainer) * cfg.trainer.num_nodes
    accumulate = gradient_accumulation(cfg.train.global_batch_size, cfg.data.micro_batch_size, world_size)
    datamodule = MaskedLMDataModule(
        corpus,
        mask_id=tokenizer.mask_id,
        tokens_per_sample=cfg.data.tokens_per_sample,
        micro_batch_size=cfg.data.micro_batch_size,
        global_batch_size=cfg.train.global_batch_size,
        alpha=cfg.data.alpha,
        seed=cfg.seed,
        samples_per_epoch=cfg.data.samples_per_epoch,
        num_workers=cfg.data.num_workers,
        mask_prob=cfg.data.mask_prob,
        random_token_prob=cfg.data.random_token_prob,
        leave_unmasked_prob=cfg.data.leave_unmasked_prob,
    )
    log.info("language sampling (alpha=%s):\n%s", cfg.data.alpha, format_sampling_table(datamodule.sampling_table()))

    config = model_config(cfg, tokenizer.vocab_size)
    if init:  # the architecture comes from the checkpoint; dropout stays a fine-tuning choice
        config = dataclasses.replace(
            init[0],
            hidden_dropout_prob=cfg.model.hidden_dropout_prob,
            attention_probs_dropout_prob=cfg.model.attention_probs_dropout_prob,
        )
    module = MaskedLMLitModule(
        model_config=vars(config),
        languages=corpus.languages,
        tokenizer_path=str(spm_copy),
        lr=cfg.optim.lr,
        betas=tuple(cfg.optim.betas),
        eps=cfg.optim.eps,
        weight_decay=cfg.optim.weight_decay,
        warmup_steps=cfg.optim.warmup_steps,
        total_steps=cfg.trainer.max_steps,
        report_groups=OmegaConf.to_container(cfg.data.report_groups),
        compile=cfg.train.compile,
    )
    if init:
        load_state_dict_checked(module.model, init[1], cfg.model.init)

    checkpoint_dir = run_dir / "checkpoints"
    checkpointing = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best",
        monitor="val/loss",
        mode="min",
        save_last=True,
        every_n_train_steps=cfg.train.checkpoint_every_n_steps,
        enable_version_counter=False,
    )
    trainer = pl.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        accumulate_grad_batches=accumulate,
        val_check_interval=cfg.train.val_every_n_steps * accumulate,
        check_val_every_n_epoch=None,
        use_distributed_sampler=False,  # AlphaBlockSampler splits the data across ranks itself
        logger=build_loggers(cfg, run_dir),
        callbacks=[checkpointing, OnExceptionCheckpoint(checkpoint_dir), *(callbacks or [])],
        default_root_dir=run_dir,
    )
    trainer.fit(module, datamodule, ckpt_path=resume_checkpoint(cfg.train.ckpt_path, checkpoint_dir), weights_only=True)

    best = checkpointing.best_model_path or checkpointing.last_model_path
    results = trainer.validate(module, datamodule, ckpt_path=best or None, verbose=False, weights_only=True)[0]
    results["checkpoint"] = str(Path(best).resolve()) if best else best
    if trainer.is_global_zero:
        write_rows(pretraining_rows(results, corpus.languages, sweep_keys(cfg)), run_dir)
        if best:
            record_pretraining(cfg, results, corpus.languages)
        print(format_results(results, corpus.languages, cfg.data.report_groups, best))
        print(f"run directory: {run_dir}")
        print(f"  resolved config  {run_dir / 'config_resolved.yaml'}")
        print(f"  checkpoints      {checkpoint_dir} (last.ckpt, best.ckpt)")
        print(f"  CSV metrics      {run_dir / 'csv' / 'metrics.csv'}")
        if cfg.logger.wandb.mode != "disabled":
            print(f"  wandb ({cfg.logger.wandb.mode}) {run_dir / 'wandb'}")
    return results


DONE_FILE, FAILED_FILE = "DONE", "FAILED"


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Marks the run dir DONE or FAILED; in a sweep, done points are skipped and a failing point
    does not stop the others (`sweep_report.ReportFailedPoints` lists failures at the end)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    run_dir = Path(cfg.paths.run_dir)
    if (run_dir / DONE_FILE).is_file():
        log.info(f"{run_dir} is complete ({DONE_FILE} exists): skipping")
        return None
    try:
        results = train(cfg)
    except Exception:
        finish_wandb_run(exit_code=1)
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / FAILED_FILE).write_text(traceback.format_exc())
        log.exception(f"this sweep point failed; the sweep goes on (details in {run_dir / FAILED_FILE})")
        return None
    finish_wandb_run(exit_code=0)
    (run_dir / FAILED_FILE).unlink(missing_ok=True)
    (run_dir / DONE_FILE).write_text("")
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
