"""Issue 17: what a new user sees (threads, progress, xlmr-results, sweep names and summary, log noise, --help)."""

import json
import math

from xlmr_lit.results import main as results_main
from xlmr_lit.threads import auto_threads


def test_busy_cores_sees_a_busy_process_at_once():
    import subprocess
    import sys

    from xlmr_lit.threads import busy_cores

    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.3)
        assert busy_cores() >= 0.7  # a whole core, seen within the window (the load average would lag a minute)
    finally:
        loop.kill()
        loop.wait()


def test_auto_threads_leave_busy_cores_alone_and_use_idle_ones():
    assert auto_threads(cores=2, busy=2.3) == 1
    assert auto_threads(cores=2, busy=0.1) == 2
    assert auto_threads(cores=64, busy=0.0) == 64
    assert auto_threads(cores=64, busy=10.4) == 54


def write_point(run_dir, overrides, losses):
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    rows = [{"task": "pretrain", "setting": "mlm", "selection": "single", "split": "valid", "language": lang,
             "metric": "mlm_loss", "value": loss, "epoch": None} for lang, loss in losses.items()]
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_results_of_a_pretraining_sweep_show_losses_as_they_are_named_by_overrides(tmp_path, capsys):
    write_point(tmp_path / "sweep" / "data.alpha=0.3", ["data.alpha=0.3", "trainer.max_steps=5"], {"en": 6.98, "sw": 7.02})
    write_point(tmp_path / "sweep" / "data.alpha=1.0", ["data.alpha=1.0", "trainer.max_steps=5"], {"en": 6.5, "sw": 7.5})
    results_main([str(tmp_path / "sweep")])
    out = capsys.readouterr().out
    assert "4 rows from 2 results.jsonl files" in out
    lines = {line.split()[3] + " " + line.split()[-1]: line.split() for line in out.splitlines() if line.startswith("pretrain")}
    assert lines["mlm_loss data.alpha=0.3"][4:7] == ["6.980", "7.020", "7.000"]
    assert lines["mlm_ppl data.alpha=1.0"][6] == f"{math.exp(7.0):.1f}"
    assert "max_steps" not in out  # the same in every point: not part of its name


def test_sweep_summary_gives_the_loss_per_character_and_order_gap_beside_the_loss(tmp_path):
    from xlmr_lit.sweep_summary import point_row

    point = tmp_path / "data.alpha=0.3"
    write_point(point, ["data.alpha=0.3"], {"en": 6.0, "fr": 5.0, "sw": 7.0})
    per_char = [{"task": "pretrain", "setting": "mlm", "selection": "single", "split": "valid", "language": lang,
                 "metric": metric, "value": value, "epoch": None}
                for metric, values in (("mlm_loss_per_char", {"en": 1.5, "sw": 2.5}), ("order_gap", {"en": 1.2, "sw": 0.4}))
                for lang, value in values.items()]
    with open(point / "results.jsonl", "a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in per_char))
    row = point_row(point)
    assert row["val_loss_high"] == 5.5 and row["val_ppl_high"] == round(math.exp(5.5), 2) and row["val_loss_all"] == 6.0
    assert row["val_loss_per_char_high"] == 1.5 and row["val_loss_per_char_low"] == 2.5 and row["val_loss_per_char_all"] == 2.0
    assert not any(key.startswith("val_ppl_per_char") for key in row)
    assert row["val_order_gap_high"] == 1.2 and row["val_order_gap_low"] == 0.4 and row["val_order_gap_all"] == 0.8


# ----------------------------------------------------------------------------------------------
# config groups: logger, callbacks, debug (item 9), and the noise they no longer print (item 6)

import logging
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from pytorch_lightning.callbacks import Callback

from conftest import TINY
from xlmr_lit.cli import CONF_DIR, train
from xlmr_lit.config_checks import ConfigError, check_config, check_override_keys
from xlmr_lit.tasks.readers import report_count


class BatchRecorder(Callback):
    def __init__(self):
        self.losses, self.batches, self.last_step = [], set(), None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))
        self.batches.add(batch["input_ids"].numpy().tobytes())

    def on_train_end(self, trainer, pl_module):
        self.last_step = trainer.global_step


