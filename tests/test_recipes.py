"""Issue 30 item 2: the published fine-tuning recipes (task.recipe=...), checked against their sources' values."""

import pytest
from omegaconf import OmegaConf

from xlmr_lit import config_checks
from xlmr_lit.config_checks import ConfigError, check_config
from xlmr_lit.plot import SPECS, recipe_expectations
from xlmr_lit.recipes import TASK_CONF_DIR, apply_recipe
from xlmr_lit.tasks.features import ResumableShuffleSampler

# What each source states (see the comments in conf/task/<task>.yaml); None = not stated, the task's own value.
SOURCES = {
    # fairseq#1367: 16 per GPU x 8 GPUs, Adam lr 5e-6, epochs of 5K batches, 30 epochs, early stopping patience 5
    ("xnli", "fairseq_1367"): {"batch_size": 128, "lr": 5e-6, "batches_per_epoch": 5000, "epochs": 30, "patience": 5,
                               "max_length": None, "weight_decay": None, "clip": None},
    # scripts/train_xnli.sh (xlm-roberta-base: 8 x 4, LR=2e-5, EPOCH=5, MAXL=128) + run_classify.py defaults
    ("xnli", "xtreme"): {"batch_size": 32, "lr": 2e-5, "epochs": 5, "max_length": 128, "weight_decay": 0.0,
                         "warmup_ratio": 0.0, "adam_eps": 1e-8, "adam_betas": [0.9, 0.999], "clip": 1.0,
                         "batches_per_epoch": None, "patience": None},
    # scripts/train_panx.sh (8 x 4, LR=2e-5, NUM_EPOCHS=10, MAX_LENGTH=128) + run_tag.py defaults
    ("ner", "xtreme"): {"batch_size": 32, "lr": 2e-5, "epochs": 10, "max_length": 128, "weight_decay": 0.0,
                        "warmup_ratio": 0.0, "adam_eps": 1e-8, "clip": 1.0, "patience": None},
    # scripts/train_qa.sh (4 x 8, LR=3e-5, NUM_EPOCHS=3, MAXL=384, --warmup_steps 500, --weight_decay 0.0001)
    ("qa", "xtreme"): {"batch_size": 32, "lr": 3e-5, "epochs": 3, "max_length": 384, "warmup_steps": 500,
                       "weight_decay": 1e-4, "adam_eps": 1e-8, "clip": 1.0, "patience": None},
}


@pytest.mark.parametrize("task, recipe", list(SOURCES))
def test_each_recipe_resolves_to_its_sources_settings(make_cfg, task, recipe):
    cfg = make_cfg(f"task={task}", f"task.recipe={recipe}", "model.init=hf:somewhere")
    check_config(cfg)
    default = make_cfg(f"task={task}").task
    ran_cfg, ran = apply_recipe(cfg, cfg.task)
    for key, value in SOURCES[(task, recipe)].items():
        if key == "patience":
            assert ran_cfg.callbacks.early_stopping.patience == (value if value is not None else 0)
        elif key == "clip":
            assert ran_cfg.trainer.gradient_clip_val == (value if value is not None else 0.0)
        elif value is None:  # not stated by the source: the task's own setting runs
            assert ran[key] == default[key], key
        else:
            actual = OmegaConf.to_object(ran[key]) if key == "adam_betas" else ran[key]
            assert actual == pytest.approx(value), key
    assert cfg.callbacks.early_stopping.patience == 0 and cfg.task.lr == default.lr  # the composed config is untouched
    assert apply_recipe(make_cfg(f"task={task}"), default)[1] is default  # no recipe: nothing changes


def test_recipes_name_their_source_and_expected_scores():
    recipes = {task: OmegaConf.load(TASK_CONF_DIR / f"{task}.yaml").recipes for task in ("xnli", "ner", "qa", "glue")}
    for task, recipe in SOURCES:
        entry = recipes[task][recipe]
        assert entry.source and all(0 < v < 100 for scores in entry.expected.values() for v in scores.values())
    assert recipes["xnli"].fairseq_1367.expected.xnli["XLM-R Base (paper, Table 1)"] == 76.2
    assert recipes["qa"].xtreme.expected.mlqa["XLM-R Large (XTREME paper)"] == 71.6
    assert {(task, name) for task, entries in recipes.items() for name in entries} == set(SOURCES)  # all tested


def test_an_unknown_recipe_or_recipe_key_is_refused_before_any_work(make_cfg):
    with pytest.raises(ConfigError, match=r"task.recipe='fairseq': expected null or one of fairseq_1367, xtreme "
                                          r"\(task.recipes, conf/task/xnli.yaml\)"):
        check_config(make_cfg("task=xnli", "task.recipe=fairseq", "model.init=hf:x"))
    with pytest.raises(ConfigError, match="task=glue has no recipes"):
        check_config(make_cfg("task=glue", "task.recipe=xtreme", "model.init=hf:x"))
    with pytest.raises(ConfigError) as err:
        check_config(make_cfg("task=xnli", "task.recipe=xtreme", "+task.recipes.xtreme.learning_rate=1",
                              "task.recipes.xtreme.batch_size=0", "task.recipes.xtreme.adam_betas=[0.9]",
                              "model.init=hf:x"))
    message = str(err.value)
    assert "task.recipes.xtreme.learning_rate: not a recipe setting; expected one of source, expected, batch_size" \
           in message
    assert "task.recipes.xtreme.batch_size=0: expected an integer >= 1" in message
    assert "task.recipes.xtreme.adam_betas=" in message


