"""Local copies of the benchmarks' HF hub repositories, in each repository's real layout.

Each function writes `<hub_dir>/<owner>/<name>/` as the repository looks at the revision the code
reads (file paths, config and split names, column names and feature types, ClassLabel order), with
the rows given; a revision other than main goes to `<hub_dir>/<owner>/<name>@<quoted revision>`, and
the script datasets' main branch, which `datasets` >= 4 refuses, is written next to it. The layouts
are written out here by hand, independently of xlmr_lit/tasks/hub.py, so that a wrong config,
split, folder, file pattern or revision in the code fails the tests that read them. Sources: the
repositories' file trees and dataset cards on huggingface.co (see the README's hub table).
"""

from pathlib import Path

import datasets
from datasets import ClassLabel, Features, List, Value

PARQUET_CONVERSION = "@refs%2Fconvert%2Fparquet"  # the hub's parquet conversion of a repository, hf:// style
NLI_NAMES = ["entailment", "neutral", "contradiction"]
CONLL_NER_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
WIKIANN_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
POS_NAMES = ['"', "''", "#", "$", "(", ")", ",", ".", ":", "``", "CC", "CD", "DT", "NN", "NNP", "VB"]  # a prefix
CHUNK_NAMES = ["O", "B-ADJP", "I-ADJP", "B-ADVP", "I-ADVP", "B-CONJP", "I-CONJP", "B-INTJ", "I-INTJ", "B-LST"]
QA_ANSWERS = {"text": List(Value("string")), "answer_start": List(Value("int32"))}
GLUE_FEATURES = {
    "mnli": {"premise": Value("string"), "hypothesis": Value("string"), "label": ClassLabel(names=NLI_NAMES)},
    "sst2": {"sentence": Value("string"), "label": ClassLabel(names=["negative", "positive"])},
    "cola": {"sentence": Value("string"), "label": ClassLabel(names=["unacceptable", "acceptable"])},
    "stsb": {"sentence1": Value("string"), "sentence2": Value("string"), "label": Value("float32")},
    "mrpc": {"sentence1": Value("string"), "sentence2": Value("string"),
             "label": ClassLabel(names=["not_equivalent", "equivalent"])},
}
GLUE_SPLITS = {"mnli": ["train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched"]}


def write_parquet(path: Path, rows: dict, features: dict) -> None:
    """One parquet file with the `datasets` feature metadata the hub's files carry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(rows, features=Features(features)).to_parquet(str(path))


def write_card(repo: Path, configs: dict[str, dict[str, str]]) -> None:
    """README.md whose YAML header declares `configs` ({config: {split: path glob}}), as the hub's cards do."""
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        for split, path in splits.items():
            lines += [f"  - split: {split}", f"    path: {path}"]
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "README.md").write_text("\n".join([*lines, "---", "", "# Dataset card", ""]), encoding="utf-8")


def write_script_branch(repo: Path) -> None:
    """The main branch of a script dataset: a loading script and its card."""
    repo.mkdir(parents=True, exist_ok=True)
    script = "import datasets\n\n\nclass Builder(datasets.GeneratorBasedBuilder):\n    pass\n"
    (repo / f"{repo.name}.py").write_text(script)
    (repo / "README.md").write_text("---\npretty_name: a script dataset\n---\n")


def write_xnli(hub_dir: Path, rows: dict[str, dict[str, list]]) -> Path:
    """facebook/xnli on main: `<lang>/<split>-00000-of-00001.parquet`, one config per language.

    rows: {lang: {"premise": [...], "hypothesis": [...], "label": [...]}}, the same rows in every split.
    """
    repo = hub_dir / "facebook" / "xnli"
    features = {"premise": Value("string"), "hypothesis": Value("string"), "label": ClassLabel(names=NLI_NAMES)}
    for lang, columns in rows.items():
        for split in ("train", "validation", "test"):
            write_parquet(repo / lang / f"{split}-00000-of-00001.parquet", columns, features)
    write_card(repo, {lang: {s: f"{lang}/{s}-*" for s in ("train", "validation", "test")} for lang in rows})
    return repo


