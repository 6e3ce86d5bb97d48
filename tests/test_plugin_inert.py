"""Installing specformer leaves other projects' pytest sessions alone.

The pytest11 entry point loads the plugin into every pytest session of the environment. In a
project that is not specformer's it must not import torch or regex (seconds of start-up), must
not load specformer's Hypothesis profile over the project's own, and must not parametrise the
project's tests. Each check runs pytest on a scratch project in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

HOST_CONFTEST = """
from hypothesis import settings

settings.register_profile("host", max_examples=7, derandomize=False)
settings.load_profile("host")
"""

HOST_TEST = """
import sys

import pytest
from hypothesis import given, settings, strategies as st

CALLS = []


@pytest.fixture
def adapter():
    return "the host's own adapter fixture"


@given(st.integers())
def test_property(x):
    CALLS.append(x)


def test_host_profile_is_in_effect():
    assert settings.default.max_examples == 7, settings.default
    assert not settings.default.derandomize
    assert len(CALLS) == 7


def test_heavy_modules_are_not_imported(adapter):
    assert adapter == "the host's own adapter fixture"
    loaded = sorted(m for m in ("torch", "regex", "specformer.conformance.adapters") if m in sys.modules)
    assert not loaded, loaded
"""


def host_project(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(HOST_CONFTEST))
    (tmp_path / "test_host.py").write_text(textwrap.dedent(HOST_TEST))
    return tmp_path


def run_pytest(project: Path, *args: str, autoload: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    if not autoload:  # only the plugins named with -p: faster, for checks that need no entry point
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_a_host_project_keeps_its_profile_its_fixtures_and_its_start_up(tmp_path: Path) -> None:
    done = run_pytest(host_project(tmp_path), "--trace-config")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    # The entry point loaded the plugin into the host's session: the checks above ran with it.
    assert "specformer.conformance.plugin" in done.stdout


def test_a_specformer_option_activates_the_profile(tmp_path: Path) -> None:
    """Asking for specformer (any --specformer-* option) is what loads its profile."""
    project = host_project(tmp_path)
    done = run_pytest(project, "-p", "specformer.conformance.plugin", "--specformer-profile=quick", autoload=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "max_examples=10" in done.stdout and "1 failed, 2 passed" in done.stdout


def test_importing_the_plugin_imports_no_heavy_module() -> None:
    code = (
        "import sys, time; start = time.perf_counter(); import specformer.conformance.plugin; "
        "elapsed = time.perf_counter() - start; "
        "print(sorted(m for m in ('torch', 'regex', 'hypothesis', 'transformers') if m in sys.modules), elapsed)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, seconds = done.stdout.rsplit(" ", 1)
    assert loaded == "[]", done.stdout
    print(f"importing the plugin (pytest included) took {float(seconds):.3f} s")  # measured, not gated
