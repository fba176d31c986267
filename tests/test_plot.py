"""xlmr-plot: figures from result rows written the way sweep points write them, and from wandb."""

import itertools
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

pytest.importorskip("matplotlib")

from xlmr_lit.plot import SPECS, curve_data, draw, language_data, main, wandb_rows  # noqa: E402
from xlmr_lit.results import read_rows  # noqa: E402
from xlmr_lit.cli import CONF_DIR  # noqa: E402
from conftest import EXPERIMENTS_DIR, sweep_params  # noqa: E402

LANGS = ["en", "fr", "de", "ru", "zh", "sw", "ur"]


def score(lang: str, point: dict) -> float:
    """A made-up accuracy that depends on the language and the sweep point, known to the test."""
    return 0.5 + 0.01 * LANGS.index(lang) + 0.001 * (sum(map(ord, "".join(point.values()))) % 50)


def write_point(sweep_dir: Path, point: dict, task: str = "xnli", setting: str = "cross_lingual_transfer",
                scale: str = "tiny", metric: str = "accuracy", langs=LANGS, extra: dict | None = None) -> None:
    """results.jsonl as the pipeline writes it under <point>/finetune/: both selections, dev and test."""
    run = sweep_dir / ",".join(f"{k}={v}" for k, v in point.items()) / "finetune"
    run.mkdir(parents=True)
    with open(run / "results.jsonl", "w") as f:
        for selection, split, lang in itertools.product(("single", "per_language"), ("dev", "test"), langs):
            value = score(lang, point) + (0.2 if (selection, split) != ("single", "test") else 0.0)  # must not be used
            row = {"task": task, "setting": setting, "selection": selection, "split": split, "language": lang,
                   "metric": metric, "value": value, "epoch": 1, "init": "ckpt", "seed": 1, "lr": 1e-4,
                   "train_language": "en", "scale": scale, **{f"override.{k}": v for k, v in point.items()},
                   **(extra or {})}
            f.write(json.dumps(row) + "\n")


def grid(experiment: str) -> list[dict]:
    params = sweep_params(experiment)
    return [dict(zip(params, values)) for values in itertools.product(*params.values())]


def mean(xs):
    return sum(xs) / len(xs)


@pytest.mark.parametrize("experiment", ["fig2_languages", "fig4_capacity", "fig5_alpha", "fig6_vocab", "fig7_batch_tokenizer"])
def test_curve_figures_plot_what_the_rows_say(experiment, tmp_path):
    points = grid(experiment)
    for point in points:
        write_point(tmp_path / "sweep", point)
    rows = read_rows([tmp_path / "sweep"])
    spec = SPECS[experiment]
    curves = curve_data(rows, spec)

    x_name = spec.x_key.removeprefix("override.")
    series_name = spec.series_key.removeprefix("override.") if spec.series_key else None
    series_values = sorted({p[series_name] for p in points if series_name in p}) if series_name else []
    if len(series_values) > 1:  # one `all` curve per series value
        assert set(curves) == {f"{s} (all)" for s in series_values}
        expected = {f"{s} (all)": [p for p in points if p[series_name] == s] for s in series_values}
        groups = {label: LANGS for label in expected}
    else:  # high, low, all over the same points
        assert set(curves) == {"high-resource (en, fr)", "low-resource (sw, ur)", "all"}
        expected = {label: points for label in curves}
        groups = {"high-resource (en, fr)": ["en", "fr"], "low-resource (sw, ur)": ["sw", "ur"], "all": LANGS}
    def x_of(point):  # the paper's x: a language count, or the swept value as a category
        raw = point[x_name]
        if spec.x_values:
            return spec.x_values[raw]
        return f"{float(raw):g}" if raw.replace(".", "").isdigit() else raw

    for label, pts in curves.items():
        by_x = {x_of(p): p for p in expected[label]}
        order = sorted(by_x, key=lambda x: spec.categorical.index(x)) if spec.categorical else sorted(by_x)
        assert [x for x, _ in pts] == order, label
        for x, y in pts:
            assert y == pytest.approx(100 * mean([score(lang, by_x[x]) for lang in groups[label]])), (label, x)

    paths = draw(experiment, rows, tmp_path / "out" / experiment)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in paths)


