"""Benchmark metrics against hand-computed values and reference implementations."""

import math
import random
import re
import string
import warnings

import numpy as np
import pytest

from xlmr_lit.tasks.metrics import (
    accuracy,
    conll_entities,
    conll_f1,
    glue_metrics,
    mlqa_em,
    mlqa_f1,
    mlqa_normalize,
    mlqa_scores,
    spearman,
)
from xlmr_lit.tasks.readers import Answer, QAExample

# --------------------------------------------------------------------------------------------
# NER


def test_conll_entities_follow_conlleval():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "B-ORG", "I-ORG"]
    assert conll_entities(tags) == [("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6), ("ORG", 6, 7), ("ORG", 7, 9)]
    assert conll_entities(["O", "O"]) == []
    with pytest.raises(ValueError, match="'E-PER'"):
        conll_entities(["E-PER"])


def test_conll_f1_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-MISC", "I-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"],  # PER right; LOC predicted as ORG
            ["B-ORG", "O", "B-MISC", "O"]]  # ORG right; MISC boundary wrong
    # gold 4 entities, predicted 4, correct 2
    assert conll_f1(gold, pred) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    # an I- after O starts an entity, so this prediction equals the gold entity
    assert conll_f1([["O", "B-LOC", "I-LOC"]], [["O", "I-LOC", "I-LOC"]])["f1"] == 1.0
    # entities do not continue across sentences
    assert conll_f1([["B-PER"], ["I-PER"]], [["B-PER"], ["O"]])["recall"] == 0.5
    assert conll_f1([["O"]], [["O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    only_pred = conll_f1([["B-PER", "O"]], [["B-PER", "B-LOC"]])
    assert only_pred["precision"] == 0.5 and only_pred["recall"] == 1.0
    assert only_pred["f1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="sentence 0"):
        conll_f1([["O"]], [["O", "O"]])


def test_conll_f1_matches_seqeval_on_random_tags():
    seqeval = pytest.importorskip("seqeval.metrics")
    rng = random.Random(0)
    tag_set = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]
    for _ in range(300):
        lengths = [rng.randint(1, 8) for _ in range(rng.randint(1, 4))]
        gold = [[rng.choice(tag_set) for _ in range(n)] for n in lengths]
        pred = [[rng.choice(tag_set) for _ in range(n)] for n in lengths]
        ours = conll_f1(gold, pred)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # seqeval warns when there is nothing to divide by
            expected = {
                "precision": seqeval.precision_score(gold, pred),
                "recall": seqeval.recall_score(gold, pred),
                "f1": seqeval.f1_score(gold, pred),
            }
        assert ours == pytest.approx(expected), (gold, pred)


# --------------------------------------------------------------------------------------------
# MLQA


def squad_v1_normalize(text: str) -> str:
    """The English-only normalization of the SQuAD v1.1 script: the wrong one for MLQA."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def test_mlqa_chinese_splits_characters():
    gold = "宪法保障宗教自由"
    assert mlqa_normalize("宪法保障宗教自由。", "zh") == "宪 法 保 障 宗 教 自 由"
    assert mlqa_em("宪法保障宗教自由。", [gold], "zh") == 1.0
    assert squad_v1_normalize("宪法保障宗教自由。") != squad_v1_normalize(gold)  # why English-only EM is ~4 on zh
    # 4 of the 8 characters: precision 1, recall 1/2
    assert mlqa_f1("宪法保障", [gold], "zh") == pytest.approx(2 / 3)
    # Latin text between CJK characters is split on whitespace; full-width punctuation is dropped
    assert mlqa_normalize("占75-80％的人口（NBA Finals）", "zh") == "占 7580 的 人 口 nba finals"


def test_mlqa_german_spanish_english_articles():
    assert mlqa_normalize("Der Vertrag von Versailles, 1919.", "de") == "vertrag von versailles 1919"
    assert mlqa_normalize("dieser Vertrag", "de") == "dieser vertrag"  # articles are whole words only
    assert mlqa_em("die Panthers", ["Panthers"], "de") == 1.0
    assert mlqa_normalize("¿Los ríos de la Ciudad?", "es") == "ríos de ciudad"
    assert mlqa_em("The Eiffel Tower!", ["eiffel tower", "Paris"], "en") == 1.0
    # big red dog vs red dog: precision 2/3, recall 1
    assert mlqa_f1("the big red dog", ["a red dog", "cat"], "en") == pytest.approx(0.8)
    assert mlqa_f1("...", ["the"], "en") == 0.0  # both empty after normalization: F1 0 as officially
    assert mlqa_em("...", ["the"], "en") == 1.0


def test_mlqa_arabic_removes_every_al_as_the_official_script_does():
    assert mlqa_em("الكتاب", ["كتاب"], "ar") == 1.0
    assert mlqa_normalize("الكتاب، الجديد", "ar") == "كتاب جديد"  # Arabic comma is punctuation
    assert mlqa_normalize("مال", "ar") == "م"  # not only word-initial


def test_mlqa_vietnamese_and_hindi():
    assert mlqa_normalize("Những cái bàn của tôi", "vi") == "bàn tôi"
    assert mlqa_normalize("भारत की राजधानी।", "hi") == "भारत की राजधानी"  # danda is punctuation; no articles
    with pytest.raises(ValueError, match="'fr'"):
        mlqa_normalize("le", "fr")


def test_mlqa_scores_in_percent_with_missing_predictions_scoring_zero():
    examples = [
        QAExample("q1", "?", "c", [Answer("宪法保障宗教自由", 0)]),
        QAExample("q2", "?", "c", [Answer("伊斯兰教", 0), Answer("逊尼派伊斯兰教", 0)]),
        QAExample("q3", "?", "c", [Answer("佛教", 0)]),
    ]
    scores = mlqa_scores({"q1": "宪法保障", "q2": "伊斯兰教。"}, examples, "zh")
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (2 / 3 + 1) / 3)


# --------------------------------------------------------------------------------------------
# Accuracy and GLUE


def test_accuracy():
    assert accuracy(["entailment", "neutral", "neutral"], ["entailment", "neutral", "contradiction"]) == 2 / 3
    assert accuracy(np.array([0, 1]), [0, 0]) == 0.5
    with pytest.raises(ValueError, match="different label spaces"):
        accuracy([0, 1], ["0", "1"])
    with pytest.raises(ValueError, match="2 predictions for 1 labels"):
        accuracy([0, 1], [0])


def test_glue_classification_metrics():
    assert glue_metrics("sst-2", [1, 0, 1, 1], [1, 0, 0, 1]) == {"accuracy": 0.75}
    mrpc = glue_metrics("MRPC", ["1", "1", "0", "0", "1"], ["1", "0", "0", "1", "1"])
    assert mrpc["accuracy"] == pytest.approx(0.6)
    assert mrpc["f1"] == pytest.approx(2 / 3)  # tp 2, fp 1, fn 1
    assert glue_metrics("qqp", [0, 0], [0, 0]) == {"accuracy": 1.0, "f1": 0.0}


def test_cola_matthews_correlation():
    # tp 2, fp 1, tn 2, fn 0: (2*2 - 1*0) / sqrt(3*2*3*2) = 2/3
    assert glue_metrics("cola", [1, 1, 1, 0, 0], [1, 1, 0, 0, 0])["matthews_corr"] == pytest.approx(2 / 3)
    assert glue_metrics("cola", [1, 1, 1], [1, 0, 1])["matthews_corr"] == 0.0  # constant prediction
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(1)
    preds = [rng.randint(0, 1) for _ in range(50)]
    labels = [rng.randint(0, 1) for _ in range(50)]
    assert glue_metrics("cola", preds, labels)["matthews_corr"] == pytest.approx(
        sklearn_metrics.matthews_corrcoef(labels, preds))


def test_stsb_pearson_and_spearman():
    # dx = (-1, 0, 1), dy = (-1, 1, 0): sum 1 / sqrt(2 * 2)
    assert glue_metrics("sts-b", [1.0, 2.0, 3.0], [1.0, 3.0, 2.0]) == pytest.approx({"pearson": 0.5, "spearman": 0.5})
    # ties get average ranks: (1, 2.5, 2.5, 4) against (1, 2, 3, 4) gives 4.5 / sqrt(4.5 * 5)
    assert spearman([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert math.isnan(glue_metrics("stsb", [1.0, 1.0], [1.0, 2.0])["pearson"])
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 6, 40).astype(float), rng.normal(size=40)
    scores = glue_metrics("stsb", x, y)
    assert scores["pearson"] == pytest.approx(stats.pearsonr(x, y)[0])
    assert scores["spearman"] == pytest.approx(stats.spearmanr(x, y)[0])
