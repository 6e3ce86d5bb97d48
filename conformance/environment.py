"""What a run ran on: versions, device, threads. Recorded in every results file."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

import torch

# Packages whose versions decide what the built-in adapters do.
_PACKAGES = ("torch", "numpy", "transformers", "tokenizers", "sentencepiece", "tiktoken", "hypothesis")


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
        "processor": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "packages": versions,
    }
