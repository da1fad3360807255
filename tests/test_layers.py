"""The apps form layers, each importing only from those below it:

    octoo_billing (project utilities) <- audit <- customers <- expense_codes <- invoicing <- office, portal, ops

Read from the source with ``ast`` (no module is imported), counting imports inside functions too: an import
there still ties the two apps together. octoo_billing's settings and URLs wire every app and are left out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = (
    "octoo_billing",
    "audit",
    "customers",
    "expense_codes",
    "invoicing",
    "office",
    "portal",
    "demo",
    "ops",
)
ABOVE_INVOICING = {"office", "portal", "demo", "ops"}
ABOVE_CUSTOMERS = {"invoicing"} | ABOVE_INVOICING
APPS = {"customers", "expense_codes"} | ABOVE_CUSTOMERS
WIRING = {"octoo_billing/settings.py", "octoo_billing/settings_test.py", "octoo_billing/urls.py"}
BEING_MOVED: set[str] = set()  # files on their way to another app, left out (the demo data has moved to demo/)


@dataclass(frozen=True)
class Import:
    source: str  # the importing file, relative to the project
    line: int
    module: str  # the module imported, absolute (relative imports resolved)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> list[Import]:
    """Every module the file imports, wherever the import statement is. ``from package import name`` counts as
    an import of ``package.name`` when that is a module of the project."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    source = str(path.relative_to(ROOT))
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=source)):
        if isinstance(node, ast.Import):
            found += [Import(source, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.append(Import(source, node.lineno, submodule if _is_module(submodule) else module))
    return sorted(found, key=lambda item: item.line)


def python_files(*packages: str) -> dict[str, Path]:
    """The modules of these packages, by name (files being moved left out)."""
    return {
        _module_name(path): path
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in BEING_MOVED
    }


def violations(packages: tuple[str, ...], forbidden: set[str], *, skip: frozenset[str] = frozenset()) -> list[str]:
    found_imports = {
        f"{found.source}:{found.line} imports {found.module}"
        for path in python_files(*packages).values()
        if str(path.relative_to(ROOT)) not in skip
        for found in imports_of(path)
        if found.module.split(".")[0] in forbidden
    }
    return sorted(found_imports)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = python_files(*PROJECT_PACKAGES)
    return {
        name: {found.module for found in imports_of(path) if found.module in modules and found.module != name}
        for name, path in modules.items()
    }


def path_between(graph: dict[str, set[str]], start: str, goal: str) -> list[str]:
    """A shortest chain of imports from ``start`` to ``goal`` (both included), or [] when there is none."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt in came_from:
                    continue
                came_from[nxt] = node
                if nxt == goal:
                    chain = [goal]
                    while chain[-1] != start or len(chain) == 1:
                        chain.append(came_from[chain[-1]])
                    return chain[::-1]
                following.append(nxt)
        frontier = following
    return []


def is_admin_module(name: str) -> bool:
    return name.endswith(".admin") or ".admin." in name


# --- the checks themselves -------------------------------------------------------------------------------------


def test_the_check_sees_relative_imports_and_imports_inside_functions(tmp_path, monkeypatch):
    package = tmp_path / "customers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "billing.py").write_text("")
    (package / "forms.py").write_text(
        "from . import billing\nfrom .billing import MAX\n\ndef f():\n    from invoicing.models import Zone\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert [(found.line, found.module) for found in imports_of(package / "forms.py")] == [
        (1, "customers.billing"),
        (2, "customers.billing"),
        (5, "invoicing.models"),
    ]
    assert violations(("customers",), ABOVE_CUSTOMERS) == ["customers/forms.py:5 imports invoicing.models"]


def test_a_chain_of_imports_back_to_the_start_is_found():
    graph = {"a.admin": {"b"}, "b": {"c.admin"}, "c.admin": {"a.admin"}, "d": {"a.admin"}}
    assert path_between(graph, "a.admin", "a.admin") == ["a.admin", "b", "c.admin", "a.admin"]
    assert path_between(graph, "d", "d") == []


# --- the layers ------------------------------------------------------------------------------------------------


def test_customers_and_expense_codes_import_nothing_from_invoicing():
    """Nor from the office, the portal or the demo data, above invoicing."""
    assert violations(("customers", "expense_codes"), ABOVE_CUSTOMERS) == []


def test_invoicing_imports_nothing_from_the_apps_above_it():
    """The office, the portal, the demo data and ops (health, metrics) are built on invoicing, never the reverse
    (the schedules name ops' heartbeat task by its dotted path, a string)."""
    assert violations(("invoicing",), ABOVE_INVOICING) == []


def test_audit_and_the_project_utilities_import_no_app():
    assert violations(("audit", "octoo_billing"), APPS, skip=WIRING) == []


def test_admin_modules_form_no_import_cycle():
    """No admin module imports, directly or through other modules, one that imports it back (customers.admin once
    imported expense_codes.admin, which imported invoicing.admin inside a function, which imports customers.admin).
    """
    graph = import_graph()
    admin_modules = sorted(name for name in graph if is_admin_module(name))
    assert {"customers.admin", "expense_codes.admin", "invoicing.admin.codes"} <= set(admin_modules)
    cycles = [" -> ".join(chain) for name in admin_modules if (chain := path_between(graph, name, name))]
    assert cycles == []
