"""The comparison table printed at the end of every sweep and saved as summary.csv and summary.md in the sweep
dir: a row per point with its overrides, validation MLM loss, perplexity and loss per
character and order gap (high- / low-resource / all languages) and the downstream score (mean over languages, `single` selection)."""

import csv
import math
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from xlmr_lit.results import RESULTS_FILE, point_names, read_rows, shown_splits

DEFAULT_GROUPS = {"high": ["en", "fr"], "low": ["sw", "ur"]}


def point_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()) if sweep_dir.is_dir() else []


def point_row(point: Path) -> dict:
    config = point / "config_resolved.yaml"
    groups = DEFAULT_GROUPS
    if config.is_file():
        groups = OmegaConf.to_container(OmegaConf.load(config)).get("data", {}).get("report_groups") or DEFAULT_GROUPS
    files = [f for f in (point / RESULTS_FILE, point / "finetune" / RESULTS_FILE) if f.is_file()]
    rows = read_rows(files)
    row = {"status": "done" if (point / "DONE").is_file() else "failed" if (point / "FAILED").is_file() else "incomplete"}
    for metric, column in (("mlm_loss", "val_loss"), ("mlm_loss_per_char", "val_loss_per_char"),
                           ("order_gap", "val_order_gap")):
        losses = {r["language"]: r["value"] for r in rows if r["metric"] == metric and r["split"] == "valid"}
        for name, members in {**groups, "all": list(losses)}.items():
            values = [losses[lang] for lang in members if lang in losses]
            if values:
                mean = sum(values) / len(values)
                row[f"{column}_{name}"] = round(mean, 4)
                if metric == "mlm_loss":
                    row[f"val_ppl_{name}"] = round(math.exp(min(mean, 50.0)), 2)
    tuned = [r for r in rows if r["task"] != "pretrain" and r["selection"] == "single"]
    for task, split in shown_splits(tuned).items():
        scores = [r for r in tuned if r["task"] == task and r["split"] == split]
        metric = scores[0]["metric"]
        values = [r["value"] for r in scores if r["metric"] == metric]
        row[f"{task}_{metric}_{split}"] = round(100 * sum(values) / len(values), 2)
    return row


def summarize(sweep_dir: Path) -> tuple[list[str], list[list]]:
    points = point_dirs(sweep_dir)
    rows = {str(p): point_row(p) for p in points}
    names = point_names([{"run": str(p)} for p in points])
    columns = ["point", *dict.fromkeys(k for r in rows.values() for k in r), "dir"]
    table = [[names[run], *(row.get(c, "") for c in columns[1:-1]), Path(run).name] for run, row in rows.items()]
    return columns, table


def markdown(columns: list[str], table: list[list]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table]
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: Path) -> str | None:
    columns, table = summarize(sweep_dir)
    if not table:
        return None
    with open(sweep_dir / "summary.csv", "w", newline="") as f:
        csv.writer(f).writerows([columns, *table])
    text = markdown(columns, table)
    (sweep_dir / "summary.md").write_text(text)
    return text


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        text = write_summary(sweep_dir)
        if text:
            print(f"sweep summary ({sweep_dir / 'summary.csv'}, summary.md):\n{text}")
