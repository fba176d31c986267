"""`pretrain(cfg)`: pretrain a masked LM from raw multilingual text (task=pretrain)."""

import logging
import shutil
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from xlmr_lit.callbacks import run_callbacks
from xlmr_lit.checkpoints import (
    AtomicCheckpointIO,
    CheckpointOnException,
    FinishStepOnSigterm,
    GlobalRNGState,
    LastCheckpoint,
    StopOnNonFiniteLoss,
    checkpoint_step,
    fault_injection_callbacks,
    resume_checkpoint,
)
from xlmr_lit.config_checks import apply_init_architecture, untrained_report_groups
from xlmr_lit.convert import load_pretrained, load_state_dict_checked
from xlmr_lit.corpus import check_languages, language_file, resolve_languages
from xlmr_lit.datamodule import MaskedLMDataModule
from xlmr_lit.debug import OverfitBatches
from xlmr_lit.extend import extend_model, extends, extension_record
from xlmr_lit.hub_corpus import materialize_hub_corpus
from xlmr_lit.languages import BUNDLED_CORPUS_DIR, XLMR_LANGUAGES
from xlmr_lit.masked_lm_module import MaskedLMLitModule
from xlmr_lit.model import XLMRConfig
from xlmr_lit.prepare import PreparedCorpus, prepare_corpus
from xlmr_lit.report import format_outputs, format_results, format_sampling_table
from xlmr_lit.results import write_rows
from xlmr_lit.runs import build_loggers, start_run_dir, sweep_keys
from xlmr_lit.threads import loader_workers
from xlmr_lit.tokenizer import XLMRTokenizer

log = logging.getLogger(__name__)


def corpus_languages(cfg: DictConfig) -> tuple[Path, list[str]]:
    """The corpus directory (a hub corpus written there first) and the run's languages that it has."""
    corpus_dir = Path(cfg.data.corpus_dir).expanduser() if cfg.data.corpus_dir else BUNDLED_CORPUS_DIR
    languages = resolve_languages(cfg.data.languages)
    if cfg.data.hub.dataset:
        hub = cfg.data.hub
        corpus_dir = materialize_hub_corpus(
            hub.dataset,
            languages,
            Path(cfg.paths.cache_dir).expanduser(),
            config=hub.config,
            config_map=OmegaConf.to_container(hub.config_map),
            sources=OmegaConf.to_container(hub.sources),
            split=hub.split,
            text_field=hub.text_field,
            max_documents=hub.max_documents,
            hub_dir=hub.hub_dir,
            skip_missing=cfg.data.skip_missing_languages,
        )
    known = set(XLMR_LANGUAGES) | set(cfg.extend.languages)  # a language added to a model need not be one of XLM-R's
    return corpus_dir, check_languages(corpus_dir, languages, known, cfg.data.skip_missing_languages)


def prepare_data(cfg: DictConfig, spm_path: Path | None = None,
                 corpus: tuple[Path, list[str]] | None = None) -> PreparedCorpus:
    """Tokenizer and token shards for the run's languages; `spm_path` (e.g. from model.init) wins over config."""
    if spm_path is None and cfg.tokenizer.spm_path:
        spm_path = Path(cfg.tokenizer.spm_path).expanduser()
    corpus_dir, languages = corpus or corpus_languages(cfg)
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


def valid_pieces_per_char(info: dict) -> float | None:
    """Pieces per character of a language's validation text (</s> left out: it is never masked), from its
    shard's info.json; None for a shard written before info.json counted characters, or without validation text."""
    if not info.get("valid_chars"):
        return None
    return (info["valid_tokens"] - info["valid_lines"]) / info["valid_chars"]


def valid_unk_share(info: dict) -> float | None:
    """The share of a language's validation pieces that are <unk> (text its tokenizer does not cover)."""
    if "valid_unk" not in info or info["valid_tokens"] == info["valid_lines"]:
        return None
    return info["valid_unk"] / (info["valid_tokens"] - info["valid_lines"])


def short_block_steps(cfg: DictConfig) -> int:
    """Optimizer steps on short blocks (data.short_blocks): share_of_steps of trainer.max_steps."""
    return round(cfg.data.short_blocks.share_of_steps * cfg.trainer.max_steps)


