"""What the numbers were measured on: recorded with every result."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.broker import mosquitto_version

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("paho-mqtt", "pydantic", "pydantic-core", "sqlalchemy", "orjson")


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_total_kib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_total_kib": memory_total_kib(),
        "load_average": list(os.getloadavg()),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "mosquitto": mosquitto_version(),
    }


def code_info() -> dict[str, Any]:
    """Which code was measured: the commit, and what differed from it (others edit too)."""

    def git(*args: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
            )
            if done.returncode == 0:
                return done.stdout.rstrip()
        return ""

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if line.strip()]
    return {
        "commit": git("rev-parse", "HEAD").strip() or "unknown",
        "dirty_paths": [p for p in dirty if not p.startswith("bench/")],
    }
