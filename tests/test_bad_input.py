"""The bad-input table: each bad config value or key, data file, corpus file, checkpoint and CLI argument gets an
error that names the key / file / line and what is allowed, before any long work, and nothing already written is
lost. Most cases call the function the CLI calls, in-process; a few run `xlmr-train` for real."""

import copy
import dataclasses
import gzip
import json
import lzma
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from tiny_hf_model import spm_from_sentences

from conftest import TINY
from xlmr_lit import export, plot, results
from xlmr_lit.cli import CONF_DIR
from xlmr_lit.config_checks import ConfigError, apply_init_architecture, check_config, check_override_keys
from xlmr_lit.convert import load_pretrained
from xlmr_lit.corpus import CorpusError, ReadReport, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.model import XLMRConfig, XLMRForMaskedLM
from xlmr_lit.tasks.readers import (
    DataFormatError,
    read_conll,
    read_glue_tsv,
    read_squad_json,
    read_xnli_tsv,
)
from xlmr_lit.tokenizer import VocabularyTooSmallError, train_sentencepiece

SENTENCES = [
    "The museum opens at nine and closes at five in the afternoon.",
    "Le train pour Lyon part du quai numéro trois.",
    "Der Zug nach Berlin fährt um acht Uhr ab.",
    "El mercado abre todos los días excepto el domingo.",
]
VOCAB = 120
CONFIG = XLMRConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=66)

