"""Benchmark metrics: accuracy (XNLI), CoNLL entity F1 (NER), SQuAD/MLQA F1 and EM (QA), GLUE's metrics.

Scales: `conll_f1`, `accuracy` and `glue_metrics` return fractions in [0, 1] (correlations in
[-1, 1]); `mlqa_scores` and `squad_scores` return percentages, as the official QA scripts do.
"""

import logging
import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable
from functools import partial

import numpy as np

from xlmr_lit.tasks.readers import QAExample, glue_task_name

log = logging.getLogger(__name__)


def _plain(values) -> list:
    """Python values from a list, numpy array or tensor."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _check_pairs(preds: list, labels: list) -> None:
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions for {len(labels)} labels")
    if not labels:
        raise ValueError("no predictions to score")
    if isinstance(preds[0], str) != isinstance(labels[0], str):
        raise ValueError(f"predictions ({preds[0]!r}, ...) and labels ({labels[0]!r}, ...) are in different "
                         "label spaces: map both to label strings or both to class indices")


def accuracy(preds, labels) -> float:
    preds, labels = _plain(preds), _plain(labels)
    _check_pairs(preds, labels)
    return sum(p == g for p, g in zip(preds, labels)) / len(labels)


# --------------------------------------------------------------------------------------------
# NER: entity-level precision, recall and F1 with conlleval's semantics


def conll_entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, start, end exclusive) of each entity in one sentence of IOB2 tags, read as conlleval
    reads them: B- starts an entity, and so does an I- after O or after another type."""
    entities = []
    start, current_type = None, None
    for i, tag in enumerate([*tags, "O"]):  # the final O closes an entity open at the sentence end
        prefix, _, entity_type = tag.partition("-")
        if tag != "O" and (prefix not in ("B", "I") or not entity_type):
            raise ValueError(f"tag {tag!r} at position {i} is not O, B-X or I-X")
        if start is not None and (prefix != "I" or entity_type != current_type):
            entities.append((current_type, start, i))
            start = None
        if prefix != "O" and start is None:
            start, current_type = i, entity_type
    return entities


def conll_f1(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Entity precision, recall and F1 over sentences of IOB2 tags; an entity is correct only if
    its type and both boundaries match. Scores with no entities to divide by are 0, as in conlleval."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    num_gold = num_pred = num_correct = 0
    for i, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"sentence {i}: {len(gold_tags)} gold tags but {len(pred_tags)} predicted")
        gold_entities = set(conll_entities(gold_tags))
        pred_entities = set(conll_entities(pred_tags))
        num_gold += len(gold_entities)
        num_pred += len(pred_entities)
        num_correct += len(gold_entities & pred_entities)
    precision = num_correct / num_pred if num_pred else 0.0
    recall = num_correct / num_gold if num_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# --------------------------------------------------------------------------------------------
# Extractive QA: bag-of-tokens F1 and exact match after normalizing answers, as the official
# scripts do: SQuAD v1.1's evaluate-v1.1.py (English-only) and MLQA's mlqa_evaluation_v1.py
# (per language)

MLQA_LANGUAGES = ("en", "es", "de", "ar", "hi", "vi", "zh")

_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ARTICLES = {
    "en": _ENGLISH_ARTICLES,
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
}
_CJK = re.compile(r"[\u4e00-\u9fa5]")
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def squad_normalize(text: str) -> str:
    """SQuAD v1.1's normalization: lowercase, drop ASCII punctuation, drop English articles,
    re-join the whitespace tokens with single spaces. Language-blind: Unicode punctuation stays."""
    text = "".join(char for char in text.lower() if char not in _ASCII_PUNCTUATION)
    return " ".join(_ENGLISH_ARTICLES.sub(" ", text).split())


def _is_punctuation(char: str) -> bool:
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def _mixed_segmentation(text: str) -> list[str]:
    """Each CJK character and punctuation mark is a token; the text between is split on whitespace."""
    tokens = []
    pending = ""
    for char in text:
        if _CJK.match(char) or _is_punctuation(char):
            tokens.extend(pending.split())
            pending = ""
            tokens.append(char)
        else:
            pending += char
    tokens.extend(pending.split())
    return tokens


def mlqa_normalize(text: str, lang: str) -> str:
    """Lowercase, drop punctuation, drop articles, re-join the language's tokens with single spaces."""
    if lang not in MLQA_LANGUAGES:
        raise ValueError(f"MLQA normalization is defined for {MLQA_LANGUAGES}, not {lang!r}")
    text = "".join(char for char in text.lower() if not _is_punctuation(char))
    if lang in _ARTICLES:
        text = _ARTICLES[lang].sub(" ", text)
    elif lang == "ar":
        # The official regex, '\sال^|ال', can only ever match its second branch, so every ال is
        # replaced, word-initial or not. Kept as is: scores must be comparable with published ones.
        text = text.replace("ال", " ")
    tokens = _mixed_segmentation(text) if lang == "zh" else text.split()
    return " ".join(tokens)


