"""Raw multilingual text: one file per language, documents separated by blank lines (CC-100 layout).

`<dir>/<lang>.txt`, `<lang>.txt.gz` or `<lang>.txt.xz`; one paragraph or sentence per line.
"""

import difflib
import functools
import gzip
import lzma
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

SUFFIXES = (".txt", ".txt.gz", ".txt.xz")
LANGUAGE_SETS_FILE = Path(__file__).resolve().parents[1] / "conf" / "language_sets.yaml"


class CorpusError(ValueError):
    pass


def language_file(corpus_dir: Path, lang: str) -> Path:
    for suffix in SUFFIXES:
        path = corpus_dir / f"{lang}{suffix}"
        if path.is_file():
            return path
    expected = ", ".join(f"{lang}{s}" for s in SUFFIXES)
    raise CorpusError(f"no text for language '{lang}' in {corpus_dir} (expected one of: {expected})")


def fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _open_binary(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


@dataclass
class ReadReport:
    """What reading one file found: counts, and where undecodable lines were skipped."""

    path: Path
    lines: int = 0
    documents: int = 0
    text_bytes: int = 0
    undecodable_lines: list[int] = field(default_factory=list)
    long_lines: int = 0  # lines of more than LONG_LINE_BYTES
    first_long_line: tuple[int, int] | None = None  # (line number, bytes)

    def summary(self) -> str | None:
        if not self.undecodable_lines:
            return None
        first = ", ".join(map(str, self.undecodable_lines[:5]))
        return f"{self.path}: skipped {len(self.undecodable_lines)} lines that are not valid UTF-8 (lines {first}...)"


LONG_LINE_BYTES = 4192  # SentencePiece's max_sentence_length: its trainer skips longer lines
MAX_UNDECODABLE_FRACTION = 0.05  # more than this is a file in another encoding, not a few stray bytes


def read_documents(path: Path, report: ReadReport, skip_undecodable: bool = True) -> Iterator[list[str]]:
    """Yield documents as lists of non-empty lines; fills `report` while reading."""
    try:
        yield from _read_documents(path, report, skip_undecodable)
    except (OSError, EOFError, lzma.LZMAError) as err:
        kind = {".gz": "gzip", ".xz": "xz"}.get(path.suffix, "text")
        raise CorpusError(f"{path}: cannot be read as a {kind} file ({err}); it is truncated or not {kind}") from None
    undecodable = len(report.undecodable_lines)
    if undecodable > MAX_UNDECODABLE_FRACTION * (undecodable + report.lines):
        raise CorpusError(
            f"{path}: {undecodable} of {undecodable + report.lines} lines are not valid UTF-8 (first: line "
            f"{report.undecodable_lines[0]}), so the file is in another encoding (latin-1?); convert it, e.g. "
            f"iconv -f latin1 -t utf-8 (data.skip_undecodable skips at most "
            f"{MAX_UNDECODABLE_FRACTION:.0%} of the lines)"
        )


def _read_documents(path: Path, report: ReadReport, skip_undecodable: bool) -> Iterator[list[str]]:
    doc: list[str] = []
    with _open_binary(path) as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as err:
                if not skip_undecodable:
                    raise CorpusError(f"{path}, line {line_no}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
                report.undecodable_lines.append(line_no)
                continue
            if len(raw) > LONG_LINE_BYTES:
                report.long_lines += 1
                report.first_long_line = report.first_long_line or (line_no, len(raw))
            if line:
                doc.append(line)
                report.lines += 1
                report.text_bytes += len(raw)
            elif doc:
                report.documents += 1
                yield doc
                doc = []
    if doc:
        report.documents += 1
        yield doc
    if report.lines == 0:
        raise CorpusError(f"{path}: no text (the file is empty or has only blank or undecodable lines)")


@functools.cache
def language_sets() -> dict[str, list[str]]:
    """The named language sets of conf/language_sets.yaml (xnli7, xnli15, lang30, ...), kept out of the composed config."""
    return OmegaConf.to_container(OmegaConf.load(LANGUAGE_SETS_FILE).language_sets)


def resolve_languages(languages, key: str = "data.languages") -> list[str]:
    """`languages` (the config's `key`) is a set name from conf/language_sets.yaml or a list of codes."""
    if isinstance(languages, str):
        sets = language_sets()
        if languages not in sets:
            close = difflib.get_close_matches(languages, list(sets), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise CorpusError(
                f"{key}={languages!r} is not a language set; known sets: {', '.join(sets)} "
                f"(or give a list, e.g. {key}=[en,fr]){hint}"
            )
        languages = sets[languages]
    if not isinstance(languages, list | tuple) and not hasattr(languages, "__iter__"):
        raise CorpusError(f"{key}={languages!r}: expected a language set name or a list of language codes")
    languages = list(languages)
    if len(set(languages)) != len(languages):
        raise CorpusError(f"{key} has duplicates: {languages}")
    if not languages:
        raise CorpusError(f"{key} is empty")
    return languages


def check_languages(corpus_dir: Path, languages: list[str], known: set[str], skip_missing: bool) -> list[str]:
    """Unknown codes are an error; languages without a file are an error unless `skip_missing`."""
    unknown = [lang for lang in languages if lang not in known]
    if unknown:
        raise CorpusError(
            f"unknown language code(s) {unknown} in data.languages; XLM-R's codes are: {' '.join(sorted(known))}"
        )
    present, missing = [], []
    for lang in languages:
        try:
            language_file(corpus_dir, lang)
            present.append(lang)
        except CorpusError:
            missing.append(lang)
    if missing and not skip_missing:
        raise CorpusError(
            f"{corpus_dir} has no text for {missing} (expected <lang>.txt, .txt.gz or .txt.xz); "
            f"set data.skip_missing_languages=true to train on the {len(present)} languages that exist"
        )
    if not present:
        raise CorpusError(f"{corpus_dir} has no text for any of {languages}")
    return present