# (base config, {key: value, ...}, what the message must say)
CONFIG_CASES = [
    ("pretrain", {"data.alpha": -1}, "data.alpha=-1: expected a number >= 0"),
    ("pretrain", {"data.alpha": "abc"}, "data.alpha='abc': expected a number >= 0"),
    ("pretrain", {"data.mask_prob": 1.5}, "data.mask_prob=1.5: expected a number in (0, 1]"),
    ("pretrain", {"data.mask_prob": 0}, "data.mask_prob=0: expected a number in (0, 1]"),
    ("pretrain", {"data.micro_batch_size": 0}, "data.micro_batch_size=0: expected an integer >= 1"),
    ("pretrain", {"data.valid_every": 0}, "data.valid_every=0: expected an integer >= 1"),
    ("pretrain", {"data.tokens_per_sample": 600}, "data.tokens_per_sample=600: expected at most "
                                                  "model.max_position_embeddings - 2 = 512"),
    ("pretrain", {"data.tokens_per_sample": 1}, "data.tokens_per_sample=1: expected an integer >= 2"),
    ("pretrain", {"data.languages": "xnli8"}, "data.languages='xnli8' is not a language set; known sets: xnli7"),
    ("pretrain", {"data.languages": ["en", "xx"]}, "unknown: ['xx']"),
    ("pretrain", {"data.languages": ["en", "en"]}, "data.languages has duplicates"),
    ("pretrain", {"data.languages": []}, "data.languages is empty"),
    ("pretrain", {"data.languages": ["../en"]}, "not codes: ['../en']"),
    ("pretrain", {"data.random_token_prob": 0.8, "data.leave_unmasked_prob": 0.5},
     "data.random_token_prob + data.leave_unmasked_prob=1.3: expected at most 1"),
    ("pretrain", {"data.random_token_prob": 1.2}, "data.random_token_prob=1.2: expected a number in [0, 1]"),
    ("pretrain", {"optim.lr": -1}, "optim.lr=-1: expected a number > 0"),
    ("pretrain", {"optim.lr": "abc"}, "optim.lr='abc': expected a number > 0"),
    ("pretrain", {"optim.lr": float("inf")}, "optim.lr=inf: expected a finite number > 0"),
    ("pretrain", {"optim.lr": float("nan")}, "optim.lr=nan: expected a finite number > 0"),
    ("pretrain", {"data.alpha": float("inf")}, "data.alpha=inf: expected a finite number >= 0"),
    ("pretrain", {"trainer.max_steps": "abc"}, "trainer.max_steps='abc': expected an integer >= 1"),
    ("pretrain", {"trainer.max_steps": 0}, "trainer.max_steps=0: expected an integer >= 1"),
    ("pretrain", {"seed": "abc"}, "seed='abc': expected an integer from 0 to 4294967295"),
    ("pretrain", {"seed": -1}, "seed=-1: expected an integer from 0 to 4294967295"),
    ("pretrain", {"seed": 99999999999999999999}, "seed=99999999999999999999: expected an integer from 0 to 4294967295"),
    ("pretrain", {"threads": 0}, "threads=0: expected an integer >= 1"),
    ("pretrain", {"threads": -3}, "threads=-3: expected an integer >= 1"),
    ("pretrain", {"threads": "abc"}, "threads='abc': expected an integer >= 1"),
    ("pretrain", {"trainer.precision": "banana"}, "trainer.precision='banana': expected one of 32-true"),
    ("pretrain", {"trainer.accumulate_grad_batches": 4}, "trainer.accumulate_grad_batches=4: expected no value: the "
                                                         "harness derives it"),
    ("pretrain", {"trainer.max_epoch": 4}, "trainer.max_epoch: pytorch_lightning.Trainer has no argument 'max_epoch'"),
    ("pretrain", {"data.num_workers": -1}, "data.num_workers=-1: expected an integer >= 0"),
    ("pretrain", {"tokenizer.model_type": "wordpiece"}, "tokenizer.model_type='wordpiece': expected one of unigram, bpe"),
    ("pretrain", {"tokenizer.character_coverage": 2}, "tokenizer.character_coverage=2: expected a number in (0, 1]"),
    ("pretrain", {"tokenizer.sample_lines": 0}, "tokenizer.sample_lines=0: expected an integer >= 1"),
    ("pretrain", {"tokenizer.vocab_size": 4000}, "tokenizer.vocab_size=4000: expected model.vocab_size=1000, as the "
                                                 "embedding has a row per entry: set model.vocab_size=4000 instead"),
    ("pretrain", {"model.vocab_size": 0}, "model.vocab_size=0: expected an integer >= 8"),
    ("pretrain", {"model.vocab_size": "big"}, "model.vocab_size='big': expected an integer >= 8"),
    ("pretrain", {"model.hidden_size": 33}, "model.hidden_size=33: expected a multiple of model.num_attention_heads=2"),
    ("pretrain", {"model.num_hidden_layers": 0}, "model.num_hidden_layers=0: expected an integer >= 1"),
    ("pretrain", {"model.num_attention_heads": 0}, "model.num_attention_heads=0: expected an integer >= 1"),
    ("pretrain", {"model.hidden_dropout_prob": 1.0}, "model.hidden_dropout_prob=1.0: expected a number in [0, 1)"),
    ("pretrain", {"model.attention_probs_dropout_prob": -0.1}, "model.attention_probs_dropout_prob=-0.1: expected"),
    ("pretrain", {"model.max_position_embeddings": 2}, "model.max_position_embeddings=2: expected an integer >= 3"),
    ("pretrain", {"model.intermediate_size": 0}, "model.intermediate_size=0: expected an integer >= 1 or null"),
    ("pretrain", {"optim.betas": [0.9]}, "optim.betas=[0.9]: expected two numbers in [0, 1)"),
    ("pretrain", {"optim.eps": 0}, "optim.eps=0: expected a number > 0"),
    ("pretrain", {"optim.weight_decay": -0.01}, "optim.weight_decay=-0.01: expected a number >= 0"),
    ("pretrain", {"optim.warmup_steps": -1}, "optim.warmup_steps=-1: expected an integer >= 0"),
    ("pretrain", {"train.global_batch_size": 0}, "train.global_batch_size=0: expected an integer >= 1"),
    ("pretrain", {"train.global_batch_size": 10}, "train.global_batch_size=10: expected a multiple of "
                                                  "data.micro_batch_size=4"),
    ("pretrain", {"train.val_every_n_steps": 0}, "train.val_every_n_steps=0: expected an integer >= 1"),
    ("pretrain", {"train.checkpoint_every_n_steps": 0}, "train.checkpoint_every_n_steps=0: expected"),
    ("pretrain", {"train.compile": "yes"}, "train.compile='yes': expected true or false"),
    ("pretrain", {"trainer.num_nodes": 0}, "trainer.num_nodes=0: expected an integer >= 1"),
    ("pretrain", {"trainer.max_epochs": 0}, "trainer.max_epochs=0: expected -1 (trainer.max_steps ends the run) or "
                                            "an integer >= 1; 0 trains nothing"),
    ("xnli", {"trainer.max_epochs": 0}, "trainer.max_epochs=0: expected -1"),
    ("pretrain", {"trainer.limit_train_batches": 0}, "trainer.limit_train_batches=0: expected a number of batches"),
    ("pretrain", {"trainer.devices": 0}, "trainer.devices=0: expected a number of devices >= 1"),
    ("pretrain", {"trainer.log_every_n_steps": 0}, "trainer.log_every_n_steps=0: expected an integer >= 1"),
    ("pretrain", {"trainer.gradient_clip_val": -1}, "trainer.gradient_clip_val=-1: expected a number >= 0"),
    ("pretrain", {"logger.wandb.mode": "offlne"}, "logger.wandb.mode='offlne': expected one of offline, online"),
    ("pretrain", {"data.num_proc": 0}, "data.num_proc=0: expected an integer >= 1"),
    ("pretrain", {"data.samples_per_epoch": 0}, "data.samples_per_epoch=0: expected an integer >= 1 or null"),
    ("pretrain", {"data.valid_max_tokens": -5}, "data.valid_max_tokens=-5: expected an integer >= 1"),
    ("pretrain", {"data.valid_max_tokens": 0}, "data.valid_max_tokens=0: expected an integer >= 1"),
    ("pretrain", {"data.skip_undecodable": "maybe"}, "data.skip_undecodable='maybe': expected true or false"),
    ("pretrain", {"data.report_groups": "high"}, "data.report_groups='high': expected a mapping"),
    ("pretrain", {"data.corpus_dir": "/nonexistent/corpus"}, "data.corpus_dir='/nonexistent/corpus': expected an "
                                                             "existing directory"),
    ("pretrain", {"tokenizer.spm_path": "/nonexistent/spm.model"}, "tokenizer.spm_path='/nonexistent/spm.model': "
                                                                   "expected an existing file"),
    ("pretrain", {"model.init": "foo"}, "model.init='foo': expected hf:<dir or hub id>, fairseq:<dir> or a path"),
    ("pretrain", {"model.init": "/nonexistent/best.ckpt"}, "model.init='/nonexistent/best.ckpt': expected an "
                                                           "existing .ckpt file"),
    ("pretrain", {"model.init": "fairseq:/nonexistent"}, "model.init='fairseq:/nonexistent': expected fairseq:<an "
                                                         "existing directory"),
    ("pretrain", {"train.ckpt_path": "/nonexistent/last.ckpt"}, "train.ckpt_path='/nonexistent/last.ckpt': expected "
                                                                "auto, null or an existing checkpoint file"),
    ("pretrain", {"downstream.epochs": 0}, "downstream.epochs=0: expected an integer >= 1"),
    ("pretrain", {"downstream.languages": "xnli16"}, "downstream.languages='xnli16' is not a language set"),
    ("ner", {"task.languages": ["en", "../../etc/passwd"]}, "task.languages=['en', '../../etc/passwd']: expected "
                                                            "language codes"),
    ("ner", {"task.setting": "train_some"}, "task.setting='train_some': expected one of train_en, train_each"),
    ("ner", {"task.encoding": "latin-2000"}, "task.encoding='latin-2000': expected null or a Python codec name"),
    ("ner", {"task.max_length": 4}, "task.max_length=4: expected an integer >= 8"),
    ("ner", {"task.skip_bad": "no"}, "task.skip_bad='no': expected true or false"),
    ("xnli", {"task.languages": "xnli8"}, "task.languages='xnli8' is not a language set"),
    ("xnli", {"task.setting": "translate"}, "task.setting='translate': expected one of cross_lingual_transfer"),
    ("xnli", {"task.train_language": "../en"}, "task.train_language='../en': expected a language code"),
    ("xnli", {"task.lr": 0}, "task.lr=0: expected a number > 0"),
    ("xnli", {"task.lr": float("inf")}, "task.lr=inf: expected a finite number > 0"),
    ("xnli", {"task.batch_size": 0}, "task.batch_size=0: expected an integer >= 1"),
    ("xnli", {"task.epochs": 0}, "task.epochs=0: expected an integer >= 1"),
    ("xnli", {"task.warmup_ratio": 1.5}, "task.warmup_ratio=1.5: expected a number in [0, 1]"),
    ("xnli", {"task.max_train_examples": 0}, "task.max_train_examples=0: expected an integer >= 1 or null"),
    ("xnli", {"task.data_dir": "/nonexistent/xnli"}, "task.data_dir='/nonexistent/xnli': expected an existing"),
    ("xnli", {"model.init": None}, "model.init=None: expected a pretrained encoder to fine-tune on task=xnli"),
    ("qa", {"task.benchmark": "squad2"}, "task.benchmark='squad2': expected one of mlqa, xquad"),
    ("qa", {"task.answer_normalization": "exact"}, "task.answer_normalization='exact': expected one of squad, mlqa"),
    ("qa", {"task.max_length": 16}, "task.max_length=16: expected an integer >= 32"),
    ("glue", {"task.glue_task": "mnli2"}, "task.glue_task='mnli2': expected"),
    ("glue", {"task.eval_batch_size": 0}, "task.eval_batch_size=0: expected an integer >= 1"),
]

