"""The conformance tests, one module per spec family (test_FAMILY.py).

Each test cites its clauses with `@clause(...)` and takes the `adapter` fixture, which the
specformer pytest plugin parametrises over the adapters named by --specformer-adapter.
"""
