"""`finetune(cfg)`: fine-tune a pretrained encoder on a benchmark and report per-language scores.

Selected with `task=<name>` on the `xlmr-train` entry point. Each task module under
`xlmr_lit/tasks/` provides `load_splits`, `featurize`, `score` and its LightningModule class.
"""

import dataclasses
import functools
import hashlib
import logging
import math
import shutil
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from xlmr_lit.callbacks import run_callbacks
from xlmr_lit.checkpoints import (
    AtomicCheckpointIO,
    CheckpointOnException,
    GlobalRNGState,
    StopOnNonFiniteLoss,
    checkpoint_step,
    fault_injection_callbacks,
    resume_checkpoint,
)
from xlmr_lit.config_checks import ConfigError, apply_hf_init_architecture, apply_init_architecture
from xlmr_lit.convert import load_pretrained, load_state_dict_checked
from xlmr_lit.corpus import resolve_languages
from xlmr_lit.debug import OverfitBatches
from xlmr_lit.hf_encoder import NATIVE_MODEL_TYPE, config_dict, load_transformers_init, task_state_dict
from xlmr_lit.report import format_outputs
from xlmr_lit.results import format_table, selection_rows, write_rows
from xlmr_lit.tasks import glue, ner, qa, xnli
from xlmr_lit.prepare import file_sha256
from xlmr_lit.recipes import apply_recipe, describe
from xlmr_lit.runs import build_loggers, start_run_dir
from xlmr_lit.tasks.features import ResumableShuffleSampler, TaskSplits, cached_features, eval_loader, train_loader
from xlmr_lit.tasks.udhr_standins import standin_dir
from xlmr_lit.threads import loader_workers
from xlmr_lit.tokenizer import XLMR_SPECIALS, XLMRTokenizer

log = logging.getLogger(__name__)

TASKS = {"xnli": xnli, "glue": glue, "ner": ner, "qa": qa}
HEADS = ("classifier.", "qa_outputs.")


class FineTuneDataModule(pl.LightningDataModule):
    """Cached features for the training set and every (split, language) evaluation set."""

    def __init__(self, train_set, eval_sets: list, batch_size: int, eval_batch_size: int, seed: int, num_workers: int,
                 samples_per_epoch: int | None = None, specials=XLMR_SPECIALS):
        super().__init__()
        self.train_set, self.eval_sets, self.samples_per_epoch = train_set, eval_sets, samples_per_epoch
        self.batch_size, self.eval_batch_size, self.seed, self.num_workers = batch_size, eval_batch_size, seed, num_workers
        self.specials = specials  # the tokenizer's padding and framing

    def train_dataloader(self):
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        sampler = ResumableShuffleSampler(self.train_set, self.seed, rank, world, self.samples_per_epoch)
        if trainer is not None and trainer.global_step > 0:  # resuming: the epoch and its steps done follow from the step
            epoch, steps_done = divmod(trainer.global_step, math.ceil(len(sampler) / self.batch_size))
            sampler.resume_from(epoch, steps_done * self.batch_size)
        return train_loader(self.train_set, self.batch_size, sampler, self.num_workers, self.specials)

    def val_dataloader(self):
        return [eval_loader(ds, self.eval_batch_size, self.num_workers, self.specials) for ds in self.eval_sets]


def tokenizer_fingerprint(tokenizer_dir: Path, tokenizer) -> str:
    """A transformers tokenizer's identity for the feature cache: its saved files, framing and language ids."""
    digest = hashlib.sha256()
    for path in sorted(p for p in tokenizer_dir.iterdir() if p.is_file()):
        digest.update(f"{path.name}:{file_sha256(path)};".encode())
    digest.update(repr((dataclasses.astuple(tokenizer.specials), tokenizer.lang2id)).encode())
    return digest.hexdigest()


def features_cache_spec(task_cfg: DictConfig, splits: TaskSplits, spm_path: Path, tokenizer: str | None = None) -> dict:
    """What a task's cached features depend on: where the examples came from (files, or the hub or a local copy of it
    under task.hub_dir), the tokenizer (XLM-R's SentencePiece model, or a transformers tokenizer's fingerprint) and
    the length. feature_layout is bumped when feature columns change."""
    hub_dir = None if task_cfg.get("data_dir") else task_cfg.get("hub_dir")
    tokenizer_key = {"tokenizer": tokenizer} if tokenizer else {"spm": file_sha256(spm_path)}
    return {"task": task_cfg.name, "sources": splits.sources, **tokenizer_key,
            "max_length": task_cfg.max_length, "feature_layout": 2,
            **({"hub_dir": str(Path(hub_dir).expanduser().resolve())} if hub_dir else {})}