def test_fig5_curves_are_the_alpha_grid_and_average_seeds(tmp_path):
    for alpha in ("0.01", "0.3", "0.7", "1.0"):
        write_point(tmp_path / "s", {"data.alpha": alpha})
    write_point(tmp_path / "seed2", {"data.alpha": "0.3"}, extra={"value": 0.9})  # a second run at 0.3, all 90%
    curves = curve_data(read_rows([tmp_path]), SPECS["fig5_alpha"])
    assert [x for x, _ in curves["all"]] == ["0.01", "0.3", "0.7", "1"]
    at_03 = dict(curves["low-resource (sw, ur)"])["0.3"]
    assert at_03 == pytest.approx((100 * mean([score(l, {"data.alpha": "0.3"}) for l in ("sw", "ur")]) + 90) / 2)


def test_per_language_figures(tmp_path):
    for corpus in ("cc", "wiki"):
        write_point(tmp_path / "fig3", {"corpus": corpus})
    data = language_data(read_rows([tmp_path / "fig3"]), SPECS["fig3_corpus"])
    assert set(data) == {"cc", "wiki"}
    assert data["wiki"]["sw"] == pytest.approx(100 * score("sw", {"corpus": "wiki"}))
    assert draw("fig3_corpus", read_rows([tmp_path / "fig3"]), tmp_path / "fig3_out")[0].stat().st_size > 10_000

    for setting in ("cross_lingual_transfer", "translate_train_all"):
        write_point(tmp_path / "t1", {"setting": setting}, task="xnli", setting=setting, scale=None)
    rows = read_rows([tmp_path / "t1"])
    assert set(language_data(rows, SPECS["table1_xnli"])) == {"cross_lingual_transfer", "translate_train_all"}
    assert draw("tables/table1_xnli", rows, tmp_path / "t1_out")[1].stat().st_size > 10_000

    # NER train_each: each language's score comes from the model trained on it
    for lang in ("en", "de"):
        write_point(tmp_path / "ner", {"ner_run": f"each_{lang}"}, task="ner", setting="train_each", metric="f1",
                    langs=["en", "de"], extra={"train_language": lang})
    data = language_data(read_rows([tmp_path / "ner"]), SPECS["table2_ner"])
    assert data == {"train_each": {"en": pytest.approx(100 * score("en", {"ner_run": "each_en"})),
                                   "de": pytest.approx(100 * score("de", {"ner_run": "each_de"}))}}


