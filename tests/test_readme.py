"""The README's promises: its adapter example is the shipped one, and it passes the suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_adapter_example_is_examples_my_sampler() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    example = (ROOT / "examples" / "my_sampler.py").read_text()
    assert any(block.strip() in example for block in blocks), "README's adapter differs from examples/my_sampler.py"


def test_quickstart_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, flags=re.DOTALL).group(1).strip().splitlines()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("pip install")]
    assert quickstart == ci and len(quickstart) == 2
    assert all("torch==2.13.0" in line for line in quickstart)


@pytest.mark.slow
def test_example_adapter_passes_what_it_implements(run_suite, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "examples"))
    code, run, output = run_suite(["my_sampler:NumpySampler"])
    assert run is not None, output
    statuses = {c.id: c.status for c in run.adapters[0].clauses}
    assert statuses["SAMP-TOPK-01"] == "pass" and statuses["SAMP-GREEDY-01"] == "pass"
    assert statuses["SAMP-TOPP-01"] == "unsupported"
    assert code == 0, output
