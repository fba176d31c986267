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
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from xlmr_lit.results import XNLI_ORDER, read_rows
from xlmr_lit.tasks.readers import glue_task_name

GROUPS = {"high-resource (en, fr)": ["en", "fr"], "low-resource (sw, ur)": ["sw", "ur"], "all": None}
PAPER = "paper"
MAX_LEFT_OUT_NOTES = 3  # more languages left out of a pretraining panel share one legend note
UNK_SHARE_LIMIT = 0.05  # a language's pretraining point with more <unk> validation pieces is not drawn (see uncovered)


@dataclass(frozen=True)
class PaperValue:
    """Something the paper states: a point (x, y), a vertical line at x, or a note."""

    label: str
    x: object = None
    y: float | None = None
    series: str | None = None  # for per-language figures: which series (e.g. a setting) it belongs to
    marker: str = "*"  # tells two of the paper's rows apart in one figure
    encoder: str = "xlm-roberta"  # the model type the row is of: a baseline's (bert, xlm) is drawn beside its runs


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
    recipe_benchmark: str | None = None  # the benchmark whose scores a run's task.recipe source reports, drawn as lines


LANGUAGE_COUNTS = {"xnli7": 7, "xnli15": 15, "lang30": 30, "lang60": 60, "lang100": 100}
XNLI_BASE = dict(zip(XNLI_ORDER, [85.8, 79.7, 80.7, 78.7, 77.5, 79.6, 78.1, 74.2, 73.8, 76.5, 74.6, 76.7, 72.4, 66.5, 68.3]))
XNLI_BASE_TTA = dict(zip(XNLI_ORDER, [85.4, 81.4, 82.2, 80.3, 80.4, 81.3, 79.7, 78.6, 77.3, 79.7, 77.9, 80.2, 76.1, 73.1, 73.0]))
XNLI_ROBERTA_TRANSLATE_TEST = dict(zip(XNLI_ORDER, [91.3, 82.9, 84.3, 81.2, 81.7, 83.1, 78.3, 76.8, 76.6, 74.2, 74.1, 77.5,
                                                    70.9, 66.7, 66.8]))
# Table 2 of the ACL 2020 version (no CRF)
NER_BASE_EACH = {"en": 92.25, "nl": 90.39, "es": 87.99, "de": 84.60}
NER_BASE_ALL = {"en": 91.08, "nl": 89.09, "es": 87.28, "de": 83.17}
MLQA_LARGE_F1 = {"en": 80.6, "es": 74.1, "de": 68.5, "ar": 63.1, "hi": 69.2, "vi": 71.3, "zh": 68.0}
MLQA_BASE_F1 = {"en": 77.1, "es": 67.4, "de": 60.9, "ar": 54.9, "hi": 59.4, "vi": 64.5, "zh": 61.8}
# The baselines' rows of Tables 1-3 (ACL 2020 version): mBERT (Devlin et al.; #M N), XLM-100 (Lample and Conneau 2019,
# Wiki; the #M 1 rows, our `single` selection), and, in Table 3, mBERT and XLM-15 from MLQA's paper. The paper prints
# 70.7 as the average of the XLM-100 #M 1 transfer row and 71.3 for its #M N row (83.7 76.2 ...), but each row's
# languages average to the other's number: the averages are swapped in print; the languages are drawn.
XNLI_MBERT = dict(zip(XNLI_ORDER, [82.1, 73.8, 74.3, 71.1, 66.4, 68.9, 69.0, 61.6, 64.9, 69.5, 55.8, 69.3, 60.0, 50.4, 58.0]))
XNLI_XLM100 = dict(zip(XNLI_ORDER, [83.2, 76.7, 77.7, 74.0, 72.7, 74.1, 72.7, 68.7, 68.6, 72.9, 68.9, 72.5, 65.6, 58.2, 62.4]))
XNLI_XLM100_TTA = dict(zip(XNLI_ORDER, [84.5, 80.1, 81.3, 79.3, 78.6, 79.4, 77.5, 75.2, 75.6, 78.3, 75.7, 78.3, 72.1, 69.2,
                                        67.7]))
NER_MBERT_EACH = {"en": 91.97, "nl": 90.94, "es": 87.38, "de": 82.82}  # Table 2 (reference/paper_numbers.md)
MLQA_MBERT_F1 = {"en": 77.7, "es": 64.3, "de": 57.9, "ar": 45.7, "hi": 43.8, "vi": 57.1, "zh": 57.5}
MLQA_XLM15_F1 = {"en": 74.9, "es": 68.0, "de": 62.2, "ar": 54.8, "hi": 48.8, "vi": 61.4, "zh": 61.1}
NATIVE_ENCODER = "xlm-roberta"
ENCODER_NAMES = {"xlm-roberta": "XLM-R", "bert": "BERT", "xlm": "XLM"}  # results rows' `encoder` (config model_type)

