import json

import pytest

from xlmr_lit.results import format_table, read_rows, select_epochs, selection_rows
from xlmr_lit.results import main as results_main
from xlmr_lit.cli import train

FT = ["task.udhr_standin=true", "task.max_train_examples=200", "task.standin_recipe.epochs=2", "task.languages=[en,fr,sw]",
      "trainer.enable_progress_bar=false"]


def history_of(dev: list[dict], test: list[dict]) -> list[dict]:
    return [
        {"epoch": i, "step": i, "scores": {**{f"dev/{l}": {"accuracy": v} for l, v in d.items()},
                                           **{f"test/{l}": {"accuracy": v} for l, v in t.items()}}}
        for i, (d, t) in enumerate(zip(dev, test))
    ]


def test_single_and_per_language_selection_hand_computed():
    history = history_of(
        dev=[{"en": 0.9, "sw": 0.2}, {"en": 0.5, "sw": 0.7}, {"en": 0.6, "sw": 0.5}],
        test=[{"en": 0.88, "sw": 0.25}, {"en": 0.52, "sw": 0.66}, {"en": 0.61, "sw": 0.52}],
    )
    chosen = select_epochs(history, "accuracy")
    assert chosen["single"] == {"en": 1, "sw": 1}  # mean dev 0.55 / 0.6 / 0.55
    assert chosen["per_language"] == {"en": 0, "sw": 1}
    rows = selection_rows(history, "accuracy", "xnli", "cross_lingual_transfer", {"seed": 1})
    test = {(r["selection"], r["language"]): r["value"] for r in rows if r["split"] == "test"}
    assert test == {("single", "en"): 0.52, ("single", "sw"): 0.66, ("per_language", "en"): 0.88, ("per_language", "sw"): 0.66}
    assert all(r["seed"] == 1 and r["task"] == "xnli" for r in rows)


def test_pretrain_then_finetune_then_per_language_results(make_cfg, tmp_path, capsys):
    train(make_cfg(run_dir=tmp_path / "pretrain"))
    ckpt = tmp_path / "pretrain" / "checkpoints" / "last.ckpt"
    rows = train(make_cfg("task=xnli", f"model.init={ckpt}", *FT, run_dir=tmp_path / "ft"))
    assert {(r["selection"], r["split"], r["language"]) for r in rows} == {
        (sel, split, lang) for sel in ("single", "per_language") for split in ("dev", "test") for lang in ("en", "fr", "sw")
    }
    assert all(0.0 <= r["value"] <= 1.0 and r["metric"] == "accuracy" for r in rows)
    written = [json.loads(line) for line in open(tmp_path / "ft" / "results.jsonl")]
    assert written == rows
    capsys.readouterr()
    results_main([str(tmp_path)])
    table = capsys.readouterr().out
    assert "xnli" in table and "single" in table and "per_language" in table
    header = next(line for line in table.splitlines() if line.split()[:1] == ["task"])
    assert header.split()[4:8] == ["en", "fr", "sw", "avg"]  # XNLI order, then the average


def test_finetuning_needs_an_init(make_cfg):
    with pytest.raises(ValueError, match="model.init=None: expected a pretrained encoder to fine-tune on task=xnli"):
        train(make_cfg("task=xnli", "task.udhr_standin=true"))


def test_results_reader_names_bad_lines(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"a": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"results.jsonl, line 2: not a JSON results row"):
        read_rows([tmp_path])


def test_table_averages_languages():
    rows = [
        {"task": "xnli", "setting": "s", "selection": "single", "split": "test", "language": l, "metric": "accuracy",
         "value": v, "run": "r"} for l, v in (("sw", 0.5), ("en", 0.9))
    ]
    line = format_table(rows).splitlines()[1]
    assert line.split()[4:7] == ["90.0", "50.0", "70.0"]
