"""Packaging: one import package from four folders, with the spec text and data files shipped."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_from_outside_the_checkout(tmp_path: Path) -> None:
    code = "import specformer.reference.sampling, specformer.conformance.plugin, specformer; print(specformer.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_wheel_ships_spec_text_and_data_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("specformer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "specformer/__init__.py",
        "specformer/py.typed",
        "specformer/sampling.md",
        "specformer/reference/sampling.py",
        "specformer/conformance/plugin.py",
        "specformer/conformance/results.schema.json",
        "specformer/conformance/suite/test_sampling.py",
        "specformer/conformance/suite/pytest.ini",
        "specformer/conformance/adapters/expectations/hf.toml",
        "specformer/conformance/mutants/sampling.py",
        "specformer/conformance/report/html.py",
    ):
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "specformer = specformer.conformance.cli:console_main" in text and "[pytest11]" in text
