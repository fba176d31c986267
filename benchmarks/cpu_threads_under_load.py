"""Wall time of the bare `xlmr-train` (fresh cache) with N busy-loop processes beside it, before and after
the CPU thread policy (xlmr_lit/threads.py), and on the machine as it is (no busy loops).

    python benchmarks/cpu_threads_under_load.py                       # 2 busy loops: before, after; then 0: after
    python benchmarks/cpu_threads_under_load.py --busy 2 --before-commit f247549 --timeout 1200

`before` runs the code of `--before-commit` (extracted with `git archive`), `after` this working tree.
A run past `--timeout` is stopped and reported as at least that long.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_model

ROOT = Path(__file__).resolve().parents[1]


def extract(commit: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def run(tree: Path, work: Path, timeout: float) -> dict:
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.update(PYTHONPATH=str(tree), XLMR_LIT_CACHE=str(work / "cache"), WANDB_MODE="offline")
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with open(work / "stdout.log", "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from xlmr_lit.cli import main; main()"],
                                cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
    seconds = time.perf_counter() - start
    text = (work / "stdout.log").read_text(errors="replace")
    threads = re.findall(r"torch CPU threads: (\d+)", text)
    return {"seconds": seconds, "rc": rc, "threads": threads[0] if threads else "torch default",
            "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=2, help="busy-loop processes beside the run")
    parser.add_argument("--before-commit", default="f247549", help="the code before the thread policy")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--runs", default="before,after,idle-after",
                        help="comma-separated: before, after (with --busy loops), idle-before, idle-after (none)")
    parser.add_argument("--keep", type=Path, help="keep the run directories here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="xlmr-threads-"))
    shutil.rmtree(work, ignore_errors=True)
    before_tree = extract(args.before_commit, work / "before-tree")
    print(f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} cores; load at start {os.getloadavg()}")
    results = {}
    for name in args.runs.split(","):
        tree = before_tree if name.endswith("before") else ROOT
        busy = [] if name.startswith("idle") else [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
        try:
            time.sleep(2 if busy else 0)
            results[name] = run(tree, work / name, args.timeout)
        finally:
            for p in busy:
                p.kill()
                p.wait()
        r = results[name]
        print(f"{name:<12} busy loops {len(busy)}  threads {r['threads']:<14} load {r['load']:<10} "
              f"rc {r['rc']}  wall {r['seconds']:.0f} s", flush=True)
    if "before" in results and "after" in results:
        print(f"before/after wall time under {args.busy} busy loops: {results['before']['seconds'] / results['after']['seconds']:.1f}x")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
