"""Mutants under the generic properties: a failure of test_generic names the clause the bug breaks.

The mutant tests (tests/test_mutants*.py) leave test_generic out to stay inside CI's budget, so a generic
case that blames a sibling clause goes unseen there (scripts/mutant_blame_generic.py runs them all, outside
CI). This runs the two mutants whose blame was wrong, on the generic cases that blamed them, in one suite
process: SoftmaxThenLog's float32 log(softmax) over 128,256 classes failed the production cases of LOSS-CE-04,
-06 and -07 (ignored rows, smoothing, reduction it handles right), MeanOfSequenceMeans failed LOSS-CLM-02 through a
case that checked the shift and the token mean together. Whether float32 log(softmax) misses the tolerance
there depends on the CPU's kernels (on an AVX512 EPYC it does not), so the blame itself is shown with
fake_adapters.InexactCrossEntropy and RowNoiseCrossEntropy, whose rows are off on any machine.
"""

from __future__ import annotations

import pytest

from specformer.conformance.mutants import losses as losses_mutants
from specformer.conformance.results import ERROR, FAIL, NOT_APPLICABLE, PASS

MUTANTS = {
    f"{losses_mutants.__name__}:{m.__name__}": m
    for m in (losses_mutants.SoftmaxThenLog, losses_mutants.MeanOfSequenceMeans)
}
# at production size (ci): the float32 accumulation over 128,256 classes is what SoftmaxThenLog gets wrong;
# one case of each wrong blame (LOSS-CE-06/07 are LOSS-CE-04's case with smoothing or a reduction)
SELECTION = "test_production_size_values and (LOSS-CE-04 or LOSS-CE-07 or LOSS-CLM-03)"
INEXACT = ["fake_adapters:InexactCrossEntropy", "fake_adapters:RowNoiseCrossEntropy"]


@pytest.mark.slow  # a suite process
@pytest.mark.xdist_group("mutants-generic-blame")
def test_generic_failures_blame_the_clause_each_mutant_breaks(run_suite) -> None:
    code, result, output = run_suite([*MUTANTS, *INEXACT], "-k", SELECTION, families=("losses",), profile="ci")
    assert result is not None, output
    assert code == 1, output
    tests = {
        (adapter.name.rsplit(":", 1)[-1], clause.id): [t.status for t in clause.tests]
        for adapter in result.adapters
        for clause in adapter.clauses
    }
    # A cross-entropy inexact in every row but right in every rule: the plain cross-entropy of the same rows
    # fails too (for reduction="none", of a row alone: a mean of rows would average the error away), so each
    # case is n/a (LOSS-CE-01's production row, not selected here, is where the accumulation is judged)
    assert tests[("InexactCrossEntropy", "LOSS-CE-04")] == [NOT_APPLICABLE], output[-3000:]
    assert tests[("InexactCrossEntropy", "LOSS-CE-07")] == [NOT_APPLICABLE], output[-3000:]
    # Errors that cancel in a mean: LOSS-CE-04's case (a mean) passes; reduction="none" shows them, and so does
    # the plain cross-entropy of a row alone, though not the mean of the same rows
    assert tests[("RowNoiseCrossEntropy", "LOSS-CE-04")] == [PASS], output[-3000:]
    assert tests[("RowNoiseCrossEntropy", "LOSS-CE-07")] == [NOT_APPLICABLE], output[-3000:]
    # SoftmaxThenLog handles ignored rows and reductions right: n/a where its float32 log(softmax) misses the
    # tolerance on this CPU, a pass where it does not, never a failure of those clauses
    for clause in ("LOSS-CE-04", "LOSS-CE-07"):
        assert tests[("SoftmaxThenLog", clause)] in ([NOT_APPLICABLE], [PASS]), output[-3000:]
    # the token mean alone, on a padded batch (LOSS-CLM-02's case has rows of equal length, where a mean of
    # sequence means is the token mean)
    assert tests[("MeanOfSequenceMeans", "LOSS-CLM-03")] == [FAIL], output[-3000:]
    failed = sorted((m, c) for (m, c), statuses in tests.items() if FAIL in statuses or ERROR in statuses)
    assert failed == [("MeanOfSequenceMeans", "LOSS-CLM-03")]
    assert all(c in MUTANTS[f"{losses_mutants.__name__}:{m}"].breaks for m, c in failed)