SPECS = {
    "fig2_languages": FigureSpec(
        "Fig 2: number of pretraining languages at fixed capacity", "override.data.languages", "languages",
        x_values=LANGUAGE_COUNTS, log_x=True,
        paper=tuple(PaperValue("paper: XNLI average, all languages", n, v) for n, v in ((7, 71.8), (100, 67.7))),
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
        + tuple(PaperValue("paper: XLM-R Base, translate-train-all", lang, v, "translate_train_all", marker="P") for lang, v in XNLI_BASE_TTA.items())
        + tuple(PaperValue("paper: RoBERTa, translate-test", lang, v, "translate_test", marker="D")
                for lang, v in XNLI_ROBERTA_TRANSLATE_TEST.items())
        + tuple(PaperValue("paper: mBERT, transfer", lang, v, "cross_lingual_transfer", marker="s", encoder="bert")
                for lang, v in XNLI_MBERT.items())
        + tuple(PaperValue("paper: XLM-100, transfer", lang, v, "cross_lingual_transfer", marker="^", encoder="xlm")
                for lang, v in XNLI_XLM100.items())
        + tuple(PaperValue("paper: XLM-100, translate-train-all", lang, v, "translate_train_all", marker="v", encoder="xlm")
                for lang, v in XNLI_XLM100_TTA.items())
        + (PaperValue("paper: translate-test averages 76.2 (BERT-en) and 77.8 (RoBERTa)"),),
        recipe_benchmark="xnli",
    ),
    "table2_ner": FigureSpec(
        "Table 2: NER", None, "language", series_key="setting", metric="f1",
        paper=tuple(PaperValue("paper: XLM-R Base, each language", lang, v, "train_each") for lang, v in NER_BASE_EACH.items())
        + tuple(PaperValue("paper: XLM-R Base, all languages", lang, v, "train_all", marker="D")
                for lang, v in NER_BASE_ALL.items())
        + tuple(PaperValue("paper: mBERT, each language", lang, v, "train_each", marker="s", encoder="bert")
                for lang, v in NER_MBERT_EACH.items())
        + (PaperValue("paper: averages 88.81 (Base, each), 87.66 (Base, all), 89.43 (Large, all)"),),
        same_language_only={"train_each": True}, recipe_benchmark="panx",
    ),
    "table3_mlqa": FigureSpec(
        "Table 3: MLQA", None, "language", metric="f1",
        paper=tuple(PaperValue("paper: XLM-R Large", lang, v) for lang, v in MLQA_LARGE_F1.items())
        + tuple(PaperValue("paper: XLM-R Base", lang, v, marker="v") for lang, v in MLQA_BASE_F1.items())
        + tuple(PaperValue("paper: mBERT", lang, v, marker="s", encoder="bert") for lang, v in MLQA_MBERT_F1.items())
        + tuple(PaperValue("paper: XLM-15", lang, v, marker="^", encoder="xlm") for lang, v in MLQA_XLM15_F1.items()),
        recipe_benchmark="mlqa",
    ),
    # drawn by draw_glue and draw_mono_vs_multi; the specs say which rows they read
    "table4_glue": FigureSpec("Table 4: GLUE", None, "task", series_key="setting"),
    "table5_mono_vs_multi": FigureSpec("Table 5: multilingual vs monolingual", None, "language", series_key="setting",
                                       metric="accuracy"),
}
EXTENSION_FIGURE = "extend_languages"  # beyond the paper: draw_extension
CORPUS_FIGURES = {"fig1_data": "per-language corpus size beside CC-100's (--runs a pretraining run, or --corpus DIR)",
                  "table6": "Table 6 (CC-100 per language) as Markdown and CSV, from xlmr_lit/languages.py"}
KNOWN = [*SPECS, EXTENSION_FIGURE, *CORPUS_FIGURES]