KEY_CASES = [
    (["trainer.max_step=10"], "did you mean trainer.max_steps?"),
    (["data.alpah=0.3"], "did you mean data.alpha?"),
    (["model.hidden_sise=64"], "did you mean model.hidden_size?"),
    (["optim.lrr=1e-3"], "did you mean optim.lr?"),
    (["task=ner", "task.skip_badd=true"], "did you mean task.skip_bad?"),
]

tried = {"cases": 0, "clear": 0}


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    """Prints the count that benchmarks/RESULTS.md records (pytest -s shows it)."""
    yield
    print(f"\nbad inputs tried: {tried['cases']}, clear errors: {tried['clear']}")


def tiny_lightning_checkpoint(run: Path) -> Path:
    """A tiny xlmr-lit Lightning checkpoint in the run directory `run`, with its tokenizer."""
    (run / "checkpoints").mkdir(parents=True)
    (run / "tokenizer").mkdir()
    spm = spm_from_sentences(run / "tokenizer", SENTENCES, VOCAB)
    model = XLMRForMaskedLM(CONFIG)
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "hyper_parameters": {"model_config": dataclasses.asdict(CONFIG), "tokenizer_path": str(spm)}},
               run / "checkpoints" / "best.ckpt")
    return run / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="module")
def init_ckpt(tmp_path_factory) -> Path:
    return tiny_lightning_checkpoint(tmp_path_factory.mktemp("init_run"))


@pytest.fixture(scope="module")
def base_configs(init_ckpt, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("bad_input_run")

    def make(*overrides):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("train", overrides=[*TINY, f"paths.run_dir={run_dir}", *overrides])

    init = f"model.init={init_ckpt}"
    return {"pretrain": make("+task@downstream=xnli"), "xnli": make("task=xnli", init), "ner": make("task=ner", init),
            "qa": make("task=qa", init), "glue": make("task=glue", init)}


def expect_error(call, exception, *fragments):
    tried["cases"] += 1
    with pytest.raises(exception) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    tried["clear"] += 1
    return message


def test_the_shipped_configs_pass(base_configs, tmp_path):
    for cfg in base_configs.values():
        check_config(cfg)
    (tmp_path / "en.txt").write_text("some text\n")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for scale in ("tiny", "mini", "small", "paper"):
            check_config(compose("train", overrides=[f"scale={scale}", f"data.corpus_dir={tmp_path}",
                                                     "data.skip_missing_languages=true", "paths.run_dir=x"])
                         if scale != "tiny" else compose("train", overrides=["scale=tiny", "paths.run_dir=x"]))


def test_a_resume_checkpoint_that_does_not_load_is_refused_up_front(base_configs, init_ckpt, tmp_path):
    garbage = tmp_path / "last.ckpt"
    garbage.write_bytes(b"e" * 300)
    for path, expected in ((garbage, "this one cannot be read"), (init_ckpt, "this one is not a training checkpoint")):
        cfg = copy.deepcopy(base_configs["pretrain"])
        cfg.train.ckpt_path = str(path)
        expect_error(lambda: check_config(cfg), ConfigError, f"train.ckpt_path='{path}': expected a training checkpoint",
                     expected)


@pytest.mark.parametrize("base, updates, expected", CONFIG_CASES, ids=[str(c[1]) for c in CONFIG_CASES])
def test_bad_config_value_is_named_with_what_is_allowed(base_configs, base, updates, expected):
    cfg = copy.deepcopy(base_configs[base])
    for key, value in updates.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    expect_error(lambda: check_config(cfg), ConfigError, expected)


def test_settings_that_train_nothing_pass_when_nothing_is_to_be_trained(base_configs):
    cfg = copy.deepcopy(base_configs["xnli"])
    cfg.task.train, cfg.trainer.max_epochs = False, 0
    check_config(cfg)


def test_all_problems_are_listed_at_once(base_configs):
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.data.alpha, cfg.optim.lr = -1, -1
    message = expect_error(lambda: check_config(cfg), ConfigError, "data.alpha=-1", "optim.lr=-1")
    assert message.count("\n  ") == 2


def test_corpus_dir_files_are_checked_before_preparation(base_configs, tmp_path):
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.data.corpus_dir = str(tmp_path)
    (tmp_path / "en.txt.gz").write_text("plain text, not gzip\n")
    (tmp_path / "fr.txt").write_text("bonjour\n")
    expect_error(lambda: check_config(cfg), ConfigError, f"{tmp_path / 'en.txt.gz'}: not a gz file",
                 "missing: ['sw']", "data.skip_missing_languages=true")
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.tokenizer.spm_path = str(spm_from_sentences(tmp_path, SENTENCES, VOCAB))
    expect_error(lambda: check_config(cfg), ConfigError, f"model.vocab_size=1000: expected {VOCAB}, the vocabulary of "
                 f"tokenizer.spm_path='{cfg.tokenizer.spm_path}' ({VOCAB - 2} pieces + 2)")
    cfg.model.vocab_size = VOCAB
    check_config(cfg)
    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"not a sentencepiece model")
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.tokenizer.spm_path = str(garbage)
    expect_error(lambda: check_config(cfg), ConfigError, f"tokenizer.spm_path='{garbage}': expected a SentencePiece")


@pytest.mark.parametrize("args, expected", KEY_CASES, ids=[" ".join(c[0]) for c in KEY_CASES])
def test_mistyped_key_gets_did_you_mean(args, expected):
    message = expect_error(lambda: check_override_keys(args, CONF_DIR), ConfigError, expected)
    assert f"+{args[-1]}" in message  # how to add a key on purpose


