"""Every benchmark's hub path, read through the code's own `load_dataset` call from a local copy of the
repository in its real layout (tests/hub_layouts.py), so that a wrong config, split or file pattern fails."""

import dataclasses

import datasets
import pytest
from hub_layouts import (write_conll2002, write_conll2003, write_glue, write_mlqa, write_squad, write_wikiann,
                         write_xnli, write_xquad)
from omegaconf import OmegaConf

from xlmr_lit.tasks import glue, hub, ner, qa, xnli
from xlmr_lit.tasks.features import TaskSplits
from xlmr_lit.tasks.hub import PARQUET_CONVERSION, HubSplit
from xlmr_lit.tasks.readers import Answer, DataFormatError, QAExample, TaggedSentence
from xlmr_lit.cli import CONF_DIR


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path, monkeypatch):
    """Keep `datasets`' cache of the prepared fixtures inside the test's directory."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets_cache")
    datasets.disable_progress_bars()


def task_cfg(name: str, **overrides):
    return OmegaConf.merge(OmegaConf.load(CONF_DIR / "task" / f"{name}.yaml"), overrides)


def nli_rows(lang: str, n: int = 3) -> dict:
    return {"premise": [f"{lang} premise {i}" for i in range(n)], "hypothesis": [f"{lang} hyp {i}" for i in range(n)],
            "label": [i % 3 for i in range(n)]}


# --------------------------------------------------------------------------------------------
# XNLI


def test_xnli_reads_per_language_configs_and_only_the_splits_it_uses(tmp_path):
    repo = write_xnli(tmp_path, {lang: nli_rows(lang) for lang in ("en", "fr", "sw")})
    for lang in ("fr", "sw"):  # evaluated only: reading their training split would fail
        (repo / lang / "train-00000-of-00001.parquet").unlink()
    splits = xnli.load_splits(task_cfg("xnli", hub_dir=str(tmp_path)), ["en", "fr", "sw"], 1)
    assert [e.label for e in splits.evals[("test", "sw")]] == ["entailment", "neutral", "contradiction"]
    assert splits.evals[("dev", "fr")][0].text_a == "fr premise 0"
    assert [e.language for e in splits.train] == ["en"] * 3
    with pytest.raises(FileNotFoundError):  # translate-train in French does need it
        xnli.load_splits(task_cfg("xnli", setting="translate_train", train_language="fr", hub_dir=str(tmp_path)),
                         ["fr"], 1)


def test_two_local_hub_copies_do_not_share_cached_features(tmp_path):
    """Copies with the same counts but different text: the feature cache key must tell them apart."""
    from xlmr_lit.finetune import features_cache_spec
    from xlmr_lit.prepare import cache_key

    spm = tmp_path / "sentencepiece.bpe.model"
    spm.write_bytes(b"a tokenizer")
    keys = []
    for copy, text in (("copy_a", "fr"), ("copy_b", "FR")):
        write_xnli(tmp_path / copy, {"en": nli_rows(text)})
        cfg = task_cfg("xnli", hub_dir=str(tmp_path / copy))
        keys.append(cache_key(features_cache_spec(cfg, xnli.load_splits(cfg, ["en"], 1), spm)))
    assert keys[0] != keys[1]
    files = task_cfg("xnli", hub_dir=str(tmp_path / "copy_a"), data_dir=str(tmp_path / "files"))
    assert "hub_dir" not in features_cache_spec(files, TaskSplits([], [], {}, "accuracy"), spm)


def test_xnli_split_layout_is_pinned(tmp_path):
    write_xnli(tmp_path, {"fr": nli_rows("fr")})
    assert xnli.HUB_SPLITS == {"train": "train", "dev": "validation", "test": "test"}
    assert len(hub.xnli_split("facebook/xnli", "fr", "test").load(tmp_path)) == 3
    for wrong in (HubSplit("facebook/xnli", "fr", "test", "fr/xnli-test.parquet"),  # an older layout
                  HubSplit("facebook/xnli", "french", "test", "fr/test-*.parquet")):  # an unknown config
        with pytest.raises((FileNotFoundError, ValueError)):
            wrong.load(tmp_path)


def test_xnli_bad_label_is_named(tmp_path):
    rows = nli_rows("en")
    rows["label"][2] = -1
    write_xnli(tmp_path, {"en": rows})
    with pytest.raises(DataFormatError, match=r"hf:facebook/xnli/en/train: row 2: label -1.*task\.skip_bad_rows=true"):
        xnli.load_splits(task_cfg("xnli", hub_dir=str(tmp_path)), ["en"], 1)


# --------------------------------------------------------------------------------------------
# NER


SENTENCE = (["Ali", "lives", "in", "Nairobi"], ["B-PER", "O", "O", "B-LOC"])


def test_ner_reads_conll_parquet_conversions_and_wikiann(tmp_path):
    write_conll2003(tmp_path, [SENTENCE[0], ["EU", "rejects", "German", "call"]],
                    [SENTENCE[1], ["B-ORG", "O", "B-MISC", "O"]])
    write_conll2002(tmp_path, {"es": ([["Madrid", "es"]], [["B-LOC", "O"]]),
                               "nl": ([["Jan", "Smit"]], [["B-PER", "I-PER"]])})
    write_wikiann(tmp_path, {"sw": ([SENTENCE[0]], [SENTENCE[1]])})
    cfg = task_cfg("ner", setting="train_all", hub_dir=str(tmp_path))
    splits = ner.load_splits(cfg, ["en", "es", "nl", "sw"], 0)
    assert splits.evals[("test", "en")][1] == TaggedSentence(["EU", "rejects", "German", "call"],
                                                            ["B-ORG", "O", "B-MISC", "O"], "en")
    assert splits.evals[("dev", "es")] == [TaggedSentence(["Madrid", "es"], ["B-LOC", "O"], "es")]
    assert splits.evals[("dev", "nl")] == [TaggedSentence(["Jan", "Smit"], ["B-PER", "I-PER"], "nl")]
    assert splits.evals[("test", "sw")] == [TaggedSentence(*SENTENCE, "sw")]
    assert len(splits.train) == 5
    assert splits.sources["es/dev"] == "hf:eriktks/conll2002/validation@refs/convert/parquet"
    with pytest.raises(FileNotFoundError, match="German is not on the HF hub"):
        ner.load_splits(task_cfg("ner", setting="train_each", train_language="de"), ["de"], 0)


def test_hub_ner_entities_that_start_with_i_are_read_as_b_and_counted(tmp_path, caplog):
    write_wikiann(tmp_path, {"sw": ([["Jan", "Smit", "na", "Nairobi"]], [["I-PER", "I-PER", "O", "I-LOC"]])})
    splits = ner.load_splits(task_cfg("ner", setting="train_each", train_language="sw", hub_dir=str(tmp_path)),
                             ["sw"], 0)
    assert splits.evals[("test", "sw")][0].tags == ["B-PER", "I-PER", "O", "B-LOC"]
    assert "hf:unimelb-nlp/wikiann/sw/test: 2 entities start with I-" in caplog.text


def test_ner_layouts_are_pinned(tmp_path):
    write_conll2003(tmp_path, [SENTENCE[0]], [SENTENCE[1]])
    write_conll2002(tmp_path, {"es": ([["Madrid"]], [["B-LOC"]]), "nl": ([["Jan"]], [["B-PER"]])})
    # the script datasets are read from their parquet conversion: their main branch is refused
    for lang in ("en", "nl"):
        main_branch = dataclasses.replace(hub.ner_split(lang, "test"), revision=None)
        with pytest.raises(RuntimeError, match="Dataset scripts are no longer supported"):
            main_branch.load(tmp_path)
    # CoNLL-2002's conversion is one folder per language: es and nl must not mix
    assert [row["tokens"] for row in hub.ner_split("nl", "test").load(tmp_path)] == [["Jan"]]
    with pytest.raises(ValueError):  # config names es/nl exist only in the script, not in the conversion
        HubSplit("eriktks/conll2002", "es", "test", "es/test/*.parquet", PARQUET_CONVERSION).load(tmp_path)
    with pytest.raises(FileNotFoundError):
        HubSplit("eriktks/conll2003", None, "test", "default/test/*.parquet", PARQUET_CONVERSION).load(tmp_path)
    write_wikiann(tmp_path, {"sw": ([SENTENCE[0]], [SENTENCE[1]])})
    with pytest.raises(ValueError, match="swa"):  # WikiANN's configs are the card's language codes
        HubSplit("unimelb-nlp/wikiann", "swa", "test").load(tmp_path)


# --------------------------------------------------------------------------------------------
# QA


def qa_example(lang: str, qid: str):
    context = {"zh": "李明在清华大学工作。", "en": "Li works at Tsinghua.",
               "de": "Li arbeitet in Berlin."}[lang]
    answer = {"zh": "清华大学", "en": "Tsinghua", "de": "Berlin"}[lang]
    return (qid, "where?", context, answer, context.index(answer))


def test_qa_reads_squad_mlqa_from_xtreme_and_xquad(tmp_path):
    write_squad(tmp_path, [qa_example("en", "s1")])
    write_mlqa(tmp_path, {"zh": [qa_example("zh", "m1")], "de": [qa_example("de", "m2")]})
    write_xquad(tmp_path, {"zh": [qa_example("zh", "x1")], "de": [qa_example("de", "x2")]})
    splits = qa.load_splits(task_cfg("qa", hub_dir=str(tmp_path)), ["zh", "de"], 0)
    assert splits.train == [QAExample("s1", "where?", "Li works at Tsinghua.", [Answer("Tsinghua", 12)], "title", "en")]
    assert splits.evals[("test", "zh")] == [
        QAExample("m1", "where?", "李明在清华大学工作。", [Answer("清华大学", 3)], "title", "zh")]
    assert [e.id for e in splits.evals[("dev", "de")]] == ["m2-dev"]  # validation, of MLQA.de.de (not MLQA.de.en)
    assert splits.sources["dev/de"] == "hf:google/xtreme/MLQA.de.de/validation"
    assert splits.sources["test/zh"] == "hf:google/xtreme/MLQA.zh.zh/test"
    xquad = qa.load_splits(task_cfg("qa", benchmark="xquad", hub_dir=str(tmp_path)), ["de"], 0)
    assert [e.id for e in xquad.evals[("test", "de")]] == ["x2"]
    assert [e.id for e in xquad.evals[("dev", "en")]] == ["s1"]
    assert xquad.sources["test/de"] == "hf:google/xquad/xquad.de/validation"
    with pytest.raises(ValueError):  # MLQA's configs are MLQA.<context>.<question>, with validation and test
        HubSplit("google/xtreme", "MLQA.de.de", "train").load(tmp_path)
    with pytest.raises(ValueError):
        HubSplit("google/xtreme", "mlqa.de.de", "test").load(tmp_path)
    with pytest.raises(ValueError):  # XQuAD's configs are xquad.<lang>, with one split, validation
        HubSplit("google/xquad", "de", "validation").load(tmp_path)
    with pytest.raises(ValueError):
        HubSplit("google/xquad", "xquad.de", "test").load(tmp_path)


def test_qa_answer_not_in_context_is_named(tmp_path):
    write_squad(tmp_path, [("s1", "where?", "Li works at Tsinghua.", "Tsinghua", 3)])
    write_mlqa(tmp_path, {"zh": [qa_example("zh", "m1")]})
    with pytest.raises(DataFormatError, match=r"rajpurkar/squad/plain_text/train: question s1.*task\.skip_bad=true"):
        qa.load_splits(task_cfg("qa", hub_dir=str(tmp_path)), ["zh"], 0)


# --------------------------------------------------------------------------------------------
# GLUE


def test_glue_reads_train_and_validation_splits(tmp_path):
    write_glue(tmp_path, "mnli", nli_rows("en", 4))
    mnli = glue.load_splits(task_cfg("glue", glue_task="mnli", hub_dir=str(tmp_path)), ["en"], 1)
    assert list(mnli.evals) == [("dev", "en"), ("dev_mismatched", "en")]
    with pytest.raises(ValueError):  # MNLI has validation_matched and validation_mismatched only
        HubSplit("nyu-mll/glue", "mnli", "validation").load(tmp_path)
    assert [e.label for e in mnli.train] == ["entailment", "neutral", "contradiction", "entailment"]
    write_glue(tmp_path, "cola", {"sentence": ["a", "b"], "label": [0, 1]})
    cola = glue.load_splits(task_cfg("glue", glue_task="CoLA", hub_dir=str(tmp_path)), ["en"], 1)
    assert [e.label for e in cola.evals[("dev", "en")]] == ["unacceptable", "acceptable"]
    write_glue(tmp_path, "stsb", {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [0.5, 4.0]})
    stsb = glue.load_splits(task_cfg("glue", glue_task="STS-B", hub_dir=str(tmp_path)), ["en"], 1)
    assert stsb.labels == [] and [e.label for e in stsb.train] == [0.5, 4.0]


def test_glue_bad_label_is_named(tmp_path):
    write_glue(tmp_path, "sst2", {"sentence": ["a", "b", "c"], "label": [0, 1, -1]})
    with pytest.raises(DataFormatError, match=r"hf:nyu-mll/glue/sst2/train: row 2: label -1.*task\.skip_bad_rows=true"):
        glue.load_splits(task_cfg("glue", glue_task="sst2", hub_dir=str(tmp_path)), ["en"], 1)
