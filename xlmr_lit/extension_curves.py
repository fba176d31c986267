"""What the figure of experiments/extend_languages.yaml draws (xlmr_lit/plot.py, `xlmr-plot extend_languages`): per
point (not extended, and each way of initialising the new rows), the validation loss per character of every language
at every validation, from the run's csv/metrics.csv; which languages are new, from its config_resolved.yaml
(extend.languages); their <unk> shares, from its results.jsonl."""

import csv
from collections import defaultdict
from pathlib import Path

import yaml

from xlmr_lit.corpus import resolve_languages

POINT_ORDER = ["none", "random", "mean", "focus"]
POINT_LABELS = {"none": "not extended (old tokenizer)", "random": "extended, random rows",
                "mean": "extended, mean rows", "focus": "extended, FOCUS-style rows"}


def validation_curves(run_dir: Path, max_steps: int) -> dict[str, list[tuple[int, float]]]:
    """{language: [(optimizer step, validation loss per character), ...]} from csv/metrics.csv; step 0 is the
    validation before training (train.validate_at_start)."""
    curves = defaultdict(dict)
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        for row in csv.DictReader(file):
            step = int(row["step"])
            if step >= max_steps:  # the best checkpoint validated again after training
                continue
            for key, value in row.items():
                if key.startswith("val/loss_per_char_") and value not in ("", None):
                    # Lightning logs the validation after optimizer step N at CSV step N - 1, the one before
                    # training at 0
                    curves[key.removeprefix("val/loss_per_char_")][step + 1 if step else 0] = float(value)
    return {lang: sorted(points.items()) for lang, points in curves.items()}


def extension_points(rows: list[dict]) -> dict[str, dict]:
    """{extend.init: {"new": [...], "old": [...], "curves": {...}, "unk": {language: share}}} per run of the sweep."""
    points = {}
    for run in sorted({r["run"] for r in rows if r["task"] == "pretrain"}):
        run_dir = Path(run)
        config = yaml.safe_load((run_dir / "config_resolved.yaml").read_text())
        new = list(config["extend"]["languages"])
        if not new or not (run_dir / "csv" / "metrics.csv").is_file():
            continue
        languages = resolve_languages(config["data"]["languages"])
        curves = validation_curves(run_dir, int(config["trainer"]["max_steps"]))
        curves = {lang: points for lang, points in curves.items() if lang in languages}  # not the groups' averages
        unk = {r["language"]: r["value"] for r in rows if r["run"] == run and r["metric"] == "unk_share"}
        points[str(config["extend"]["init"])] = {"new": [lang for lang in new if lang in curves],
                                                 "old": [lang for lang in curves if lang not in new],
                                                 "curves": curves, "unk": unk, "scale": config.get("scale_name")}
    if not points:
        raise SystemExit("extend_languages: no run with extend.languages and csv/metrics.csv among the runs "
                         "(xlmr-train experiment=extend_languages writes them)")
    return dict(sorted(points.items(), key=lambda p: POINT_ORDER.index(p[0]) if p[0] in POINT_ORDER else 9))


def mean_curve(curves: dict, languages: list[str]) -> list[tuple[int, float]]:
    """The mean over `languages` at each step that all of them were validated at."""
    steps = sorted(set.intersection(*(set(dict(curves[lang])) for lang in languages)))
    return [(step, sum(dict(curves[lang])[step] for lang in languages) / len(languages)) for step in steps]


def extension_table(points: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    header = ["point", "new: step 0", "new: last", "new <unk> %", "old: step 0", "old: last", "old: change"]
    table = []
    for name, p in points.items():
        new, old = mean_curve(p["curves"], p["new"]), mean_curve(p["curves"], p["old"])
        unk = [p["unk"][lang] for lang in p["new"] if lang in p["unk"]]
        table.append([POINT_LABELS.get(name, name), f"{new[0][1]:.3f}", f"{new[-1][1]:.3f}",
                      f"{100 * sum(unk) / len(unk):.1f}" if unk else "-", f"{old[0][1]:.3f}", f"{old[-1][1]:.3f}",
                      f"{old[-1][1] - old[0][1]:+.3f}"])
    return header, table
