"""An offline sentence-pair task from the bundled corpus's real text, for pretrain -> fine-tune ->
per-language evaluation with no downloads.

Each paragraph is cut in two halves; the pair (first half, second half) is labelled `continues`,
and (first half, second half of a paragraph from another article) is labelled `random`. Train on
English, evaluate zero-shot on every language (cross-lingual transfer). Articles are split by
document index: d % 5 in {0, 1, 2} train, 3 dev, 4 test.
"""

import numpy as np

from xlmr_lit.corpus import language_file
from xlmr_lit.finetune_module import SequenceClassificationModule
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.tasks.features import SentencePair, TaskSplits, accuracy_score, featurize_pairs
from xlmr_lit.tasks.udhr_standins import articles, halves

LABELS = ["continues", "random"]


def language_pairs(lang: str, seed: int) -> dict[str, list[SentencePair]]:
    rng = np.random.default_rng([seed, sum(map(ord, lang))])
    pairs: dict[str, list[SentencePair]] = {}
    for split, docs in articles(lang).items():
        items = [(d, *parts) for d, paragraphs in docs for p in paragraphs if (parts := halves(p, lang))]
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
