"""`xlmr-plot`: draw an experiment's figure in the paper's form from the result rows its runs wrote.

    xlmr-plot fig5_alpha --runs multirun/fig5_alpha/tiny --out docs/fig5_alpha_tiny
    xlmr-plot fig2_languages --wandb my-entity/xlmr-lit --scale small --out docs/fig2_languages_small

Rows come from `results.jsonl` files (`xlmr_lit.results.read_rows`) or from the `results` tables of
wandb runs tagged with the experiment. Sweep points are told apart by the `override.<key>` fields the
pipeline adds to its rows. Curves are the mean test score (`single` selection) over high-resource
(en, fr), low-resource (sw, ur) and all languages; values the paper states are drawn in black.
"""

import argparse
import json
import math
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from xlmr_lit.results import XNLI_ORDER, read_rows

GROUPS = {"high-resource (en, fr)": ["en", "fr"], "low-resource (sw, ur)": ["sw", "ur"], "all": None}
PAPER = "paper"


@dataclass(frozen=True)
class PaperValue:
    """Something the paper states: a point (x, y), a vertical line at x, or a note."""

    label: str
    x: object = None
    y: float | None = None
    series: str | None = None  # for per-language figures: which series (e.g. a setting) it belongs to


@dataclass(frozen=True)
class FigureSpec:
    title: str
    x_key: str | None  # the row field that is the x axis (curves); None for per-language figures
    x_label: str
    x_values: dict | None = None  # raw value -> numeric x (xnli7 -> 7); None: float(value)
    categorical: list | None = None  # x drawn evenly spaced in this order (raw values, as strings)
    log_x: bool = False
    series_key: str | None = None  # a second swept key: one "all" curve per value
    metric: str | None = None  # None: the run's own metric (accuracy, f1)
    paper: tuple[PaperValue, ...] = ()
    same_language_only: dict = field(default_factory=dict)  # series value -> keep rows with language == train_language


LANGUAGE_COUNTS = {"xnli7": 7, "xnli15": 15, "lang30": 30, "lang60": 60, "lang100": 100}
XNLI_BASE = dict(zip(XNLI_ORDER, [85.8, 79.7, 80.7, 78.7, 77.5, 79.6, 78.1, 74.2, 73.8, 76.5, 74.6, 76.7, 72.4, 66.5, 68.3]))
XNLI_BASE_TTA = dict(zip(XNLI_ORDER, [85.4, 81.4, 82.2, 80.3, 80.4, 81.3, 79.7, 78.6, 77.3, 79.7, 77.9, 80.2, 76.1, 73.1, 73.0]))

SPECS = {
    "fig2_languages": FigureSpec(
        "Fig 2: number of pretraining languages at fixed capacity", "override.data.languages", "languages",
        x_values=LANGUAGE_COUNTS, log_x=True,
        paper=(PaperValue("paper: all, 7 languages (XNLI)", 7, 71.8), PaperValue("paper: all, 100 languages (XNLI)", 100, 67.7)),
    ),
    "fig3_corpus": FigureSpec(
        "Fig 3: Wikipedia vs CommonCrawl", None, "language", series_key="override.corpus",
        paper=(PaperValue("paper: CommonCrawl better for every language, by up to 10 points for low-resource ones"),),
    ),
    "fig4_capacity": FigureSpec(
        "Fig 4: capacity, fixed vs widened", "override.data.languages", "languages",
        x_values=LANGUAGE_COUNTS, log_x=True, series_key="override.capacity",
    ),
    "fig5_alpha": FigureSpec(
        "Fig 5: language sampling α", "override.data.alpha", "α (p_i ∝ q_i^α)",
        categorical=["0.01", "0.1", "0.3", "0.5", "0.7", "1"],
        paper=(PaperValue("paper: best overall at α = 0.3", "0.3"),),
    ),
    "fig6_vocab": FigureSpec(
        "Fig 6: vocabulary size", "override.vocab", "vocabulary (paper's sizes)",
        categorical=["32k", "64k", "128k", "256k"], series_key="override.capacity",
        paper=(PaperValue("paper: +2.8 average from 32k to 256k at fixed capacity"),),
    ),
    "fig7_batch_tokenizer": FigureSpec(
        "Fig 7: batch size and tokenizer", "override.batch", "batch (paper's sizes)",
        categorical=["2k", "8k"], series_key="override.tokenizer.model_type",
    ),
    "table1_xnli": FigureSpec(
        "Table 1: XNLI", None, "language", series_key="setting", metric="accuracy",
        paper=tuple(PaperValue("paper: XLM-R Base, transfer", lang, v, "cross_lingual_transfer") for lang, v in XNLI_BASE.items())
        + tuple(PaperValue("paper: XLM-R Base, translate-train-all", lang, v, "translate_train_all") for lang, v in XNLI_BASE_TTA.items()),
    ),
    "table2_ner": FigureSpec(
        "Table 2: NER", None, "language", series_key="setting", metric="f1",
        paper=tuple(PaperValue("paper: XLM-R Base, each language", lang, v, "train_each")
                    for lang, v in {"en": 91.95, "nl": 91.21, "es": 88.46, "de": 83.65}.items())
        + (PaperValue("paper: XLM-R Large trained on all languages averages 89.18"),),
        same_language_only={"train_each": True},
    ),
    "table3_mlqa": FigureSpec(
        "Table 3: MLQA", None, "language", metric="f1",
        paper=tuple(PaperValue("paper: XLM-R Large", lang, v) for lang, v in
                    {"en": 80.6, "es": 74.1, "de": 68.5, "ar": 63.1, "hi": 69.2, "vi": 71.3, "zh": 68.0}.items()),
    ),
}