def finetune(
    cfg: DictConfig, callbacks: list[Callback] | None = None, loggers: list | None = None, row_keys: dict | None = None
) -> list[dict]:
    t = cfg.task
    if t.name not in TASKS:
        raise ValueError(f"task={t.name!r} is not a fine-tuning task; known: pretrain, {', '.join(TASKS)}")
    if not cfg.model.init:
        raise ValueError(
            f"task={t.name} fine-tunes a pretrained encoder: set model.init= to one of our checkpoints "
            f"(outputs/.../checkpoints/best.ckpt), hf:<dir or hub id> or fairseq:<dir>"
        )
    pl.seed_everything(cfg.seed, workers=True)
    standin = bool(t.get("udhr_standin") and not t.get("data_dir"))
    recipe = OmegaConf.to_container(t.standin_recipe, resolve=True) if standin else {}
    t = OmegaConf.merge(t, recipe)
    if t.get("dropout") is not None:  # e.g. scale=mini pretrains without dropout and fine-tunes with it
        cfg.model.hidden_dropout_prob = cfg.model.attention_probs_dropout_prob = t.dropout
    transformers_init = load_transformers_init(cfg.model.init)  # None: XLM-R-shaped, our own encoder
    if transformers_init is None:
        config, state_dict, spm_path = load_pretrained(cfg.model.init)
        model_type = NATIVE_MODEL_TYPE
    else:
        transformers_config, state_dict, tokenizer = transformers_init
        model_type = transformers_config.model_type
    if not t.train and not any(key.startswith(HEADS) for key in state_dict):
        raise ValueError(f"task.train=false scores model.init as it is, so it must be fine-tuned on task={t.name} "
                         f"(e.g. a fine-tuning run's checkpoints/best.ckpt); {cfg.model.init} has no task head "
                         f"({' or '.join(h.rstrip('.') for h in HEADS)} weights)")
    if transformers_init is None:
        model_config = apply_init_architecture(cfg, config)  # the checkpoint's architecture, cfg's dropout
        module_args = {"model_config": vars(model_config)}
    else:
        apply_hf_init_architecture(cfg, transformers_config)
        module_args = {"model_config": {"hidden_dropout_prob": cfg.model.hidden_dropout_prob},
                       "hf_config": config_dict(transformers_config),
                       "specials": dataclasses.asdict(tokenizer.specials)}
    run_dir = start_run_dir(cfg)
    checkpoint_dir = run_dir / "checkpoints"
    resume_from = resume_checkpoint(cfg.train.ckpt_path, checkpoint_dir) if t.train else None  # refused before any work
    if transformers_init is None:
        spm_copy = run_dir / "tokenizer" / "sentencepiece.bpe.model"
        spm_copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(spm_path, spm_copy)
        tokenizer, tokenizer_key = XLMRTokenizer(spm_copy), None
    else:
        spm_copy = None
        tokenizer.save(run_dir / "tokenizer")
        tokenizer_key = tokenizer_fingerprint(run_dir / "tokenizer", tokenizer)

    task = TASKS[t.name]
    languages = resolve_languages(t.languages, key="task.languages")
    cache_dir = Path(cfg.paths.cache_dir).expanduser()
    if standin:
        t = OmegaConf.merge(t, {"data_dir": str(standin_dir(t, languages, cache_dir))})
        log.info(f"task.udhr_standin=true: {t.name} stand-in from the bundled UDHR text in {t.data_dir}, with the "
                 f"stand-in recipe task.standin_recipe ({', '.join(f'{k}={v}' for k, v in recipe.items())}) "
                 f"in place of task.{', task.'.join(recipe)}")
    if t.get("recipe") is not None:
        cfg, t = apply_recipe(cfg, t)
        log.info(describe(t))
    splits = task.load_splits(t, languages, cfg.seed)
    if tokenizer.lang2id:  # XLM's language embeddings: every language read must have one, before any work
        read = {e.language for e in splits.train} | {lang for _, lang in splits.evals}
        if missing := sorted(read - set(tokenizer.lang2id)):
            raise ConfigError(f"model.init={cfg.model.init} has language embeddings for {' '.join(tokenizer.lang2id)}, "
                              f"not for {' '.join(missing)} (task.languages / task.train_language)")
    base_spec = features_cache_spec(t, splits, spm_copy, tokenizer_key)

    def features(name: str, examples: list):
        if not examples:
            raise ValueError(f"task={t.name}: the {name} set is empty (check the files or task.languages)")
        return cached_features({**base_spec, "set": name, "n": len(examples)}, cache_dir,
                               lambda: task.featurize(examples, tokenizer, splits.labels, t.max_length))

    train_set = features(f"train[{t.setting}]", splits.train) if t.train else []
    eval_names = list(splits.evals)
    eval_sets = [features(f"{split}/{lang}", splits.evals[(split, lang)]) for split, lang in eval_names]
    batches_per_epoch = t.get("batches_per_epoch")
    samples_per_epoch = batches_per_epoch * t.batch_size if batches_per_epoch else None
    datamodule = FineTuneDataModule(train_set, eval_sets, t.batch_size, t.eval_batch_size, cfg.seed,
                                    loader_workers(cfg.data.num_workers), samples_per_epoch, tokenizer.specials)
    if cfg.train.overfit_batches:
        datamodule = OverfitBatches(datamodule, cfg.train.overfit_batches)
    log.info(f"{t.name} ({t.setting}): {len(train_set) if t.train else 'no'} training examples, eval sets: "
             + ", ".join(f"{s}/{l}={len(d)}" for (s, l), d in zip(eval_names, eval_sets)))

    total_steps = t.epochs * (batches_per_epoch or math.ceil(len(train_set) / t.batch_size))
    module = task.MODULE(
        **module_args, labels=splits.labels, eval_sets=eval_names, metric=splits.metric,
        lr=t.lr, weight_decay=t.weight_decay, warmup_ratio=t.warmup_ratio, total_steps=total_steps,
        warmup_steps=t.get("warmup_steps"), adam_betas=tuple(t.get("adam_betas") or (0.9, 0.98)),
        adam_eps=t.get("adam_eps") or 1e-6,
        score_fn=functools.partial(task.score, **splits.score_options),
    )
    if transformers_init is not None:
        state_dict = task_state_dict(module.model, state_dict)
    load_state_dict_checked(
        module.model, state_dict, cfg.model.init,
        allow_missing=HEADS,
        allow_unexpected=("roberta.pooler.", "roberta.embeddings.position_ids", "lm_head."),
    )

    checkpointing = ModelCheckpoint(
        dirpath=checkpoint_dir, filename="best", monitor=f"dev/avg_{splits.metric}", mode="max",
        save_last=True, enable_version_counter=False,
    )
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_args.update(max_steps=-1, max_epochs=t.epochs)
    trainer = pl.Trainer(
        **trainer_args,
        check_val_every_n_epoch=1,
        logger=loggers if loggers is not None else build_loggers(cfg, run_dir, resume_step=checkpoint_step(resume_from)),
        callbacks=[*([StopOnNonFiniteLoss(f"dev/avg_{splits.metric}", checkpoint_dir), checkpointing,
                      CheckpointOnException(checkpoint_dir), GlobalRNGState()] if t.train else []),
                   *(callbacks or []), *fault_injection_callbacks(), *run_callbacks(cfg, f"dev/avg_{splits.metric}", "max")],
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
    )
    if t.train:
        trainer.fit(module, datamodule, ckpt_path=resume_from, weights_only=True)
    else:
        trainer.validate(module, datamodule, verbose=False)

    run_keys = {"init": cfg.model.init, "encoder": model_type, "seed": cfg.seed, "lr": t.lr if t.train else None,
                "train_language": t.get("train_language") if t.train else None, "udhr_standin": standin, "trained": t.train,
                "recipe": t.get("recipe") if t.train else None}
    run_keys.update(row_keys or {})
    rows = selection_rows(module.history, splits.metric, t.name, t.setting, run_keys)
    if trainer.is_global_zero:
        write_rows(rows, run_dir)
        for logger in trainer.loggers:
            if hasattr(logger, "log_table"):
                columns = list(rows[0]) if rows else []
                logger.log_table("results", columns=columns, data=[[r[c] for c in columns] for r in rows])
        split = "test" if any(r["split"] == "test" for r in rows) else "dev"  # GLUE test labels are hidden
        table = format_table([{**r, "run": run_dir.name} for r in rows], split=split)
        if t.train:
            log.info(f"{t.name} ({t.setting}), {split} scores:\n{table}\n{format_outputs(run_dir)}\n"
                     f"  best.ckpt is the epoch with the best mean dev score (the `single` selection)")
        else:
            log.info(f"{t.name}, {split} scores of {cfg.model.init} as it is (task.train=false):\n{table}\n"
                     f"{format_outputs(run_dir)}")
    return rows
