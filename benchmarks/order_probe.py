"""Does a pretrained encoder know word order? (issue 18; RESULTS.md §15)

    python benchmarks/order_probe.py CKPT [CKPT ...] [--pairs 80]

For each checkpoint (ours, or hf:<dir>), scores the SST-2 stand-in's pairs (a run of UDHR words in order, and the
same run reversed; xlmr_lit/tasks/udhr_standins.py) by pseudo-log-likelihood: every token masked in turn, the
mean log-probability of the true token. The probe counts a pair right when the run in order scores higher. A
model that knows word order gets far above 50%; a model that knows only which words go together gets 50%, since
a reversed run has the same words. Train rows come from articles the default pretraining also read (every 10th
article is its validation text), dev rows from others.

The last row is a count-based bigram model (add-0.1 smoothing) of the same English training text under the first
checkpoint's tokenizer: what the text itself says about word order, without any training.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import Counter
from pathlib import Path

import torch

from xlmr_lit.convert import load_pretrained, load_state_dict_checked
from xlmr_lit.corpus import ReadReport, language_file, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.model import XLMRForMaskedLM
from xlmr_lit.tasks.udhr_standins import standin_dir
from xlmr_lit.tokenizer import XLMRTokenizer


def pseudo_log_likelihood(model: XLMRForMaskedLM, tokenizer: XLMRTokenizer, text: str) -> float:
    ids = torch.tensor(tokenizer.encode(text))  # <s> ... </s>
    n = len(ids) - 2
    batch = ids.repeat(n, 1)  # row i masks token i + 1
    rows, cols = torch.arange(n), torch.arange(1, n + 1)
    batch[rows, cols] = tokenizer.mask_id
    with torch.no_grad():
        log_probs = model(batch)[0].log_softmax(-1)  # (n, T, V)
    return log_probs[rows, cols, ids[1:-1]].mean().item()


def bigram_scorer(tokenizer: XLMRTokenizer, valid_every: int = 10):
    """Mean log P(token | previous token) under bigram counts of the bundled English training documents."""
    path = language_file(BUNDLED_CORPUS_DIR, "en")
    ids = []
    for index, doc in enumerate(read_documents(path, ReadReport(path))):
        if index % valid_every:
            for line in doc:
                ids += tokenizer.encode(line)[1:]  # each line, then </s>, as the pretraining shards
    unigrams, bigrams, vocab = Counter(ids), Counter(zip(ids, ids[1:])), tokenizer.vocab_size

    def score(text: str) -> float:
        pieces = tokenizer.encode(text)[1:-1]
        pairs = list(zip(pieces, pieces[1:]))
        return sum(math.log((bigrams[p] + 0.1) / (unigrams[p[0]] + 0.1 * vocab)) for p in pairs) / max(len(pairs), 1)

    return score


def model_scorer(init: str):
    config, state_dict, spm_path = load_pretrained(init)
    model = XLMRForMaskedLM(config)
    load_state_dict_checked(model, state_dict, init)  # refuses a checkpoint without the MLM head (a fine-tuned one)
    model.eval()
    tokenizer = XLMRTokenizer(spm_path)
    return tokenizer, lambda text: pseudo_log_likelihood(model, tokenizer, text)


def order_accuracy(score, pairs: int, data_dir: Path) -> dict[str, float]:
    out = {}
    for split in ("train", "dev"):
        lines = (data_dir / "SST-2" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        rows = [line.split("\t") for line in lines]
        right = total = 0
        for ordered, reversed_ in zip(rows[0 : 2 * pairs : 2], rows[1 : 2 * pairs : 2]):
            assert ordered[1] == "1" and reversed_[1] == "0", "the SST-2 stand-in writes each run, then its reversal"
            right += score(ordered[0]) > score(reversed_[0])
            total += 1
        out[split] = 100 * right / total
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--pairs", type=int, default=80, help="pairs per split (the dev split has 63)")
    args = parser.parse_args(argv)
    from hydra import compose, initialize_config_dir

    from xlmr_lit.cli import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        task_cfg = compose("train", overrides=["task=glue"]).task
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as cache:
        data_dir = standin_dir(task_cfg, ["en"], Path(cache))
        print("| checkpoint | train pairs right (%) | dev pairs right (%) |\n|---|---|---|")
        for init in args.checkpoints:
            tokenizer, score = model_scorer(init)
            accuracy = order_accuracy(score, args.pairs, data_dir)
            print(f"| {init} | {accuracy['train']:.1f} | {accuracy['dev']:.1f} |")
            if init == args.checkpoints[0]:
                baseline = order_accuracy(bigram_scorer(tokenizer), args.pairs, data_dir)
        print(f"| bigram counts of the English training text | {baseline['train']:.1f} | {baseline['dev']:.1f} |")


if __name__ == "__main__":
    main()
