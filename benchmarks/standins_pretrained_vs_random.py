"""Pretrained vs random-init encoders on the four UDHR stand-ins (issue 18 items 2 and 3; RESULTS.md §15).

    python benchmarks/standins_pretrained_vs_random.py run OUT [--seeds 1 2 3] [--tasks xnli sst2 ner qa]
    python benchmarks/standins_pretrained_vs_random.py table OUT
    python benchmarks/standins_pretrained_vs_random.py run OUT --pretraining scale=mini '~downstream' \
        data.corpus_dir=~/.cache/xlmr_lit/man_pages     # the encoders at scale=mini (RESULTS.md section 16)

`run` does, through the real `xlmr-train` commands, with XLMR_LIT_CACHE=OUT/cache:
  1. OUT/pretrained: the bare `xlmr-train` (the README's default pretraining: tiny model, bundled text, 300 steps),
     or with the overrides given by --pretraining;
  2. OUT/random_init: the same settings, one step at lr 1e-12, so the same architecture and tokenizer with the
     weights as initialised;
  3. OUT/<task>/<init>_s<seed>: each stand-in fine-tuned from each encoder's best.ckpt with its standin_recipe
     defaults, as the README's commands do (xnli on xnli7, glue sst2, ner and qa on their default languages).
Finished runs (a DONE file) are skipped, so a killed `run` continues. `table` (after `run`) prints, per task, the
test score (GLUE: dev; its test labels are hidden) per seed, and mean and sample sd per encoder, of the `single`
selection (the epoch with the best dev score averaged over the languages, the paper's) or, with
`--selection per_language`, of each language's best dev epoch (English's score as an English-only run selects it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics as st
import subprocess
import time
from pathlib import Path

from common import cpu_model

TASKS = {
    "xnli": (["task=xnli", "task.udhr_standin=true", "task.languages=xnli7"], "accuracy"),
    "sst2": (["task=glue", "task.glue_task=sst2", "task.udhr_standin=true"], "accuracy"),
    "ner": (["task=ner", "task.udhr_standin=true"], "f1"),
    "qa": (["task=qa", "task.udhr_standin=true"], "f1"),
}
ENCODERS = {
    "pretrained": [],
    "random_init": ["optim.lr=1e-12", "optim.warmup_steps=1", "trainer.max_steps=1"],
}


def xlmr_train(run_dir: Path, overrides: list[str], env: dict) -> None:
    if (run_dir / "DONE").is_file():
        return
    start = time.time()
    command = ["xlmr-train", *overrides, "logger=csv", f"hydra.run.dir={run_dir}"]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"  {time.time() - start:.0f} s", flush=True)


def run(out: Path, seeds: list[int], tasks: list[str], pretraining: list[str]) -> None:
    env = {**os.environ, "XLMR_LIT_CACHE": str(out / "cache")}
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores", flush=True)
    for name, overrides in ENCODERS.items():
        xlmr_train(out / name, [*pretraining, *overrides], env)
    for task in tasks:
        for name in ENCODERS:
            for seed in seeds:
                init = out / name / "checkpoints" / "best.ckpt"
                xlmr_train(out / task / f"{name}_s{seed}", [*TASKS[task][0], f"model.init={init}", f"seed={seed}"], env)


def score(run_dir: Path, metric: str, selection: str = "single") -> dict[str, float]:
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    split = "test" if any(r["split"] == "test" for r in rows) else "dev"
    return {r["language"]: 100 * r["value"] for r in rows
            if r["selection"] == selection and r["split"] == split and r["metric"] == metric}


def table(out: Path, selection: str = "single") -> None:
    for task, (_, metric) in TASKS.items():
        if not (out / task).is_dir():
            continue
        print(f"\n{task} ({metric}, test; GLUE dev; {selection} selection)\n")
        runs = sorted(p for p in (out / task).iterdir() if (p / "results.jsonl").is_file())
        languages = sorted(score(runs[0], metric, selection), key=lambda lang: (lang != "en", lang)) if runs else []
        average = len(languages) > 1
        print("| encoder | seed | " + " | ".join(languages) + (" | avg |" if average else " |"))
        print("|---|---|" + "---|" * (len(languages) + average))
        for name in ENCODERS:
            mine = [p for p in runs if p.name.startswith(f"{name}_s")]
            values = []
            for p in mine:
                s = score(p, metric, selection)
                row = [s[lang] for lang in languages] + ([st.mean(s.values())] if average else [])
                values.append(row)
                print(f"| {name} | {p.name.rsplit('_s', 1)[1]} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
            if len(values) > 1:
                columns = list(zip(*values))
                spread = " | ".join(f"{st.mean(c):.1f} ± {st.stdev(c):.1f}" for c in columns)
                print(f"| {name} | mean ± sd | {spread} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["run", "table"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--pretraining", nargs="+", default=[], help="overrides of both encoders' pretraining")
    parser.add_argument("--selection", choices=["single", "per_language"], default="single",
                        help="table: the checkpoint of the best average dev score (single), or each language's own")
    args = parser.parse_args(argv)
    if args.what == "run":
        run(args.out.resolve(), args.seeds, args.tasks, args.pretraining)
    else:
        table(args.out.resolve(), args.selection)


if __name__ == "__main__":
    main()