# Table 4, GLUE dev: (column, GLUE task, split, metric) in the paper's order, then CoLA and RTE
GLUE_COLUMNS = (
    ("MNLI-m", "mnli", "dev", "accuracy"), ("MNLI-mm", "mnli", "dev_mismatched", "accuracy"),
    ("QNLI", "qnli", "dev", "accuracy"), ("QQP", "qqp", "dev", "accuracy"), ("SST-2", "sst2", "dev", "accuracy"),
    ("MRPC", "mrpc", "dev", "accuracy"), ("STS-B", "stsb", "dev", "pearson"), ("CoLA", "cola", "dev", "matthews_corr"),
    ("RTE", "rte", "dev", "accuracy"),
)
GLUE_AVERAGED = ("MNLI-m", "QNLI", "QQP", "SST-2", "MRPC", "STS-B")  # the paper's avg
GLUE_PAPER = {
    "XLM-R Large": {"MNLI-m": 88.9, "MNLI-mm": 89.0, "QNLI": 93.8, "QQP": 92.3, "SST-2": 95.0, "MRPC": 89.5, "STS-B": 91.2},
    "RoBERTa": {"MNLI-m": 90.2, "MNLI-mm": 90.2, "QNLI": 94.7, "QQP": 92.2, "SST-2": 96.4, "MRPC": 90.9, "STS-B": 92.4},
}

# Table 5, XNLI test accuracy: (model, data, vocabulary, setting, scores in TABLE5_LANGUAGES order)
TABLE5_LANGUAGES = ["en", "fr", "de", "ru", "zh", "sw", "ur"]
TABLE5_SETTINGS = {"translate_train": "monolingual", "cross_lingual_transfer": "cross-lingual transfer",
                   "translate_train_all": "translate-train-all"}
TABLE5_PAPER = (
    ("BERT (one per language)", "Wiki", "40k", "monolingual", (84.5, 78.6, 80.0, 75.5, 77.7, 60.1, 57.3)),
    ("BERT (one per language)", "CC (60 GiB cap)", "40k", "monolingual", (86.7, 81.2, 81.2, 78.2, 79.5, 70.8, 65.1)),
    ("XLM-7", "Wiki", "150k", "cross-lingual transfer", (82.3, 76.8, 74.7, 72.5, 73.1, 60.8, 62.3)),
    ("XLM-7", "CC", "150k", "cross-lingual transfer", (85.7, 78.6, 79.5, 76.4, 74.8, 71.2, 66.9)),
    ("XLM-7", "Wiki", "150k", "translate-train-all", (84.6, 80.1, 80.2, 75.7, 78.0, 68.7, 66.7)),
    ("XLM-7", "CC", "150k", "translate-train-all", (87.2, 82.5, 82.9, 79.7, 80.4, 75.7, 71.5)),
)


def spec_for(experiment: str) -> FigureSpec | None:
    name = Path(experiment).stem  # tables/table1_xnli -> table1_xnli
    if name == EXTENSION_FIGURE:
        return None
    if name not in SPECS:
        raise SystemExit(f"no figure for experiment {experiment!r}; known: {', '.join(KNOWN)}")
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
    """The validation MLM loss rows that pretraining writes (the pipeline's first half): per character when every
    pretraining run has that row, since a sweep's points may have different tokenizers (Fig. 5 trains one per α,
    Fig. 2 shares its pieces among more languages) and a shorter piece is easier to predict; else per piece."""
    pretraining = [r for r in rows if r["task"] == "pretrain"]
    per_char = [r for r in pretraining if r["metric"] == "mlm_loss_per_char"]
    if not (per_char and {r["run"] for r in per_char} == {r["run"] for r in pretraining}):
        per_char = [r for r in pretraining if r["metric"] == "mlm_loss"]
    left_out = {lang for _, lang in uncovered(rows)}  # from every point, so that each curve averages the same languages
    return [r for r in per_char if r["language"] not in left_out]


def uncovered(rows: list[dict]) -> dict[tuple[str, str], float]:
    """{(run, language): <unk> share} where more than UNK_SHARE_LIMIT of a language's validation pieces are <unk>:
    its tokenizer does not cover the language's text (e.g. Fig. 5's α = 1 tokenizer for Urdu), and predicting
    <unk> is easy, so its loss would look good for the wrong reason. The pretraining panel leaves such a language
    out of every point, and says so."""
    return {(r["run"], r["language"]): r["value"] for r in rows
            if r["task"] == "pretrain" and r["metric"] == "unk_share" and r["value"] > UNK_SHARE_LIMIT}


