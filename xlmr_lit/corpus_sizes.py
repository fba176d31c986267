"""How much text each language has: a pretraining corpus beside CC-100 (the paper's Fig. 1 and Table 6).

A corpus's size per language is its text in bytes (lines as stored, before compression) and, with a
SentencePiece model, its tokens. CC-100's are Table 6's figures as `xlmr_lit.languages` holds them
(tokens in millions, GiB). `xlmr-plot fig1_data` draws both; `xlmr-plot table6` writes Table 6.
"""

import csv
import io
from pathlib import Path

from omegaconf import OmegaConf

from xlmr_lit.corpus import ReadReport, check_languages, language_file, read_documents, resolve_languages
from xlmr_lit.languages import BUNDLED_CORPUS_DIR, TABLE6_CORRECTIONS, XLMR_LANGUAGES, bundled_languages
from xlmr_lit.tokenizer import XLMRTokenizer

GIB = 1024**3
RUN_TOKENIZER = Path("tokenizer") / "sentencepiece.bpe.model"


def language_sizes(corpus_dir: Path, languages: list[str], spm_path: Path | None = None) -> dict[str, dict]:
    """{language: {"text_bytes": int, "tokens": int or None}}, reading each language's file once.

    Tokens are SentencePiece pieces (no </s>), counted only when `spm_path` is given.
    """
    tokenizer = XLMRTokenizer(spm_path) if spm_path else None
    sizes = {}
    for lang in languages:
        path = language_file(corpus_dir, lang)
        report = ReadReport(path)
        tokens = 0
        for document in read_documents(path, report):
            if tokenizer:
                tokens += int(tokenizer.encode_lines(document)[1].sum())
        sizes[lang] = {"text_bytes": report.text_bytes, "tokens": tokens if tokenizer else None}
    return sizes


def run_corpus(run_dir: Path) -> tuple[Path, list[str], Path | None]:
    """(corpus dir, languages, SentencePiece model) a pretraining run read, from its config_resolved.yaml."""
    config_path = run_dir / "config_resolved.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir}: no config_resolved.yaml; expected a pretraining run's directory "
                                f"(outputs/<date>/<time> or a sweep point)")
    cfg = OmegaConf.load(config_path)
    if cfg.data.hub.get("dataset"):
        raise ValueError(f"{config_path}: the run streamed data.hub.dataset={cfg.data.hub.dataset}; pass the corpus "
                         f"directory it was written to (under paths.cache_dir/hub_corpora) with --corpus instead")
    corpus_dir = Path(cfg.data.corpus_dir).expanduser() if cfg.data.corpus_dir else BUNDLED_CORPUS_DIR
    languages = resolve_languages(cfg.data.languages)
    languages = check_languages(corpus_dir, languages, set(XLMR_LANGUAGES), cfg.data.skip_missing_languages)
    spm_path = run_dir / RUN_TOKENIZER
    return corpus_dir, languages, spm_path if spm_path.is_file() else None


def table6_rows() -> list[dict]:
    """Table 6 of the paper (CC-100 per language), in its order, with the two printed typos corrected."""
    bundled = set(bundled_languages())
    rows = []
    for code, (name, tokens, gib) in XLMR_LANGUAGES.items():
        note = ""
        if code in TABLE6_CORRECTIONS:
            printed_tokens, printed_gib = TABLE6_CORRECTIONS[code]
            note = f"printed as {printed_tokens:g} M tokens, {printed_gib:g} GiB (a typo)"
        rows.append({"iso_code": code, "language": name, "tokens_m": tokens, "size_gib": gib,
                     "in_bundled_corpus": code in bundled, "note": note})
    return rows


def table6_markdown(rows: list[dict]) -> str:
    lines = ["| ISO code | language | tokens (M) | size (GiB) | in the bundled corpus | note |", "|---|---|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['iso_code']} | {r['language']} | {r['tokens_m']:,g} | {r['size_gib']:g} | "
                     f"{'yes' if r['in_bundled_corpus'] else 'no'} | {r['note']} |")
    total_tokens = sum(r["tokens_m"] for r in rows)
    total_gib = sum(r["size_gib"] for r in rows)
    lines.append(f"| | total ({len(rows)} languages) | {total_tokens:,g} | {total_gib:,.1f} | | |")
    return "\n".join(lines) + "\n"


def table6_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_table6(out: Path) -> list[Path]:
    """`<out>.md` and `<out>.csv`."""
    rows = table6_rows()
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_name(out.name + ".md"), out.with_name(out.name + ".csv")]
    paths[0].write_text(table6_markdown(rows), encoding="utf-8")
    paths[1].write_text(table6_csv(rows), encoding="utf-8")
    return paths