def spec_for(experiment: str) -> FigureSpec:
    name = Path(experiment).stem  # tables/table1_xnli -> table1_xnli
    if name not in SPECS:
        raise SystemExit(f"no figure for experiment {experiment!r}; known: {', '.join(SPECS)}")
    return SPECS[name]


def _select(rows: list[dict], spec: FigureSpec, split: str) -> tuple[list[dict], str]:
    """The rows a figure uses: `single` selection, the split asked for (else dev), one metric."""
    rows = [r for r in rows if r.get("selection", "single") == "single"]
    if not any(r["split"] == split for r in rows):
        split = "dev"
    rows = [r for r in rows if r["split"] == split]
    metric = spec.metric or next((r["metric"] for r in rows if r["metric"] in ("accuracy", "f1")), None)
    return [r for r in rows if r["metric"] == metric], split


def _x(spec: FigureSpec, raw):
    if spec.categorical is not None:
        try:
            return f"{float(raw):g}"  # 1.0 and 1 are one point
        except ValueError:
            return str(raw)
    if spec.x_values and str(raw) in spec.x_values:
        return spec.x_values[str(raw)]
    return float(raw)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def pretraining_rows(rows: list[dict]) -> list[dict]:
    """The validation MLM loss rows that pretraining writes (the pipeline's first half)."""
    return [r for r in rows if r["task"] == "pretrain" and r["metric"] == "mlm_loss"]


def curve_data(rows: list[dict], spec: FigureSpec, split: str = "test", pretraining: bool = False) -> dict[str, list[tuple]]:
    """{curve label: [(x, mean score in percent), ...] sorted by x} for an x-vs-score figure.

    Each run's score for a group is the mean over the group's languages it has; runs at the same x
    (e.g. seeds) are averaged. With a `series_key`, one `all` curve per series value. With
    `pretraining`, the curves are the validation MLM loss instead (not in percent).
    """
    scale = 1.0 if pretraining else 100.0
    rows = pretraining_rows(rows) if pretraining else _select(rows, spec, split)[0]
    by_run = defaultdict(dict)  # (x, series, run) -> {language: value}
    for r in rows:
        if spec.x_key not in r:
            continue
        series = r.get(spec.series_key) if spec.series_key else None
        by_run[(_x(spec, r[spec.x_key]), series, r["run"])][r["language"]] = scale * r["value"]
    series_values = sorted({s for _, s, _ in by_run}, key=str)
    points = defaultdict(lambda: defaultdict(list))  # label -> x -> [run scores]
    for (x, series, _), scores in by_run.items():
        for group, langs in GROUPS.items():
            if spec.series_key and len(series_values) > 1 and langs is not None:
                continue  # several series: only their `all` curves, as in the paper
            chosen = [v for lang, v in scores.items() if langs is None or lang in langs]
            if chosen:
                label = group if len(series_values) <= 1 else f"{series} ({group})"
                points[label][x].append(_mean(chosen))
    order = (lambda x: spec.categorical.index(x) if x in spec.categorical else len(spec.categorical)) \
        if spec.categorical is not None else (lambda x: x)
    return {label: sorted(((x, _mean(v)) for x, v in xs.items()), key=lambda p: order(p[0])) for label, xs in points.items()}


