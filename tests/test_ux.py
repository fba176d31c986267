"""Issue 17: what a new user sees (threads, progress, xlmr-results, sweep names and summary, log noise, --help)."""

import json
import math

from xlmr_lit.results import main as results_main
from xlmr_lit.threads import auto_threads


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
