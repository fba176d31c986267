"""Plain-text tables logged at the end of a run (console and train.log)."""

import math
from pathlib import Path


def format_sampling_table(rows: list[dict]) -> str:
    lines = [f"{'lang':<8}{'blocks':>9}{'q_i':>8}{'p_i':>8}{'realised':>10}"]
    for r in rows:
        lines.append(f"{r['language']:<8}{r['blocks']:>9}{r['q']:>8.3f}{r['p']:>8.3f}{r['realised']:>10.3f}")
    return "\n".join(lines)


def format_results(metrics: dict, languages: list[str], groups: dict, checkpoint: str) -> str:
    """Validation loss and perplexity per language, then group averages (ppl = exp of the mean loss), and,
    where the shards counted them, the loss per character and the share of <unk> pieces; then the order gap (the loss
    with each block's context shuffled minus the loss in order) and the loss of predicting from piece frequencies
    alone (unigram)."""

    def mean(name: str, members: list[str]) -> float | None:
        values = [metrics[f"val/{name}_{lang}"] for lang in members if f"val/{name}_{lang}" in metrics]
        return sum(values) / len(values) if values else None

    rows = [(lang, [lang]) for lang in languages]
    rows += [(f"{group} ({','.join(m for m in members if m in languages)})", members)
             for group, members in groups.items() if mean("loss", members) is not None]
    rows.append(("all", languages))
    extra = [(name, title, scale, fmt) for name, title, scale, fmt in
             (("loss_per_char", "loss/char", 1.0, ".3f"), ("unk_share", "<unk> %", 100.0, ".1f"),
              ("order_gap", "order gap", 1.0, ".3f"), ("unigram_loss", "unigram", 1.0, ".3f"))
             if mean(name, languages) is not None]
    width = max(len(name) for name, _ in rows) + 2
    header = f"{'language':<{width}}{'loss':>8}{'ppl':>12}" + "".join(f"{title:>12}" for _, title, _, _ in extra)
    lines = [f"validation, {checkpoint or 'final weights'}", header]
    for i, (name, members) in enumerate(rows):
        if i == len(languages):
            lines.append("-" * len(header))
        loss = mean("loss", members)
        line = f"{name:<{width}}{loss:>8.3f}{math.exp(min(loss, 50.0)):>12.1f}"
        for key, _, scale, fmt in extra:
            value = mean(key, members)
            line += f"{value * scale:>12{fmt}}" if value is not None else f"{'-':>12}"
        lines.append(line)
    return "\n".join(lines)


def format_outputs(run_dir: Path) -> str:
    """Where the run's outputs are, those that exist: config, log, checkpoints, metrics, results."""
    outputs = [("resolved config", run_dir / "config_resolved.yaml"), ("log", run_dir / "train.log"),
               ("checkpoints", run_dir / "checkpoints"), ("CSV metrics", run_dir / "csv" / "metrics.csv"),
               ("wandb", run_dir / "wandb"), ("results", run_dir / "results.jsonl")]
    lines = [f"run directory: {run_dir}"]
    for name, path in outputs:
        if path.exists():
            saved = f" ({', '.join(sorted(p.name for p in path.glob('*.ckpt')))})" if name == "checkpoints" else ""
            saved = " (`wandb sync` an offline-run-* dir to publish it)" if name == "wandb" else saved
            lines.append(f"  {name:<16} {path}{saved}")
    return "\n".join(lines)
