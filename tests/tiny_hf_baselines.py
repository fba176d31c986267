"""Tiny randomly initialised BERT and XLM directories in the hub's file layout, for `model.init=hf:<dir>`.

BERT as google-bert/bert-base-multilingual-cased ships it: config.json, model.safetensors (BertForMaskedLM),
vocab.txt and tokenizer_config.json. XLM as FacebookAI/xlm-mlm-100-1280 does: config.json with lang2id/id2lang,
model.safetensors (XLMWithLMHeadModel), vocab.json and merges.txt (XLM's BPE, `</w>` ending a word). Both
vocabularies are the characters of the bundled UDHR text of a few languages plus the words of `WORDS`, so
most words are one piece and the rest several.
"""

import json
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, XLMConfig, XLMWithLMHeadModel

from tiny_hf_model import WORDS, udhr_lines

LANGUAGES = ("en", "fr", "sw", "de", "es", "nl")
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
XLM_SPECIALS = ["<s>", "</s>", "<pad>", "<unk>", *(f"<special{i}>" for i in range(10))]


def _characters() -> list[str]:
    text = "".join(udhr_lines(LANGUAGES)) + "".join(w for words in WORDS.values() for w in words)
    return sorted({c for c in text if not c.isspace()})


def _words() -> list[str]:
    return sorted({w for lang in ("en", "de", "es", "nl") for w in WORDS[lang]})


def build_tiny_bert(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    chars = _characters()
    vocab = [*BERT_SPECIALS, *_words(), *chars, *(f"##{c}" for c in chars)]
    vocab = list(dict.fromkeys(vocab))
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, type_vocab_size=2)
    torch.manual_seed(0)
    BertForMaskedLM(config).save_pretrained(directory)
    return directory


def build_tiny_xlm(directory: Path, languages=("en", "fr", "sw"), use_lang_emb: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    chars = _characters()
    prefixes = [w[:i] for w in _words() for i in range(2, len(w))]  # what the merges build on the way to a word
    vocab = [*XLM_SPECIALS, *(f"{w}</w>" for w in _words()), *prefixes, *chars, *(f"{c}</w>" for c in chars)]
    vocab = list(dict.fromkeys(vocab))
    (directory / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}, ensure_ascii=False))
    # merges that spell each whole word of WORDS, left to right
    merges = []
    for word in _words():
        for i in range(1, len(word)):
            merges.append(f"{word[:i]} {word[i]}</w>" if i == len(word) - 1 else f"{word[:i]} {word[i]}")
    (directory / "merges.txt").write_text("\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lowercase_and_remove_accent": False}))
    lang2id = {lang: i for i, lang in enumerate(languages)}
    config = XLMConfig(vocab_size=len(vocab), emb_dim=32, n_layers=1, n_heads=2, n_langs=len(languages),
                       use_lang_emb=use_lang_emb, lang2id=lang2id, id2lang={i: l for l, i in lang2id.items()},
                       max_position_embeddings=512, bos_index=0, eos_index=1, pad_index=2, unk_index=3, mask_index=5)
    torch.manual_seed(0)
    XLMWithLMHeadModel(config).save_pretrained(directory)
    return directory