def test_bars_are_labelled_with_their_values_so_a_zero_shows(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    write_point(tmp_path / "ner", {"ner_run": "all"}, task="ner", setting="train_all", metric="f1", langs=["en", "de"])
    rows = [{**row, "value": 0.0 if row["language"] == "de" else row["value"]} for row in read_rows([tmp_path / "ner"])]
    draw("tables/table2_ner", rows, tmp_path / "out")
    labels = [text.get_text() for text in figures[0].axes[0].texts]
    assert "0" in labels and f"{100 * score('en', {'ner_run': 'all'}):.0f}" in labels


def test_cli_writes_png_and_pdf(tmp_path, capsys):
    for alpha in ("0.3", "1.0"):
        write_point(tmp_path / "sweep", {"data.alpha": alpha})
    main(["fig5_alpha", "--runs", str(tmp_path / "sweep"), "--out", str(tmp_path / "docs" / "fig")])
    assert (tmp_path / "docs" / "fig.png").stat().st_size > 10_000 and (tmp_path / "docs" / "fig.pdf").is_file()
    assert "fig.png" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no figure"):
        main(["fig99", "--runs", str(tmp_path), "--out", str(tmp_path / "x")])


class FakeFile:
    def __init__(self, content: dict):
        self.content = content

    def download(self, root: str, replace: bool):
        path = Path(root) / "results.table.json"
        path.write_text(json.dumps(self.content))
        return open(path)


class FakeRun:
    def __init__(self, run_id: str, rows: list[dict] | None):
        self.id = run_id
        self.summary = {"results": {"_type": "table-file", "path": "media/table/results.table.json"}} if rows else {}
        self.rows = rows

    def file(self, path: str):
        assert path == "media/table/results.table.json"
        columns = list(self.rows[0])
        return FakeFile({"columns": columns, "data": [[r[c] for c in columns] for r in self.rows]})


class FakeApi:
    def __init__(self, runs):
        self._runs, self.calls = runs, []

    def runs(self, path, filters):
        self.calls.append((path, filters))
        return self._runs


def test_wandb_rows_read_each_runs_results_table(tmp_path):
    for alpha in ("0.01", "0.3"):
        write_point(tmp_path, {"data.alpha": alpha})
    by_run = {p.parent.parent.name: [json.loads(l) for l in open(p)] for p in sorted(tmp_path.rglob("results.jsonl"))}
    api = FakeApi([FakeRun("a", by_run["data.alpha=0.01"]), FakeRun("pre", None), FakeRun("b", by_run["data.alpha=0.3"])])
    rows = wandb_rows("fig5_alpha", "me/xlmr-lit", scale="tiny", api=api)
    assert api.calls == [("me/xlmr-lit", {"group": "fig5_alpha-tiny"})]
    assert len(rows) == sum(map(len, by_run.values())) and {r["run"] for r in rows} == {"me/xlmr-lit/a", "me/xlmr-lit/b"}
    local = curve_data(read_rows([tmp_path]), SPECS["fig5_alpha"])
    assert curve_data(rows, SPECS["fig5_alpha"]) == local
    wandb_rows("fig5_alpha", "me/xlmr-lit", api=api)
    assert api.calls[-1] == ("me/xlmr-lit", {"tags": {"$in": ["fig5_alpha"]}})


FIGURES = sorted(p.stem for p in EXPERIMENTS_DIR.glob("fig*.yaml"))


def test_every_figure_has_a_plot_and_every_swept_x_is_known():
    for experiment in FIGURES:
        spec = SPECS[experiment]
        params = sweep_params(experiment)
        if spec.x_key:
            key = spec.x_key.removeprefix("override.")
            known = spec.x_values or {c: c for c in spec.categorical}
            assert all((v if v in known else f"{float(v):g}") in known for v in params[key]), experiment
        if spec.series_key and spec.series_key.startswith("override."):
            series = spec.series_key.removeprefix("override.")
            assert series in params or series == "tokenizer.model_type", experiment


@pytest.mark.parametrize("scale", ["tiny", "small", "paper"])
@pytest.mark.parametrize("experiment", FIGURES)
def test_every_figure_composes_at_every_scale(experiment, scale):
    """Every grid point's sizes resolve (no training): the scale sets sizes, the experiment the grid."""
    params = sweep_params(experiment)
    for values in itertools.product(*params.values()):
        overrides = [f"{k}={v}" for k, v in zip(params, values)]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[f"experiment={experiment}", f"scale={scale}", *overrides,
                                              "scale_grid.corpus.cc.corpus_dir=/cc", "scale_grid.corpus.wiki.corpus_dir=/wiki"],
                          return_hydra_config=False)
        assert cfg.scale_name == scale
        assert cfg.downstream.name == "xnli" and cfg.downstream.udhr_standin == (scale == "tiny")
        m = cfg.model
        assert m.hidden_size % m.num_attention_heads == 0 and m.vocab_size > 0
        assert cfg.train.global_batch_size % cfg.data.micro_batch_size == 0
        assert cfg.trainer.accelerator == ("cpu" if scale == "tiny" else "gpu")
        assert OmegaConf.to_container(cfg.logger.wandb, resolve=True)["tags"] == [experiment, scale]


def test_table_experiments_compose():
    """Tables 1-4 fine-tune one model, which downstream.init can give; Table 5 pretrains one per language."""
    for table in sorted(p.stem for p in (EXPERIMENTS_DIR / "tables").glob("*.yaml")):
        init = [] if table == "table5_mono_vs_multi" else ["downstream.init=hf:some/model"]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[f"experiment=tables/{table}", "scale=paper", *init, "downstream.data_dir=/data"])
        assert cfg.task.name == "pretrain" and cfg.downstream.name in ("xnli", "ner", "qa", "glue") and table in SPECS
        assert cfg.downstream.get("init") == (init[0].split("=")[1] if init else None) and cfg.trainer.accelerator == "gpu"


@pytest.mark.parametrize("scale", ["tiny", "small", "paper"])
def test_table5_points_pretrain_their_own_vocabulary_at_every_scale(scale):
    vocab = {}
    for run in ("mono_sw", "xlm7_tta"):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=["experiment=tables/table5_mono_vs_multi", f"scale={scale}", f"model_run={run}",
                                              "data.corpus_dir=/cc100"])
        languages = OmegaConf.to_container(cfg.data.languages) if OmegaConf.is_list(cfg.data.languages) else cfg.data.languages
        if run.startswith("mono_"):
            language = run.removeprefix("mono_")
            assert languages == [language] and cfg.downstream.setting == "translate_train"
            assert cfg.downstream.train_language == language
        else:
            assert languages == "xnli7" and cfg.downstream.train_language == "en"
        vocab[run.split("_")[0]] = cfg.model.vocab_size
    assert vocab["mono"] < vocab["xlm7"] and round(vocab["xlm7"] / vocab["mono"], 2) == 3.75  # the paper's 150k / 40k


