"""XNLI (Conneau et al. 2018): natural language inference in 15 languages, the XLM-R paper's main table.

Settings (`task.setting`):
- cross_lingual_transfer: train on English (MNLI train = XNLI-MT's English file), evaluate all languages.
- translate_train: train on the machine-translated training set of `task.train_language` and
  evaluate that language only; a multirun over task.train_language gives the one-model-per-language table.
- translate_train_all: train one model on the union of every language's translated training set,
  evaluate all languages.
- translate_test: train on English and evaluate English dev and test plus, for every other language,
  its test set machine-translated to English, which the user supplies in task.data_dir as
  `translate-test/test-{lang}-en-translated.tsv` (premise TAB hypothesis TAB label, in English; in
  data_dir or data_dir/xnli). The hub has no translations. Model selection is on English dev.
In the other settings every evaluated language gets a dev and a test set, so the framework's `single`
(average dev) and `per_language` (each language's own dev) model selections both apply.

Data, from `task.data_dir` (the layout is detected) or, when data_dir is null, `task.hub_dataset`:
- XNLI-1.0 + XNLI-MT-1.0 as released: `XNLI-1.0/xnli.{dev,test}.tsv` (all languages in one file)
  and `XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv`.
- XTREME's copy (download_data.sh, utils_preprocess.py): `{dev,test}-{lang}.tsv` and `train-en.tsv`,
  in data_dir or data_dir/xnli; for translate-train, `train-{lang}.tsv` in the same 3-column format.
- the HF hub (`facebook/xnli`): one config per language, splits train/validation/test, integer labels
  (ClassLabel entailment, neutral, contradiction); see xlmr_lit/tasks/hub.py.
"""

import logging
from pathlib import Path

import numpy as np

from xlmr_lit.finetune_module import SequenceClassificationModule
from xlmr_lit.tasks.features import TaskSplits, featurize_pairs, subsample
from xlmr_lit.tasks.hub import xnli_split
from xlmr_lit.tasks.metrics import accuracy
from xlmr_lit.tasks.readers import NLI_LABELS, DataFormatError, SentencePair, read_xnli_tsv, skip_hint

log = logging.getLogger(__name__)

LANGUAGES = "en fr es de el bg ru tr ar vi th zh hi sw ur".split()
LABELS = list(NLI_LABELS)  # also the hub's integer order: 0 entailment, 1 neutral, 2 contradiction
SETTINGS = ("cross_lingual_transfer", "translate_train", "translate_train_all", "translate_test")
EVAL_SPLITS = ("dev", "test")
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
MAX_LISTED_MISSING = 6


def setting_languages(task_cfg, languages: list[str]) -> tuple[list[str], list[str]]:
    """(training languages, evaluated languages) of task.setting."""
    setting, train_language = task_cfg.setting, task_cfg.train_language
    if setting not in SETTINGS:
        raise ValueError(f"task.setting={setting!r} is not an XNLI setting; expected one of {', '.join(SETTINGS)}")
    unknown = [lang for lang in [*languages, train_language] if lang not in LANGUAGES]
    if unknown:
        raise ValueError(f"XNLI has no language(s) {unknown}; its languages are {' '.join(LANGUAGES)}")
    if setting == "translate_test" and train_language != "en":
        raise ValueError(f"task.setting=translate_test evaluates an English model on test sets translated to English; "
                         f"task.train_language must be en, not {train_language!r}")
    if setting in ("cross_lingual_transfer", "translate_test"):
        return [train_language], languages
    if setting == "translate_train":
        return [train_language], [train_language]
    return languages, languages


# --------------------------------------------------------------------------------------------
# files on disk


def layout_files(layout: str, root: Path, train_languages: list[str], eval_languages: list[str]) -> dict:
    """{(split, language): path} that `layout` needs under `root`."""
    if layout == "xnli-1.0":
        files = {("train", lang): root / "XNLI-MT-1.0" / "multinli" / f"multinli.train.{lang}.tsv"
                 for lang in train_languages}
        files |= {(split, lang): root / "XNLI-1.0" / f"xnli.{split}.tsv"
                  for split in EVAL_SPLITS for lang in eval_languages}
    else:
        files = {("train", lang): root / f"train-{lang}.tsv" for lang in train_languages}
        files |= {(split, lang): root / f"{split}-{lang}.tsv" for split in EVAL_SPLITS for lang in eval_languages}
    return files


