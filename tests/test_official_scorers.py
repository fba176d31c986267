"""Our scores equal the official scorers' on the same predictions, on generated data.

The oracles below re-implement the logic of the official scripts step by step, kept as close to
their structure as possible (so a simplification in xlmr_lit.tasks.metrics shows up as a mismatch):
- MLQA's mlqa_evaluation_v1.py (per-language normalization; MLQA and, optionally, XQuAD);
- SQuAD v1.1's evaluate-v1.1.py (XQuAD's default);
- CoNLL's conlleval perl script (chunk starts and ends, any of its tag schemes, IOB1 included);
and seqeval (strict IOB2), scikit-learn and scipy are called directly.
"""

import json
import random
import re
import string
import sys
import unicodedata
import warnings
from collections import Counter

import numpy as np
import pytest
import scipy.stats
import sklearn.metrics
from seqeval import metrics as seqeval_metrics
from seqeval.scheme import IOB2

from xlmr_lit.tasks import glue, qa
from xlmr_lit.tasks.metrics import MLQA_LANGUAGES, conll_f1, mlqa_normalize, squad_normalize
from xlmr_lit.tasks.readers import iob1_to_iob2, read_squad_json

# --------------------------------------------------------------------------------------------
# oracle: mlqa_evaluation_v1.py

OFFICIAL_PUNCT = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}
OFFICIAL_PUNCT |= set(string.punctuation)
MLQA_WHITESPACE_LANGS = ["en", "es", "hi", "vi", "de", "ar"]
MLQA_MIXED_SEGMENTATION_LANGS = ["zh"]


def official_mixed_segmentation(text):
    segments, pending = [], ""
    for char in text:
        if re.search(r"[\u4e00-\u9fa5]", char) or char in OFFICIAL_PUNCT:
            if pending != "":
                segments.extend(pending.split())
                pending = ""
            segments.append(char)
        else:
            pending += char
    if pending != "":
        segments.extend(pending.split())
    return segments