def test_pretraining_panel_from_the_pipelines_first_half(tmp_path):
    from xlmr_lit.results import write_rows
    from xlmr_lit.pretrain import pretraining_rows

    for alpha, loss in (("0.3", 5.0), ("1.0", 6.0)):
        write_point(tmp_path / "s", {"data.alpha": alpha})
        losses = {f"val/loss_{lang}": loss + LANGS.index(lang) for lang in LANGS}
        write_rows(pretraining_rows(losses, LANGS, {"scale": "tiny", "override.data.alpha": alpha}),
                   tmp_path / "s" / f"data.alpha={alpha}")
    rows = read_rows([tmp_path])
    curves = curve_data(rows, SPECS["fig5_alpha"], pretraining=True)
    assert dict(curves["low-resource (sw, ur)"]) == {"0.3": 5.0 + 5.5, "1": 6.0 + 5.5}  # sw=5, ur=6 above the base
    downstream = curve_data(rows, SPECS["fig5_alpha"])
    assert [x for x, _ in downstream["all"]] == ["0.3", "1"]  # the loss rows do not leak into the accuracy panel
    png, pdf = draw("fig5_alpha", rows, tmp_path / "fig")
    assert png.stat().st_size > 20_000 and pdf.stat().st_size > 5_000


def test_pretraining_panel_is_per_character_when_every_run_has_it(tmp_path):
    """Fig. 5 trains a tokenizer per alpha: per piece, the alpha with the shorter pieces looks better; per
    character (loss x pieces per character) the order is the true one. A run without per-character rows (an
    older one) puts the whole panel back per piece, never mixing the units."""
    from xlmr_lit.pretrain import pretraining_rows
    from xlmr_lit.results import write_rows

    pieces_per_char = {"0.3": 0.25, "1.0": 0.5}  # alpha=1's tokenizer cuts low-resource text into short pieces
    for alpha, loss in (("0.3", 5.0), ("1.0", 4.0)):
        results = {f"val/loss_{lang}": loss for lang in LANGS}
        results |= {f"val/loss_per_char_{lang}": loss * pieces_per_char[alpha] for lang in LANGS}
        (tmp_path / "s" / f"data.alpha={alpha}").mkdir(parents=True)
        write_rows(pretraining_rows(results, LANGS, {"scale": "mini", "override.data.alpha": alpha}),
                   tmp_path / "s" / f"data.alpha={alpha}")
    rows = read_rows([tmp_path / "s"])
    curves = curve_data(rows, SPECS["fig5_alpha"], pretraining=True)
    assert dict(curves["all"]) == {"0.3": 1.25, "1": 2.0}
    png, _ = draw("fig5_alpha", rows, tmp_path / "fig")
    assert png.stat().st_size > 10_000

    old = [r for r in rows if not (r["metric"] == "mlm_loss_per_char" and r["run"].endswith("1.0"))]
    assert dict(curve_data(old, SPECS["fig5_alpha"], pretraining=True)["all"]) == {"0.3": 5.0, "1": 4.0}


def test_fig2_pretraining_panel_averages_the_languages_every_point_has(tmp_path):
    """Fig. 2's points pretrain on 7, 15, ... languages: a mean over each point's own languages would compare
    different languages, so `all` is the mean over those every point has."""
    from xlmr_lit.pretrain import pretraining_rows
    from xlmr_lit.results import write_rows

    for name, langs, loss in (("xnli7", LANGS, 2.0), ("xnli15", [*LANGS, "es", "el"], 2.5)):
        results = {f"val/loss_per_char_{lang}": loss for lang in LANGS} | {f"val/loss_{lang}": 6.0 for lang in langs}
        results |= {f"val/loss_per_char_{lang}": 9.0 for lang in langs if lang not in LANGS}
        (tmp_path / "s" / name).mkdir(parents=True)
        write_rows(pretraining_rows(results, langs, {"scale": "mini", "override.data.languages": name}), tmp_path / "s" / name)
    curves = curve_data(read_rows([tmp_path / "s"]), SPECS["fig2_languages"], pretraining=True)
    assert "all" not in curves
    assert curves[f"all ({len(LANGS)} languages every point has)"] == [(7, 2.0), (15, 2.5)]


