"""The UDHR stand-ins for XNLI, NER, QA and GLUE: written in the real layouts, read by the real task code."""

from collections import Counter
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from xlmr_lit.corpus import ReadReport, language_file, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.tasks import glue, ner, qa, udhr_standins, xnli
from xlmr_lit.tasks.udhr_standins import halves, standin_dir
from xlmr_lit.cli import CONF_DIR, train


def task_cfg(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=[f"task={name}", *overrides]).task


def read_standin(module, cfg, languages: list[str], cache: Path):
    cfg = OmegaConf.merge(cfg, {"data_dir": str(standin_dir(cfg, languages, cache))})
    return module.load_splits(cfg, languages, seed=1)


def english_paragraphs() -> set[str]:
    path = language_file(BUNDLED_CORPUS_DIR, "en")
    return {" ".join(p.split()) for doc in read_documents(path, ReadReport(path)) for p in doc}


def test_halves_cut_words_or_characters():
    assert halves("a b c d e f", "en") == ("a b c", "d e f")
    assert halves("a b c d e f", "en", at=1 / 3) == ("a b", "c d e f")
    assert halves("Now, therefore,", "en") is None  # too few words; not cut inside a word
    assert halves("人人有权享有生命自由和人身安全", "zh") == ("人人有权享有生命", "自由和人身安全")


def test_xnli_standin_in_xtreme_layout(tmp_path):
    cfg = task_cfg("xnli", "task.setting=translate_train_all")
    splits = read_standin(xnli, cfg, ["en", "sw", "zh"], tmp_path)
    data_dir = next((tmp_path / "udhr_standins").iterdir())
    assert sorted(p.name for p in data_dir.iterdir() if p.is_file()) == sorted(
        f"{s}-{lang}.tsv" for s in ("train", "dev", "test") for lang in ("en", "sw", "zh"))
    assert sorted(p.name for p in (data_dir / "translate-test").iterdir()) == [
        "test-sw-en-translated.tsv", "test-zh-en-translated.tsv"]
    assert {e.language for e in splits.train} == {"en", "sw", "zh"}
    assert {e.label for e in splits.train} == {"entailment", "neutral", "contradiction"}
    paragraphs = english_paragraphs()
    test = splits.evals[("test", "en")]
    entailed = [e for e in test if e.label == "entailment"]
    assert entailed and all(e.text_b in e.text_a for e in entailed)  # a stretch of the premise
    following = [e for e in test if e.label == "neutral"]  # a stretch of the words after the premise
    assert following and all(any(p.startswith(f"{e.text_a} ") and e.text_b in p[len(e.text_a):] for p in paragraphs)
                             for e in following)
    assert all(e.text_b not in e.text_a for e in following)
    # not always the words right after the cut: a premise's neutral hypotheses would all begin alike
    assert sum(any(p.startswith(f"{e.text_a} {e.text_b}") for p in paragraphs) for e in following) < len(following) / 2
    contradicted = [e for e in test if e.label == "contradiction"]
    assert contradicted and all(e.text_b not in e.text_a for e in contradicted)
    assert all(" ".join(e.text_b.split()[::-1]) in e.text_a for e in contradicted)  # the same words, reversed
    assert len(test) >= 200  # nine cut points per paragraph: enough to tell a score from chance
    # each cut's premise comes with NLI_TRAIN_COPIES entailed stretches in train, NLI_COPIES in test (a premise that
    # two cuts share, with twice as many)
    english_train = [e for e in splits.train if e.language == "en"]
    for rows, copies in ((english_train, udhr_standins.NLI_TRAIN_COPIES), (test, udhr_standins.NLI_COPIES)):
        per_premise = Counter(e.text_a for e in rows if e.label == "entailment")
        assert per_premise.most_common()[-1][1] == copies and all(n % copies == 0 for n in per_premise.values())


def test_ner_standin_tags_the_inserted_words(tmp_path):
    cfg = task_cfg("ner", "task.setting=train_all", "task.languages=[en,nl,sw]")
    splits = read_standin(ner, cfg, ["en", "nl", "sw"], tmp_path)
    data_dir = next((tmp_path / "udhr_standins").iterdir())
    assert (data_dir / "eng.train").read_text().startswith("-DOCSTART- O\n\n")
    assert (data_dir / "ned.testa").is_file() and (data_dir / "panx" / "dev-sw.tsv").is_file()  # sw is PAN-X
    assert {s.language for s in splits.train} == {"en", "nl", "sw"}
    paragraphs = " ".join(english_paragraphs())
    english = [s for s in splits.evals[("dev", "en")]]
    assert english
    for sentence in english:
        assert [t[:2] for t in sentence.tags if t != "O"][0] == "B-" and 1 <= sentence.tags.count("B-MISC") <= 3
        kept = [w for w, t in zip(sentence.tokens, sentence.tags) if t == "O"]
        assert " ".join(kept) in paragraphs  # without the inserted span, the sentence is the original text