def curve_data(rows: list[dict], spec: FigureSpec, split: str = "test", pretraining: bool = False) -> dict[str, list[tuple]]:
    """{curve label: [(x, mean score in percent), ...] sorted by x} for an x-vs-score figure.

    Each run's score for a group is the mean over the group's languages it has; runs at the same x
    (e.g. seeds) are averaged. With a `series_key`, one `all` curve per series value. With
    `pretraining`, the curves are the validation MLM loss instead (not in percent), and where the runs
    pretrained on different languages (Fig. 2), `all` is the mean over the languages every run has.
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
    groups = dict(GROUPS)
    if pretraining:  # a group's label names the languages it still has (pretraining_rows left some out)
        drawn = {r["language"] for r in rows}
        groups = {(f"{label.split(' (')[0]} ({', '.join(lang for lang in langs if lang in drawn)})"
                   if langs and not set(langs) <= drawn else label): langs for label, langs in groups.items()}
    shared = set.intersection(*(set(scores) for scores in by_run.values())) if by_run else set()
    if pretraining and any(set(scores) != shared for scores in by_run.values()):
        del groups["all"]
        groups[f"all ({len(shared)} languages every point has)"] = sorted(shared)
    points = defaultdict(lambda: defaultdict(list))  # label -> x -> [run scores]
    for (x, series, _), scores in by_run.items():
        for group, langs in groups.items():
            if spec.series_key and len(series_values) > 1 and group != "all" and not group.startswith("all "):
                continue  # several series: only their `all` curves, as in the paper
            chosen = [v for lang, v in scores.items() if langs is None or lang in langs]
            if chosen:
                label = group if len(series_values) <= 1 else f"{series} ({group})"
                points[label][x].append(_mean(chosen))
    order = (lambda x: spec.categorical.index(x) if x in spec.categorical else len(spec.categorical)) \
        if spec.categorical is not None else (lambda x: x)
    return {label: sorted(((x, _mean(v)) for x, v in xs.items()), key=lambda p: order(p[0])) for label, xs in points.items()}


def encoders_shown(rows: list[dict]) -> bool:
    """Whether a per-language figure names each series' encoder: when a baseline (BERT, XLM) was run."""
    return any(r.get("encoder", NATIVE_ENCODER) != NATIVE_ENCODER for r in rows)


def series_label(spec: FigureSpec, setting, encoder: str, with_encoder: bool) -> str:
    """A per-language figure's series: the swept setting and, beside baselines, the encoder (`XLM-R`, `BERT`)."""
    parts = [str(setting)] if spec.series_key else []
    if with_encoder:
        parts.append(ENCODER_NAMES.get(encoder, encoder))
    return ", ".join(parts) or "ours"


def language_data(rows: list[dict], spec: FigureSpec, split: str = "test") -> dict[str, dict[str, float]]:
    """{series: {language: mean score in percent}} for a per-language figure (runs averaged)."""
    rows, _ = _select(rows, spec, split)
    with_encoder = encoders_shown(rows)
    values = defaultdict(lambda: defaultdict(list))
    for r in rows:
        setting = r.get(spec.series_key) if spec.series_key else None
        if spec.same_language_only.get(str(setting)) and r["language"] != r.get("train_language"):
            continue
        series = series_label(spec, setting, r.get("encoder", NATIVE_ENCODER), with_encoder)
        values[series][r["language"]].append(100.0 * r["value"])
    return {s: {lang: _mean(v) for lang, v in langs.items()} for s, langs in sorted(values.items())}


def _describe(rows: list[dict], split: str) -> str:
    scales = sorted({str(r.get("scale")) for r in rows if r.get("scale")}) or ["unknown"]
    tasks = sorted({r["task"] + (" (UDHR stand-in)" if r.get("udhr_standin") else "") for r in rows})
    runs = len({r["run"] for r in rows})
    return f"scale: {', '.join(scales)} · {', '.join(tasks)} {split} · {runs} run(s)"