def find_files(data_dir: Path, train_languages: list[str], eval_languages: list[str]) -> tuple[str, dict]:
    """The first layout whose files are all present, or an error listing what each layout expects."""
    candidates = [("xnli-1.0", data_dir), ("xtreme", data_dir), ("xtreme", data_dir / "xnli")]
    problems = []
    for layout, root in candidates:
        files = layout_files(layout, root, train_languages, eval_languages)
        missing = sorted({str(path) for path in files.values() if not path.is_file()})
        if not missing:
            return layout, files
        listed = ", ".join(missing[:MAX_LISTED_MISSING])
        more = f" and {len(missing) - MAX_LISTED_MISSING} more" if len(missing) > MAX_LISTED_MISSING else ""
        problems.append(f"  {layout} under {root}: missing {listed}{more}")
    raise FileNotFoundError(
        f"task.data_dir={data_dir}: no XNLI files for training on {' '.join(train_languages)} and evaluating "
        f"{' '.join(eval_languages)}. Expected one of these layouts:\n"
        f"  xnli-1.0: XNLI-1.0/xnli.{{dev,test}}.tsv and XNLI-MT-1.0/multinli/multinli.train.{{lang}}.tsv\n"
        f"  xtreme: {{dev,test}}-{{lang}}.tsv and train-{{lang}}.tsv (in data_dir or data_dir/xnli)\n"
        + "\n".join(problems)
        + "\nOr set task.data_dir=null task.hub_dataset=facebook/xnli to read the HF hub."
    )


def translated_test_files(data_dir: Path, languages: list[str]) -> dict:
    """{("test", language): path} of the test sets translated to English, for every language but English."""
    roots = [data_dir, data_dir / "xnli"]
    candidates = [{("test", lang): root / "translate-test" / f"test-{lang}-en-translated.tsv"
                   for lang in languages if lang != "en"} for root in roots]
    for files in candidates:
        if all(path.is_file() for path in files.values()):
            return files
    missing = sorted(str(p) for p in candidates[0].values() if not p.is_file())
    raise FileNotFoundError(
        f"task.setting=translate_test: no translated test sets in {' or '.join(str(r / 'translate-test') for r in roots)} "
        f"(missing e.g. {', '.join(missing[:MAX_LISTED_MISSING])}). Expected translate-test/test-{{lang}}-en-translated.tsv "
        f"for each language but en: the XNLI test set of that language machine-translated to English, "
        f"premise TAB hypothesis TAB label."
    )


def read_files(layout: str, files: dict, skip_bad: bool) -> tuple[dict, int]:
    """{(split, language): examples} from the files of one layout, and the number of rows skipped."""
    read: dict[Path, dict[str, list]] = {}  # XNLI-1.0 keeps every language of a split in one file
    skipped = 0
    examples = {}
    for (split, lang), path in files.items():
        if path not in read:
            # XNLI-1.0's dev and test rows carry their own language; the other files hold one language
            all_languages = layout == "xnli-1.0" and split != "train"
            records = read_xnli_tsv(path, language=None if all_languages else lang, skip_bad=skip_bad)
            skipped += len(records.skipped)
            read[path] = {}
            for example in records:
                read[path].setdefault(example.language, []).append(example)
        if lang not in read[path]:
            raise DataFormatError(path, f"no rows for language {lang!r} (found {' '.join(sorted(read[path]))})")
        examples[(split, lang)] = read[path][lang]
    return examples, skipped


