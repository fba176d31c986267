"""An offline sentence-pair task from the bundled corpus's real text, for pretrain -> fine-tune ->
per-language evaluation with no downloads.

Each paragraph is cut in two halves; the pair (first half, second half) is labelled `continues`,
and (first half, second half of a paragraph from another article) is labelled `random`. Train on
English, evaluate zero-shot on every language (cross-lingual transfer). Articles are split by
document index: d % 5 in {0, 1, 2} train, 3 dev, 4 test.
"""

import numpy as np

from xlmr_lit.corpus import ReadReport, language_file, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.finetune_module import SequenceClassificationModule
from xlmr_lit.tasks.features import SentencePair, TaskSplits, accuracy_score, featurize_pairs

LABELS = ["continues", "random"]
SPLIT_OF_REMAINDER = {0: "train", 1: "train", 2: "train", 3: "dev", 4: "test"}


def halves(paragraph: str) -> tuple[str, str] | None:
    words = paragraph.split()
    if len(words) >= 6:
        return " ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])
    if len(words) <= 2 and len(paragraph) >= 12:  # scripts written without spaces (zh, ja, th)
        return paragraph[: len(paragraph) // 2], paragraph[len(paragraph) // 2 :]
    return None


def language_pairs(lang: str, seed: int) -> dict[str, list[SentencePair]]:
    path = language_file(BUNDLED_CORPUS_DIR, lang)
    cut: dict[str, list[tuple[int, str, str]]] = {"train": [], "dev": [], "test": []}
    for doc_index, doc in enumerate(read_documents(path, ReadReport(path))):
        for paragraph in doc:
            if parts := halves(paragraph):
                cut[SPLIT_OF_REMAINDER[doc_index % 5]].append((doc_index, *parts))
    rng = np.random.default_rng([seed, sum(map(ord, lang))])
    pairs: dict[str, list[SentencePair]] = {}
    for split, items in cut.items():
        pairs[split] = []
        for doc_index, first, second in items:
            others = [s for d, _, s in items if d != doc_index]
            pairs[split].append(SentencePair(first, second, "continues", lang))
            if others:
                pairs[split].append(SentencePair(first, others[rng.integers(len(others))], "random", lang))
    return pairs


def load_splits(task_cfg, languages: list[str], seed: int) -> TaskSplits:
    by_language = {lang: language_pairs(lang, seed) for lang in languages}
    train_language = task_cfg.train_language
    evals = {(split, lang): by_language[lang][split] for split in ("dev", "test") for lang in languages}
    return TaskSplits(
        labels=LABELS,
        train=by_language[train_language]["train"],
        evals=evals,
        metric="accuracy",
        sources={lang: str(language_file(BUNDLED_CORPUS_DIR, lang)) for lang in languages},
    )

MODULE = SequenceClassificationModule
featurize = featurize_pairs
score = accuracy_score
