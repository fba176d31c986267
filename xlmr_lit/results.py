"""Per-language result rows, model selection, and the `xlmr-results` table."""

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

RESULTS_FILE = "results.jsonl"


def select_epochs(history: list[dict], metric: str) -> dict[str, dict[str, int]]:
    """Which validation round each language reports under each selection rule.

    single: the round with the best average dev `metric` over languages (the paper's recommendation);
    per_language: for each language, the round with its own best dev `metric`. A language evaluated
    without a dev set of its own (XQuAD, selected on SQuAD dev) reports the `single` round in both.
    """
    languages = sorted({name.split("/", 1)[1] for h in history for name in h["scores"] if name.startswith("dev/")})
    evaluated = sorted({name.split("/", 1)[1] for h in history for name in h["scores"]})

    def dev(h, lang):
        return h["scores"].get(f"dev/{lang}", {}).get(metric, float("-inf"))

    best_round = max(range(len(history)), key=lambda i: sum(dev(history[i], lang) for lang in languages))
    return {
        "single": {lang: best_round for lang in evaluated},
        "per_language": {
            lang: max(range(len(history)), key=lambda i: dev(history[i], lang)) if lang in languages else best_round
            for lang in evaluated
        },
    }


def selection_rows(history: list[dict], metric: str, task: str, setting: str, run_keys: dict) -> list[dict]:
    rows = []
    for selection, rounds in select_epochs(history, metric).items():
        for lang, i in rounds.items():
            for name, values in history[i]["scores"].items():
                split, name_lang = name.split("/", 1)
                if name_lang != lang:
                    continue
                for m, value in values.items():
                    rows.append({
                        "task": task, "setting": setting, "selection": selection, "split": split,
                        "language": lang, "metric": m, "value": value, "epoch": history[i]["epoch"], **run_keys,
                    })
    return rows


def write_rows(rows: list[dict], run_dir: Path) -> Path:
    path = run_dir / RESULTS_FILE
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def read_rows(paths: list[Path]) -> list[dict]:
    rows = []
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob(RESULTS_FILE))
        for file in files:
            for line_no, line in enumerate(open(file), start=1):
                if line.strip():
                    try:
                        rows.append({**json.loads(line), "run": str(file.parent)})
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{file}, line {line_no}: not a JSON results row ({err.msg})") from None
    return rows


XNLI_ORDER = "en fr es de el bg ru tr ar vi th zh hi sw ur".split()
AS_IS = {"mlm_loss", "mlm_loss_per_char", "order_gap", "unigram_loss"}  # printed as they are (nats); the other metrics (fractions) as percentages


def run_overrides(run: str, row: dict) -> list[str]:
    """The Hydra overrides of the job that wrote `run` (a fine-tuning's are its point's, one level up)."""
    import yaml

    for d in (Path(run), Path(run).parent):
        if (d / ".hydra" / "overrides.yaml").is_file():
            return [str(o) for o in yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text()) or []]
    return [f"{k.removeprefix('override.')}={v}" for k, v in row.items() if k.startswith("override.")]


def point_names(rows: list[dict]) -> dict[str, str]:
    """Each run named by the overrides that differ between the runs (all of them for one run; else its dir)."""
    overrides = {}
    for r in rows:
        overrides.setdefault(r["run"], run_overrides(r["run"], r))
    if len(overrides) > 1:
        common = set.intersection(*(set(o) for o in overrides.values()))
        overrides = {run: [o for o in ovs if o not in common] for run, ovs in overrides.items()}
    return {run: ",".join(ovs) or str(run) for run, ovs in overrides.items()}


