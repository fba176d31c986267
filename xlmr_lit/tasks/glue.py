"""GLUE (English): MNLI, QNLI, QQP, RTE, SST-2, MRPC, CoLA, STS-B, chosen with `task.glue_task`.

GLUE's test labels are hidden, so models are trained on train and scored on dev only (split `dev`,
language `en`). MNLI has two dev sets: `dev` (matched, the one model selection reads) and
`dev_mismatched` (reported at the selected epoch). STS-B is a regression (labels = []).

Metrics: accuracy; F1 and accuracy for MRPC and QQP; Matthews correlation for CoLA; Pearson and
Spearman for STS-B. Selection maximises Matthews for CoLA, Pearson for STS-B, accuracy otherwise,
as in the dev tables of RoBERTa and XLM-R.

Data, from `task.data_dir` (the GLUE distribution of download_glue_data.py: `<data_dir>/<Task>/train.tsv`
and `dev.tsv`, MNLI `dev_matched.tsv` and `dev_mismatched.tsv`; data_dir may also be the task's folder)
or, when data_dir is null, `task.hub_dataset` (`nyu-mll/glue`, one config per task).
"""

import functools
import logging
from pathlib import Path

import numpy as np

from xlmr_lit.finetune_module import SequenceClassificationModule
from xlmr_lit.tasks.features import TaskSplits, featurize_pairs, subsample
from xlmr_lit.tasks.hub import glue_split
from xlmr_lit.tasks.metrics import glue_metrics
from xlmr_lit.tasks.readers import (
    GLUE_FORMATS, DataFormatError, SentencePair, glue_task_name, read_glue_tsv, skip_hint,
)

log = logging.getLogger(__name__)

TASK_DIRS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "qqp": "QQP", "stsb": "STS-B",
             "mnli": "MNLI", "qnli": "QNLI", "rte": "RTE"}
# The hub's class names, in the order of the GLUE files' labels (GLUE_FORMATS[task].labels) and of
# the hub's integer labels. The names also tell the tasks' metrics apart (see `score`).
LABEL_NAMES = {
    "cola": ["unacceptable", "acceptable"],
    "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"],
    "qqp": ["not_duplicate", "duplicate"],
    "stsb": [],
    "mnli": ["entailment", "neutral", "contradiction"],
    "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"],
}
# QNLI and RTE share their labels and their metric (accuracy), so either name serves.
TASK_OF_LABELS = {tuple(names): task for task, names in LABEL_NAMES.items()}
SELECTION_METRIC = {"cola": "matthews_corr", "stsb": "pearson"}  # others: accuracy
DEV_FILES = {"mnli": {"dev": "dev_matched.tsv", "dev_mismatched": "dev_mismatched.tsv"}}
HUB_SPLITS = {"mnli": {"train": "train", "dev": "validation_matched", "dev_mismatched": "validation_mismatched"}}
HUB_COLUMNS = {"cola": ("sentence", None), "sst2": ("sentence", None), "mrpc": ("sentence1", "sentence2"),
               "qqp": ("question1", "question2"), "stsb": ("sentence1", "sentence2"),
               "mnli": ("premise", "hypothesis"), "qnli": ("question", "sentence"), "rte": ("sentence1", "sentence2")}


def split_files(task: str) -> dict[str, str]:
    return {"train": "train.tsv", **DEV_FILES.get(task, {"dev": "dev.tsv"})}


def find_files(data_dir: Path, task: str) -> dict[str, Path]:
    """{split: path} in data_dir/<Task>/ or data_dir itself."""
    names = split_files(task)
    for root in (data_dir / TASK_DIRS[task], data_dir):
        files = {split: root / name for split, name in names.items()}
        if all(path.is_file() for path in files.values()):
            return files
    raise FileNotFoundError(
        f"task.data_dir={data_dir}: no GLUE {TASK_DIRS[task]} files. Expected {', '.join(names.values())} "
        f"in {data_dir / TASK_DIRS[task]} (the GLUE distribution's layout) or in {data_dir}. "
        f"Or set task.data_dir=null task.hub_dataset=nyu-mll/glue to read the HF hub."
    )


def named_label(task: str, label: str | float) -> str | float:
    """The GLUE file's label ('0', '1', 'entailment', a float score) as its class name."""
    if not LABEL_NAMES[task]:
        return label
    return LABEL_NAMES[task][GLUE_FORMATS[task].labels.index(label)]


