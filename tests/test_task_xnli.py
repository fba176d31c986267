"""XNLI: the three file layouts, the hub path, the three settings end to end on a tiny random model."""

import json
import random

import pytest
from pytorch_lightning import Callback
from pytorch_lightning.callbacks import EarlyStopping
from tiny_hf_model import build_tiny_hf_model  # tests/tiny_hf_model.py

from xlmr_lit.tasks import xnli
from xlmr_lit.tasks.readers import DataFormatError
from xlmr_lit.cli import train

LANGUAGES = xnli.LANGUAGES
LABELS = ["entailment", "neutral", "contradiction"]
WORDS = {
    "en": "the cat sees a dog near old house", "fr": "le chat voit un chien près maison",
    "es": "el gato ve un perro casa",
    "de": "die Katze sieht einen Hund Haus", "el": "η γάτα βλέπει σκύλο σπίτι", "bg": "котката вижда куче къща",
    "ru": "кошка видит собаку дом", "tr": "kedi köpeği görüyor ev", "ar": "القطة ترى كلبا بيت",
    "vi": "con mèo thấy con chó nhà", "th": "แมว เห็น สุนัข บ้าน", "zh": "猫 看见 一只 狗 房子",
    "hi": "बिल्ली कुत्ता देखती घर", "sw": "paka anaona mbwa nyumba", "ur": "بلی کتا دیکھتی گھر",
}
XNLI_1_HEADER = [
    "language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
    "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2", "label3",
    "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match",
]
FINETUNE = ["task.epochs=2", "task.batch_size=4", "task.eval_batch_size=16", "+trainer.limit_train_batches=2",
            "trainer.enable_progress_bar=false"]


def sentence(rng: random.Random, lang: str) -> str:
    words = WORDS[lang].split()
    # quote characters are part of XNLI's text: a reader with CSV quoting on would mangle these
    return '"' + " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))) + "\" it's"