def answer_f1(prediction: str, golds: list[str], normalize: Callable[[str], str]) -> float:
    """Bag-of-tokens F1 in [0, 1] of the normalized answers, the best over the gold answers."""
    return max(_token_f1(normalize(prediction).split(), normalize(gold).split()) for gold in golds)


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:  # also when both are empty, as in the official scripts
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def answer_em(prediction: str, golds: list[str], normalize: Callable[[str], str]) -> float:
    """1.0 if the normalized prediction equals some normalized gold answer, else 0.0."""
    normalized = normalize(prediction)
    return float(any(normalized == normalize(gold) for gold in golds))


def answer_scores(predictions: dict[str, str], examples: list[QAExample],
                  normalize: Callable[[str], str]) -> dict[str, float]:
    """F1 and exact match in percent over `examples`; a question with no prediction scores 0."""
    if not examples:
        raise ValueError("no examples to score")
    f1 = exact_match = 0.0
    missing = 0
    for example in examples:
        if example.id not in predictions:
            missing += 1
            continue
        golds = [answer.text for answer in example.answers]
        f1 += answer_f1(predictions[example.id], golds, normalize)
        exact_match += answer_em(predictions[example.id], golds, normalize)
    if missing:
        log.warning("%d of %d questions have no prediction and score 0", missing, len(examples))
    return {"f1": 100.0 * f1 / len(examples), "exact_match": 100.0 * exact_match / len(examples)}


def mlqa_f1(prediction: str, golds: list[str], lang: str) -> float:
    return answer_f1(prediction, golds, partial(mlqa_normalize, lang=lang))


def mlqa_em(prediction: str, golds: list[str], lang: str) -> float:
    return answer_em(prediction, golds, partial(mlqa_normalize, lang=lang))


def mlqa_scores(predictions: dict[str, str], examples: list[QAExample], lang: str) -> dict[str, float]:
    """mlqa_evaluation_v1.py's F1 and exact match in percent."""
    return answer_scores(predictions, examples, partial(mlqa_normalize, lang=lang))


def squad_scores(predictions: dict[str, str], examples: list[QAExample]) -> dict[str, float]:
    """evaluate-v1.1.py's F1 and exact match in percent."""
    return answer_scores(predictions, examples, squad_normalize)


# --------------------------------------------------------------------------------------------
# GLUE


def glue_metrics(task: str, preds, labels) -> dict[str, float]:
    """accuracy; plus f1 (positive class '1' or 1) for MRPC and QQP; matthews_corr for CoLA;
    pearson and spearman for STS-B. preds and labels must share a label space (both label
    strings or both class indices; floats for STS-B)."""
    task = glue_task_name(task)
    preds, labels = _plain(preds), _plain(labels)
    if task == "stsb":
        if len(preds) != len(labels) or not labels:
            raise ValueError(f"{len(preds)} predictions for {len(labels)} labels")
        return {"pearson": pearson(preds, labels), "spearman": spearman(preds, labels)}
    if task == "cola":
        return {"matthews_corr": matthews_corr(preds, labels)}
    scores = {"accuracy": accuracy(preds, labels)}
    if task in ("mrpc", "qqp"):
        scores["f1"] = binary_f1(preds, labels)
    return scores


def binary_f1(preds, labels) -> float:
    """F1 of the positive class, the label '1' (or 1); 0 when it is never predicted nor present."""
    preds, labels = _plain(preds), _plain(labels)
    _check_pairs(preds, labels)
    positive_pred = [str(p) == "1" for p in preds]
    positive_gold = [str(g) == "1" for g in labels]
    true_pos = sum(p and g for p, g in zip(positive_pred, positive_gold))
    denominator = sum(positive_pred) + sum(positive_gold)
    return 2 * true_pos / denominator if denominator else 0.0


def matthews_corr(preds, labels) -> float:
    """Matthews correlation (multiclass form, Gorodkin 2004); 0 when undefined, as sklearn does."""
    preds, labels = _plain(preds), _plain(labels)
    _check_pairs(preds, labels)
    total = len(labels)
    correct = sum(p == g for p, g in zip(preds, labels))
    pred_counts, gold_counts = Counter(preds), Counter(labels)
    classes = set(pred_counts) | set(gold_counts)
    covariance = correct * total - sum(pred_counts[c] * gold_counts[c] for c in classes)
    pred_spread = total**2 - sum(n**2 for n in pred_counts.values())
    gold_spread = total**2 - sum(n**2 for n in gold_counts.values())
    if pred_spread == 0 or gold_spread == 0:
        return 0.0
    return covariance / math.sqrt(pred_spread * gold_spread)


def pearson(x, y) -> float:
    """Pearson correlation; NaN when either input is constant."""
    x, y = np.asarray(_plain(x), dtype=np.float64), np.asarray(_plain(y), dtype=np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator else math.nan


def spearman(x, y) -> float:
    """Spearman correlation: Pearson's on ranks, ties given their average rank."""
    return pearson(_average_ranks(x), _average_ranks(y))


def _average_ranks(values) -> np.ndarray:
    _, group, counts = np.unique(np.asarray(_plain(values), dtype=np.float64), return_inverse=True,
                                 return_counts=True)
    last_rank = np.cumsum(counts)  # 1-based rank of the last member of each group of ties
    return (last_rank - (counts - 1) / 2.0)[group]
