"""Does a pretrained encoder know word order? (issue 18; RESULTS.md §15)

    python benchmarks/order_probe.py CKPT [CKPT ...] [--pairs 80] [--corpus-dir ~/.cache/xlmr_lit/man_pages]

For each checkpoint (ours, or hf:<dir>), scores the SST-2 stand-in's pairs (a run of UDHR words in order, and the
same run reversed; xlmr_lit/tasks/udhr_standins.py) by pseudo-log-likelihood: every token masked in turn, the
mean log-probability of the true token. The probe counts a pair right when the run in order scores higher. A
model that knows word order gets far above 50%; a model that knows only which words go together gets 50%, since
a reversed run has the same words. Train rows come from articles the default pretraining also read (every 10th
article is its validation text), dev rows from others.

With --corpus-dir (the corpus the checkpoint was pretrained on, e.g. scale=mini's man pages), a third column scores
SENTENCES held-out English sentences of 8 to 20 words, in order vs reversed, from the documents pretraining held out
for validation (every 10th, data.valid_every): the probe of issue 27, in the pretraining text's own domain.

The last row is a count-based bigram model (add-0.1 smoothing) of the same English training text under the first
checkpoint's tokenizer: what the text itself says about word order, without any training.
"""

from __future__ import annotations

import argparse
import math
import re
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


SENTENCES = 200


def held_out_sentences(corpus_dir: Path, valid_every: int = 10) -> list[str]:
    """SENTENCES English sentences of 8-20 words, nearly all of them plain words, spread evenly over the held-out
    documents (every valid_every-th from the first)."""
    path = language_file(corpus_dir, "en")
    found: dict[str, None] = {}
    for index, doc in enumerate(read_documents(path, ReadReport(path))):
        if index % valid_every == 0:
            for line in doc:
                for sentence in re.split(r"(?<=[.!?])\s+", line):
                    words = sentence.split()
                    plain = sum(w.strip(".,;:()'\"").isalpha() for w in words)
                    if 8 <= len(words) <= 20 and plain >= 0.9 * len(words):
                        found[sentence] = None
    sentences = list(found)
    if len(sentences) < SENTENCES:
        raise ValueError(f"{path}: {len(sentences)} held-out sentences of 8-20 words, expected {SENTENCES}")
    return [sentences[i * len(sentences) // SENTENCES] for i in range(SENTENCES)]


def sentence_order_accuracy(score, sentences: list[str]) -> float:
    return 100 * sum(score(s) > score(" ".join(s.split()[::-1])) for s in sentences) / len(sentences)


def bigram_scorer(tokenizer: XLMRTokenizer, corpus_dir: Path = BUNDLED_CORPUS_DIR, valid_every: int = 10):
    """Mean log P(token | previous token) under bigram counts of the English training documents of corpus_dir."""
    path = language_file(corpus_dir, "en")
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
    parser.add_argument("--corpus-dir", type=Path, help="also score held-out sentences of this corpus's en text")
    args = parser.parse_args(argv)
    sentences = held_out_sentences(args.corpus_dir.expanduser()) if args.corpus_dir else None
    from hydra import compose, initialize_config_dir

    from xlmr_lit.cli import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        task_cfg = compose("train", overrides=["task=glue"]).task
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as cache:
        data_dir = standin_dir(task_cfg, ["en"], Path(cache))
        extra = f" {SENTENCES} held-out corpus sentences right (%) |" if sentences else ""
        print(f"| checkpoint | train pairs right (%) | dev pairs right (%) |{extra}")
        print(f"|---|---|---|{'---|' * bool(extra)}")
        for init in args.checkpoints:
            tokenizer, score = model_scorer(init)
            accuracy = order_accuracy(score, args.pairs, data_dir)
            corpus = f" {sentence_order_accuracy(score, sentences):.1f} |" if sentences else ""
            print(f"| {init} | {accuracy['train']:.1f} | {accuracy['dev']:.1f} |{corpus}", flush=True)
            if init == args.checkpoints[0]:
                baseline = order_accuracy(bigram_scorer(tokenizer), args.pairs, data_dir)
                if sentences:
                    corpus_bigrams = bigram_scorer(tokenizer, args.corpus_dir.expanduser())
                    baseline["corpus"] = sentence_order_accuracy(corpus_bigrams, sentences)
        corpus = f" {baseline['corpus']:.1f} |" if sentences else ""
        bigrams = f"| bigram counts of the English training text | {baseline['train']:.1f} | {baseline['dev']:.1f} |"
        print(bigrams + corpus)


if __name__ == "__main__":
    main()
