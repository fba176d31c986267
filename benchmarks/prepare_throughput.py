"""Data preparation throughput (MB/s of raw text per core) and peak memory of prepare_shards.

1. Speed: a corpus of --speed-mb MB is generated from shuffled bundled UDHR paragraphs of
   --langs (one .txt, blank-line-separated documents). This process is pinned to ONE core, then
   times our `encode_language` on the file (read + UTF-8 decode + encode + id layout + write
   train.bin/valid.bin) and SentencePiece's own `sp.encode(lines, num_threads=1)` on the same
   lines already in memory (no file I/O). Both use the same SentencePiece model (unigram, vocab
   --vocab, trained once on all bundled text and cached in --work-dir).
2. Memory: for each of --sizes (MB) a corpus is generated and a child process runs
   `prepare_shards(..., num_proc=1)` on it; its peak RSS (ru_maxrss from os.wait4) is reported,
   next to a child that only imports xlmr_lit.prepare and loads the tokenizer (the baseline).

    python benchmarks/prepare_throughput.py                        # speed on 20 MB, memory at 10 MB and 1 GB
    python benchmarks/prepare_throughput.py --sizes 10,100 --speed-mb 10   # quick
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm

from xlmr_lit.corpus import ReadReport, read_documents
from xlmr_lit.languages import BUNDLED_CORPUS_DIR, bundled_languages
from xlmr_lit.prepare import encode_language
from xlmr_lit.tokenizer import train_sentencepiece

from common import XNLI7, cpu_model  # benchmarks/common.py


def bundled_documents(lang: str) -> list[str]:
    path = BUNDLED_CORPUS_DIR / f"{lang}.txt.xz"
    return ["\n".join(doc) for doc in read_documents(path, ReadReport(path))]


def get_spm(work_dir: Path, vocab_size: int) -> Path:
    """A unigram model trained on all bundled UDHR text, cached in work_dir."""
    model = work_dir / f"spm-bundled-{vocab_size}.model"
    if model.is_file():
        return model
    sample = work_dir / "spm-sample.txt"
    with open(sample, "w", encoding="utf-8") as f:
        for lang in bundled_languages():
            for doc in bundled_documents(lang):
                f.write(doc + "\n")
    started = time.perf_counter()
    trained = train_sentencepiece(sample, work_dir / f"spm-bundled-{vocab_size}", vocab_size, 0.9995, num_threads=len(os.sched_getaffinity(0)))
    sample.unlink()
    print(f"trained SentencePiece (vocab {vocab_size}) on all bundled text in {time.perf_counter() - started:.1f}s -> {trained}")
    return trained


def generate_corpus(path: Path, langs: list[str], megabytes: float, seed: int) -> int:
    """Shuffled bundled paragraphs (each a document) until the file holds `megabytes` MB; returns bytes."""
    docs = [doc for lang in langs for doc in bundled_documents(lang)]
    rng = np.random.default_rng(seed)
    target = int(megabytes * 1e6)
    written = 0
    with open(path, "wb") as f:
        while written < target:
            block = "\n\n".join(docs[i] for i in rng.permutation(len(docs))) + "\n\n"
            data = block.encode("utf-8")
            if written + len(data) > target:  # cut at a document boundary
                cut = data.rfind(b"\n\n", 0, target - written)
                data = data[: cut + 2] if cut > 0 else data
            f.write(data)
            written += len(data)
    return path.stat().st_size


def speed(corpus: Path, spm_path: Path, work_dir: Path, repeats: int) -> dict:
    cpu = min(os.sched_getaffinity(0))
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # one core: encode_language's SentencePiece call would otherwise use every core
    try:
        ours_s, info = [], None
        for _ in range(repeats):
            out = work_dir / "speed-shard"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            started = time.perf_counter()
            info = encode_language("mix", corpus, spm_path, out, valid_every=10, valid_max_tokens=200000, skip_undecodable=True)
            ours_s.append(time.perf_counter() - started)
            shutil.rmtree(out)
        lines = [line for doc in read_documents(corpus, ReadReport(corpus)) for line in doc]
        sp = spm.SentencePieceProcessor(model_file=str(spm_path))
        spm_s = []
        for _ in range(repeats):
            started = time.perf_counter()
            encoded = sp.encode(lines, num_threads=1)
            spm_s.append(time.perf_counter() - started)
            n_tokens = sum(map(len, encoded))
            del encoded
    finally:
        os.sched_setaffinity(0, saved)
    mb = info["text_bytes"] / 1e6
    return {
        "cpu": cpu,
        "mb": mb,
        "lines": len(lines),
        "tokens": info["train_tokens"] + info["valid_tokens"],
        "spm_tokens": n_tokens,
        "ours_s": min(ours_s),
        "spm_s": min(spm_s),
    }


CHILD = r"""
import json, sys, time
from pathlib import Path
from xlmr_lit.prepare import prepare_shards
from xlmr_lit.tokenizer import XLMRTokenizer
corpus, spm_path, cache = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
def hwm_mb():  # this process's own peak RSS since exec (ru_maxrss also counts the parent's image at fork/exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
if corpus == "-":
    XLMRTokenizer(spm_path).encode_lines(["hello world"])
    print(json.dumps({"hwm_mb": hwm_mb()}))