def pairs(lang: str, n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(f"{lang}{seed}")
    return [(sentence(rng, lang), sentence(rng, lang), LABELS[i % 3]) for i in range(n)]


def write_xnli_1(root, languages=LANGUAGES, n=6):
    """XNLI-1.0 dev/test (all languages in one file, 19 columns) and XNLI-MT-1.0 train files."""
    (root / "XNLI-1.0").mkdir(parents=True)
    for split_seed, split in enumerate(("dev", "test")):
        lines = ["\t".join(XNLI_1_HEADER)]
        for lang in languages:
            for i, (a, b, label) in enumerate(pairs(lang, n, split_seed)):
                row = [lang, label, "( x )", "( y )", "(ROOT x)", "(ROOT y)", a, b, str(i), f"{i}{lang}", "fiction",
                       label, label, "neutral", label, label, a, b, "True"]
                lines.append("\t".join(row))
        (root / "XNLI-1.0" / f"xnli.{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "XNLI-MT-1.0" / "multinli").mkdir(parents=True)
    for lang in languages:
        rows = ["premise\thypo\tlabel"] + [
            f"{a}\t{b}\t{'contradictory' if label == 'contradiction' else label}"  # XNLI-MT's spelling
            for a, b, label in pairs(lang, 12, 7)
        ]
        path = root / "XNLI-MT-1.0" / "multinli" / f"multinli.train.{lang}.tsv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def write_xtreme(root, languages=LANGUAGES, n=6, train_languages=("en",)):
    """XTREME's copy: {dev,test}-{lang}.tsv and train-{lang}.tsv, 3 columns, no header."""
    root.mkdir(parents=True, exist_ok=True)
    for split_seed, split in enumerate(("dev", "test")):
        for lang in languages:
            text = "".join(f"{a}\t{b}\t{label}\n" for a, b, label in pairs(lang, n, split_seed))
            (root / f"{split}-{lang}.tsv").write_text(text, encoding="utf-8")
    for lang in train_languages:
        text = "".join(f"{a}\t{b}\t{label}\n" for a, b, label in pairs(lang, 12, 7))
        (root / f"train-{lang}.tsv").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_hf_model(tmp_path_factory):
    """A randomly initialised 1-layer XLM-R in HF format; its SentencePiece model also knows the XNLI words."""
    rng = random.Random(0)
    xnli_text = [" ".join(sentence(rng, lang) for _ in range(3)) for _ in range(20) for lang in LANGUAGES]
    return build_tiny_hf_model(tmp_path_factory.mktemp("tiny_xlmr"), extra_text=xnli_text)


def xnli_cfg(make_cfg, *overrides, **kwargs):
    return make_cfg("task=xnli", "task.hub_dataset=null", *overrides, **kwargs)


def assert_rows(rows, languages, setting):
    assert {(r["selection"], r["split"], r["language"]) for r in rows} == {
        (selection, split, lang) for selection in ("single", "per_language") for split in ("dev", "test")
        for lang in languages
    }
    assert all(r["task"] == "xnli" and r["setting"] == setting and r["metric"] == "accuracy" for r in rows)
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)
    single_epochs = {r["epoch"] for r in rows if r["selection"] == "single"}
    assert len(single_epochs) == 1  # one checkpoint for every language


# ----------------------------------------------------------------------------------------------
# end to end: every setting through xlmr_lit.cli.train


def test_cross_lingual_transfer_on_xnli_1_files(make_cfg, tiny_hf_model, tmp_path):
    data = write_xnli_1(tmp_path / "data")
    rows = train(xnli_cfg(make_cfg, f"model.init=hf:{tiny_hf_model}", f"task.data_dir={data}", *FINETUNE))
    assert_rows(rows, LANGUAGES, "cross_lingual_transfer")
    written = [json.loads(line) for line in open(tmp_path / "run" / "results.jsonl")]
    assert written == rows


def test_translate_train_on_xtreme_files(make_cfg, tiny_hf_model, tmp_path):
    data = write_xtreme(tmp_path / "download" / "xnli", train_languages=("en", "sw"))
    rows = train(xnli_cfg(make_cfg, f"model.init=hf:{tiny_hf_model}", f"task.data_dir={tmp_path / 'download'}",
                          "task.setting=translate_train", "task.train_language=sw", *FINETUNE))
    assert_rows(rows, ["sw"], "translate_train")
    assert all(r["train_language"] == "sw" for r in rows)
    assert data.is_dir()


def test_translate_train_all_on_a_subsampled_union(make_cfg, tiny_hf_model, tmp_path):
    data = write_xnli_1(tmp_path / "data", languages=["en", "fr", "zh"])
    rows = train(xnli_cfg(make_cfg, f"model.init=hf:{tiny_hf_model}", f"task.data_dir={data}",
                          "task.setting=translate_train_all", "task.languages=[en,fr,zh]",
                          "task.max_train_examples=20", *FINETUNE))
    assert_rows(rows, ["en", "fr", "zh"], "translate_train_all")


class TrainerSettings(Callback):
    """What the trainer, optimizer and loader run with, seen when training starts."""

    def on_train_start(self, trainer, module):
        optimizer = trainer.optimizers[0]
        self.seen = {
            "max_epochs": trainer.max_epochs, "batches_per_epoch": trainer.num_training_batches,
            "batch_size": trainer.train_dataloader.batch_size, "gradient_clip_val": trainer.gradient_clip_val,
            "lr": optimizer.defaults["lr"], "betas": optimizer.defaults["betas"], "eps": optimizer.defaults["eps"],
            "weight_decay": [group["weight_decay"] for group in optimizer.param_groups],
            "patience": [c.patience for c in trainer.callbacks if isinstance(c, EarlyStopping)],
            "total_steps": module.hparams.total_steps,
        }


def test_a_recipe_sets_what_the_trainer_runs(make_cfg, tiny_hf_model, tmp_path):
    """Issue 30: task.recipe=xtreme (XTREME's train_xnli.sh), two of its values made small, and the two settings
    of the fairseq#1367 recipe that XTREME lacks (epochs of N batches, early stopping) added to it."""
    write_xtreme(tmp_path / "download" / "xnli")  # 12 English training pairs: 3 batches of 4 per pass
    settings = TrainerSettings()
    rows = train(xnli_cfg(make_cfg, f"model.init=hf:{tiny_hf_model}", f"task.data_dir={tmp_path / 'download'}",
                          "task.recipe=xtreme", "task.recipes.xtreme.epochs=2", "task.recipes.xtreme.batch_size=4",
                          "+task.recipes.xtreme.batches_per_epoch=5", "+task.recipes.xtreme.early_stopping_patience=7",
                          "task.eval_batch_size=16", "trainer.enable_progress_bar=false"), callbacks=[settings])
    assert settings.seen == {
        "max_epochs": 2, "batches_per_epoch": 5, "batch_size": 4, "gradient_clip_val": 1.0, "lr": 2e-5,
        "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": [0.0, 0.0], "patience": [7], "total_steps": 10,
    }
    assert {(r["recipe"], r["lr"]) for r in rows} == {("xtreme", 2e-5)}
    assert {r["epoch"] for r in rows} <= {0, 1}


# ----------------------------------------------------------------------------------------------
# load_splits: layouts, settings, subsampling


def test_layouts_read_the_same_examples(make_cfg, tmp_path):
    one = xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={write_xnli_1(tmp_path / 'a')}").task, LANGUAGES, 1)
    other = xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={write_xtreme(tmp_path / 'b')}").task, LANGUAGES, 1)
    assert one.sources["layout"] == "xnli-1.0" and other.sources["layout"] == "xtreme"
    assert list(one.evals) == [(split, lang) for split in ("dev", "test") for lang in LANGUAGES]
    assert one.evals == other.evals
    assert one.train == other.train and len(one.train) == 12 and {e.language for e in one.train} == {"en"}
    first = one.evals[("dev", "zh")][0]
    assert first.text_a.startswith('"') and first.text_a.endswith("\" it's") and first.language == "zh"
    assert {e.label for e in one.train} == set(LABELS)  # XNLI-MT's "contradictory" read as contradiction


def test_settings_choose_training_and_evaluated_languages(make_cfg, tmp_path):
    data = write_xnli_1(tmp_path / "data")
    all_splits = xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=translate_train_all").task,
                                  LANGUAGES, 1)
    assert [e.language for e in all_splits.train] == [lang for lang in LANGUAGES for _ in range(12)]
    one = xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=translate_train",
                                    "task.train_language=ur").task, LANGUAGES, 1)
    assert list(one.evals) == [("dev", "ur"), ("test", "ur")] and {e.language for e in one.train} == {"ur"}
    with pytest.raises(ValueError, match="task.setting='zero_shot' is not an XNLI setting"):
        xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=zero_shot").task, LANGUAGES, 1)
    with pytest.raises(ValueError, match=r"XNLI has no language\(s\) \['ja'\]"):
        xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}").task, ["en", "ja"], 1)