def read_files(files: dict[str, Path], task: str, skip_bad: bool) -> tuple[dict, int]:
    examples, skipped = {}, 0
    for split, path in files.items():
        records = read_glue_tsv(path, task, skip_bad=skip_bad)
        skipped += len(records.skipped)
        examples[split] = [SentencePair(e.text_a, e.text_b, named_label(task, e.label), "en") for e in records]
    return examples, skipped


def read_hub(name: str, task: str, skip_bad: bool, hub_dir: str | None = None) -> tuple[dict, int]:
    """{split: examples} from the task's config, reading only its train and validation splits."""
    column_a, column_b = HUB_COLUMNS[task]
    names = LABEL_NAMES[task]
    examples, skipped = {}, 0
    for split, hub_split in HUB_SPLITS.get(task, {"train": "train", "dev": "validation"}).items():
        where = glue_split(name, task, hub_split)
        rows = where.load(hub_dir)
        hub_names = getattr(rows.features["label"], "names", names)
        if hub_names != names:
            raise DataFormatError(where, f"label names {hub_names}, expected {names} in this order")
        texts_b = rows[column_b] if column_b else [None] * len(rows)
        examples[split] = []
        for i, (text_a, text_b, label) in enumerate(zip(rows[column_a], texts_b, rows["label"])):
            valid = isinstance(label, float) if not names else isinstance(label, int) and 0 <= label < len(names)
            if not valid:
                expected = "a float score" if not names else f"0..{len(names) - 1} ({', '.join(names)})"
                error = DataFormatError(where, f"row {i}: label {label!r}, expected {expected}"
                                        + skip_hint("task.skip_bad_rows", "rows"))
                if not skip_bad:
                    raise error
                skipped += 1
                continue
            examples[split].append(SentencePair(text_a, text_b, names[label] if names else label, "en"))
    return examples, skipped


def load_splits(task_cfg, languages: list[str], seed: int) -> TaskSplits:
    task = glue_task_name(task_cfg.glue_task)
    skip_bad = bool(task_cfg.get("skip_bad_rows", False))
    if task_cfg.get("data_dir"):
        files = find_files(Path(task_cfg.data_dir).expanduser(), task)
        examples, skipped = read_files(files, task, skip_bad)
        sources = {"files": {str(p): [p.stat().st_size, p.stat().st_mtime_ns] for p in files.values()}}
    elif task_cfg.get("hub_dataset"):
        examples, skipped = read_hub(task_cfg.hub_dataset, task, skip_bad, task_cfg.get("hub_dir"))
        sources = {"hub": task_cfg.hub_dataset}
    else:
        raise ValueError("task=glue needs its data: set task.data_dir=<GLUE distribution dir> "
                         "or task.hub_dataset=nyu-mll/glue")
    if skipped:
        message = f"glue ({task}): skipped {skipped} malformed rows (task.skip_bad_rows=true)"
        print(message)
        log.warning(message)

    max_train = task_cfg.get("max_train_examples")
    train = subsample(examples.pop("train"), max_train, seed)
    return TaskSplits(
        labels=LABEL_NAMES[task],
        train=train,
        evals={(split, "en"): dev for split, dev in examples.items()},
        metric=SELECTION_METRIC.get(task, "accuracy"),
        sources={**sources, "glue_task": task, "max_train_examples": max_train, "seed": seed,
                 "skip_bad_rows": skip_bad},
    )


def score(preds: np.ndarray, gold: np.ndarray, labels: list[str]) -> dict[str, float]:
    """The GLUE metrics of the task whose class names are `labels` (class indices; floats for STS-B)."""
    if not labels:
        return glue_metrics("stsb", preds, gold)
    # integer indices: the positive class of MRPC and QQP F1 is 1
    return glue_metrics(TASK_OF_LABELS[tuple(labels)], preds.astype(int), gold.astype(int))


class GlueModule(SequenceClassificationModule):
    """Sentence(-pair) classification or regression, scored with its GLUE task's metrics."""

    def __init__(self, *args, score_fn=score, **kwargs):
        super().__init__(*args, score_fn=score_fn, **kwargs)
        # the framework calls score_fn(preds, gold); the task's metrics depend on its labels too
        self.score_fn = functools.partial(score_fn, labels=self.labels)


MODULE = GlueModule
featurize = featurize_pairs