def write_glue(hub_dir: Path, task: str, rows: dict[str, list]) -> Path:
    """nyu-mll/glue on main: `<task>/<split>-00000-of-00001.parquet`, with the task's hidden test split(s)."""
    repo = hub_dir / "nyu-mll" / "glue"
    splits = GLUE_SPLITS.get(task, ["train", "validation", "test"])
    features = {**GLUE_FEATURES[task], "idx": Value("int32")}
    for split in splits:
        columns = {**rows, "idx": list(range(len(rows["label"])))}
        if split.startswith("test") and task != "stsb":
            columns["label"] = [-1] * len(rows["label"])
        write_parquet(repo / task / f"{split}-00000-of-00001.parquet", columns, features)
    write_card(repo, {task: {split: f"{task}/{split}-*" for split in splits}})
    return repo


def write_conll2003(hub_dir: Path, tokens: list[list[str]], tags: list[list[str]]) -> Path:
    """eriktks/conll2003 at refs/convert/parquet: `conll2003/<split>/0000.parquet` (its main branch is a script)."""
    write_script_branch(hub_dir / "eriktks" / "conll2003")
    repo = hub_dir / "eriktks" / ("conll2003" + PARQUET_CONVERSION)
    features = {"id": Value("string"), "tokens": List(Value("string")), "pos_tags": List(ClassLabel(names=POS_NAMES)),
                "chunk_tags": List(ClassLabel(names=CHUNK_NAMES)), "ner_tags": List(ClassLabel(names=CONLL_NER_NAMES))}
    columns = {"id": [str(i) for i in range(len(tokens))], "tokens": tokens,
               "pos_tags": [[13] * len(t) for t in tokens], "chunk_tags": [[0] * len(t) for t in tokens],
               "ner_tags": [[CONLL_NER_NAMES.index(tag) for tag in s] for s in tags]}
    for split in ("train", "validation", "test"):
        write_parquet(repo / "conll2003" / split / "0000.parquet", columns, features)
    (repo / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    return repo


def write_conll2002(hub_dir: Path, rows: dict[str, tuple[list[list[str]], list[list[str]]]]) -> Path:
    """eriktks/conll2002 at refs/convert/parquet: `es/<split>/0000.parquet` and `nl/<split>/0000.parquet`.

    rows: {lang: (tokens, tags)}.
    """
    write_script_branch(hub_dir / "eriktks" / "conll2002")
    repo = hub_dir / "eriktks" / ("conll2002" + PARQUET_CONVERSION)
    features = {"id": Value("string"), "tokens": List(Value("string")), "pos_tags": List(ClassLabel(names=POS_NAMES)),
                "ner_tags": List(ClassLabel(names=CONLL_NER_NAMES))}
    for lang, (tokens, tags) in rows.items():
        columns = {"id": [str(i) for i in range(len(tokens))], "tokens": tokens,
                   "pos_tags": [[13] * len(t) for t in tokens],
                   "ner_tags": [[CONLL_NER_NAMES.index(tag) for tag in s] for s in tags]}
        for split in ("train", "validation", "test"):
            write_parquet(repo / lang / split / "0000.parquet", columns, features)
    (repo / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    return repo


def write_wikiann(hub_dir: Path, rows: dict[str, tuple[list[list[str]], list[list[str]]]]) -> Path:
    """unimelb-nlp/wikiann on main: `<lang>/<split>-00000-of-00001.parquet`, one config per language."""
    repo = hub_dir / "unimelb-nlp" / "wikiann"
    features = {"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=WIKIANN_NAMES)),
                "langs": List(Value("string")), "spans": List(Value("string"))}
    for lang, (tokens, tags) in rows.items():
        columns = {"tokens": tokens, "ner_tags": [[WIKIANN_NAMES.index(tag) for tag in s] for s in tags],
                   "langs": [[lang] * len(t) for t in tokens], "spans": [[] for _ in tokens]}
        for split in ("validation", "test", "train"):
            write_parquet(repo / lang / f"{split}-00000-of-00001.parquet", columns, features)
    write_card(repo, {lang: {s: f"{lang}/{s}-*" for s in ("validation", "test", "train")} for lang in rows})
    return repo


def qa_columns(examples: list[tuple[str, str, str, str, int]], with_title: bool) -> dict:
    """Columns from (id, question, context, answer, answer_start) tuples."""
    columns = {"id": [e[0] for e in examples], "context": [e[2] for e in examples],
               "question": [e[1] for e in examples],
               "answers": [{"text": [e[3]], "answer_start": [e[4]]} for e in examples]}
    if with_title:
        columns["title"] = ["title"] * len(examples)
    return columns


def write_squad(hub_dir: Path, examples: list) -> Path:
    """rajpurkar/squad on main: `plain_text/<split>-00000-of-00001.parquet`, config plain_text."""
    repo = hub_dir / "rajpurkar" / "squad"
    features = {"id": Value("string"), "title": Value("string"), "context": Value("string"),
                "question": Value("string"), "answers": QA_ANSWERS}
    for split in ("train", "validation"):
        write_parquet(repo / "plain_text" / f"{split}-00000-of-00001.parquet", qa_columns(examples, True), features)
    write_card(repo, {"plain_text": {s: f"plain_text/{s}-*" for s in ("train", "validation")}})
    return repo


def write_mlqa(hub_dir: Path, examples: dict[str, list]) -> Path:
    """MLQA in google/xtreme on main: `MLQA.<c>.<q>/{validation,test}-00000-of-00001.parquet`, configs MLQA.<c>.<q>
    declared in the card (as lhoestq's "Add MLQA.en.de data files" commit shows), columns id, title, context,
    question, answers {answer_start, text} (the features of XTREME's former loading script). Each language gets
    its own config and the config with English questions, so that reading the wrong one fails."""
    repo = hub_dir / "google" / "xtreme"
    features = {"id": Value("string"), "title": Value("string"), "context": Value("string"),
                "question": Value("string"),
                "answers": {"answer_start": List(Value("int32")), "text": List(Value("string"))}}
    configs = {}
    for lang, lang_examples in examples.items():
        columns = qa_columns(lang_examples, True)
        columns["answers"] = [{"answer_start": a["answer_start"], "text": a["text"]} for a in columns["answers"]]
        for config in (f"MLQA.{lang}.{lang}", f"MLQA.{lang}.en"):
            same_language = config == f"MLQA.{lang}.{lang}"
            rows = columns if same_language else {**columns, "id": [f"{i}-en" for i in columns["id"]]}
            for split in ("validation", "test"):
                split_rows = rows if split == "test" else {**rows, "id": [f"{i}-dev" for i in rows["id"]]}
                write_parquet(repo / config / f"{split}-00000-of-00001.parquet", split_rows, features)
            configs[config] = {s: f"{config}/{s}-*" for s in ("test", "validation")}
    write_card(repo, configs)
    return repo


def write_xquad(hub_dir: Path, examples: dict[str, list]) -> Path:
    """google/xquad on main: `xquad.<lang>/validation-00000-of-00001.parquet`, configs xquad.<lang>."""
    repo = hub_dir / "google" / "xquad"
    features = {"id": Value("string"), "context": Value("string"), "question": Value("string"), "answers": QA_ANSWERS}
    for lang, lang_examples in examples.items():
        write_parquet(repo / f"xquad.{lang}" / "validation-00000-of-00001.parquet",
                      qa_columns(lang_examples, False), features)
    write_card(repo, {f"xquad.{lang}": {"validation": f"xquad.{lang}/validation-*"} for lang in examples})
    return repo