def test_pretraining_panel_leaves_out_a_language_its_tokenizer_does_not_cover(tmp_path):
    """At alpha=1 the tokenizer, sampled with the same alpha, turns half of Urdu into <unk>, which is easy to predict:
    ur leaves the panel at every point (so the low-resource curve is sw throughout), and the legend says why."""
    from xlmr_lit.pretrain import pretraining_rows
    from xlmr_lit.results import write_rows

    for alpha, ur_loss, ur_unk in (("0.3", 3.0, 0.0), ("1.0", 0.5, 0.48)):
        results = {f"val/loss_per_char_{lang}": 2.0 for lang in LANGS} | {f"val/loss_{lang}": 6.0 for lang in LANGS}
        results |= {"val/loss_per_char_ur": ur_loss} | {f"val/unk_share_{lang}": 0.0 for lang in LANGS}
        results["val/unk_share_ur"] = ur_unk
        (tmp_path / "s" / f"data.alpha={alpha}").mkdir(parents=True)
        write_rows(pretraining_rows(results, LANGS, {"scale": "mini", "override.data.alpha": alpha}),
                   tmp_path / "s" / f"data.alpha={alpha}")
    rows = read_rows([tmp_path / "s"])
    curves = curve_data(rows, SPECS["fig5_alpha"], pretraining=True)
    assert dict(curves["low-resource (sw)"]) == {"0.3": 2.0, "1": 2.0}  # sw alone, at both points, and named so
    assert dict(curves["all"]) == {"0.3": 2.0, "1": 2.0}

    import matplotlib.pyplot as plt

    captured = {}
    original = plt.close
    plt.close = lambda fig: captured.setdefault("fig", fig)
    try:
        draw("fig5_alpha", rows, tmp_path / "fig")
    finally:
        plt.close = original
    legend = [" ".join(t.get_text().split()) for ax in captured["fig"].axes if ax.get_legend()
              for t in ax.get_legend().get_texts()]  # the notes are wrapped
    assert any(t.startswith("ur left out: up to 48% of its validation pieces are <unk>") and "= 1)" in t
               for t in legend), legend


def test_many_languages_left_out_of_the_pretraining_panel_share_one_legend_note(tmp_path):
    """Fig. 6 at tiny: lang100 with an 8000-piece vocabulary leaves dozens of scripts mostly <unk>; one note names
    them all, where a note each pushed both panels to a sliver of the figure."""
    from xlmr_lit.pretrain import pretraining_rows
    from xlmr_lit.results import write_rows

    langs = [*LANGS, "am", "ja", "ko", "km", "ta"]
    for vocab, unk in (("32k", 0.0), ("256k", 0.3)):
        results = {f"val/loss_per_char_{lang}": 2.0 for lang in langs} | {f"val/loss_{lang}": 6.0 for lang in langs}
        results |= {f"val/unk_share_{lang}": unk if lang in ("am", "ja", "ko", "km", "ta") else 0.0 for lang in langs}
        results["val/unk_share_ko"] = 0.39 if unk else 0.0
        (tmp_path / "s" / vocab).mkdir(parents=True)
        write_rows(pretraining_rows(results, langs, {"scale": "tiny", "override.vocab": vocab, "override.capacity": "fixed"}),
                   tmp_path / "s" / vocab)
    import matplotlib.pyplot as plt

    captured = {}
    original = plt.close
    plt.close = lambda fig: captured.setdefault("fig", fig)
    try:
        draw("fig6_vocab", read_rows([tmp_path / "s"]), tmp_path / "fig")
    finally:
        plt.close = original
    legend = [" ".join(t.get_text().split()) for ax in captured["fig"].axes if ax.get_legend()
              for t in ax.get_legend().get_texts()]
    notes = [t for t in legend if "left out" in t]
    assert notes == ["5 languages left out, more than 5% of their validation pieces <unk> at some point (most: ko, "
                     "39%): am, ja, km, ko, ta"], legend


def test_a_sweep_without_downstream_draws_its_pretraining_panel(tmp_path):
    """`xlmr-train experiment=fig5_alpha '~downstream'` writes only the pretraining rows; the figure draws them."""
    from xlmr_lit.pretrain import pretraining_rows
    from xlmr_lit.results import write_rows

    for alpha, loss in (("0.3", 5.0), ("1.0", 6.0)):
        losses = {f"val/loss_{lang}": loss for lang in LANGS}
        (tmp_path / "s" / f"data.alpha={alpha}").mkdir(parents=True)
        write_rows(pretraining_rows(losses, LANGS, {"scale": "mini", "override.data.alpha": alpha}),
                   tmp_path / "s" / f"data.alpha={alpha}")
    rows = read_rows([tmp_path])
    assert rows and all(r["task"] == "pretrain" for r in rows)
    png, pdf = draw("fig5_alpha", rows, tmp_path / "fig")
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 3_000
    with pytest.raises(SystemExit, match="no test or dev rows"):
        draw("fig5_alpha", [], tmp_path / "none")


def test_figures_say_when_they_read_a_standin():
    from xlmr_lit.plot import _describe

    row = {"task": "xnli", "run": "a", "scale": "tiny"}
    assert _describe([{**row, "udhr_standin": True}], "test") == "scale: tiny · xnli (UDHR stand-in) test · 1 run(s)"
    assert _describe([row], "test") == "scale: tiny · xnli test · 1 run(s)"


