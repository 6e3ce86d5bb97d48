"""specformer: a testable specification of transformer building blocks.

The package has three parts: this directory is the spec itself (one Markdown file per
family, parsed by `specformer.conformance.registry`), `specformer.reference` holds plain
reference implementations, and `specformer.conformance` holds the adapters, the suite, the
runner and the reports.
"""

__version__ = "0.1.0"