def language_data(rows: list[dict], spec: FigureSpec, split: str = "test") -> dict[str, dict[str, float]]:
    """{series: {language: mean score in percent}} for a per-language figure (runs averaged)."""
    rows, _ = _select(rows, spec, split)
    values = defaultdict(lambda: defaultdict(list))
    for r in rows:
        series = str(r.get(spec.series_key)) if spec.series_key else "ours"
        if spec.same_language_only.get(series) and r["language"] != r.get("train_language"):
            continue
        values[series][r["language"]].append(100.0 * r["value"])
    return {s: {lang: _mean(v) for lang, v in langs.items()} for s, langs in sorted(values.items())}


def _describe(rows: list[dict], split: str) -> str:
    scales = sorted({str(r.get("scale")) for r in rows if r.get("scale")}) or ["unknown"]
    tasks = sorted({r["task"] + (" (UDHR stand-in)" if r.get("udhr_standin") else "") for r in rows})
    runs = len({r["run"] for r in rows})
    return f"scale: {', '.join(scales)} · {', '.join(tasks)} {split} · {runs} run(s)"


def _language_order(langs) -> list[str]:
    return sorted(langs, key=lambda lang: (XNLI_ORDER.index(lang) if lang in XNLI_ORDER else len(XNLI_ORDER), lang))