# ----------------------------------------------------------------------------------------------
# Tables 4 and 5, Fig. 1 and Table 6


def test_the_papers_rows_average_to_the_papers_printed_averages():
    """Catches a mistyped number in the overlays: each row's mean is the average the paper prints."""
    from xlmr_lit.plot import (GLUE_AVERAGED, GLUE_PAPER, MLQA_BASE_F1, MLQA_LARGE_F1, MLQA_MBERT_F1, MLQA_XLM15_F1,
                               NER_BASE_ALL, NER_BASE_EACH, NER_MBERT_EACH, TABLE5_PAPER, XNLI_BASE, XNLI_BASE_TTA,
                               XNLI_MBERT, XNLI_ROBERTA_TRANSLATE_TEST, XNLI_XLM100, XNLI_XLM100_TTA)

    printed = [(XNLI_BASE.values(), 76.2), (XNLI_BASE_TTA.values(), 79.1), (XNLI_ROBERTA_TRANSLATE_TEST.values(), 77.8),
               (NER_BASE_EACH.values(), 88.81), (NER_BASE_ALL.values(), 87.66), (MLQA_LARGE_F1.values(), 70.7),
               (MLQA_BASE_F1.values(), 63.7), ([GLUE_PAPER["XLM-R Large"][c] for c in GLUE_AVERAGED], 91.8),
               ([GLUE_PAPER["RoBERTa"][c] for c in GLUE_AVERAGED], 92.8),
               (XNLI_MBERT.values(), 66.3), (XNLI_XLM100_TTA.values(), 76.9), (NER_MBERT_EACH.values(), 88.28),
               (XNLI_XLM100.values(), 71.3),  # printed as the #M N row's average: the paper swaps the two (plot.py)
               (MLQA_MBERT_F1.values(), 57.7), (MLQA_XLM15_F1.values(), 61.6)]
    printed += list(zip((scores for *_, scores in TABLE5_PAPER), (73.4, 77.5, 71.8, 76.2, 76.3, 80.0)))
    for values, average in printed:
        digits = len(str(average).split(".")[1])
        assert round(mean(list(values)), digits) == average


GLUE_METRICS = {"cola": ["matthews_corr"], "stsb": ["pearson", "spearman"], "mrpc": ["accuracy", "f1"],
                "qqp": ["accuracy", "f1"]}


def write_glue_point(sweep_dir: Path, task: str) -> None:
    """A Table 4 point's rows: dev only (MNLI: also dev_mismatched), language en, the task's metrics."""
    run = sweep_dir / f"task={task}" / "finetune"
    run.mkdir(parents=True)
    splits = ["dev", "dev_mismatched"] if task == "mnli" else ["dev"]
    with open(run / "results.jsonl", "w") as f:
        for selection, split, metric in itertools.product(("single", "per_language"), splits,
                                                          GLUE_METRICS.get(task, ["accuracy"])):
            value = 0.4 + 0.01 * len(task) + (0.05 if split == "dev_mismatched" else 0) + (0.1 if metric == "f1" else 0)
            f.write(json.dumps({"task": "glue", "setting": task, "selection": selection, "split": split, "language": "en",
                                "metric": metric, "value": value, "scale": "tiny", "udhr_standin": True,
                                "override.downstream.glue_task": task}) + "\n")


def test_table4_glue_reads_each_tasks_metric_and_writes_the_paper_beside_ours(tmp_path):
    from xlmr_lit.plot import glue_scores

    tasks = sweep_params("table4_glue")["downstream.glue_task"]
    assert tasks == ["mnli", "qnli", "qqp", "sst2", "mrpc", "stsb", "cola", "rte"]
    for task in tasks:
        write_glue_point(tmp_path / "sweep", task)
    scores = glue_scores(read_rows([tmp_path / "sweep"]))
    expected = {"MNLI-m": 44, "MNLI-mm": 49, "QNLI": 44, "QQP": 43, "SST-2": 44, "MRPC": 44, "STS-B": 44, "CoLA": 44, "RTE": 43}
    assert {column: round(value) for column, value in scores.items() if column != "avg"} == expected  # no F1 or Spearman
    assert scores["avg"] == pytest.approx(mean([scores[c] for c in ("MNLI-m", "QNLI", "QQP", "SST-2", "MRPC", "STS-B")]))
    png, pdf, md = draw("tables/table4_glue", read_rows([tmp_path / "sweep"]), tmp_path / "out" / "table4")
    assert png.stat().st_size > 10_000 and pdf.is_file()
    lines = md.read_text().splitlines()
    assert lines[0] == "| model | MNLI-m | MNLI-mm | QNLI | QQP | SST-2 | MRPC | STS-B | CoLA | RTE | avg |"
    assert lines[2] == "| paper: XLM-R Large | 88.9 | 89.0 | 93.8 | 92.3 | 95.0 | 89.5 | 91.2 | - | - | 91.8 |"
    assert lines[4].startswith(f"| ours | {scores['MNLI-m']:.1f} | {scores['MNLI-mm']:.1f} |")