GROUPS = ("task", "data", "model", "trainer", "logger", "callbacks", "scale", "experiment", "debug")


@pytest.mark.parametrize("group", GROUPS)
def test_an_unknown_option_of_any_group_is_an_error_listing_the_options(group):
    from hydra.errors import MissingConfigException

    options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
    message = expect_error(lambda: compose_train([f"{group}=nope"]), MissingConfigException,
                           f"Could not find '{group}/nope'", f"Available options in '{group}'")
    assert all(f"\t{option}\n" in message for option in options)


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)


def test_no_scale_experiment_or_debug_is_still_the_default():
    cfg = compose_train([])
    assert cfg.scale_name is None and "fast_dev_run" not in cfg.trainer and cfg.model.hidden_size == 128


def test_known_keys_groups_additions_and_sweeps_pass_the_key_check():
    check_override_keys(["-m", "data.alpha=0.3,1.0", "model=base", "+foo=1", "task=ner", "task.conll.en.train=x",
                         "hydra.run.dir=/tmp/x", "scale=tiny", "scale_grid.vocab.32k.size=10"], CONF_DIR)


# ----------------------------------------------------------------------------------------------
# model.init: the checkpoint's architecture, the config's dropout, recorded as run


def test_model_init_applies_dropout_refuses_shape_overrides_and_records_what_runs(base_configs, init_ckpt):
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.model.init, cfg.model.hidden_dropout_prob = str(init_ckpt), 0.0
    config, _, _ = load_pretrained(str(init_ckpt))
    ran = apply_init_architecture(cfg, config, overridden={"model.hidden_dropout_prob"})
    assert ran.hidden_dropout_prob == 0.0 and ran.hidden_size == CONFIG.hidden_size
    assert cfg.model.hidden_size == CONFIG.hidden_size and cfg.tokenizer.vocab_size == VOCAB  # what runs is recorded
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.model.init = str(init_ckpt)
    expect_error(lambda: apply_init_architecture(cfg, config, overridden={"model.hidden_size", "model.vocab_size"}),
                 ConfigError, "model.hidden_size=32: model.init=", "has hidden_size=16",
                 "model.vocab_size=1000:", "has vocab_size=120")
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.model.init = str(init_ckpt)
    too_long = config.max_position_embeddings - 1
    cfg.data.tokens_per_sample = too_long
    expect_error(lambda: apply_init_architecture(cfg, config, overridden=set()), ConfigError,
                 f"data.tokens_per_sample={too_long}: expected at most {too_long - 1}, the positions of model.init=")


# ----------------------------------------------------------------------------------------------
# checkpoints


def test_bad_checkpoints_are_named_and_explained(init_ckpt, tmp_path):
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(init_ckpt.read_bytes()[:2000])
    expect_error(lambda: load_pretrained(str(truncated)), ValueError, str(truncated), "truncated")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"e" * 300)
    expect_error(lambda: load_pretrained(str(garbage)), ValueError, str(garbage), "cannot be read as a PyTorch checkpoint")
    pickled_list = tmp_path / "list.ckpt"
    torch.save([1, 2, 3], pickled_list)
    expect_error(lambda: load_pretrained(str(pickled_list)), ValueError, str(pickled_list),
                 "is not a Lightning checkpoint of xlmr-lit", "found list")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"model": {"w": torch.zeros(2)}}, foreign)
    expect_error(lambda: load_pretrained(str(foreign)), ValueError, str(foreign), "not a Lightning checkpoint of xlmr-lit")
    other_spm = spm_from_sentences(tmp_path, SENTENCES, VOCAB - 20)
    expect_error(lambda: export.load_our_checkpoint(init_ckpt, other_spm), ValueError, "a different vocabulary",
                 str(other_spm), str(init_ckpt))
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text(json.dumps({"model_type": "xlm-roberta", "vocab_size": VOCAB}))
    (hf_dir / "sentencepiece.bpe.model").write_bytes(other_spm.read_bytes())
    (hf_dir / "model.safetensors").write_bytes(b"\x08\x00")
    expect_error(lambda: load_pretrained(f"hf:{hf_dir}"), ValueError, str(hf_dir / "model.safetensors"), "truncated")


# ----------------------------------------------------------------------------------------------
# data files of every task


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_bad_task_data_files_name_file_and_line(tmp_path):
    xnli = write(tmp_path / "dev-en.tsv", "sentence1\tsentence2\tgold_label\na\tb\tmaybe\n")
    expect_error(lambda: read_xnli_tsv(xnli), DataFormatError, "dev-en.tsv")
    conll = write(tmp_path / "eng.train", "EU NNP B-ORG\n\nrejects\n")
    expect_error(lambda: read_conll(conll, scheme="iob1"), DataFormatError, "eng.train, line 3: expected at least 2")
    tags = write(tmp_path / "esp.train", "Sao NC B-PLACE\n\n")
    expect_error(lambda: read_conll(tags, scheme="iob2"), DataFormatError, "esp.train, line 1: unknown tag 'B-PLACE'")
    squad = write(tmp_path / "dev-v1.1.json", '{"data": [')
    expect_error(lambda: read_squad_json(squad), DataFormatError, "dev-v1.1.json, line 1: not valid JSON")
    answer = write(tmp_path / "train-v1.1.json", json.dumps({"data": [{"title": "t", "paragraphs": [{
        "context": "Paris is big.", "qas": [{"id": "q1", "question": "?",
                                             "answers": [{"text": "London", "answer_start": 0}]}]}]}]}))
    expect_error(lambda: read_squad_json(answer), DataFormatError, "train-v1.1.json", "q1")
    glue = write(tmp_path / "train.tsv", "wrong\theader\n")
    expect_error(lambda: read_glue_tsv(glue, "sst2"), DataFormatError, "train.tsv", "header")


def test_conll2003_german_three_and_four_column_lines_keep_their_entities(tmp_path):
    path = write(tmp_path / "deu.testb", "Gro\u00dfer Gro\u00dfer NN I-NC O\nRhein-Main NE I-NC I-LOC\n"
                                         "Gebiet Gebiet NN I-NC I-LOC\n\n", encoding="latin-1")
    (sentence,) = read_conll(path, scheme="iob1", encoding="latin-1")
    assert sentence.tokens == ["Gro\u00dfer", "Rhein-Main", "Gebiet"] and sentence.tags == ["O", "B-LOC", "I-LOC"]