def _language_order(langs) -> list[str]:
    return sorted(langs, key=lambda lang: (XNLI_ORDER.index(lang) if lang in XNLI_ORDER else len(XNLI_ORDER), lang))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, markdown: str | None = None, crop: bool = False) -> list[Path]:
    """`<out>.png`, `<out>.pdf` and, for a table, `<out>.md`; `crop` trims the margins (a drawn table)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_name(out.name + ".png"), out.with_name(out.name + ".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight" if crop else None)
    _pyplot().close(fig)
    if markdown is not None:
        paths.append(out.with_name(out.name + ".md"))
        paths[-1].write_text(markdown, encoding="utf-8")
    return paths


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def glue_scores(rows: list[dict]) -> dict[str, float]:
    """{Table 4 column: our dev score in percent, runs averaged}, plus `avg` over the paper's six columns
    when all six were run."""
    values = defaultdict(list)
    for r in rows:
        if r["task"] != "glue" or r.get("selection", "single") != "single":
            continue
        task = glue_task_name(str(r["setting"]))
        for column, column_task, split, metric in GLUE_COLUMNS:
            if (task, r["split"], r["metric"]) == (column_task, split, metric):
                values[column].append(100.0 * r["value"])
    scores = {column: _mean(v) for column, v in values.items()}
    if all(column in scores for column in GLUE_AVERAGED):
        scores["avg"] = _mean([scores[column] for column in GLUE_AVERAGED])
    return scores


def draw_glue(rows: list[dict], out: Path) -> list[Path]:
    """Table 4: our dev score per task as bars, the paper's XLM-R Large and RoBERTa rows as markers."""
    plt = _pyplot()
    ours = glue_scores(rows)
    if not ours:
        raise SystemExit("table4_glue: no GLUE dev rows to plot")
    columns = [c for c, *_ in GLUE_COLUMNS] + ["avg"]
    paper = {model: {**values, "avg": _mean([values[c] for c in GLUE_AVERAGED])} for model, values in GLUE_PAPER.items()}
    fig, ax = plt.subplots(figsize=(9, 4.8), layout="constrained")
    heights = [ours.get(c, math.nan) for c in columns]
    bars = ax.bar(range(len(columns)), heights, 0.6, color="C0", label="ours")
    ax.bar_label(bars, ["" if math.isnan(h) else f"{h:.1f}" for h in heights], fontsize=7)
    for (model, values), marker in zip(paper.items(), ("*", "D")):
        xs = [i for i, c in enumerate(columns) if c in values]
        ax.plot(xs, [values[columns[i]] for i in xs], marker, color="black" if marker == "*" else "0.45",
                markersize=11 if marker == "*" else 6, linestyle="none", label=f"paper: {model}")
    ax.set_xticks(range(len(columns)), columns)
    ax.axvline(len(columns) - 1.5, color="0.6", linewidth=0.8)
    ax.set_ylabel("dev score (%): accuracy; STS-B Pearson; CoLA Matthews")
    selected = [r for r in rows if r["task"] == "glue"]
    ax.set_title(f"Table 4: GLUE dev (avg: the paper's six columns)\n{_describe(selected, 'dev')}", fontsize=11)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
    markdown = _markdown(["model", *columns], [[f"paper: {m}", *(_cell(v.get(c)) for c in columns)] for m, v in paper.items()]
                         + [["ours", *(_cell(ours.get(c)) for c in columns)]])
    return _save(fig, out, markdown)


def mono_vs_multi_scores(rows: list[dict], split: str = "test") -> dict[str, dict[str, float]]:
    """{Table 5 setting: {language: our accuracy in percent, runs averaged}}; a monolingual (translate_train)
    run counts for its own language only."""
    rows, _ = _select([r for r in rows if r["task"] == "xnli"], SPECS["table5_mono_vs_multi"], split)
    values = defaultdict(lambda: defaultdict(list))
    for r in rows:
        setting = TABLE5_SETTINGS.get(r["setting"])
        if setting is None or (r["setting"] == "translate_train" and r["language"] != r.get("train_language")):
            continue
        values[setting][r["language"]].append(100.0 * r["value"])
    return {s: {lang: _mean(v) for lang, v in langs.items()} for s, langs in values.items()}


def draw_mono_vs_multi(rows: list[dict], out: Path, split: str = "test") -> list[Path]:
    """Table 5 in the paper's layout: for each setting the paper's Wiki and CC rows, then ours."""
    plt = _pyplot()
    ours = mono_vs_multi_scores(rows, split)
    if not ours:
        raise SystemExit("table5_mono_vs_multi: no XNLI rows to plot")
    selected, used_split = _select([r for r in rows if r["task"] == "xnli"], SPECS["table5_mono_vs_multi"], split)
    scale = ", ".join(sorted({str(r.get("scale")) for r in selected if r.get("scale")})) or "?"
    header = ["model", "data", "vocab", "setting", *TABLE5_LANGUAGES, "avg"]
    cells, ours_rows = [], []
    for setting in TABLE5_SETTINGS.values():
        for model, data, vocab, paper_setting, scores in TABLE5_PAPER:
            if paper_setting == setting:
                cells.append([f"paper: {model}", data, vocab, setting, *(f"{v:.1f}" for v in scores), f"{_mean(scores):.1f}"])
        if setting in ours:
            values = ours[setting]
            model = "ours: one per language" if setting == "monolingual" else "ours: XLM-7"
            avg = _mean(list(values.values()))
            ours_rows.append(len(cells))
            cells.append([model, f"scale {scale}", "40k-style" if setting == "monolingual" else "150k-style", setting,
                          *(_cell(values.get(lang)) for lang in TABLE5_LANGUAGES), f"{avg:.1f}"])
    fig, ax = plt.subplots(figsize=(10, 0.3 * (len(cells) + 1) + 0.6))
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="center")
    table.scale(1, 1.4)
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.auto_set_column_width(list(range(len(header))))
    for (row, _), cell in table.get_celld().items():
        if row == 0:
            cell.set_text_props(weight="bold")
        elif row - 1 in ours_rows:
            cell.set_facecolor("#fff3c4")
    ax.set_title(f"Table 5: multilingual vs monolingual, XNLI accuracy (%)\n{_describe(selected, used_split)}", fontsize=11)
    return _save(fig, out, _markdown(header, cells), crop=True)


