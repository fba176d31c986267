"""CPU threads for torch: the cores nobody else is using, so training on a shared machine does not collapse.

torch's default (one OpenMP thread per core, spinning while it waits) collapses on a machine whose cores
other jobs use (benchmarks/cpu_threads_under_load.py; benchmarks/RESULTS.md, section 13).
"""

import os
import time


def set_wait_policy() -> None:
    """Before torch is imported: OpenMP threads sleep instead of spinning while they wait (unless the user chose)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy_cores(window: float = 0.3) -> float:
    """What other processes use right now, in cores: the share of CPU time the machine spent busy over a short
    window (this process sleeps through it). Not the load average, which lags a minute behind: a machine whose
    jobs just ended would still look busy. Falls back to the load average where /proc/stat is missing."""
    try:
        busy_before, total_before, cores = _cpu_times()
        time.sleep(window)
        busy_after, total_after, _ = _cpu_times()
    except (OSError, IndexError, ValueError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return cores * (busy_after - busy_before) / max(total_after - total_before, 1)


def _cpu_times() -> tuple[int, int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat's first line, and the number of CPUs."""
    lines = open("/proc/stat").read().splitlines()
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in lines[0].split()[1:9])
    total = user + nice + system + idle + iowait + irq + softirq + steal
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return total - idle - iowait, total, cores


def auto_threads(cores: int | None = None, busy: float | None = None) -> int:
    cores = usable_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    return max(1, min(cores, round(cores - busy)))


def points_at_once() -> int:
    """How many sweep points this machine runs at the same time: the `n_jobs` of hydra/launcher=parallel (Hydra's
    joblib launcher; negative as joblib counts: -1 = one per core), 1 for any other launcher or a single run."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return 1
    n_jobs = HydraConfig.get().launcher.get("n_jobs")
    if n_jobs is None:
        return 1
    return max(1, usable_cores() + 1 + n_jobs if n_jobs < 0 else n_jobs)


def loader_workers(configured: int) -> int:
    """Data loader worker processes: `data.num_workers`, or 0 (load in the job's own process) where several points
    run at once. A joblib worker cannot start the loader's processes, and its sibling jobs already use every core."""
    return 0 if points_at_once() > 1 else configured


def configure_threads(setting, points: int = 1) -> int:
    """`threads` in conf/train.yaml: auto (free cores; OMP_NUM_THREADS, if set, wins; with `points` sweep points
    running at once, each gets an equal share of the cores), or a number."""
    import torch

    if setting == "auto" and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    elif setting == "auto":  # siblings that start together would each see idle cores and take them all
        threads = max(1, usable_cores() // points) if points > 1 else auto_threads()
    else:
        threads = int(setting)
    torch.set_num_threads(threads)
    return threads