def test_ner_standin_for_a_language_without_spaces(tmp_path):
    """Chinese runs are cut into characters, as PAN-X tokenizes it (whole paragraphs gave no sentence at all)."""
    cfg = task_cfg("ner", "task.setting=train_all", "task.languages=[en,zh]")
    splits = read_standin(ner, cfg, ["en", "zh"], tmp_path)
    chinese = splits.evals[("test", "zh")]
    assert len(chinese) >= 50
    for sentence in chinese:
        kept = [w for w, t in zip(sentence.tokens, sentence.tags) if t == "O"]
        assert all(len(w) == 1 for w in kept) and "B-MISC" in sentence.tags


def test_qa_standin_answers_follow_their_questions(tmp_path):
    cfg = task_cfg("qa", "task.languages=[en,zh]")
    splits = read_standin(qa, cfg, ["en", "zh"], tmp_path)
    data_dir = next((tmp_path / "udhr_standins").iterdir())
    assert (data_dir / "squad" / "train-v1.1.json").is_file()
    assert (data_dir / "MLQA_V1" / "test" / "test-context-zh-question-zh.json").is_file()
    assert splits.train and set(splits.evals) == {(s, lang) for s in ("dev", "test") for lang in ("en", "zh")}
    for example in splits.train + splits.evals[("test", "zh")]:
        answer = example.answers[0]
        before = example.context[: answer.start].rstrip(" ")
        assert before.endswith(example.question) and example.context[answer.start :].startswith(answer.text)
    paragraphs = [p for _, doc in udhr_standins.articles("en")["train"] for p in doc]
    assert {example.context for example in splits.train} <= set(paragraphs)  # SQuAD's contexts: paragraphs
    assert len(splits.train) == sum(max(len(p.split()) - 3, 0) for p in paragraphs)  # a question after every word


@pytest.mark.parametrize("name, module, languages, overrides", [
    ("ner", ner, ["en", "nl"], ["task.setting=train_all"]),
    ("qa", qa, ["en", "de"], []),
    ("xnli", xnli, ["en", "fr"], []),
    ("glue", glue, ["en"], ["task.glue_task=mnli"]),
])
def test_max_train_examples_subsamples_each_task(name, module, languages, overrides, tmp_path):
    full = read_standin(module, task_cfg(name, *overrides), languages, tmp_path).train
    capped_cfg = task_cfg(name, *overrides, "task.max_train_examples=40")
    capped = read_standin(module, capped_cfg, languages, tmp_path)
    data_dir = str(standin_dir(capped_cfg, languages, tmp_path))
    other_seed = module.load_splits(OmegaConf.merge(capped_cfg, {"data_dir": data_dir}), languages, seed=2).train
    assert len(full) > 40 and len(capped.train) == 40 and capped.train != other_seed
    assert all(example in full for example in capped.train)
    assert capped.sources["max_train_examples"] == 40  # in the features' cache key


def test_scale_tiny_caps_every_downstream_training_set():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for task in ("xnli", "ner", "qa", "glue"):
            cfg = compose("train", overrides=["scale=tiny", f"task@downstream={task}"])
            assert cfg.downstream.name == task and cfg.downstream.max_train_examples == 2400


def test_standin_is_generated_once_and_deterministic(tmp_path):
    cfg = task_cfg("xnli")
    first = standin_dir(cfg, ["en", "fr"], tmp_path / "a")
    mtime = (first / "train-en.tsv").stat().st_mtime_ns
    assert standin_dir(cfg, ["en", "fr"], tmp_path / "a") == first
    assert (first / "train-en.tsv").stat().st_mtime_ns == mtime
    second = standin_dir(cfg, ["en", "fr"], tmp_path / "b")
    assert (second / "dev-fr.tsv").read_bytes() == (first / "dev-fr.tsv").read_bytes()
    assert standin_dir(cfg, ["en", "de"], tmp_path / "a") != first  # other languages, another directory


