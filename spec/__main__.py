"""`python -m specformer` is the `specformer` command."""

from specformer.conformance.cli import main

raise SystemExit(main())
