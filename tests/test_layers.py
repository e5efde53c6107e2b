"""The house's one structural rule, checked: layers only look down.

Every import inside actlab (at the top of a module or inside a function) goes to the same package
or to a lower layer; studies do not import each other; nothing imports the command line. See
ARCHITECTURE.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "actlab"

# Lowest first. A module may import its own package and anything in a lower layer.
LAYERS: list[tuple[str, ...]] = [
    ("actlab._errors",),  # the small shared helpers, each on the ones before it
    ("actlab._io", "actlab._progress", "actlab._processes"),
    ("actlab._validate", "actlab._refs"),
    ("actlab.stats",),
    ("actlab.catalogue",),
    ("actlab.data", "actlab.models"),
    ("actlab.training",),
    ("actlab.execution", "actlab._preload"),  # _preload: what the workers' fork server imports
    ("actlab.surrogate",),
    ("actlab.studies",),
    ("actlab.interop",),
    ("actlab.report",),
    ("actlab.api",),  # the studies from Python: compare(), search(), evolve(), screen()
    ("actlab.cli",),
]
# Packages whose sub-packages are siblings that must not import each other.
SIBLINGS = ("actlab.studies",)


def _home(module: str) -> tuple[int, str] | None:
    """(layer, the package that owns ``module``) for an actlab module."""
    for rank, owners in enumerate(LAYERS):
        for owner in owners:
            if module == owner or module.startswith(owner + "."):
                if owner in SIBLINGS and module != owner:
                    owner = ".".join(module.split(".")[:3])
                return rank, owner
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "actlab":  # from actlab import _validate: judged by the module named
                out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, m) for line, m in out if m == "actlab" or m.startswith("actlab.")]


MODULES = sorted(p for p in ROOT.rglob("*.py") if _module_name(p) != "actlab")  # the package root re-exports all


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_look_down(path):
    me = _home(_module_name(path))
    assert me is not None, f"{_module_name(path)} belongs to no layer: add it to LAYERS (and ARCHITECTURE.md)"
    rank, owner = me
    wrong = []
    for line, target in _imports(path):
        if target == "actlab":
            wrong.append(f"line {line}: imports the actlab package (import the module that defines the name)")
            continue
        home = _home(target)
        if home is None:  # a name imported from a package (from actlab.x import y): judged by the package
            continue
        t_rank, t_owner = home
        if t_owner == owner:
            continue
        if t_rank > rank or (t_rank == rank and t_owner != owner):
            wrong.append(f"line {line}: {target} ({t_owner}) is not below {owner}")
    assert not wrong, f"{path.relative_to(ROOT.parent)} reaches up or sideways:\n" + "\n".join(wrong)


def test_every_package_init_only_re_exports():
    """Logic lives in named modules; an ``__init__.py`` holds a docstring, imports and ``__all__``
    (and at most a module ``__getattr__`` that imports a name when it is first used)."""
    heavy = []
    for init in ROOT.rglob("__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        for node in tree.body:
            lazy = isinstance(node, ast.FunctionDef) and node.name in ("__getattr__", "__dir__")  # PEP 562 re-export
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not lazy:
                heavy.append(f"{init.relative_to(ROOT.parent)}:{node.lineno} defines {node.name}")
    assert not heavy, "\n".join(heavy)