def draw_corpus_sizes(sizes: dict[str, dict], out: Path, title: str) -> list[Path]:
    """Fig. 1 and Table 6 side by side: per language, the corpus's text (GiB) and tokens (millions) beside
    CC-100's, log scale, languages in decreasing order of CC-100 size."""
    from xlmr_lit.languages import XLMR_LANGUAGES

    plt = _pyplot()
    langs = sorted(sizes, key=lambda lang: (-XLMR_LANGUAGES[lang][2], lang) if lang in XLMR_LANGUAGES else (1, lang))
    with_tokens = any(v["tokens"] is not None for v in sizes.values())
    panels = [("size (GiB)", lambda lang: sizes[lang]["text_bytes"] / 1024**3, 2)]
    if with_tokens:
        panels.append(("tokens (millions)", lambda lang: (sizes[lang]["tokens"] or math.nan) / 1e6, 1))
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(8, 0.16 * len(langs) + 2), 3.4 * len(panels) + 0.8),
                             layout="constrained", squeeze=False)
    xs = range(len(langs))
    for ax, (label, ours, column) in zip(axes[:, 0], panels):
        cc100 = [XLMR_LANGUAGES[lang][column] if lang in XLMR_LANGUAGES else math.nan for lang in langs]
        ax.bar([x - 0.2 for x in xs], cc100, 0.4, color="C0", label="CC-100 (XLM-R, Table 6)")
        ax.bar([x + 0.2 for x in xs], [ours(lang) for lang in langs], 0.4, color="C1", label="this corpus")
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xticks(list(xs), langs, rotation=90, fontsize=6 if len(langs) > 40 else 8)
        ax.set_xlim(-0.7, len(langs) - 0.3)
        ax.grid(alpha=0.3, axis="y")
        _legend_beside(ax)
    total = sum(v["text_bytes"] for v in sizes.values()) / 1024**3
    cc100 = sum(XLMR_LANGUAGES[lang][2] for lang in langs if lang in XLMR_LANGUAGES)
    axes[0][0].set_title(f"Fig. 1 / Table 6: text per language, log scale\n{title} · {len(langs)} languages, "
                         f"{total:.3g} GiB in all (CC-100, the same languages: {cc100:,.0f} GiB)", fontsize=11)
    rows = [[lang, f"{sizes[lang]['text_bytes'] / 1024**3:.3g}",
             "-" if sizes[lang]["tokens"] is None else f"{sizes[lang]['tokens'] / 1e6:.3g}",
             *(f"{XLMR_LANGUAGES[lang][c]:g}" if lang in XLMR_LANGUAGES else "-" for c in (2, 1))] for lang in langs]
    return _save(fig, out, _markdown(["language", "GiB", "tokens (M)", "CC-100 GiB", "CC-100 tokens (M)"], rows))