def draw(experiment: str, rows: list[dict], out: Path, split: str = "test") -> list[Path]:
    """Write `<out>.png` and `<out>.pdf`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = spec_for(experiment)
    selected, used_split = _select(rows, spec, split)
    if not selected:
        raise SystemExit(f"{experiment}: no {split} or dev rows to plot")
    metric = selected[0]["metric"]
    with_pretraining = bool(spec.x_key and pretraining_rows(rows))
    fig, axes = plt.subplots(1, 2 if with_pretraining else 1, figsize=(13 if with_pretraining else 7.5, 4.8),
                             layout="constrained", squeeze=False)
    ax = axes[0][0]
    notes = [p.label for p in spec.paper if p.x is None]
    if spec.x_key:
        curves = curve_data(rows, spec, split)
        styles = {"high-resource (en, fr)": ("o-", "tab:blue"), "low-resource (sw, ur)": ("s-", "tab:orange"),
                  "all": ("D-", "tab:green")}
        position, cats = (lambda x: x), []
        if spec.categorical is not None:  # evenly spaced: the categories that were run, in the paper's order
            seen = {x for pts in curves.values() for x, _ in pts}
            cats = [c for c in spec.categorical if c in seen] + sorted(seen - set(spec.categorical))
            position = cats.index
        for i, (label, pts) in enumerate(curves.items()):
            marker, color = styles.get(label, ("o-", f"C{i}"))
            ax.plot([position(x) for x, _ in pts], [y for _, y in pts], marker, color=color, label=label)
        for p in spec.paper:
            if p.x is None:
                continue
            if spec.categorical is not None and p.x not in cats:
                notes.append(p.label)
                continue
            if p.y is None:
                ax.axvline(position(p.x), color="black", linestyle=":", linewidth=1.2, label=p.label)
            else:
                ax.plot([position(p.x)], [p.y], "*", color="black", markersize=12, label=p.label)
        if spec.categorical is not None:
            ax.set_xticks(range(len(cats)), cats)
        elif spec.log_x:
            ax.set_xscale("log")
            ticks = sorted({x for pts in curves.values() for x, _ in pts} | {p.x for p in spec.paper if p.x is not None})
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
    else:
        data = language_data(rows, spec, split)
        langs = _language_order({lang for values in data.values() for lang in values})
        width = 0.8 / max(len(data), 1)
        for i, (series, values) in enumerate(data.items()):
            heights = [values.get(lang, math.nan) for lang in langs]
            bars = ax.bar([j + (i - (len(data) - 1) / 2) * width for j in range(len(langs))], heights, width,
                          label=series, color=f"C{i}")
            # labelled, so that a score of 0 reads as 0; a language this series lacks stays blank
            ax.bar_label(bars, ["" if math.isnan(h) else f"{h:.0f}" for h in heights], fontsize=6)
            avg = _mean(list(values.values()))
            ax.axhline(avg, color=f"C{i}", linestyle="--", linewidth=0.8)
        marked = set()
        for p in spec.paper:
            if p.x is None or p.x not in langs or (spec.series_key and p.series and p.series not in data):
                continue
            i = list(data).index(p.series) if p.series in data else 0
            ax.plot([langs.index(p.x) + (i - (len(data) - 1) / 2) * width], [p.y], "*", color="black", markersize=10,
                    label=None if p.label in marked else p.label)
            marked.add(p.label)
        ax.set_xticks(range(len(langs)), langs)
    if notes:
        ax.text(0.01, 0.01, "\n".join(notes), transform=ax.transAxes, fontsize=8, va="bottom", ha="left",
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"})
    low, high = ax.get_ylim()
    if high - low < 10:  # at least 10 points of y range, so that noise does not look like an effect
        middle = (low + high) / 2
        ax.set_ylim(middle - 5, middle + 5)
    ax.set_xlabel(spec.x_label)
    ax.set_ylabel(f"{metric} (%), {used_split}")
    ax.set_title(f"{spec.title}\n{_describe(selected, used_split)}", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if with_pretraining:
        _draw_pretraining(axes[0][1], rows, spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_name(out.name + ".png"), out.with_name(out.name + ".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths


def _draw_pretraining(ax, rows: list[dict], spec: FigureSpec) -> None:
    """The same sweep seen through pretraining: per-group validation MLM loss (lower is better)."""
    curves = curve_data(rows, spec, pretraining=True)
    seen = {x for pts in curves.values() for x, _ in pts}
    xs = [c for c in spec.categorical if c in seen] + sorted(seen - set(spec.categorical), key=str) \
        if spec.categorical is not None else sorted(seen)
    position = (lambda x: xs.index(x)) if spec.categorical is not None else (lambda x: x)
    for i, (label, pts) in enumerate(curves.items()):
        ax.plot([position(x) for x, _ in pts], [y for _, y in pts], "o-", color=f"C{i}", label=label)
    if spec.categorical is not None:
        ax.set_xticks(range(len(xs)), xs)
    elif spec.log_x:
        ax.set_xscale("log")
    ax.set_xlabel(spec.x_label)
    ax.set_ylabel("validation MLM loss (nats)")
    ax.set_title(f"pretraining, held-out text · {len({r['run'] for r in pretraining_rows(rows)})} run(s)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def wandb_rows(experiment: str, project: str, scale: str | None = None, api=None) -> list[dict]:
    """The `results` tables of the wandb runs of one sweep (group `<experiment>-<scale>`) or, without
    a scale, of every run tagged with the experiment."""
    if api is None:
        import wandb

        api = wandb.Api()
    name = Path(experiment).stem
    filters = {"group": f"{name}-{scale}"} if scale else {"tags": {"$in": [name]}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in api.runs(project, filters=filters):
            ref = run.summary.get("results")
            if not isinstance(ref, dict) or "path" not in ref:
                continue  # e.g. a pretraining run: its downstream results are in the fine-tuning run
            local = Path(run.file(ref["path"]).download(root=tmp, replace=True).name)
            table = json.loads(local.read_text())
            rows += [{**dict(zip(table["columns"], values)), "run": f"{project}/{run.id}"} for values in table["data"]]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw an experiment's figure (PNG and PDF) from its runs' result rows.")
    parser.add_argument("experiment", help=f"one of: {', '.join(SPECS)}")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--runs", nargs="+", type=Path, help="sweep or run directories (searched for results.jsonl)")
    source.add_argument("--wandb", metavar="ENTITY/PROJECT", help="read the runs' results tables through the wandb API")
    parser.add_argument("--scale", help="with --wandb: only the sweep at this scale (group <experiment>-<scale>)")
    parser.add_argument("--split", default="test", help="test (default; dev where a run has no test) or dev")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix: writes .png and .pdf")
    args = parser.parse_args(argv)
    spec_for(args.experiment)
    rows = read_rows(args.runs) if args.runs else wandb_rows(args.experiment, args.wandb, args.scale)
    if not rows:
        raise SystemExit(f"no result rows in {args.runs or args.wandb}")
    for path in draw(args.experiment, rows, args.out, args.split):
        print(path)


if __name__ == "__main__":
    main()
