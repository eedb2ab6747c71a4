"""The package's import structure: no circles and no forbidden direction (read with ``ast``).

Layers, bottom up: shared utilities (``reram.io``, ``reram.runtime``) and
``reram.config``; ``reram.kernels``; the simulation ``reram.sim`` and the cost model
``reram.cost`` (neither imports the other); ``reram.models``; the generic ``reram.search`` and
``reram.analog``; ``reram.apps`` on top, which nothing imports.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: folder of the source tree -> package name it installs as (setup.py's package_dir).
PACKAGES = {"reram": "reram", "kernels": "reram.kernels", "models": "reram.models",
            "search": "reram.search", "analog": "reram.analog"}
SHARED = ("reram.io", "reram.runtime", "reram.config")


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """Every reram module that ``name`` imports (at top level or inside functions)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import reram.sim.layers` -> that module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: _imports(name) for name in MODULES}


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


#: (importer prefix, forbidden imported prefixes, why)
RULES = [
    ("reram.sim", ("reram.cost", "reram.apps", "reram.models", "reram.search", "reram.analog"),
     "the simulation never imports the cost model or the applications"),
    ("reram.cost", ("reram.sim", "reram.kernels", "reram.apps", "reram.models", "reram.search",
                    "reram.analog"),
     "the cost model reads layer shapes and configs, never simulation tensors"),
    ("reram.kernels", ("reram.sim", "reram.cost", "reram.apps", "reram.models", "reram.search",
                       "reram.analog", "reram.config"),
     "kernels work on plain arrays"),
    ("reram.models", ("reram.apps", "reram.search", "reram.cost", "reram.analog"),
     "the model zoo does not know the search, the cost model or the apps"),
]


def _allowed_only(importer: str, allowed: tuple[str, ...]) -> list[str]:
    return [dep for dep in GRAPH[importer]
            if not _under(dep, importer.split(".")[0] + "." + importer.split(".")[1], *allowed)]


def test_the_tree_is_read():
    assert {"reram.sim.layers", "reram.cost.scheduler", "reram.apps.bn_objective",
            "reram.search.optimize", "reram.kernels.adc"} <= set(MODULES)
    assert "reram.sim.mapping" in GRAPH["reram.sim.functional"]  # the parser sees imports


@pytest.mark.parametrize("importer,forbidden,why", RULES)
def test_forbidden_directions(importer, forbidden, why):
    bad = sorted(f"{name} -> {dep}" for name, deps in GRAPH.items() if _under(name, importer)
                 for dep in deps if _under(dep, *forbidden))
    assert not bad, f"{why}: {bad}"


@pytest.mark.parametrize("package", ["reram.search", "reram.analog"])
def test_generic_packages_import_only_shared_utilities(package):
    bad = sorted(f"{name} -> {dep}" for name in GRAPH if _under(name, package)
                 for dep in _allowed_only(name, SHARED))
    assert not bad, f"{package} may import only {', '.join(SHARED)} of reram: {bad}"


def test_nothing_imports_the_apps():
    bad = sorted(f"{name} -> {dep}" for name, deps in GRAPH.items()
                 if not _under(name, "reram.apps") for dep in deps if _under(dep, "reram.apps"))
    assert not bad, f"only the applications import reram.apps: {bad}"


def test_shared_utilities_import_nothing_of_reram():
    bad = sorted(f"{name} -> {dep}" for name in SHARED if name != "reram.config"
                 for dep in GRAPH[name])
    assert not bad


def test_no_import_circles():
    """No module reaches itself through its imports (a package's __init__ counts as a module;
    imports of a package from its own submodules are the usual re-export and are skipped)."""
    def deps(name):
        return {d for d in GRAPH[name] if not (_is_package(d) and _under(name, d))}

    state: dict[str, int] = {}
    circles = []

    def visit(name, stack):
        state[name] = 1
        stack.append(name)
        for dep in sorted(deps(name)):
            if state.get(dep) == 1:
                circles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])
    assert not circles, f"import circles: {circles}"


def _reach(name: str) -> set[str]:
    """Every reram module ``name`` reaches through its imports (at any depth)."""
    seen, todo = set(), [name]
    while todo:
        for dep in GRAPH[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


@pytest.mark.parametrize("importer, forbidden", [
    ("reram.models", ("reram.cost", "reram.apps", "reram.search", "reram.analog")),
    ("reram.search", ("reram.sim", "reram.cost", "reram.models", "reram.kernels", "reram.apps")),
    ("reram", ("reram.sim", "reram.cost", "reram.models", "reram.search", "reram.apps")),
])
def test_nothing_reaches_a_forbidden_layer_through_another(importer, forbidden):
    """Direct imports are checked above; this follows them (``models -> reram`` reached the
    cost model while ``import reram`` loaded everything)."""
    names = [importer] if importer == "reram" else [n for n in GRAPH if _under(n, importer)]
    bad = sorted(f"{name} reaches {dep}" for name in names for dep in _reach(name) if _under(dep, *forbidden))
    assert not bad, bad


def test_the_bn_search_modules_layer_one_way():
    """cli -> search -> (report, output, cost, objective) -> _cli: settings travel one way."""
    assert "reram.apps.bn_search_cli" not in _reach("reram.apps.bn_search")
    for lower in ("reram.apps.bn_objective", "reram.apps.bn_cost", "reram.apps.bn_output"):
        assert not {"reram.apps.bn_search", "reram.apps.bn_search_cli", "reram.apps.bn_report"} & _reach(lower)
    assert GRAPH["reram.apps._cli"] <= {"reram.io"}