def draw(experiment: str, rows: list[dict], out: Path, split: str = "test") -> list[Path]:
    """Write `<out>.png` and `<out>.pdf` (and `<out>.md` for Tables 4 and 5); returns their paths."""
    name = Path(experiment).stem
    if name == "table4_glue":
        return draw_glue(rows, out)
    if name == "table5_mono_vs_multi":
        return draw_mono_vs_multi(rows, out, split)
    if name == EXTENSION_FIGURE:
        return draw_extension(rows, out)
    plt = _pyplot()
    spec = spec_for(experiment)
    if spec.x_key and rows and not any(spec.x_key in r for r in rows):
        runs = sorted({str(r["run"]) for r in rows})
        raise SystemExit(f"{experiment}: no result row has {spec.x_key}, the setting its sweep varies, so there is "
                         f"nothing to draw: {', '.join(runs[:5])}{' ...' if len(runs) > 5 else ''} "
                         f"are no points of its sweep (xlmr-train experiment={name} runs them)")
    selected, used_split = _select(rows, spec, split)
    if not selected and spec.x_key and pretraining_rows(rows):  # a sweep run without its downstream (~downstream)
        fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
        _draw_pretraining(ax, rows, spec)
        scales = ", ".join(sorted({str(r.get("scale")) for r in pretraining_rows(rows) if r.get("scale")})) or "?"
        fig.suptitle(f"{spec.title}: pretraining only, scale {scales}", fontsize=11)
        return _save(fig, out)
    if not selected:
        raise SystemExit(f"{experiment}: no {split} or dev rows to plot")
    metric = selected[0]["metric"]
    with_pretraining = bool(spec.x_key and pretraining_rows(rows))
    fig, axes = plt.subplots(1, 2 if with_pretraining else 1, figsize=(14 if with_pretraining else 10, 4.8),
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
        marked = set()
        for p in spec.paper:
            if p.x is None:
                continue
            if spec.categorical is not None and p.x not in cats:
                notes.append(p.label)
                continue
            if p.y is None:
                ax.axvline(position(p.x), color="black", linestyle=":", linewidth=1.2, label=p.label)
            else:
                ax.plot([position(p.x)], [p.y], p.marker, color="black", markersize=12,
                        label=None if p.label in marked else p.label)
                marked.add(p.label)
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
            ax.axhline(avg, color=f"C{i}", linestyle="--", linewidth=0.8, label=f"{series}: average {avg:.1f}")
        marked = set()
        with_encoder = encoders_shown(selected)
        for p in spec.paper:
            series = series_label(spec, p.series, p.encoder, with_encoder)
            if p.x is None or p.x not in langs or series not in data or (p.encoder != NATIVE_ENCODER and not with_encoder):
                continue  # a baseline's row only beside its runs
            i = list(data).index(series)
            ax.plot([langs.index(p.x) + (i - (len(data) - 1) / 2) * width], [p.y], p.marker, color="black", markersize=10 if p.marker == "*" else 6,
                    label=None if p.label in marked else p.label)
            marked.add(p.label)
        ax.set_xticks(range(len(langs)), langs)
        for (label, value), style in zip(recipe_expectations(selected, spec), ("-.", ":", (0, (6, 2)), (0, (1, 3)))):
            ax.axhline(value, color="black", linestyle=style, linewidth=1.2, label=f"{label}: {value:g}")
    low, high = ax.get_ylim()
    if high - low < 10:  # at least 10 points of y range, so that noise does not look like an effect
        middle = (low + high) / 2
        ax.set_ylim(middle - 5, middle + 5)
    ax.set_xlabel(spec.x_label)
    ax.set_ylabel(f"{metric} (%), {used_split}")
    ax.set_title(f"{spec.title}\n{_describe(selected, used_split)}", fontsize=11)
    ax.grid(alpha=0.3)
    _legend_beside(ax, notes)
    if with_pretraining:
        _draw_pretraining(axes[0][1], rows, spec)
    return _save(fig, out)


def recipe_expectations(rows: list[dict], spec: FigureSpec) -> list[tuple[str, float]]:
    """(label, average test score) that the sources of the recipes these rows ran with (`recipe`, task.recipe)
    report for the figure's benchmark, from the recipes in conf/task/<task>.yaml."""
    from xlmr_lit.recipes import expected_scores

    if spec.recipe_benchmark is None:
        return []
    ran = sorted({(r["task"], r["recipe"]) for r in rows if r.get("recipe")})
    return [(f"expected, task.recipe={recipe}: {label}", value)
            for task, recipe in ran for label, value in expected_scores(task, recipe, spec.recipe_benchmark).items()]


def draw_extension(rows: list[dict], out: Path) -> list[Path]:
    """experiments/extend_languages.yaml: the new languages' validation loss per character by continued-pretraining
    step, one curve per point, and the old languages' before (step 0) and after; `<out>.md` has the numbers."""
    from xlmr_lit.extension_curves import POINT_LABELS, extension_points, extension_table, mean_curve

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
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.minorticks_off()
    ax.set_xlabel(spec.x_label)
    shown = pretraining_rows(rows)
    unit = "nats per character" if shown and shown[0]["metric"] == "mlm_loss_per_char" else "nats per masked piece"
    ax.set_ylabel(f"validation MLM loss ({unit})")
    ax.set_title(f"pretraining, held-out text · {len({r['run'] for r in shown})} run(s)", fontsize=11)
    ax.grid(alpha=0.3)
    runs = defaultdict(set)  # run -> its pretraining languages
    for r in rows:
        if r["task"] == "pretrain" and r["metric"] == "mlm_loss":
            runs[r["run"]].add(r["language"])
    would_draw = set.intersection(*runs.values()) | {lang for langs in GROUPS.values() if langs for lang in langs}
    worst = {}  # language -> (largest <unk> share, its run), for the languages a curve would have had
    for (run, lang), share in uncovered(rows).items():
        if lang in would_draw:
            worst[lang] = max(worst.get(lang, (0.0, run)), (share, run))
    notes = []
    for lang, (share, run) in sorted(worst.items()):
        x = next((_x(spec, r[spec.x_key]) for r in rows if r["run"] == run and spec.x_key in r), run)
        notes.append(f"{lang} left out: up to {share:.0%} of its validation pieces are <unk> ({spec.x_label.split()[0]} = "
                     + (f"{x:g})" if isinstance(x, float) else f"{x})"))
    if len(worst) > MAX_LEFT_OUT_NOTES:  # a note each would push the panel off the figure (lang100, small vocabularies)
        lang, (share, _) = max(worst.items(), key=lambda item: item[1][0])
        notes = [f"{len(worst)} languages left out, more than {UNK_SHARE_LIMIT:.0%} of their validation pieces <unk> "
                 f"at some point (most: {lang}, {share:.0%}): {', '.join(sorted(worst))}"]
    _legend_beside(ax, notes)


def _legend_beside(ax, notes: list[str] = ()) -> None:
    """The legend right of the axes, where it covers no bar, point or line; the paper's notes are its last
    entries, without a marker."""
    from matplotlib.container import BarContainer

    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: not isinstance(handles[i], BarContainer))  # ours first
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    for note in notes:
        handles.append(ax.plot([], [], " ")[0])
        labels.append(textwrap.fill(note, 36))
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)


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