ORDER_GAP_PLATEAU = 0.1  # nats


def on_plateau(results: dict, languages: list[str]) -> str | None:
    """A warning naming the languages whose order gauge reads below ORDER_GAP_PLATEAU, or None."""
    flat = [f"{lang} {results[f'val/order_gap_{lang}']:.2f}" for lang in languages
            if results.get(f"val/order_gap_{lang}", ORDER_GAP_PLATEAU) < ORDER_GAP_PLATEAU]
    if not flat:
        return None
    return (f"order gap below {ORDER_GAP_PLATEAU} nat in {', '.join(flat)}: shuffling the context hardly hurts, so the "
            f"model learned which pieces co-occur, not how they are ordered (the bag-of-words plateau), and fine-tuned "
            f"tasks that need word order will sit near chance. More text and steps leave it (scale=mini does); short "
            f"blocks first (data.short_blocks) get there sooner")


def last_validation_if_best(trainer: pl.Trainer, checkpointing: ModelCheckpoint) -> dict | None:
    """The metrics of this process's last validation when it scored the best checkpoint (the usual end of a run whose
    loss still falls), so that the closing table does not validate the same weights again; None otherwise."""
    metrics = trainer.callback_metrics
    best = checkpointing.best_model_score
    if best is None or "val/loss" not in metrics or float(metrics["val/loss"]) != float(best):
        return None
    return {key: float(value) for key, value in metrics.items() if key.startswith("val/")}


def pretraining_rows(results: dict, languages: list[str], keys: dict) -> list[dict]:
    """Per-language validation MLM loss as result rows (split `valid`), next to the fine-tuning rows: nats per
    masked piece (`mlm_loss`) and, where the shard counted characters, times pieces per character
    (`mlm_loss_per_char`), the unit in which points with different tokenizers compare; and the share of the
    validation pieces that are <unk> (`unk_share`), whose loss says nothing about the language."""
    rows = []
    for lang in languages:
        for metric, key in (("mlm_loss", f"val/loss_{lang}"), ("mlm_loss_per_char", f"val/loss_per_char_{lang}"),
                            ("unk_share", f"val/unk_share_{lang}"), ("order_gap", f"val/order_gap_{lang}"),
                            ("unigram_loss", f"val/unigram_loss_{lang}")):
            if key in results:
                rows.append({"task": "pretrain", "setting": "mlm", "selection": "single", "split": "valid",
                             "language": lang, "metric": metric, "value": results[key], "epoch": None, **keys})
    return rows


