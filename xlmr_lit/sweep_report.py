"""A Hydra callback that lists a sweep's failed points (and points refused because their directory holds a complete run
with other settings), with their logs, when the sweep ends."""

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


failed_points: list[Path] = []  # read by cli.main, which exits non-zero after a sweep with failed points


class ReportFailedPoints(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        failed = sorted([*sweep_dir.glob("**/FAILED"), *sweep_dir.glob("**/REFUSED")])
        failed_points[:] = [marker.parent for marker in failed]
        done = len(list(sweep_dir.glob("**/DONE")))
        if not failed:
            print(f"sweep {sweep_dir}: {done} point(s) complete, none failed")
            return
        print(f"sweep {sweep_dir}: {done} point(s) complete, {len(failed)} failed:")
        for marker in failed:
            lines = marker.read_text().strip().splitlines() or ["?"]
            last_line = lines[-1] if marker.name == "FAILED" else f"refused: {lines[0]}"
            logs = sorted(marker.parent.glob("*.log"))
            print(f"  {marker.parent}: {last_line}\n    log: {logs[0] if logs else marker}")
        print("re-run the same command to retry them: complete points are skipped, interrupted ones resume")
