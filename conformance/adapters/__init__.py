"""Finding, loading and describing adapters.

An adapter is named on the command line in one of three ways:

    reference, hf, ...            a built-in short name (BUILTIN below)
    mypkg.adapters:Mine           module:attribute, imported from the current environment
    mine                          an entry point in the group "specformer.adapters"

The attribute may be an adapter instance, or a class or factory called with no arguments.
Every loading failure is an AdapterLoadError with one line that says which adapter, what
failed and what names exist; the CLI prints it and exits 2.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import torch

from specformer.conformance.adapters.protocols import (
    FAMILY_OPERATIONS,
    OPTIONAL_PARAMETERS,
    Capabilities,
    expectations_path_of,
)
from specformer.conformance.expectations import load_expectations
from specformer.conformance.results import Expectation

BUILTIN: dict[str, str] = {
    "reference": "specformer.conformance.adapters.reference:ReferenceAdapter",
    "hf": "specformer.conformance.adapters.hf:HFAdapter",
    "torch": "specformer.conformance.adapters.torch_builtin:TorchAdapter",
    "hf-tokenizers": "specformer.conformance.adapters.hf_tokenizers:HFTokenizersAdapter",
    "hf-slow": "specformer.conformance.adapters.hf_slow:HFSlowAdapter",
    "sentencepiece": "specformer.conformance.adapters.sentencepiece_adapter:SentencePieceAdapter",
    "tiktoken": "specformer.conformance.adapters.tiktoken_adapter:TiktokenAdapter",
}
# What `specformer run` runs when no --adapter is given.
DEFAULT_ADAPTERS = ("reference", "hf", "torch", "hf-tokenizers", "hf-slow", "sentencepiece", "tiktoken")
ENTRY_POINT_GROUP = "specformer.adapters"


class AdapterLoadError(Exception):
    """An adapter could not be loaded; str() is the one line to show the user."""


class AdapterRaised(Exception):
    """An AssertionError raised inside an adapter's operation, re-raised as this.

    The suite's checks raise AssertionError (ConformanceFailure) to say "the answer is wrong":
    that is a fail. An adapter's own assert means it gave no answer: that is an error, like any
    other exception it raises. Not an AssertionError subclass, so the plugin classifies it so.
    """


@dataclass
class LoadedAdapter:
    """An adapter as the suite sees it: the object, under the spec string the user gave."""

    spec: str
    impl: Any
    expectations: dict[str, Expectation] = field(default_factory=dict)

    def __repr__(self) -> str:  # short: Hypothesis prints it in every falsifying example
        return f"LoadedAdapter({self.spec!r})"

    @property
    def name(self) -> str:
        return str(getattr(self.impl, "name", self.spec))

    @property
    def description(self) -> str:
        return str(getattr(self.impl, "description", ""))

    @property
    def capabilities(self) -> Capabilities:
        return self.impl.capabilities

    def declares(self, family: str) -> bool:
        return family in self.capabilities.families

    def operation(self, name: str) -> Any | None:
        """The bound operation, or None when the adapter does not implement it.

        An AssertionError raised inside the operation reaches the caller as AdapterRaised, so an
        adapter's own assert is an error, never mistaken for a check of the suite (a fail).
        """
        bound = getattr(self.impl, name, None)
        if bound is None or not callable(bound):
            return bound
        spec = self.spec

        @functools.wraps(bound)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return bound(*args, **kwargs)
            except AssertionError as exc:
                raise AdapterRaised(f"{spec}.{name} raised AssertionError: {exc}") from exc

        return guarded

    def implemented(self, family: str) -> list[str]:
        return [op for op in FAMILY_OPERATIONS.get(family, ()) if self.operation(op) is not None]

    def variant(self, clause_id: str) -> str:
        """The variant the adapter declares for a clause, else the spec's default."""
        from specformer.conformance.registry import registry

        declared = self.capabilities.variants.get(clause_id)
        if declared is not None:
            return declared
        default = registry()[clause_id].default_variant
        if default is None:
            raise KeyError(f"clause {clause_id} names no variants")
        return default

    def supports_dtype(self, dtype: torch.dtype) -> bool:
        return dtype in self.capabilities.dtypes


def reproduce_prefix(spec: str) -> str:
    """What a copied reproduce line needs before `python -m pytest` for this adapter: nothing for a
    built-in or an entry point; for module:attribute, the working directory and the directory the
    module was imported from (PYTHONPATH), unless it is installed (under site-packages).

    The result is shell text ending in a space, such as "cd /home/me/proj && PYTHONPATH=/home/me/proj/src ".
    """
    import os
    import shlex
    import sys
    from pathlib import Path

    if spec in BUILTIN or ":" not in spec:
        return ""
    module_name = spec.partition(":")[0]
    module = sys.modules.get(module_name)
    prefix = f"cd {shlex.quote(os.getcwd())} && "
    file = getattr(module, "__file__", None)
    if not file:
        return prefix
    root = Path(file).resolve().parent
    depth = module_name.count(".") + (1 if Path(file).name == "__init__.py" else 0)
    for _ in range(depth):
        root = root.parent
    if "site-packages" in root.parts or "dist-packages" in root.parts:
        return prefix
    return f"{prefix}PYTHONPATH={shlex.quote(str(root))} "


def builtin_names() -> list[str]:
    return list(BUILTIN)


