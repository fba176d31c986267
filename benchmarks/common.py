"""What the benchmark scripts share: the machine description."""

import platform

XNLI7 = "en,fr,de,ru,zh,sw,ur"  # the paper's 7-language ablation set


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
