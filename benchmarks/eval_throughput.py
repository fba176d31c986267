"""Evaluation throughput (sentence pairs/s) of a base-size classifier on XNLI-like pairs.

What the issue asks: evaluating XNLI dev (15 languages x 2490 pairs) must not be dominated by
Python overhead. This script measures, at base size (L12 H768 A12, vocab 250002, fp32,
torch.inference_mode, eval batch 64, max length 128):

  (a) ours, length-grouped: `xlmr_lit.tasks.features.eval_loader` (LengthGroupedSampler +
      pad_collate over the cached Arrow features) -> `XLMRForSequenceClassification` -> argmax,
      i.e. what `SequenceClassificationModule.collect` does, then the same scoring as `score`;
  (b) ours, random order: the same loader with a seeded RandomSampler instead (no length grouping);
  (c) HF `XLMRobertaForSequenceClassification` (sdpa), with our weights copied in, fed the same
      length-grouped batches from its own `eval_loader`.

The three run interleaved batch by batch in one process, so background load hits them about
equally. For (a) the time outside the model forward (loader construction, batch fetch and
collation, argmax, scoring) is reported as the "Python overhead" share of wall time. Then (a) runs
once more through the real harness path, `pl.Trainer.validate` on `SequenceClassificationModule`,
with the forward timed by hooks, so Lightning's own per-batch cost is included (--no-lightning skips it).

Pairs: premise of 20-40 words and hypothesis of 8-15 words (--premise-words, --hypothesis-words),
cut from the bundled UDHR text of the 15 XNLI languages (7 scripts; zh and th are cut by
characters, ~1.5 and ~4.5 per word), spread evenly over the languages, random labels. Tokenizer:
SentencePiece unigram, vocab 7000, trained on the bundled text of those languages (cached in
--work-dir; that text supports at most 7635, and a model trained on all ~100 bundled languages
splits these pairs so finely that a quarter hit max length). The model keeps XLM-R's 250002-row
embedding; the ids only index into it. Weights are random: only speed is measured (predictions are checked to agree).

The subset (--pairs, default 320 = 5 batches) is one evaluation set mixed over the languages; the
full XNLI dev figure printed is an extrapolation (37,350 / pairs per second), not a measurement.
A base forward of 64 pairs takes 10-20 s on 2 CPU cores, so 320 pairs take ~5 min in all.

    python benchmarks/eval_throughput.py                 # 320 pairs, ~5 min on 2 CPU cores
    python benchmarks/eval_throughput.py --pairs 1000    # the run in RESULTS.md, ~17 min
    python benchmarks/eval_throughput.py --pairs 128 --no-lightning   # quick
"""

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from common import cpu_model  # benchmarks/common.py
from prepare_throughput import bundled_documents  # benchmarks/prepare_throughput.py
from torch.utils.data import DataLoader, RandomSampler

from xlmr_lit.finetune_module import _unique_order
from xlmr_lit.model import XLMRConfig, XLMRForSequenceClassification
from xlmr_lit.tasks.features import accuracy_score, cached_features, eval_loader, featurize_pairs, pad_collate
from xlmr_lit.tasks.readers import NLI_LABELS, SentencePair
from xlmr_lit.tokenizer import PAD_ID, XLMRTokenizer, train_sentencepiece

XNLI15 = "en,fr,es,de,el,bg,ru,tr,ar,vi,th,zh,hi,sw,ur"
XNLI_DEV_PAIRS = 15 * 2490
CHARS_PER_WORD = {"zh": 1.5, "ja": 1.5, "th": 4.5}  # scripts written without spaces between words


def get_spm(work_dir: Path, langs: list[str], vocab_size: int) -> Path:
    """A unigram model trained on the bundled UDHR text of `langs`, cached in work_dir."""
    model = work_dir / f"spm-{len(langs)}langs-{vocab_size}.model"
    if model.is_file():
        return model
    sample = work_dir / "spm-sample.txt"
    with open(sample, "w", encoding="utf-8") as f:
        for lang in langs:
            f.writelines(doc + "\n" for doc in bundled_documents(lang))
    trained = train_sentencepiece(sample, model.with_suffix(""), vocab_size, 0.9995, num_threads=len(os.sched_getaffinity(0)))
    sample.unlink()
    return trained


