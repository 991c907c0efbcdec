"""What every benchmark records about the machine and the process it ran in."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["load_average", "machine_info", "peak_rss_mb"]


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _git(*args) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def machine_info() -> dict:
    """Versions, CPUs, torch's thread counts at the time of the call, and the
    repository's commit with whether ``gatedforecast/`` has local edits."""
    import torch

    status = _git("status", "--porcelain", "--", "gatedforecast")
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "commit": _git("rev-parse", "HEAD"),
        "package_has_local_edits": None if status is None else bool(status),
    }


def machine_lines(machine: dict) -> list[str]:
    """The lines of a results page that record ``machine`` (a JSON block)."""
    return ["Machine:", "", "```", json.dumps(machine, indent=2), "```", ""]