def test_default_config_logs_to_csv_and_offline_wandb():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        default, csv_only, none = (compose("train", overrides=o) for o in ([], ["logger=csv"], ["logger=none"]))
    assert (default.logger.csv, default.logger.wandb.mode, default.logger.wandb.project) == (True, "offline", "xlmr-lit")
    assert (csv_only.logger.csv, csv_only.logger.wandb.mode) == (True, "disabled")
    assert (none.logger.csv, none.logger.wandb.mode) == (False, "disabled")
    assert default.callbacks.early_stopping.patience == 0 and "fast_dev_run" not in default.trainer


def test_logger_none_writes_no_csv_and_logger_csv_does(make_cfg, tmp_path):
    train(make_cfg("logger=none", run_dir=tmp_path / "none"))
    train(make_cfg("logger=csv", run_dir=tmp_path / "csv"))
    assert not (tmp_path / "none" / "csv").exists() and (tmp_path / "none" / "results.jsonl").is_file()
    assert (tmp_path / "csv" / "csv" / "metrics.csv").is_file()
    assert not (tmp_path / "csv" / "wandb").exists() and not (tmp_path / "none" / "wandb").exists()


def test_early_stopping_stops_when_validation_stops_improving(make_cfg, tmp_path):
    recorder = BatchRecorder()
    # min_delta=100: only the first validation (step 3) counts as an improvement, so patience 1 stops at step 6
    train(make_cfg("callbacks=early_stopping", "callbacks.early_stopping.patience=1",
                   "callbacks.early_stopping.min_delta=100", "trainer.max_steps=30", run_dir=tmp_path / "run"),
          callbacks=[recorder])
    assert recorder.last_step == 6
    recorder = BatchRecorder()
    train(make_cfg("trainer.max_steps=9", run_dir=tmp_path / "default"), callbacks=[recorder])
    assert recorder.last_step == 9  # callbacks=default never stops early


def test_debug_overfit_trains_on_one_batch_until_its_loss_falls(make_cfg, tmp_path):
    recorder = BatchRecorder()
    # TINY's trainer.max_steps wins over debug/overfit.yaml's 100, so set it as a user would
    train(make_cfg("debug=overfit", "trainer.max_steps=100", "train.val_every_n_steps=50", run_dir=tmp_path / "run"),
          callbacks=[recorder])
    assert len(recorder.losses) == 200 and len(recorder.batches) == 2  # one batch of 8 = 2 micro-batches of 4, repeated
    assert sum(recorder.losses[-10:]) < 0.5 * sum(recorder.losses[:10])


def test_the_groups_apply_to_fine_tuning(make_cfg, tmp_path):
    train(make_cfg(run_dir=tmp_path / "pre"))
    task = ["task=xnli", "task.udhr_standin=true", "task.languages=[en,fr]", "task.max_train_examples=400",
            f"model.init={tmp_path / 'pre/checkpoints/best.ckpt'}"]
    stopped, overfit, smoke = BatchRecorder(), BatchRecorder(), BatchRecorder()
    train(make_cfg(*task, "callbacks=early_stopping", "callbacks.early_stopping.patience=1",
                   "callbacks.early_stopping.min_delta=1", "task.standin_recipe.epochs=4", run_dir=tmp_path / "es"),
          callbacks=[stopped])
    steps_per_epoch = len(stopped.losses) // 2
    assert stopped.last_step == 2 * steps_per_epoch  # an accuracy gain of 1 (100 points) never comes: epoch 2 stops it
    train(make_cfg(*task, "debug=overfit", "task.standin_recipe.epochs=2", run_dir=tmp_path / "overfit"),
          callbacks=[overfit])
    assert len(overfit.losses) == 2 * steps_per_epoch and len(overfit.batches) == 1
    rows = train(make_cfg(*task, "debug=fast_dev_run", run_dir=tmp_path / "smoke"), callbacks=[smoke])
    assert smoke.last_step == 2 and {r["split"] for r in rows} == {"dev", "test"}


def test_debug_fast_dev_run_through_the_cli_without_library_noise(cli_env, tmp_path):
    overrides = [o for o in TINY if not o.startswith(("trainer.max_steps", "logger."))]
    proc = subprocess.run([sys.executable, "-m", "xlmr_lit.cli", "debug=fast_dev_run", *overrides, "hydra.run.dir=run"],
                          env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "run"
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "DONE").is_file()
    assert not (run_dir / "csv").exists() and not (run_dir / "wandb").exists()
    assert "fast_dev_run" in proc.stdout + proc.stderr
    for noise in ("litlogger", "LeafSpec", "no last checkpoint", "was called without a model", "anonymous setting",
                  "`weights_only` was not set"):  # Lightning's note on saving, easily misread as an unsafe torch.load
        assert noise not in proc.stdout + proc.stderr, noise


