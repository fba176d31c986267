"""Read the paper's directions off tiny sweeps (benchmarks/RESULTS.md, section 14; issue 18 item 3).

    python benchmarks/directions_tiny.py sweep /tmp/h18/fig5 [--corpus DIR]   # Fig. 5 / Fig. 2 sweep dirs
    python benchmarks/directions_tiny.py finetunes /tmp/h18/pvr              # <dir>/{pre,rand}_s<seed>

`sweep` prints, per point, the validation MLM loss of the xnli7 languages as the run reports it (nats per
masked token) and the same loss per character: loss x (validation tokens / validation characters) under
that point's own tokenizer. Points of Fig. 5 and Fig. 2 train different tokenizers (tokenizer.alpha follows
data.alpha; more languages share the same 3000 pieces), so per-token losses of different points are in
different units; the per-character figure is comparable across them (an approximation: the loss averages
masked tokens only). Validation documents are every 10th of each language's file, as data.valid_every=10.

`finetunes` prints the XNLI stand-in test accuracy (the `single` selection) per run and the mean and
sample standard deviation over seeds, for pretrained (`pre_s*`) and random-init (`rand_s*`) encoders.
"""
from __future__ import annotations

import argparse
import csv
import json
import lzma
import re
import statistics as st
from pathlib import Path

import sentencepiece as spm

BUNDLED = Path(__file__).resolve().parents[1] / "xlmr_lit" / "bundled" / "udhr"
XNLI7 = ["en", "fr", "de", "ru", "zh", "sw", "ur"]


def documents(lang: str, corpus: Path | None) -> list[list[str]]:
    path = corpus / f"{lang}.txt" if corpus else BUNDLED / f"{lang}.txt.xz"
    text = path.read_text(encoding="utf-8") if corpus else lzma.open(path, "rt", encoding="utf-8").read()
    docs, cur = [], []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            cur.append(line)
        elif cur:
            docs.append(cur)
            cur = []
    if cur:
        docs.append(cur)
    return docs


def tokens_per_char(sp, lang: str, corpus: Path | None, valid_every: int = 10) -> float:
    lines = [line for i, doc in enumerate(documents(lang, corpus)) if i % valid_every == 0 for line in doc]
    return sum(len(sp.encode(line)) for line in lines) / sum(len(line) for line in lines)


def point_tokenizer(point: Path) -> Path:
    own = point / "tokenizer" / "sentencepiece.bpe.model"
    if own.exists():
        return own
    reused = re.search(r"reusing (\S+)/checkpoints/best\.ckpt", (point / "train.log").read_text())
    return Path(reused.group(1)) / "tokenizer" / "sentencepiece.bpe.model"  # a reused pretraining's


def sweep(dir_: Path, corpus: Path | None) -> None:
    head = "| point | languages | " + " | ".join(XNLI7) + " | high (en,fr) | low (sw,ur) | xnli7 mean | XNLI en | XNLI avg |"
    for unit in ("nats per masked token (as reported)", "nats per character"):
        print(f"\n{unit}\n{head}\n" + "|---" * (len(XNLI7) + 7) + "|")
        for point in sorted(p for p in dir_.iterdir() if (p / "results.jsonl").exists()):
            rows = [json.loads(line) for line in open(point / "results.jsonl")]
            loss = {r["language"]: r["value"] for r in rows if r["metric"] == "mlm_loss"}
            if unit == "nats per character":
                sp = spm.SentencePieceProcessor(model_file=str(point_tokenizer(point)))
                loss = {lang: loss[lang] * tokens_per_char(sp, lang, corpus) for lang in XNLI7}
            acc = {}
            if (point / "finetune" / "results.jsonl").exists():
                acc = {r["language"]: 100 * r["value"] for r in map(json.loads, open(point / "finetune" / "results.jsonl"))
                       if r["selection"] == "single" and r["split"] == "test" and r["metric"] == "accuracy"}
            n = len({r["language"] for r in rows if r["metric"] == "mlm_loss"})
            xnli = f" {acc['en']:.1f} | {st.mean(acc.values()):.1f} |" if acc else " — | — |"
            print(f"| {point.name} | {n} | " + " | ".join(f"{loss[lang]:.3f}" for lang in XNLI7)
                  + f" | {st.mean([loss['en'], loss['fr']]):.3f} | {st.mean([loss['sw'], loss['ur']]):.3f}"
                  + f" | {st.mean(loss[lang] for lang in XNLI7):.3f} |" + xnli)


def finetunes(dir_: Path) -> None:
    print("| init | seed | " + " | ".join(XNLI7) + " | avg | selected epoch | train loss, first -> last 10 logs |")
    print("|---" * (len(XNLI7) + 5) + "|")
    summary = {}
    for kind in ("pre", "rand"):
        for run in sorted(dir_.glob(f"{kind}_s*")):
            if not (run / "results.jsonl").exists():
                continue
            rows = [json.loads(line) for line in open(run / "results.jsonl")]
            acc = {r["language"]: 100 * r["value"] for r in rows
                   if r["selection"] == "single" and r["split"] == "test" and r["metric"] == "accuracy"}
            epoch = sorted({r["epoch"] for r in rows if r["selection"] == "single"})
            losses = [float(r["train/loss"]) for r in csv.DictReader(open(run / "csv" / "metrics.csv")) if r.get("train/loss")]
            summary.setdefault(kind, []).append(acc)
            print(f"| {kind} | {run.name.split('_s')[-1]} | " + " | ".join(f"{acc[lang]:.1f}" for lang in XNLI7)
                  + f" | {st.mean(acc.values()):.1f} | {epoch} | {st.mean(losses[:10]):.3f} -> {st.mean(losses[-10:]):.3f} |")
    for kind, accs in summary.items():
        en, avg = [a["en"] for a in accs], [st.mean(a.values()) for a in accs]
        sd = (lambda x: f"{st.stdev(x):.1f}") if len(accs) > 1 else (lambda x: "n/a")
        print(f"{kind}: {len(accs)} seeds; en {st.mean(en):.1f} ± {sd(en)} (min {min(en):.1f}, max {max(en):.1f}); "
              f"avg {st.mean(avg):.1f} ± {sd(avg)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["sweep", "finetunes"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--corpus", type=Path, default=None, help="the sweep's data.corpus_dir (default: bundled)")
    args = parser.parse_args()
    sweep(args.dir, args.corpus) if args.what == "sweep" else finetunes(args.dir)
