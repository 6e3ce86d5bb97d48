"""The conformance suite: adapters, the pytest plugin and suite, numerics, runner, reports."""
