"""Raw text -> SentencePiece model -> memory-mapped token shards, each step cached.

Cache entries live under `<cache_dir>/{tokenizers,shards}/<key>`, where the key hashes
everything the entry depends on (input files' path/size/mtime, settings, code version). An
entry is built in a temporary directory and renamed into place only when complete, so an
interrupted or failing run never leaves a half-written entry behind.
"""

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import socket
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from xlmr_lit.corpus import LONG_LINE_BYTES, CorpusError, ReadReport, fingerprint, read_documents
from xlmr_lit.sampling import alpha_sampling_probs, apportion
from xlmr_lit.threads import points_at_once
from xlmr_lit.tokenizer import EOS_ID, UNK_ID, XLMRTokenizer, train_sentencepiece

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # bump when the cached formats change (2: tokenizers no longer record their scratch path)
CHUNK_BYTES = 4 << 20  # text encoded per SentencePiece call; bounds memory whatever the corpus size
SAMPLE_MAX_BYTES = 1 << 30  # the tokenizer sample's text over all languages, each its share by lines


@dataclass
class PreparedCorpus:
    tokenizer_path: Path
    languages: list[str]
    shard_dirs: list[Path]  # per language: train.bin, valid.bin (int32 ids), info.json

    def info(self, lang: str) -> dict:
        return json.loads((self.shard_dirs[self.languages.index(lang)] / "info.json").read_text())