def corpus_figure(args) -> list[Path]:
    """fig1_data (a run's corpus, or --corpus DIR) and table6."""
    from xlmr_lit.corpus_sizes import language_sizes, run_corpus, write_table6
    from xlmr_lit.languages import BUNDLED_CORPUS_DIR

    if args.experiment == "table6":
        return write_table6(args.out)
    if args.corpus:
        corpus_dir = args.corpus
        languages = args.languages or sorted(p.name.split(".")[0] for p in corpus_dir.glob("*.txt*"))
        spm_path, title = args.tokenizer, f"corpus {corpus_dir}"
    elif args.runs and len(args.runs) == 1:
        corpus_dir, languages, spm_path = run_corpus(args.runs[0])
        corpus = "the bundled UDHR corpus" if corpus_dir == BUNDLED_CORPUS_DIR else f"corpus {corpus_dir}"
        title = f"run {args.runs[0].name} ({corpus}, the run's tokenizer)"
    else:
        raise SystemExit("fig1_data: give one pretraining run (--runs <run dir>) or a corpus (--corpus DIR)")
    if not languages:
        raise SystemExit(f"fig1_data: no <lang>.txt[.gz|.xz] files in {corpus_dir}")
    return draw_corpus_sizes(language_sizes(corpus_dir, languages, spm_path), args.out, title)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw an experiment's figure (PNG and PDF) from its runs' result rows.")
    parser.add_argument("experiment", help=f"one of: {', '.join(KNOWN)}")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--runs", nargs="+", type=Path, help="sweep or run directories (searched for results.jsonl)")
    source.add_argument("--wandb", metavar="ENTITY/PROJECT", help="read the runs' results tables through the wandb API")
    source.add_argument("--corpus", type=Path, help="fig1_data: a corpus dir of <lang>.txt[.gz|.xz] (CC-100 layout)")
    parser.add_argument("--languages", nargs="+", help="fig1_data --corpus: these languages only (default: every file)")
    parser.add_argument("--tokenizer", type=Path, help="fig1_data --corpus: a SentencePiece model to count tokens with")
    parser.add_argument("--scale", help="with --wandb: only the sweep at this scale (group <experiment>-<scale>)")
    parser.add_argument("--split", default="test", help="test (default; dev where a run has no test) or dev")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix: writes .png and .pdf")
    args = parser.parse_args(argv)
    if args.experiment in CORPUS_FIGURES:
        for path in corpus_figure(args):
            print(path)
        return
    spec_for(args.experiment)
    if args.experiment == EXTENSION_FIGURE and not args.runs:
        parser.error(f"{EXTENSION_FIGURE} reads each run's csv/metrics.csv: give --runs")
    if not (args.runs or args.wandb):
        parser.error(f"{args.experiment} reads result rows: give --runs or --wandb")
    rows = read_rows(args.runs) if args.runs else wandb_rows(args.experiment, args.wandb, args.scale)
    if not rows:
        raise SystemExit(f"no result rows in {args.runs or args.wandb}")
    for path in draw(args.experiment, rows, args.out, args.split):
        print(path)


if __name__ == "__main__":
    main()