def test_new_groups_pass_the_config_checks_and_their_keys_are_known(make_cfg):
    for overrides in (["debug=fast_dev_run"], ["debug=overfit"], ["callbacks=early_stopping"], ["logger=none"]):
        check_config(make_cfg(*overrides))
        check_override_keys([*overrides, "callbacks.early_stopping.patience=2", "logger.csv=false"], CONF_DIR)
    with pytest.raises(ConfigError, match=r"callbacks.early_stopping.patience=-1: expected an integer >= 0"):
        check_config(make_cfg("callbacks.early_stopping.patience=-1"))
    with pytest.raises(ConfigError, match=r"train.overfit_batches='x': expected an integer >= 0"):
        check_config(make_cfg("train.overfit_batches=x"))
    with pytest.raises(ConfigError, match="did you mean callbacks.early_stopping.patience"):
        check_override_keys(["callbacks.early_stoping.patience=2"], CONF_DIR)
    with pytest.raises(ConfigError, match=r"trainer.overfit_batches=1: expected train.overfit_batches instead"):
        check_config(make_cfg("+trainer.overfit_batches=1"))
    with pytest.raises(ConfigError, match=r"trainer.fast_dev_run=-1: expected true, false or a number of batches"):
        check_config(make_cfg("debug=fast_dev_run", "trainer.fast_dev_run=-1"))


def test_standin_files_are_not_warned_about_as_truncated(tmp_path, caplog):
    counts = {"xnli.test.tsv": 75150}
    with caplog.at_level(logging.INFO):
        report_count(tmp_path / "udhr_standins" / "xnli-abc" / "xnli.test.tsv", 69, "XNLI examples", counts)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        report_count(tmp_path / "data" / "xnli.test.tsv", 69, "XNLI examples", counts)
    assert "it may be truncated" in caplog.records[-1].getMessage()


# ----------------------------------------------------------------------------------------------
# --cfg job and --help (item 7)