def test_a_task_key_the_recipe_replaces_cannot_be_overridden_beside_it(make_cfg, monkeypatch):
    monkeypatch.setattr(config_checks, "command_line_keys", lambda: {"task.recipe", "task.lr"})
    with pytest.raises(ConfigError, match=r"task.lr=1e-05: task.recipe=xtreme sets lr=2e-05, which would replace it; "
                                          r"give it as task.recipes.xtreme.lr=\.\.\. instead"):
        check_config(make_cfg("task=xnli", "task.recipe=xtreme", "task.lr=1e-5", "model.init=hf:x"))
    monkeypatch.setattr(config_checks, "command_line_keys", lambda: {"task.recipe", "task.eval_batch_size"})
    check_config(make_cfg("task=xnli", "task.recipe=xtreme", "task.eval_batch_size=8", "model.init=hf:x"))


def test_an_epoch_of_n_batches_continues_through_shuffled_passes():
    data = list(range(10))
    sampler = ResumableShuffleSampler(data, seed=3, samples_per_epoch=4)
    epochs = []
    for epoch in range(5):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    assert len(sampler) == 4 and all(len(e) == 4 for e in epochs)
    stream = [i for e in epochs for i in e]
    assert stream == sampler.pass_indices(0) + sampler.pass_indices(1)  # 20 samples: two whole passes
    assert sorted(stream[:10]) == data and sorted(stream[10:]) == data and stream[:10] != stream[10:]
    sampler.resume_from(3, 2)  # resumed after 2 samples of epoch 3: the rest of that epoch, as uninterrupted
    assert list(sampler) == epochs[3][2:]
    plain = ResumableShuffleSampler(data, seed=3)
    plain.set_epoch(1)
    assert list(plain) == plain.pass_indices(1) and len(plain) == 10


def test_the_plot_draws_what_a_recipes_source_reports(tmp_path):
    from xlmr_lit.plot import draw
    from xlmr_lit.results import XNLI_ORDER

    rows = [{"task": "xnli", "setting": "cross_lingual_transfer", "selection": "single", "split": "test",
             "language": lang, "metric": "accuracy", "value": 0.7, "epoch": 1, "recipe": "fairseq_1367",
             "run": "r1"} for lang in XNLI_ORDER]
    assert recipe_expectations(rows, SPECS["table1_xnli"]) == [
        ("expected, task.recipe=fairseq_1367: XLM-R Base (paper, Table 1)", 76.2),
        ("expected, task.recipe=fairseq_1367: XLM-R Large (paper, Table 1)", 80.9),
        ("expected, task.recipe=fairseq_1367: XLM-R Large (paper's first version)", 80.1)]
    assert recipe_expectations([{**r, "recipe": None} for r in rows], SPECS["table1_xnli"]) == []
    assert recipe_expectations([{**rows[0], "task": "qa", "recipe": "xtreme"}], SPECS["table3_mlqa"])[0][1] == 71.6
    assert draw("table1_xnli", rows, tmp_path / "t1")[0].stat().st_size > 10_000


def test_only_the_recipe_that_runs_is_a_setting_and_runs_done_before_recipes_still_match(make_cfg):
    from xlmr_lit.pipeline import differing_settings, run_settings

    cfg = make_cfg("task=xnli", "model.init=hf:x")
    added = ("task.recipe", "task.warmup_steps", "task.batches_per_epoch", "task.adam_")
    before = {"settings": {k: v for k, v in run_settings(cfg).items() if not k.startswith(added)}}
    assert len(before["settings"]) < len(run_settings(cfg))  # the keys this issue added, left null
    assert differing_settings(before, cfg) == []  # a complete run from before is skipped, not refused
    xtreme = make_cfg("task=xnli", "model.init=hf:x", "task.recipe=xtreme")
    assert "task.recipe: '(unset)' -> 'xtreme'" in differing_settings(before, xtreme)
    done = {"settings": run_settings(xtreme)}
    assert not any(".fairseq_1367." in key for key in done["settings"])
    assert differing_settings(done, make_cfg("task=xnli", "model.init=hf:x", "task.recipe=xtreme",
                                             "task.recipes.fairseq_1367.lr=1e-5")) == []
    assert differing_settings(done, make_cfg("task=xnli", "model.init=hf:x", "task.recipe=xtreme",
                                             "task.recipes.xtreme.lr=1e-5")) == [
        "task.recipes.xtreme.lr: 2e-05 -> 1e-05"]
