"""task=ner: reading CoNLL-2002/2003 and PAN-X files, label alignment, and every setting end to end."""

import random

import datasets
import pytest
from omegaconf import OmegaConf
from tiny_hf_model import build_tiny_hf_model

from xlmr_lit.tasks import ner
from xlmr_lit.tasks.readers import TaggedSentence, read_conll
from xlmr_lit.tokenizer import BOS_ID, EOS_ID, XLMRTokenizer
from xlmr_lit.cli import CONF_DIR, train

ENTITIES = {
    "en": {"PER": [["John", "Smith"], ["Mary"]], "LOC": [["Paris"], ["New", "York"]], "ORG": [["United", "Nations"]],
           "MISC": [["French"]]},
    "de": {"PER": [["Angela", "Merkel"]], "LOC": [["München"], ["Berlin"]], "ORG": [["Siemens"]], "MISC": [["Deutsche"]]},
    "es": {"PER": [["Pedro", "García"]], "LOC": [["Madrid"], ["Sevilla"]], "ORG": [["Telefónica"]], "MISC": [["Español"]]},
    "nl": {"PER": [["Jan", "de", "Vries"]], "LOC": [["Amsterdam"]], "ORG": [["Philips"]], "MISC": [["Nederlandse"]]},
    "ar": {"PER": [["أحمد", "علي"]], "LOC": [["القاهرة"], ["مصر"]], "ORG": [["جامعة", "الأزهر"]]},
}
FILLER = {
    "en": "the city is in and works for a".split(), "de": "die Stadt liegt in und arbeitet für".split(),
    "es": "la ciudad está en y trabaja para".split(), "nl": "de stad ligt in en werkt voor".split(),
    "ar": "تقع مدينة في ويعمل".split(),
}