def xlmr_train(*args: str, env: dict, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xlmr_lit.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_cfg_job_is_about_the_run_not_the_language_sets(cli_env, tmp_path):
    proc = xlmr_train("--cfg", "job", env=cli_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "language_sets" not in proc.stdout and "lang100" not in proc.stdout
    assert len(proc.stdout.splitlines()) < 200
    assert "  languages: xnli7" in proc.stdout


def test_language_set_names_resolve_where_they_are_read(make_cfg):
    from xlmr_lit.corpus import resolve_languages

    cfg = make_cfg("data.languages=xnli15", "task=xnli", "task.languages=lang30", "model.init=x.ckpt")
    assert "language_sets" not in cfg
    assert resolve_languages(cfg.data.languages)[-2:] == ["sw", "ur"] and len(resolve_languages(cfg.task.languages)) == 30
    with pytest.raises(ConfigError, match=r"task.languages='xnli16' is not a language set.*did you mean xnli15"):
        check_config(make_cfg("task=xnli", "task.languages=xnli16", "task.udhr_standin=true"))


def test_help_describes_the_app_its_groups_and_examples(cli_env, tmp_path):
    proc = xlmr_train("--help", env=cli_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("xlmr-train: pretrain an XLM-R-style multilingual masked language model")
    for group in ("logger: csv, none, wandb", "callbacks: default, early_stopping", "debug: fast_dev_run, overfit",
                  "model: ablation_base, base, large, tiny", "task: glue, ner, pretrain, qa, xnli"):
        assert group in out
    examples = out.split("== Examples ==")[1]
    assert len([line for line in examples.splitlines() if line.startswith("xlmr-train ")]) >= 5
    assert len(out.splitlines()) < 60  # the config itself is --cfg job's


HEAVY_MODULES = ("torch", "pytorch_lightning", "lightning", "transformers", "datasets", "xlmr_lit.finetune",
                 "xlmr_lit.pipeline")


@pytest.mark.parametrize("args", [["--help"], ["task=xnli", "task.recipee=xtreme"]])
def test_help_and_a_mistyped_key_import_no_torch(cli_env, tmp_path, args):
    """Issue 30 item 4: `xlmr-train --help` (and a mistyped key) answer without importing torch or Lightning, which
    took ~5 CPU-seconds before it printed. The entry point runs as `python -m xlmr_lit.cli`; the modules it
    loaded are printed when it exits, whether by sys.exit or by returning."""
    probe = ("import atexit, runpy, sys\n"
             f"atexit.register(lambda: print('LOADED', *sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))\n"
             f"sys.argv = ['xlmr-train', *{args!r}]\n"
             "runpy.run_module('xlmr_lit.cli', run_name='__main__')\n")
    env = {k: v for k, v in cli_env.items() if k != "HYDRA_FULL_ERROR"}  # a user error: its message, exit 2
    proc = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == (0 if args == ["--help"] else 2), proc.stderr
    assert ("== Config groups" in proc.stdout) if args == ["--help"] else ("did you mean task.recipe?" in proc.stderr)
    loaded = [line for line in proc.stdout.splitlines() if line.startswith("LOADED")]
    assert loaded == ["LOADED"], loaded


# ----------------------------------------------------------------------------------------------
# what a run leaves (item 8)


@pytest.mark.slow
def test_train_log_ends_with_the_results_and_where_the_outputs_are(cli_env, tmp_path):
    overrides = [o for o in TINY if not o.startswith("data.languages")]
    proc = xlmr_train("data.languages=[en,fr,sw]", *overrides, "hydra.run.dir=pre", env=cli_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log_text = (tmp_path / "pre" / "train.log").read_text()
    closing = log_text[log_text.index("validation, "):]
    assert [line.split()[0] for line in closing.splitlines()[2:5]] == ["en", "fr", "sw"]
    for output in ("config_resolved.yaml", "train.log", "best.ckpt, last.ckpt", "csv/metrics.csv", "results.jsonl"):
        assert output in closing, output
    assert proc.stdout.count("validation, ") == 1  # on the console once, through the log
    assert "`weights_only` was not set" not in proc.stdout + proc.stderr  # every checkpoint saved says what it holds

    ckpt = tmp_path / "pre" / "checkpoints" / "best.ckpt"
    proc = xlmr_train("task=xnli", f"model.init={ckpt}", "task.udhr_standin=true", "task.standin_recipe.epochs=1", "task.languages=[en,fr]",
                      "task.max_train_examples=400", *overrides, "hydra.run.dir=ft", env=cli_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log_text = (tmp_path / "ft" / "train.log").read_text()
    closing = log_text[log_text.index("xnli (cross_lingual_transfer), test scores:"):]
    assert "single" in closing and "per_language" in closing
    assert f"checkpoints      {tmp_path / 'ft' / 'checkpoints'} (best.ckpt, last.ckpt)" in closing
    assert proc.stdout.count("test scores:") == 1


# ----------------------------------------------------------------------------------------------
# evaluation without training (item 9)


def test_task_train_false_scores_a_fine_tuned_checkpoint_as_its_fine_tuning_did(make_cfg, tmp_path):
    train(make_cfg(run_dir=tmp_path / "pre"))
    task = ["task=xnli", "task.udhr_standin=true", "task.languages=[en,fr]", "task.standin_recipe.epochs=1",
            "task.max_train_examples=400"]
    pretrained, fine_tuned = tmp_path / "pre" / "checkpoints" / "best.ckpt", tmp_path / "ft" / "checkpoints" / "best.ckpt"
    rows = train(make_cfg(*task, f"model.init={pretrained}", run_dir=tmp_path / "ft"))
    evaluated = train(make_cfg(*task, "task.train=false", f"model.init={fine_tuned}", run_dir=tmp_path / "eval"))

    def single(rows):
        return {(r["split"], r["language"], r["metric"]): r["value"] for r in rows if r["selection"] == "single"}

    assert set(single(evaluated)) == {(s, lang, "accuracy") for s in ("dev", "test") for lang in ("en", "fr")}
    assert single(evaluated) == pytest.approx(single(rows))  # one epoch: best.ckpt holds the weights that were scored
    assert all(r["trained"] is False and r["lr"] is None and r["init"] == str(fine_tuned) for r in evaluated)
    assert [json.loads(line) for line in open(tmp_path / "eval" / "results.jsonl")] == evaluated
    assert not (tmp_path / "eval" / "checkpoints").exists()
    with pytest.raises(ValueError, match=r"task.train=false scores model.init as it is.*has no task head"):
        train(make_cfg(*task, "task.train=false", f"model.init={pretrained}", run_dir=tmp_path / "eval2"))
