"""CPU threads for torch: the cores nobody else is using, so training on a shared machine does not collapse.

torch's default (one OpenMP thread per core, spinning while it waits) collapses on a machine whose cores
other jobs use (benchmarks/cpu_threads_under_load.py; benchmarks/RESULTS.md, section 11).
"""

import os


def set_wait_policy() -> None:
    """Before torch is imported: OpenMP threads sleep instead of spinning while they wait (unless the user chose)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy_cores() -> float:
    """What other processes use: the 1-minute load average, or the processes running right now if more
    (a job that just started does not show in the average yet); this process not counted."""
    try:
        fields = open("/proc/loadavg").read().split()
        return max(float(fields[0]), int(fields[3].split("/")[0]) - 1)
    except (OSError, IndexError, ValueError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def auto_threads(cores: int | None = None, busy: float | None = None) -> int:
    cores = usable_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    return max(1, min(cores, round(cores - busy)))


def configure_threads(setting) -> int:
    """`threads` in conf/train.yaml: auto (free cores; OMP_NUM_THREADS, if set, wins), or a number."""
    import torch

    if setting == "auto":
        threads = int(os.environ["OMP_NUM_THREADS"]) if os.environ.get("OMP_NUM_THREADS", "").isdigit() else auto_threads()
    else:
        threads = int(setting)
    torch.set_num_threads(threads)
    return threads