else:
    started = time.perf_counter()
    [d] = prepare_shards({"mix": Path(corpus)}, spm_path, cache, valid_every=10, valid_max_tokens=200000, num_proc=1)
    info = json.loads((d / "info.json").read_text())
    print(json.dumps({"seconds": time.perf_counter() - started, "text_bytes": info["text_bytes"],
                      "tokens": info["train_tokens"] + info["valid_tokens"], "hwm_mb": hwm_mb()}))
"""


def child_peak_rss(corpus: str, spm_path: Path, cache: Path) -> tuple[float, dict]:
    """Run prepare_shards in a child; return ru_maxrss in MB (from wait4) and what it printed.

    On Linux ru_maxrss survives exec: it is at least the RSS the parent had when the child was
    forked, so the child's own peak (VmHWM, printed by the child) is the figure to read; ru_maxrss
    is shown beside it.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, corpus, str(spm_path), str(cache)],
        stdout=subprocess.PIPE,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"child failed with exit code {proc.returncode}")
    return usage.ru_maxrss / 1024, json.loads(out.decode().strip().splitlines()[-1])  # Linux: ru_maxrss in KiB


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--langs", default=XNLI7, help="comma-separated bundled languages mixed into the corpus")
    p.add_argument("--speed-mb", type=float, default=20, help="corpus size for the speed comparison (MB)")
    p.add_argument("--sizes", default="10,1000", help="comma-separated corpus sizes (MB) for the memory test")
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--repeats", type=int, default=2, help="timed repeats of each speed measurement (best kept)")
    p.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "xlmr_bench_prepare")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    langs = args.langs.split(",")
    sizes = [float(s) for s in args.sizes.split(",") if s]
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} cores, python {platform.python_version()}, sentencepiece {spm.__version__}")
    print(f"corpus: shuffled bundled UDHR paragraphs of {','.join(langs)}; work dir {args.work_dir}")
    spm_path = get_spm(args.work_dir, args.vocab)

    # --- speed --------------------------------------------------------------------------------
    corpus = args.work_dir / "speed" / "mix.txt"
    corpus.parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    size = generate_corpus(corpus, langs, args.speed_mb, args.seed)
    print(f"generated {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s")
    s = speed(corpus, spm_path, args.work_dir, args.repeats)
    corpus.unlink()
    ours_mbps, spm_mbps = s["mb"] / s["ours_s"], s["mb"] / s["spm_s"]

    # --- memory -------------------------------------------------------------------------------
    mem_rows = []
    base_maxrss, base = child_peak_rss("-", spm_path, args.work_dir / "cache")
    base_rss = base["hwm_mb"]
    for mb in sizes:
        d = args.work_dir / f"mem-{mb:g}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        started = time.perf_counter()
        size = generate_corpus(d / "mix.txt", langs, mb, args.seed)
        gen_s = time.perf_counter() - started
        print(f"generated {size / 1e6:.1f} MB in {gen_s:.1f}s; running prepare_shards(num_proc=1) in a child ...", flush=True)
        rss, info = child_peak_rss(str(d / "mix.txt"), spm_path, d / "cache")
        mem_rows.append((size / 1e6, info["hwm_mb"], rss, info))
        shutil.rmtree(d)

    print()
    print(f"speed, one core (CPU {s['cpu']}), {s['mb']:.1f} MB of text, {s['lines']} lines, {s['tokens']} tokens incl. </s>; best of {args.repeats}")
    print(f"{'method':58s} {'seconds':>8s} {'MB/s':>8s}")
    print(f"{'ours: encode_language (read+decode+encode+layout+write)':58s} {s['ours_s']:8.2f} {ours_mbps:8.2f}")
    print(f"{'SentencePiece: sp.encode(lines, num_threads=1), in memory':58s} {s['spm_s']:8.2f} {spm_mbps:8.2f}")
    print()
    print(
        f"memory: peak RSS (VmHWM) of a child running prepare_shards(num_proc=1); baseline child (imports + tokenizer) "
        f"{base_rss:.0f} MB (ru_maxrss {base_maxrss:.0f} MB: includes this parent's image at fork)"
    )
    print(f"{'corpus MB':>10s} {'tokens':>12s} {'seconds':>8s} {'MB/s':>7s} {'peak RSS MB':>12s} {'over baseline MB':>17s} {'ru_maxrss MB':>13s}")
    for mb, rss, maxrss, info in mem_rows:
        print(
            f"{mb:10.1f} {info['tokens']:12d} {info['seconds']:8.1f} {info['text_bytes'] / 1e6 / info['seconds']:7.2f} "
            f"{rss:12.0f} {rss - base_rss:17.0f} {maxrss:13.0f}"
        )
    if len(mem_rows) > 1:
        (mb0, rss0, _, _), (mb1, rss1, _, _) = mem_rows[0], mem_rows[-1]
        print(f"peak RSS growth from {mb0:.0f} MB to {mb1:.0f} MB of text: {rss1 - rss0:+.0f} MB ({rss1 / rss0:.2f}x)")
    print()
    print(f"ratio ours/spm (MB/s per core): {ours_mbps / spm_mbps:.2f}")


if __name__ == "__main__":
    main()