# ----------------------------------------------------------------------------------------------
# corpus files


def test_bad_corpus_files_name_the_file(tmp_path):
    def read(path):
        return lambda: sum(1 for _ in read_documents(path, ReadReport(path)))

    latin1 = write(tmp_path / "de.txt", "Gr\u00fc\u00dfe aus M\u00fcnchen\nSch\u00f6n\nja\n", encoding="latin-1")
    expect_error(read(latin1), CorpusError, str(latin1), "2 of 3 lines are not valid UTF-8", "latin-1")
    not_gzip = write(tmp_path / "en.txt.gz", "plain text\n")
    expect_error(read(not_gzip), CorpusError, str(not_gzip), "cannot be read as a gzip file")
    truncated = tmp_path / "fr.txt.gz"
    truncated.write_bytes(gzip.compress(b"bonjour le monde\n" * 1000)[:-12])
    expect_error(read(truncated), CorpusError, str(truncated), "truncated")
    empty = write(tmp_path / "sw.txt", "\n\n")
    expect_error(read(empty), CorpusError, str(empty), "no text")
    sample = write(tmp_path / "sample.txt", "".join(chr(0x4E00 + i) * 3 + "\n" for i in range(300)))
    expect_error(lambda: train_sentencepiece(sample, tmp_path / "spm", 50, 1.0), VocabularyTooSmallError,
                 "tokenizer.vocab_size=50 is too small", "tokenizer.character_coverage")


# ----------------------------------------------------------------------------------------------
# CLI arguments: xlmr-export, xlmr-results, xlmr-plot


def test_export_refuses_a_non_empty_or_file_out_dir_and_lists_only_what_it_wrote(init_ckpt, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    expect_error(lambda: export.main([str(init_ckpt), str(out_dir)]), SystemExit, f"out_dir {out_dir} is not empty",
                 "notes.txt", "--overwrite")
    assert [p.name for p in out_dir.iterdir()] == ["notes.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    expect_error(lambda: export.main([str(init_ckpt), str(a_file)]), SystemExit, f"out_dir {a_file} is a file")
    garbage = write(tmp_path / "garbage.model", "nonsense")
    expect_error(lambda: export.main([str(init_ckpt), str(tmp_path / "o2"), "--tokenizer", str(garbage)]),
                 SystemExit, f"{garbage}: not a SentencePiece model")
    expect_error(lambda: export.main([str(init_ckpt), str(tmp_path / "o3"), "--tokenizer", str(tmp_path / "no.model")]),
                 SystemExit, f"--tokenizer {tmp_path / 'no.model'} does not exist")
    bad_ckpt = write(tmp_path / "bad.ckpt", "garbage" * 50)
    expect_error(lambda: export.main([str(bad_ckpt), str(tmp_path / "o4")]), SystemExit, str(bad_ckpt))
    assert not any((tmp_path / name).exists() for name in ("o2", "o3", "o4"))
    capsys.readouterr()

    export.main([str(init_ckpt), str(out_dir), "--overwrite"])
    printed = capsys.readouterr().out
    assert (out_dir / "notes.txt").read_text() == "mine" and "notes.txt" not in printed
    assert (out_dir / "config.json").is_file() and "config.json" in printed
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]


def test_results_and_plot_arguments(tmp_path):
    expect_error(lambda: results.main([str(tmp_path / "nowhere")]), SystemExit, "no results.jsonl found under",
                 str(tmp_path / "nowhere"))
    run = tmp_path / "run"
    run.mkdir()
    write(run / "results.jsonl", '{"task": "xnli"}\nnot json\n')
    expect_error(lambda: results.main([str(run)]), ValueError, f"{run / 'results.jsonl'}, line 2: not a JSON results row")
    expect_error(lambda: plot.main(["fig99", "--runs", str(run), "--out", str(tmp_path / "x")]), SystemExit,
                 "no figure for experiment 'fig99'")
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_error(lambda: plot.main(["fig5_alpha", "--runs", str(empty), "--out", str(tmp_path / "x")]), SystemExit,
                 "no result rows in")
    expect_error(lambda: plot.main(["fig5_alpha", "--runs", str(run)]), SystemExit, "2")  # argparse: --out required


# ----------------------------------------------------------------------------------------------
# xlmr-train for real: a non-zero exit with the message in seconds, before any data preparation


TRAIN_CASES = [
    (["data.alpha=abc"], "data.alpha='abc': expected a number >= 0"),
    (["trainer.max_step=10"], "did you mean trainer.max_steps?"),
    (["data.languages=xnli8", "data.mask_prob=1.5"], "data.languages='xnli8' is not a language set"),
    (["scale=big"], "Could not find 'scale/big'\n\nAvailable options in 'scale':\n\tmini\n\tpaper\n\tsmall\n\ttiny"),
]


@pytest.mark.parametrize("args, expected", TRAIN_CASES, ids=[" ".join(c[0]) for c in TRAIN_CASES])
def test_xlmr_train_exits_before_any_work(cli_env, tmp_path, args, expected):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config_resolved.yaml").write_text("earlier run\n")
    (run_dir / "notes.txt").write_text("keep me\n")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "xlmr_lit.cli", *TINY, f"paths.run_dir={run_dir}", *args],
                          env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - started
    tried["cases"] += 1
    assert proc.returncode != 0 and expected in proc.stderr, proc.stderr[-2000:]
    assert seconds < 60, seconds
    assert sorted(p.name for p in run_dir.iterdir()) == ["config_resolved.yaml", "notes.txt"]
    assert (run_dir / "config_resolved.yaml").read_text() == "earlier run\n"
    assert not (Path(cli_env["XLMR_LIT_CACHE"]) / "shards").exists() or proc.returncode != 0
    tried["clear"] += 1


# ----------------------------------------------------------------------------------------------
# data preparation under kill -9


PREPARE = """
import sys
from pathlib import Path
from xlmr_lit.prepare import prepare_corpus
prepare_corpus(Path(sys.argv[2]), {languages}, Path(sys.argv[1]), spm_path=None, vocab_size=1000,
               sample_lines=3000, character_coverage=0.9995, alpha=0.3, seed=0, valid_every=10,
               valid_max_tokens=10000, num_proc=2, skip_undecodable=True)
"""
LANGUAGES = ["en", "fr", "de", "ru", "zh", "sw", "ur", "es", "ar", "hi"]


