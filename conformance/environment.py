"""What a run ran on: versions, device, threads. Recorded in every results file."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

import torch

# Packages whose versions decide what the built-in adapters do.
_PACKAGES = ("torch", "numpy", "transformers", "tokenizers", "sentencepiece", "tiktoken", "hypothesis")


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (os.getloadavg), rounded; None where the OS has none.

    Benchmarks record it at their start and end: on a shared machine a load above the core
    count means the timings were taken while other work competed for the cores.
    """
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):  # Windows has no getloadavg
        return None


def environment() -> dict[str, Any]:
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    cuda = torch.cuda.is_available()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        # the vector kernels torch dispatches to (AVX2, AVX512, ...): float32 rounding, hence the reference's own
        # error and every tolerance derived from it, differs between them
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "packages": versions,
    }