def test_max_train_examples_subsamples_deterministically(make_cfg, tmp_path):
    data = write_xnli_1(tmp_path / "data")
    task_cfg = xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=translate_train_all",
                        "task.max_train_examples=30").task
    first, again, other_seed = (xnli.load_splits(task_cfg, LANGUAGES, seed).train for seed in (1, 1, 2))
    assert len(first) == 30 and first == again and first != other_seed
    assert len({e.language for e in first}) > 5


# ----------------------------------------------------------------------------------------------
# errors and the hub


def test_missing_files_list_every_layout(make_cfg, tmp_path):
    data = write_xtreme(tmp_path / "data", languages=["en", "fr"])
    with pytest.raises(FileNotFoundError) as error:
        xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}").task, ["en", "fr", "sw"], 1)
    message = str(error.value)
    assert "xnli-1.0: XNLI-1.0/xnli.{dev,test}.tsv and XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv" in message
    assert "xtreme: {dev,test}-{lang}.tsv and train-{lang}.tsv" in message
    assert str(data / "dev-sw.tsv") in message and str(data / "test-sw.tsv") in message
    assert str(data / "dev-fr.tsv") not in message  # present files are not listed as missing
    assert "task.hub_dataset=facebook/xnli" in message


def test_bad_row_names_file_and_line_or_is_skipped_and_counted(make_cfg, tmp_path, capsys):
    data = write_xtreme(tmp_path / "data", languages=["en"])
    with open(data / "dev-en.tsv", "a", encoding="utf-8") as f:
        f.write("a premise\ta hypothesis\tmaybe\n")  # line 7
    with pytest.raises(DataFormatError, match=r"dev-en.tsv, line 7: unknown label 'maybe'"):
        xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}").task, ["en"], 1)
    splits = xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}", "task.skip_bad_rows=true").task, ["en"], 1)
    assert len(splits.evals[("dev", "en")]) == 6
    assert "xnli: skipped 1 malformed rows" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# translate-test: an English model on test sets translated to English, supplied as files