def make_pairs(langs: list[str], n: int, seed: int, premise: tuple[int, int], hypothesis: tuple[int, int]) -> list[SentencePair]:
    """n premise/hypothesis pairs, round-robin over langs, cut at random places from bundled text."""
    rng = np.random.default_rng(seed)
    streams = {}
    for lang in langs:
        text = " ".join(line for doc in bundled_documents(lang) for line in doc.split("\n"))
        streams[lang] = (list(text), "") if lang in CHARS_PER_WORD else (text.split(), " ")

    def cut(lang: str, words: int) -> str:
        units, sep = streams[lang]
        k = max(1, round(words * CHARS_PER_WORD.get(lang, 1)))
        start = int(rng.integers(0, max(1, len(units) - k)))
        return sep.join(units[start : start + k]).strip()

    return [
        SentencePair(
            text_a=cut(lang, int(rng.integers(premise[0], premise[1] + 1))),
            text_b=cut(lang, int(rng.integers(hypothesis[0], hypothesis[1] + 1))),
            label=NLI_LABELS[int(rng.integers(0, 3))],
            language=lang,
        )
        for lang in (langs[i % len(langs)] for i in range(n))
    ]


def build_hf(config: XLMRConfig, ours: torch.nn.Module) -> tuple[torch.nn.Module, str, str]:
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    hf_config = XLMRobertaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=1,
        layer_norm_eps=config.layer_norm_eps,
        pad_token_id=PAD_ID,
        bos_token_id=0,
        eos_token_id=2,
        num_labels=ours.num_labels,
    )
    try:
        model = XLMRobertaForSequenceClassification._from_config(hf_config, attn_implementation="sdpa")
    except (ValueError, ImportError):
        model = XLMRobertaForSequenceClassification._from_config(hf_config, attn_implementation="eager")
    missing, unexpected = model.load_state_dict(ours.state_dict(), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    note = "our weights copied in" if not missing and not unexpected else f"missing {missing}, unexpected {unexpected}"
    return model.eval(), model.config._attn_implementation, note


def random_order_loader(dataset, batch_size: int, seed: int) -> DataLoader:
    """eval_loader with the length grouping replaced by a seeded random order."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)),
        collate_fn=pad_collate,
    )


class Run:
    """Per-batch timings of one configuration."""

    def __init__(self, name: str, model: torch.nn.Module, forward, make_loader):
        self.name, self.model, self.forward = name, model, forward
        started = time.perf_counter()
        self.loader = make_loader()
        self.iterator = iter(self.loader)
        self.setup = time.perf_counter() - started  # loader construction (lengths, order) + iter()
        self.times = defaultdict(list)  # fetch (sampler + Arrow rows + pad_collate), forward, post (argmax, collect)
        self.parts: list[tuple] = []
        self.real_tokens = self.padded_tokens = self.pairs = 0
        self.score_seconds = 0.0
        self.accuracy = float("nan")

    def step(self) -> None:
        t0 = time.perf_counter()
        batch = next(self.iterator)
        t1 = time.perf_counter()
        logits = self.forward(self.model, batch)
        t2 = time.perf_counter()
        preds = logits.argmax(-1)  # as SequenceClassificationModule.collect
        self.parts.append((batch["index"], preds.float(), batch["label"].float()))
        t3 = time.perf_counter()
        self.times["fetch"].append(t1 - t0)
        self.times["forward"].append(t2 - t1)
        self.times["post"].append(t3 - t2)
        self.real_tokens += int(batch["attention_mask"].sum())
        self.padded_tokens += batch["input_ids"].numel()
        self.pairs += len(batch["index"])

    def score(self) -> np.ndarray:
        """As SequenceClassificationModule.score; returns the predictions in example order."""
        started = time.perf_counter()
        index, preds, gold = (torch.cat(p) for p in zip(*self.parts))
        order = _unique_order(index)
        self.accuracy = accuracy_score(preds[order].numpy(), gold[order].numpy())["accuracy"]
        self.score_seconds = time.perf_counter() - started
        return preds[order].numpy()

    @property
    def wall(self) -> float:
        return self.setup + sum(sum(v) for v in self.times.values()) + self.score_seconds

    @property
    def outside_forward(self) -> float:
        return self.wall - sum(self.times["forward"])


def ours_forward(model, batch):
    return model(batch["input_ids"], batch["attention_mask"])


def hf_forward(model, batch):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def lightning_validate(model: XLMRForSequenceClassification, dataset, args) -> dict:
    """(a) through the harness: Trainer.validate on SequenceClassificationModule, forward timed by hooks."""
    import logging

    import pytorch_lightning as pl

    from xlmr_lit.finetune_module import SequenceClassificationModule

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    tiny = {"vocab_size": 8, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 8}
    module = SequenceClassificationModule(
        model_config=tiny, labels=list(NLI_LABELS), eval_sets=[("dev", "mix")], metric="accuracy",
        score_fn=accuracy_score,
    )
    module.model = model  # the same base-size weights as the manual loop (the tiny one only avoids a 2nd copy)

    forward = []
    loop: dict[str, float] = {}
    model.register_forward_pre_hook(lambda m, a: loop.__setitem__("t", time.perf_counter()))
    model.register_forward_hook(lambda m, a, o: forward.append(time.perf_counter() - loop["t"]))

    class LoopTimer(pl.Callback):
        def on_validation_epoch_start(self, trainer, pl_module):
            loop["start"] = time.perf_counter()

        def on_validation_epoch_end(self, trainer, pl_module):
            loop["end"] = time.perf_counter()

    trainer = pl.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[LoopTimer()], inference_mode=True,
    )
    started = time.perf_counter()
    loader = eval_loader(dataset, args.batch)  # what FineTuneDataModule.val_dataloader returns
    trainer.validate(module, dataloaders=loader, verbose=False)
    wall = time.perf_counter() - started
    warm = forward[0]
    return {
        "wall": wall,  # eval_loader() + Trainer.validate(), everything
        "loop": loop["end"] - loop["start"],
        "forward": sum(forward),
        "first_forward": warm,
        "accuracy": module.history[-1]["scores"]["dev/mix"]["accuracy"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=320, help="sentence pairs evaluated (XNLI dev: 37350)")
    p.add_argument("--langs", default=XNLI15)
    p.add_argument("--batch", type=int, default=64, help="eval batch size")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--premise-words", default="20,40", help="premise length range in words (inclusive)")
    p.add_argument("--hypothesis-words", default="8,15", help="hypothesis length range in words (inclusive)")
    p.add_argument("--vocab", type=int, default=7000,
                   help="SentencePiece vocabulary, trained on the --langs bundled text (<= 7635 for xnli15); the model keeps 250002 rows")
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads (default: cores)")
    p.add_argument("--no-lightning", action="store_true", help="skip the Trainer.validate run of (a)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "xlmr_bench_eval")
    args = p.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    langs = args.langs.split(",")
    tokenizer = XLMRTokenizer(get_spm(args.work_dir, langs, args.vocab))
    premise, hypothesis = (tuple(map(int, r.split(","))) for r in (args.premise_words, args.hypothesis_words))
    pairs = make_pairs(langs, args.pairs, args.seed, premise, hypothesis)
    started = time.perf_counter()
    spec = {"bench": "eval_throughput", "pairs": args.pairs, "langs": langs, "seed": args.seed,
            "words": [premise, hypothesis], "spm": tokenizer.spm_path.name, "max_length": args.max_length}
    dataset = cached_features(spec, args.work_dir, lambda: featurize_pairs(pairs, tokenizer, list(NLI_LABELS), args.max_length))
    featurize_s = time.perf_counter() - started
    lengths = np.array([len(x) for x in dataset["input_ids"]])

    config = XLMRConfig(
        vocab_size=250002, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
    )
    ours = XLMRForSequenceClassification(config, len(NLI_LABELS)).eval()
    hf, attn_impl, hf_note = build_hf(config, ours)
    n_params = sum(p.numel() for p in ours.parameters())

    print(f"machine: {cpu_model()}, {args.threads} torch threads, torch {torch.__version__}, fp32, CPU, inference_mode")
    print(f"model: L{args.layers} H{args.hidden} A{args.heads} FFN{4 * args.hidden} vocab 250002 ({n_params / 1e6:.1f}M params), 3 labels; "
          f"HF XLMRobertaForSequenceClassification ({attn_impl}), {hf_note}")
    print(f"pairs: {args.pairs} over {len(langs)} languages ({args.langs}), premise {args.premise_words} words, "
          f"hypothesis {args.hypothesis_words} words; SentencePiece vocab {args.vocab} on their bundled text; "
          f"max length {args.max_length}, eval batch {args.batch}; features (Arrow, cached) ready in {featurize_s:.1f}s")
    print(f"tokens per pair: mean {lengths.mean():.1f}, median {np.median(lengths):.0f}, p90 {np.percentile(lengths, 90):.0f}, "
          f"max {lengths.max()}, at max length {int((lengths == args.max_length).sum())}")

    runs = [
        Run("(a) ours, length-grouped", ours, ours_forward, lambda: eval_loader(dataset, args.batch)),
        Run("(b) ours, random order", ours, ours_forward, lambda: random_order_loader(dataset, args.batch, args.seed)),
        Run(f"(c) HF ({attn_impl}), length-grouped", hf, hf_forward, lambda: eval_loader(dataset, args.batch)),
    ]
    n_batches = len(runs[0].loader)
    with torch.inference_mode():  # warm-up, untimed: one forward of each model on the longest batch
        first = next(iter(eval_loader(dataset, args.batch)))
        ours_forward(ours, first), hf_forward(hf, first)
        print(f"batches: {n_batches} per configuration, interleaved (a), (b), (c); one untimed warm-up forward per model")
        print("load average (1, 5, 15 min) before: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
        for step in range(n_batches):
            for run in runs:
                run.step()
            a, b, c = (r.times["forward"][-1] for r in runs)
            print(f"  batch {step:3d}: forward (a) {a:6.2f}s  (b) {b:6.2f}s  (c) {c:6.2f}s   "
                  f"(a) fetch {runs[0].times['fetch'][-1] * 1000:5.1f} ms", flush=True)
        preds = [run.score() for run in runs]
    print("load average (1, 5, 15 min) after: %.2f %.2f %.2f" % os.getloadavg())

    print()
    head = f"{'configuration':34s} {'pairs/s':>8s} {'wall s':>8s} {'forward s':>9s} {'outside s':>9s} {'outside':>8s} {'pad':>6s} {'median fwd s':>12s}"
    print(head)
    for run in runs:
        pad = 1 - run.real_tokens / run.padded_tokens
        print(f"{run.name:34s} {run.pairs / run.wall:8.2f} {run.wall:8.1f} {sum(run.times['forward']):9.1f} "
              f"{run.outside_forward:9.2f} {run.outside_forward / run.wall:8.2%} {pad:6.1%} {statistics.median(run.times['forward']):12.2f}")
    a = runs[0]
    print()
    print(f"(a) outside the forward, seconds: loader construction + iter {a.setup:.3f}, fetch+collate {sum(a.times['fetch']):.3f} "
          f"(median {statistics.median(a.times['fetch']) * 1000:.1f} ms/batch), argmax+collect {sum(a.times['post']):.3f}, "
          f"scoring {a.score_seconds:.3f}")
    agree_b = float((preds[0] == preds[1]).mean())
    agree_c = float((preds[0] == preds[2]).mean())
    print(f"predictions: (a) vs (b) agree on {agree_b:.1%} of pairs, (a) vs (c) on {agree_c:.1%}; "
          f"accuracy (random labels) {a.accuracy:.4f} / {runs[1].accuracy:.4f} / {runs[2].accuracy:.4f}")

    if not args.no_lightning:
        print()
        print("(a) again through the harness: eval_loader + pl.Trainer.validate(SequenceClassificationModule), not interleaved", flush=True)
        load_before = os.getloadavg()
        lt = lightning_validate(ours, dataset, args)
        outside = lt["wall"] - lt["forward"]
        print(f"load average before/after (1 min): {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
        print(f"Trainer.validate: {args.pairs / lt['wall']:.2f} pairs/s; wall {lt['wall']:.1f}s (validation loop {lt['loop']:.1f}s), "
              f"forward {lt['forward']:.1f}s (first, cold: {lt['first_forward']:.2f}s), outside the forward {outside:.2f}s = "
              f"{outside / lt['wall']:.2%} of wall ({(lt['loop'] - lt['forward']) / lt['loop']:.2%} of the loop); "
              f"accuracy {lt['accuracy']:.4f} (manual loop: {a.accuracy:.4f})")

    print()
    rate = {run.name: run.pairs / run.wall for run in runs}
    rates = list(rate.values())
    print(f"extrapolation to XNLI dev ({XNLI_DEV_PAIRS:,} pairs) at these rates, not measured: "
          + ", ".join(f"{name.split(',')[0]} {XNLI_DEV_PAIRS / r / 60:.0f} min" for name, r in rate.items()))
    print(f"(a) Python overhead (time outside the model forward): {a.outside_forward / a.wall:.2%} of wall (target < 10%)")
    print(f"ratio (a)/(b), length grouping vs random order (pairs/s): {rates[0] / rates[1]:.2f}x")
    print(f"ratio (a)/(c), ours vs HF (pairs/s): {rates[0] / rates[2]:.2f}x")


if __name__ == "__main__":
    main()
