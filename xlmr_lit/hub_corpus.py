"""HF hub datasets as a pretraining corpus: stream each language once into the local text layout.

The streamed text is written as `<cache>/hub/<key>/<lang>.txt` (documents separated by blank
lines), so everything downstream (tokenizer, shards, caching) is the same as for local files.
Which dataset and config each language comes from is `data.hub` (conf/data/hub/: fineweb2,
wikipedia); a language it has no config for is an error naming the language and the dataset, or is
left out with `skip_missing`, before anything is downloaded.
"""

import logging
import os
from pathlib import Path

from xlmr_lit.prepare import cache_key

log = logging.getLogger(__name__)


def language_sources(
    dataset: str,
    languages: list[str],
    config: str | None = "{lang}",
    config_map: dict[str, str | None] | None = None,
    sources: dict[str, dict] | None = None,
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """({lang: (dataset, config)}, languages the source lacks).

    sources[lang] = {dataset, config} reads that language from another dataset; config_map[lang] names
    its config in `dataset` (None: the dataset lacks it); otherwise the template `config` names it
    (None: only config_map's languages exist).
    """
    config_map, sources = config_map or {}, sources or {}
    found, missing = {}, []
    for lang in languages:
        if lang in sources:
            found[lang] = (sources[lang]["dataset"], sources[lang]["config"])
        elif lang in config_map:
            if config_map[lang] is None:
                missing.append(lang)
            else:
                found[lang] = (dataset, config_map[lang])
        elif config is not None:
            found[lang] = (dataset, config.format(lang=lang))
        else:
            missing.append(lang)
    return found, missing


def materialize_hub_corpus(
    dataset: str,
    languages: list[str],
    cache_dir: Path,
    config: str | None = "{lang}",
    config_map: dict[str, str | None] | None = None,
    sources: dict[str, dict] | None = None,
    split: str = "train",
    text_field: str = "text",
    max_documents: int | None = None,
    hub_dir: str | None = None,
    skip_missing: bool = False,
) -> Path:
    """The corpus directory with `<lang>.txt` for every language the source has.

    hub_dir: local copies of the repositories (`<hub_dir>/<owner>/<name>`), read instead of the hub.
    """
    from datasets import load_dataset

    found, missing = language_sources(dataset, languages, config, config_map, sources)
    if missing:
        message = (f"data.hub: {dataset} has no config for {' '.join(missing)} (data.hub.config_map and "
                   f"data.hub.sources list the languages it reads)")
        if not skip_missing:
            raise ValueError(f"{message}; set data.skip_missing_languages=true to train on the {len(found)} others")
        log.warning("%s: skipped (data.skip_missing_languages=true)", message)
    spec = {  # the same for any language set, so that a language is streamed once
        "dataset": dataset, "config": config, "config_map": config_map, "sources": sources, "split": split,
        "text_field": text_field, "max_documents": max_documents,
    }
    corpus_dir = cache_dir / "hub" / cache_key(spec)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for lang, (lang_dataset, name) in found.items():
        target = corpus_dir / f"{lang}.txt"
        if target.is_file():
            continue
        path = lang_dataset if hub_dir is None else str(Path(hub_dir).expanduser() / lang_dataset)
        log.info(f"hub corpus: streaming {lang_dataset} ({name}, {split}) -> {target}")
        stream = load_dataset(path, name, split=split, streaming=True)
        partial = target.with_suffix(f".tmp-{os.getpid()}")
        try:
            documents = _write_documents(stream, partial, text_field, max_documents, f"{lang_dataset} ({name})")
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