def write_large_corpus(corpus_dir: Path) -> Path:
    """The bundled UDHR text of each language, repeated to ~4 MB, so that encoding runs long enough to be killed."""
    corpus_dir.mkdir()
    for lang in LANGUAGES:
        text = lzma.open(BUNDLED_CORPUS_DIR / f"{lang}.txt.xz", "rt", encoding="utf-8").read()
        (corpus_dir / f"{lang}.txt").write_text(text * (4_000_000 // len(text.encode()) + 1), encoding="utf-8")
    return corpus_dir


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"PPid:\t{pid}\n" in status.read_text():
                found.append(int(status.parent.name))
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except OSError:
        return False


def shard_files(cache: Path) -> dict[str, bytes]:
    files = {p.relative_to(cache).as_posix(): p.read_bytes()
             for p in sorted(cache.glob("shards/*/*.bin")) + sorted(cache.glob("tokenizers/*/*.model"))}
    return files


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_prepare_killed_with_sigkill_leaves_no_workers_or_scratch_and_the_rerun_gives_the_same_shards(tmp_path):
    script = PREPARE.format(languages=LANGUAGES)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    corpus = str(write_large_corpus(tmp_path / "corpus"))
    for attempt in range(3):  # a worker may finish its language between the parent's kill and its own exit
        killed_cache = tmp_path / f"killed{attempt}"
        proc = subprocess.Popen([sys.executable, "-c", script, str(killed_cache), corpus], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and not list(killed_cache.glob("shards/.*.tmp-*")):
            workers = children_of(proc.pid) or workers
            time.sleep(0.05)
        workers = children_of(proc.pid) or workers
        assert list(killed_cache.glob("shards/.*.tmp-*")), "the encoding step never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert workers
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "orphaned workers still run"
        if list(killed_cache.glob("shards/.*.tmp-*")):
            break
    if not list(killed_cache.glob("shards/.*.tmp-*")):
        # every worker finished its language in the up to 0.5 s before it saw its parent gone (seen on an idle
        # machine, three attempts running): leave what a kill mid-language leaves, a dead process's scratch dir
        from xlmr_lit.prepare import HOST

        (killed_cache / "shards" / f".xx-0.tmp-{HOST}-{proc.pid}-deadbeef").mkdir(parents=True)
    assert list(killed_cache.glob("shards/.*.tmp-*"))  # what the kill left behind ...

    subprocess.run([sys.executable, "-c", script, str(killed_cache), corpus], env=env, check=True, capture_output=True)
    assert not list(killed_cache.glob("*/.*.tmp-*"))  # ... is gone after the next start
    clean_cache = tmp_path / "clean"
    subprocess.run([sys.executable, "-c", script, str(clean_cache), corpus], env=env, check=True, capture_output=True)
    assert shard_files(killed_cache) == shard_files(clean_cache)  # same names (cache keys) and bytes


# ----------------------------------------------------------------------------------------------
# tokenizer sampling: absurd lines and a byte cap


def test_tokenizer_sampling_refuses_a_file_of_one_huge_line_and_caps_its_bytes(tmp_path, caplog):
    from xlmr_lit.prepare import prepare_tokenizer, sample_lines

    huge = write(tmp_path / "fr.txt", "mot " * 500_000)  # 2 MB, no newline
    expect_error(lambda: sample_lines(huge, 100_000, 0, True), CorpusError,
                 f"{huge}, line 1: 2000000 bytes in one line", "split the text into lines")
    other = write(tmp_path / "en.txt", "a short line\n")
    expect_error(lambda: prepare_tokenizer({"en": other, "fr": huge}, tmp_path / "cache", 100, 100_000, 1.0, 0.3, 0,
                                           1), CorpusError, f"{huge}, line 1")
    assert not list((tmp_path / "cache").rglob("sample.txt"))

    mixed = write(tmp_path / "de.txt", "kurz\n" + "lang " * 2000 + "\nnoch eine Zeile\n")
    lines, note = sample_lines(mixed, 10, 0, True)
    assert sorted(set(lines)) == ["kurz", "noch eine Zeile"] and len(lines) == 10
    assert f"{mixed}: 1 line(s) longer than 4192 bytes (first: line 2, 10001 bytes)" in note
    lines, _ = sample_lines(other, 100_000, 0, True, max_bytes=1000)  # a short file repeated: bytes, not lines, stop it
    assert 0 < sum(len(line) + 1 for line in lines) <= 1000


# ----------------------------------------------------------------------------------------------
# scores nobody should trust: refused, or warned about, naming what is off


STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"


@pytest.mark.parametrize("score", ["nan", "37.5", "-1"])
def test_an_stsb_score_outside_0_to_5_is_named(tmp_path, score):
    path = write(tmp_path / "dev.tsv", STSB_HEADER + "0\tg\tf\t2012\t0\ts\ts\tA man.\tA dog.\t2.5\n"
                                                    f"1\tg\tf\t2012\t1\ts\ts\tA cat.\tA car.\t{score}\n")
    expect_error(lambda: read_glue_tsv(path, "stsb"), DataFormatError,
                 f"{path}, line 3: expected a float score from 0 to 5, found '{score}'")


def test_a_translate_test_file_with_another_row_count_than_the_test_set_is_refused(make_cfg, tmp_path):
    from test_task_xnli import write_translate_test, write_xtreme, xnli_cfg
    from xlmr_lit.tasks import xnli

    data = write_translate_test(write_xtreme(tmp_path / "data", languages=["en"]), ["fr"])
    translated = data / "translate-test" / "test-fr-en-translated.tsv"
    translated.write_text("".join(translated.read_text().splitlines(keepends=True)[:4]))
    cfg = xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=translate_test").task
    expect_error(lambda: xnli.load_splits(cfg, ["en", "fr"], 1), ValueError,
                 f"{translated}: 4 examples, where the English test set has 6")


def test_conll_files_without_blank_lines_or_in_utf16_are_named(tmp_path):
    panx = write(tmp_path / "dev-fr.tsv", "".join(f"fr:mot{i}\tO\n" for i in range(1500)))
    expect_error(lambda: read_conll(panx, scheme="iob2"), DataFormatError,
                 f"{panx}, line 1: 1500 tokens without a blank line between them, read as one sentence")
    utf16 = write(tmp_path / "eng.testa", "EU NNP B-ORG\n\n", encoding="utf-16")
    expect_error(lambda: read_conll(utf16, scheme="iob1"), DataFormatError, f"{utf16}, line 1: UTF-16 text",
                 "iconv -f utf-16 -t utf-8")
    latin1 = write(tmp_path / "dev-de.tsv", "K\u00f6ln\tist\tentailment\n", encoding="latin-1")
    message = expect_error(lambda: read_xnli_tsv(latin1), UnicodeDecodeError, f"{latin1}, line 1: not utf-8 text",
                           "iconv -f latin1 -t utf-8")
    assert "task.encoding" not in message and "CoNLL" not in message  # XNLI has no such option


def test_a_language_with_two_corpus_files_is_refused(base_configs, tmp_path):
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.data.corpus_dir = str(tmp_path)
    for lang in ("en", "sw"):
        write(tmp_path / f"{lang}.txt", "text\n")
    write(tmp_path / "fr.txt", "bonjour\n")
    (tmp_path / "fr.txt.gz").write_bytes(gzip.compress(b"salut\n"))
    expect_error(lambda: check_config(cfg), ConfigError, f"{tmp_path} has fr.txt and fr.txt.gz: one file per language")


def test_report_groups_naming_untrained_languages_are_warned_about():
    from xlmr_lit.config_checks import untrained_report_groups

    assert untrained_report_groups({"high": ["en", "fr"], "low": ["sw", "ur"], "x": ["de"]}, ["en", "fr", "sw"]) == [
        "data.report_groups.low names ['ur'], not trained in this run (languages: en fr sw); its average is over "
        "['sw'] only",
        "data.report_groups.x names ['de'], not trained in this run (languages: en fr sw); it is left out of the "
        "results table"]


def test_plotting_a_sweep_figure_from_runs_outside_its_sweep_is_an_error(tmp_path):
    run = tmp_path / "xnli_run"
    run.mkdir()
    write(run / "results.jsonl", json.dumps({"task": "xnli", "setting": "cross_lingual_transfer", "selection": "single",
                                             "split": "test", "language": "en", "metric": "accuracy", "value": 0.5,
                                             "epoch": 0}) + "\n")
    expect_error(lambda: plot.main(["fig5_alpha", "--runs", str(run), "--out", str(tmp_path / "fig")]), SystemExit,
                 "fig5_alpha: no result row has override.data.alpha, the setting its sweep varies")
    assert not list(tmp_path.glob("fig*"))


# ----------------------------------------------------------------------------------------------
# raw or misnamed errors, named


def training_checkpoint(path: Path, **hyper_parameters) -> Path:
    torch.save({"global_step": 1, "state_dict": {}, "loops": {}, "hyper_parameters": hyper_parameters}, path)
    return path


def test_a_resume_checkpoint_of_another_task_or_shape_is_refused_up_front(base_configs, tmp_path):
    shape = {**dataclasses.asdict(CONFIG), "vocab_size": 1000, "intermediate_size": None}
    pretraining = training_checkpoint(tmp_path / "pretraining.ckpt", model_config={**shape, "hidden_size": 64})
    finetuning = training_checkpoint(tmp_path / "finetuning.ckpt", model_config=shape, labels=["a", "b"])
    for base, path, expected in (
            ("pretrain", pretraining, "this one is of a model of another shape: hidden_size=64 (model.hidden_size=32)"),
            ("pretrain", finetuning, "this one is a fine-tuning checkpoint, and task=pretrain pretrains"),
            ("xnli", pretraining, "this one is a pretraining checkpoint, and task=xnli fine-tunes")):
        cfg = copy.deepcopy(base_configs[base])
        cfg.train.ckpt_path = str(path)
        expect_error(lambda: check_config(cfg), ConfigError, f"train.ckpt_path='{path}': expected a training "
                                                             f"checkpoint to resume from; {expected}")


def test_the_machine_is_checked_for_its_gpu_and_writable_directories(base_configs, tmp_path):
    from xlmr_lit.config_checks import check_machine

    a_file = write(tmp_path / "a_file", "x")
    cfg = copy.deepcopy(base_configs["pretrain"])
    cfg.paths.cache_dir = str(a_file)
    expect_error(lambda: check_machine(cfg, a_file / "run"), ConfigError,
                 f"run dir (hydra.run.dir, paths.run_dir)='{a_file / 'run'}': expected a directory this process can "
                 f"write; {a_file} is a file, not a directory", f"paths.cache_dir='{a_file}': expected a directory "
                 f"this process can write; {a_file} is a file")
    if not torch.cuda.is_available():
        cfg = copy.deepcopy(base_configs["pretrain"])
        cfg.trainer.accelerator = "gpu"
        expect_error(lambda: check_machine(cfg, tmp_path / "run"), ConfigError, "trainer.accelerator='gpu': expected a "
                     "CUDA GPU, and this machine has none", "trainer=cpu")


def test_foreign_files_as_model_init_or_to_export_are_named_without_torch_advice(init_ckpt, tmp_path):
    pickled = tmp_path / "pickled.ckpt"
    torch.save({"path": Path("x")}, pickled)  # an object, not tensors
    message = expect_error(lambda: load_pretrained(str(pickled)), ValueError, f"{pickled} is not a checkpoint of "
                           "xlmr-lit, HF or fairseq: it holds objects other than tensors")
    assert "weights_only=False" not in message and "weights_only` set to `False" not in message
    expect_error(lambda: export.main([str(pickled), str(tmp_path / "out")]), SystemExit, f"{pickled} is not a checkpoint")
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    write(hf_dir / "config.json", '{"model_type": "xlm-roberta", "vocab_size": ')
    write(hf_dir / "sentencepiece.bpe.model", "x")
    expect_error(lambda: load_pretrained(f"hf:{hf_dir}"), ValueError, f"{hf_dir / 'config.json'}: not an HF XLM-R "
                                                                      "config.json")
    a_file = write(tmp_path / "afile", "x")
    expect_error(lambda: export.main([str(init_ckpt), str(a_file / "sub")]), SystemExit,
                 f"out_dir {a_file / 'sub'} is inside {a_file}, which is a file")


# ----------------------------------------------------------------------------------------------
# how xlmr-train reports: a user error's message alone with exit 2, a bug's traceback


def run_train(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    given = {a.split("=")[0] for a in args}
    return subprocess.run([sys.executable, "-m", "xlmr_lit.cli", *args, *(o for o in TINY if o.split("=")[0] not in given),
                           "threads=1"], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_refused_config_prints_its_message_alone_exits_2_and_creates_nothing(cli_env, tmp_path):
    env = {k: v for k, v in cli_env.items() if k != "HYDRA_FULL_ERROR"}
    run_dir = tmp_path / "run"
    tried["cases"] += 1
    proc = run_train(["optim.lr=inf", f"hydra.run.dir={run_dir}"], env, tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr == "error: the config cannot run:\n  optim.lr=inf: expected a finite number > 0\n"
    assert not run_dir.exists()  # no .hydra/, no train.log
    tried["clear"] += 1


def test_a_data_error_during_the_run_prints_its_message_with_the_traceback_in_train_log(cli_env, tmp_path):
    from test_task_xnli import write_xtreme

    env = {k: v for k, v in cli_env.items() if k != "HYDRA_FULL_ERROR"}
    data = write_xtreme(tmp_path / "xnli", languages=["en"])
    (data / "dev-en.tsv").write_text("a\tb\tmaybe\n")
    init = tiny_lightning_checkpoint(tmp_path / "init")
    run_dir = tmp_path / "run"
    tried["cases"] += 1
    proc = run_train(["task=xnli", f"task.data_dir={data}", "task.languages=[en]", "task.max_length=64",
                      f"model.init={init}", f"model.vocab_size={VOCAB}", f"model.hidden_size={CONFIG.hidden_size}",
                      f"hydra.run.dir={run_dir}"], env, tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert f"error: {data / 'dev-en.tsv'}, line 1: unknown label 'maybe'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and "Error executing job" not in proc.stderr + proc.stdout
    assert "Traceback" in (run_dir / "train.log").read_text() and not (run_dir / "DONE").exists()
    tried["clear"] += 1


@pytest.mark.slow
def test_a_bug_still_shows_its_traceback(cli_env, tmp_path):
    from xlmr_lit.checkpoints import PAUSE_AT_STEP_ENV

    env = {k: v for k, v in cli_env.items() if k != "HYDRA_FULL_ERROR"} | {PAUSE_AT_STEP_ENV: "not a number"}
    proc = run_train([f"hydra.run.dir={tmp_path / 'run'}"], env, tmp_path)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ValueError: invalid literal" in proc.stderr


# ----------------------------------------------------------------------------------------------
# adding languages (extend.*) and trimming (xlmr-trim): refused before a tokenizer is trained or a model loaded


def checkpoint_with(run: Path, **hparams) -> Path:
    """tiny_lightning_checkpoint's model pretrained (so its hyper_parameters say) on en and fr, with `hparams` added."""
    path = tiny_lightning_checkpoint(run)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"] |= {"languages": ["en", "fr"], **hparams}
    torch.save(checkpoint, path)
    return path


def extend_config(base_configs, init, *updates):
    cfg = copy.deepcopy(base_configs["pretrain"])
    for key, value in (("model.init", str(init)), ("data.languages", ["en", "fr", "sw"]), ("extend.languages", ["sw"]),
                       *updates):
        OmegaConf.update(cfg, key, value)
    return cfg


def test_bad_extensions_are_refused_before_any_work(base_configs, tmp_path):
    plain = checkpoint_with(tmp_path / "plain")
    extended = checkpoint_with(tmp_path / "extended", extension={"base": "base.ckpt", "languages": ["de"],
                                                                  "added_pieces": 40})
    check_config(extend_config(base_configs, plain))  # the good case
    no_tokenizer = checkpoint_with(tmp_path / "no_tokenizer")
    for spm in (tmp_path / "no_tokenizer" / "tokenizer").iterdir():
        spm.unlink()
    not_xlmr = tmp_path / "bert"
    not_xlmr.mkdir()
    (not_xlmr / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 120}))
    spm = next((tmp_path / "plain" / "tokenizer").iterdir())
    (not_xlmr / "sentencepiece.bpe.model").write_bytes(spm.read_bytes())
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for lang in ("en", "fr"):
        (corpus / f"{lang}.txt").write_text("some text\n")
    cases = [
        ((("extend.languages", ["en"]),), plain, "extend.languages=['en']: expected languages model.init was not "
                                                 "pretrained on; it covers ['en'] already"),
        ((("data.corpus_dir", str(corpus)), ("data.skip_missing_languages", True)), plain,
         "expected languages with text in"),
        ((), no_tokenizer, "it has no tokenizer"),
        ((), extended, "expected a model not extended yet: it is base.ckpt extended by ['de'] (+40 pieces)"),
        ((), f"hf:{not_xlmr}", "an HF model of model_type 'bert', not XLM-R's 'xlm-roberta'"),
        ((("data.languages", ["en", "fr"]),), plain, "expected languages that data.languages lists too"),
        ((("model.init", None),), plain, "model.init=None: expected the model to add extend.languages to"),
        ((("extend.init", "fastText"),), plain, "extend.init='fastText': expected one of random, mean, focus, none"),
    ]
    for updates, init, expected in cases:
        cfg = extend_config(base_configs, init, *updates)
        expect_error(lambda: check_config(cfg), ConfigError, expected)


def test_bad_trims_are_refused_before_anything_is_written(tmp_path):
    from xlmr_lit.trim import main as trim_main

    base = checkpoint_with(tmp_path / "base")
    thai = tmp_path / "thai"
    thai.mkdir()
    (thai / "th.txt").write_text("ภาษาไทย ภาษาไทย\n")  # no piece of the model's tokenizer
    not_xlmr = tmp_path / "bert"
    not_xlmr.mkdir()
    (not_xlmr / "config.json").write_text(json.dumps({"model_type": "bert"}))
    for args, expected in (([str(base), str(tmp_path / "out1"), "--languages", "th", "--corpus-dir", str(thai)],
                            "uses no piece of"),
                           ([f"hf:{not_xlmr}", str(tmp_path / "out2"), "--languages", "en"], "not XLM-R's"),
                           ([str(base), str(tmp_path / "out3"), "--languages", "xx"], "no text for language 'xx'")):
        message = expect_error(lambda: trim_main(args), SystemExit, expected)
        assert message.startswith("xlmr-trim: error: ")
        assert not (tmp_path / args[1]).exists() or not any(Path(args[1]).iterdir())
