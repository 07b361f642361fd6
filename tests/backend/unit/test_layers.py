"""The package's layers, checked from its imports: routers -> services -> adapters, nothing skips one.

Why a test: a shortcut (a router reading a collection, an adapter raising an HTTP error) is one
import away and works at first; it is the next change that pays for it. Reading the imports with
`ast` catches it when it is written, without running anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import healthledger

PACKAGE = Path(healthledger.__file__).parent
ADAPTERS = {"chain", "db", "storage", "crypto", "fhir"}
# The HTTP edge's one table of adapter failures (a node that does not answer -> 502): it must name
# the adapters' exception classes to translate them, and answers nothing else.
EDGE_TRANSLATION = "healthledger.api.dependency_errors"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports (relative imports resolved), names of `from x import y` as `x.y`."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "healthledger" else ""


def _edges() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for target in _imports(path):
            yield module, target


def test_routers_reach_adapters_only_through_services() -> None:
    leaks = sorted(
        {
            f"{module} imports {target}"
            for module, target in _edges()
            if _layer(module) == "api" and _layer(target) in ADAPTERS and module != EDGE_TRANSLATION
        }
    )
    assert leaks == []


def test_services_and_adapters_know_nothing_of_http() -> None:
    leaks = sorted(
        {
            f"{module} imports {target}"
            for module, target in _edges()
            if _layer(module) in ADAPTERS | {"services"}
            and (_layer(target) == "api" or target.split(".")[0] in {"fastapi", "starlette"})
        }
    )
    assert leaks == []


def test_adapters_do_not_call_up_into_services() -> None:
    leaks = sorted(
        {
            f"{module} imports {target}"
            for module, target in _edges()
            if _layer(module) in ADAPTERS and _layer(target) == "services"
        }
    )
    assert leaks == []


def test_services_raise_domain_errors_not_http_errors() -> None:
    """`errors.py` is the HTTP mapping (statuses, `ApiError`): services and adapters raise `domain_errors`."""
    leaks = sorted(
        {
            f"{module} imports {target}"
            for module, target in _edges()
            if _layer(module) in ADAPTERS | {"services", "auth"} and target.startswith("healthledger.errors")
        }
    )
    assert leaks == []


def test_the_launcher_stays_out_of_the_request_path() -> None:
    """Only the launcher itself imports `healthledger.devstack` (tests and scripts may; the app may not)."""
    leaks = sorted(
        {f"{module} imports {target}" for module, target in _edges() if _layer(target) == "devstack" != _layer(module)}
    )
    assert leaks == []


def test_the_checker_sees_a_leak() -> None:
    """The import reader itself: a router importing a store is reported (the test above can fail)."""
    router = PACKAGE / "api" / "records.py"
    assert any(_layer(target) == "services" for target in _imports(router))
    assert _layer("healthledger.db.records") in ADAPTERS
