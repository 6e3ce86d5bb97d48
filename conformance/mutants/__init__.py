"""Deliberately broken adapters, one bug each, that prove the suite can fail.

A clause that no mutant breaks may have tests that assert too little. Each module mirrors a
spec family; each mutant lists the clauses it breaks in `breaks`, and tests/test_mutants.py
checks that the suite fails exactly there.
"""
