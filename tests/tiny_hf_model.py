"""A tiny randomly initialised HF XLM-R directory, for `model.init=hf:<dir>` in fine-tuning tests.

Its SentencePiece model is trained on generated sentences in the fixtures' languages (Latin
scripts, Arabic, Chinese) plus the bundled UDHR text of those languages, for a realistic mix of
whole-word and sub-word pieces and no <unk> on fixture text.
"""

import random
import shutil
from pathlib import Path

import torch
from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

from xlmr_lit.convert import SPM_FILE
from xlmr_lit.corpus import ReadReport, language_file, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR
from xlmr_lit.tokenizer import train_sentencepiece

VOCAB = 1000  # SentencePiece pieces + 2

WORDS = {
    "en": "the city of Paris is in France and John Smith works for the United Nations in New York".split(),
    "de": "die Stadt Berlin liegt in Deutschland und Angela Merkel arbeitet für Siemens in München".split(),
    "es": "la ciudad de Madrid está en España y Pedro García trabaja para Telefónica en Sevilla".split(),
    "nl": "de stad Amsterdam ligt in Nederland en Jan de Vries werkt voor Philips in Eindhoven".split(),
    "ar": "تقع مدينة القاهرة في مصر ويعمل أحمد علي في جامعة الأزهر".split(),
    "zh": "北京 是 中国 的 首都 李明 在 清华大学 工作 上海 位于 长江 入海口".split(),
}


def sample_lines(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        lang = list(WORDS)[i % len(WORDS)]
        words = rng.choices(WORDS[lang], k=rng.randint(4, 12))
        # Chinese words spaced too: random unspaced runs would fill the vocabulary with junk pieces
        lines.append(" ".join(words) + ("。" if lang == "zh" else " ."))
    return lines


def udhr_lines(languages=("en", "de", "es", "nl", "ar", "zh")) -> list[str]:
    lines = []
    for lang in languages:
        path = language_file(BUNDLED_CORPUS_DIR, lang)
        lines += [paragraph for doc in read_documents(path, ReadReport(path)) for paragraph in doc]
    return lines


def build_tiny_hf_model(directory: Path, extra_text: list[str] = ()) -> Path:
    """Write config.json, model.safetensors and sentencepiece.bpe.model into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    sample = directory / "spm_sample.txt"
    sample.write_text("\n".join([*sample_lines(2000), *udhr_lines(), *extra_text]) + "\n", encoding="utf-8")
    spm = train_sentencepiece(sample, directory / "spm", VOCAB, character_coverage=1.0)
    shutil.move(spm, directory / SPM_FILE)
    config = XLMRobertaConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=514, type_vocab_size=1, hidden_act="gelu",
    )
    torch.manual_seed(0)
    XLMRobertaForMaskedLM(config).save_pretrained(directory)
    return directory


def randomize(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter random (biases and LayerNorms too), so a swapped or dropped tensor shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            mean = 1.0 if "LayerNorm.weight" in name or "layer_norm.weight" in name else 0.0
            param.copy_(mean + 0.1 * torch.randn(param.shape, generator=generator))
    return model.eval()


def spm_from_sentences(root: Path, sentences: list[str], vocab_size: int) -> Path:
    """A SentencePiece model trained on 300 seeded shuffles of `sentences`, each with a number."""
    rng = random.Random(0)
    lines = [" ".join(rng.sample(sentences, rng.randint(1, 3))) + f" {rng.randint(0, 9999)}" for _ in range(300)]
    (root / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return train_sentencepiece(root / "corpus.txt", root / "spm", vocab_size, 1.0)