def pretrain(cfg: DictConfig, callbacks: list[Callback] | None = None) -> dict[str, float]:
    pl.seed_everything(cfg.seed, workers=True)
    init = load_pretrained(cfg.model.init) if cfg.model.init else None  # (config, state dict, spm path)
    checkpoint_dir = Path(cfg.paths.run_dir) / "checkpoints"
    resume_from = resume_checkpoint(cfg.train.ckpt_path, checkpoint_dir)  # a bad one is refused before any work
    corpus_dir, languages = corpus_languages(cfg)
    extension = extension_record(cfg.model.init) if cfg.model.init else None  # carried on by continued pretraining
    if extends(cfg):  # extend.languages: their pieces and embedding rows added to model.init's (xlmr_lit/extend.py)
        files = {lang: language_file(corpus_dir, lang) for lang in cfg.extend.languages}
        init, extension = extend_model(cfg, init, files, Path(cfg.paths.cache_dir).expanduser())
    init_config = apply_init_architecture(cfg, init[0]) if init else None
    run_dir = start_run_dir(cfg)
    corpus = prepare_data(cfg, spm_path=init[2] if init else None, corpus=(corpus_dir, languages))
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
        num_workers=loader_workers(cfg.data.num_workers),
        mask_prob=cfg.data.mask_prob,
        random_token_prob=cfg.data.random_token_prob,
        leave_unmasked_prob=cfg.data.leave_unmasked_prob,
        short_tokens_per_sample=cfg.data.short_blocks.tokens_per_sample,
        short_steps=short_block_steps(cfg),
        valid_max_tokens=cfg.data.valid_max_tokens,
    )
    if datamodule.short_steps:
        log.info("blocks of %d tokens for steps 1-%d, then of %d (data.short_blocks)",
                 cfg.data.short_blocks.tokens_per_sample, datamodule.short_steps, cfg.data.tokens_per_sample)
    log.info("language sampling (alpha=%s):\n%s", cfg.data.alpha, format_sampling_table(datamodule.sampling_table()))
    for warning in untrained_report_groups(cfg.data.report_groups, corpus.languages):
        log.warning(warning)
    unigram_losses = datamodule.valid_unigram_losses()
    tokens_per_step = datamodule.tokens_per_step  # the progress bar's tok/s (the block length changes with the step)
    if cfg.train.overfit_batches:
        datamodule = OverfitBatches(datamodule, cfg.train.overfit_batches * accumulate)

    config = model_config(cfg, tokenizer.vocab_size)
    if init:  # the architecture comes from the checkpoint; dropout stays a fine-tuning choice
        config = init_config
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
        valid_pieces_per_char=[valid_pieces_per_char(corpus.info(lang)) for lang in corpus.languages],
        valid_unigram_losses=unigram_losses,
        extension=extension,
    )
    if init:
        load_state_dict_checked(module.model, init[1], cfg.model.init)

    checkpointing = ModelCheckpoint(
        dirpath=checkpoint_dir, filename="best", monitor="val/loss", mode="min", enable_version_counter=False
    )
    last = LastCheckpoint(checkpoint_dir, cfg.train.checkpoint_every_n_steps, cfg.train.val_every_n_steps,
                          cfg.callbacks.model_checkpoint.keep_every_n_steps)
    trainer = pl.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        accumulate_grad_batches=accumulate,
        val_check_interval=cfg.train.val_every_n_steps * accumulate,
        check_val_every_n_epoch=None,
        use_distributed_sampler=False,  # AlphaBlockSampler splits the data across ranks itself
        logger=build_loggers(cfg, run_dir, resume_step=checkpoint_step(resume_from)),
        callbacks=[StopOnNonFiniteLoss("val/loss", checkpoint_dir), checkpointing, last,
                   CheckpointOnException(checkpoint_dir), FinishStepOnSigterm(), GlobalRNGState(), *(callbacks or []),
                   *fault_injection_callbacks(),
                   *run_callbacks(cfg, "val/loss", "min", tokens_per_step)],
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
    )
    if cfg.train.validate_at_start and resume_from is None:  # step 0: model.init before any continued pretraining
        trainer.validate(module, datamodule, verbose=False)
        for metric in (module.val_loss, module.val_shuffled_loss):  # made again outside inference mode, which fit's
            metric.reset()                                           # validation updates them in
    trainer.fit(module, datamodule, ckpt_path=resume_from, weights_only=True)

    if checkpointing.best_model_path:
        best = Path(checkpointing.best_model_path)
        results = last_validation_if_best(trainer, checkpointing)
        if results is None:  # validate best.ckpt again, unlogged: the history of a run resumed after its best
            loggers, trainer.loggers = trainer.loggers, []  # validation must match that of a run that went through
            try:
                results = trainer.validate(module, datamodule, ckpt_path=best, verbose=False, weights_only=True)[0]
            finally:
                trainer.loggers = loggers
    else:  # the run ended before its first validation: its final weights are the best there are
        results = trainer.validate(module, datamodule, verbose=False, weights_only=True)[0]
        best = checkpoint_dir / "best.ckpt"
        trainer.save_checkpoint(best, weights_only=False)
    results["checkpoint"] = str(best.resolve())
    results["languages"] = corpus.languages
    shares = {lang: valid_unk_share(corpus.info(lang)) for lang in corpus.languages}
    results |= {f"val/unk_share_{lang}": share for lang, share in shares.items() if share is not None}
    if trainer.is_global_zero:
        write_rows(pretraining_rows(results, corpus.languages, sweep_keys(cfg)), run_dir)
        table = format_results(results, corpus.languages, cfg.data.report_groups, str(best))
        log.info(f"{table}\n{format_outputs(run_dir)}")
        plateau = on_plateau(results, corpus.languages)
        if plateau:
            log.warning(plateau)
    return results