def test_xnli_standin_has_translate_test_files(tmp_path):
    """The English UDHR is a translation of every other language's: translate-test reads the English test rows."""
    cfg = task_cfg("xnli", "task.setting=translate_test")
    splits = read_standin(xnli, cfg, ["en", "sw"], tmp_path)
    assert list(splits.evals) == [("dev", "en"), ("test", "en"), ("test", "sw")]
    assert [(e.text_a, e.label) for e in splits.evals[("test", "sw")]] == [
        (e.text_a, e.label) for e in splits.evals[("test", "en")]]


def test_glue_standin_in_the_glue_distribution_layout(tmp_path):
    data_dir = standin_dir(task_cfg("glue"), ["en"], tmp_path)
    first_lines = {path.relative_to(data_dir).as_posix(): path.read_text().split("\n", 1)[0]
                   for path in data_dir.rglob("*.tsv")}
    assert set(first_lines) == {f"{glue.TASK_DIRS[t]}/{name}" for t in glue.TASK_DIRS for name in glue.split_files(t).values()}
    assert first_lines["SST-2/train.tsv"] == "sentence\tlabel"
    assert first_lines["STS-B/dev.tsv"].endswith("\tsentence1\tsentence2\tscore")
    assert first_lines["MNLI/dev_matched.tsv"].endswith("\tlabel5\tgold_label")
    assert first_lines["CoLA/train.tsv"].startswith("udhr\t1\t\t")  # no header: source, label, mark, sentence
    paragraphs = english_paragraphs()
    for task in glue.TASK_DIRS:
        cfg = OmegaConf.merge(task_cfg("glue", f"task.glue_task={task}"), {"data_dir": str(data_dir)})
        splits = glue.load_splits(cfg, ["en"], seed=1)
        assert len(splits.train) > 50 and all(len(dev) >= 15 for dev in splits.evals.values()), task
        if splits.labels:
            assert {e.label for e in splits.train} == set(splits.labels), task
        else:
            assert {e.label for e in splits.train} >= {0.0, 5.0} and all(0 <= e.label <= 5 for e in splits.train)
    mnli = glue.load_splits(OmegaConf.merge(task_cfg("glue"), {"data_dir": str(data_dir)}), ["en"], seed=1)
    assert set(mnli.evals) == {("dev", "en"), ("dev_mismatched", "en")}
    entailed = [e for e in mnli.evals[("dev", "en")] if e.label == "entailment"]
    assert entailed and all(e.text_b in e.text_a and any(p.startswith(e.text_a) for p in paragraphs) for e in entailed)
    assert mnli.evals[("dev", "en")] != mnli.evals[("dev_mismatched", "en")]  # other articles


def test_no_standin_for_pretraining(tmp_path):
    with pytest.raises(ValueError, match="no UDHR stand-in for task=pretrain"):
        standin_dir(task_cfg("pretrain"), ["en"], tmp_path)


@pytest.mark.slow
def test_downstream_init_fine_tunes_without_pretraining(make_cfg, tmp_path):
    train(make_cfg(run_dir=tmp_path / "pretrain"))
    ckpt = tmp_path / "pretrain" / "checkpoints" / "last.ckpt"
    point = tmp_path / "point"
    rows = train(make_cfg("+task@downstream=xnli", f"+downstream.init={ckpt}", "downstream.udhr_standin=true",
                          "downstream.languages=[en,sw]", "downstream.epochs=1", "downstream.batch_size=16",
                          "downstream.max_train_examples=300",
                          "trainer.enable_progress_bar=false", run_dir=point))
    assert {(r["split"], r["language"]) for r in rows} >= {("test", "en"), ("test", "sw")}
    assert all(r["task"] == "xnli" and r["init"] == str(ckpt) and r["udhr_standin"] for r in rows)
    assert (point / "finetune" / "results.jsonl").is_file()
    assert not (point / "checkpoints").exists()  # nothing was pretrained


def test_a_given_data_dir_wins_over_the_standin(make_cfg, tmp_path):
    train(make_cfg(run_dir=tmp_path / "pretrain"))
    ckpt = tmp_path / "pretrain" / "checkpoints" / "last.ckpt"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=f"task.data_dir={tmp_path / 'empty'}: no XNLI files"):
        train(make_cfg("task=xnli", f"model.init={ckpt}", "task.udhr_standin=true", f"task.data_dir={tmp_path / 'empty'}",
                       run_dir=tmp_path / "ft"))
