"""One check of the whole composed config before any data preparation: `check_config(cfg)`.

Every numeric knob is checked for type and range, language names against the language sets and
XLM-R's codes, task settings against what each task implements, and paths that must exist. All
problems are reported at once, each naming the key, the value given and what is allowed.
`check_override_keys(argv)` runs before Hydra composes: a mistyped key gets "did you mean ...?".
"""

import codecs
import difflib
import math
import os
import re
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from xlmr_lit.corpus import SUFFIXES, CorpusError, resolve_languages
from xlmr_lit.languages import XLMR_LANGUAGES
from xlmr_lit.recipes import recipe_problems, task_recipe

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]+)?$")  # en, zh_Hant, hi_rom; never a path
TASK_SETTINGS = {
    "xnli": ("cross_lingual_transfer", "translate_train", "translate_train_all", "translate_test"),
    "ner": ("train_en", "train_each", "train_all"),
    "qa": ("cross_lingual_transfer",),
    "glue": None,  # setting is the GLUE task's name, checked through task.glue_task
}
ARCHITECTURE_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings")
MAN_PAGES_HINT = ("; scale=mini reads Debian's man pages, written there once by "
                  "`python -m xlmr_lit.man_page_corpus <dir>`")
PRECISIONS = ("32-true", "32", 32, "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "64", 64, "bf16", "16",
              16, "transformer-engine", "transformer-engine-float16")
MAGIC = {".gz": b"\x1f\x8b", ".xz": b"\xfd7zXZ\x00"}


class ConfigError(ValueError):
    """The composed config has values that cannot run; the message lists each one."""


