"""HF hub datasets as a pretraining corpus: stream each language once into the local text layout.

The streamed text is written as `<cache>/hub/<key>/<lang>.txt` (documents separated by blank
lines), so everything downstream (tokenizer, shards, caching) is the same as for local files.
Online only; tests fake `datasets.load_dataset`.
"""

import logging
import os
from pathlib import Path

from xlmr_lit.prepare import cache_key

log = logging.getLogger(__name__)


def hub_config_name(lang: str, config: str, config_map: dict[str, str]) -> str:
    return config_map.get(lang, config.format(lang=lang))


def materialize_hub_corpus(
    dataset: str,
    languages: list[str],
    cache_dir: Path,
    config: str = "{lang}",
    config_map: dict[str, str] | None = None,
    split: str = "train",
    text_field: str = "text",
    max_documents: int | None = None,
) -> Path:
    from datasets import load_dataset

    config_map = config_map or {}
    spec = {
        "dataset": dataset, "config": config, "config_map": config_map, "split": split,
        "text_field": text_field, "max_documents": max_documents,
    }
    corpus_dir = cache_dir / "hub" / cache_key(spec)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        target = corpus_dir / f"{lang}.txt"
        if target.is_file():
            continue
        name = hub_config_name(lang, config, config_map)
        log.info(f"hub corpus: streaming {dataset} ({name}, {split}) -> {target}")
        stream = load_dataset(dataset, name, split=split, streaming=True)
        partial = target.with_suffix(f".tmp-{os.getpid()}")
        try:
            documents = _write_documents(stream, partial, text_field, max_documents, f"{dataset} ({name})")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)  # complete files only: an interrupted download starts over
        log.info(f"hub corpus: {lang}: {documents} documents")
    return corpus_dir


def _write_documents(stream, path: Path, text_field: str, max_documents: int | None, source: str) -> int:
    documents = 0
    with open(path, "w", encoding="utf-8") as f:
        for example in stream:
            if text_field not in example:
                raise KeyError(f"{source} has no field data.hub.text_field={text_field!r}; fields: {list(example)}")
            text = example[text_field].strip()
            if not text:
                continue
            f.write(text + "\n\n")
            documents += 1
            if max_documents and documents >= max_documents:
                break
    return documents
