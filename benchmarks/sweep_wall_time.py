"""Wall time of the paper's sweeps at `scale=tiny` (target: a figure in at most 15 minutes on 2 CPU cores),
each from an empty cache in a fresh directory, with the points' outcome and the figure drawn at the end.

    python benchmarks/sweep_wall_time.py                            # fig5_alpha and the three tables
    python benchmarks/sweep_wall_time.py fig2_languages fig6_vocab  # others
    python benchmarks/sweep_wall_time.py tables/table2_ner --compare-no-reuse   # shared pretraining vs none
    python benchmarks/sweep_wall_time.py fig6_vocab --launcher parallel         # two points at once (README)

`--compare-no-reuse` runs each sweep a second time with `train.reuse_pretraining=false` (every point
pretrains its own model) and reports the ratio. `--keep DIR` keeps the runs and figures in DIR.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_model

TARGET_S = 15 * 60
DEFAULT = ["fig5_alpha", "tables/table1_xnli", "tables/table2_ner", "tables/table3_mlqa"]


def run_sweep(experiment: str, work: Path, extra: list[str]) -> tuple[float, int, int]:
    """(seconds, points done, points failed) of `xlmr-train experiment=<experiment>` from an empty cache."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ, XLMR_LIT_CACHE=str(work / "cache"), WANDB_MODE="offline")
    xlmr_train = Path(sys.executable).with_name("xlmr-train")
    start = time.perf_counter()
    with open(work / "sweep.log", "w") as log:
        subprocess.run([str(xlmr_train), f"experiment={experiment}", "trainer.enable_progress_bar=false", *extra],
                       cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    sweep_dir = work / "multirun" / Path(experiment).name / "tiny"
    return seconds, len(list(sweep_dir.glob("*/DONE"))), len(list(sweep_dir.glob("*/FAILED")))


def draw(experiment: str, work: Path) -> Path | str:
    name = Path(experiment).name
    xlmr_plot = Path(sys.executable).with_name("xlmr-plot")
    out = work / f"{name}_tiny"
    proc = subprocess.run([str(xlmr_plot), name, "--runs", str(work / "multirun" / name / "tiny"), "--out", str(out)],
                          capture_output=True, text=True)
    return out.with_suffix(".png") if proc.returncode == 0 else f"none ({(proc.stderr.strip().splitlines() or ['no error output'])[-1]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="*", default=DEFAULT)
    parser.add_argument("--compare-no-reuse", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--launcher", default=None, help="hydra/launcher=<this> for every sweep, e.g. parallel")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="sweep_wall_time_"))
    launcher = [f"hydra/launcher={args.launcher}"] if args.launcher else []
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; scale=tiny, each sweep from an empty cache"
          + (f", hydra/launcher={args.launcher}" if args.launcher else ""))
    print(f"{'experiment':28s} {'points':>6s} {'failed':>6s} {'wall':>9s}  target <= {TARGET_S // 60} min")
    for experiment in args.experiments:
        work = root / Path(experiment).name
        seconds, done, failed = run_sweep(experiment, work, launcher)
        figure = draw(experiment, work)
        met = "yes" if seconds <= TARGET_S and not failed else "NO"
        print(f"{experiment:28s} {done:6d} {failed:6d} {seconds:8.0f}s  {met}   figure: {figure}", flush=True)
        if args.compare_no_reuse:
            alone, _, _ = run_sweep(experiment, root / f"{Path(experiment).name}_no_reuse", [*launcher, "train.reuse_pretraining=false"])
            print(f"{'  train.reuse_pretraining=false':28s} {'':6s} {'':6s} {alone:8.0f}s  shared pretraining is "
                  f"{alone / seconds:.2f}x faster", flush=True)
    if args.keep is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