class _Problems:
    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.lines: list[str] = []

    def value(self, key: str):
        try:
            return OmegaConf.select(self.cfg, key, throw_on_missing=True)
        except Exception as err:  # a missing ??? value or an interpolation that does not resolve
            self.lines.append(f"{key}: {err}".splitlines()[0])
            return None

    def bad(self, key: str, value, allowed: str) -> None:
        self.lines.append(f"{key}={value!r}: expected {allowed}")

    def integer(self, key: str, minimum: int | None = None, maximum: int | None = None, nullable: bool = False):
        value = self.value(key)
        if value is None and nullable:
            return None
        allowed = _range_text("an integer", minimum, maximum) + (" or null" if nullable else "")
        if not isinstance(value, int) or isinstance(value, bool) or not _within(value, minimum, maximum):
            self.bad(key, value, allowed)
            return None
        return value

    def number(self, key: str, low: float | None = None, high: float | None = None, low_open: bool = False,
               high_open: bool = False):
        value = self.value(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            self.bad(key, value, "a finite number" + _interval_text(low, high, low_open, high_open))
            return None
        if ok:
            ok = (low is None or (value > low if low_open else value >= low)) and (
                high is None or (value < high if high_open else value <= high))
        if not ok:
            self.bad(key, value, "a number" + _interval_text(low, high, low_open, high_open))
            return None
        return float(value)

    def boolean(self, key: str):
        value = self.value(key)
        if not isinstance(value, bool):
            self.bad(key, value, "true or false")
        return value

    def choice(self, key: str, choices, nullable: bool = False):
        value = self.value(key)
        if value is None and nullable:
            return None
        if value not in choices:
            self.bad(key, value, "one of " + ", ".join(map(str, choices)) + (" or null" if nullable else ""))
            return None
        return value

    def existing(self, key: str, kind: str, hint: str = ""):
        value = self.value(key)
        if value is None or value == "":
            return None
        path = Path(str(value)).expanduser()
        if not (path.is_dir() if kind == "directory" else path.is_file()):
            self.bad(key, value, f"an existing {kind}{hint}")
            return None
        return path

    def languages(self, key: str, xlmr_codes_only: bool) -> list[str]:
        value = self.value(key)
        if value is None:
            return []
        if isinstance(value, ListConfig):
            value = list(value)
        try:
            languages = resolve_languages(value, key=key)
        except CorpusError as err:
            self.lines.append(str(err))
            return []
        malformed = [lang for lang in languages if not isinstance(lang, str) or not LANGUAGE_CODE.match(lang)]
        if malformed:
            self.bad(key, languages, f"language codes such as en, fr, zh_Hant; not codes: {malformed}")
            return []
        unknown = [lang for lang in languages if lang not in XLMR_LANGUAGES]
        if xlmr_codes_only and unknown:
            self.bad(key, languages, f"XLM-R's language codes ({' '.join(sorted(XLMR_LANGUAGES))}); unknown: {unknown}")
            return []
        return languages


def _within(value, minimum, maximum) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def _range_text(what: str, minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"{what} from {minimum} to {maximum}"
    if minimum is not None:
        return f"{what} >= {minimum}"
    return what if maximum is None else f"{what} <= {maximum}"


def _interval_text(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    return "" if high is None else f" {'<' if high_open else '<='} {high}"


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError listing every value of `cfg` that cannot run (see the module docstring)."""
    problems = _Problems(cfg)
    problems.integer("seed", minimum=0, maximum=2**32 - 1)
    if problems.value("threads") != "auto":
        problems.integer("threads", minimum=1)
    _check_model(problems)
    _check_optim_train_trainer(problems)
    problems.choice("logger.wandb.mode", ("offline", "online", "disabled"))
    problems.boolean("logger.csv")
    problems.integer("callbacks.early_stopping.patience", minimum=0)
    problems.integer("callbacks.model_checkpoint.keep_every_n_steps", minimum=0)
    problems.number("callbacks.early_stopping.min_delta", 0)
    task_name = problems.choice("task.name", ("pretrain", *TASK_SETTINGS))
    if task_name == "pretrain":
        languages = _check_pretraining_data(problems)
        _check_tokenizer(problems)
        _check_extension(problems, languages)
    elif task_name:
        _check_task(problems, "task")
        if not cfg.model.init:
            problems.bad("model.init", cfg.model.init, f"a pretrained encoder to fine-tune on task={task_name}: one of "
                         "our checkpoints (.../checkpoints/best.ckpt), hf:<dir or hub id> or fairseq:<dir>")
    if task_name is not None:
        problems.integer("data.num_workers", minimum=0)
    if cfg.get("downstream"):
        _check_task(problems, "downstream")
    if problems.lines:
        raise ConfigError("the config cannot run:\n  " + "\n  ".join(problems.lines))


def _check_model(p: _Problems) -> None:
    p.integer("model.vocab_size", minimum=8)
    hidden = p.integer("model.hidden_size", minimum=1)
    p.integer("model.num_hidden_layers", minimum=1)
    heads = p.integer("model.num_attention_heads", minimum=1)
    if hidden and heads and hidden % heads:
        p.bad("model.hidden_size", hidden, f"a multiple of model.num_attention_heads={heads}")
    p.integer("model.intermediate_size", minimum=1, nullable=True)
    p.integer("model.max_position_embeddings", minimum=3)
    p.number("model.hidden_dropout_prob", 0, 1, high_open=True)
    p.number("model.attention_probs_dropout_prob", 0, 1, high_open=True)
    init = p.value("model.init")
    if init in (None, ""):
        return
    if not isinstance(init, str):
        p.bad("model.init", init, "hf:<dir or hub id>, fairseq:<dir> or a path to one of our .ckpt files")
        return
    kind, sep, location = init.partition(":")
    if kind in ("hf", "fairseq") and sep and location:
        if kind == "fairseq" and not Path(location).expanduser().is_dir():
            p.bad("model.init", init, "fairseq:<an existing directory with model.pt, dict.txt, sentencepiece.bpe.model>")
    elif init.endswith(".ckpt"):
        if not Path(init).expanduser().is_file():
            p.bad("model.init", init, "an existing .ckpt file")
    else:
        p.bad("model.init", init, "hf:<dir or hub id>, fairseq:<dir> or a path to one of our .ckpt files")


def _check_optim_train_trainer(p: _Problems) -> None:
    p.number("optim.lr", 0, low_open=True)
    betas = p.value("optim.betas")
    if not (isinstance(betas, ListConfig | list) and len(betas) == 2
            and all(isinstance(b, int | float) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
        p.bad("optim.betas", betas, "two numbers in [0, 1), e.g. [0.9, 0.98]")
    p.number("optim.eps", 0, low_open=True)
    p.number("optim.weight_decay", 0)
    p.integer("optim.warmup_steps", minimum=0)
    p.integer("train.global_batch_size", minimum=1)
    p.integer("train.val_every_n_steps", minimum=1)
    p.integer("train.checkpoint_every_n_steps", minimum=1)
    p.boolean("train.reuse_pretraining")
    ckpt_path = p.value("train.ckpt_path")
    if ckpt_path not in (None, "auto"):
        from xlmr_lit.checkpoints import checkpoint_problem

        path = Path(str(ckpt_path)).expanduser()
        if not path.is_file():
            p.bad("train.ckpt_path", ckpt_path, "auto, null or an existing checkpoint file to resume from")
        elif problem := checkpoint_problem(path) or _other_run_checkpoint(p.cfg, path):
            p.bad("train.ckpt_path", ckpt_path, f"a training checkpoint to resume from; this one {problem}")
    p.boolean("train.compile")
    p.integer("train.overfit_batches", minimum=0)
    ckpt_path = p.value("train.ckpt_path")
    if ckpt_path is not None and not isinstance(ckpt_path, str):
        p.bad("train.ckpt_path", ckpt_path, "auto, null or a checkpoint path")
    p.integer("trainer.max_steps", minimum=1)
    max_epochs = p.integer("trainer.max_epochs", minimum=-1)
    trains = p.cfg.task.get("name") == "pretrain" or p.cfg.task.get("train", True) is not False
    if max_epochs == 0 and trains:
        p.bad("trainer.max_epochs", 0, "-1 (trainer.max_steps ends the run) or an integer >= 1; 0 trains nothing "
              "(task.train=false scores model.init without training)")
    if "limit_train_batches" in p.cfg.trainer and p.value("trainer.limit_train_batches") in (0, 0.0) and trains:
        p.bad("trainer.limit_train_batches", p.value("trainer.limit_train_batches"),
              "a number of batches >= 1 or a fraction in (0, 1]; 0 trains nothing")
    p.integer("trainer.num_nodes", minimum=1)
    p.integer("trainer.log_every_n_steps", minimum=1)
    p.integer("trainer.num_sanity_val_steps", minimum=-1)
    p.number("trainer.gradient_clip_val", 0)
    if "fast_dev_run" in p.cfg.trainer:
        fast_dev_run = p.value("trainer.fast_dev_run")
        if not isinstance(fast_dev_run, bool | int) or fast_dev_run < 0:
            p.bad("trainer.fast_dev_run", fast_dev_run, "true, false or a number of batches >= 0")
    p.choice("trainer.precision", PRECISIONS)
    if "accumulate_grad_batches" in p.cfg.trainer:
        p.bad("trainer.accumulate_grad_batches", p.value("trainer.accumulate_grad_batches"),
              "no value: the harness derives it, train.global_batch_size / (data.micro_batch_size x devices); set "
              "train.global_batch_size")
    import inspect

    import pytorch_lightning

    known = set(inspect.signature(pytorch_lightning.Trainer.__init__).parameters)
    for key in sorted(set(p.cfg.trainer) - known):
        p.lines.append(f"trainer.{key}: pytorch_lightning.Trainer has no argument {key!r}")
    if "overfit_batches" in p.cfg.trainer:
        p.bad("trainer.overfit_batches", p.value("trainer.overfit_batches"),
              "train.overfit_batches instead (debug=overfit): Lightning's replaces the block samplers")
    devices = p.value("trainer.devices")
    if not (devices == "auto" or (isinstance(devices, int) and not isinstance(devices, bool) and (devices >= 1 or devices == -1))
            or (isinstance(devices, str) and re.fullmatch(r"\d+(,\d+)*,?", devices))
            or (isinstance(devices, ListConfig) and len(devices) > 0)):
        p.bad("trainer.devices", devices, "a number of devices >= 1, -1, auto, or a list of device ids")


def _other_run_checkpoint(cfg: DictConfig, path: Path) -> str | None:
    """Why the training checkpoint `path` cannot resume this config: another task, or (pretraining) another shape."""
    import torch

    hparams = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("hyper_parameters") or {}
    finetuning, pretraining = cfg.task.name != "pretrain", "labels" not in hparams
    if finetuning == pretraining:
        return (f"is a {'pretraining' if pretraining else 'fine-tuning'} checkpoint, and task={cfg.task.name} "
                f"{'fine-tunes' if finetuning else 'pretrains'}")
    model_config = hparams.get("model_config") or {}
    if finetuning or cfg.model.get("init") or not model_config:
        return None
    given = {key: cfg.model.get(key) for key in ARCHITECTURE_KEYS}
    given["intermediate_size"] = given["intermediate_size"] or 4 * (given["hidden_size"] or 0)
    differ = [f"{key}={model_config[key]} (model.{key}={given[key]})" for key in ARCHITECTURE_KEYS
              if key in model_config and model_config[key] != given[key]]
    return f"is of a model of another shape: {', '.join(differ)}" if differ else None


def _check_pretraining_data(p: _Problems) -> list[str]:
    cfg = p.cfg
    p.number("data.alpha", 0)
    tokens = p.integer("data.tokens_per_sample", minimum=2)
    positions = p.value("model.max_position_embeddings")
    if tokens and isinstance(positions, int) and tokens > positions - 2:
        p.bad("data.tokens_per_sample", tokens,
              f"at most model.max_position_embeddings - 2 = {positions - 2} (positions 0 and 1 are padding)")
    short = p.integer("data.short_blocks.tokens_per_sample", minimum=2)
    if short and tokens and short > tokens:
        p.bad("data.short_blocks.tokens_per_sample", short, f"at most data.tokens_per_sample = {tokens}")
    p.number("data.short_blocks.share_of_steps", 0, 1, high_open=True)
    p.integer("data.samples_per_epoch", minimum=1, nullable=True)
    micro = p.integer("data.micro_batch_size", minimum=1)
    p.number("data.mask_prob", 0, 1, low_open=True)
    random_prob = p.number("data.random_token_prob", 0, 1)
    unmasked_prob = p.number("data.leave_unmasked_prob", 0, 1)
    if random_prob is not None and unmasked_prob is not None and random_prob + unmasked_prob > 1:
        p.bad("data.random_token_prob + data.leave_unmasked_prob", random_prob + unmasked_prob,
              "at most 1 (the rest of the selected tokens become <mask>)")
    p.integer("data.valid_every", minimum=1)
    p.integer("data.valid_max_tokens", minimum=1)
    p.integer("data.num_proc", minimum=1)
    skip_missing = p.boolean("data.skip_missing_languages")
    p.boolean("data.skip_undecodable")
    groups = p.value("data.report_groups")
    if groups is not None and not (isinstance(groups, DictConfig)
                                   and all(isinstance(v, ListConfig) for v in groups.values())):
        p.bad("data.report_groups", groups, "a mapping of group name to a list of languages, e.g. {high: [en, fr]}")
    added = p.value("extend.languages") or []  # languages added to a model need not be XLM-R's
    languages = p.languages("data.languages", xlmr_codes_only=not added)
    if added and (unknown := [lang for lang in languages if lang not in XLMR_LANGUAGES and lang not in added]):
        p.bad("data.languages", languages, f"XLM-R's language codes or extend.languages; unknown: {unknown}")
    global_batch = p.value("train.global_batch_size")
    if micro and isinstance(global_batch, int) and global_batch % micro:
        p.bad("train.global_batch_size", global_batch, f"a multiple of data.micro_batch_size={micro}")
    if cfg.data.get("hub") is not None and cfg.data.hub.get("dataset"):
        return languages
    corpus_dir = p.existing("data.corpus_dir", "directory", MAN_PAGES_HINT if p.value("scale_name") == "mini" else "")
    if corpus_dir is not None and languages:
        _check_corpus_files(p, corpus_dir, languages, bool(skip_missing))
    return languages


def _check_extension(p: _Problems, data_languages: list[str]) -> None:
    """extend.*: refused here, before a SentencePiece is trained or a model loaded (xlmr_lit/extend.py)."""
    from xlmr_lit.convert import init_problem
    from xlmr_lit.extend import INIT_METHODS, NO_EXTENSION, extension_record, pretrained_languages

    if not p.value("extend.languages"):
        return
    new = p.languages("extend.languages", xlmr_codes_only=False)
    method = p.choice("extend.init", (*INIT_METHODS, NO_EXTENSION))
    p.integer("extend.vocab_size", minimum=8)
    if outside := [lang for lang in new if lang not in data_languages]:
        p.bad("extend.languages", new, f"languages that data.languages lists too, as continued pretraining trains on "
              f"old and new languages; not in data.languages: {outside}")
    hub = p.cfg.data.get("hub")
    if not (hub is not None and hub.get("dataset")):
        from xlmr_lit.languages import BUNDLED_CORPUS_DIR

        corpus_dir = Path(str(p.value("data.corpus_dir") or BUNDLED_CORPUS_DIR)).expanduser()
        if corpus_dir.is_dir() and (missing := [lang for lang in new if not any(
                (corpus_dir / f"{lang}{suffix}").is_file() for suffix in SUFFIXES)]):
            p.bad("extend.languages", new, f"languages with text in {corpus_dir} (<lang>.txt, .txt.gz or .txt.xz), "
                  f"whatever data.skip_missing_languages says; missing: {missing}")
    init = p.value("model.init")
    if not init:
        p.bad("model.init", init, "the model to add extend.languages to: one of our checkpoints (.ckpt), "
              "hf:<dir or hub id> or fairseq:<dir>")
        return
    if method == NO_EXTENSION or not isinstance(init, str):
        return
    if problem := init_problem(init):
        p.bad("model.init", init, f"a model with its tokenizer to extend; {problem}")
        return
    if record := extension_record(init):
        p.bad("model.init", init, f"a model not extended yet: it is {record['base']} extended by "
              f"{record['languages']} (+{record['added_pieces']} pieces); extend {record['base']} by every new "
              f"language at once instead (extend.languages={record['languages'] + new})")
    if covered := [lang for lang in new if lang in pretrained_languages(init)]:
        p.bad("extend.languages", new, f"languages model.init was not pretrained on; it covers {covered} already "
              f"(continued pretraining without extend.languages trains on more of their text)")


def _check_corpus_files(p: _Problems, corpus_dir: Path, languages: list[str], skip_missing: bool) -> None:
    """Each language's file exists (unless data.skip_missing_languages) and a .gz / .xz one starts like one."""
    missing = []
    for lang in languages:
        paths = [corpus_dir / f"{lang}{s}" for s in SUFFIXES if (corpus_dir / f"{lang}{s}").is_file()]
        if len(paths) > 1:
            p.lines.append(f"{corpus_dir} has {' and '.join(path.name for path in paths)}: one file per language, "
                           f"so which is the {lang} text? Move the other away")
        path = paths[0] if paths else None
        if path is None:
            missing.append(lang)
            continue
        for suffix, magic in MAGIC.items():
            if path.name.endswith(suffix):
                with open(path, "rb") as f:
                    head = f.read(len(magic))
                if head != magic:
                    p.lines.append(f"{path}: not a {suffix[1:]} file (it does not start with the {suffix[1:]} "
                                   f"signature); compress it with {suffix[1:].replace('gz', 'gzip')} or rename it "
                                   f"{lang}.txt if it is plain text")
    if missing and not skip_missing:
        p.bad("data.languages", languages, f"languages with a file in data.corpus_dir={str(corpus_dir)!r} "
              f"(<lang>.txt, .txt.gz or .txt.xz); missing: {missing}; data.skip_missing_languages=true "
              "trains on the others")
    elif missing and len(missing) == len(languages):
        p.bad("data.languages", languages, f"at least one language with a file in data.corpus_dir={str(corpus_dir)!r}")


def _check_tokenizer(p: _Problems) -> None:
    p.choice("tokenizer.model_type", ("unigram", "bpe"))
    vocab_size = p.integer("tokenizer.vocab_size", minimum=8)
    p.integer("tokenizer.sample_lines", minimum=1)
    p.number("tokenizer.character_coverage", 0, 1, low_open=True)
    spm_path = p.existing("tokenizer.spm_path", "file")
    model_vocab_size = p.value("model.vocab_size")
    if p.value("model.init"):  # its tokenizer and embedding come with it
        return
    if spm_path is not None:
        import sentencepiece

        try:
            pieces = len(sentencepiece.SentencePieceProcessor(model_file=str(spm_path)))
        except Exception:
            p.bad("tokenizer.spm_path", str(spm_path), "a SentencePiece model file (this one does not parse)")
            return
        if model_vocab_size != pieces + 2:
            p.bad("model.vocab_size", model_vocab_size, f"{pieces + 2}, the vocabulary of tokenizer.spm_path={str(spm_path)!r} "
                  f"({pieces} pieces + 2): the embedding has a row per entry")
    elif vocab_size is not None and vocab_size != model_vocab_size:
        p.bad("tokenizer.vocab_size", vocab_size, f"model.vocab_size={model_vocab_size}, as the embedding has a row per "
              f"entry: set model.vocab_size={vocab_size} instead (tokenizer.vocab_size follows it)")


def _check_task(p: _Problems, prefix: str) -> None:
    from xlmr_lit.tasks.readers import glue_task_name

    name = p.choice(f"{prefix}.name", tuple(TASK_SETTINGS))
    if name is None:
        return
    settings = TASK_SETTINGS[name]
    if settings is not None:
        p.choice(f"{prefix}.setting", settings)
    if name == "glue":
        try:
            glue_task_name(str(p.value(f"{prefix}.glue_task")))
        except ValueError as err:
            p.bad(f"{prefix}.glue_task", p.value(f"{prefix}.glue_task"), str(err).split("; ")[-1])
    if name == "qa":
        p.choice(f"{prefix}.benchmark", ("mlqa", "xquad"))
        p.choice(f"{prefix}.answer_normalization", ("squad", "mlqa"), nullable=True)
    task = OmegaConf.select(p.cfg, prefix)
    p.languages(f"{prefix}.languages", xlmr_codes_only=False)
    if "train_language" in task:
        train_language = p.value(f"{prefix}.train_language")
        if not isinstance(train_language, str) or not LANGUAGE_CODE.match(train_language):
            p.bad(f"{prefix}.train_language", train_language, "a language code such as en")
    max_length = p.integer(f"{prefix}.max_length", minimum=32 if name == "qa" else 8)
    positions = p.value("model.max_position_embeddings")
    if max_length and isinstance(positions, int) and max_length > positions - 2 and not p.value("model.init"):
        p.bad(f"{prefix}.max_length", max_length, f"at most model.max_position_embeddings - 2 = {positions - 2}")
    p.integer(f"{prefix}.eval_batch_size", minimum=1)
    _check_training_settings(p, prefix, task, required=("batch_size", "epochs", "lr", "weight_decay", "warmup_ratio"))
    _check_recipe(p, prefix, task)
    if "max_train_examples" in task:
        p.integer(f"{prefix}.max_train_examples", minimum=1, nullable=True)
    for flag in ("train", "udhr_standin", "skip_bad", "skip_bad_rows"):
        if flag in task:
            p.boolean(f"{prefix}.{flag}")
    p.existing(f"{prefix}.data_dir", "directory")
    if task.get("encoding") is not None:
        try:
            codecs.lookup(str(task.encoding))
        except LookupError:
            p.bad(f"{prefix}.encoding", task.encoding, "null or a Python codec name such as utf-8 or latin-1")


def _check_training_settings(p: _Problems, prefix: str, node: DictConfig, required: tuple = ()) -> None:
    """The fine-tuning settings `node` gives (a task gives all of `required`; a recipe, some of them)."""
    checks = {
        "batch_size": lambda key: p.integer(key, minimum=1),
        "epochs": lambda key: p.integer(key, minimum=1),
        "lr": lambda key: p.number(key, 0, low_open=True),
        "weight_decay": lambda key: p.number(key, 0),
        "warmup_ratio": lambda key: p.number(key, 0, 1),
        "warmup_steps": lambda key: p.integer(key, minimum=0, nullable=True),
        "batches_per_epoch": lambda key: p.integer(key, minimum=1, nullable=True),
        "adam_eps": lambda key: p.value(key) is None or p.number(key, 0, low_open=True),
        "adam_betas": lambda key: p.value(key) is None or _betas(p, key),
        "early_stopping_patience": lambda key: p.integer(key, minimum=0),
        "gradient_clip_val": lambda key: p.number(key, 0),
        "dropout": lambda key: p.value(key) is None or p.number(key, 0, 1, high_open=True),
    }
    for name, check in checks.items():
        if name in node or name in required:
            check(f"{prefix}.{name}")


def _betas(p: _Problems, key: str) -> None:
    value = p.value(key)
    if not (isinstance(value, ListConfig | list) and len(value) == 2
            and all(isinstance(b, int | float) and not isinstance(b, bool) and 0 <= b < 1 for b in value)):
        p.bad(key, value, "two numbers in [0, 1), e.g. [0.9, 0.98]")


def _check_recipe(p: _Problems, prefix: str, task: DictConfig) -> None:
    """task.recipe names one of task.recipes, whose keys are recipe settings with valid values; a task key the
    recipe replaces cannot also be given on the command line (it would be silently overridden)."""
    problems = recipe_problems(task, prefix)
    p.lines += problems
    name = task.get("recipe")
    if name is None or name not in (task.get("recipes") or {}):
        return
    entry = task.recipes[name]
    _check_training_settings(p, f"{prefix}.recipes.{name}", entry)
    if "max_length" in entry:
        p.integer(f"{prefix}.recipes.{name}.max_length", minimum=32 if task.name == "qa" else 8)
    if problems:
        return
    given = command_line_keys()
    recipe = task_recipe(task)
    for key, value in recipe.task_settings().items():
        if f"{prefix}.{key}" in given:
            p.lines.append(f"{prefix}.{key}={task.get(key)!r}: {prefix}.recipe={name} sets {key}={value}, which would "
                           f"replace it; give it as {prefix}.recipes.{name}.{key}=... instead")


def check_machine(cfg: DictConfig, run_dir: Path) -> None:
    """Raise ConfigError if this machine cannot run `cfg`: no GPU for trainer.accelerator=gpu, or a run dir or cache
    dir it cannot write. (Not part of check_config: a config for a GPU node can be checked anywhere.)"""
    lines = []
    accelerator = cfg.trainer.get("accelerator")
    if accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            lines.append(f"trainer.accelerator={accelerator!r}: expected a CUDA GPU, and this machine has none that "
                         f"torch can use; trainer=cpu trains on the CPU")
    for key, path in (("run dir (hydra.run.dir, paths.run_dir)", run_dir),
                      ("paths.cache_dir", Path(str(cfg.paths.cache_dir)).expanduser())):
        if problem := _unwritable(path):
            lines.append(f"{key}={str(path)!r}: expected a directory this process can write; {problem}")
    if lines:
        raise ConfigError("this machine cannot run the config:\n  " + "\n  ".join(lines))


def _unwritable(path: Path) -> str | None:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file" if existing == path else f"{existing} is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is read-only"
    return None


def untrained_report_groups(groups, languages: list[str]) -> list[str]:
    """Warnings for data.report_groups members that the run does not train: their averages leave them out."""
    warnings = []
    for group, members in (groups or {}).items():
        if missing := [lang for lang in members if lang not in languages]:
            kept = [lang for lang in members if lang in languages]
            warnings.append(f"data.report_groups.{group} names {missing}, not trained in this run (languages: "
                            f"{' '.join(languages)}); " + (f"its average is over {kept} only" if kept
                                                           else "it is left out of the results table"))
    return warnings


# ----------------------------------------------------------------------------------------------
# mistyped override keys, before Hydra composes


def check_override_keys(args: list[str], config_dir: Path, config_name: str = "train") -> None:
    """Raise ConfigError for a `key=value` argument whose key is not in the config, with the closest keys.

    Group choices (model=base), additions (+key=...), deletions (~key), hydra.* and runs with another
    --config-name/--config-path/--config-dir are left to Hydra.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    if any(a.startswith(("--config", "-c")) for a in args):
        return
    try:
        overrides = OverridesParser.create().parse_overrides([a for a in args if "=" in a and not a.startswith("-")])
    except Exception:
        return  # Hydra explains syntax errors itself
    groups = {str(d.relative_to(config_dir)) for d in config_dir.rglob("*") if d.is_dir()}
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        choices = [o.input_line for o in overrides
                   if o.get_key_element().split("@")[0] in groups and isinstance(o.value(), str)
                   and o.type == OverrideType.CHANGE]
        try:
            cfg = compose(config_name, overrides=choices)
        except Exception:
            return
    known = _flat_keys(cfg)
    for override in overrides:
        key = override.key_or_group
        if (override.type != OverrideType.CHANGE or key.split("@")[0] in groups or key.startswith("hydra.")
                or override.package is not None or key in known or _inside_open_value(cfg, key)):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "no key of the config is close to it"
        raise ConfigError(f"{override.input_line}: the config has no key {key!r}; {hint} "
                          f"(to add a new key, write +{override.input_line})")


def _flat_keys(cfg, prefix: str = "") -> list[str]:
    keys = []
    for key in cfg.keys() if isinstance(cfg, DictConfig) else []:
        full = f"{prefix}{key}"
        keys.append(full)
        if key != "hydra":
            child = cfg._get_node(key)
            if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
                keys += _flat_keys(child, full + ".")
    return keys


def _inside_open_value(cfg: DictConfig, key: str) -> bool:
    """A key under a value that is null or a list (e.g. scale_grid entries) cannot be known in advance."""
    parts = key.split(".")
    node = cfg
    for part in parts[:-1]:
        if not isinstance(node, DictConfig) or part not in node:
            return False
        node = node._get_node(part)
        if not isinstance(node, DictConfig) or node._is_none():
            return True
    return False


# ----------------------------------------------------------------------------------------------
# model.init: the checkpoint fixes the architecture


def command_line_keys() -> set[str]:
    """Keys set by `key=value` overrides of this Hydra job (empty outside Hydra)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    return {o.lstrip("+~").split("=", 1)[0] for o in HydraConfig.get().overrides.task}


def apply_init_architecture(cfg: DictConfig, init_config, overridden: set[str] | None = None):
    """Make cfg.model describe the model that runs: the architecture of model.init's weights, the dropout of cfg.

    A `model.<shape key>=` given on the command line (or in `overridden`) that disagrees with the checkpoint
    raises ConfigError naming the key; an unset one takes the checkpoint's value, so config_resolved.yaml
    records what ran. Returns the XLMRConfig to build.
    """
    import dataclasses

    overridden = command_line_keys() if overridden is None else overridden
    conflicts = []
    for key in ARCHITECTURE_KEYS:
        given, actual = cfg.model.get(key), getattr(init_config, key)
        if key == "intermediate_size" and given is None:
            given = 4 * cfg.model.hidden_size
        if f"model.{key}" in overridden and given != actual:
            conflicts.append(f"model.{key}={given!r}: model.init={cfg.model.init} has {key}={actual}; the "
                             f"checkpoint's weights fix it (drop the override)")
    if conflicts:
        raise ConfigError("model.init cannot take these overrides:\n  " + "\n  ".join(conflicts))
    for key in ARCHITECTURE_KEYS:
        cfg.model[key] = getattr(init_config, key)
    config = dataclasses.replace(init_config, hidden_dropout_prob=cfg.model.hidden_dropout_prob,
                                 attention_probs_dropout_prob=cfg.model.attention_probs_dropout_prob)
    positions = config.max_position_embeddings - 2
    length_key = "data.tokens_per_sample" if cfg.task.name == "pretrain" else "task.max_length"
    length = OmegaConf.select(cfg, length_key)
    if isinstance(length, int) and length > positions:
        raise ConfigError(f"{length_key}={length}: expected at most {positions}, the positions of model.init={cfg.model.init} "
                          f"(max_position_embeddings {config.max_position_embeddings} - 2)")
    return config


def apply_hf_init_architecture(cfg: DictConfig, hf_config, overridden: set[str] | None = None) -> None:
    """apply_init_architecture for a transformers encoder (BERT, XLM, ...): cfg.model takes the sizes its config
    names (XLM names no intermediate_size), an override that disagrees is refused, and task.max_length must fit
    its positions."""
    overridden = command_line_keys() if overridden is None else overridden
    sizes = {key: getattr(hf_config, key) for key in ARCHITECTURE_KEYS if getattr(hf_config, key, None) is not None}
    conflicts = [f"model.{key}={cfg.model.get(key)!r}: model.init={cfg.model.init} has {key}={actual}; the "
                 f"checkpoint's weights fix it (drop the override)"
                 for key, actual in sizes.items() if f"model.{key}" in overridden and cfg.model.get(key) != actual]
    if conflicts:
        raise ConfigError("model.init cannot take these overrides:\n  " + "\n  ".join(conflicts))
    for key, actual in sizes.items():
        cfg.model[key] = actual
    positions = sizes.get("max_position_embeddings")
    length = OmegaConf.select(cfg, "task.max_length")
    if isinstance(length, int) and positions and length > positions:
        raise ConfigError(f"task.max_length={length}: expected at most {positions}, the positions of "
                          f"model.init={cfg.model.init} (max_position_embeddings)")