def test_table5_monolingual_models_count_for_their_own_language(tmp_path):
    from xlmr_lit.plot import mono_vs_multi_scores

    experiment = OmegaConf.load(EXPERIMENTS_DIR / "tables" / "table5_mono_vs_multi.yaml")
    runs = sweep_params("table5_mono_vs_multi")["model_run"]
    assert sorted(runs) == sorted(experiment.model_runs)
    for run in runs:
        setting, train_language = experiment.model_runs[run].setting, experiment.model_runs[run].train_language
        write_point(tmp_path / "sweep", {"model_run": run}, setting=setting, extra={"train_language": train_language})
    scores = mono_vs_multi_scores(read_rows([tmp_path / "sweep"]))
    assert scores["monolingual"] == {lang: pytest.approx(100 * score(lang, {"model_run": f"mono_{lang}"})) for lang in LANGS}
    assert scores["cross-lingual transfer"] == {lang: pytest.approx(100 * score(lang, {"model_run": "xlm7_transfer"}))
                                               for lang in LANGS}
    png, pdf, md = draw("tables/table5_mono_vs_multi", read_rows([tmp_path / "sweep"]), tmp_path / "t5")
    assert png.stat().st_size > 10_000
    rows = [line for line in md.read_text().splitlines()[2:]]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [
        "paper: BERT (one per language)", "paper: BERT (one per language)", "ours: one per language",
        "paper: XLM-7", "paper: XLM-7", "ours: XLM-7", "paper: XLM-7", "paper: XLM-7", "ours: XLM-7"]
    assert "| 86.7 | 81.2 | 81.2 | 78.2 | 79.5 | 70.8 | 65.1 | 77.5 |" in rows[1]


def test_fig1_data_sizes_a_runs_corpus_with_its_tokenizer(make_cfg, tmp_path):
    import gzip

    import sentencepiece as spm

    from xlmr_lit.corpus_sizes import language_sizes
    from xlmr_lit.tokenizer import train_sentencepiece

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = {"en": "the cat sat on the mat\nthe dog sat\n\na new document here\n", "sw": "paka ameketi\n\nmbwa ameketi juu\n"}
    (corpus / "en.txt").write_text(text["en"], encoding="utf-8")
    with gzip.open(corpus / "sw.txt.gz", "wt", encoding="utf-8") as f:
        f.write(text["sw"])
    (tmp_path / "sample.txt").write_text((text["en"] + text["sw"]) * 20, encoding="utf-8")
    run = tmp_path / "run"
    (run / "tokenizer").mkdir(parents=True)
    train_sentencepiece(tmp_path / "sample.txt", run / "tokenizer" / "sentencepiece.bpe", 30, 1.0, 1, "unigram")
    cfg = make_cfg(f"data.corpus_dir={corpus}", "data.languages=[en,sw]", run_dir=run)
    (run / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))

    sizes = language_sizes(corpus, ["en", "sw"], run / "tokenizer" / "sentencepiece.bpe.model")
    sp = spm.SentencePieceProcessor(model_file=str(run / "tokenizer" / "sentencepiece.bpe.model"))
    for lang, raw in text.items():
        lines = [line for line in raw.splitlines() if line]
        assert sizes[lang] == {"text_bytes": sum(len(line.encode()) + 1 for line in lines),
                               "tokens": sum(len(sp.encode(line)) for line in lines)}
    main(["fig1_data", "--runs", str(run), "--out", str(tmp_path / "fig1")])
    assert (tmp_path / "fig1.png").stat().st_size > 10_000
    table = (tmp_path / "fig1.md").read_text()
    assert f"| sw | {sizes['sw']['text_bytes'] / 1024**3:.3g} | {sizes['sw']['tokens'] / 1e6:.3g} | 1.6 | 275 |" in table
    main(["fig1_data", "--corpus", str(corpus), "--out", str(tmp_path / "plain")])  # no tokenizer: sizes only
    assert "| en |" in (tmp_path / "plain.md").read_text() and "| - |" in (tmp_path / "plain.md").read_text()