def file_sources(files: dict) -> dict:
    """What the examples were read from, for the feature cache key: a changed file is a new key."""
    return {str(p): [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(set(files.values()))}


# --------------------------------------------------------------------------------------------
# the HF hub


def read_hub(name: str, train_languages: list[str], eval_languages: list[str], skip_bad: bool,
             hub_dir: str | None = None) -> tuple[dict, int]:
    """{(split, language): examples} from the hub's per-language configs, and the rows skipped.

    Only the splits used are read: an evaluated-only language never downloads its training set.
    """
    wanted = [("train", lang) for lang in train_languages] + [(s, lang) for s in EVAL_SPLITS for lang in eval_languages]
    examples, skipped = {}, 0
    for split, lang in wanted:
        where = xnli_split(name, lang, HUB_SPLITS[split])
        rows = where.load(hub_dir)
        names = getattr(rows.features["label"], "names", LABELS)
        if names != LABELS:
            raise DataFormatError(where, f"label names {names}, expected {LABELS} in this order")
        examples[(split, lang)] = []
        for i, (premise, hypothesis, label) in enumerate(zip(rows["premise"], rows["hypothesis"], rows["label"])):
            if not isinstance(label, int) or not 0 <= label < len(LABELS):
                error = DataFormatError(where, f"row {i}: label {label!r}, expected 0, 1 or 2 ({', '.join(LABELS)})"
                                        + skip_hint("task.skip_bad_rows", "rows"))
                if not skip_bad:
                    raise error
                skipped += 1
                continue
            examples[(split, lang)].append(SentencePair(premise, hypothesis, LABELS[label], lang))
    return examples, skipped


# --------------------------------------------------------------------------------------------


def load_splits(task_cfg, languages: list[str], seed: int) -> TaskSplits:
    train_languages, eval_languages = setting_languages(task_cfg, languages)
    translate_test = task_cfg.setting == "translate_test"
    skip_bad = bool(task_cfg.get("skip_bad_rows", False))
    if translate_test and not task_cfg.get("data_dir"):
        raise ValueError("task.setting=translate_test reads test sets translated to English from task.data_dir "
                         "(translate-test/test-{lang}-en-translated.tsv); the hub has none")
    if task_cfg.get("data_dir"):
        data_dir = Path(task_cfg.data_dir).expanduser()
        layout, files = find_files(data_dir, train_languages, ["en"] if translate_test else eval_languages)
        examples, skipped = read_files(layout, files, skip_bad)
        if translate_test:
            translated = translated_test_files(data_dir, eval_languages)
            more, more_skipped = read_files("xtreme", translated, skip_bad)
            english = len(examples[("test", "en")])
            for key, path in translated.items():
                if len(more[key]) != english and not (skip_bad and more_skipped + skipped):
                    raise ValueError(f"{path}: {len(more[key])} examples, where the English test set has {english}; "
                                     f"XNLI's test sets are translations of each other, so a translated one has as "
                                     f"many rows (is it the test set of another version or a part of it?)")
            examples, skipped, files = examples | more, skipped + more_skipped, files | translated
        sources = {"layout": layout, "files": file_sources(files)}
    elif task_cfg.get("hub_dataset"):
        examples, skipped = read_hub(task_cfg.hub_dataset, train_languages, eval_languages, skip_bad,
                                     task_cfg.get("hub_dir"))
        sources = {"hub": task_cfg.hub_dataset}
    else:
        raise ValueError("task=xnli needs its data: set task.data_dir=<dir> (XNLI-1.0 + XNLI-MT-1.0, or XTREME's "
                         "copy) or task.hub_dataset=facebook/xnli")
    if skipped:
        message = f"xnli: skipped {skipped} malformed rows (task.skip_bad_rows=true)"
        print(message)
        log.warning(message)

    train = [example for lang in train_languages for example in examples[("train", lang)]]
    max_train = task_cfg.get("max_train_examples")
    train = subsample(train, max_train, seed)
    return TaskSplits(
        labels=LABELS,
        train=train,
        evals={key: split_examples for key, split_examples in examples.items() if key[0] != "train"},
        metric="accuracy",
        # the subsample depends on the seed, and skipping rows changes which examples there are
        sources={**sources, "setting": task_cfg.setting, "train_languages": train_languages,
                 "max_train_examples": max_train, "seed": seed, "skip_bad_rows": skip_bad},
    )


def score(preds: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    return {"accuracy": accuracy(preds, gold)}


MODULE = SequenceClassificationModule
featurize = featurize_pairs