def cache_key(spec: dict) -> str:
    return hashlib.sha256(json.dumps({**spec, "version": CACHE_VERSION}, sort_keys=True).encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


HOST = socket.gethostname().replace("-", "_")


@contextmanager
def atomic_dir(final: Path):
    """Yield a scratch dir that becomes `final` only if the block completes.

    Scratch dirs are named `.<final>.tmp-<host>-<pid>-<random>`; those that a killed process of this host
    left behind are removed first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch_dirs(final.parent)
    scratch = final.parent / f".{final.name}.tmp-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        yield scratch
        try:
            os.rename(scratch, final)
        except OSError:  # another process finished the same entry first; theirs is as good
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def remove_stale_scratch_dirs(parent: Path) -> None:
    for path in parent.glob(f".*.tmp-{HOST}-*-*"):
        pid = path.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not process_alive(int(pid)):
            log.info(f"removing {path}, left by process {pid}, which no longer runs")
            shutil.rmtree(path, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """True if `pid` runs; a zombie (exited, not yet reaped, as orphans in containers without an init stay) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: a worker whose parent is gone (kill -9) exits instead of waiting for work forever."""
    import threading

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


PARALLEL_MIN_BYTES = 32 * 2**20  # less text than this is read in this process: a spawned worker's start-up
                                 # (it re-imports the entry point, torch included) costs more than it saves


def _map(fn, args_list: list[tuple], num_proc: int, desc: str) -> list:
    """fn over args_list in worker processes (spawned: safe next to torch threads), with a progress bar; in this
    process where several sweep points run at once (a joblib worker cannot spawn, and its siblings use the cores)."""
    files = {a for args in args_list for a in args if isinstance(a, Path) and a.is_file()}  # the tokenizer once
    text_bytes = sum(path.stat().st_size for path in files)
    if num_proc <= 1 or len(args_list) == 1 or text_bytes < PARALLEL_MIN_BYTES or points_at_once() > 1:
        return [fn(*args) for args in tqdm(args_list, desc=desc)]
    with ProcessPoolExecutor(num_proc, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(fn, *args) for args in args_list]
        return [f.result() for f in tqdm(futures, desc=desc)]


def _warn_undecodable(report: ReadReport) -> None:
    if message := report.summary():
        log.warning(message)


# --- step 1: tokenizer ------------------------------------------------------------------------


def count_text(path: Path, skip_undecodable: bool) -> ReadReport:
    report = ReadReport(path)
    for _ in read_documents(path, report, skip_undecodable):
        pass
    return report


def sample_lines(path: Path, k: int, seed: int, skip_undecodable: bool,
                 max_bytes: int = SAMPLE_MAX_BYTES) -> tuple[list[str], str | None]:
    """k lines drawn uniformly (reservoir sampling); whole passes repeated when k exceeds the file; at most
    `max_bytes` of text. Lines longer than LONG_LINE_BYTES are left out (SentencePiece's trainer would skip them);
    the second value says so, naming the file and line. A file with no shorter line is an error."""
    rng = np.random.default_rng(seed)
    reservoir: list[str] = []
    seen = 0
    report = ReadReport(path)
    for doc in read_documents(path, report, skip_undecodable):
        for line in doc:
            seen += 1
            if len(reservoir) < k:
                reservoir.append(line)
            elif (j := rng.integers(seen)) < k:
                reservoir[j] = line
    note = None
    if report.long_lines:
        line_no, size = report.first_long_line
        if report.long_lines == report.lines:
            raise CorpusError(f"{path}, line {line_no}: {size} bytes in one line, and no line of the file is shorter "
                              f"than {LONG_LINE_BYTES} bytes, the longest SentencePiece takes; split the text into "
                              f"lines (a sentence or paragraph each, documents separated by blank lines)")
        note = (f"{path}: {report.long_lines} line(s) longer than {LONG_LINE_BYTES} bytes (first: line {line_no}, "
                f"{size} bytes) are left out of the tokenizer sample, as SentencePiece would skip them")
        reservoir = [line for line in reservoir if len(line.encode()) <= LONG_LINE_BYTES]
    if seen < k:
        reservoir = (reservoir * (-(-k // len(reservoir))))[:k]
    kept, total = [], 0
    for line in reservoir:
        total += len(line.encode()) + 1
        if total > max_bytes and kept:
            break
        kept.append(line)
    return kept, note


def prepare_tokenizer(
    files: dict[str, Path],
    cache_dir: Path,
    vocab_size: int,
    sample_lines_total: int,
    character_coverage: float,
    alpha: float,
    seed: int,
    num_proc: int,
    skip_undecodable: bool = True,
    model_type: str = "unigram",
) -> Path:
    """Train a SentencePiece model on a sample drawn with the alpha-smoothed language mix."""
    spec = {
        "sources": {lang: fingerprint(path) for lang, path in files.items()},
        "vocab_size": vocab_size,
        "model_type": model_type,
        "sample_lines": sample_lines_total,
        "character_coverage": character_coverage,
        "alpha": alpha,
        "seed": seed,
    }
    final = cache_dir / "tokenizers" / cache_key(spec)
    model_path = final / "sentencepiece.bpe.model"
    if model_path.is_file():
        log.info(f"tokenizer: cached {model_path}")
        return model_path
    langs = list(files)
    reports = _map(count_text, [(files[lang], skip_undecodable) for lang in langs], num_proc, "count text")
    for report in reports:
        _warn_undecodable(report)
    probs = alpha_sampling_probs([r.text_bytes for r in reports], alpha)
    per_language = apportion(probs, sample_lines_total)
    per_language = [max(int(k), 1) for k in per_language]
    args = [(files[lang], k, seed + i, skip_undecodable, SAMPLE_MAX_BYTES * k // sum(per_language))
            for i, (lang, k) in enumerate(zip(langs, per_language))]
    samples = []
    for lines, note in _map(sample_lines, args, num_proc, "sample text"):
        if note:
            log.warning(note)
        samples.append(lines)
    with atomic_dir(final) as scratch:
        sample_file = scratch / "sample.txt"
        with open(sample_file, "w", encoding="utf-8") as f:
            for lines in samples:
                f.writelines(line + "\n" for line in lines)
        started = time.perf_counter()
        train_sentencepiece(
            sample_file, scratch / "sentencepiece.bpe", vocab_size, character_coverage, num_proc, model_type
        )
        sample_file.unlink()
        mix = {lang: round(float(p), 4) for lang, p in zip(langs, probs)}
        (scratch / "info.json").write_text(json.dumps({**spec, "sample_mix": mix}, indent=1))
        log.info(f"tokenizer: trained vocab {vocab_size} in {time.perf_counter() - started:.1f}s -> {model_path}")
    return model_path


# --- step 2: token shards ---------------------------------------------------------------------


def encode_language(
    lang: str, path: Path, spm_path: Path, out_dir: Path, valid_every: int, valid_max_tokens: int, skip_undecodable: bool
) -> dict:
    """Stream one language into train.bin / valid.bin: each line's ids followed by </s>.

    Document d goes to validation when d % valid_every == 0 until valid_max_tokens is reached. info.json
    records the validation text's characters and lines, which put the validation loss per character, and its
    <unk> pieces: text the tokenizer does not cover, whose loss says nothing.
    """
    tokenizer = XLMRTokenizer(spm_path)
    report = ReadReport(path)
    counts = {"train": 0, "valid": 0, "valid_chars": 0, "valid_lines": 0, "valid_unk": 0}
    started = time.perf_counter()
    with open(out_dir / "train.bin", "wb") as train_f, open(out_dir / "valid.bin", "wb") as valid_f:
        lines: list[str] = []
        line_is_valid: list[bool] = []
        chunk_bytes = 0

        def flush():
            ids, lengths = tokenizer.encode_lines(lines)  # (sum(lengths),), (n_lines,)
            n = len(lengths)
            out = np.full(len(ids) + n, EOS_ID, dtype=np.int32)
            # each line's tokens shift right by the number of </s> inserted before them
            out[np.arange(len(ids)) + np.repeat(np.arange(n), lengths)] = ids
            to_valid = np.repeat(np.asarray(line_is_valid), lengths + 1)
            out[to_valid].tofile(valid_f)
            counts["valid_unk"] += int((out[to_valid] == UNK_ID).sum())
            out[~to_valid].tofile(train_f)
            counts["valid"] += int(to_valid.sum())
            counts["train"] += len(out) - int(to_valid.sum())
            lines.clear()
            line_is_valid.clear()

        for doc_index, doc in enumerate(read_documents(path, report, skip_undecodable)):
            is_valid = doc_index % valid_every == 0 and counts["valid"] < valid_max_tokens
            lines.extend(doc)
            line_is_valid.extend([is_valid] * len(doc))
            if is_valid:
                counts["valid_chars"] += sum(map(len, doc))
                counts["valid_lines"] += len(doc)
            chunk_bytes += sum(map(len, doc))
            if chunk_bytes >= CHUNK_BYTES:
                flush()
                chunk_bytes = 0
        if lines:
            flush()
    if counts["train"] == 0:
        raise CorpusError(
            f"{path}: only {report.documents} document(s); every {valid_every}th goes to validation, so nothing is "
            f"left to train on (add text or raise data.valid_every)"
        )
    seconds = time.perf_counter() - started
    return {
        "language": lang,
        "source": fingerprint(path),
        "train_tokens": counts["train"],
        "valid_tokens": counts["valid"],
        "valid_chars": counts["valid_chars"],
        "valid_lines": counts["valid_lines"],
        "valid_unk": counts["valid_unk"],
        "documents": report.documents,
        "lines": report.lines,
        "text_bytes": report.text_bytes,
        "undecodable_lines": len(report.undecodable_lines),
        "undecodable_summary": report.summary(),
        "seconds": round(seconds, 3),
        "mb_per_s": round(report.text_bytes / 1e6 / max(seconds, 1e-9), 2),
    }


def _encode_into_cache(lang, path, spm_path, final, valid_every, valid_max_tokens, skip_undecodable) -> dict:
    with atomic_dir(final) as scratch:
        info = encode_language(lang, path, spm_path, scratch, valid_every, valid_max_tokens, skip_undecodable)
        (scratch / "info.json").write_text(json.dumps(info, indent=1))
    return info


def prepare_shards(
    files: dict[str, Path],
    spm_path: Path,
    cache_dir: Path,
    valid_every: int,
    valid_max_tokens: int,
    num_proc: int,
    skip_undecodable: bool = True,
) -> list[Path]:
    spm_hash = file_sha256(spm_path)
    dirs, todo = [], []
    for lang, path in files.items():
        spec = {"source": fingerprint(path), "spm": spm_hash, "valid_every": valid_every, "valid_max": valid_max_tokens,
                "info": 3}  # 3: info.json has valid_chars, valid_lines and valid_unk
        final = cache_dir / "shards" / f"{lang}-{cache_key(spec)}"
        dirs.append(final)
        if not (final / "info.json").is_file():
            todo.append((lang, path, spm_path, final, valid_every, valid_max_tokens, skip_undecodable))
    if todo:
        started = time.perf_counter()
        infos = _map(_encode_into_cache, todo, num_proc, "encode languages")
        total_mb = sum(i["text_bytes"] for i in infos) / 1e6
        elapsed = time.perf_counter() - started
        log.info(f"shards: encoded {len(infos)} languages, {total_mb:.1f} MB in {elapsed:.1f}s ({total_mb / elapsed:.1f} MB/s)")
        for info in infos:
            if info["undecodable_summary"]:
                log.warning(info["undecodable_summary"])
    log.info(f"shards: {len(files) - len(todo)} cached, {len(todo)} built under {cache_dir / 'shards'}")
    return dirs


def prepare_corpus(
    corpus_dir: Path,
    languages: list[str],
    cache_dir: Path,
    *,
    spm_path: Path | None,
    vocab_size: int,
    sample_lines: int,
    model_type: str = "unigram",
    character_coverage: float,
    alpha: float,
    seed: int,
    valid_every: int,
    valid_max_tokens: int,
    num_proc: int,
    skip_undecodable: bool,
) -> PreparedCorpus:
    from xlmr_lit.corpus import language_file

    files = {lang: language_file(corpus_dir, lang) for lang in languages}
    # a killed run's scratch dirs, also where every entry it was writing has been finished since
    for entries in (cache_dir / "tokenizers", cache_dir / "shards"):
        if entries.is_dir():
            remove_stale_scratch_dirs(entries)
    if spm_path is None:
        spm_path = prepare_tokenizer(
            files, cache_dir, vocab_size, sample_lines, character_coverage, alpha, seed, num_proc, skip_undecodable,
            model_type,
        )
    elif not Path(spm_path).is_file():
        raise FileNotFoundError(f"tokenizer.spm_path={spm_path}: no such SentencePiece model file")
    dirs = prepare_shards(files, Path(spm_path), cache_dir, valid_every, valid_max_tokens, num_proc, skip_undecodable)
    return PreparedCorpus(Path(spm_path), languages, dirs)
