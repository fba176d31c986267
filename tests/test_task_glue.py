"""GLUE: each task's distribution files, dev-only evaluation and selection, metrics, the hub path."""

import math
import random

import numpy as np
import pytest
from tiny_hf_model import build_tiny_hf_model  # tests/tiny_hf_model.py

from xlmr_lit.tasks import glue
from xlmr_lit.tasks.readers import DataFormatError
from xlmr_lit.cli import train

FINETUNE = ["task.epochs=2", "task.batch_size=4", "task.eval_batch_size=16", "+trainer.limit_train_batches=2",
            "trainer.enable_progress_bar=false"]
WORDS = 'the a movie was " great bad not it\'s John says that Paris is big small'.split()
NLI = ["entailment", "neutral", "contradiction"]
TEXT_A_COLUMN = {"cola": 3, "sst2": 0, "mrpc": 3, "qqp": 3, "stsb": 7, "qnli": 1, "rte": 1, "mnli": 8}


def text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))


def glue_rows(task: str, n: int, rng: random.Random) -> tuple[str | None, list[str]]:
    """(header, lines) of a GLUE distribution file for `task` with n labelled rows."""
    lines = []
    for i in range(n):
        a, b = text(rng), text(rng)
        binary = str(i % 2)
        if task == "cola":  # the only file without a header
            lines.append(f"gj04\t{binary}\t{'' if binary == '1' else '*'}\t{a}")
        elif task == "sst2":
            lines.append(f"{a}\t{binary}")
        elif task == "mrpc":
            lines.append(f"{binary}\t{100 + i}\t{200 + i}\t{a}\t{b}")
        elif task == "qqp":
            lines.append(f"{i}\t{2 * i}\t{2 * i + 1}\t{a}\t{b}\t{binary}")
        elif task == "stsb":
            lines.append(f"{i}\tmain-news\tMSRvid\t2012test\t{i:04d}\tnone\tnone\t{a}\t{b}\t{(i * 0.7) % 5:.3f}")
        elif task in ("qnli", "rte"):
            lines.append(f"{i}\t{a}\t{b}\t{['entailment', 'not_entailment'][i % 2]}")
        elif task == "mnli":
            lines.append("\t".join([str(i), "31193", f"{i}n", "government", "( x )", "( y )", "(ROOT x)", "(ROOT y)",
                                    a, b, NLI[i % 3], NLI[i % 3]]))
    headers = {
        "cola": None,
        "sst2": "sentence\tlabel",
        "mrpc": "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
        "qqp": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
        "stsb": "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        "qnli": "index\tquestion\tsentence\tlabel",
        "rte": "index\tsentence1\tsentence2\tlabel",
        "mnli": "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
                "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label",
    }
    return headers[task], lines


