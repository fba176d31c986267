"""Data loader throughput (tokens/s) of MaskedLMDataModule.train_dataloader(), masking included.

Shards for the bundled xnli7 languages are built with xlmr_lit.prepare.prepare_corpus into a
temporary cache (SentencePiece trained on the bundled text). The datamodule is built directly
(trainer=None) with tokens_per_sample 512 and micro batch 32; samples_per_epoch is far larger
than the bundled corpus, so every language is up-sampled (blocks repeat, masks differ). For each
worker count the loader is created once (persistent workers, as in training) and iterated for
--epochs epochs, calling sampler.set_epoch as Lightning does; tokens = input_ids.numel() of every
batch. The first batch (worker start-up) is excluded from the steady-state figure.

    python benchmarks/loader_throughput.py
    python benchmarks/loader_throughput.py --workers 0 --samples-per-epoch 5000 --profile
"""

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # prepare_corpus's progress bars

import argparse
import cProfile
import platform
import pstats
import shutil
import tempfile
import time
from pathlib import Path

import torch

from xlmr_lit.datamodule import MaskedLMDataModule
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.prepare import prepare_corpus
from common import XNLI7, cpu_model  # benchmarks/common.py


def run(dm: MaskedLMDataModule, epochs: int) -> dict:
    """Iterate the train loader for `epochs` epochs; return tokens, batches and timings."""
    started = time.perf_counter()
    loader = dm.train_dataloader()
    tokens = batches = 0
    first_batch_at = None
    epoch_rates = []
    for epoch in range(epochs):
        dm.train_sampler.set_epoch(epoch)
        epoch_started, epoch_tokens = time.perf_counter(), 0
        for batch in loader:
            n = batch["input_ids"].numel()
            if first_batch_at is None:
                first_batch_at = time.perf_counter()
                epoch_started = first_batch_at  # steady state: start after the first batch
            else:
                tokens += n
                epoch_tokens += n
            batches += 1
        epoch_rates.append(epoch_tokens / (time.perf_counter() - epoch_started))
    ended = time.perf_counter()
    del loader
    return {
        "batches": batches,
        "tokens": tokens,
        "startup_s": first_batch_at - started,
        "seconds": ended - first_batch_at,
        "tokens_per_s": tokens / (ended - first_batch_at),
        "epoch_rates": epoch_rates,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--langs", default=XNLI7)
    p.add_argument("--workers", default="0,1,2", help="comma-separated num_workers values")
    p.add_argument("--tokens-per-sample", type=int, default=512)
    p.add_argument("--micro-batch", type=int, default=32)
    p.add_argument("--samples-per-epoch", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--vocab", type=int, default=3000, help="SentencePiece vocabulary (the tiny model's)")
    p.add_argument("--alpha", type=float, default=0.3)
    p.add_argument("--cache-dir", type=Path, help="reuse a shard cache (default: a fresh temporary dir, deleted)")
    p.add_argument("--profile", action="store_true", help="cProfile the num_workers=0 run and print the top entries")
    args = p.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    langs = args.langs.split(",")
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="xlmr_bench_loader_"))

    print(f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} cores, torch {torch.__version__}, python {platform.python_version()}")
    started = time.perf_counter()
    corpus = prepare_corpus(
        BUNDLED_CORPUS_DIR, langs, cache, spm_path=None, vocab_size=args.vocab, sample_lines=20000,
        character_coverage=0.9995, alpha=args.alpha, seed=0, valid_every=10, valid_max_tokens=200000,
        num_proc=1, skip_undecodable=True,
    )
    print(f"prepared shards for {','.join(langs)} in {time.perf_counter() - started:.1f}s under {cache}")
    rows = []
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            dm = MaskedLMDataModule(
                corpus, mask_id=args.vocab - 1, tokens_per_sample=args.tokens_per_sample,
                micro_batch_size=args.micro_batch, global_batch_size=args.micro_batch, alpha=args.alpha, seed=0,
                samples_per_epoch=args.samples_per_epoch, num_workers=workers,
            )
            if workers == 0 and args.profile:
                prof = cProfile.Profile()
                prof.enable()
                r = run(dm, args.epochs)
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(15)
            else:
                r = run(dm, args.epochs)
            rows.append((workers, r))
            print(f"num_workers={workers}: {r['tokens_per_s']:,.0f} tokens/s", flush=True)
        table = dm.sampling_table()
    finally:
        if args.cache_dir is None:
            shutil.rmtree(cache, ignore_errors=True)

    print()
    print("train blocks per language (tokens_per_sample %d) and the epoch-0 mix:" % args.tokens_per_sample)
    for row in table:
        up = args.samples_per_epoch * row["realised"] / row["blocks"]
        print(f"  {row['language']:3s} blocks {row['blocks']:4d}  p {row['p']:.3f}  drawn/epoch {args.samples_per_epoch * row['realised']:7.0f} (x{up:.0f} up-sampled)")
    print()
    print(f"{args.epochs} epochs x {args.samples_per_epoch} samples, tokens_per_sample {args.tokens_per_sample}, micro batch {args.micro_batch}; first batch excluded")
    print(f"{'num_workers':>11s} {'batches':>8s} {'start-up s':>11s} {'seconds':>8s} {'tokens/s':>12s}  per epoch")
    for workers, r in rows:
        per_epoch = " ".join(f"{x:,.0f}" for x in r["epoch_rates"])
        print(f"{workers:11d} {r['batches']:8d} {r['startup_s']:11.2f} {r['seconds']:8.2f} {r['tokens_per_s']:12,.0f}  {per_epoch}")
    best_workers, best = max(rows, key=lambda wr: wr[1]["tokens_per_s"])
    print()
    print(f"best: {best['tokens_per_s']:,.0f} tokens/s (num_workers={best_workers})")


if __name__ == "__main__":
    main()
