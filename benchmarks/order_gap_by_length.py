"""The order gauge of a pretraining run's checkpoint on validation blocks of several lengths (issue 27; RESULTS.md §18).

    python benchmarks/order_gap_by_length.py RUN_DIR [--lengths 33 65 129] [--checkpoint best.ckpt] [--gauge-cost]

A run validates on blocks of data.tokens_per_sample. A model pretrained mostly on short blocks (data.short_blocks)
knows word order in the positions those blocks cover first; this shows how far it carries it to the later positions:
per length, the English and mean validation loss and order gap (the loss with each block's context shuffled minus
the loss in order, same targets), through the same datamodule and LightningModule as the run. `--gauge-cost` also
times a validation at the run's own block length with the gauge on and off (twice each, alternating).
"""

import argparse
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from xlmr_lit.datamodule import MaskedLMDataModule
from xlmr_lit.masked_lm_module import MaskedLMLitModule
from xlmr_lit.pretrain import prepare_data
from xlmr_lit.tokenizer import XLMRTokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--lengths", type=int, nargs="+", default=[33, 65, 129], help="tokens per block, <s> included")
    parser.add_argument("--checkpoint", default="best.ckpt")
    parser.add_argument("--gauge-cost", action="store_true")
    args = parser.parse_args(argv)
    cfg = OmegaConf.load(args.run_dir / "config_resolved.yaml")
    torch.set_num_threads(1)
    corpus = prepare_data(cfg)  # cached: the run's tokenizer and shards
    tokenizer = XLMRTokenizer(args.run_dir / "tokenizer" / "sentencepiece.bpe.model")
    ckpt = args.run_dir / "checkpoints" / args.checkpoint
    module = MaskedLMLitModule.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True)
    print(f"{ckpt}\n| tokens per block | en loss | en order gap | mean loss | mean order gap |\n|---|---|---|---|---|")
    def validate(length: int, gauge: bool = True) -> dict:
        datamodule = MaskedLMDataModule(corpus, tokenizer.mask_id, length, cfg.data.micro_batch_size,
                                        cfg.data.micro_batch_size, cfg.data.alpha, cfg.seed,
                                        valid_max_tokens=cfg.data.valid_max_tokens)
        datamodule.valid_collator.order_gauge = gauge
        trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
        return trainer.validate(module, datamodule, verbose=False)[0]

    for length in args.lengths:
        r = validate(length)
        print(f"| {length} | {r['val/loss_en']:.3f} | {r['val/order_gap_en']:.3f} | {r['val/loss']:.3f} "
              f"| {r['val/order_gap']:.3f} |", flush=True)
    if args.gauge_cost:
        for gauge in (True, False, True, False):
            start = time.perf_counter()
            validate(cfg.data.tokens_per_sample, gauge)
            print(f"validation at {cfg.data.tokens_per_sample} tokens, gauge {'on' if gauge else 'off'}: "
                  f"{time.perf_counter() - start:.2f} s", flush=True)


if __name__ == "__main__":
    main()