def generated_sentences(lang: str, count: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """(tokens, IOB2 tags); the first sentence has two adjacent LOC entities (B- in IOB1 too)."""
    rng = random.Random(seed)
    first_loc, second_loc = ENTITIES[lang]["LOC"][0], ENTITIES[lang]["LOC"][-1]
    adjacent = [FILLER[lang][0], *first_loc, *second_loc, "."]
    sentences = [(adjacent, ["O", *entity_tags("LOC", first_loc), *entity_tags("LOC", second_loc), "O"])]
    while len(sentences) < count:
        tokens, tags = [], []
        for _ in range(rng.randint(2, 4)):
            filler = rng.choices(FILLER[lang], k=rng.randint(1, 3))
            tokens += filler
            tags += ["O"] * len(filler)
            entity_type = rng.choice(sorted(ENTITIES[lang]))
            words = rng.choice(ENTITIES[lang][entity_type])
            tokens += words
            tags += entity_tags(entity_type, words)
        sentences.append((tokens + ["."], tags + ["O"]))
    return sentences


def entity_tags(entity_type: str, words: list[str]) -> list[str]:
    return [f"B-{entity_type}"] + [f"I-{entity_type}"] * (len(words) - 1)


def iob2_to_iob1(tags: list[str]) -> list[str]:
    """B- only where an entity follows one of the same type, as CoNLL-2003 writes it."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") and not (i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == tag[2:]):
            tag = "I-" + tag[2:]
        out.append(tag)
    return out


def write_conll2003(path, sentences, lemma: bool, encoding: str = "utf-8"):
    """`token [lemma] POS chunk tag` in IOB1, after a -DOCSTART- line."""
    lines = ["-DOCSTART- -X- -X- -X- O" if lemma else "-DOCSTART- -X- -X- O", ""]
    for tokens, tags in sentences:
        for token, tag in zip(tokens, iob2_to_iob1(tags)):
            lines.append(" ".join([token, *([token.lower()] if lemma else []), "NN", "I-NP", tag]))
        lines.append("")
    path.write_bytes("\n".join(lines).encode(encoding))


def write_conll2002(path, sentences, docstart: bool):
    """`token POS tag` in IOB2; the Dutch files have -DOCSTART- lines."""
    lines = ["-DOCSTART- -DOCSTART- O"] if docstart else []
    for tokens, tags in sentences:
        lines += [f"{token} N {tag}" for token, tag in zip(tokens, tags)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_panx(path, sentences, lang: str):
    """XTREME's PAN-X: `lang:token<TAB>tag`, a blank line between sentences."""
    lines = []
    for tokens, tags in sentences:
        lines += [f"{lang}:{token}\t{tag}" for token, tag in zip(tokens, tags)] + [""]
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


SPLIT_SIZES = {"train": 16, "dev": 5, "test": 5}
CONLL_NAMES = {"en": "eng", "de": "deu", "es": "esp", "nl": "ned"}
CONLL_SPLITS = {"train": "train", "dev": "testa", "test": "testb"}


@pytest.fixture(scope="module")
def ner_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner_data")
    for seed, lang in enumerate(ENTITIES):
        for split, count in SPLIT_SIZES.items():
            sentences = generated_sentences(lang, count, seed=100 * seed + count)
            if lang in ("en", "de"):
                path = root / f"{CONLL_NAMES[lang]}.{CONLL_SPLITS[split]}"
                # the original German files are latin-1
                write_conll2003(path, sentences, lemma=lang == "de", encoding="latin-1" if lang == "de" else "utf-8")
            elif lang in ("es", "nl"):
                write_conll2002(root / f"{CONLL_NAMES[lang]}.{CONLL_SPLITS[split]}", sentences, docstart=lang == "nl")
            else:
                write_panx(root / "panx" / f"{split}-{lang}.tsv", sentences, lang)
    return root


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_hf_model(tmp_path_factory.mktemp("tiny_hf_ner"))


def task_cfg(**overrides):
    cfg = OmegaConf.load(CONF_DIR / "task" / "ner.yaml")
    return OmegaConf.merge(cfg, overrides)


# --------------------------------------------------------------------------------------------
# reading and settings


def test_each_format_reads_as_iob2(ner_data):
    splits = ner.load_splits(task_cfg(setting="train_all", data_dir=str(ner_data)), ["en", "de", "es", "nl", "ar"], 0)
    by_language = {lang: [s for s in splits.train if s.language == lang] for lang in ENTITIES}
    assert {lang: len(s) for lang, s in by_language.items()} == {lang: 16 for lang in ENTITIES}
    for seed, lang in enumerate(ENTITIES):  # IOB1 files (en, de) come back as the IOB2 they were written from
        expected = generated_sentences(lang, 16, seed=100 * seed + 16)
        assert [(s.tokens, s.tags) for s in by_language[lang]] == expected
    assert by_language["en"][0].tags[1:-1] == ["B-LOC", "B-LOC", "I-LOC"]  # Paris | New York
    assert "München" in by_language["de"][0].tokens  # latin-1 German file
    assert by_language["ar"][0].tokens[0] == "تقع"  # PAN-X language prefix removed
    assert set(splits.evals) == {(split, lang) for split in ("dev", "test") for lang in ENTITIES}
    assert splits.labels == ner.LABELS and splits.metric == "f1"


def test_settings_choose_training_and_evaluation_languages(ner_data):
    languages = ["en", "de", "es", "nl", "ar"]
    transfer = ner.load_splits(task_cfg(setting="train_en", data_dir=str(ner_data)), languages, 0)
    assert {s.language for s in transfer.train} == {"en"} and len(transfer.evals) == 10
    each = ner.load_splits(task_cfg(setting="train_each", train_language="nl", data_dir=str(ner_data)), languages, 0)
    assert {s.language for s in each.train} == {"nl"} and set(each.evals) == {("dev", "nl"), ("test", "nl")}
    with pytest.raises(ValueError, match="train_en, train_each, train_all"):
        ner.load_splits(task_cfg(setting="translate_train", data_dir=str(ner_data)), languages, 0)


def test_missing_files_are_listed(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        ner.load_splits(task_cfg(data_dir=str(tmp_path)), ["en", "sw"], 0)
    message = str(error.value)
    assert "eng.train" in message and "eng.testa" in message and "eng.testb" in message and "task.data_dir" in message
    with pytest.raises(FileNotFoundError, match=r"panx/train-sw\.tsv"):
        ner.load_splits(task_cfg(data_dir=str(tmp_path), setting="train_each", train_language="sw"), ["sw"], 0)


# --------------------------------------------------------------------------------------------
# features


def test_labels_on_first_sub_token_only(tiny_model):
    tokenizer = XLMRTokenizer(tiny_model / "sentencepiece.bpe.model")
    sentence = TaggedSentence(["Qxzwv", "Smith", "works", "in", "Zyqoplex"], ["B-PER", "I-PER", "O", "O", "B-LOC"], "en")
    pieces = [tokenizer.encode(word)[1:-1] for word in sentence.tokens]
    assert len(pieces[0]) > 1 and len(pieces[-1]) > 1  # rare words split into several pieces
    features = ner.featurize([sentence], tokenizer, ner.LABELS, max_length=128)
    input_ids, labels = features["input_ids"][0], features["token_labels"][0]
    assert input_ids == [BOS_ID, *[i for p in pieces for i in p], EOS_ID] and features["index"] == [0]
    expected = [-100]
    for word_pieces, tag in zip(pieces, sentence.tags):
        expected += [ner.LABELS.index(tag)] + [-100] * (len(word_pieces) - 1)
    assert labels == expected + [-100]

    budget = 1 + len(pieces[0]) + len(pieces[1]) + 1  # room for the first two words only
    windows = ner.featurize([sentence], tokenizer, ner.LABELS, max_length=budget + 1)
    assert windows["input_ids"][0] == [BOS_ID, *pieces[0], *pieces[1], EOS_ID]
    assert len(windows["input_ids"]) > 1 and set(windows["sentence"]) == {0}
    labelled = [t for row in windows["token_labels"] for t in row if t != -100]
    assert labelled == [ner.LABELS.index(tag) for tag in sentence.tags]  # every word once, in order


def test_word_windows_overlap_and_own_every_word_once():
    windows = ner.word_windows([3, 1, 2, 2, 4, 1, 1, 3, 2], budget=6, stride=3)
    starts = [0, 3, 4, 6, 8, 12, 13, 14, 17, 19]
    for first, end, owned_first, owned_end in windows:
        assert starts[end] - starts[first] <= 6 and first <= owned_first <= owned_end <= end
    # each start is the first word 3 or more tokens on, but no later than the previous window's end
    assert [w[0] for w in windows] == [0, 1, 3, 5, 8]
    assert [w[1] for w in windows] == [3, 4, 5, 8, 9]
    assert [(w[2], w[3]) for w in windows] == [(0, 2), (2, 3), (3, 5), (5, 8), (8, 9)]  # shared words split
    # a word longer than the budget gets a window of its own; nothing is lost
    assert ner.word_windows([1, 9, 1], budget=4, stride=2) == [(0, 1, 0, 1), (1, 2, 1, 2), (2, 3, 2, 3)]
    assert ner.word_windows([2, 2], budget=8, stride=4) == [(0, 2, 0, 2)]


def test_long_sentences_are_scored_whole(tmp_path, tiny_model):
    """Sentences longer than max_length: every gold entity of the file is scored, every word predicted,
    through featurize, the evaluation loader and the module's validation step and score."""
    import pytorch_lightning as pl

    from xlmr_lit.convert import load_pretrained
    from xlmr_lit.tasks.features import eval_loader
    from xlmr_lit.tasks.metrics import conll_entities, conll_f1

    generated = generated_sentences("es", 24, seed=3)
    long_sentences = [(sum((t for t, _ in generated[i:i + 8]), []), sum((g for _, g in generated[i:i + 8]), []))
                      for i in range(0, 24, 8)]
    path = tmp_path / "esp.testb"
    write_conll2002(path, [*long_sentences, generated[0]], docstart=False)
    file_entities = sum(tag.startswith("B-") for _, tags in [*long_sentences, generated[0]] for tag in tags)
    sentences = read_conll(path, scheme="iob2")
    assert sum(len(conll_entities(s.tags)) for s in sentences) == file_entities

    config, _, spm_path = load_pretrained(f"hf:{tiny_model}")
    tokenizer = XLMRTokenizer(spm_path)
    max_length = 24
    assert all(len(tokenizer.encode(" ".join(s.tokens))) > 3 * max_length for s in sentences[:3])
    features = ner.featurize(sentences, tokenizer, ner.LABELS, max_length=max_length)
    assert max(len(ids) for ids in features["input_ids"]) <= max_length
    assert features["sentence"].count(3) == 1 and features["sentence"].count(0) > 3

    seen = {}

    def recording_f1(gold, pred):
        seen.update(gold=gold, pred=pred)
        return conll_f1(gold, pred)

    module = ner.MODULE(model_config=vars(config), labels=ner.LABELS, eval_sets=[("test", "es")], metric="f1",
                        score_fn=recording_f1)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.validate(module, eval_loader(datasets.Dataset.from_dict(features), batch_size=4))
    assert seen["gold"] == [s.tags for s in sentences]
    assert [len(p) for p in seen["pred"]] == [len(s.tokens) for s in sentences]
    assert sum(len(conll_entities(tags)) for tags in seen["gold"]) == file_entities
    assert module.history[-1]["scores"]["test/es"] == conll_f1(seen["gold"], seen["pred"])


# --------------------------------------------------------------------------------------------
# end to end: each setting through xlmr_lit.cli.train


@pytest.mark.parametrize("setting, languages, reported", [
    ("train_en", "[en,de,es,nl,ar]", {"en", "de", "es", "nl", "ar"}),
    ("train_each", "[en,de,es,nl,ar]", {"es"}),
    ("train_all", "[en,nl,ar]", {"en", "nl", "ar"}),
])
def test_every_setting_end_to_end(make_cfg, tmp_path, ner_data, tiny_model, setting, languages, reported):
    rows = train(make_cfg(
        "task=ner", f"model.init=hf:{tiny_model}", f"task.data_dir={ner_data}", f"task.setting={setting}",
        "task.train_language=es", f"task.languages={languages}", "task.epochs=2", "task.batch_size=8",
        "task.max_length=32", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
        run_dir=tmp_path / setting,
    ))
    assert {r["language"] for r in rows} == reported
    assert {r["metric"] for r in rows} == {"precision", "recall", "f1"}
    assert {(r["selection"], r["split"]) for r in rows} == {(s, p) for s in ("single", "per_language") for p in ("dev", "test")}
    assert all(0.0 <= r["value"] <= 1.0 and r["task"] == "ner" and r["setting"] == setting for r in rows)
    assert (tmp_path / setting / "results.jsonl").is_file()
