"""Named entity recognition: CoNLL-2002 (es, nl), CoNLL-2003 (en, de), WikiANN/PAN-X (the rest).

Labels are PER LOC ORG MISC in IOB2 (PAN-X has no MISC). Settings (`task.setting`):
- train_en: train on English, evaluate every language (cross-lingual transfer);
- train_each: train on `task.train_language` and evaluate it (a multirun over task.train_language);
- train_all: train on the union of every language's training set, evaluate every language.
A word's label sits on its first sub-token; the other sub-tokens are ignored (-100). A sentence
longer than max_length is cut into overlapping windows of whole words, and each word is
predicted in exactly one of them, so every word of every sentence is scored. Scores are
entity-level F1 per language with conlleval's semantics.

Files are read from `task.data_dir` with the per-language names of conf/task/ner.yaml; with
`task.data_dir: null` they come from the HF hub.
"""

from pathlib import Path

from xlmr_lit.finetune_module import TokenClassificationModule
from xlmr_lit.tasks.features import TaskSplits, language_id, subsample
from xlmr_lit.tasks.metrics import conll_f1
from xlmr_lit.tasks.hub import ner_split
from xlmr_lit.tasks.readers import NER_LABELS, DataFormatError, TaggedSentence, iob1_to_iob2, read_conll, warn_i_starts
from xlmr_lit.tokenizer import XLMRTokenizer

LABELS = ["O"] + [f"{prefix}-{entity}" for entity in NER_LABELS for prefix in ("B", "I")]
SPLITS = ("train", "dev", "test")
SETTINGS = ("train_en", "train_each", "train_all")
IGNORED = -100

# HF hub copies (xlmr_lit/tasks/hub.py); CoNLL-2003 German is not redistributed, so it needs task.data_dir.
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


# --------------------------------------------------------------------------------------------
# reading


def language_files(task_cfg, lang: str) -> tuple[dict[str, Path], str]:
    """The train/dev/test files of `lang` under task.data_dir, and their tagging scheme."""
    data_dir = Path(task_cfg.data_dir).expanduser()
    if lang in task_cfg.conll:
        entry = task_cfg.conll[lang]
        files = {split: data_dir / entry[split] for split in SPLITS}
        scheme = entry.scheme
    else:
        files = {split: data_dir / task_cfg.panx[split].format(lang=lang) for split in SPLITS}
        scheme = "iob2"
    return files, scheme


def read_language(path: Path, scheme: str, lang: str, skip_bad: bool,
                  encoding: str | None = None) -> list[TaggedSentence]:
    """encoding None: UTF-8, or latin-1 (logged) for a file that is not UTF-8, as CoNLL-2003 German is not."""
    return read_conll(path, scheme=scheme, language=lang, encoding=encoding, skip_bad=skip_bad)


def read_from_files(task_cfg, lang: str, splits: list[str]) -> tuple[dict[str, list[TaggedSentence]], dict]:
    files, scheme = language_files(task_cfg, lang)
    missing = [str(files[split]) for split in splits if not files[split].is_file()]
    if missing:
        expected = "\n  ".join(str(files[split]) for split in splits)
        raise FileNotFoundError(
            f"task=ner: missing {lang} file(s) {missing}. Expected under task.data_dir={task_cfg.data_dir}:\n  "
            f"{expected}\n(file names per language: task.conll.<lang>.{{train,dev,test}} and task.panx in "
            f"conf/task/ner.yaml; task.data_dir=null reads the HF hub)"
        )
    encoding = task_cfg.get("encoding")
    sentences = {split: read_language(files[split], scheme, lang, task_cfg.skip_bad, encoding) for split in splits}
    sources = {f"{lang}/{split}": [str(files[split]), files[split].stat().st_size] for split in splits}
    return sentences, sources


def read_from_hub(lang: str, splits: list[str],
                  hub_dir: str | None = None) -> tuple[dict[str, list[TaggedSentence]], dict]:
    if lang == "de":
        raise FileNotFoundError("task=ner: CoNLL-2003 German is not on the HF hub; set task.data_dir to your copy "
                                "of deu.train/deu.testa/deu.testb")
    sentences, sources = {}, {}
    for split in splits:
        where = ner_split(lang, HUB_SPLITS[split])
        rows = where.load(hub_dir)
        tag_names = rows.features["ner_tags"].feature.names  # hub copies are IOB2 with integer tags
        unknown = [name for name in tag_names if name not in LABELS]
        if unknown:
            raise DataFormatError(where, f"tag names {unknown} are not among {LABELS}")
        sentences[split], i_starts = [], 0
        for row in rows:
            if not row["tokens"]:
                continue
            given = [tag_names[t] for t in row["ner_tags"]]
            tags = iob1_to_iob2(given)  # an entity that starts with I- is read as B-, as in conlleval and read_conll
            i_starts += sum(a != b for a, b in zip(given, tags))
            sentences[split].append(TaggedSentence(list(row["tokens"]), tags, lang))
        warn_i_starts(where, i_starts)
        sources[f"{lang}/{split}"] = str(where)
    return sentences, sources


