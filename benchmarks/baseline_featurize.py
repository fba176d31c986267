"""Featurization speed: the XLM-R path (our SentencePiece tokenizer) and the baselines' (AutoTokenizer).

Run it on two checkouts (the first run of each tokenizer includes warming up) to see that the XLM-R path kept its speed:
    PYTHONPATH=<checkout> python benchmarks/baseline_featurize.py
Examples are the bundled UDHR text of en, de, es, nl: sentence pairs (XNLI), tagged sentences (NER) and
question/paragraph pairs (QA), featurized with the task modules' `featurize`. The baselines' rows use the tiny
BERT and XLM directories of tests/tiny_hf_baselines.py (same tokenizer classes as mBERT and XLM-100, smaller
vocabularies); XLM's tokenizer is Python (Moses), the others native.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from common import cpu_model  # noqa: E402
from tiny_hf_model import udhr_lines  # noqa: E402

from xlmr_lit.tasks import ner, qa  # noqa: E402
from xlmr_lit.tasks.features import featurize_pairs  # noqa: E402
from xlmr_lit.tasks.readers import Answer, QAExample, SentencePair, TaggedSentence  # noqa: E402
from xlmr_lit.tokenizer import XLMRTokenizer, train_sentencepiece  # noqa: E402

LANGUAGES = ("en", "de", "es", "nl")


def examples():
    lines = [line for lang in LANGUAGES for line in udhr_lines((lang,))]
    pairs = [SentencePair(a, b, "neutral", "en") for a, b in zip(lines, lines[1:])]
    tagged = [TaggedSentence(line.split(), ["O"] * len(line.split()), "en") for line in lines if line.split()]
    questions = [QAExample(str(i), " ".join(a.split()[:8]), b, [Answer(b.split()[0], 0)])
                 for i, (a, b) in enumerate(zip(lines, lines[1:])) if b.split()]
    for question in questions:
        question.language = "en"  # a field of the baselines' checkout, set so that both checkouts run this
    return pairs, tagged, questions


def timed(name: str, tokenizer, pairs, tagged, questions, repeats: int = 3) -> None:
    for task, run, n in (("pairs (XNLI)", lambda: featurize_pairs(pairs, tokenizer, ["neutral"], 128), len(pairs)),
                         ("NER", lambda: ner.featurize(tagged, tokenizer, ner.LABELS, 128), len(tagged)),
                         ("QA", lambda: qa.featurize(questions, tokenizer, [], 384), len(questions))):
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        print(f"{name:<28}{task:<14}{n:>7}{n / seconds[0]:>14,.0f}{n / min(seconds):>14,.0f}")


def main() -> None:
    pairs, tagged, questions = examples()
    print(f"CPU: {cpu_model()}; examples/s of the first run and the best of 3 (XLM: words seen before are cached)")
    print(f"{'tokenizer':<28}{'task':<14}{'n':>7}{'first':>14}{'best':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.txt"
        sample.write_text("\n".join(udhr_lines(LANGUAGES)) + "\n", encoding="utf-8")
        spm = train_sentencepiece(sample, Path(tmp) / "spm", 2000, character_coverage=1.0)
        timed("XLM-R (SentencePiece)", XLMRTokenizer(spm), pairs, tagged, questions)
        try:
            from transformers import AutoConfig
            from tiny_hf_baselines import build_tiny_bert, build_tiny_xlm

            from xlmr_lit.hf_encoder import HFTokenizer
        except ImportError:
            return  # a checkout without the baselines path
        for name, build in (("BERT (fast, Rust)", build_tiny_bert), ("XLM (Python, Moses)", build_tiny_xlm)):
            directory = build(Path(tmp) / name.split()[0])
            timed(name, HFTokenizer(directory, AutoConfig.from_pretrained(directory)), pairs, tagged, questions)


if __name__ == "__main__":
    main()
