import csv
import json
import logging
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from conftest import EXPERIMENTS_DIR, sweep_params
from xlmr_lit.cli import train
from xlmr_lit.report import format_results


class LossRecorder(Callback):
    """(optimizer step, loss) of every micro-batch; Lightning hands over loss / accumulate_grad_batches."""

    def __init__(self):
        self.losses: list[tuple[int, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.step = trainer.global_step + 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append((self.step, float(outputs["loss"]) * trainer.accumulate_grad_batches))

    def mean(self, steps) -> float:
        values = [loss for step, loss in self.losses if step in steps]
        return sum(values) / len(values)


class Interrupt(Callback):
    """Dies before step `at` + 1 starts, as a killed job would."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at:
            raise RuntimeError("simulated crash")


def test_pretraining_run_writes_config_metrics_and_checkpoints(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    results = train(make_cfg(run_dir=run_dir))
    for lang in ("en", "fr", "sw"):
        assert results[f"val/loss_{lang}"] > 0 and results[f"val/ppl_{lang}"] > 1
    assert abs(results["val/loss_high"] - (results["val/loss_en"] + results["val/loss_fr"]) / 2) < 1e-6
    assert "${" not in (run_dir / "config_resolved.yaml").read_text()
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} >= {"last.ckpt", "best.ckpt"}
    assert (run_dir / "tokenizer" / "sentencepiece.bpe.model").is_file()
    rows = list(csv.DictReader(open(run_dir / "csv" / "metrics.csv")))
    assert any(row.get("train/loss") for row in rows) and any(row.get("val/loss_sw") for row in rows)
    assert any(row.get("train/mix_sw") for row in rows) and any(row.get("train/tokens_per_s") for row in rows)
    rows = [json.loads(line) for line in open(run_dir / "results.jsonl")]
    for metric, key in (("mlm_loss", "val/loss"), ("mlm_loss_per_char", "val/loss_per_char"),
                        ("order_gap", "val/order_gap"), ("unigram_loss", "val/unigram_loss")):
        assert {r["language"]: r["value"] for r in rows if r["metric"] == metric} == \
            {lang: results[f"{key}_{lang}"] for lang in ("en", "fr", "sw")}
    for lang in ("en", "fr", "sw"):  # UDHR text: a piece of 1000 covers 2 to 5 characters
        assert 0.2 < results[f"val/loss_per_char_{lang}"] / results[f"val/loss_{lang}"] < 0.5
    # the tokenizer saw all three; character_coverage leaves only the rarest characters (accents) to <unk>
    assert all(0 <= results[f"val/unk_share_{lang}"] < 0.01 for lang in ("en", "fr", "sw"))
    table = format_results(results, ["en", "fr", "sw"], {"high": ["en", "fr"]}, "best.ckpt").splitlines()
    assert table[1].split()[-6:] == ["loss/char", "<unk>", "%", "order", "gap", "unigram"]
    assert table[2].split()[-3] == "0.0"  # en's <unk> share
    # six steps: the plateau, where a model predicts a piece by its frequency and which pieces co-occur
    assert all(abs(results[f"val/order_gap_{lang}"]) < 0.1 for lang in ("en", "fr", "sw"))
    assert all(5 < results[f"val/unigram_loss_{lang}"] < 7 for lang in ("en", "fr", "sw"))
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 6
    assert all(key.startswith("model.") for key in ckpt["state_dict"])  # no duplicate copies of the weights


def test_run_shorter_than_one_validation_interval_still_writes_best_ckpt(make_cfg, tmp_path, caplog):
    run_dir = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="xlmr_lit"):
        results = train(make_cfg("trainer.max_steps=2", "train.val_every_n_steps=5", run_dir=run_dir))
    best = run_dir / "checkpoints" / "best.ckpt"
    assert best.is_file() and results["checkpoint"] == str(best.resolve())
    assert torch.load(best, map_location="cpu", weights_only=True)["global_step"] == 2
    closing = next(r.getMessage() for r in reversed(caplog.records) if "run directory:" in r.getMessage())
    assert "order gap below 0.1 nat" in caplog.records[-1].getMessage()  # two steps: the plateau, said last
    for name in ("last.ckpt", "best.ckpt"):
        assert (name in closing.split("checkpoints")[-1]) == (run_dir / "checkpoints" / name).is_file()


def test_closing_table_reuses_the_last_validation_when_it_scored_the_best_checkpoint(make_cfg, tmp_path, monkeypatch):
    import xlmr_lit.pretrain as pretrain_module

    reused = []
    reuse = pretrain_module.last_validation_if_best
    monkeypatch.setattr(pretrain_module, "last_validation_if_best", lambda *a: reused.append(reuse(*a)) or reused[-1])
    results = train(make_cfg(run_dir=tmp_path / "reused"))  # validates at steps 3 and 6; the loss still falls at 6
    assert reused and reused[-1] is not None
    monkeypatch.setattr(pretrain_module, "last_validation_if_best", lambda *a: None)  # validate best.ckpt again
    validated = train(make_cfg(run_dir=tmp_path / "validated"))
    assert {k: v for k, v in results.items() if k != "checkpoint"} == \
        {k: v for k, v in validated.items() if k != "checkpoint"}
    best = torch.load(tmp_path / "reused" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert best["global_step"] == 6


def test_package_has_no_import_cycle():
    import runpy

    graph_tool = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "import_graph.py"))
    graph = graph_tool["import_graph"](Path(__file__).parents[1] / "xlmr_lit")
    assert graph_tool["cycles"](graph) == []
    assert "xlmr_lit.cli" not in graph["xlmr_lit.pretrain"] | graph["xlmr_lit.finetune"]
    assert "xlmr_lit.finetune" not in graph["xlmr_lit.pretrain"] and "xlmr_lit.pretrain" not in graph["xlmr_lit.finetune"]
    assert "xlmr_lit.runs" in graph["xlmr_lit.pretrain"] & graph["xlmr_lit.finetune"]


def test_loss_decreases_on_real_text(make_cfg, tmp_path):
    recorder = LossRecorder()
    train(make_cfg("trainer.max_steps=30", "optim.lr=2e-3", run_dir=tmp_path / "run"), callbacks=[recorder])
    assert recorder.mean(range(26, 31)) < recorder.mean([1]) - 0.4


def test_resume_reproduces_the_uninterrupted_run_exactly(make_cfg, tmp_path):
    # 3 optimizer steps per epoch, so the crash at step 4 lands inside the second epoch
    common = ["trainer.max_steps=8", "data.samples_per_epoch=24", "train.checkpoint_every_n_steps=1"]
    full = LossRecorder()
    train(make_cfg(*common, run_dir=tmp_path / "full"), callbacks=[full])

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(make_cfg(*common, run_dir=tmp_path / "interrupted"), callbacks=[Interrupt(at=4)])
    assert (tmp_path / "interrupted" / "checkpoints" / "on_exception.ckpt").is_file()

    resumed = LossRecorder()
    train(make_cfg(*common, run_dir=tmp_path / "interrupted"), callbacks=[resumed])  # ckpt_path=auto
    assert sorted({step for step, _ in resumed.losses}) == [5, 6, 7, 8]
    assert resumed.losses == full.losses[-len(resumed.losses) :]  # bit-identical: same batches, masks, dropout


def test_init_from_exported_hf_directory(make_cfg, tmp_path):
    pytest.importorskip("transformers")
    from xlmr_lit.export import export

    first = tmp_path / "first"
    train(make_cfg(run_dir=first))
    export(first / "checkpoints" / "last.ckpt", tmp_path / "hf")
    second = tmp_path / "second"
    recorder = LossRecorder()
    train(make_cfg("trainer.max_steps=1", f"model.init=hf:{tmp_path / 'hf'}", run_dir=second), callbacks=[recorder])
    assert (second / "tokenizer" / "sentencepiece.bpe.model").read_bytes() == (tmp_path / "hf" / "sentencepiece.bpe.model").read_bytes()
    fresh = LossRecorder()
    train(make_cfg("trainer.max_steps=1", run_dir=tmp_path / "fresh"), callbacks=[fresh])
    assert recorder.mean([1]) < fresh.mean([1])  # starts from the trained weights


def test_bad_batch_arithmetic_is_explained(make_cfg):
    with pytest.raises(ValueError, match=r"train.global_batch_size=10: expected a multiple of data.micro_batch_size=4"):
        train(make_cfg("train.global_batch_size=10"))


def test_wandb_offline_run_is_written(make_cfg, tmp_path):
    pytest.importorskip("wandb")
    run_dir = tmp_path / "run"
    train(make_cfg("logger.wandb.mode=offline", "trainer.max_steps=2", "logger.wandb.group=g", run_dir=run_dir))
    offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1 and list(offline_runs[0].glob("*.wandb"))


def run_cli(args: list[str], env: dict, cwd: Path, timeout: int = 300, keep: tuple = ()) -> subprocess.CompletedProcess:
    """xlmr-train with `args` and the TINY settings, except those `args` or `keep` name."""
    from conftest import TINY

    given = {a.split("=")[0] for a in args} | set(keep)
    overrides = [o for o in TINY if o.split("=")[0] not in given | {"data.languages", "logger.wandb.mode"}]
    return subprocess.run(
        [sys.executable, "-m", "xlmr_lit.cli", *args, *overrides],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.slow  # a CLI sweep also runs in the default suite: test_an_experiment_runs_its_first_points
def test_cli_multirun_over_alpha(cli_env, tmp_path):
    proc = run_cli(["-m", "data.alpha=0.3,1.0", "trainer.max_steps=2"], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted(tmp_path.glob("multirun/*/*/*/config_resolved.yaml"))
    assert len(runs) == 2
    assert {"alpha: 0.3" in r.read_text() for r in runs} == {True, False}


def test_cli_rejects_unknown_size_name(cli_env, tmp_path):
    proc = run_cli(["model=gigantic"], cli_env, tmp_path)
    assert proc.returncode != 0
    assert "Could not find 'model/gigantic'" in proc.stderr and "tiny" in proc.stderr


# the paper's figures and tables (pretraining, then fine-tuning); extend_languages continues a model's pretraining
# instead and has a test of its own (tests/test_extend.py)
EXPERIMENTS = sorted(str(p.relative_to(EXPERIMENTS_DIR).with_suffix("")) for p in EXPERIMENTS_DIR.rglob("*.yaml")
                     if p.stem != "extend_languages")


def first_points(experiment: str) -> list[str]:
    """Overrides that narrow an experiment's grid to its first points: a figure's first point; a table's first two
    values of the first swept key (two fine-tuning setups that share one pretraining), the first of every other."""
    grid = list(sweep_params(experiment).items())
    first = 2 if experiment.startswith("tables/") else 1
    return [f"{key}={','.join(values[:first] if i == 0 else values[:1])}" for i, (key, values) in enumerate(grid)]


def run_experiment(experiment: str, narrow: list[str], cli_env: dict, tmp_path: Path) -> list[Path]:
    """Points of `experiment` (narrowed by `narrow`), offline, with the tiny scale's tokenizers (its vocabulary must
    fit each language set's text): pretrain (2 steps), fine-tune (1 epoch), result rows."""
    from xlmr_lit.results import read_rows

    tasks = {"tables/table2_ner": "ner", "tables/table3_mlqa": "qa", "tables/table4_glue": "glue"}
    task = tasks.get(experiment, "xnli")
    proc = run_cli(["-m", f"experiment={experiment}", "trainer.max_steps=2", "downstream.epochs=1",
                    "downstream.standin_recipe.epochs=1",  # the stand-ins' recipe replaces task.epochs
                    "downstream.max_train_examples=300", *narrow],
                   cli_env, tmp_path, timeout=900, keep=("model.vocab_size", "tokenizer.sample_lines"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    points = sorted(tmp_path.glob("multirun/*/tiny/*/"))
    assert points and all((p / "DONE").is_file() and (p / "finetune" / "results.jsonl").is_file() for p in points)
    rows = read_rows([tmp_path / "multirun"])
    split = "dev" if experiment == "tables/table4_glue" else "test"  # GLUE's test labels are hidden
    rows = [row for row in rows if row["split"] == split]
    assert {row["task"] for row in rows} == {task}
    pretrained = {row["init"] for row in rows}
    assert all(Path(ckpt).is_file() for ckpt in pretrained)
    if experiment.startswith("tables/"):
        # one pretrained model, fine-tuned in each of the table's setups; Table 5 adds one per monolingual model
        monolingual = {row["train_language"] for row in rows if row["setting"] == "translate_train"}
        multilingual = any(row["setting"] != "translate_train" for row in rows)
        assert len(pretrained) == len(monolingual) + multilingual
    return points


# One figure runs in the default suite, a table's first points under `-m slow` with every experiment's whole grid (in
# CI); every experiment composes at every scale in test_plot.py.
@pytest.mark.parametrize("experiment", ["fig7_batch_tokenizer", pytest.param("tables/table2_ner", marks=pytest.mark.slow)])
def test_an_experiment_runs_its_first_points(experiment, cli_env, tmp_path):
    points = run_experiment(experiment, first_points(experiment), cli_env, tmp_path)
    assert len(points) == (2 if experiment.startswith("tables/") else 1)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_runs_its_whole_grid(experiment, cli_env, tmp_path):
    """Every point, so that no grid value (a vocabulary size, a language set) fails at scale tiny; in CI only."""
    expected = math.prod(len(values) for values in sweep_params(experiment).values())
    assert len(run_experiment(experiment, [], cli_env, tmp_path)) == expected


DDP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from hydra import compose, initialize_config_dir
    from pytorch_lightning.callbacks import Callback
    from xlmr_lit.cli import CONF_DIR, train

    class Record(Callback):
        def __init__(self):
            self.rows = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.rows.append([trainer.global_step, trainer.current_epoch, batch["position"].tolist()])

        def on_train_end(self, trainer, pl_module):
            out = f"{sys.argv[1]}/rank{trainer.global_rank}.json"
            json.dump({"rows": self.rows, "world": trainer.world_size, "accumulate": trainer.accumulate_grad_batches}, open(out, "w"))

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=sys.argv[2:])
    train(cfg, callbacks=[Record()])
    """
)


def test_ddp_ranks_and_workers_read_different_blocks(cache_dir, tmp_path):
    from conftest import TINY

    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT)
    overrides = [
        *TINY, f"paths.cache_dir={cache_dir}", f"paths.run_dir={tmp_path / 'run'}",
        "trainer=ddp", "trainer.accelerator=cpu", "trainer.precision=32-true", "trainer.devices=2",
        "trainer.enable_progress_bar=false", "trainer.max_steps=6", "data.num_workers=2",
        "data.micro_batch_size=2", "train.global_batch_size=8", "data.samples_per_epoch=24",
    ]
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path), *overrides],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.load(open(tmp_path / f"rank{r}.json")) for r in range(2)]
    assert ranks[0]["world"] == 2 and ranks[0]["accumulate"] == 2  # 8 = 2 ranks x 2 sequences x 2 passes
    per_step: dict[int, int] = {}
    per_epoch: dict[int, list[int]] = {}
    for rank in ranks:
        for step, epoch, positions in rank["rows"]:
            per_step[step] = per_step.get(step, 0) + len(positions)
            per_epoch.setdefault(epoch, []).extend(positions)
    assert set(per_step.values()) == {8}  # the effective batch is train.global_batch_size
    for epoch, positions in per_epoch.items():
        assert sorted(positions) == list(range(24)), epoch  # each block once per epoch across ranks and workers


@pytest.mark.parametrize("devices, expected", [(2, 2), ([0, 1, 3], 3), ("4", 4), ("auto", 1)])
def test_device_count_for_gradient_accumulation(devices, expected):
    from omegaconf import OmegaConf

    from xlmr_lit.pretrain import gradient_accumulation, num_devices

    n = num_devices(OmegaConf.create({"devices": devices, "accelerator": "cpu"}))
    assert n == expected
    assert gradient_accumulation(96, 4, n) == 96 // (4 * expected)


@pytest.mark.slow
def test_pipeline_pretrains_then_finetunes_downstream(make_cfg, tmp_path):
    run_dir = tmp_path / "point"
    results = train(make_cfg(
        "+task@downstream=xnli", "downstream.udhr_standin=true", "downstream.epochs=1", "downstream.languages=[en,sw]",
        "downstream.max_train_examples=300", "trainer.max_steps=3", run_dir=run_dir,
    ))
    rows = results["downstream"]
    assert {(r["split"], r["language"]) for r in rows} == {(s, l) for s in ("dev", "test") for l in ("en", "sw")}
    assert all(r["init"] == results["checkpoint"] for r in rows)
    assert (run_dir / "finetune" / "results.jsonl").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow  # 130 s since the stand-ins grew (issue 18); CI runs it with -m slow
def test_points_with_the_same_pretraining_share_it(make_cfg, tmp_path):
    """Table 2's points differ only in fine-tuning: the first pretrains, the others fine-tune its checkpoint."""
    from xlmr_lit.results import read_rows

    point = ["+task@downstream=xnli", "downstream.udhr_standin=true", "downstream.epochs=1",
             "downstream.languages=[en,sw]", "downstream.max_train_examples=300", "trainer.max_steps=3",
             "data.alpha=0.5"]
    first = train(make_cfg(*point, run_dir=tmp_path / "first"))
    second = train(make_cfg(*point, "downstream.setting=translate_train_all", "+downstream.seed=7", run_dir=tmp_path / "second"))
    assert not (tmp_path / "second" / "checkpoints").exists()  # nothing pretrained again
    assert second["checkpoint"] == first["checkpoint"] and second["val/loss"] == first["val/loss"]
    assert all(r["init"] == first["checkpoint"] and r["seed"] == 7 for r in second["downstream"])
    rows = read_rows([tmp_path / "second"])
    assert {r["language"] for r in rows if r["task"] == "pretrain"} == {"en", "fr", "sw"}  # the pretraining panel's rows

    other = train(make_cfg(*point, "data.alpha=0.7", run_dir=tmp_path / "other"))
    assert (tmp_path / "other" / "checkpoints" / "last.ckpt").is_file() and other["checkpoint"] != first["checkpoint"]
    independent = train(make_cfg(*point, "train.reuse_pretraining=false", run_dir=tmp_path / "independent"))
    assert (tmp_path / "independent" / "checkpoints").is_dir()

    for ckpt in (tmp_path / "first" / "checkpoints").glob("*.ckpt"):
        ckpt.unlink()
    (tmp_path / "independent" / "checkpoints" / "best.ckpt").unlink()  # the newest record now points at nothing
    again = train(make_cfg(*point, run_dir=tmp_path / "again"))
    assert (tmp_path / "again" / "checkpoints" / "last.ckpt").is_file() and again["checkpoint"].startswith(str(tmp_path / "again"))
    assert independent["checkpoint"] != again["checkpoint"]


@pytest.mark.slow  # a CLI sweep also runs in the default suite: test_an_experiment_runs_its_first_points
def test_each_sweep_point_is_its_own_wandb_run(cli_env, tmp_path):
    proc = run_cli(["-m", "data.alpha=0.3,1.0", "trainer.max_steps=2", "logger.wandb.mode=offline",
                    f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.sweep.subdir=alpha${data.alpha}"],
                   dict(cli_env, WANDB_MODE="offline"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for point in ("alpha0.3", "alpha1.0"):
        runs = list((tmp_path / "sweep" / point / "wandb").glob("offline-run-*"))
        assert len(runs) == 1 and list(runs[0].glob("*.wandb")), point


@pytest.mark.slow
def test_sweep_skips_complete_points_and_survives_a_failing_one(cli_env, tmp_path):
    sweep = ["-m", "model.num_attention_heads=2,3", f"hydra.sweep.dir={tmp_path / 'sweep'}",
             "hydra.sweep.subdir=heads${model.num_attention_heads}", "trainer.max_steps=2"]
    first = run_cli(sweep, cli_env, tmp_path)
    assert first.returncode == 1 and "1 sweep point(s) failed" in first.stderr, first.stderr[-3000:]
    assert (tmp_path / "sweep" / "heads2" / "DONE").is_file()
    failed = tmp_path / "sweep" / "heads3" / "FAILED"
    assert "model.hidden_size=32: expected a multiple of model.num_attention_heads=3" in failed.read_text()
    assert "1 point(s) complete, 1 failed" in first.stdout and "heads3" in first.stdout
    second = run_cli(sweep, cli_env, tmp_path)
    assert "is complete (DONE exists): skipping" in (second.stdout + second.stderr)
    assert failed.is_file()  # retried, and still failing



def test_pretraining_on_one_language(make_cfg, tmp_path):
    """Table 5's monolingual models: validation reports the one language's loss (torchmetrics returns it as a scalar)."""
    results = train(make_cfg("data.languages=[sw]", "model.vocab_size=300", "trainer.max_steps=3"))
    assert {k for k in results if k.startswith("val/loss_")} == \
        {"val/loss_sw", "val/loss_low", "val/loss_per_char_sw", "val/loss_per_char_low"}  # low: sw, ur
    assert results["val/loss_low"] == results["val/loss_sw"] > 0
