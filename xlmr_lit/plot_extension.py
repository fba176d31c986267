"""The figure of experiments/extend_languages.yaml (`xlmr-plot extend_languages --runs ... --out ...`): validation loss
per character of the new languages against continued-pretraining steps, one curve per point (not extended, and each
way of initialising the new rows), and of the old languages before (step 0) and after continued pretraining.

Curves come from each run's csv/metrics.csv (every validation), which languages are new from its
config_resolved.yaml (extend.languages), the <unk> shares from its results.jsonl."""

import csv
import math
from collections import defaultdict
from pathlib import Path

import yaml

from xlmr_lit.corpus import resolve_languages

POINT_ORDER = ["none", "random", "mean", "focus"]
POINT_LABELS = {"none": "not extended (old tokenizer)", "random": "extended, random rows", "mean": "extended, mean rows",
                "focus": "extended, FOCUS-style rows"}


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
                    # Lightning logs the validation after optimizer step N at CSV step N - 1, the one before training at 0
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
        curves = {lang: points for lang, points in validation_curves(run_dir, int(config["trainer"]["max_steps"])).items()
                  if lang in languages}  # not the report groups' averages
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


def draw_extension(rows: list[dict], out: Path) -> list[Path]:
    from xlmr_lit.plot import _legend_beside, _markdown, _pyplot, _save

    points = extension_points(rows)
    plt = _pyplot()
    fig, (curve_ax, bar_ax) = plt.subplots(1, 2, figsize=(14, 4.8), layout="constrained")
    first = next(iter(points.values()))
    for i, (name, p) in enumerate(points.items()):
        curve = mean_curve(p["curves"], p["new"])
        unk = [p["unk"][lang] for lang in p["new"] if lang in p["unk"]]
        note = f" ({100 * sum(unk) / len(unk):.0f}% <unk>)" if unk and sum(unk) / len(unk) > 0.01 else ""
        curve_ax.plot([s for s, _ in curve], [v for _, v in curve], "o-", markersize=3, color=f"C{i}",
                      label=POINT_LABELS.get(name, name) + note)
    curve_ax.set_xlabel("continued-pretraining steps")
    curve_ax.set_ylabel("validation MLM loss, nats per character")
    curve_ax.set_title(f"new languages ({', '.join(first['new'])}), mean", fontsize=11)
    curve_ax.grid(alpha=0.3)
    _legend_beside(curve_ax, ["<unk> pieces are easy targets: a point with many has a loss that looks better than "
                              "its model is"])
    width = 0.38
    names = list(points)
    for j, (label, index) in enumerate((("before (step 0)", 0), ("after", -1))):
        heights = [mean_curve(points[n]["curves"], points[n]["old"])[index][1] for n in names]
        bars = bar_ax.bar([k + (j - 0.5) * width for k in range(len(names))], heights, width, label=label,
                          color=f"C{j}" if j else "0.7")
        bar_ax.bar_label(bars, [f"{h:.3f}" for h in heights], fontsize=7)
    bar_ax.set_xticks(range(len(names)), [POINT_LABELS.get(n, n).replace(", ", ",\n").replace(" (", "\n(") for n in names], fontsize=8)
    bar_ax.set_ylabel("validation MLM loss, nats per character")
    bar_ax.set_title(f"old languages ({', '.join(first['old'])}), mean", fontsize=11)
    low = min(b.get_height() for b in bar_ax.patches)
    bar_ax.set_ylim(max(0.0, math.floor(low * 10) / 10 - 0.2), None)
    bar_ax.grid(alpha=0.3, axis="y")
    _legend_beside(bar_ax)
    fig.suptitle(f"Adding languages to a pretrained model (Glot500's recipe), scale {first['scale']}", fontsize=12)
    header, table = extension_table(points)
    return _save(fig, out, _markdown(header, table))