def read_sentences(task_cfg, lang: str, splits: list[str]) -> tuple[dict[str, list[TaggedSentence]], dict]:
    if task_cfg.data_dir is None:
        return read_from_hub(lang, splits, task_cfg.get("hub_dir"))
    return read_from_files(task_cfg, lang, splits)


def load_splits(task_cfg, languages: list[str], seed: int) -> TaskSplits:
    setting = task_cfg.setting
    if setting not in SETTINGS:
        raise ValueError(f"task.setting={setting!r}; expected one of {', '.join(SETTINGS)}")
    if setting == "train_en":
        train_languages, eval_languages = ["en"], languages
    elif setting == "train_each":
        train_languages = eval_languages = [task_cfg.train_language]
    else:
        train_languages, eval_languages = languages, languages

    train, evals, sources = [], {}, {}
    for lang in dict.fromkeys([*train_languages, *eval_languages]):
        wanted = (["train"] if lang in train_languages else []) + (["dev", "test"] if lang in eval_languages else [])
        sentences, lang_sources = read_sentences(task_cfg, lang, wanted)
        sources.update(lang_sources)
        train += sentences.get("train", [])
        for split in ("dev", "test"):
            if split in sentences:
                evals[(split, lang)] = sentences[split]
    max_train = task_cfg.get("max_train_examples")
    if max_train is not None:  # the subsample depends on the seed
        sources = {**sources, "max_train_examples": max_train, "seed": seed}
    return TaskSplits(labels=LABELS, train=subsample(train, max_train, seed), evals=evals, metric="f1",
                      sources=sources)


# --------------------------------------------------------------------------------------------
# features


def word_windows(piece_counts: list[int], budget: int, stride: int) -> list[tuple[int, int, int, int]]:
    """(first, end, owned_first, owned_end) word positions of each window over one sentence.

    A window holds the words from `first` that fit in `budget` tokens (at least one word). The
    next window starts at the first word `stride` or more tokens after this window's start (and no
    later than its end), so windows overlap; the words two windows share are split at their middle,
    each window predicting its own part. The owned ranges cover every word exactly once, in order.
    """
    starts = [0]
    for count in piece_counts:
        starts.append(starts[-1] + count)
    num_words = len(piece_counts)
    if num_words == 0:
        return [(0, 0, 0, 0)]
    spans = []
    first = 0
    while True:
        end = first + 1
        while end < num_words and starts[end + 1] - starts[first] <= budget:
            end += 1
        spans.append((first, end))
        if end >= num_words:
            break
        next_first = first + 1
        while next_first < end and starts[next_first] < starts[first] + stride:
            next_first += 1
        first = next_first
    cuts = [0, *((next_first + end) // 2 for (_, end), (next_first, _) in zip(spans, spans[1:])), num_words]
    return [(first, end, cuts[k], cuts[k + 1]) for k, (first, end) in enumerate(spans)]


def featurize(examples: list[TaggedSentence], tokenizer: XLMRTokenizer, labels: list[str], max_length: int,
              stride: int | None = None) -> dict:
    """`<s> pieces </s>` windows of whole words with per-token labels, each sentence predicted whole.

    A word's label sits on its first piece, and only in the window that owns the word (see
    `word_windows`); every other token is -100, so each word is trained on and scored exactly once.
    stride: tokens between window starts; default half a window. A word of more pieces than a
    window holds keeps its first max_length - 2.
    """
    specials = tokenizer.specials
    budget = max_length - len(specials.prefix) - len(specials.suffix)
    if budget < 1:
        raise ValueError(f"task.max_length={max_length} leaves no room for a word between the tokenizer's specials")
    stride = stride or max(budget // 2, 1)
    label_ids = {label: i for i, label in enumerate(labels)}
    columns = {"input_ids": [], "token_labels": [], "sentence": [], **({"langs": []} if tokenizer.lang2id else {})}
    for number, sentence in enumerate(examples):
        # each word on its own; a word the tokenizer normalises away must still carry its tag
        word_pieces = [pieces[:budget] or [specials.unk_id] for pieces in tokenizer.word_pieces(sentence.tokens)]
        for first, end, owned_first, owned_end in word_windows([len(p) for p in word_pieces], budget, stride):
            input_ids, token_labels = list(specials.prefix), [IGNORED] * len(specials.prefix)
            for position in range(first, end):
                pieces = word_pieces[position]
                label = label_ids[sentence.tags[position]] if owned_first <= position < owned_end else IGNORED
                input_ids += pieces
                token_labels += [label] + [IGNORED] * (len(pieces) - 1)
            columns["input_ids"].append(input_ids + list(specials.suffix))
            columns["token_labels"].append(token_labels + [IGNORED] * len(specials.suffix))
            columns["sentence"].append(number)
            if tokenizer.lang2id:
                columns["langs"].append(language_id(tokenizer, sentence.language))
    columns["index"] = list(range(len(columns["input_ids"])))
    return columns


MODULE = TokenClassificationModule
score = conll_f1  # entity precision, recall, f1 from (gold tags, predicted tags) per sentence