def write_translate_test(root, languages):
    """translate-test/test-{lang}-en-translated.tsv: each language's test pairs in English, 3 columns."""
    (root / "translate-test").mkdir(parents=True, exist_ok=True)
    for seed, lang in enumerate(languages, start=100):
        text = "".join(f"{a}\t{b}\t{label}\n" for a, b, label in pairs("en", 6, seed))
        (root / "translate-test" / f"test-{lang}-en-translated.tsv").write_text(text, encoding="utf-8")
    return root


def test_translate_test_reads_the_translations_and_selects_on_english_dev(make_cfg, tiny_hf_model, tmp_path):
    data = write_translate_test(write_xtreme(tmp_path / "data", languages=["en"]), ["fr", "sw"])
    splits = xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=translate_test").task,
                              ["en", "fr", "sw"], 1)
    assert list(splits.evals) == [("dev", "en"), ("test", "en"), ("test", "fr"), ("test", "sw")]
    assert {e.language for e in splits.train} == {"en"}
    translated = splits.evals[("test", "sw")]
    assert [(e.text_a, e.label) for e in translated] == [(a, label) for a, _, label in pairs("en", 6, 101)]
    assert all(e.language == "sw" for e in translated)

    rows = train(xnli_cfg(make_cfg, f"model.init=hf:{tiny_hf_model}", f"task.data_dir={data}",
                          "task.setting=translate_test", "task.languages=[en,fr,sw]", *FINETUNE))
    assert {(r["split"], r["language"]) for r in rows} == {("dev", "en"), ("test", "en"), ("test", "fr"), ("test", "sw")}
    assert all(r["setting"] == "translate_test" for r in rows) and len({r["epoch"] for r in rows}) == 1


def test_translate_test_needs_its_files(make_cfg, tmp_path):
    data = write_translate_test(write_xtreme(tmp_path / "data", languages=["en"]), ["fr"])
    with pytest.raises(FileNotFoundError, match="test-sw-en-translated.tsv") as error:
        xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=translate_test").task, ["en", "sw"], 1)
    assert "premise TAB hypothesis TAB label" in str(error.value)
    with pytest.raises(ValueError, match="the hub has none"):
        xnli.load_splits(make_cfg("task=xnli", "task.setting=translate_test").task, ["en", "fr"], 1)
    with pytest.raises(ValueError, match="task.train_language must be en"):
        xnli.load_splits(xnli_cfg(make_cfg, f"task.data_dir={data}", "task.setting=translate_test",
                                  "task.train_language=fr").task, ["en", "fr"], 1)