def official_mlqa_normalize(s, lang):
    def remove_articles(text):
        if lang == "en":
            return re.sub(r"\b(a|an|the)\b", " ", text)
        if lang == "es":
            return re.sub(r"\b(un|una|unos|unas|el|la|los|las)\b", " ", text)
        if lang in ("hi", "zh"):
            return text
        if lang == "vi":
            return re.sub(r"\b(của|là|cái|chiếc|những)\b", " ", text)
        if lang == "de":
            return re.sub(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b", " ", text)
        if lang == "ar":
            return re.sub("\\sال^|ال", " ", text)
        raise Exception(f"Unknown Language {lang}")

    def white_space_fix(text):
        if lang in MLQA_WHITESPACE_LANGS:
            tokens = text.split()
        elif lang in MLQA_MIXED_SEGMENTATION_LANGS:
            tokens = official_mixed_segmentation(text)
        else:
            raise Exception(f"Unknown Language {lang}")
        return " ".join(t for t in tokens if t.strip() != "")

    def remove_punc(text):
        return "".join(ch for ch in text if ch not in OFFICIAL_PUNCT)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


# --------------------------------------------------------------------------------------------
# oracle: SQuAD v1.1 evaluate-v1.1.py


def official_squad_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


# --------------------------------------------------------------------------------------------
# the scoring both scripts share, over a SQuAD-format dataset


def official_f1(prediction, ground_truth, normalize):
    prediction_tokens = normalize(prediction).split()
    ground_truth_tokens = normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_exact_match(prediction, ground_truth, normalize):
    return normalize(prediction) == normalize(ground_truth)


def official_evaluate(dataset, predictions, normalize):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for question in paragraph["qas"]:
                total += 1
                if question["id"] not in predictions:
                    continue
                ground_truths = [answer["text"] for answer in question["answers"]]
                prediction = predictions[question["id"]]
                exact_match += max(official_exact_match(prediction, g, normalize) for g in ground_truths)
                f1 += max(official_f1(prediction, g, normalize) for g in ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


# --------------------------------------------------------------------------------------------
# generated answers: every language's articles, CJK runs mixed with Latin, Unicode punctuation

WORDS = {
    "en": ["Eiffel", "tower", "Paris", "theater", "another", "anthem", "1889", "U.S.", "don't", "rock'n'roll"],
    "es": ["Prado", "museo", "Madrid", "lasaña", "elemento", "unido", "¿qué?", "¡Olé!"],
    "de": ["Vertrag", "Versailles", "dieser", "Einheit", "derweil", "Straße", "Dasein"],
    "vi": ["bàn", "tôi", "Hà", "Nội", "cáiđó", "Việt"],
    "ar": ["الكتاب", "مال", "القاهرة", "مصر", "كتاب", "جامعة", "والد", "؟", "،"],
    "hi": ["भारत", "की", "राजधानी", "नई", "दिल्ली", "है", "।"],
    "zh": ["北京", "是", "中国的首都", "NBA", "Finals", "75-80％", "鿐", "京鿐NBA", "㐀㐀", "ひらがな", "한국", "龥"],
    "el": ["η", "Αθήνα", "ο", "το", "ΣΩΚΡΑΤΗΣ"],
    "ru": ["Москва", "в", "«Кремль»", "ГОРОД"],
    "tr": ["İstanbul", "ISTANBUL", "ılık", "Şehir"],
    "th": ["กรุงเทพ", "มหานคร", "ประเทศไทย"],
    "ro": ["București", "și", "ţară", "ROMÂNIA"],
}
ARTICLES = {
    "en": ["a", "an", "the", "The", "A", "AN"],
    "es": ["el", "la", "los", "las", "un", "una", "unos", "unas", "El", "LAS"],
    "de": ["ein", "eine", "einen", "einem", "eines", "einer", "der", "die", "das", "den", "dem", "des", "Die"],
    "vi": ["của", "là", "cái", "chiếc", "những", "Những", "CỦA"],
    "ar": ["ال", "وال"],
    "hi": [], "zh": [], "el": [], "ru": [], "tr": [], "th": [], "ro": [],
}
PUNCTUATION = [".", ",", "!", "?", "'", '"', "(", ")", "-", "$", "%", "&", "+", "«", "»", "—", "–", "…", "“", "”",
               "‘", "’", "·", "¡", "¿", "。", "，", "、", "《", "》", "「", "」", "：", "！", "،", "؟", "।", "॥"]
SYMBOLS = ["€", "©", "°", "±"]  # not punctuation (Unicode category S): kept by both scripts
SEPARATORS = [" ", " ", " ", "  ", "\t", "\u3000", "\xa0", ""]


def phrase(lang: str, rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.55:
            parts.append(rng.choice(WORDS[lang]))
        elif kind < 0.75 and ARTICLES[lang]:
            parts.append(rng.choice(ARTICLES[lang]))
        elif kind < 0.95:
            parts.append(rng.choice(PUNCTUATION))
        else:
            parts.append(rng.choice(SYMBOLS))
    text = parts[0]
    for part in parts[1:]:
        text += rng.choice(SEPARATORS) + part
    return text


def predicted(gold: str, lang: str, rng: random.Random) -> str:
    """A prediction near `gold`: equal, recased, padded, cut, or another phrase."""
    choice = rng.randrange(7)
    if choice == 0:
        return gold
    if choice == 1:
        return gold.upper() if rng.random() < 0.5 else gold.title()
    if choice == 2:
        return phrase(lang, rng) + rng.choice(SEPARATORS) + gold + rng.choice(PUNCTUATION)
    if choice == 3:
        begin = rng.randrange(len(gold))
        return gold[begin:rng.randint(begin + 1, len(gold))]
    if choice == 4:
        return rng.choice(ARTICLES[lang] or ["..."]) + " " + gold
    if choice == 5:
        return rng.choice(["", "...", "the", "«»", " "])
    return phrase(lang, rng)


def generated_dataset(lang: str, questions: int, seed: int) -> tuple[dict, dict]:
    """A SQuAD v1.1 document whose answers are generated phrases, and predictions for most questions."""
    rng = random.Random(seed)
    paragraphs, predictions = [], {}
    for q in range(questions):
        golds = [phrase(lang, rng) for _ in range(rng.randint(1, 3))]
        golds = [g for g in golds if g.strip()] or [rng.choice(WORDS[lang])]
        context, answers = "", []
        for gold in golds:
            context += "| "
            answers.append({"text": gold, "answer_start": len(context)})
            context += gold + " "
        question_id = f"{lang}-{q}"
        paragraphs.append({"context": context, "qas": [{"id": question_id, "question": "?", "answers": answers}]})
        if rng.random() < 0.9:  # a question without a prediction scores 0
            predictions[question_id] = predicted(rng.choice(golds), lang, rng)
    return {"version": "1.1", "data": [{"title": lang, "paragraphs": paragraphs}]}, predictions


def golds_of(document: dict) -> list[str]:
    return [a["text"] for p in document["data"][0]["paragraphs"] for q in p["qas"] for a in q["answers"]]


@pytest.mark.parametrize("lang", MLQA_LANGUAGES)
def test_mlqa_scores_equal_mlqa_evaluation_v1(tmp_path, lang):
    document, predictions = generated_dataset(lang, questions=150, seed=MLQA_LANGUAGES.index(lang))
    golds = golds_of(document)
    # the generated answers reach the branches of the language's normalization
    lowered = [official_mlqa_normalize(g, lang) for g in golds]
    assert any(set(g) & (OFFICIAL_PUNCT - set(string.punctuation)) for g in golds)  # Unicode punctuation
    if ARTICLES[lang]:
        assert sum(len(official_mlqa_normalize(g, lang)) < len(" ".join(g.lower().split())) for g in golds) > 10
    if lang == "zh":
        assert any(re.search(r"[\u4e00-\u9fa5] [a-z]", g) for g in lowered)  # CJK split from Latin
    path = tmp_path / f"test-context-{lang}-question-{lang}.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    examples = read_squad_json(path)

    expected = official_evaluate(document["data"], predictions, lambda s: official_mlqa_normalize(s, lang))
    ours = qa.qa_scores(predictions, examples, lang, normalization="mlqa")
    assert 100 * ours["f1"] == pytest.approx(expected["f1"], abs=1e-6)
    assert 100 * ours["exact_match"] == pytest.approx(expected["exact_match"], abs=1e-6)
    assert 0 < expected["exact_match"] < 100 and 0 < expected["f1"] < 100  # neither trivial nor perfect


@pytest.mark.parametrize("lang", qa.XQUAD_LANGUAGES)
def test_squad_scores_equal_evaluate_v11(tmp_path, lang):
    document, predictions = generated_dataset(lang, questions=150, seed=100 + qa.XQUAD_LANGUAGES.index(lang))
    path = tmp_path / f"xquad.{lang}.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    examples = read_squad_json(path)

    expected = official_evaluate(document["data"], predictions, official_squad_normalize)
    ours = qa.qa_scores(predictions, examples, lang, normalization="squad")
    assert 100 * ours["f1"] == pytest.approx(expected["f1"], abs=1e-6)
    assert 100 * ours["exact_match"] == pytest.approx(expected["exact_match"], abs=1e-6)
    assert 0 < expected["exact_match"] < 100 and 0 < expected["f1"] < 100


def test_the_two_normalizations_differ_where_the_scripts_do():
    cases = [("北京是中国的首都", "zh"), ("«Prado»", "es"), ("die Panthers", "de"), ("الكتاب", "ar"), ("η Αθήνα", "en")]
    for text, lang in cases:
        assert squad_normalize(text) == official_squad_normalize(text)
        assert mlqa_normalize(text, lang) == official_mlqa_normalize(text, lang)
    assert squad_normalize("北京是中国的首都。") == "北京是中国的首都。"  # one token, full stop kept
    assert mlqa_normalize("北京是中国的首都。", "zh") == "北 京 是 中 国 的 首 都"


# --------------------------------------------------------------------------------------------
# oracle: conlleval (perl), chunk by chunk as the script counts them


def _split_tag(tag):
    match = re.match(r"^([^-]*)-(.*)$", tag)
    return (match.group(1), match.group(2)) if match else (tag, "")


def _end_of_chunk(prev_tag, tag, prev_type, type_):
    end = (prev_tag, tag) in {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
    if prev_tag not in ("O", ".") and prev_type != type_:
        end = True
    if prev_tag in ("]", "["):
        end = True
    return end


def _start_of_chunk(prev_tag, tag, prev_type, type_):
    start = (prev_tag, tag) in {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
    if tag not in ("O", ".") and prev_type != type_:
        start = True
    if tag in ("[", "]"):
        start = True
    return start


def official_conlleval(gold_sentences, pred_sentences):
    """precision, recall and FB1 (fractions) as conlleval computes them from `word gold guess` lines,
    a blank line (the boundary, read as O O) between sentences."""
    lines = []
    for gold, pred in zip(gold_sentences, pred_sentences):
        lines += [("w", g, p) for g, p in zip(gold, pred)] + [None]
    correct_chunks = found_correct = found_guessed = 0
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    for line in lines:
        correct, guessed = ("O", "O") if line is None else line[1:]
        correct, correct_type = _split_tag(correct)
        guessed, guessed_type = _split_tag(guessed)
        if in_correct:
            correct_ends = _end_of_chunk(last_correct, correct, last_correct_type, correct_type)
            guessed_ends = _end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
            if correct_ends and guessed_ends and last_guessed_type == last_correct_type:
                in_correct = False
                correct_chunks += 1
            elif correct_ends != guessed_ends or guessed_type != correct_type:
                in_correct = False
        correct_starts = _start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        guessed_starts = _start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if correct_starts and guessed_starts and guessed_type == correct_type:
            in_correct = True
        found_correct += correct_starts
        found_guessed += guessed_starts
        last_correct, last_correct_type, last_guessed, last_guessed_type = correct, correct_type, guessed, guessed_type
    if in_correct:
        correct_chunks += 1
    precision = correct_chunks / found_guessed if found_guessed else 0.0
    recall = correct_chunks / found_correct if found_correct else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


ANY_TAGS = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "B-MISC", "I-MISC"]
IOB1_TAGS = ["O", "O", "O", "I-PER", "I-PER", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "B-ORG"]


def random_sentences(rng: random.Random, tag_set: list[str], gold_like: list[list[str]] | None = None):
    lengths = [len(s) for s in gold_like] if gold_like else [rng.randint(1, 12) for _ in range(rng.randint(1, 6))]
    if gold_like is None:
        return [[rng.choice(tag_set) for _ in range(n)] for n in lengths]
    # predictions: mostly the gold tag, so that many entities are right and some nearly right
    return [[g if rng.random() < 0.7 else rng.choice(tag_set) for g in sentence] for sentence in gold_like]


def test_conll_f1_equals_conlleval_on_any_tags():
    rng = random.Random(0)
    for _ in range(400):
        gold = random_sentences(rng, ANY_TAGS)
        pred = random_sentences(rng, ANY_TAGS, gold)
        assert conll_f1(gold, pred) == pytest.approx(official_conlleval(gold, pred), abs=1e-12), (gold, pred)


def test_conll_f1_equals_conlleval_on_iob1_input_and_after_conversion():
    rng = random.Random(1)
    for _ in range(400):
        gold = random_sentences(rng, IOB1_TAGS)
        pred = random_sentences(rng, IOB1_TAGS, gold)
        expected = official_conlleval(gold, pred)
        assert conll_f1(gold, pred) == pytest.approx(expected, abs=1e-12), (gold, pred)
        as_iob2 = [iob1_to_iob2(s) for s in gold], [iob1_to_iob2(s) for s in pred]
        assert conll_f1(*as_iob2) == pytest.approx(expected, abs=1e-12), (gold, pred)


def test_conll_f1_equals_conlleval_and_seqeval_strict_on_iob2():
    """On valid IOB2 (what the readers produce) conlleval and seqeval's strict mode agree with ours."""
    rng = random.Random(2)
    checked_entities = 0
    for _ in range(300):
        gold = [iob1_to_iob2(s) for s in random_sentences(rng, ANY_TAGS)]
        pred = [iob1_to_iob2(s) for s in random_sentences(rng, ANY_TAGS, gold)]
        ours = conll_f1(gold, pred)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # seqeval warns when there is nothing to divide by
            strict = {name: score(gold, pred, mode="strict", scheme=IOB2) for name, score in (
                ("precision", seqeval_metrics.precision_score), ("recall", seqeval_metrics.recall_score),
                ("f1", seqeval_metrics.f1_score))}
        assert ours == pytest.approx(official_conlleval(gold, pred), abs=1e-12), (gold, pred)
        assert ours == pytest.approx(strict, abs=1e-12), (gold, pred)
        checked_entities += sum(t.startswith("B-") for s in gold for t in s)
    assert checked_entities > 500


# --------------------------------------------------------------------------------------------
# GLUE: scikit-learn and scipy


@pytest.mark.parametrize("seed", range(5))
def test_glue_scores_equal_sklearn_and_scipy(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(5, 60))
    for task, names in glue.LABEL_NAMES.items():
        if not names:  # STS-B: ties in the gold scores, as in the real dev set
            gold = rng.integers(0, 11, size) / 2.0
            preds = gold + rng.normal(scale=1.0, size=size)
            ours = glue.score(preds, gold, names)
            assert ours["pearson"] == pytest.approx(scipy.stats.pearsonr(preds, gold)[0], abs=1e-6)
            assert ours["spearman"] == pytest.approx(scipy.stats.spearmanr(preds, gold)[0], abs=1e-6)
            continue
        gold = rng.integers(0, len(names), size)
        preds = np.where(rng.random(size) < 0.6, gold, rng.integers(0, len(names), size))
        ours = glue.score(preds.astype(float), gold.astype(float), names)
        if task == "cola":
            assert ours == pytest.approx({"matthews_corr": sklearn.metrics.matthews_corrcoef(gold, preds)}, abs=1e-6)
            continue
        expected = {"accuracy": sklearn.metrics.accuracy_score(gold, preds)}
        if task in ("mrpc", "qqp"):
            expected["f1"] = sklearn.metrics.f1_score(gold, preds, pos_label=1, zero_division=0)
        assert ours == pytest.approx(expected, abs=1e-6), task


@pytest.mark.filterwarnings("ignore:A single label was found")
def test_glue_degenerate_cases_equal_sklearn_and_scipy():
    constant, mixed = np.zeros(6), np.array([0, 1, 0, 1, 1, 0])
    for preds, gold in ((constant, mixed), (mixed, constant), (constant, constant), (mixed, mixed)):
        ours = glue.score(preds.astype(float), gold.astype(float), glue.LABEL_NAMES["cola"])
        assert ours["matthews_corr"] == pytest.approx(sklearn.metrics.matthews_corrcoef(gold, preds), abs=1e-12)
        mrpc = glue.score(preds.astype(float), gold.astype(float), glue.LABEL_NAMES["mrpc"])
        assert mrpc["f1"] == pytest.approx(sklearn.metrics.f1_score(gold, preds, zero_division=0), abs=1e-12)
    three_classes = np.array([0, 1, 2, 2, 1, 0, 2]), np.array([0, 2, 2, 1, 1, 0, 0])
    ours = glue.score(*(a.astype(float) for a in three_classes), glue.LABEL_NAMES["mnli"])
    assert ours == pytest.approx({"accuracy": sklearn.metrics.accuracy_score(*three_classes)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that a constant input makes the correlation undefined
        expected = scipy.stats.pearsonr(np.ones(4), np.arange(4.0))[0]
    assert np.isnan(expected) and np.isnan(glue.score(np.ones(4), np.arange(4.0), [])["pearson"])