def format_table(rows: list[dict], split: str = "test", names: dict[str, str] | None = None) -> str:
    """One line per (task, setting, selection, metric, run): languages as columns, then the average. Fractions
    are printed as percentages, MLM losses as they are, with a perplexity line (exp of the loss; avg: of the mean)."""
    names = names or {}
    groups = defaultdict(dict)
    for r in rows:
        if r["split"] == split:
            groups[(r["task"], r["setting"], r["selection"], r["metric"], names.get(r["run"], r["run"]))][r["language"]] = r["value"]
    for key, values in list(groups.items()):
        if key[3] == "mlm_loss":
            groups[(*key[:3], "mlm_ppl", key[4])] = {lang: math.exp(min(v, 50.0)) for lang, v in values.items()}
    langs = sorted({lang for values in groups.values() for lang in values}, key=lambda l: (XNLI_ORDER + [l]).index(l))
    keys = sorted(groups)
    widths = [max(len(str(k[i])) for k in keys + [("task", "setting", "selection", "metric")]) + 2 for i in range(4)]
    names_row = ("task", "setting", "selection", "metric")
    header = "".join(f"{n:<{w}}" for n, w in zip(names_row, widths)) + "".join(f"{l:>8}" for l in langs) + f"{'avg':>8}  run"
    lines = [header]
    for key in keys:
        values = groups[key]
        scale = 1.0 if key[3] in AS_IS or key[3] == "mlm_ppl" else 100.0
        avg = sum(values.values()) / len(values) * scale
        if key[3] == "mlm_ppl":
            avg = math.exp(min(sum(groups[(*key[:3], "mlm_loss", key[4])].values()) / len(values), 50.0))
        fmt = ".3f" if key[3] in AS_IS else ".1f"
        cells = "".join(f"{values[l] * scale:>8{fmt}}" if l in values else f"{'-':>8}" for l in langs)
        lines.append("".join(f"{k:<{w}}" for k, w in zip(key[:4], widths)) + f"{cells}{avg:>8{fmt}}  {key[4]}")
    return "\n".join(lines)


def shown_splits(rows: list[dict]) -> dict[str, str]:
    """Per task, the split `--split auto` shows: pretraining's valid; fine-tuning's test, or dev without test (GLUE)."""
    splits = defaultdict(set)
    for r in rows:
        splits[r["task"]].add(r["split"])
    return {task: next((s for s in ("test", "valid", "dev") if s in have), sorted(have)[0]) for task, have in splits.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Paper-style table of per-language results (results.jsonl) from run or sweep directories: "
        "fine-tuning scores in percent, pretraining's validation MLM loss and perplexity as they are.")
    parser.add_argument("runs", nargs="+", type=Path, help="run or sweep directories (searched recursively) or results files")
    parser.add_argument("--split", default="auto", choices=["auto", "test", "dev", "valid"],
                        help="auto (default): test for fine-tuning (dev where there is no test, as GLUE), "
                        "valid for pretraining (validation MLM loss)")
    args = parser.parse_args(argv)
    rows = read_rows(args.runs)
    if not rows:
        raise SystemExit(f"no {RESULTS_FILE} found under {', '.join(map(str, args.runs))}")
    counts = defaultdict(int)
    for r in rows:
        counts[(r["task"], r["split"])] += 1
    print(f"{len(rows)} rows from {len({r['run'] for r in rows})} {RESULTS_FILE} files: "
          + ", ".join(f"{task} {split} {n}" for (task, split), n in sorted(counts.items())))
    wanted = shown_splits(rows) if args.split == "auto" else {task: args.split for task, _ in counts}
    shown = [r for r in rows if wanted[r["task"]] == r["split"]]
    skipped = sorted({(task, split) for task, split in counts if wanted[task] != split})
    if skipped:
        print("not shown: " + ", ".join(f"{task} {split} (--split {split})" for task, split in skipped))
    if not shown:
        raise SystemExit(f"no rows of split {args.split!r}; the rows have: "
                         + ", ".join(sorted({split for _, split in counts})))
    names = point_names(shown)
    for split in sorted({r["split"] for r in shown}, key=["test", "dev", "valid"].index):
        print(f"\n{split}:\n" + format_table(shown, split, names))
