"""Help for adapter authors: what each test needs, and a skeleton adapter to start from.

- `needs_of(module, test)`: the operations (and optional parameters) a suite test calls, read
  from its source: each `require(adapter, "op", "param", ...)` call, in the test and in the
  module's helpers it calls. `specformer clauses --id X` prints them per test.
- `skeleton(family)`: the source of a new adapter for one family (`specformer new-adapter FAMILY`):
  it loads and runs as it is, and declares nothing it does not implement.

docs/adapters.md is the guide these serve. This module reads source text only; it runs no test.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
import textwrap

# What a test needs that its source does not spell literally.
DYNAMIC_OPERATION = "(the operation each case names)"
DYNAMIC_PARAMETERS = "the optional parameters its inputs enable"


@functools.cache
def _module_functions(module_name: str) -> dict[str, ast.FunctionDef]:
    module = importlib.import_module(module_name)
    tree = ast.parse(inspect.getsource(module))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def needs_of(module_name: str, test_name: str) -> list[str]:
    """What one test requires, as "operation" or "operation(param, ...)", in the order it asks.

    Optional features a test uses only where the adapter supports them (`supports(...)` calls)
    are listed as "operation[param if supported]".
    """
    functions = _module_functions(module_name)
    found: dict[str, None] = {}
    _scan(functions, test_name, found, set())
    return list(found)


def _scan(functions: dict[str, ast.FunctionDef], name: str, found: dict[str, None], seen: set[str]) -> None:
    if name in seen or name not in functions:
        return
    seen.add(name)
    for node in ast.walk(functions[name]):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        callee = node.func.id
        if callee == "require" and len(node.args) >= 2:
            found[_need(node.args[1], node.args[2:])] = None
        elif callee == "supports" and len(node.args) >= 3:
            operation = _literal(node.args[1]) or DYNAMIC_OPERATION
            found[f"{operation}[{_literal(node.args[2]) or 'a parameter'} if supported]"] = None
        elif callee in functions:
            _scan(functions, callee, found, seen)


def _need(operation_node: ast.expr, parameter_nodes: list[ast.expr]) -> str:
    operation = _literal(operation_node) or DYNAMIC_OPERATION
    parameters = [_literal(p) or DYNAMIC_PARAMETERS for p in parameter_nodes]
    return f"{operation}({', '.join(dict.fromkeys(parameters))})" if parameters else operation


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def clause_test_needs(citing_tests: list[str]) -> list[tuple[str, list[str]]]:
    """(test, needs) for each "module::function" that `registry.citations()` lists for a clause."""
    from specformer.conformance import suite

    result = []
    for test in citing_tests:
        short, _, function = test.partition("::")
        result.append((test, needs_of(f"{suite.__name__}.{short}", function)))
    return result


# ---------------------------------------------------------------------------------------
# A skeleton adapter


def _protocol_of(family: str) -> type:
    from specformer.conformance.adapters import protocols

    found = {
        name.removesuffix("Adapter").lower(): obj
        for name, obj in vars(protocols).items()
        if name.endswith("Adapter") and isinstance(obj, type) and name != "Adapter"
    }
    aliases = {"tokenizers": "tokenizer", "kv_cache": "kvcache"}
    return found[aliases.get(family, family)]


def skeleton(family: str, class_name: str = "MyAdapter", module: str = "my_adapter") -> str:
    """The source of a new adapter for `family`: every operation as a commented-out stub with the
    protocol's exact signature and docstring, and `capabilities` declaring no family yet.

    It loads and runs as written: every test of the family reports "unsupported". (An adapter that
    declares a family but implements none of its operations is a load error, so the skeleton adds
    the family to `families` only in a comment, for the author to uncomment with the first operation.)
    """
    from specformer.conformance.adapters.protocols import FAMILY_OPERATIONS, OPTIONAL_PARAMETERS

    if family not in FAMILY_OPERATIONS:
        raise ValueError(f"family must be one of {', '.join(sorted(FAMILY_OPERATIONS))}; got {family!r}")
    protocol = _protocol_of(family)
    stubs = []
    for operation in FAMILY_OPERATIONS[family]:
        source = textwrap.dedent(inspect.getsource(getattr(protocol, operation)))
        body = source.rstrip().removesuffix("...").rstrip()
        optional = OPTIONAL_PARAMETERS.get(operation)
        note = f"# optional parameters (Capabilities.parameters): {', '.join(optional)}\n" if optional else ""
        stub = f"{note}{body}\n    raise NotImplementedError\n"
        stubs.append(textwrap.indent(stub, "    # ", predicate=lambda line: True).replace("    # \n", "    #\n"))
    doc = inspect.getdoc(protocol) or ""
    from specformer.conformance.adapters import protocols

    used = sorted(
        name
        for name, obj in vars(protocols).items()
        if isinstance(obj, type)
        and not name.endswith("Adapter")
        and name != "Capabilities"
        and any(re.search(rf"\b{name}\b", stub) for stub in stubs)
    )
    imports = sorted([*(f"{name},  # noqa: F401" for name in used), "Capabilities,"])
    return _SKELETON.format(
        family=family,
        class_name=class_name,
        protocol=protocol.__name__,
        protocol_doc=textwrap.indent(doc, "    "),
        stubs="\n".join(stubs).rstrip() + "\n",
        imports="".join(f"    {line}\n" for line in imports),
        module=module,
    )


_SKELETON = '''"""A specformer adapter for the {family} family (written by `specformer new-adapter {family}`).

Uncomment an operation, implement it with your library, and add "{family}" to `families` (an adapter
that declares a family but implements none of its operations is a load error). Run it with:

    PYTHONPATH=. specformer run --adapter {module}:{class_name} --family {family} --profile quick --no-bench

Every operation left commented out is reported "unsupported", never "pass". docs/adapters.md
says what each operation receives and returns; `specformer clauses --id ID` lists what each
test of a clause needs.

The protocol ({protocol}):

{protocol_doc}
"""

from __future__ import annotations

import torch

# Capabilities, and the types the operations take (commented out until you use them)
from specformer.conformance.adapters.protocols import (
{imports})


class {class_name}:
    name = "my-{family}-adapter"
    description = "what library and version this adapts"
    capabilities = Capabilities(
        families=frozenset(),  # frozenset({{"{family}"}}) once an operation below is implemented
        dtypes=(torch.float32,),
        variants={{}},  # clause ID -> the named variant you implement (spec/{family}.md)
        parameters={{}},  # operation -> the optional parameters it supports, where not all
        custom={{}},  # clause ID -> one line describing behaviour that matches no named variant
    )
    expectations_file = None  # a TOML file of documented deviations, once you know them

{stubs}'''