def test_table6_as_markdown_and_csv(tmp_path):
    import csv

    from xlmr_lit.languages import XLMR_LANGUAGES

    main(["table6", "--out", str(tmp_path / "table6")])
    rows = list(csv.DictReader(open(tmp_path / "table6.csv")))
    assert [r["iso_code"] for r in rows] == list(XLMR_LANGUAGES)
    assert {r["iso_code"]: (float(r["tokens_m"]), float(r["size_gib"])) for r in rows} == {
        code: (tokens, gib) for code, (_, tokens, gib) in XLMR_LANGUAGES.items()}
    markdown = (tmp_path / "table6.md").read_text()
    assert "| sv | Swedish | 12,100 | 77.8 | yes | printed as 77.8 M tokens, 12.1 GiB (a typo) |" in markdown
    assert markdown.count("\n") == 2 + 100 + 1


def test_each_of_the_papers_rows_in_a_figure_has_its_own_marker():
    from xlmr_lit.plot import SPECS

    for name, spec in SPECS.items():
        markers = {}
        for value in spec.paper:
            if value.x is not None:  # values without a position are notes, not markers
                markers.setdefault(value.label, value.marker)
        assert len(set(markers.values())) == len(markers), f"{name}: {markers}"


def test_legends_sit_beside_the_axes_and_name_the_dashed_averages_and_the_papers_notes(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    for corpus in ("cc", "wiki"):
        write_point(tmp_path / "fig3", {"corpus": corpus})
    draw("fig3_corpus", read_rows([tmp_path / "fig3"]), tmp_path / "fig3_out")
    for point in grid("fig6_vocab"):
        write_point(tmp_path / "fig6", point)
    draw("fig6_vocab", read_rows([tmp_path / "fig6"]), tmp_path / "fig6_out")
    for fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
            assert [t for t in ax.texts if t.get_bbox_patch() is not None] == []  # no note box over the data
    fig3 = [t.get_text() for t in figures[0].axes[0].get_legend().get_texts()]
    cc = mean([100 * score(lang, {"corpus": "cc"}) for lang in LANGS])
    assert fig3[:2] == ["cc", "wiki"] and f"cc: average {cc:.1f}" in fig3
    assert fig3[-1].replace("\n", " ").startswith("paper: CommonCrawl better for every language")
    fig6 = [t.get_text().replace("\n", " ") for t in figures[1].axes[0].get_legend().get_texts()]
    assert fig6[-1] == "paper: +2.8 average from 32k to 256k at fixed capacity"


def test_measured_baselines_are_drawn_beside_the_papers_baseline_rows(tmp_path, monkeypatch):
    """Table 1 and 3 sweeps of XLM-R and of mBERT / XLM (downstream.init=hf:...): one series per encoder, and the
    paper's mBERT / XLM-100 rows drawn on the measured baseline's bars only."""
    import matplotlib.pyplot as plt

    from xlmr_lit.plot import XNLI_MBERT

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    for encoder in ("xlm-roberta", "bert"):
        write_point(tmp_path / "t1" / encoder, {"downstream.setting": "cross_lingual_transfer"}, extra={"encoder": encoder})
    rows = read_rows([tmp_path / "t1"])
    data = language_data(rows, SPECS["table1_xnli"])
    assert set(data) == {"cross_lingual_transfer, XLM-R", "cross_lingual_transfer, BERT"}
    draw("tables/table1_xnli", rows, tmp_path / "t1_out")
    ax = figures[-1].axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paper: mBERT, transfer" in legend and "paper: XLM-R Base, transfer" in legend
    assert "paper: XLM-100, transfer" not in legend  # XLM was not run
    mbert = next(line for line in ax.get_lines() if line.get_label() == "paper: mBERT, transfer")
    bert_bars = sorted(data).index("cross_lingual_transfer, BERT")
    assert mbert.get_ydata()[0] == XNLI_MBERT["en"] and (mbert.get_xdata()[0] > 0) == (bert_bars == 1)  # on BERT's bars

    write_point(tmp_path / "t3", {"seed": "1"}, task="qa", metric="f1", langs=["en", "de"], extra={"encoder": "xlm"})
    assert set(language_data(read_rows([tmp_path / "t3"]), SPECS["table3_mlqa"])) == {"XLM"}
    draw("tables/table3_mlqa", read_rows([tmp_path / "t3"]), tmp_path / "t3_out")
    legend = [t.get_text() for t in figures[-1].axes[0].get_legend().get_texts()]
    assert "paper: XLM-15" in legend and "paper: XLM-R Base" not in legend
