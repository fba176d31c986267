"""Per-language result rows, model selection, and the `xlmr-results` table."""

import argparse
import json
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


def format_table(rows: list[dict], split: str = "test", scale: float = 100.0) -> str:
    """One line per (task, setting, selection, metric, run): languages as columns, then the average."""
    groups = defaultdict(dict)
    for r in rows:
        if r["split"] == split:
            groups[(r["task"], r["setting"], r["selection"], r["metric"], r["run"])][r["language"]] = r["value"]
    langs = sorted({lang for values in groups.values() for lang in values}, key=lambda l: (XNLI_ORDER + [l]).index(l))
    keys = sorted(groups)
    widths = [max(len(str(k[i])) for k in keys + [("task", "setting", "selection", "metric")]) + 2 for i in range(4)]
    names = ("task", "setting", "selection", "metric")
    header = "".join(f"{n:<{w}}" for n, w in zip(names, widths)) + "".join(f"{l:>7}" for l in langs) + f"{'avg':>7}  run"
    lines = [header]
    for key in keys:
        values = groups[key]
        cells = "".join(f"{values[l] * scale:>7.1f}" if l in values else f"{'-':>7}" for l in langs)
        avg = sum(values.values()) / len(values) * scale
        lines.append("".join(f"{k:<{w}}" for k, w in zip(key[:4], widths)) + f"{cells}{avg:>7.1f}  {key[4]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Paper-style table of per-language results from run directories.")
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (searched recursively) or results files")
    parser.add_argument("--split", default="test", help="dev or test (default: test)")
    args = parser.parse_args(argv)
    rows = read_rows(args.runs)
    if not rows:
        raise SystemExit(f"no {RESULTS_FILE} found under {', '.join(map(str, args.runs))}")
    print(format_table(rows, args.split))
