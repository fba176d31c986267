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
    for table in sorted(p.stem for p in (EXPERIMENTS_DIR / "tables").glob("*.yaml")):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[f"experiment=tables/{table}", "scale=paper",
                                              "downstream.init=hf:some/model", "downstream.data_dir=/data"])
        assert cfg.task.name == "pretrain" and cfg.downstream.name in ("xnli", "ner", "qa") and table in SPECS
        assert cfg.downstream.init == "hf:some/model" and cfg.trainer.accelerator == "gpu"


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


def test_figures_say_when_they_read_a_standin():
    from xlmr_lit.plot import _describe

    row = {"task": "xnli", "run": "a", "scale": "tiny"}
    assert _describe([{**row, "udhr_standin": True}], "test") == "scale: tiny · xnli (UDHR stand-in) test · 1 run(s)"
    assert _describe([row], "test") == "scale: tiny · xnli test · 1 run(s)"