def entry_point_names() -> list[str]:
    return sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def load_adapter(spec: str) -> LoadedAdapter:
    """Load and validate one adapter by short name, module:attribute or entry point."""
    target = BUILTIN.get(spec)
    if target is None and ":" in spec:
        target = spec
    if target is None:
        entry_points = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
        if spec in entry_points:
            target = entry_points[spec].value
    if target is None:
        known = ", ".join(builtin_names() + entry_point_names())
        raise AdapterLoadError(
            f"unknown adapter {spec!r}; known adapters: {known}; or give a third-party adapter as module:attribute"
        )
    impl = _instantiate(spec, _import_target(spec, target))
    _validate(spec, impl)
    path = expectations_path_of(impl)
    expectations = load_expectations(path) if path is not None else {}
    return LoadedAdapter(spec=spec, impl=impl, expectations=expectations)


def _import_target(spec: str, target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise AdapterLoadError(f"adapter {spec!r}: expected module:attribute, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any import-time failure of third-party code is a load error
        raise AdapterLoadError(
            f"adapter {spec!r}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_"))
            raise AdapterLoadError(
                f"adapter {spec!r}: module {module_name!r} has no attribute {attribute!r}; "
                f"its public names: {', '.join(public) or '(none)'}"
            )
        obj = getattr(obj, part)
    return obj


def _instantiate(spec: str, obj: Any) -> Any:
    if hasattr(obj, "capabilities") and not isinstance(obj, type):
        return obj  # already an instance
    if not callable(obj):
        raise AdapterLoadError(f"adapter {spec!r}: {obj!r} is neither an adapter nor a class or factory")
    try:
        return obj()
    except (Exception, SystemExit) as exc:  # SystemExit too: the adapter's exit code is not specformer's
        raise AdapterLoadError(f"adapter {spec!r}: constructing it failed: {type(exc).__name__}: {exc}") from exc


def _validate(spec: str, impl: Any) -> None:
    """The declaration must name known families and, for variants, known clause variants."""
    from specformer.conformance.registry import registry

    capabilities = getattr(impl, "capabilities", None)
    if not isinstance(capabilities, Capabilities):
        raise AdapterLoadError(
            f"adapter {spec!r}: missing `capabilities` (a specformer.conformance.adapters.protocols.Capabilities)"
        )
    unknown = sorted(set(capabilities.families) - set(FAMILY_OPERATIONS))
    if unknown:
        raise AdapterLoadError(
            f"adapter {spec!r}: unknown families {unknown}; known: {', '.join(sorted(FAMILY_OPERATIONS))}"
        )
    for family in sorted(capabilities.families):
        if not any(getattr(impl, op, None) is not None for op in FAMILY_OPERATIONS[family]):
            raise AdapterLoadError(
                f"adapter {spec!r}: declares the {family} family but implements none of its operations "
                f"({', '.join(FAMILY_OPERATIONS[family])})"
            )
    clauses = registry()
    _validate_parameters(spec, capabilities)
    for clause_id, description in capabilities.custom.items():
        if clause_id not in clauses:
            raise AdapterLoadError(f"adapter {spec!r}: declares custom behaviour for unknown clause {clause_id}")
        if not isinstance(description, str) or not description.strip() or "\n" in description.strip():
            raise AdapterLoadError(f"adapter {spec!r}: custom behaviour at {clause_id} needs a one-line description")
    for clause_id, variant in capabilities.variants.items():
        if clause_id not in clauses:
            raise AdapterLoadError(f"adapter {spec!r}: declares a variant for unknown clause {clause_id}")
        names = clauses[clause_id].variant_names()
        if variant not in names:
            raise AdapterLoadError(
                f"adapter {spec!r}: {clause_id} has no variant {variant!r}; named variants: {', '.join(names)}"
            )


def _validate_parameters(spec: str, capabilities: Capabilities) -> None:
    """Capabilities.parameters may name only operations with optional parameters, and only those."""
    for operation, names in capabilities.parameters.items():
        known = OPTIONAL_PARAMETERS.get(operation)
        if known is None:
            raise AdapterLoadError(
                f"adapter {spec!r}: parameters declared for {operation!r}, which has no optional parameters; "
                f"operations with some: {', '.join(OPTIONAL_PARAMETERS)}"
            )
        unknown = sorted(set(names) - set(known))
        if unknown or isinstance(names, str):
            raise AdapterLoadError(
                f"adapter {spec!r}: {operation} has no optional parameters {unknown or [names]}; "
                f"its optional parameters: {', '.join(known)}"
            )


def declared_variants(spec: str, clause: Any) -> tuple[str, Expectation | None]:
    """What a built-in adapter declares for a clause, read from its class without constructing
    it: the variant it implements (or the family it does not declare) and its expectation entry."""
    try:
        cls = _import_target(spec, BUILTIN[spec])
    except AdapterLoadError as exc:
        return f"cannot be imported here ({exc})", None
    path = expectations_path_of(cls)
    expectation = (load_expectations(path) if path is not None else {}).get(clause.id)
    capabilities = cls.capabilities
    # complexity has no operations of its own: its clauses measure other families' operations.
    if clause.family in FAMILY_OPERATIONS and clause.family not in capabilities.families:
        return f"does not declare the {clause.family} family", expectation
    if not clause.variants:
        return "declares the family (no variants)", expectation
    declared = capabilities.variants.get(clause.id)
    return (f"variant {declared}" if declared else f"variant {clause.default_variant} (default)"), expectation