def write_glue(root, task: str, n_train: int = 16, n_dev: int = 8):
    """<root>/<Task>/train.tsv and its dev file(s), as the GLUE distribution lays them out."""
    directory = root / glue.TASK_DIRS[task]
    directory.mkdir(parents=True)
    rng = random.Random(task)
    for split, name in glue.split_files(task).items():
        n = n_train if split == "train" else n_dev
        header, lines = glue_rows(task, n, rng)
        (directory / name).write_text("\n".join(([header] if header else []) + lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_hf_model(tmp_path_factory):
    rng = random.Random(0)
    return build_tiny_hf_model(tmp_path_factory.mktemp("tiny_xlmr_glue"), extra_text=[text(rng) for _ in range(200)])


def glue_cfg(make_cfg, task, *overrides, **kwargs):
    return make_cfg("task=glue", f"task.glue_task={task}", "task.hub_dataset=null", *overrides, **kwargs)


# ----------------------------------------------------------------------------------------------
# end to end through xlmr_lit.cli.train


@pytest.mark.parametrize("task, metrics", [
    ("mnli", {"accuracy"}),
    ("mrpc", {"accuracy", "f1"}),
    ("cola", {"matthews_corr"}),
    ("stsb", {"pearson", "spearman"}),
])
def test_finetune_scores_dev_with_the_task_metrics(make_cfg, tiny_hf_model, tmp_path, task, metrics):
    data = write_glue(tmp_path / "glue_data", task)
    rows = train(glue_cfg(make_cfg, task, f"model.init=hf:{tiny_hf_model}", f"task.data_dir={data}", *FINETUNE))
    splits = {"dev", "dev_mismatched"} if task == "mnli" else {"dev"}
    assert {(r["selection"], r["split"], r["language"], r["metric"]) for r in rows} == {
        (selection, split, "en", metric) for selection in ("single", "per_language") for split in splits
        for metric in metrics
    }
    assert all(r["task"] == "glue" and r["setting"] == task for r in rows)
    assert all(math.isnan(r["value"]) or -1.0 <= r["value"] <= 1.0 for r in rows)
    if task == "mnli":  # mismatched is reported at the epoch chosen on matched dev
        epochs = {(r["selection"], r["split"]): r["epoch"] for r in rows}
        for selection in ("single", "per_language"):
            assert epochs[(selection, "dev_mismatched")] == epochs[(selection, "dev")]


# ----------------------------------------------------------------------------------------------
# load_splits from files


@pytest.mark.parametrize("task", sorted(glue.TASK_DIRS))
def test_every_task_reads_its_distribution_files(make_cfg, tmp_path, task):
    root = write_glue(tmp_path, task)
    for data_dir in (root, root / glue.TASK_DIRS[task]):  # glue_data/ or glue_data/<Task>/
        splits = glue.load_splits(glue_cfg(make_cfg, task, f"task.data_dir={data_dir}").task, ["en"], 1)
        assert len(splits.train) == 16
        assert list(splits.evals) == ([("dev", "en"), ("dev_mismatched", "en")] if task == "mnli" else [("dev", "en")])
        assert all(len(dev) == 8 for dev in splits.evals.values())
        assert splits.labels == glue.LABEL_NAMES[task]
        assert splits.metric == {"cola": "matthews_corr", "stsb": "pearson"}.get(task, "accuracy")
        labels = {e.label for e in splits.train}
        if task == "stsb":
            assert all(isinstance(label, float) for label in labels) and 0.7 in labels
        else:
            assert labels == set(glue.LABEL_NAMES[task])
        single = task in ("cola", "sst2")
        assert all((e.text_b is None) == single for e in splits.train)
    first_row = glue_rows(task, 1, random.Random(task))[1][0].split("\t")  # the same rng draws as write_glue
    assert splits.train[0].text_a == first_row[TEXT_A_COLUMN[task]]


def test_binary_file_labels_become_class_names(make_cfg, tmp_path):
    data = write_glue(tmp_path, "mrpc")
    splits = glue.load_splits(glue_cfg(make_cfg, "mrpc", f"task.data_dir={data}").task, ["en"], 1)
    assert [e.label for e in splits.train[:2]] == ["not_equivalent", "equivalent"]  # rows labelled 0, 1


def test_max_train_examples(make_cfg, tmp_path):
    data = write_glue(tmp_path, "rte")
    task_cfg = glue_cfg(make_cfg, "rte", f"task.data_dir={data}", "task.max_train_examples=5").task
    first, again = (glue.load_splits(task_cfg, ["en"], 3).train for _ in range(2))
    assert len(first) == 5 and first == again


def test_missing_files_and_bad_rows(make_cfg, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"no GLUE STS-B files\. Expected train\.tsv, dev\.tsv in .*STS-B"):
        glue.load_splits(glue_cfg(make_cfg, "stsb", f"task.data_dir={tmp_path}").task, ["en"], 1)
    data = write_glue(tmp_path, "stsb")
    with open(data / "STS-B" / "dev.tsv", "a", encoding="utf-8") as f:
        f.write("9\tmain-news\tMSRvid\t2012test\t0009\tnone\tnone\ta\tb\tfive\n")  # line 10 (header + 8 rows)
    with pytest.raises(DataFormatError, match=r"STS-B/dev.tsv, line 10: expected a float score from 0 to 5, found 'five'"):
        glue.load_splits(glue_cfg(make_cfg, "stsb", f"task.data_dir={data}").task, ["en"], 1)
    task_cfg = glue_cfg(make_cfg, "stsb", f"task.data_dir={data}", "task.skip_bad_rows=true").task
    assert len(glue.load_splits(task_cfg, ["en"], 1).evals[("dev", "en")]) == 8
    assert "glue (stsb): skipped 1 malformed rows" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# metrics and the hub


def test_score_uses_the_metrics_of_the_task_its_labels_name():
    preds, gold = np.array([1.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0, 1.0])
    mrpc = glue.score(preds, gold, glue.LABEL_NAMES["mrpc"])
    assert mrpc == {"accuracy": 0.5, "f1": 0.5}
    assert glue.score(preds, gold, glue.LABEL_NAMES["sst2"]) == {"accuracy": 0.5}
    assert glue.score(np.array([1.0, 1.0, 0.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.0]), glue.LABEL_NAMES["cola"]) == {
        "matthews_corr": 1.0}
    stsb = glue.score(np.array([0.1, 0.4, 0.2]), np.array([1.0, 4.0, 2.0]), [])
    assert stsb["pearson"] == pytest.approx(1.0) and stsb["spearman"] == pytest.approx(1.0)
